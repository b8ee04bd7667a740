/**
 * The daemon's logger: fail2ban's levels, log targets and line format.
 *
 * Targets, as `logtarget` in fail2ban.conf:
 * - a file path: opened for appending, created with mode 0600;
 *   {@link DaemonLogger.reopen} reopens it after rotation (`flushlogs`);
 * - `STDOUT`, `STDERR`;
 * - `SYSOUT`: standard output without the time stamp (for systemd units);
 * - `SYSLOG`: datagrams to the syslog socket (`syslogsocket`, `auto` meaning
 *   /dev/log), facility `daemon` unless `SYSLOG[facility=AUTH]`;
 * - `SYSTEMD-JOURNAL`: journald's native protocol on
 *   /run/systemd/journal/socket.
 *
 * Lines look like fail2ban's:
 * `2026-11-25 15:00:00,123 fail2ban.actions        [4242]: NOTICE  [sshd] Ban 192.0.2.1`.
 * Control characters in messages (newlines above all) are escaped, so text
 * copied from an attacker's log line cannot forge extra log lines.
 *
 * A target that cannot be written is never fatal: the logger writes one error
 * line and goes on on standard error.
 *
 * @module
 */

import type { LogLevel } from "../ipc/messages.ts";
import type { Clock } from "../util/clock.ts";
import { SYSTEM_CLOCK } from "../util/clock.ts";
import type { Logger } from "./types.ts";
import { UnixDatagramSender } from "./unix_datagram.ts";

/** Numeric values of fail2ban's level names (Python logging's, plus fail2ban's own). */
export const LOG_LEVELS: Readonly<Record<string, number>> = {
  CRITICAL: 50,
  FATAL: 50,
  ERROR: 40,
  WARNING: 30,
  WARN: 30,
  NOTICE: 25,
  INFO: 20,
  MSG: 18,
  DEBUG: 10,
  TRACEDEBUG: 7,
  HEAVYDEBUG: 5,
  NOTSET: 0,
};

const RECORD_LEVELS: Record<LogLevel, number> = {
  CRITICAL: 50,
  ERROR: 40,
  WARNING: 30,
  NOTICE: 25,
  INFO: 20,
  DEBUG: 10,
};

/** syslog severities (RFC 5424) of the record levels. */
const SYSLOG_SEVERITY: Record<LogLevel, number> = {
  CRITICAL: 2,
  ERROR: 3,
  WARNING: 4,
  NOTICE: 5,
  INFO: 6,
  DEBUG: 7,
};

/** syslog facility codes by name, as `SYSLOG[facility=…]` takes them. */
const SYSLOG_FACILITIES: Readonly<Record<string, number>> = {
  KERN: 0,
  USER: 1,
  MAIL: 2,
  DAEMON: 3,
  AUTH: 4,
  SYSLOG: 5,
  LPR: 6,
  NEWS: 7,
  UUCP: 8,
  CRON: 9,
  AUTHPRIV: 10,
  FTP: 11,
  LOCAL0: 16,
  LOCAL1: 17,
  LOCAL2: 18,
  LOCAL3: 19,
  LOCAL4: 20,
  LOCAL5: 21,
  LOCAL6: 22,
  LOCAL7: 23,
};

/** Where `syslogsocket = auto` points, per OS. */
const AUTO_SYSLOG_SOCKET: Record<string, string> = {
  linux: "/dev/log",
  darwin: "/var/run/syslog",
  freebsd: "/var/run/log",
};

const JOURNAL_SOCKET = "/run/systemd/journal/socket";

/** Component name used when a record comes without one. */
const ROOT_COMPONENT = "fail2ban";

/**
 * Parses a log level as fail2ban accepts it: a name (case-insensitive,
 * `CRITICAL` … `DEBUG`, `TRACEDEBUG`, `HEAVYDEBUG`, `MSG`, `NOTSET`) or a
 * number. Throws a `RangeError` for anything else.
 *
 * @example
 * ```ts
 * import { parseLogLevel } from "./logger.ts";
 * if (parseLogLevel("notice") !== 25) throw new Error();
 * if (parseLogLevel("7") !== 7) throw new Error();
 * ```
 */
