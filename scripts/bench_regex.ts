/**
 * Benchmark of `f2b regex` against fail2ban-regex on the same generated
 * auth.log, in the same run.
 *
 * - generates the reference log with ../shared/bench/gen_authlog.py (path
 *   relative to the repository's parent; `F2B_BENCH_GEN` overrides it,
 *   `F2B_BENCH_LINES` sets the line count, default 200000)
 * - runs f2b's regex command once in-process, then as a subprocess and
 *   fail2ban-regex on the same file (when installed), alternately, 5 times
 *   each (`F2B_BENCH_RUNS`), with filter.d/sshd.conf (`F2B_BENCH_FILTER`)
 * - reports for both tools the median of (a) the wall time of the whole
 *   process and (b) the tool's own processing time ("[processed in X sec]":
 *   from the first line read to the last line processed, without start-up
 *   and module loading), as lines/s and ns/line, and both ratios: the
 *   headline one from processing times, the wall one beside it
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
const RUNS = Number(Deno.env.get("F2B_BENCH_RUNS") ?? "5"); // the machine is shared: medians of 5
const V8_FLAGS =
  "--v8-flags=--enable-experimental-regexp-engine-on-excessive-backtracks,--allow-natives-syntax";

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

/** The tool's own processing time: "[processed in X sec]" (first line read to last processed). */
function parseProcessed(text: string): number | null {
  const m = /\[processed in (\d+(?:\.\d+)?) sec\]/.exec(text);
  return m ? Number(m[1]) : null;
}

/** One run of a tool: exit code, output, wall time of the whole process, its own processing time. */
interface Run {
  code: number;
  out: string;
  err: string;
  wall: number;
  processed: number | null;
  counts: Counts | null;
}

async function run(cmd: string, args: string[]): Promise<Run> {
  const t0 = performance.now();
  const p = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const wall = (performance.now() - t0) / 1000;
  const dec = new TextDecoder();
  const out = dec.decode(p.stdout);
  return {
    code: p.code,
    out,
    err: dec.decode(p.stderr),
    wall,
    processed: parseProcessed(out),
    counts: parseCounts(out),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
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
  return `${Math.round(lines / secs).toLocaleString("en-US").padStart(10)} lines/s ${
    String(Math.round(secs * 1e9 / lines)).padStart(6)
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

  // f2b in-process (module already loaded, JIT cold for the first run)
  let captured = "";
  const t0 = performance.now();
  const code = await runRegexCommand([log, FILTER], {
    stdout: (s) => (captured += s),
    stderr: () => {},
  });
  const inSecs = (performance.now() - t0) / 1000;
  const inCounts = parseCounts(captured);
  console.log(
    `f2b regex in-process, first run: ${rate(lines.length, inSecs)} (call), ${
      rate(lines.length, parseProcessed(captured) ?? NaN)
    } (processing)  exit ${code}\n`,
  );

  const haveF2b = await which("fail2ban-regex");
  const f2bRuns: Run[] = [];
  const pyRuns: Run[] = [];
  const f2bArgs = ["run", "-A", V8_FLAGS, join(REPO, "mod.ts"), "regex", log, FILTER];
  for (let i = 0; i < RUNS; i++) {
    // the two tools alternate so that load on the machine falls on both alike
    const sub = await run(Deno.execPath(), f2bArgs);
    f2bRuns.push(sub);
    if (sub.counts === null || sub.processed === null) {
      console.error(`ERROR: f2b regex printed no "Lines:" summary:\n${sub.out}\n${sub.err}`);
      return 1;
    }
    if (haveF2b) {
      const py = await run("fail2ban-regex", [log, FILTER]);
      pyRuns.push(py);
      if (py.counts === null || py.processed === null) {
        console.error(`ERROR: fail2ban-regex printed no "Lines:" summary:\n${py.out}\n${py.err}`);
        return 1;
      }
    }
  }
  const n = lines.length;
  const f2bProc = median(f2bRuns.map((r) => r.processed!));
  const f2bWall = median(f2bRuns.map((r) => r.wall));
  console.log(`median of ${RUNS} runs of each (the tools alternate):`);
  console.log(`                  processing (own "processed in")      whole process (wall)`);
  console.log(`f2b regex       ${rate(n, f2bProc)}    ${rate(n, f2bWall)}`);
  const f2b = f2bRuns[0]!.counts!;
  let ok = true;
  if (!haveF2b) {
    console.log("\nfail2ban-regex is not installed: f2b's figures only.");
  } else {
    const pyProc = median(pyRuns.map((r) => r.processed!));
    const pyWall = median(pyRuns.map((r) => r.wall));
    console.log(`fail2ban-regex  ${rate(n, pyProc)}    ${rate(n, pyWall)}`);
    console.log(
      `\nspeed-up: ${(pyProc / f2bProc).toFixed(1)}x (processing time, as each tool reports it), ${
        (pyWall / f2bWall).toFixed(1)
      }x (wall time of the whole process)`,
    );
    console.log(
      `runs (processing/wall s): f2b ${
        f2bRuns.map((r) => `${r.processed!.toFixed(2)}/${r.wall.toFixed(2)}`).join(" ")
      }; fail2ban-regex ${
        pyRuns.map((r) => `${r.processed!.toFixed(2)}/${r.wall.toFixed(2)}`).join(" ")
      }`,
    );
    for (const py of pyRuns) {
      if (JSON.stringify(py.counts) !== JSON.stringify(f2b)) {
        console.error(
          `ERROR: the tools disagree: fail2ban-regex ${JSON.stringify(py.counts)}, f2b ${
            JSON.stringify(f2b)
          }`,
        );
        ok = false;
      }
    }
    if (ok) {
      console.log(
        `both: ${f2b.lines} lines, ${f2b.ignored} ignored, ${f2b.matched} matched, ${f2b.missed} missed`,
      );
    }
  }
  for (const r of [...f2bRuns, { counts: inCounts }]) {
    if (JSON.stringify(r.counts) !== JSON.stringify(f2b)) {
      console.error(
        `ERROR: f2b runs disagree: ${JSON.stringify(r.counts)} vs ${JSON.stringify(f2b)}`,
      );
      ok = false;
    }
  }
  if (EXPECT && f2b.matched !== Number(EXPECT)) {
    console.error(`ERROR: f2b matched ${f2b.matched} lines, expected ${EXPECT}`);
    ok = false;
  }
  return ok ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
