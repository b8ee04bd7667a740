/**
 * `f2b regex` (fail2ban-regex): runs a filter, or a regex given on the
 * command line, over a log file or a single line, and prints fail2ban-regex's
 * summary (hits per regex, date templates, matched/ignored/missed lines), or
 * one record per failure with `-o`/`--json`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { isIP } from "node:net";
import { lookup } from "node:dns/promises";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import type { FilterSpec } from "../config/types.ts";
import { readFilter } from "../config/filter_reader.ts";
import { parseReference } from "../config/reference.ts";
import { emptyFilter, FAIL2BAN_VERSION } from "../config/jail_reader.ts";
import {
  DateDetector,
  type DateDetectorOptions,
  type TemplateHits,
} from "../filter/date_detector.ts";
import { type DateDetectorLike, Filter, type FilterOptions } from "../filter/filter.ts";
import { boundedRegExp, regexBounded } from "../filter/bounded_regex.ts";
import { expandTags, localizeFlags } from "../filter/filter_tags.ts";
import { translatePythonRegex } from "../filter/python_regex.ts";
import type { DateMatch, FailureMatch, GaveUpRegex, LineResult } from "../filter/types.ts";
import { BacktrackWatch, describeGaveUp } from "../filter/backtrack_watch.ts";
import { LOG_LEVELS } from "../log/logger.ts";
import { type Clock, SYSTEM_CLOCK } from "../util/clock.ts";
import {
  addStats,
  PARALLEL_MIN_BYTES,
  planSplit,
  RegexWorker,
  splittableEncoding,
} from "./regex_parallel.ts";

/** Where the command writes, and its clock (tests pass their own). */
export interface RegexIo {
  /** Writes text to standard output. */
  stdout(text: string): void;
  /** Writes text to standard error. */
  stderr(text: string): void;
  /** Source of "now" when `--now` is not given. @default SYSTEM_CLOCK */
  clock?: Clock;
  /** How a large log file is split between two threads (for tests). */
  split?: SplitTuning;
}

/** When and where `f2b regex` splits a log file between two threads. */
export interface SplitTuning {
  /** Never split (also: environment variable F2B_REGEX_THREADS=1). @default false */
  off?: boolean;
  /** Smallest file to split. @default PARALLEL_MIN_BYTES (64 MiB) */
  minBytes?: number;
  /** Share of the file's bytes the main thread reads. @default 0.56 */
  share?: number;
  /** Bytes between the worker's checkpoints. @default 256 KiB */
  checkpointBytes?: number;
  /** Bytes the worker reads uncounted before its part. @default 256 KiB */
  warmBytes?: number;
  /** Called with the checkpoint whose state matched (-1: none did; this thread read the rest). */
  onSplit?: (checkpoint: number) => void;
}

/** The parsed command line. */
export interface RegexOptions {
  log: string;
  regex: string;
  ignoreregex: string | null;
  config: string;
  datepattern: string | null;
  timezone: string | null;
  encoding: string;
  raw: boolean;
  usedns: string | null;
  maxlines: number;
  journalmatch: string | null;
  logLevel: string;
  /** `-l` as a number (50 critical … 10 debug, 7 tracedebug, 5 heavydebug). */
  logLevelNo: number;
  verbose: number;
  verboseDate: boolean;
  checkAll: boolean;
  out: string | null;
  json: boolean;
  now: number | null;
  printNoMissed: boolean;
  printNoIgnored: boolean;
  printAllMatched: boolean;
  printAllMissed: boolean;
  printAllIgnored: boolean;
  /** `-D`: each printed line with each regex and a debuggex.com link to try them there. */
  debuggex: boolean;
}

/** A command line that cannot run; `usage` says whether to print the help first. */
export class RegexUsageError extends Error {
  /** Print the help text before the message. */
  readonly usage: boolean;
  /** Creates the error. */
  constructor(message: string, usage = true) {
    super(message);
    this.name = "RegexUsageError";
    this.usage = usage;
  }
}

const HELP = `Usage: f2b regex [OPTIONS] <LOG> <REGEX> [IGNOREREGEX]

Tests fail2ban filters and regular expressions against log lines
(the fail2ban-regex tool).

LOG:
  string                one log line
  filename              a log file (/var/log/auth.log)

REGEX:
  string                a failregex
  filter                a filter name in <config>/filter.d, with options
                        if needed (sshd[mode=aggressive])
  filename              a filter file (filter.d/sshd.conf)

IGNOREREGEX:
  string                an ignoreregex

Options:
  --version             print the version and exit
  -h, --help            print this help and exit
  -c CONFIG, --config=CONFIG
                        configuration directory (default /etc/fail2ban)
  -d DATEPATTERN, --datepattern=DATEPATTERN
                        date pattern for the lines' dates
  --timezone=TIMEZONE, --TZ=TIMEZONE
                        time zone of dates without one (UTC, +0200, ...)
  -e ENCODING, --encoding=ENCODING
                        encoding of the log file (default UTF-8)
  -r, --raw             raw hosts, no DNS lookups
  --usedns=USEDNS       DNS use for <HOST> ('yes' matches host names too,
                        'no' addresses only)
  -L MAXLINES, --maxlines=MAXLINES
                        lines buffered for multi-line regexes
  -m JOURNALMATCH, --journalmatch=JOURNALMATCH
                        journalctl matches (systemd journal only)
  -l LOG_LEVEL, --log-level=LOG_LEVEL
                        log level (default critical): info lists the
                        filter files read, debug the filter set-up,
                        tracedebug each match, heavydebug each line
  -D, --debuggex        with the printed lines: each regex and a
                        debuggex.com link to try it on the line
  -V                    print the version in short form and exit
  -v, --verbose         more output (repeat for more)
  --verbosity=VERBOSE   verbosity level (0..4)
  --verbose-date, --VD  list the date templates in the summary
  --no-check-all        stop at the first failregex that matches a line
  -o OUT, --out=OUT     print only this per failure: id, ip, msg, row,
                        a captured field (user, ...) or a template with
                        <tags> (<ip>, <fid>, <F-USER>, <time>, <msg>)
  --json                print one JSON object per failure:
                        {"line", "fid", "host", "time", captured fields}
  --now=EPOCH|ISO       reference time for dates without a year
  --print-no-missed     do not print missed lines
  --print-no-ignored    do not print ignored lines
  --print-all-matched   print all matched lines
  --print-all-missed    print all missed lines, however many
  --print-all-ignored   print all ignored lines, however many
  -t, --log-traceback   accepted for compatibility
  --full-traceback      accepted for compatibility
`;

/** The `-l` levels the regex command logs at (fail2ban's numbers, see `LOG_LEVELS`). */
const LEVEL = {
  CRITICAL: LOG_LEVELS.CRITICAL!,
  INFO: LOG_LEVELS.INFO!,
  DEBUG: LOG_LEVELS.DEBUG!,
  TRACEDEBUG: LOG_LEVELS.TRACEDEBUG!,
  HEAVYDEBUG: LOG_LEVELS.HEAVYDEBUG!,
} as const;

/** Formats a log message (level, logger name, text), or gives null when `-l` holds it back. */
export type RegexLog = (level: number, name: string, message: string) => string | null;

