/**
 * The systemd journal as a jail's log source (`backend = systemd`), read through a `journalctl`
 * subprocess that prints one JSON object per entry.
 *
 * This runs in the jail worker although it starts a process: reading the journal is reading a
 * log, like opening a file. `journalctl` is a fixed program with fixed options; the journal
 * matches passed to it are checked `FIELD=value` words given as separate arguments (no shell),
 * and it runs no action. Workers still never run action commands or touch the database.
 *
 * @module
 */

import { pythonGlob } from "../util/python_glob.ts";
import { parseReference } from "../config/reference.ts";
import type { LogLevel, LogPosition } from "../ipc/messages.ts";
import type { Clock } from "../util/clock.ts";
import { journalMatchArgs, type JournalMatchGroups } from "./journal_match.ts";
import { encodingLabel } from "./line_decoder.ts";

/** Where a {@link JournalSource} delivers entries, cursors and problems. */
export interface JournalSink {
  /**
   * One journal entry formatted as fail2ban formats it for filters (`host ident[pid]: message`),
   * with its time in epoch seconds. `live` is false while the backlog is read (each start of
   * `journalctl` first reads up to the journal's end), true for entries written since.
   * `cursor` is the entry's `__CURSOR` ("" when it has none).
   */
  entry(line: string, time: number, live: boolean, cursor: string): void;
  /** The cursor of the last entry handed over, after each chunk of output was processed. */
  cursor(cursor: string): void;
  /** A message for the daemon's log. */
  log(level: LogLevel, message: string): void;
}

/** The journal options of `backend = systemd[…]`, fail2ban's names. */
export interface JournalBackendOptions {
  /** `journalflags`: sd_journal open flags (1 local only, 4 system, 8 current user). */
  journalflags: number | null;
  /** `journalfiles`: journal files (globs; separated by spaces, commas or new lines). */
  journalfiles: string[];
  /** `journalpath`: a directory of journal files. */
  journalpath: string | null;
  /** `namespace`: a journal namespace. */
  namespace: string | null;
}

/** Options of a {@link JournalSource}. */
export interface JournalSourceOptions {
  /** The jail's `backend` value: `systemd` or `systemd[journalflags=…, journalfiles=…]`. */
  backend: string;
  /** Parsed `journalmatch` groups (see journal_match.ts). */
  matches: JournalMatchGroups;
  /** `findtime` in seconds: without a usable cursor, reading starts at now - findtime. */
  findtime: number;
  /** Source of "now". */
  clock: Clock;
  /** Cursor to resume after (from the database), or null. */
  cursor?: string | null;
  /** Skip the first entry read (it hung the previous worker). @default false */
  skipFirst?: boolean;
  /** `logencoding`, for fields that are not valid UTF-8. @default "auto" */
  encoding?: string;
  /** The `journalctl` program. @default "journalctl" */
  journalctl?: string;
  /** Entries whose JSON is longer than this many bytes are dropped. @default 1048576 */
  maxEntryBytes?: number;
  /** Formatted lines longer than this many characters are dropped (as the tailer does). @default 65536 */
  maxLineChars?: number;
  /** First delay in milliseconds before restarting a `journalctl` that died, doubled each time. @default 1000 */
  restartDelay?: number;
  /** Longest restart delay in milliseconds. @default 30000 */
  maxRestartDelay?: number;
  /** Default `journalflags` when neither flags, files nor a path are given. @default F2B_SYSTEMD_DEFAULT_FLAGS or 4 */
  defaultFlags?: number;
}

/** Fields asked of journalctl (it always adds `__CURSOR`, `__REALTIME_TIMESTAMP`, …). */
const OUTPUT_FIELDS = [
  "_HOSTNAME",
  "SYSLOG_IDENTIFIER",
  "_COMM",
  "SYSLOG_PID",
  "_PID",
  "MESSAGE",
  "_SOURCE_REALTIME_TIMESTAMP",
  "_SOURCE_MONOTONIC_TIMESTAMP",
].join(",");

const SD_JOURNAL_LOCAL_ONLY = 1;
const SD_JOURNAL_RUNTIME_ONLY = 2;
const SD_JOURNAL_SYSTEM = 4;
const SD_JOURNAL_CURRENT_USER = 8;
const STDERR_KEEP = 2048;
const NL = 0x0a;

