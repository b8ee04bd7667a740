/**
 * Shared sample check for the filter tests: runs a filter.d filter (with the
 * option sets its sample file names) over annotated sample logs (failJSON)
 * and compares each line's failures with its expectation, as fail2ban's
 * tests/samplestestcase.py does: every regex tried, match or not, one regex
 * only, host or failure id (addresses compared as addresses), captured
 * fields, `attempts`, and time in the samples' zone.
 *
 * fail2ban's samples assume TZ Europe/Zurich and now = 1124013600. V8 reads
 * TZ once at start, so a test runs its check in a child process started in
 * that zone ({@linkcode runInSampleZone}); sample times are converted in the
 * named zone, so the comparison does not depend on the process zone.
 *
 * @module
 */

import assert from "node:assert/strict";
import { readFilter } from "../src/config/filter_reader.ts";
import { DateDetector } from "../src/filter/date_detector.ts";
import { type FailJsonCase, readFailJson } from "../src/filter/failjson.ts";
import { Filter } from "../src/filter/filter.ts";
import type { FailureMatch } from "../src/filter/types.ts";

/** fail2ban 1.0.2's configuration directory (its own filters). */
export const F2B_CONFIG_DIR = "/etc/fail2ban";
/** fail2ban 1.0.2's annotated sample logs. */
export const F2B_SAMPLE_DIR = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs";
/** The "now" the samples assume (epoch seconds). */
export const SAMPLE_NOW = 1124013600;
/** The time zone the samples' local times are written in. */
export const SAMPLE_TIME_ZONE = "Europe/Zurich";

const V8_FLAGS =
  "--v8-flags=--enable-experimental-regexp-engine-on-excessive-backtracks,--allow-natives-syntax";
const TIME_RE = /^(\d{4})-(\d\d?)-(\d\d?)T(\d\d?):(\d\d?):(\d\d?)(?:\.(\d{1,6}))?$/;
const IPV4_RE = /^\d{1,3}(\.\d{1,3}){3}$/;
const IPV6ISH_RE = /^[0-9a-fA-F:.]+$/;
/** failJSON keys that are not captured values. */
const NOT_FIELDS = new Set(["time", "match", "desc", "constraint"]);

/** True when `path` exists (links followed). */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * One canonical text per IP address (fail2ban compares address objects):
 * IPv4 without leading zeros, IPv6 compressed and lower case; other text as is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(normHost("192.000.002.010"), "192.0.2.10");
 * assert.equal(normHost("2001:DB8:0:0::1"), "2001:db8::1");
 * ```
 */
export function normHost(s: string): string {
  if (IPV4_RE.test(s)) return s.split(".").map((x) => String(Number(x))).join(".");
  if (IPV6ISH_RE.test(s) && s.includes(":")) {
    try {
      return new URL(`http://[${s}]/`).hostname.slice(1, -1);
    } catch {
      return s;
    }
  }
  return s;
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

function zoneFormat(timeZone: string): Intl.DateTimeFormat {
  let fmt = zoneFormats.get(timeZone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    zoneFormats.set(timeZone, fmt);
  }
  return fmt;
}

/**
 * Epoch seconds of a sample's local time `YYYY-MM-DDTHH:MM:SS[.ffffff]` in
 * `timeZone` (like Python's `mktime` run in that zone).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(zonedEpoch("2005-08-14T12:00:00", "Europe/Zurich"), 1124013600);
 * ```
 * @throws {SyntaxError} when the text is not such a time
 */
export function zonedEpoch(text: string, timeZone: string = SAMPLE_TIME_ZONE): number {
  const m = TIME_RE.exec(text);
  if (!m) throw new SyntaxError(`Bad sample time: "${text}"`);
  const utc = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) / 1000;
  const fmt = zoneFormat(timeZone);
  const offsetAt = (t: number) => {
    const p: Record<string, number> = {};
    for (const x of fmt.formatToParts(new Date(t * 1000))) p[x.type] = Number(x.value);
    return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) / 1000 - t;
  };
  let t = utc - offsetAt(utc);
  t = utc - offsetAt(t);
  return t + (m[7] ? Number(m[7].padEnd(6, "0")) / 1e6 : 0);
}

