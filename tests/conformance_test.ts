/**
 * Conformance with fail2ban's own sample corpus: every sample-bearing filter
 * of /etc/fail2ban runs over fail2ban's annotated sample logs (failJSON),
 * checked as fail2ban's tests/samplestestcase.py checks them (every regex
 * tried, match, host/id, time, captured fields, attempts).
 *
 * The samples assume TZ Europe/Zurich and now = 1124013600. The check runs
 * in a child process started with TZ=Europe/Zurich (V8 reads TZ at start);
 * run directly (`deno run -A tests/conformance_test.ts`) it prints the report.
 *
 * @module
 */

import assert from "node:assert/strict";
import { readFilter } from "../src/config/filter_reader.ts";
import { DateDetector } from "../src/filter/date_detector.ts";
import { type FailJsonCase, readFailJson } from "../src/filter/failjson.ts";
import { Filter } from "../src/filter/filter.ts";
import type { FailureMatch } from "../src/filter/types.ts";

const CONFIG_DIR = "/etc/fail2ban";
const LOG_DIR = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs";
const NOW = 1124013600;
/** Agreement reached so far (samples); the test fails if it drops below. */
const REACHED = 1381;
const V8_FLAGS = "--v8-flags=--enable-experimental-regexp-engine-on-excessive-backtracks";

/** Result of the conformance run. */
interface Report {
  total: number;
  agree: number;
  filters: number;
  disagreements: string[];
}

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Normalises an IP address text for comparison (fail2ban compares IPAddr objects); other text as is. */
function normHost(s: string): string {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) {
    return s.split(".").map((x) => String(Number(x))).join(".");
  }
  if (/^[0-9a-fA-F:.]+$/.test(s) && s.includes(":")) {
    try {
      return new URL(`http://[${s}]/`).hostname;
    } catch {
      return s;
    }
  }
  return s;
}

/** Epoch seconds of a Europe/Zurich local time `YYYY-MM-DDTHH:MM:SS[.ffffff]` (like Python's mktime). */
function zurichEpoch(text: string): number {
  const m = /^(\d{4})-(\d\d?)-(\d\d?)T(\d\d?):(\d\d?):(\d\d?)(?:\.(\d{1,6}))?$/.exec(text);
  if (!m) throw new Error(`Bad sample time "${text}"`);
  const utc = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) / 1000;
  const fmt = new Intl.DateTimeFormat("en-US", {
    timeZone: "Europe/Zurich",
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  const offsetAt = (t: number) => {
    const p: Record<string, number> = {};
    for (const x of fmt.formatToParts(new Date(t * 1000))) p[x.type] = Number(x.value);
    return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) / 1000 - t;
  };
  let t = utc - offsetAt(utc);
  t = utc - offsetAt(t);
  const frac = m[7] ? Number(m[7].padEnd(6, "0")) / 1e6 : 0;
  return t + frac;
}

function fieldOf(f: FailureMatch, k: string): unknown {
  if (k === "users") return f.users;
  const v = f.data[k];
  if (v !== undefined) return v;
  if (k === "host") return f.fid;
  if (k === "attempts") return f.lines.length;
  return undefined;
}

function checkCase(c: FailJsonCase, failures: FailureMatch[]): string | null {
  const e = c.expect;
  if (failures.length === 0) return e.match ? "line not matched when should have" : null;
  if (!e.match) return `line matched when shouldn't have (regex ${failures[0]!.regexIndex})`;
  if (failures.length !== 1) {
    return `multiple regexes matched ${JSON.stringify(failures.map((f) => f.regexIndex))}`;
  }
  const f = failures[0]!;
  for (const [k, v] of Object.entries(e)) {
    if (k === "time" || k === "match" || k === "desc" || k === "constraint") continue;
    const fv = fieldOf(f, k);
    if (Array.isArray(v) || Array.isArray(fv)) {
      const a = JSON.stringify([...((fv as unknown[]) ?? [])].map(String).sort());
      const b = JSON.stringify([...((v as unknown[]) ?? [])].map(String).sort());
      if (a !== b) return `${k}: got ${a}, expected ${b}`;
      continue;
    }
    const ok = (fv === undefined && v === null) ||
      (k === "host" && typeof fv === "string" && typeof v === "string"
        ? normHost(fv) === normHost(v)
        : fv === v || (typeof v === "number" && fv === String(v)));
    if (!ok) return `${k}: got ${JSON.stringify(fv)}, expected ${JSON.stringify(v)}`;
  }
  if (typeof e.time === "string") {
    const want = zurichEpoch(e.time);
    if (!(Math.abs(f.time - want) < 1e-6)) {
      return `time: got ${f.time} (${
        new Date(f.time * 1000).toISOString()
      }), expected ${want} (${e.time})`;
    }
  }
  return null;
}