export function parseLogLevel(level: string | number): number {
  if (typeof level === "number") {
    if (Number.isInteger(level) && level >= 0) return level;
    throw new RangeError(`Invalid log level "${level}"`);
  }
  const text = level.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const value = LOG_LEVELS[text.toUpperCase()];
  if (value === undefined) {
    throw new RangeError(
      `Invalid log level "${level}": expected CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG, TRACEDEBUG, HEAVYDEBUG or a number`,
    );
  }
  return value;
}

// C0 controls except tab, DEL, C1 NEL, and the Unicode line/paragraph separators.
// deno-lint-ignore no-control-regex
const UNSAFE_CHARS = /[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]/;
// deno-lint-ignore no-control-regex
const UNSAFE_CHARS_G = /[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]/g;

function escapeChar(c: string): string {
  switch (c) {
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    default: {
      const code = c.charCodeAt(0);
      return code > 0xff
        ? `\\u${code.toString(16).padStart(4, "0")}`
        : `\\x${code.toString(16).padStart(2, "0")}`;
    }
  }
}

/**
 * Escapes characters that could end or disguise a log line (newlines, other
 * control characters), so one record is always one line.
 *
 * @example
 * ```ts
 * import { escapeLogText } from "./logger.ts";
 * if (escapeLogText("a\nb") !== "a\\nb") throw new Error();
 * ```
 */