/**
 * The value of failJSON key `key` in a failure, as fail2ban's sample test
 * reads it: a captured field, else `host` is the host (or the failure id
 * when no host was captured) and `attempts` the number of matched lines.
 */
export function failureField(f: FailureMatch, key: string): unknown {
  if (key === "users") return f.users;
  const v = f.data[key];
  if (v !== undefined) return v;
  if (key === "host") return f.host ?? f.fid;
  if (key === "attempts") return f.lines.length;
  return undefined;
}

/** How much of an expectation {@linkcode checkCase} compares. */
export type CheckDepth =
  /** Match, host, every captured field, attempts and time. */
  | "full"
  /** Match and host only (another filter's samples, whose fields may differ). */
  | "host";

/**
 * Compares one sample line's failures with its failJSON expectation.
 *
 * @returns null when they agree, else what differs
 */
export function checkCase(
  c: FailJsonCase,
  failures: readonly FailureMatch[],
  depth: CheckDepth = "full",
): string | null {
  const e = c.expect;
  if (failures.length === 0) return e.match ? "line not matched when should have" : null;
  if (!e.match) return `line matched when shouldn't have (regex ${failures[0]!.regexIndex})`;
  if (failures.length !== 1) {
    return `multiple regexes matched ${JSON.stringify(failures.map((f) => f.regexIndex))}`;
  }
  const f = failures[0]!;
  for (const [k, v] of Object.entries(e)) {
    if (NOT_FIELDS.has(k) || (depth === "host" && k !== "host")) continue;
    const fv = failureField(f, k);
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
  if (depth === "full" && typeof e.time === "string") {
    const want = zonedEpoch(e.time);
    if (!(Math.abs(f.time - want) < 1e-6)) {
      return `time: got ${f.time} (${
        new Date(f.time * 1000).toISOString()
      }), expected ${want} (${e.time})`;
    }
  }
  return null;
}

/** Samples run and samples agreeing. */
export interface SampleTally {
  total: number;
  agree: number;
}

/** Where {@linkcode runSamples} finds filters and samples, and how deep it checks. */
export interface RunSamplesOptions {
  /** Directory holding filter.d. */
  configDir: string;
  /** Directory holding the sample files. */
  sampleDir: string;
  /**
   * What to compare.
   * @default {"full"}
   */
  depth?: CheckDepth;
}

/**
 * Runs filter `name` of `configDir`/filter.d over the sample file `name`
 * (and the files it adds) with each option set the samples name; pushes a
 * line per disagreement (or filter error) to `problems`.
 *
 * @throws {SyntaxError} when the sample file cannot be read as failJSON
 */
export function runSamples(
  name: string,
  options: RunSamplesOptions,
  problems: string[],
): SampleTally {
  const { configDir, sampleDir, depth = "full" } = options;
  const cases = readFailJson(name, (n) => Deno.readTextFileSync(`${sampleDir}/${n}`));
  const filters = new Map<string, Filter | Error>();
  let agree = 0;
  for (const c of cases) {
    let flt = filters.get(c.filterName);
    if (flt === undefined) {
      try {
        const spec = readFilter(configDir, { name: c.filter, options: c.filterOptions });
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
        const r = c.journal
          ? flt.processLine(c.line, SAMPLE_NOW, SAMPLE_NOW)
          : flt.processLine(c.line, SAMPLE_NOW);
        problem = checkCase(c, r.failures, depth);
      } catch (e) {
        problem = `error: ${(e as Error).message}`;
      }
    }
    if (problem === null) agree++;
    else problems.push(`${c.filterName} ${c.file}:${c.lineNo}: ${problem}\n    ${c.line}`);
  }
  return { total: cases.length, agree };
}

/**
 * Runs the module at `moduleUrl` with `--json` in a child process whose TZ
 * is the samples' zone, and returns the JSON it prints.
 */
export async function runInSampleZone<T>(moduleUrl: string | URL): Promise<T> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", V8_FLAGS, new URL(moduleUrl).pathname, "--json"],
    env: { TZ: SAMPLE_TIME_ZONE },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `sample check child ${moduleUrl} failed:\n${stderr}`);
  return JSON.parse(new TextDecoder().decode(out.stdout)) as T;
}
