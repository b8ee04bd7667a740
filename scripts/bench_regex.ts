/**
 * Benchmark of `f2b regex` against fail2ban-regex on the same generated
 * auth.log, in the same run.
 *
 * - generates the reference log with ../shared/bench/gen_authlog.py (path
 *   relative to the repository's parent; `F2B_BENCH_GEN` overrides it,
 *   `F2B_BENCH_LINES` sets the line count, default 200000)
 * - runs f2b's regex command as a subprocess (wall time, the honest figure)
 *   and in-process, with filter.d/sshd.conf (`F2B_BENCH_FILTER` overrides)
 * - runs fail2ban-regex on the same file when it is installed
 * - measures the date detector alone over the same lines
 * - checks that both tools count the same matched lines (75,308 for the
 *   default 200,000 lines; `F2B_BENCH_EXPECT_MATCHED` overrides)
 *
 * Run with `deno task bench`.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runRegexCommand } from "../src/cli/regex.ts";
import { DateDetector } from "../src/filter/date_detector.ts";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");
const LINES = Number(Deno.env.get("F2B_BENCH_LINES") ?? "200000");
const GEN = Deno.env.get("F2B_BENCH_GEN") ?? join(REPO, "..", "shared", "bench", "gen_authlog.py");
const FILTER = Deno.env.get("F2B_BENCH_FILTER") ?? "/etc/fail2ban/filter.d/sshd.conf";
const EXPECT = Deno.env.get("F2B_BENCH_EXPECT_MATCHED") ?? (LINES === 200000 ? "75308" : "");
const V8_FLAGS = "--v8-flags=--enable-experimental-regexp-engine-on-excessive-backtracks";

interface Counts {
  lines: number;
  ignored: number;
  matched: number;
  missed: number;
}

function parseCounts(text: string): Counts | null {
  const m = /Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed/.exec(text);
  return m ? { lines: +m[1]!, ignored: +m[2]!, matched: +m[3]!, missed: +m[4]! } : null;
}

async function run(
  cmd: string,
  args: string[],
): Promise<{ code: number; out: string; err: string; secs: number }> {
  const t0 = performance.now();
  const p = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const secs = (performance.now() - t0) / 1000;
  const dec = new TextDecoder();
  return { code: p.code, out: dec.decode(p.stdout), err: dec.decode(p.stderr), secs };
}

async function which(name: string): Promise<boolean> {
  try {
    const r = await new Deno.Command("sh", {
      args: ["-c", `command -v ${name}`],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return r.success;
  } catch {
    return false;
  }
}

function rate(lines: number, secs: number): string {
  return `${Math.round(lines / secs).toLocaleString("en-US")} lines/s, ${
    Math.round(secs * 1e9 / lines)
  } ns/line`;
}

async function generate(): Promise<string> {
  const dir = join(REPO, ".tmp", "bench");
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, `auth_${LINES}.log`);
  try {
    await Deno.stat(path);
    return path;
  } catch {
    // not generated yet
  }
  const r = await new Deno.Command("python3", {
    args: [GEN, String(LINES)],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!r.success) {
    throw new Error(
      `Cannot generate the log with "${GEN}": ${new TextDecoder().decode(r.stderr).trim()}`,
    );
  }
  await Deno.writeFile(path + ".part", r.stdout);
  await Deno.rename(path + ".part", path);
  return path;
}

async function main(): Promise<number> {
  const log = await generate();
  const text = await Deno.readTextFile(log);
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  console.log(`Log: ${log} (${lines.length.toLocaleString("en-US")} lines), filter: ${FILTER}\n`);

  // date detector alone
  const now = Date.now() / 1000;
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const dd = new DateDetector({});
    const t0 = performance.now();
    for (const l of lines) dd.match(l, now);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  console.log(`date detector (in-process, best of 3): ${rate(lines.length, best)}`);

  // f2b in-process
  let captured = "";
  const t0 = performance.now();
  const code = await runRegexCommand([log, FILTER], {
    stdout: (s) => (captured += s),
    stderr: () => {},
  });
  const inSecs = (performance.now() - t0) / 1000;
  const inCounts = parseCounts(captured);
  console.log(`f2b regex (in-process):      ${rate(lines.length, inSecs)}  exit ${code}`);

  // f2b subprocess
  const sub = await run(Deno.execPath(), [
    "run",
    "-A",
    V8_FLAGS,
    join(REPO, "mod.ts"),
    "regex",
    log,
    FILTER,
  ]);
  const f2b = parseCounts(sub.out);
  console.log(`f2b regex (subprocess wall): ${rate(lines.length, sub.secs)}  exit ${sub.code}`);
  if (f2b === null) {
    console.error(`ERROR: f2b regex printed no "Lines:" summary:\n${sub.out}\n${sub.err}`);
    return 1;
  }

  let ok = true;
  if (!(await which("fail2ban-regex"))) {
    console.log("\nfail2ban-regex is not installed: f2b's figures only.");
  } else {
    const py = await run("fail2ban-regex", [log, FILTER]);
    const pc = parseCounts(py.out);
    console.log(`fail2ban-regex (wall):       ${rate(lines.length, py.secs)}  exit ${py.code}`);
    console.log(
      `\nspeed-up: ${(py.secs / sub.secs).toFixed(1)}x (subprocess), ${
        (py.secs / inSecs).toFixed(1)
      }x (in-process)`,
    );
    if (pc === null) {
      console.error(`ERROR: fail2ban-regex printed no "Lines:" summary:\n${py.out}\n${py.err}`);
      ok = false;
    } else if (JSON.stringify(pc) !== JSON.stringify(f2b)) {
      console.error(
        `ERROR: the tools disagree: fail2ban-regex ${JSON.stringify(pc)}, f2b ${
          JSON.stringify(f2b)
        }`,
      );
      ok = false;
    } else {
      console.log(
        `both: ${f2b.lines} lines, ${f2b.ignored} ignored, ${f2b.matched} matched, ${f2b.missed} missed`,
      );
    }
  }
  if (inCounts === null || JSON.stringify(inCounts) !== JSON.stringify(f2b)) {
    console.error(
      `ERROR: in-process and subprocess runs disagree: ${JSON.stringify(inCounts)} vs ${
        JSON.stringify(f2b)
      }`,
    );
    ok = false;
  }
  if (EXPECT && f2b.matched !== Number(EXPECT)) {
    console.error(`ERROR: f2b matched ${f2b.matched} lines, expected ${EXPECT}`);
    ok = false;
  }
  return ok ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