/**
 * Reads `backend = systemd[…]` options. Unknown options are returned in `unknown` (fail2ban
 * passes them on to the filter, where they are not used).
 *
 * @throws {SyntaxError} when the backend is not `systemd` or an option is malformed.
 */
export function parseJournalBackend(
  backend: string,
): JournalBackendOptions & { unknown: string[] } {
  const ref = parseReference(backend.trim());
  if (ref.name.trim().toLowerCase() !== "systemd") {
    throw new SyntaxError(`Backend ${JSON.stringify(backend)} is not "systemd"`);
  }
  const out: JournalBackendOptions & { unknown: string[] } = {
    journalflags: null,
    journalfiles: [],
    journalpath: null,
    namespace: null,
    unknown: [],
  };
  for (const [key, value] of Object.entries(ref.options)) {
    switch (key) {
      case "journalflags": {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0 || value.trim() === "") {
          throw new SyntaxError(
            `Backend ${JSON.stringify(backend)}: journalflags ${JSON.stringify(value)} ` +
              "is not an integer",
          );
        }
        out.journalflags = n;
        break;
      }
      case "journalfiles":
        out.journalfiles = value.split(/[ ,\n]+/).map((s) => s.trim()).filter((s) => s !== "");
        break;
      case "journalpath":
        out.journalpath = value === "" ? null : value;
        break;
      case "namespace":
        out.namespace = value === "" ? null : value;
        break;
      default:
        out.unknown.push(key);
    }
  }
  return out;
}

