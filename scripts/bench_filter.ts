/**
 * Per-line cost of the filter engine: the date detector alone and
 * `Filter.processLine` (date detection included) over the reference auth log,
 * in ns/line, for the way `f2b regex` runs a filter (every regex tried,
 * `<F-NOFAIL>` kept) and the way a jail runs it.
 *
 * ```sh
 * deno run -A --v8-flags=--enable-experimental-regexp-engine-on-excessive-backtracks,--allow-natives-syntax \
 *   scripts/bench_filter.ts [LOG] [FILTER]
 * ```
 *
 * LOG defaults to a 200,000-line log made by ../shared/bench/gen_authlog.py;
 * FILTER to /etc/fail2ban/filter.d/sshd.conf. The run prints the best of
 * several rounds and the line counts (matched/ignored/missed as fail2ban-regex
 * counts them), which must not change with an optimisation.
 *
 * @module
 */

import { readFilter } from "../src/config/filter_reader.ts";
import { DateDetector } from "../src/filter/date_detector.ts";
import { Filter } from "../src/filter/filter.ts";

const ROUNDS = 7;
const NOW = 1735689600; // 2025-01-01: the generated log's "Nov 1" lies in the past year

function loadLog(path: string | undefined): string[] {
  let text: string;
  if (path !== undefined) text = Deno.readTextFileSync(path);
  else {
    const gen = new URL("../../shared/bench/gen_authlog.py", import.meta.url).pathname;
    const out = new Deno.Command("python3", { args: [gen, "200000"], stdout: "piped" })
      .outputSync();
    if (!out.success) throw new Error(`Cannot run ${gen}`);
    text = new TextDecoder().decode(out.stdout);
  }
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/** Runs `setup` (untimed) and the loop it returns (timed) ROUNDS times; prints the best round. */
function best(label: string, n: number, setup: () => () => string): void {
  let min = Infinity;
  let info = "";
  for (let r = 0; r < ROUNDS; r++) {
    const run = setup();
    const t0 = performance.now();
    info = run();
    min = Math.min(min, performance.now() - t0);
  }
  const ns = min * 1e6 / n;
  console.log(
    `${label.padEnd(34)} ${ns.toFixed(0).padStart(5)} ns/line ${
      (1e3 / ns).toFixed(2).padStart(6)
    } M lines/s  ${info}`,
  );
}

const [logPath, filterArg] = Deno.args;
const lines = loadLog(logPath);
const filterPath = filterArg ?? "/etc/fail2ban/filter.d/sshd.conf";
const slash = filterPath.lastIndexOf("/");
const confDir = filterPath.includes("/filter.d/")
  ? filterPath.slice(0, filterPath.lastIndexOf("/filter.d/"))
  : "/etc/fail2ban";
const name = filterPath.slice(slash + 1).replace(/\.conf$/, "");
const spec = readFilter(confDir, name);
const dateOptions = { datepattern: spec.datepattern, logtimezone: spec.logtimezone };
console.log(`${lines.length} lines, filter ${name}`);

best("date detector", lines.length, () => {
  const dd = new DateDetector(dateOptions);
  dd.match("", NOW); // templates compile on first use
  return () => {
    let found = 0;
    for (let i = 0; i < lines.length; i++) if (dd.match(lines[i]!, NOW) !== null) found++;
    return `${found} dated`;
  };
});

best("filter, regex mode (check all)", lines.length, () => {
  const dd = new DateDetector(dateOptions);
  dd.match("", NOW);
  const f = new Filter(spec, { dateDetector: dd, checkAllRegex: true, keepNoFail: true });
  return () => {
    let matched = 0, ignored = 0, missed = 0;
    for (let i = 0; i < lines.length; i++) {
      const r = f.processLine(lines[i]!, NOW);
      let failing = false, nofail = false;
      for (const x of r.failures) {
        if (x.data.nofail) nofail = true;
        else failing = true;
      }
      if (r.failures.length === 0 && r.matchedRegexes.length > 0) nofail = true;
      if (r.ignored || nofail) ignored++;
      else if (failing) matched++;
      else missed++;
    }
    return `${matched} matched, ${ignored} ignored, ${missed} missed`;
  };
});

best("filter, jail mode", lines.length, () => {
  const dd = new DateDetector(dateOptions);
  dd.match("", NOW);
  const f = new Filter(spec, { dateDetector: dd });
  return () => {
    let failures = 0;
    for (let i = 0; i < lines.length; i++) {
      failures += f.processLine(lines[i]!, NOW).failures.length;
    }
    return `${failures} failures`;
  };
});