const NO_LOG: RegexLog = () => null;

/** Python logging's name of a level number. */
function levelName(level: number): string {
  for (const [name, n] of Object.entries(LOG_LEVELS)) {
    if (n === level && name !== "FATAL" && name !== "WARN") return name;
  }
  return `Level ${level}`;
}

/**
 * The `-l` log: messages at or above `threshold`, for standard output, in
 * fail2ban-regex's format (`2005-08-14 10:00:00,000 fail2ban.filter [pid]:
 * DEBUG   D: message`; shorter with `-vv`).
 */
function regexLog(threshold: number, verbose: number): RegexLog {
  if (threshold >= LEVEL.CRITICAL) return NO_LOG;
  return (level, name, message) => {
    if (level < threshold) return null;
    const d = new Date();
    const p2 = (n: number) => String(n).padStart(2, "0");
    const asctime = `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${
      p2(d.getHours())
    }:${p2(d.getMinutes())}:${p2(d.getSeconds())},${String(d.getMilliseconds()).padStart(3, "0")}`;
    const lname = levelName(level);
    if (verbose > 1) {
      return ` ${asctime.padEnd(15)} ${Deno.pid.toString(16).toUpperCase()} ${
        lname.slice(0, 5).padEnd(5)
      }  ${message}`;
    }
    return `${asctime} ${name.padEnd(24)}[${Deno.pid}]: ${lname.padEnd(7)} ${lname[0]}: ${message}`;
  };
}

/** A `-l` value as a level number (a name or a number), or null. */
function parseLogLevel(text: string): number | null {
  if (/^\d+$/.test(text)) return Number(text);
  return LOG_LEVELS[text.toUpperCase()] ?? null;
}

/** Reads `--now`: epoch seconds or an ISO date (local time unless it names a zone). */
export function parseNow(text: string): number {
  const t = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(t)) return Number(t);
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) {
    throw new RegexUsageError(
      `Invalid --now "${text}": expected epoch seconds or an ISO date`,
      false,
    );
  }
  return ms / 1000;
}

/**
 * Parses fail2ban-regex's command line.
 *
 * @returns the options, or "help"/"version"/"version-short" when one of those was asked for
 * @throws {RegexUsageError} for unknown options, bad values or missing arguments
 */
export function parseRegexArgs(
  args: string[],
): RegexOptions | "help" | "version" | "version-short" {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: "string", short: "c" },
        datepattern: { type: "string", short: "d" },
        timezone: { type: "string" },
        TZ: { type: "string" },
        encoding: { type: "string", short: "e" },
        raw: { type: "boolean", short: "r" },
        usedns: { type: "string" },
        maxlines: { type: "string", short: "L" },
        journalmatch: { type: "string", short: "m" },
        "log-level": { type: "string", short: "l" },
        V: { type: "boolean", short: "V" },
        version: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        verbose: { type: "boolean", short: "v", multiple: true },
        verbosity: { type: "string" },
        "verbose-date": { type: "boolean" },
        VD: { type: "boolean" },
        "no-check-all": { type: "boolean" },
        out: { type: "string", short: "o" },
        json: { type: "boolean" },
        now: { type: "string" },
        "print-no-missed": { type: "boolean" },
        "print-no-ignored": { type: "boolean" },
        "print-all-matched": { type: "boolean" },
        "print-all-missed": { type: "boolean" },
        "print-all-ignored": { type: "boolean" },
        debuggex: { type: "boolean", short: "D" },
        "log-traceback": { type: "boolean", short: "t" },
        "full-traceback": { type: "boolean" },
      },
    });
  } catch (e) {
    throw new RegexUsageError(`ERROR: ${(e as Error).message}`);
  }
  const v = parsed.values;
  if (v.help) return "help";
  if (v.V) return "version-short";
  if (v.version) return "version";
  const errors: string[] = [];
  if (v["print-no-missed"] && v["print-all-missed"]) {
    errors.push("ERROR: --print-no-missed and --print-all-missed are mutually exclusive.");
  }
  if (v["print-no-ignored"] && v["print-all-ignored"]) {
    errors.push("ERROR: --print-no-ignored and --print-all-ignored are mutually exclusive.");
  }
  const pos = parsed.positionals;
  if (pos.length !== 2 && pos.length !== 3) errors.push("ERROR: provide both <LOG> and <REGEX>.");
  if (errors.length) throw new RegexUsageError(errors.join("\n"));
  let maxlines = 0;
  if (v.maxlines !== undefined) {
    maxlines = Number(v.maxlines);
    if (!Number.isInteger(maxlines) || maxlines < 0) {
      throw new RegexUsageError(`ERROR: option -L: invalid integer value: '${v.maxlines}'`);
    }
  }
  let verbose = v.verbose?.length ?? 0;
  if (v.verbosity !== undefined) {
    verbose = Number(v.verbosity);
    if (!Number.isInteger(verbose)) {
      throw new RegexUsageError(
        `ERROR: option --verbosity: invalid integer value: '${v.verbosity}'`,
      );
    }
  }
  const logLevel = (v["log-level"] ?? "critical").toUpperCase();
  const logLevelNo = parseLogLevel(logLevel);
  if (logLevelNo === null) {
    throw new RegexUsageError(
      `ERROR: Invalid log level "${
        v["log-level"]
      }" (one of critical, error, warning, notice, info, debug, tracedebug, heavydebug, or a number)`,
      false,
    );
  }
  if (v.json && v.out !== undefined) {
    throw new RegexUsageError("ERROR: --json and -o/--out are mutually exclusive.");
  }
  return {
    log: pos[0]!,
    regex: pos[1]!,
    ignoreregex: pos[2] ?? null,
    config: v.config ?? "/etc/fail2ban",
    datepattern: v.datepattern ?? null,
    timezone: v.timezone ?? v.TZ ?? null,
    encoding: v.encoding ?? "UTF-8",
    raw: v.raw ?? false,
    usedns: v.usedns ?? null,
    maxlines,
    journalmatch: v.journalmatch ?? null,
    logLevel,
    logLevelNo,
    verbose,
    verboseDate: (v["verbose-date"] ?? false) || (v.VD ?? false),
    checkAll: !(v["no-check-all"] ?? false),
    out: v.out ?? null,
    json: v.json ?? false,
    now: v.now === undefined ? null : parseNow(v.now),
    printNoMissed: v["print-no-missed"] ?? false,
    printNoIgnored: v["print-no-ignored"] ?? false,
    printAllMatched: v["print-all-matched"] ?? false,
    printAllMissed: v["print-all-missed"] ?? false,
    printAllIgnored: v["print-all-ignored"] ?? false,
    debuggex: v.debuggex ?? false,
  };
}

/**
 * fail2ban-regex's `-D` link: the line and the regex (tags expanded) on
 * debuggex.com, form-encoded as Python's urlencode does (space as "+",
 * letters, digits and `_.-~` kept, every other byte as %XX; the line in the
 * log's encoding, characters it cannot hold left out).
 */