/** True when a `backend` value selects the journal. */
export function isJournalBackend(backend: string): boolean {
  return /^\s*systemd\s*(?:\[|$)/i.test(backend);
}

/**
 * The journal's open options as `journalctl` arguments. `journalfiles` globs are expanded now;
 * an empty list means none matched.
 */
export function journalSourceArgs(
  options: JournalBackendOptions,
  defaultFlags: number,
  warn: (message: string) => void,
): string[] {
  const args: string[] = [];
  if (options.journalfiles.length > 0) {
    const files = new Set<string>();
    for (const pattern of options.journalfiles) {
      if (!/[*?[]/.test(pattern)) {
        files.add(pattern);
        continue;
      }
      for (const f of pythonGlob(pattern)) files.add(f);
    }
    if (files.size === 0) return [];
    for (const f of [...files].sort()) args.push(`--file=${f}`);
  }
  if (options.journalpath !== null) args.push(`--directory=${options.journalpath}`);
  let flags = options.journalflags;
  // As fail2ban: the default flags apply only when no files or directory are named.
  if (flags === null && args.length === 0) flags = defaultFlags;
  if (flags !== null) {
    if ((flags & SD_JOURNAL_LOCAL_ONLY) === 0 && args.length === 0) args.push("--merge");
    if (flags & SD_JOURNAL_SYSTEM) args.push("--system");
    if (flags & SD_JOURNAL_CURRENT_USER) args.push("--user");
    const unsupported = flags &
      ~(SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM | SD_JOURNAL_CURRENT_USER);
    if (unsupported) {
      warn(
        `journalflags ${flags}: flag(s) ${unsupported}` +
          `${unsupported & SD_JOURNAL_RUNTIME_ONLY ? " (runtime only)" : ""} ` +
          "cannot be passed to journalctl and are ignored",
      );
    }
  }
  if (options.namespace !== null) args.push(`--namespace=${options.namespace}`);
  return args;
}

/** A JSON field value as journalctl prints it. */
/** A field of `journalctl -o json` output: text, bytes, several values of either, or null. */
export type JsonField = string | number[] | (string | number[])[] | null | undefined;

/** Decodes journal field values: strings as they are, byte arrays with `logencoding`. */
export class FieldDecoder {
  readonly #decoder: TextDecoder;

  /** Creates a decoder for `logencoding` (`auto` is UTF-8); unknown encodings fall back to UTF-8. */
  constructor(encoding = "auto") {
    let d: TextDecoder;
    try {
      d = new TextDecoder(encodingLabel(encoding), { fatal: false, ignoreBOM: true });
    } catch {
      d = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
    }
    this.#decoder = d;
  }

  /** The text of a field: several values are joined with a space (fail2ban's way); null is "". */
  text(v: JsonField): string {
    if (v === null || v === undefined) return "";
    if (typeof v === "string") return v;
    if (v.length === 0) return "";
    if (typeof v[0] === "number") return this.#bytes(v as number[]);
    let out = "";
    for (let i = 0; i < v.length; i++) {
      const x = v[i] as string | number[] | null;
      if (i > 0) out += " ";
      out += typeof x === "string" ? x : x === null ? "" : this.#bytes(x);
    }
    return out;
  }

  #bytes(v: number[]): string {
    const b = new Uint8Array(v.length);
    for (let i = 0; i < v.length; i++) b[i] = v[i]! & 0xff;
    return this.#decoder.decode(b);
  }
}

/** A formatted journal entry. */
export interface JournalLine {
  /** `[host] ident[pid]: message`, new lines written as `\n`. */
  line: string;
  /** Epoch seconds: `_SOURCE_REALTIME_TIMESTAMP`, else `__REALTIME_TIMESTAMP`. */
  time: number;
  /** `__CURSOR`, or "". */
  cursor: string;
}

/**
 * Formats one entry (journalctl's JSON object) as fail2ban hands journal entries to filters:
 * `HOSTNAME IDENT[PID]: MESSAGE`, with `_COMM` when there is no `SYSLOG_IDENTIFIER`, `_PID` when
 * there is no `SYSLOG_PID`, and a `[seconds]` monotonic stamp after `kernel:`. Returns null for
 * an entry without a usable timestamp.
 *
 * @example
 * ```ts
 * import { FieldDecoder, formatJournalEntry } from "./journal_source.ts";
 * const e = formatJournalEntry({
 *   __REALTIME_TIMESTAMP: "1700000000000000", _HOSTNAME: "h", SYSLOG_IDENTIFIER: "sshd",
 *   _PID: "42", MESSAGE: "Failed password", __CURSOR: "c",
 * }, new FieldDecoder());
 * console.assert(e?.line === "h sshd[42]: Failed password" && e.time === 1_700_000_000);
 * ```
 */
export function formatJournalEntry(
  entry: Record<string, unknown>,
  fields: FieldDecoder,
): JournalLine | null {
  const usec = usecField(entry._SOURCE_REALTIME_TIMESTAMP) ??
    usecField(entry.__REALTIME_TIMESTAMP);
  if (usec === null) return null;
  let line = "";
  const host = fields.text(entry._HOSTNAME as JsonField);
  if (host !== "") line = host;
  let ident = fields.text(entry.SYSLOG_IDENTIFIER as JsonField);
  if (ident === "") ident = fields.text(entry._COMM as JsonField);
  if (ident !== "") {
    let pid = fields.text(entry.SYSLOG_PID as JsonField);
    if (pid === "") pid = fields.text(entry._PID as JsonField);
    if (pid !== "") ident += `[${pythonInt(pid) ?? pid}]`;
    ident += ":";
    line = line === "" ? ident : `${line} ${ident}`;
    if (ident === "kernel:") {
      const mono = usecField(entry._SOURCE_MONOTONIC_TIMESTAMP) ??
        usecField(entry.__MONOTONIC_TIMESTAMP) ?? 0;
      line += ` [${formatSeconds(mono).padStart(12)}]`;
    }
  }
  const message = fields.text(entry.MESSAGE as JsonField);
  line = line === "" ? message : `${line} ${message}`;
  if (line.includes("\n")) line = line.replaceAll("\n", "\\n");
  const cursor = typeof entry.__CURSOR === "string" ? entry.__CURSOR : "";
  return { line, time: usec / 1e6, cursor };
}

/** A microsecond timestamp field (a decimal string), or null. */
function usecField(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v !== "string" || !/^\d{1,17}$/.test(v)) return null;
  return Number(v);
}

/** `%.6f` of microseconds, exactly. */
function formatSeconds(usec: number): string {
  const s = Math.floor(usec / 1e6);
  return `${s}.${String(usec - s * 1e6).padStart(6, "0")}`;
}

/** The PID as Python's int() reads it (decimal, then 0x/0o/0b literals), or null. */
function pythonInt(text: string): string | null {
  const t = text.trim();
  const m = /^([+-]?)(\d+(?:_\d+)*)$/.exec(t) ??
    /^([+-]?)(0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+)$/.exec(t);
  if (!m) return null;
  const n = BigInt(m[2]!.replaceAll("_", ""));
  return (m[1] === "-" ? -n : n).toString();
}

/** The realtime stamp (`t=`, hex microseconds) inside a journal cursor, or null. */
export function cursorTime(cursor: string): number | null {
  const m = /(?:^|;)t=([0-9a-fA-F]{1,16})(?:;|$)/.exec(cursor);
  return m ? Number.parseInt(m[1]!, 16) / 1e6 : null;
}