export function escapeLogText(text: string): string {
  return UNSAFE_CHARS.test(text) ? text.replace(UNSAFE_CHARS_G, escapeChar) : text;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/** Formats epoch seconds as fail2ban's `asctime`: local `YYYY-MM-DD HH:MM:SS,mmm`. */
export function formatLogTime(epochSeconds: number): string {
  const d = new Date(Math.floor(epochSeconds * 1000));
  const ms = d.getMilliseconds();
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${
    pad2(d.getMinutes())
  }:${pad2(d.getSeconds())},${ms < 10 ? "00" : ms < 100 ? "0" : ""}${ms}`;
}

/** Splits `NAME[key=value, key2="v"]` into the name and its options, as fail2ban's logtarget allows. */
export function splitTargetOptions(
  target: string,
): { name: string; options: Record<string, string> } {
  const m = /^([^\[]+)\[(.*)\]\s*$/s.exec(target.trim());
  if (!m) return { name: target.trim(), options: {} };
  const options: Record<string, string> = {};
  for (const part of m[2]!.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    let value = part.slice(eq + 1).trim();
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1);
    options[part.slice(0, eq).trim().toLowerCase()] = value;
  }
  return { name: m[1]!.trim(), options };
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** `logtarget`: a file path, `STDOUT`, `STDERR`, `SYSOUT`, `SYSLOG` or `SYSTEMD-JOURNAL`. */
  target: string;
  /** `loglevel`: a level name or number. Throws a `RangeError` when invalid. */
  level: string;
  /** `syslogsocket`: a socket path or `auto`. @default "auto" */
  syslogSocket?: string;
  /** Clock for the time stamps. @default SYSTEM_CLOCK */
  clock?: Clock;
  /** Process id shown in the lines. @default Deno.pid */
  pid?: number;
}

/** The daemon's logger: a {@link Logger} whose level and target change at run time. */
export interface DaemonLogger extends Logger {
  /** The level as set (upper case name or number text), as `get loglevel` reports it. */
  readonly level: string;
  /** The target as set, as `get logtarget` reports it. */
  readonly target: string;
  /** The syslog socket as set (`auto` or a path). */
  readonly syslogSocket: string;
  /** Logs `message` at `level` under a component name: `fail2ban.<component>`. */
  logAs(component: string, level: LogLevel, message: string): void;
  /** Logs each of `messages` at `level` under a component name, in order, with one write. */
  logManyAs(component: string, level: LogLevel, messages: readonly string[]): void;
  /** Logs each of `messages` at `level`, in order, with one write. */
  logMany(level: LogLevel, messages: readonly string[]): void;
  /** A {@link Logger} that logs under `fail2ban.<component>` (`actions`, `filter`, `server`, …). */
  child(component: string): Logger;
  /** Whether a record at `level` would be written. */
  isEnabled(level: LogLevel): boolean;
  /** Changes the level; throws a `RangeError` for an invalid level. */
  setLevel(level: string): void;
  /**
   * Changes the target. Throws (and keeps the previous target) when the new
   * one cannot be opened, as `set logtarget` fails in fail2ban.
   */
  setTarget(target: string): void;
  /** Changes the syslog socket; reopens the target when it is SYSLOG. Throws like {@link setTarget}. */
  setSyslogSocket(path: string): void;
  /**
   * Reopens a file target (after logrotate moved it) and returns
   * `"rolled over"`; for the other targets only flushes and returns
   * `"flushed"`, as fail2ban's `flushlogs` answers.
   */
  reopen(): string;
  /** Closes the target; later records go to standard error. */
  close(): void;
}

/** Where formatted records go. */
interface Sink {
  /** Whether lines carry the time stamp. */
  readonly withTime: boolean;
  /** Whether name and level are padded to columns. */
  readonly padding: boolean;
  /** Writes one record; throws on failure. */
  write(line: string, level: LogLevel): void;
  /** Writes several records of one level with one write, when the target allows it; throws on failure. */
  writeMany?(lines: readonly string[], level: LogLevel): void;
  close(): void;
}

const encoder = new TextEncoder();

function writeAllSync(w: { writeSync(p: Uint8Array): number }, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += w.writeSync(data.subarray(off));
}

class StreamSink implements Sink {
  readonly withTime: boolean;
  readonly padding = true;
  readonly #stream: { writeSync(p: Uint8Array): number };
  constructor(stream: { writeSync(p: Uint8Array): number }, withTime: boolean) {
    this.#stream = stream;
    this.withTime = withTime;
  }
  write(line: string): void {
    writeAllSync(this.#stream, encoder.encode(line + "\n"));
  }
  writeMany(lines: readonly string[]): void {
    writeAllSync(this.#stream, encoder.encode(lines.join("\n") + "\n"));
  }
  close(): void {}
}

class FileSink implements Sink {
  readonly withTime = true;
  readonly padding = true;
  readonly #path: string;
  #file: Deno.FsFile;
  constructor(path: string) {
    this.#path = path;
    this.#file = FileSink.#open(path);
  }
  static #open(path: string): Deno.FsFile {
    try {
      return Deno.openSync(path, { append: true, create: true, mode: 0o600 });
    } catch (e) {
      throw new Error(`Unable to log to "${path}": ${e instanceof Error ? e.message : e}`);
    }
  }
  write(line: string): void {
    writeAllSync(this.#file, encoder.encode(line + "\n"));
  }
  writeMany(lines: readonly string[]): void {
    writeAllSync(this.#file, encoder.encode(lines.join("\n") + "\n"));
  }
  reopen(): void {
    const next = FileSink.#open(this.#path);
    this.#file.close();
    this.#file = next;
  }
  close(): void {
    try {
      this.#file.close();
    } catch {
      // already closed
    }
  }
}

class DatagramSink implements Sink {
  readonly withTime: boolean;
  readonly padding: boolean;
  readonly #sender: UnixDatagramSender;
  readonly #encode: (line: string, level: LogLevel) => string;
  constructor(
    path: string,
    withTime: boolean,
    padding: boolean,
    encode: (line: string, level: LogLevel) => string,
  ) {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(path);
    } catch {
      throw new Error(`Syslog socket file: ${path} does not exist or is not a socket`);
    }
    if (!info.isSocket) {
      throw new Error(`Syslog socket file: ${path} does not exist or is not a socket`);
    }
    this.#sender = new UnixDatagramSender(path);
    this.withTime = withTime;
    this.padding = padding;
    this.#encode = encode;
  }
  write(line: string, level: LogLevel): void {
    this.#sender.send(encoder.encode(this.#encode(line, level)));
  }
  close(): void {
    this.#sender.close();
  }
}

function asBool(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  return /^(1|true|yes|on)$/i.test(value.trim());
}

class DaemonLoggerImpl implements DaemonLogger {
  readonly #clock: Clock;
  readonly #pid: number;
  #level = "INFO";
  #threshold = 20;
  #target = "STDERR";
  #syslogSocket: string;
  #sink: Sink;
  /** Set while records go to stderr because the target failed. */
  #fallback = false;
  readonly #children = new Map<string, Logger>();

  constructor(options: LoggerOptions) {
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#pid = options.pid ?? Deno.pid;
    this.#syslogSocket = options.syslogSocket ?? "auto";
    this.setLevel(options.level);
    this.#sink = new StreamSink(Deno.stderr, true);
    this.#target = options.target;
    try {
      this.#sink = this.#openSink(options.target);
    } catch (e) {
      this.#fallBack(e);
    }
  }

  get level(): string {
    return this.#level;
  }
  get target(): string {
    return this.#target;
  }
  get syslogSocket(): string {
    return this.#syslogSocket;
  }

  log(level: LogLevel, message: string): void {
    this.logAs(ROOT_COMPONENT, level, message);
  }

  logMany(level: LogLevel, messages: readonly string[]): void {
    this.logManyAs(ROOT_COMPONENT, level, messages);
  }

  logAs(component: string, level: LogLevel, message: string): void {
    if (RECORD_LEVELS[level] < this.#threshold) return;
    const name = component === ROOT_COMPONENT || component.startsWith("fail2ban.")
      ? component
      : `fail2ban.${component}`;
    this.#emit(name, level, escapeLogText(message));
  }

  /**
   * Logs each of `messages` at `level` under a component name, in order: one time stamp and,
   * for a stream or file target, one write for all of them.
   */
  logManyAs(component: string, level: LogLevel, messages: readonly string[]): void {
    if (RECORD_LEVELS[level] < this.#threshold || messages.length === 0) return;
    const name = component === ROOT_COMPONENT || component.startsWith("fail2ban.")
      ? component
      : `fail2ban.${component}`;
    const sink = this.#sink;
    if (!sink.writeMany) {
      for (const m of messages) this.#emit(name, level, escapeLogText(m));
      return;
    }
    const head = this.#head(sink, name, level);
    const lines = new Array<string>(messages.length);
    for (let i = 0; i < messages.length; i++) lines[i] = head + escapeLogText(messages[i]!);
    try {
      sink.writeMany(lines, level);
    } catch (e) {
      // Written in part or not at all: the fallback target gets them one by one.
      this.#fallBack(e);
      for (const m of messages) this.#emit(name, level, escapeLogText(m));
    }
  }

  child(component: string): Logger {
    let child = this.#children.get(component);
    if (!child) {
      child = {
        log: (level, message) => this.logAs(component, level, message),
        logMany: (level, messages) => this.logManyAs(component, level, messages),
      };
      this.#children.set(component, child);
    }
    return child;
  }

  isEnabled(level: LogLevel): boolean {
    return RECORD_LEVELS[level] >= this.#threshold;
  }

  setLevel(level: string): void {
    this.#threshold = parseLogLevel(level);
    this.#level = level.trim().toUpperCase();
  }

  setTarget(target: string): void {
    const sink = this.#openSink(target);
    const previous = this.#sink;
    this.#sink = sink;
    this.#target = target;
    this.#fallback = false;
    previous.close();
  }

  setSyslogSocket(path: string): void {
    const previous = this.#syslogSocket;
    this.#syslogSocket = path;
    if (splitTargetOptions(this.#target).name.toUpperCase() !== "SYSLOG") return;
    try {
      this.setTarget(this.#target);
    } catch (e) {
      this.#syslogSocket = previous;
      throw e;
    }
  }

  reopen(): string {
    if (this.#sink instanceof FileSink) {
      try {
        this.#sink.reopen();
      } catch (e) {
        this.#fallBack(e);
        return "rolled over";
      }
      this.logAs("server", "INFO", `rollover performed on ${this.#target}`);
      return "rolled over";
    }
    if (this.#fallback) {
      // The file target failed before: try it again (the disk may have been fixed).
      try {
        this.setTarget(this.#target);
        this.logAs("server", "INFO", `Log target "${this.#target}" reopened`);
        return "rolled over";
      } catch {
        return "flushed";
      }
    }
    this.logAs("server", "INFO", `flush performed on ${this.#target}`);
    return "flushed";
  }

  close(): void {
    this.#sink.close();
    this.#sink = new StreamSink(Deno.stderr, true);
  }

  /** The start of a line up to the message: time stamp (when the sink shows it), name, pid, level. */
  #head(sink: Sink, name: string, level: LogLevel): string {
    const head = sink.padding
      ? `${name.padEnd(24)}[${this.#pid}]: ${level.padEnd(7)} `
      : `${name}[${this.#pid}]: ${level} `;
    return sink.withTime ? `${formatLogTime(this.#clock.now())} ${head}` : head;
  }

  #emit(name: string, level: LogLevel, message: string): void {
    const sink = this.#sink;
    const line = this.#head(sink, name, level) + message;
    try {
      sink.write(line, level);
    } catch (e) {
      this.#fallBack(e);
      try {
        this.#sink.write(
          `${formatLogTime(this.#clock.now())} ${name.padEnd(24)}[${this.#pid}]: ${
            level.padEnd(7)
          } ${message}`,
          level,
        );
      } catch {
        // standard error itself is gone: nothing left to report to
      }
    }
  }

  /** Switches to stderr after a target failure, with one error line. */
  #fallBack(error: unknown): void {
    try {
      this.#sink.close();
    } catch {
      // the failed sink may not close cleanly
    }
    this.#sink = new StreamSink(Deno.stderr, true);
    this.#fallback = true;
    const reason = error instanceof Error ? error.message : String(error);
    try {
      this.#sink.write(
        `${formatLogTime(this.#clock.now())} ${"fail2ban.server".padEnd(24)}[${this.#pid}]: ${
          "ERROR".padEnd(7)
        } ${escapeLogText(`Cannot log to ${this.#target}: ${reason}; logging to STDERR instead`)}`,
        "ERROR",
      );
    } catch {
      // standard error itself is gone
    }
  }

  #openSink(target: string): Sink {
    const { name, options } = splitTargetOptions(target);
    const upper = name.toUpperCase();
    const datetime = asBool(options.datetime);
    const padding = asBool(options.padding);
    switch (upper) {
      case "STDOUT":
        return new StreamSink(Deno.stdout, datetime ?? true);
      case "SYSOUT":
        return new StreamSink(Deno.stdout, datetime ?? false);
      case "STDERR":
        return new StreamSink(Deno.stderr, datetime ?? true);
      case "SYSLOG": {
        const facilityName = (options.facility ?? "DAEMON").toUpperCase();
        const facility = SYSLOG_FACILITIES[facilityName];
        if (facility === undefined) {
          throw new Error(
            `Unknown syslog facility "${options.facility}" in log target "${target}"`,
          );
        }
        const path = this.#syslogSocket === "auto"
          ? AUTO_SYSLOG_SOCKET[Deno.build.os] ?? "/dev/log"
          : this.#syslogSocket;
        return new DatagramSink(
          path,
          datetime ?? false,
          padding ?? false,
          (line, level) => `<${facility * 8 + SYSLOG_SEVERITY[level]}>${line}\0`,
        );
      }
      case "SYSTEMD-JOURNAL":
        return new DatagramSink(
          JOURNAL_SOCKET,
          false,
          false,
          (line, level) =>
            `PRIORITY=${SYSLOG_SEVERITY[level]}\nSYSLOG_IDENTIFIER=fail2ban\nMESSAGE=${line}\n`,
        );
      default:
        return new FileSink(name);
    }
  }
}

/**
 * Makes the daemon's logger. Never throws for an unusable target: records
 * then go to standard error after one error line. Throws a `RangeError` for
 * an invalid level.
 *
 * @example
 * ```ts
 * import { createLogger } from "./logger.ts";
 * const logger = createLogger({ target: "STDERR", level: "WARNING" });
 * logger.child("actions").log("INFO", "not shown: below WARNING");
 * logger.close();
 * ```
 */
export function createLogger(options: LoggerOptions): DaemonLogger {
  return new DaemonLoggerImpl(options);
}