export function debuggexUrl(
  line: string,
  regex: string,
  multiline: boolean,
  useDns: string,
  encoding = "UTF-8",
): string {
  let expanded: string;
  try {
    expanded = expandTags(regex, useDns);
  } catch {
    expanded = regex;
  }
  const args = [
    `re=${formEncode(new TextEncoder().encode(expanded))}`,
    `str=${formEncode(encodeAs(line, encoding))}`,
    "flavor=python",
  ];
  if (multiline) args.push("flags=m");
  return "https://www.debuggex.com/?" + args.join("&");
}

/** Character → byte of each single-byte encoding used so far (null: UTF-8). */
const BYTE_TABLES = new Map<string, Map<string, number> | null>();

/** Text as bytes of `encoding`: UTF-8, or one byte per character for the Latin encodings. */
function encodeAs(text: string, encoding: string): Uint8Array {
  let table = BYTE_TABLES.get(encoding);
  if (table === undefined) {
    let name = "utf-8";
    try {
      name = new TextDecoder(encoding).encoding;
    } catch {
      // unknown: UTF-8
    }
    table = null;
    if (name !== "utf-8" && !name.startsWith("utf-16")) {
      const decoder = new TextDecoder(name);
      table = new Map();
      for (let b = 0; b < 256; b++) table.set(decoder.decode(new Uint8Array([b])), b);
    }
    BYTE_TABLES.set(encoding, table);
  }
  if (table === null) return new TextEncoder().encode(text);
  const out: number[] = [];
  for (const ch of text) {
    const b = table.get(ch);
    if (b !== undefined) out.push(b);
  }
  return new Uint8Array(out);
}

/** Python's `quote_plus` of bytes. */
function formEncode(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) {
    if (
      (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) ||
      b === 95 || b === 46 || b === 45 || b === 126
    ) s += String.fromCharCode(b);
    else if (b === 32) s += "+";
    else s += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return s;
}

/** fail2ban-regex's shortening of long values in its header. */
export function shortstr(s: string, l = 53): string {
  return s.length > l ? s.slice(0, l - 3) + "..." : s;
}

/** A tree-style list as fail2ban-regex prints it (nothing for an empty list). */
export function pprintList(items: string[], header: string | null = null): string | null {
  if (items.length === 0) return null;
  return (header ? `|- ${header}\n` : "") + "|  " + items.join("\n|  ") + "\n`-";
}

function pad(s: string, width: number): string {
  return s.length >= width ? s : " ".repeat(width - s.length) + s;
}

function isFile(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

const FILTER_NAME_RE = /^\/{0,3}[\w/_\-.]+(?:\[.*\])?$/s;

/** How REGEX was resolved: a filter file (read with its layers) or a regex line. */
export interface ResolvedFilter {
  spec: FilterSpec;
  /** Header lines to print. */
  header: string[];
  /** True when the filter came from a file (its maxlines/datepattern apply). */
  fromFile: boolean;
}

/**
 * Resolves REGEX as fail2ban-regex does: a name or path that names a file
 * (`sshd`, `sshd[mode=aggressive]`, `filter.d/sshd.conf`, `/x/my.conf`) is
 * read as a filter; anything else is a failregex.
 *
 * @throws {RegexUsageError} when the filter cannot be read
 */
export function resolveFilter(
  value: string,
  configDir: string,
  format: RegexLog = NO_LOG,
  showRealOptions = false,
): ResolvedFilter {
  let fltFile: string | null = null;
  let fltName = value;
  let fltOpt: Record<string, string> = {};
  let basedir = configDir;
  if (FILTER_NAME_RE.test(value)) {
    try {
      const ref = parseReference(value);
      fltName = ref.name;
      fltOpt = { ...ref.options };
    } catch (e) {
      throw new RegexUsageError(
        `ERROR: Wrong filter name or options: ${
          (e as Error).message
        }\n       while parsing: ${value}`,
        false,
      );
    }
    const tail = fltName.slice(-6);
    const tryNames = tail.includes(".")
      ? [fltName]
      : [fltName, fltName + ".conf", fltName + ".local"];
    for (let f of tryNames) {
      if (!f.includes("/")) {
        f = basename(basedir) === "filter.d" ? join(basedir, f) : join(basedir, "filter.d", f);
      } else {
        basedir = dirname(f);
      }
      if (isFile(f)) {
        fltFile = f;
        break;
      }
    }
  }
  if (fltFile === null) {
    const spec: FilterSpec = {
      ...emptyFilter(),
      failregex: [{ pattern: value, origin: "failregex given on the command line" }],
    };
    return {
      spec,
      header: [`Use ${pad("failregex", 11)} line : ${shortstr(value)}`],
      fromFile: false,
    };
  }
  const header: string[] = [];
  let reference: string;
  let dir: string;
  const optText = Object.keys(fltOpt).length
    ? `Use   filter options : {${
      Object.entries(fltOpt).map(([k, v]) => `'${k}': '${v}'`).join(", ")
    }}`
    : null;
  if (
    basedir === configDir || basename(basedir) === "filter.d" ||
    (!fltName.slice(-6).includes(".") && !fltName.includes("/"))
  ) {
    if (basename(basedir) === "filter.d") basedir = dirname(basedir);
    const name = basename(fltName).replace(/\.[^.]*$/, "");
    header.push(`Use ${pad("failregex", 11)} filter file : ${name}, basedir: ${basedir}`);
    dir = basedir;
    reference = name;
  } else {
    header.push(`Use ${pad("failregex", 11)} file : ${fltName}`);
    dir = configDir;
    reference = isAbsolute(fltName) ? fltName : resolve(fltName);
  }
  if (optText) header.push(optText);
  let spec: FilterSpec;
  // log lines go between the header lines, where fail2ban-regex prints them
  const log = (level: number, name: string, message: string) => {
    const line = format(level, name, message);
    if (line !== null) header.push(line);
  };
  log(
    LEVEL.INFO,
    "fail2ban.configreader",
    `Loading configs for filter.d/${reference} under ${dir}`,
  );
  const onRead = (files: readonly string[]) => {
    log(LEVEL.DEBUG, "fail2ban.configreader", `Reading config files: ${files.join(", ")}`);
    log(
      LEVEL.INFO,
      "fail2ban.configparserinc",
      `  Loading files: [${files.map((f) => `'${f}'`).join(", ")}]`,
    );
  };
  try {
    spec = readFilter(dir, { name: reference, options: fltOpt }, {}, { onRead });
  } catch (e) {
    throw new RegexUsageError(
      `Wrong config file: ${(e as Error).message}\nERROR: failed to load filter ${value}`,
      false,
    );
  }
  if (showRealOptions) {
    const real = ["logtype", "datepattern", ...Object.keys(fltOpt)]
      .filter((k, i, all) => all.indexOf(k) === i && spec.options[k] !== undefined)
      .map((k) => `${pyStr(k)}: ${pyStr(spec.options[k]!)}`);
    header.push(`Real  filter options : {${real.join(", ")}}`);
  }
  return { spec, header, fromFile: true };
}

/** Buffered writer: collects output and hands it to `sink` in large pieces. */
export class Output {
  #parts: string[] = [];
  #size = 0;
  readonly #sink: (s: string) => void;
  constructor(sink: (s: string) => void) {
    this.#sink = sink;
  }
  line(s: string): void {
    this.#parts.push(s, "\n");
    this.#size += s.length + 1;
    if (this.#size > 1 << 16) this.flush();
  }
  flush(): void {
    if (this.#parts.length) this.#sink(this.#parts.join(""));
    this.#parts = [];
    this.#size = 0;
  }
}

/** A part of a file: from byte `start` to byte `end` (exclusive; Infinity: to its end). */
export interface ByteRange {
  start: number;
  end: number;
}

const WHOLE_FILE: ByteRange = { start: 0, end: Infinity };

/**
 * Calls `onLine` for each line of a file, read in chunks (a huge file is never
 * held whole): decoded with replacement characters for invalid bytes, split
 * on LF, trailing CRs removed; a last line without LF is passed too unless
 * `lastUnterminated` is false (fail2ban-regex skips it, as a log tailer waits
 * for its end). `onLine` gets the 1-based line number; a promise it returns
 * is awaited before the next line. With `keepLf`, a non-empty line ending in
 * LF (not CR LF) is passed with its LF, a slice of the decoded chunk: a
 * filter then matches a slice of it instead of a copy with a newline added.
 * With `range`, only that part of the file is read (it should start and end
 * at line starts; line numbers then count from its start).
 */
export async function forEachFileLine(
  path: string,
  encoding: string,
  onLine: (line: string, lineNo: number) => void | Promise<void>,
  lastUnterminated = true,
  keepLf = false,
  range: ByteRange = WHOLE_FILE,
): Promise<void> {
  const file = await Deno.open(path, { read: true });
  const decoder = new TextDecoder(encoding, { fatal: false, ignoreBOM: range.start !== 0 });
  // 64 KiB: each decoded chunk stays an ordinary young object (lines are slices
  // of it); a chunk of 1 MiB went to the large-object space and was promoted
  const buf = new Uint8Array(1 << 16);
  let pending: string[] = [];
  let lineNo = 0;
  let left = range.end - range.start;
  if (range.start !== 0) await file.seek(range.start, Deno.SeekMode.Start);
  const emit = (s: string) => {
    let end = s.length;
    while (end > 0 && s.charCodeAt(end - 1) === 13) end--;
    return onLine(end === s.length ? s : s.slice(0, end), ++lineNo);
  };
  try {
    for (;;) {
      const n = left <= 0 ? null : file.readSync(left < buf.length ? buf.subarray(0, left) : buf);
      if (n !== null) left -= n;
      const text = n === null
        ? decoder.decode()
        : decoder.decode(buf.subarray(0, n), { stream: true });
      let start = 0;
      let nl = text.indexOf("\n");
      while (nl >= 0) {
        let r;
        if (pending.length) {
          pending.push(text.slice(start, nl));
          r = emit(pending.join(""));
          pending = [];
        } else if (keepLf && nl > start && text.charCodeAt(nl - 1) !== 13) {
          r = onLine(text.slice(start, nl + 1), ++lineNo);
        } else {
          r = emit(text.slice(start, nl));
        }
        if (r !== undefined) await r;
        start = nl + 1;
        nl = text.indexOf("\n", start);
      }
      if (start < text.length) pending.push(text.slice(start));
      if (n === null) break;
    }
    if (pending.length && lastUnterminated) {
      const last = pending.join("");
      if (last.length) await emit(last);
    }
  } finally {
    file.close();
  }
}

const PY_ESCAPES: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** Python's repr() of a str, for `-o row`. */
function pyStr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (PY_ESCAPES[ch]) out += PY_ESCAPES[ch];
    else if (ch === q) out += "\\" + ch;
    else if (c < 32 || c === 127) out += "\\x" + c.toString(16).padStart(2, "0");
    else out += ch;
  }
  return out + q;
}

/** Python's repr() of the values fail2ban-regex prints. */
function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (typeof v === "string") return pyStr(v);
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(v);
  if (Array.isArray(v)) return "[" + v.map(pyRepr).join(", ") + "]";
  if (typeof v === "object") {
    return "{" + Object.entries(v as Record<string, unknown>).map(([k, x]) =>
      `${pyStr(k)}: ${pyRepr(x)}`
    ).join(", ") + "}";
  }
  return String(v);
}