/**
 * Follows the journal through `journalctl --output=json`.
 *
 * Each run first reads the backlog with a `journalctl` that stops at the journal's end (entries
 * are not live), then follows with `journalctl --follow` after the last cursor (entries are
 * live). A run starts after the saved cursor, or at now - findtime when there is none or it is
 * older than that. A `journalctl` that exits or cannot start is restarted after a delay that
 * doubles up to a limit, resuming after the last entry handed over, so nothing is missed or
 * read twice. A cursor that `journalctl` rejects is dropped (logged) and reading starts at
 * now - findtime.
 */
export class JournalSource {
  #o: JournalSourceOptions;
  readonly #sink: JournalSink;
  #fields: FieldDecoder;
  #cursor: string | null;
  #skip: boolean;
  #running = false;
  #child: Deno.ChildProcess | null = null;
  #restartNow = false;
  #wake: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  #started: PromiseWithResolvers<void> | null = null;
  #warned = new Set<string>();
  #stderr = "";
  /** Times a `journalctl` was started, for tests and diagnostics. */
  spawns = 0;

  /** Creates a source; nothing runs before {@link start}. */
  constructor(options: JournalSourceOptions, sink: JournalSink) {
    this.#o = options;
    this.#sink = sink;
    this.#fields = new FieldDecoder(options.encoding);
    this.#cursor = options.cursor ?? null;
    this.#skip = options.skipFirst ?? false;
    // Fails early on bad backend options.
    parseJournalBackend(options.backend);
  }

  /** Log files followed: none (the journal is not a file list). */
  get files(): string[] {
    return [];
  }

  /** The cursor of the last entry handed over, or the one started from. */
  get cursor(): string | null {
    return this.#cursor;
  }

  /** Process id of the running `journalctl`, or null. */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** Journal sources have no file positions. */
  positions(): LogPosition[] {
    return [];
  }