/** Runs every sample; needs TZ=Europe/Zurich in this process. */
function runConformance(): Report {
  const names = [...Deno.readDirSync(LOG_DIR)]
    .filter((e) => e.isFile && exists(`${CONFIG_DIR}/filter.d/${e.name}.conf`))
    .map((e) => e.name)
    .sort();
  const report: Report = { total: 0, agree: 0, filters: names.length, disagreements: [] };
  const read = (n: string) => Deno.readTextFileSync(`${LOG_DIR}/${n}`);
  for (const name of names) {
    const filters = new Map<string, Filter | Error>();
    let cases: FailJsonCase[];
    try {
      cases = readFailJson(name, read);
    } catch (e) {
      report.disagreements.push(`${name}: cannot read samples: ${(e as Error).message}`);
      continue;
    }
    for (const c of cases) {
      report.total++;
      let flt = filters.get(c.filterName);
      if (flt === undefined) {
        try {
          const spec = readFilter(CONFIG_DIR, { name: c.filter, options: c.filterOptions });
          flt = new Filter(spec, {
            dateDetector: new DateDetector({
              datepattern: spec.datepattern,
              logtimezone: spec.logtimezone,
            }),
            checkAllRegex: true,
          });
        } catch (e) {
          flt = e as Error;
        }
        filters.set(c.filterName, flt);
      }
      let problem: string | null;
      if (flt instanceof Error) problem = `filter error: ${flt.message}`;
      else {
        try {
          const r = c.journal ? flt.processLine(c.line, NOW, NOW) : flt.processLine(c.line, NOW);
          problem = checkCase(c, r.failures);
        } catch (e) {
          problem = `error: ${(e as Error).message}`;
        }
      }
      if (problem === null) report.agree++;
      else {
        report.disagreements.push(
          `${c.filterName} ${c.file}:${c.lineNo}: ${problem}\n    ${c.line}`,
        );
      }
    }
  }
  return report;
}

if (import.meta.main) {
  const r = runConformance();
  if (Deno.args.includes("--json")) console.log(JSON.stringify(r));
  else {
    for (const d of r.disagreements) console.log(d);
    console.log(
      `Agreement: ${r.agree}/${r.total} samples (${
        (100 * r.agree / r.total).toFixed(2)
      }%) in ${r.filters} filters`,
    );
  }
}

Deno.test({
  name: "fail2ban's sample corpus agrees with the filter engine (>= 99%)",
  ignore: !exists(LOG_DIR) || !exists(`${CONFIG_DIR}/filter.d`),
  async fn() {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", V8_FLAGS, new URL(import.meta.url).pathname, "--json"],
      env: { TZ: "Europe/Zurich" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `conformance child failed:\n${stderr}`);
    const r = JSON.parse(new TextDecoder().decode(out.stdout)) as Report;
    const pct = 100 * r.agree / r.total;
    console.log(
      `Agreement: ${r.agree}/${r.total} samples (${pct.toFixed(2)}%) in ${r.filters} filters`,
    );
    for (const d of r.disagreements) console.log(`  disagrees: ${d}`);
    assert.ok(pct >= 99, `agreement ${pct.toFixed(2)}% is below 99%`);
    assert.ok(
      r.agree >= REACHED,
      `agreement ${r.agree} dropped below the ${REACHED} samples reached`,
    );
  },
});

if (!exists(LOG_DIR)) {
  console.log(`conformance: fail2ban sample corpus not found at ${LOG_DIR}; skipped`);
}