/** The `-o` printer for one failure. */
function outFormatter(fmt: string): (f: FailureMatch) => string[] {
  const ip = (f: FailureMatch) => f.host ?? f.fid;
  if (fmt === "id" || fmt === "fid") return (f) => [f.fid];
  if (fmt === "ip") return (f) => [ip(f)];
  if (fmt === "msg") return (f) => f.lines;
  if (fmt === "row") {
    return (f) => [`[${pyRepr(f.fid)},\t${pyRepr(f.time)},\t${pyRepr({ ...f.data })}],`];
  }
  if (!fmt.includes("<")) return (f) => [f.data[fmt] ?? (fmt === "fid" ? f.fid : "None")];
  return (f) => {
    const tag = (name: string): string | null => {
      const n = name.toLowerCase();
      if (n === "ip") return ip(f);
      if (n === "fid") return f.fid;
      if (n === "time") return String(f.time);
      if (n === "matches" || n === "msg") return f.lines.join("\n");
      if (n === "failures") return "1";
      const key = n.startsWith("f-") ? n.slice(2).replaceAll("-", "_") : n;
      return f.data[key] ?? null;
    };
    const text = fmt.replace(/<([\w-]+)>/g, (m, name: string) => {
      const v = tag(name);
      return v === null ? m : v.replaceAll("\0", "\\x00");
    });
    return text.split("\n").length > 1 && fmt.includes("<msg>")
      ? f.lines.map((l) =>
        fmt.replace(/<([\w-]+)>/g, (m, name: string) => name === "msg" ? l : (tag(name) ?? m))
      )
      : [text];
  };
}

export interface Stats {
  /** Lines read, skipped ones too (numbers the lines in `gaveUp`). */
  lines: number;
  tested: number;
  matched: number;
  ignored: number;
  missed: number;
  matchedLines: string[];
  ignoredLines: string[];
  missedLines: string[];
  failHits: number[];
  failIps: FailureMatch[][];
  ignoreHits: number[];
  prefHits: number;
  prefGroups: string[];
  /** Lines on which a regex ran into the backtrack limit (see BacktrackWatch). */
  gaveUp: { lineNo: number; line: string; regexes: GaveUpRegex[] }[];
  /** Whether looking for such lines stopped (its time budget spent). */
  gaveUpUnexamined: boolean;
}

/** A regex of the filter compiled for statistics, with its groups' fail2ban names. */
export interface StatsRegex {
  re: RegExp;
  /** [JavaScript name, fail2ban name] of each named group, in pattern order. */
  names: [string, string][];
}