  /** Starts reading; resolves when the first backlog read has ended (or failed). */
  start(): Promise<void> {
    if (this.#running) return Promise.resolve();
    this.#running = true;
    this.#started = Promise.withResolvers<void>();
    this.#loop = this.#run();
    return this.#started.promise;
  }

  /** Applies new options; a change of matches or journal options restarts `journalctl` now. */
  update(options: JournalSourceOptions): Promise<void> {
    parseJournalBackend(options.backend);
    const old = this.#o;
    this.#o = { ...options, cursor: this.#cursor, skipFirst: false };
    this.#fields = new FieldDecoder(options.encoding);
    const changed = old.backend !== options.backend ||
      JSON.stringify(old.matches) !== JSON.stringify(options.matches) ||
      old.journalctl !== options.journalctl;
    if (changed && this.#running) {
      this.#restartNow = true;
      this.#kill();
      this.#wake?.();
    }
    return Promise.resolve();
  }

  /** Stops reading and waits for `journalctl` to exit. Returns no positions (see {@link cursor}). */
  async stop(): Promise<LogPosition[]> {
    this.#running = false;
    this.#kill();
    this.#wake?.();
    await this.#loop;
    return [];
  }

  async #run(): Promise<void> {
    let delay = this.#o.restartDelay ?? 1000;
    while (this.#running) {
      this.#restartNow = false;
      const began = performance.now();
      const from = this.#cursor;
      const start = this.#startArg(from);
      const backlog = await this.#once(false, start);
      this.#started?.resolve();
      let result = backlog;
      if (this.#running && backlog.ok && !this.#restartNow) {
        // After the last entry read; the same start when the backlog had none.
        const next = this.#cursor !== null && this.#cursor !== from
          ? `--after-cursor=${this.#cursor}`
          : start;
        result = await this.#once(true, next);
      }
      if (!this.#running) break;
      if (this.#restartNow) continue;
      const max = this.#o.maxRestartDelay ?? 30_000;
      if (performance.now() - began > max || result.entries > 0) {
        delay = this.#o.restartDelay ?? 1000;
      }
      this.#sink.log(
        "ERROR",
        `${result.what}; restarting journalctl in ${(delay / 1000).toFixed(1)} s`,
      );
      await this.#sleep(delay);
      delay = Math.min(delay * 2, max);
    }
    this.#started?.resolve();
  }

  /** Where a run starts: after the cursor, unless it is older than now - findtime. */
  #startArg(cursor: string | null): string {
    const since = this.#o.clock.now() - this.#o.findtime;
    const ct = cursor === null ? null : cursorTime(cursor);
    if (cursor !== null && (ct === null || ct >= since)) return `--after-cursor=${cursor}`;
    return `--since=@${since.toFixed(6)}`;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(t);
        this.#wake = null;
        resolve();
      };
    });
  }

  #kill(): void {
    try {
      this.#child?.kill("SIGTERM");
    } catch {
      // Already exited.
    }
  }

  /** The full journalctl argument list for one run, or a reason it cannot run. */
  #args(follow: boolean, start: string): string[] | string {
    const o = this.#o;
    const backend = parseJournalBackend(o.backend);
    const defaultFlags = o.defaultFlags ?? envDefaultFlags();
    const source = journalSourceArgs(
      backend,
      defaultFlags,
      (m) => this.#warnOnce(`flags:${m}`, "WARNING", m),
    );
    if (backend.journalfiles.length > 0 && !source.some((a) => a.startsWith("--file="))) {
      return `No journal file matches journalfiles ${
        JSON.stringify(backend.journalfiles.join(" "))
      }`;
    }
    const args = [
      "--output=json",
      "--all",
      "--quiet",
      "--no-pager",
      `--output-fields=${OUTPUT_FIELDS}`,
    ];
    if (follow) args.push("--follow", "--no-tail");
    args.push(...source, start);
    const matches = journalMatchArgs(o.matches);
    if (matches.length > 0) args.push("--", ...matches);
    return args;
  }

  /** Runs journalctl once (backlog or follow); reads its output until it exits or is killed. */
  async #once(
    follow: boolean,
    start: string,
  ): Promise<{ ok: boolean; entries: number; what: string }> {
    const args = this.#args(follow, start);
    if (typeof args === "string") return { ok: false, entries: 0, what: args };
    const program = this.#o.journalctl ?? "journalctl";
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(program, {
        args,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        clearEnv: false,
        env: { SYSTEMD_COLORS: "0" },
      }).spawn();
    } catch (e) {
      return { ok: false, entries: 0, what: `Cannot run "${program}": ${errText(e)}` };
    }
    this.spawns++;
    this.#child = child;
    this.#stderr = "";
    const usedCursor = start.startsWith("--after-cursor=");
    const errDone = this.#drainStderr(child.stderr);
    let entries = 0;
    try {
      entries = await this.#readEntries(child.stdout, follow);
    } catch (e) {
      this.#sink.log("ERROR", `Error reading journalctl output: ${errText(e)}`);
    }
    if (!this.#running || this.#restartNow) this.#kill();
    const status = await child.status;
    await errDone;
    this.#child = null;
    if (!this.#running) return { ok: true, entries, what: "" };
    const err = this.#stderr.trim().replace(/\s+/g, " ");
    if (status.success && !follow) return { ok: true, entries, what: "" };
    if (usedCursor && !status.success && /cursor/i.test(err)) {
      this.#sink.log(
        "WARNING",
        `journalctl rejected the saved cursor (${err}); reading from now - findtime instead`,
      );
      this.#cursor = null;
    }
    const how = status.signal ? `signal ${status.signal}` : `code ${status.code}`;
    return {
      ok: false,
      entries,
      what: `journalctl${follow ? " --follow" : ""} exited (${how})${err ? `: ${err}` : ""}`,
    };
  }

  async #drainStderr(stream: ReadableStream<Uint8Array>): Promise<void> {
    const dec = new TextDecoder();
    try {
      for await (const chunk of stream) {
        this.#stderr = (this.#stderr + dec.decode(chunk, { stream: true })).slice(-STDERR_KEEP);
      }
    } catch {
      // The process is gone.
    }
  }

  /** Splits stdout into lines, hands each entry to the sink; returns the number of entries. */
  async #readEntries(stream: ReadableStream<Uint8Array>, live: boolean): Promise<number> {
    const max = this.#o.maxEntryBytes ?? 1024 * 1024;
    const utf8 = new TextDecoder("utf-8", { fatal: false });
    let pending: Uint8Array | null = null;
    let discarding = false;
    let entries = 0;
    const reader = stream.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (!this.#running || this.#restartNow) break;
        let chunk: Uint8Array = value;
        let start = 0;
        const before = this.#cursor;
        for (;;) {
          const nl = chunk.indexOf(NL, start);
          if (nl < 0) break;
          if (discarding) {
            discarding = false;
          } else if (pending !== null) {
            const len: number = pending.length + nl - start;
            if (len > max) this.#tooBig(len);
            else {
              const joined: Uint8Array = new Uint8Array(len);
              joined.set(pending);
              joined.set(chunk.subarray(start, nl), pending.length);
              if (this.#handle(utf8.decode(joined), live)) entries++;
            }
          } else if (nl - start > max) this.#tooBig(nl - start);
          else if (nl > start && this.#handle(utf8.decode(chunk.subarray(start, nl)), live)) {
            entries++;
          }
          pending = null;
          start = nl + 1;
          if (!this.#running || this.#restartNow) break;
        }
        if (start < chunk.length && !discarding) {
          chunk = chunk.subarray(start);
          const len = (pending?.length ?? 0) + chunk.length;
          if (len > max) {
            this.#tooBig(len);
            pending = null;
            discarding = true;
          } else if (pending === null) pending = chunk.slice();
          else {
            const joined: Uint8Array = new Uint8Array(len);
            joined.set(pending);
            joined.set(chunk, pending.length);
            pending = joined;
          }
        }
        if (this.#cursor !== null && this.#cursor !== before) this.#sink.cursor(this.#cursor);
      }
    } finally {
      reader.releaseLock();
      stream.cancel().catch(() => {});
    }
    if (pending !== null && pending.length > 0 && this.#running) {
      this.#warnOnce(
        "partial",
        "WARNING",
        "journalctl ended in the middle of an entry; dropped it",
      );
    }
    return entries;
  }

  #tooBig(bytes: number): void {
    this.#warnOnce(
      "big",
      "WARNING",
      `Dropped a journal entry of ${bytes} bytes of JSON (more than ${
        this.#o.maxEntryBytes ?? 1024 * 1024
      }); further ones are not logged`,
    );
  }

  /** Parses and hands over one JSON line; true when it was an entry. */
  #handle(text: string, live: boolean): boolean {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      this.#warnOnce("json", "WARNING", `Unreadable journalctl output line: ${text.slice(0, 200)}`);
      return false;
    }
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return false;
    const e = formatJournalEntry(obj as Record<string, unknown>, this.#fields);
    if (e === null) {
      this.#warnOnce("time", "WARNING", "Dropped a journal entry without a timestamp");
      return false;
    }
    if (e.cursor !== "") this.#cursor = e.cursor;
    if (this.#skip) {
      this.#skip = false;
      this.#sink.log("WARNING", `Skipped the journal entry that hung the worker: ${e.cursor}`);
      return true;
    }
    if (e.line.length > (this.#o.maxLineChars ?? 65536)) {
      this.#warnOnce(
        "long",
        "WARNING",
        `Dropped a journal entry of ${e.line.length} characters; further ones are not logged`,
      );
      return true;
    }
    this.#sink.entry(e.line, e.time, live, e.cursor);
    return true;
  }

  #warnOnce(key: string, level: LogLevel, message: string): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#sink.log(level, message);
  }
}

function envDefaultFlags(): number {
  try {
    const v = Deno.env.get("F2B_SYSTEMD_DEFAULT_FLAGS");
    if (v !== undefined && /^\d+$/.test(v.trim())) return Number(v.trim());
  } catch {
    // No env permission: fail2ban's default.
  }
  return SD_JOURNAL_SYSTEM;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * A journal entry's time as fail2ban shows it before the line in matches: local
 * `YYYY-MM-DDTHH:MM:SS[.ffffff]±HH:MM` (Python's `datetime.isoformat` of an aware datetime).
 */
export function journalTimeText(time: number): string {
  let sec = Math.floor(time);
  let usec = Math.round((time - sec) * 1e6);
  if (usec >= 1e6) {
    sec++;
    usec -= 1e6;
  }
  const d = new Date(sec * 1000);
  const p2 = (n: number) => String(n).padStart(2, "0");
  let text = `${String(d.getFullYear()).padStart(4, "0")}-${p2(d.getMonth() + 1)}-${
    p2(d.getDate())
  }T${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
  if (usec !== 0) text += `.${String(usec).padStart(6, "0")}`;
  const off = -d.getTimezoneOffset();
  const a = Math.abs(off);
  return `${text}${off < 0 ? "-" : "+"}${p2(Math.floor(a / 60))}:${p2(a % 60)}`;
}