/** Compiles a regex of the filter the way the filter engine does, for statistics only. */
function compileForStats(pattern: string, useDns: string): StatsRegex | null {
  try {
    const t = translatePythonRegex(localizeFlags(expandTags(pattern, useDns)), "statistics");
    const names: [string, string][] = [];
    const seen = new Set<string>();
    for (const m of t.source.matchAll(/\(\?<([^>=!]+)>/g)) {
      const js = m[1]!;
      const py = t.renamed[js] ?? js;
      if (seen.has(py) || t.synthetic.includes(js)) continue;
      seen.add(py);
      names.push([js, py]);
    }
    return { re: boundedRegExp(t.source, t.flags), names };
  } catch {
    return null;
  }
}

/** The groups of a prefregex match as fail2ban-regex -v shows them (a Python dict). */
function groupsRepr(sr: StatsRegex, m: RegExpExecArray): string {
  const g: Record<string, string | null> = {};
  for (const [js, py] of sr.names) g[py] = m.groups?.[js] ?? null;
  return pyRepr(g);
}

function strftimeLocal(t: number): string {
  const d = new Date(t * 1000);
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const months = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
  ];
  const p2 = (n: number) => String(n).padStart(2, "0");
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${p2(d.getDate())} ${p2(d.getHours())}:${
    p2(d.getMinutes())
  }:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

function defaultIo(): RegexIo {
  const enc = new TextEncoder();
  const write = (f: typeof Deno.stdout) => (s: string) => {
    const bytes = enc.encode(s);
    let off = 0;
    while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
  };
  return { stdout: write(Deno.stdout), stderr: write(Deno.stderr) };
}

/**
 * Runs fail2ban-regex with `args` (without the program name) and returns the
 * exit code: 0 on success, 255 on errors (2 for an unknown option).
 */
export async function runRegexCommand(args: string[], io: RegexIo = defaultIo()): Promise<number> {
  let opts: ReturnType<typeof parseRegexArgs>;
  try {
    opts = parseRegexArgs(args);
  } catch (e) {
    if (e instanceof RegexUsageError) {
      if (e.usage) io.stdout(HELP);
      io.stderr("\n" + e.message + "\n");
      return e.message.includes("Unknown option") || e.message.includes("unexpected") ? 2 : 255;
    }
    throw e;
  }
  if (opts === "help") {
    io.stdout(HELP);
    return 0;
  }
  if (opts === "version-short") {
    io.stdout(FAIL2BAN_VERSION + "\n");
    return 0;
  }
  if (opts === "version") {
    io.stdout(`fail2ban-regex ${FAIL2BAN_VERSION}\n`);
    return 0;
  }
  const out = new Output(io.stdout);
  try {
    return await run(opts, out, io);
  } catch (e) {
    out.flush();
    if (e instanceof RegexUsageError || e instanceof SyntaxError) {
      io.stdout(`ERROR: ${e.message.replace(/^ERROR: /, "")}\n`);
      return 255;
    }
    throw e;
  } finally {
    out.flush();
  }
}

async function run(opts: RegexOptions, out: Output, io: RegexIo): Promise<number> {
  const summary = opts.out === null && !opts.json;
  // a large log file in a plain summary: a worker reads its second part (it starts
  // loading now, while this thread reads the filter)
  const tuning = io.split ?? {};
  const splitSize = summary && opts.verbose === 0 && opts.logLevelNo > LEVEL.TRACEDEBUG
    ? splitSizeOf(opts, tuning)
    : null;
  const worker = splitSize === null ? null : startWorker();
  let workerHits: TemplateHits[] | null = null;
  const say = (s: string) => {
    if (summary) out.line(s);
  };
  say("");
  say("Running tests");
  say("=============");
  say("");
  if (opts.maxlines) say(`Use         maxlines : ${opts.maxlines}`);
  const describe = (dp: string, d: DateDetector) => {
    const names = d.templateNames;
    const desc = names.length === 0 || names.length > 2 ? "Default Detectors" : names[0]!;
    return `Use      datepattern : ${dp} : ${desc}`;
  };
  // a -d pattern is set (and shown) before the filter is read, as fail2ban-regex does
  let detector: DateDetector | null = null;
  let detectorOptions: DateDetectorOptions | null = null;
  if (opts.datepattern !== null) {
    detectorOptions = { datepattern: opts.datepattern, logtimezone: opts.timezone };
    detector = new DateDetector(detectorOptions);
    say(describe(opts.datepattern, detector));
  }
  const format = regexLog(opts.logLevelNo, opts.verbose);
  const log = (level: number, name: string, message: string) => {
    const line = format(level, name, message);
    if (line !== null) out.line(line);
  };
  const resolved = resolveFilter(
    opts.regex,
    opts.config,
    format,
    opts.verbose > 1 || opts.logLevelNo <= LEVEL.DEBUG,
  );
  const spec = resolved.spec;
  for (const h of resolved.header) say(h);
  if (resolved.fromFile && !opts.maxlines && spec.options.maxlines !== undefined) {
    say(`Use         maxlines : ${spec.maxlines}`);
  }
  if (detectorOptions === null) {
    detectorOptions = {
      datepattern: spec.datepattern,
      logtimezone: opts.timezone ?? spec.logtimezone,
    };
    detector = new DateDetector(detectorOptions);
    if (spec.datepattern !== null) say(describe(spec.datepattern, detector));
  }
  if (detector === null) throw new Error("unreachable: no date detector");
  if (opts.maxlines) spec.maxlines = opts.maxlines;
  if (opts.ignoreregex !== null) {
    say(`Use ${pad("ignoreregex", 11)} line : ${shortstr(opts.ignoreregex)}`);
    spec.ignoreregex = [...spec.ignoreregex, {
      pattern: opts.ignoreregex,
      origin: "ignoreregex given on the command line",
    }];
  }
  const useDns = opts.raw ? "raw" : (opts.usedns ?? spec.options.usedns ?? "warn");
  const needPref = summary && spec.prefregex !== null;
  // -v shows the prefregex's groups, and a multi-line filter's prefregex ran on
  // the buffer: those re-run it on the line (without its date) for statistics;
  // otherwise the filter says whether it matched (running it only if it had skipped it)
  const retestPref = needPref && (opts.verbose > 0 || spec.maxlines > 1);
  const found = retestPref ? new DateSpy(detector) : null;
  const filter = new Filter(
    spec,
    regexFilterOptions(opts, spec, found ?? detector, useDns, summary),
  );
  if (!regexBounded()) {
    log(
      LOG_LEVELS.WARNING!,
      "fail2ban.filter",
      "Regexes run without a backtrack limit (run with --v8-flags=--allow-natives-syntax, as deno task regex does)",
    );
  }
  log(LEVEL.DEBUG, "fail2ban.filter", `Setting usedns = ${useDns} for Filter(${spec.name})`);
  log(LEVEL.DEBUG, "fail2ban.filter", `Created Filter(${spec.name})`);
  log(LEVEL.INFO, "fail2ban.filter", `  maxLines: ${spec.maxlines}`);
  const prefRe = retestPref ? compileForStats(spec.prefregex!.pattern, useDns) : null;
  const now = opts.now ?? (io.clock ?? SYSTEM_CLOCK).now();
  const maxPrint = opts.maxlines || 20;
  const stats = newStats(spec);
  const fmt = opts.out !== null ? outFormatter(opts.out) : null;
  const probeDates = detectorOptions; // a const: the closure below keeps it non-null
  const { onLine, keepLf, finish } = lineCounter({
    opts,
    spec,
    filter,
    now,
    useDns,
    summary,
    fmt,
    out,
    needPref,
    prefRe,
    found,
    stats,
    maxPrint,
    trace: opts.logLevelNo <= LEVEL.TRACEDEBUG ? lineTrace(opts.logLevelNo, log) : null,
    probe: () => filter.twin(new DateDetector(probeDates)),
  });

  const t0 = performance.now();
  if (isFile(opts.log)) {
    say(`Use         log file : ${opts.log}`);
    say(`Use         encoding : ${opts.encoding}`);
    say("");
    let decoderOk = true;
    try {
      new TextDecoder(opts.encoding);
    } catch {
      decoderOk = false;
    }
    if (!decoderOk) throw new RegexUsageError(`Unknown encoding "${opts.encoding}"`, false);
    if (worker !== null && splitSize !== null && spec.maxlines <= 1 && found === null) {
      const part: SplitRead = {
        opts,
        spec,
        detectorOptions,
        useDns,
        now,
        maxPrint,
        size: splitSize,
      };
      workerHits = await readSplit(worker, part, tuning, filter, stats, onLine, keepLf);
    } else {
      worker?.close();
      await forEachFileLine(opts.log, opts.encoding, onLine, false, keepLf);
    }
  } else if (opts.log.startsWith("systemd-journal")) {
    out.line("Error: systemd journal is not supported by f2b regex. Exiting...");
    return 255;
  } else if (spec.maxlines <= 1 && !opts.log.includes("\n")) {
    say(`Use      single line : ${shortstr(opts.log)}`);
    say("");
    await onLine(opts.log.replace(/[\r\n]+$/, ""), 1);
  } else {
    const lines = opts.log.split("\n");
    say(`Use      multi line : ${lines.length} line(s)`);
    for (let i = 0; i < lines.length; i++) {
      if (i >= 5) {
        say("| ...");
        break;
      }
      say(`| ${pad(String(i + 1).slice(0, 2), 2)}: ${shortstr(lines[i]!)}`);
    }
    say("`-");
    say("");
    for (let i = 0; i < lines.length; i++) await onLine(lines[i]!.replace(/[\r\n]+$/, ""), i + 1);
  }
  finish();
  const elapsed = (performance.now() - t0) / 1000;
  stats.gaveUp.sort((a, b) => a.lineNo - b.lineNo); // the first lines are examined last
  for (const g of stats.gaveUp) {
    io.stderr(describeGaveUp(`Line ${g.lineNo}`, g.line, g.regexes) + "\n");
  }
  if (stats.gaveUpUnexamined) {
    io.stderr(
      "Stopped looking for lines on which a regex gave up at the backtrack limit (time budget spent): there may be more.\n",
    );
  }
  if (!summary) return 0;
  const hits = workerHits === null ? detector : { templateHits: () => workerHits! };
  printStats(opts, spec, hits, stats, elapsed, maxPrint, useDns, out);
  return 0;
}

/** What {@link lineCounter} needs: the run's options, filter and statistics. */
export interface CountContext {
  opts: RegexOptions;
  spec: FilterSpec;
  filter: Filter;
  now: number;
  useDns: string;
  /** The human summary is printed (no `--json`, no `-o`). */
  summary: boolean;
  fmt: ((f: FailureMatch) => string[]) | null;
  out: Output;
  /** The summary counts prefregex hits. */
  needPref: boolean;
  /** The prefregex re-run on each line for statistics (`-v`, multi-line filters), or null. */
  prefRe: StatsRegex | null;
  found: DateSpy | null;
  stats: Stats;
  maxPrint: number;
  /** Logs each line and its result (`-l tracedebug`/`heavydebug`), or null. */
  trace?: ((line: string, r: LineResult) => void) | null;
  /**
   * Builds a second filter like `filter` with its own state: with it, lines on
   * which a regex gives up are found and kept in `stats.gaveUp`.
   */
  probe?: () => Filter;
}

/**
 * Whether the regex command passes a line over: empty lines and comments
 * (fail2ban-regex skips lines starting with "#").
 */
export function isSkippedLine(line: string): boolean {
  return line.length === 0 || line.charCodeAt(0) === 35;
}

/**
 * The per-line work of the regex command: runs each line through the filter
 * and counts it in `stats` (or prints its failures with `--json`/`-o`).
 * `keepLf` says whether lines are to be passed with their LF (see
 * {@link forEachFileLine}).
 */
export function lineCounter(c: CountContext): {
  onLine: (line: string, lineNo: number) => void | Promise<void>;
  keepLf: boolean;
  /** Call at the end of the lines (the last ones are looked at for regexes that gave up). */
  finish: () => void;
} {
  const { opts, spec, filter, now, useDns, summary, fmt, out, needPref, prefRe, found, stats } = c;
  const maxPrint = c.maxPrint;
  const trace = c.trace ?? null;

  const resolveNames = !opts.raw && (useDns === "yes" || useDns === "warn");
  const dnsCache = new Map<string, string[]>();
  const resolveHost = async (name: string): Promise<string[]> => {
    let ips = dnsCache.get(name);
    if (ips === undefined) {
      try {
        ips = (await lookup(name, { all: true })).map((a) => a.address);
      } catch {
        ips = [];
      }
      dnsCache.set(name, ips);
    }
    return ips;
  };
  /** fail2ban resolves a host name to its addresses: one failure per address, none when it does not resolve. */
  const withAddresses = async (r: LineResult): Promise<LineResult> => {
    const failures: FailureMatch[] = [];
    for (const f of r.failures) {
      if (f.host === null || f.hostFromName === false || !isHostName(f.host)) {
        failures.push(f);
        continue;
      }
      for (const ip of await resolveHost(f.host)) {
        failures.push({
          ...f,
          fid: f.fid === f.host ? ip : f.fid,
          host: ip,
          data: { ...f.data, ip },
        });
      }
    }
    return { ...r, failures };
  };
  const needsDns = (failures: FailureMatch[]) => {
    for (let i = 0; i < failures.length; i++) {
      const f = failures[i]!;
      if (f.host !== null && f.hostFromName !== false && isHostName(f.host)) return true;
    }
    return false;
  };
  // lines a multi-line failure took from the buffer count as matched, not missed (as fail2ban-regex does)
  const multi = spec.maxlines > 1;
  // lines go to the filter with their LF where only the summary's counts look at them
  const keepLf = summary && found === null && !multi; // found: the prefregex is re-run on the line
  const recent: { text: string; missed: boolean }[] = [];

  const watch = c.probe === undefined
    ? null
    : new BacktrackWatch(c.probe, now, (lineNo, line, regexes) => {
      stats.gaveUp.push({ lineNo, line, regexes });
    });

  const onLine = (line: string, lineNo: number): void | Promise<void> => {
    const at = ++stats.lines;
    if (isSkippedLine(line)) return;
    const r0: LineResult = filter.processLine(line, now);
    if (watch !== null) watch.seen(line, at);
    if (trace) trace(line, r0);
    const failures = r0.failures;
    // a failregex match that gave no failure (no id yet) counts as ignored, as fail2ban-regex does
    const idless = failures.length === 0 && r0.matchedRegexes.length > 0 && !r0.ignored;
    if (resolveNames && failures.length !== 0 && needsDns(failures)) {
      return withAddresses(r0).then((r) => count(r, line, lineNo, idless));
    }
    count(r0, line, lineNo, idless);
  };
  /** The line without the LF it has when read with keepLf. */
  const noLf = (l: string) => keepLf && l.charCodeAt(l.length - 1) === 10 ? l.slice(0, -1) : l;
  const verbose = opts.verbose > 0;
  const count = (r: LineResult, line: string, lineNo: number, idless: boolean) => {
    const failures = r.failures;
    let failing = false;
    let nofail = false;
    for (let i = 0; i < failures.length; i++) {
      if (failures[i]!.data.nofail) nofail = true;
      else failing = true;
    }
    if (!summary) {
      if (r.ignored || nofail || !failing) return;
      for (const f of failures) {
        if (f.data.nofail) continue;
        if (fmt) { for (const s of fmt(f)) out.line(s); }
        else out.line(jsonRecord(f, lineNo));
      }
      return;
    }
    if (!needPref) {
      // no prefregex
    } else if (prefRe === null) {
      if (failures.length > 0 || r.matchedRegexes.length > 0 || filter.prefRegexMatches()) {
        stats.prefHits++;
      }
    } else if (!opts.verbose && (r.matchedRegexes.length > 0 || failures.length > 0)) {
      // a failregex only runs after the prefregex matched
      stats.prefHits++;
    } else {
      const d = found!.last;
      const text = d !== null && d.end > d.start
        ? line.slice(0, d.start) + line.slice(d.end)
        : line;
      prefRe.re.lastIndex = 0;
      const pm = prefRe.re.exec(text);
      if (pm !== null) {
        stats.prefHits++;
        if (opts.verbose) {
          if (stats.prefGroups.length < maxPrint) stats.prefGroups.push(groupsRepr(prefRe, pm));
          else if (stats.prefGroups.length === maxPrint) stats.prefGroups.push("...");
        }
      }
    }
    const failHits = stats.failHits;
    for (let i = 0; i < failures.length; i++) {
      const f = failures[i]!;
      failHits[f.regexIndex] = (failHits[f.regexIndex] ?? 0) + 1;
      if (verbose) stats.failIps[f.regexIndex]?.push(f);
    }
    if (idless) nofail = true;
    const ignored = r.ignored || nofail;
    if (r.ignored && stats.ignoreHits.length) {
      stats.ignoreHits[Math.max(0, filter.ignoreRegexIndex)]!++;
    }
    stats.tested++;
    if (multi) {
      if (r.failures.length) {
        for (const f of r.failures) {
          for (let k = 0; k < f.lines.length - 1; k++) {
            const e = recent.find((x) => x.missed && x.text === f.lines[k]);
            if (e === undefined) continue;
            e.missed = false;
            stats.missed--;
            stats.matched++;
            const at = stats.missedLines.indexOf(e.text);
            if (at >= 0) stats.missedLines.splice(at, 1);
            if (opts.printAllMatched) stats.matchedLines.push(e.text);
          }
        }
      }
      recent.push({ text: line, missed: !ignored && !failing });
      if (recent.length > spec.maxlines) recent.shift();
    }
    if (ignored) {
      stats.ignored++;
      if (!opts.printNoIgnored && (opts.printAllIgnored || stats.ignored <= maxPrint + 1)) {
        stats.ignoredLines.push(noLf(line));
      }
    } else if (failing) {
      stats.matched++;
      if (opts.printAllMatched) stats.matchedLines.push(noLf(line));
    } else {
      stats.missed++;
      if (!opts.printNoMissed && (opts.printAllMissed || stats.missed <= maxPrint + 1)) {
        stats.missedLines.push(noLf(line));
      }
    }
  };
  const finish = () => {
    if (watch === null) return;
    watch.finish();
    stats.gaveUpUnexamined ||= watch.exhausted;
  };
  return { onLine, keepLf, finish };
}

/** The per-line log of `-l tracedebug` (each failure found) and `-l heavydebug` (each line too). */
function lineTrace(
  threshold: number,
  log: (level: number, name: string, message: string) => void,
): (line: string, r: LineResult) => void {
  return (line, r) => {
    const text = line.charCodeAt(line.length - 1) === 10 ? line.slice(0, -1) : line;
    if (threshold <= LEVEL.HEAVYDEBUG) {
      log(LEVEL.HEAVYDEBUG, "fail2ban.filter", `Working on line ${pyStr(text)}`);
      if (r.dateTemplate !== null) {
        log(LEVEL.HEAVYDEBUG, "fail2ban.filter", `  Date ${r.time} by template ${r.dateTemplate}`);
      }
    }
    if (r.ignored) {
      log(LEVEL.TRACEDEBUG, "fail2ban.filter", `  Line ignored by ignoreregex: ${pyStr(text)}`);
    }
    for (const f of r.failures) {
      const data = Object.entries(f.data).map(([k, v]) => `${pyStr(k)}: ${pyStr(v)}`).join(", ");
      log(
        LEVEL.TRACEDEBUG,
        "fail2ban.filter",
        `  Matched failregex ${f.regexIndex + 1}: id ${pyStr(f.fid)}, host ${
          f.host === null ? "None" : pyStr(f.host)
        }, time ${f.time}, data {${data}}`,
      );
    }
  };
}

/** Counts of no line yet. */
export function newStats(spec: FilterSpec): Stats {
  return {
    lines: 0,
    tested: 0,
    matched: 0,
    ignored: 0,
    missed: 0,
    matchedLines: [],
    ignoredLines: [],
    missedLines: [],
    failHits: spec.failregex.map(() => 0),
    failIps: spec.failregex.map(() => []),
    ignoreHits: spec.ignoreregex.map(() => 0),
    prefHits: 0,
    prefGroups: [],
    gaveUp: [],
    gaveUpUnexamined: false,
  };
}

/** The filter options of the regex command (the worker of a split read builds its filter with them too). */
export function regexFilterOptions(
  opts: RegexOptions,
  spec: FilterSpec,
  dateDetector: DateDetectorLike,
  useDns: string,
  summary: boolean,
): FilterOptions {
  return {
    dateDetector,
    useDns,
    checkAllRegex: opts.checkAll && summary,
    keepNoFail: true,
    // multi-line statistics move the lines a failure took from missed to matched
    failureData: !summary || spec.maxlines > 1,
  };
}

/** The worker of a split read, or null when none can start (then one thread reads it all). */
function startWorker(): RegexWorker | null {
  try {
    return new RegexWorker();
  } catch {
    return null;
  }
}

/**
 * The size of the log when it is a file large enough to split between two
 * threads (see regex_parallel.ts), else null.
 */
function splitSizeOf(opts: RegexOptions, tuning: SplitTuning): number | null {
  if (tuning.off) return null;
  try {
    if (Deno.env.get("F2B_REGEX_THREADS") === "1") return null;
  } catch {
    // no permission to read the environment: the default
  }
  if ((navigator.hardwareConcurrency ?? 1) < 2 || !splittableEncoding(opts.encoding)) return null;
  try {
    const st = Deno.statSync(opts.log);
    return st.isFile && st.size >= (tuning.minBytes ?? PARALLEL_MIN_BYTES) ? st.size : null;
  } catch {
    return null;
  }
}

/** What a split read needs to know besides the filter and the counts. */
interface SplitRead {
  opts: RegexOptions;
  spec: FilterSpec;
  detectorOptions: DateDetectorOptions;
  useDns: string;
  now: number;
  maxPrint: number;
  size: number;
}

/**
 * Reads a log file with the worker (see regex_parallel.ts): this thread
 * reads up to the first checkpoint whose filter state equals the worker's,
 * then adds the worker's counts from there. Returns the worker's date
 * template statistics at the end of the file, or null when this thread read
 * the whole file after all (the worker failed, or no state matched).
 */
async function readSplit(
  worker: RegexWorker,
  r: SplitRead,
  tuning: SplitTuning,
  filter: Filter,
  stats: Stats,
  onLine: (line: string, lineNo: number) => void | Promise<void>,
  keepLf: boolean,
): Promise<TemplateHits[] | null> {
  const { opts } = r;
  const plan = planSplit(
    opts.log,
    r.size,
    tuning.share,
    tuning.checkpointBytes,
    tuning.warmBytes,
  );
  worker.start({
    type: "start",
    opts,
    spec: r.spec,
    detector: r.detectorOptions,
    useDns: r.useDns,
    now: r.now,
    maxPrint: r.maxPrint,
    path: opts.log,
    warmStart: plan.warmStart,
    checkpoints: plan.checkpoints,
  });
  let from = 0;
  try {
    for (let i = 0; i < plan.checkpoints.length; i++) {
      const at = plan.checkpoints[i]!;
      await forEachFileLine(opts.log, opts.encoding, onLine, false, keepLf, {
        start: from,
        end: at,
      });
      from = at;
      const m = await worker.next();
      if (m.type !== "fingerprint" || m.index !== i) break;
      if (m.fingerprint !== filter.stateFingerprint()) continue;
      let done = await worker.next();
      while (done.type === "fingerprint") done = await worker.next(); // those of later checkpoints
      if (done.type !== "done") break;
      for (const s of done.segments.slice(i)) addStats(stats, s, r.maxPrint, opts);
      tuning.onSplit?.(i);
      return done.templateHits;
    }
  } finally {
    worker.close();
  }
  await forEachFileLine(opts.log, opts.encoding, onLine, false, keepLf, {
    start: from,
    end: Infinity,
  });
  tuning.onSplit?.(-1);
  return null;
}

/** True for a host name (not an address literal); cheap for the common IPv4 case. */
function isHostName(h: string): boolean {
  let dots = 0;
  let octet = 0;
  let len = 0;
  for (let i = 0; i < h.length; i++) {
    const c = h.charCodeAt(i);
    if (c === 58) return false; // ':' only appears in IPv6 addresses
    if (c === 46) {
      if (len === 0 || octet > 255) return isIP(h) === 0;
      dots++;
      octet = 0;
      len = 0;
    } else if (c >= 48 && c <= 57) {
      octet = octet * 10 + c - 48;
      len++;
    } else {
      return isIP(h) === 0;
    }
  }
  return dots === 3 && len > 0 && octet <= 255 ? false : isIP(h) === 0;
}

/** Passes dates through and remembers the last one (where the filter cut the line). */
export class DateSpy {
  last: DateMatch | null = null;
  readonly #dd: DateDetector;
  constructor(dd: DateDetector) {
    this.#dd = dd;
  }
  match(line: string, now: number): DateMatch | null {
    return this.last = this.#dd.match(line, now);
  }
}

function jsonRecord(f: FailureMatch, lineNo: number): string {
  const rec: Record<string, unknown> = { line: lineNo, fid: f.fid, host: f.host, time: f.time };
  for (const [k, v] of Object.entries(f.data)) {
    if (!(k in rec) && k !== "nofail" && k !== "mlfpending") rec[k] = v;
  }
  return JSON.stringify(rec);
}

function printStats(
  opts: RegexOptions,
  spec: FilterSpec,
  detector: { templateHits(): TemplateHits[] },
  stats: Stats,
  elapsed: number,
  maxPrint: number,
  useDns: string,
  out: Output,
): void {
  const emit = (s: string | null) => {
    if (s !== null) out.line(s);
  };
  out.line("");
  out.line("Results");
  out.line("=======");
  if (spec.prefregex !== null) {
    out.line(`\nPrefregex: ${stats.prefHits} total`);
    emit(pprintList([
      expandTags(spec.prefregex.pattern, useDns),
      ...stats.prefGroups.map((g) => `    ${g}`),
    ]));
  }
  const regexes = (
    title: string,
    patterns: string[],
    hits: number[],
    ips: FailureMatch[][] | null,
  ) => {
    let total = 0;
    const lines: string[] = [];
    patterns.forEach((p, i) => {
      const n = hits[i] ?? 0;
      total += n;
      if (n || opts.verbose) lines.push(`${pad(String(i + 1), 2)}) [${n}] ${p}`);
      if (opts.verbose && ips) {
        for (const f of ips[i] ?? []) {
          lines.push(`    ${f.fid || "None"}  ${strftimeLocal(f.time)}`);
        }
      }
    });
    out.line(`\n${title}: ${total} total`);
    emit(pprintList(lines, " #) [# of hits] regular expression"));
  };
  regexes("Failregex", spec.failregex.map((r) => r.pattern), stats.failHits, stats.failIps);
  regexes("Ignoreregex", spec.ignoreregex.map((r) => r.pattern), stats.ignoreHits, null);
  out.line("\nDate template hits:");
  const dates: string[] = [];
  for (const t of detector.templateHits()) {
    if (!opts.verbose && !t.hits) continue;
    dates.push(`[${t.hits}] ${t.name}`);
    if (opts.verboseDate) {
      dates.push(
        `    # weight: ${t.weight.toFixed(3)} (${t.baseWeight.toFixed(3)}), pattern: ${
          t.pattern ?? ""
        }`,
      );
      dates.push(`    # regex:   ${t.regex}`);
    }
  }
  emit(pprintList(dates, "[# of hits] date format"));
  out.line(
    `\nLines: ${stats.tested} lines, ${stats.ignored} ignored, ${stats.matched} matched, ${stats.missed} missed`,
  );
  out.line(`[processed in ${elapsed.toFixed(2)} sec]`);
  out.line("");
  const printLines = (
    kind: "matched" | "ignored" | "missed",
    count: number,
    lines: string[],
    all: boolean,
  ) => {
    if (!count) return;
    const header = `${kind[0]!.toUpperCase()}${kind.slice(1)} line(s):`;
    if ((count < maxPrint || all) && opts.debuggex) {
      const regexes = kind === "ignored" ? spec.ignoreregex : spec.failregex;
      const multi = spec.maxlines > 1;
      const rows = lines.flatMap((l) =>
        regexes.map((r) =>
          `${l} | ${r.pattern} |  ${debuggexUrl(l, r.pattern, multi, useDns, opts.encoding)}`
            .trimEnd()
        )
      );
      emit(pprintList(rows, header));
    } else if (count < maxPrint || all) emit(pprintList(lines.map((l) => l.trimEnd()), header));
    else {out.line(
        `${header} too many to print.  Use --print-all-${kind} to print all ${count} lines`,
      );}
  };
  if (opts.printAllMatched) printLines("matched", stats.matched, stats.matchedLines, true);
  if (!opts.printNoIgnored) {
    printLines("ignored", stats.ignored, stats.ignoredLines, opts.printAllIgnored);
  }
  if (!opts.printNoMissed) {
    printLines("missed", stats.missed, stats.missedLines, opts.printAllMissed);
  }
}
