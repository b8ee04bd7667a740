/**
 * The jail worker's logic, apart from the Worker API: tail the logpaths, run each line through
 * the filter, drop ignored addresses, count failures and post a ban request the moment an id
 * reaches maxretry.
 *
 * @module
 */

import type { JailSpec } from "../config/types.ts";
import type { GaveUpRegex, LineResult } from "../filter/types.ts";
import { describeGaveUp, SLOW_LINE_MS } from "../filter/backtrack_watch.ts";
import type { FromWorker, LogLevel, LogPosition, ToWorker } from "../ipc/messages.ts";
import type { Logger } from "../log/types.ts";
import { type HostResolver, hostToFailureIds, parseUseDns, type UseDns } from "../net/dns.ts";
import { type IPAddress, parseAddress } from "../net/ip_address.ts";
import type { Clock } from "../util/clock.ts";
import { FailManager } from "./fail_manager.ts";
import { formatJournalMatch, parseJournalMatch } from "./journal_match.ts";
import {
  isJournalBackend,
  type JournalSink,
  JournalSource,
  type JournalSourceOptions,
  journalTimeText,
} from "./journal_source.ts";
import { LineProgress } from "./line_progress.ts";
import {
  LogTailer,
  type LogTailerOptions,
  type StartDecision,
  type TailerSink,
} from "./log_tailer.ts";
import { findStart, type RandomAccess, tailStart } from "./start_position.ts";

/** A filter compiled for one jail: what the runner needs of the filter engine. */
export interface JailMatcher {
  /**
   * Runs prefregex, failregex and ignoreregex over one line. `time` is the line's time when the
   * source knows it (journal entries): no date detection then.
   */
  processLine(line: string, now: number, time?: number): LineResult;
  /** The line's time by the date detector (for the start-position bisection), or null. */
  lineTime(line: string, now: number): number | null;
  /** The regexes that ran into the backtrack limit on the last line (see `Filter.regexesGivenUp`). */
  regexesGivenUp?(): GaveUpRegex[];
}

/** Slow lines are examined for regexes that gave up for at most this long per minute (ms). */
const EXAMINE_BUDGET_MS = 1_000;
const EXAMINE_WINDOW_MS = 60_000;

/** Decides whether an address is ignored (ignoreip, ignoreself). */
export interface IgnoreChecker {
  /** Why `id` (an address, or a raw failure id) is ignored (`ip`, `dns`, …), or null. */
  ignoredBy(id: IPAddress | string): string | null;
}

/** The tailer as the runner uses it (a {@link LogTailer}, or a fake in tests). */
export interface Tailer {
  /** The files being followed. */
  readonly files: string[];
  /** Opens the files and starts reading. */
  start(): Promise<void>;
  /** Applies new options (logpaths, encoding, …) without losing positions. */
  update(options: LogTailerOptions): Promise<void>;
  /** Stops reading; returns the positions reached. */
  stop(): Promise<LogPosition[]>;
  /** The positions reached so far. */
  positions(): LogPosition[];
}

/** The journal reader as the runner uses it (a {@link JournalSource}, or a fake in tests). */
export interface JournalReader {
  /** Cursor of the last entry handed over (or the one started from), or null. */
  readonly cursor: string | null;
  /** Starts `journalctl` and reading entries. */
  start(): Promise<void>;
  /** Applies new options (journalmatch, …). */
  update(options: JournalSourceOptions): Promise<void>;
  /** Stops reading; the journal keeps its place in {@link cursor}, not in positions. */
  stop(): Promise<LogPosition[]>;
}

/** Options of a {@link JailRunner}. */
export interface JailRunnerOptions {
  /** Source of "now". */
  clock: Clock;
  /** Sends a message to the main thread. */
  post(message: FromWorker): void;
  /** Compiles the jail's filter; throws a SyntaxError naming the bad regex. */
  createMatcher(spec: JailSpec): JailMatcher;
  /** Builds the ignore list; `logger` reaches the daemon's log. @default nothing ignored */
  createIgnoreList?(spec: JailSpec, logger: Logger): IgnoreChecker;
  /** Builds the tailer. @default a {@link LogTailer} */
  createTailer?(options: LogTailerOptions, sink: TailerSink): Tailer;
  /** Builds the journal reader of a `backend = systemd` jail. @default a {@link JournalSource} */
  createJournal?(options: JournalSourceOptions, sink: JournalSink): JournalReader;
  /** Settings merged into every journal source's options (journalctl program, restart delays). */
  journalOptions?: Partial<JournalSourceOptions>;
  /** Resolves host names for `usedns` yes/warn. @default the shared DNS resolver */
  resolver?: HostResolver;
  /** Milliseconds between stats messages while counts change, and between cleanups. @default 1000 */
  statsInterval?: number;
  /** Poll interval of the tailer in milliseconds. @default 1000 */
  pollInterval?: number;
}

/** Seconds a log time may differ from now in operation before it is taken as now (fail2ban's). */
const MAX_LIVE_SKEW = 60;
/** Most failures posted in one `foundBatch` message (a chunk's failures usually go together). */
const FOUND_BATCH = 1024;
/** Lines after a skipped line whose positions are reported one by one. */
const CAREFUL_LINES = 10_000;

/**
 * Runs one jail inside its worker. Feed it {@link ToWorker} messages with {@link handle}; it posts
 * {@link FromWorker} messages through `post`.
 *
 * Time rules follow fail2ban: while a file's backlog is read, lines older than findtime are
 * dropped and failures without a date are skipped; on lines written since, a failure without a
 * date (or with a date more than 60 s from now) counts at now, with a warning once.
 */
export class JailRunner {
  readonly #o: JailRunnerOptions;
  #spec: JailSpec | null = null;
  #matcher: JailMatcher | null = null;
  #ignore: IgnoreChecker | null = null;
  #useDns: UseDns = "warn";
  #fails: FailManager | null = null;
  #tailer: Tailer | null = null;
  #journal: JournalReader | null = null;
  /** Recent journal lines and their times (maxlines of them), to show matches as fail2ban does. */
  #ringText: string[] = [];
  #ringTime: number[] = [];
  #ringAt = 0;
  #saved = new Map<string, LogPosition>();
  /** `#saved` came from the database: files marked ` tail` ignore it. */
  #fromDatabase = false;
  #skipAt: LogPosition | null = null;
  /** End offset of the line to skip in `#skipAt`'s file (exact, from the stuck worker). */
  #skipEnd: number | null = null;
  /** Where the line being processed is published for the supervisor. */
  #progress: LineProgress | null = null;
  #careful = 0;
  /** Examining slow lines (see `#slowLine`): the current minute, time spent, lines not examined. */
  #examineWindow = -Infinity;
  #examineSpent = 0;
  #unexamined = 0;
  #lastDate: number | null = null;
  readonly #warned = new Set<string>();
  #statsTimer: ReturnType<typeof setTimeout> | undefined;
  #statsDirty = false;
  #lastStats = "";
  #queue: Promise<void> = Promise.resolve();
  #stopped = false;
  #tailerStopped: Promise<LogPosition[]> | null = null;
  /** Failures found and not posted yet (`found` batch): ids and times. */
  #foundFids: string[] = [];
  #foundTimes: number[] = [];
  #foundFlushQueued = false;
  readonly #post: (message: FromWorker) => void;
  readonly #logger: Logger;
  readonly #sink: TailerSink;
  readonly #journalSink: JournalSink;

  /** Creates a runner; it does nothing until a `start` message. */
  constructor(options: JailRunnerOptions) {
    this.#o = options;
    const post = options.post;
    // Found failures waiting for their batch go first: messages keep the order of events.
    this.#post = (message) => {
      if (this.#foundFids.length > 0) this.#flushFound();
      post(message);
    };
    this.#logger = { log: (level, message) => this.#log(level, message) };
    this.#sink = {
      line: (text, path, live, end) => this.#line(text, path, live, end),
      position: (p) => this.#post({ type: "positions", jail: this.#name, positions: [p] }),
      log: (level, message) => this.#log(level, message),
    };
    this.#journalSink = {
      entry: (text, time, live, cursor) => this.#journalEntry(text, time, live, cursor),
      cursor: (cursor) => {
        if (this.#careful === 0) this.#post({ type: "cursor", jail: this.#name, cursor });
      },
      log: (level, message) => this.#log(level, message),
    };
  }

  /** The jail's name ("" before start). */
  get #name(): string {
    return this.#spec?.name ?? "";
  }

  /**
   * Handles one message. `ping`, `forget` and `attempt` (once started) are handled at once;
   * `start`, `update` and `stop` run in order. The returned promise settles when this message is done.
   */
  handle(message: ToWorker): Promise<void> {
    switch (message.type) {
      case "ping":
        this.#post({ type: "pong", seq: message.seq });
        return Promise.resolve();
      case "forget":
        if (this.#fails?.forget(message.fid)) this.#statsChanged();
        return Promise.resolve();
      case "attempt":
        // Counted at once once the jail runs (not behind a backlog read), else after its start.
        if (this.#fails) {
          this.#attempt(message);
          return Promise.resolve();
        }
        return this.#enqueue(() => Promise.resolve(this.#attempt(message)));
      case "start":
        return this.#enqueue(() =>
          this.#start(
            message.spec,
            message.positions,
            message.skipLineAt,
            message.cursor ?? null,
            message.skipEntry ?? false,
            message.skipLineEnd ?? null,
            message.progress ?? null,
            message.fromDatabase ?? false,
          )
        );
      case "update":
        return this.#enqueue(() => this.#update(message.spec));
      case "stop":
        // Stop the tailer now, so a long backlog read ends at its next yield.
        this.#stopped = true;
        this.#tailerStopped = this.#tailer?.stop() ?? this.#journal?.stop() ?? null;
        return this.#enqueue(() => this.#stop());
    }
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch((e) => this.#log("ERROR", `Jail task failed: ${errText(e)}`));
    return this.#queue;
  }

  async #start(
    spec: JailSpec,
    positions: LogPosition[],
    skipLineAt: LogPosition | null,
    cursor: string | null,
    skipEntry: boolean,
    skipLineEnd: number | null,
    progress: SharedArrayBuffer | null,
    fromDatabase: boolean,
  ) {
    if (this.#tailer || this.#journal || this.#stopped) {
      this.#log("WARNING", "Jail already started or stopped; start message ignored");
      return;
    }
    this.#spec = spec;
    try {
      this.#matcher = this.#o.createMatcher(spec);
      this.#ignore = this.#o.createIgnoreList?.(spec, this.#logger) ?? null;
    } catch (e) {
      this.#log("ERROR", `Cannot start the jail: ${errText(e)}`);
      return;
    }
    this.#useDns = this.#parseUseDns(spec.usedns);
    this.#fails = new FailManager({
      maxRetry: spec.maxretry,
      findTime: spec.findtime,
      maxMatches: spec.maxmatches,
    });
    if (isJournalBackend(spec.backend)) {
      const factory = this.#o.createJournal ?? ((o, s) => new JournalSource(o, s));
      try {
        const options = this.#journalOptions(spec, cursor, skipEntry);
        this.#journal = factory(options, this.#journalSink);
        if (options.matches.length === 0) {
          this.#log(
            "NOTICE",
            "Jail started without 'journalmatch' set. Jail regexs will be checked against all " +
              "journal entries, which is not advised for performance reasons.",
          );
        } else this.#log("INFO", `Added journal match for: ${formatJournalMatch(options.matches)}`);
      } catch (e) {
        this.#log("ERROR", `Cannot start the jail: ${errText(e)}`);
        return;
      }
      if (skipEntry) this.#careful = CAREFUL_LINES;
      await this.#journal.start();
      if (this.#stopped) return;
      this.#post({ type: "ready", jail: spec.name });
      this.#postStats(true);
      return;
    }
    this.#saved = new Map(positions.map((p) => [p.path, p]));
    this.#fromDatabase = fromDatabase;
    this.#skipAt = skipLineAt;
    this.#skipEnd = skipLineAt ? skipLineEnd : null;
    if (progress) {
      try {
        this.#progress = new LineProgress(progress);
      } catch (e) {
        this.#log("WARNING", `Cannot publish line progress: ${errText(e)}`);
      }
    }
    const factory = this.#o.createTailer ?? ((o, s) => new LogTailer(o, s));
    try {
      this.#tailer = factory(this.#tailerOptions(spec), this.#sink);
    } catch (e) {
      this.#log("ERROR", `Cannot start the jail: ${errText(e)}`);
      return;
    }
    await this.#tailer.start();
    if (this.#stopped) return;
    this.#post({ type: "ready", jail: spec.name });
    this.#postStats(true);
  }

  #tailerOptions(spec: JailSpec): LogTailerOptions {
    return {
      logpath: spec.logpath,
      backend: spec.backend,
      encoding: spec.logencoding,
      pollInterval: this.#o.pollInterval ?? 1000,
      ...(spec.logpathTail?.some((t) => t) ? { tail: spec.logpathTail } : {}),
      startAt: (path, file, size, hash, tail) => this.#startAt(path, file, size, hash, tail),
    };
  }

  /** The journal source's options; throws a SyntaxError naming a bad journalmatch. */
  #journalOptions(spec: JailSpec, cursor: string | null, skipFirst: boolean): JournalSourceOptions {
    const maxlines = Math.max(1, spec.filter.maxlines);
    this.#ringText = new Array<string>(maxlines).fill("");
    this.#ringTime = new Array<number>(maxlines).fill(0);
    this.#ringAt = 0;
    return {
      ...this.#o.journalOptions,
      backend: spec.backend,
      matches: parseJournalMatch(spec.filter.journalmatch, `jail "${spec.name}" journalmatch`),
      findtime: spec.findtime,
      clock: this.#o.clock,
      cursor,
      skipFirst,
      encoding: spec.logencoding,
    };
  }

  /**
   * Where to start a configured file: the skipped line, a saved position, or now - findtime; a
   * file marked ` tail` at its end unless the previous worker of this run left a position in it
   * (fail2ban ignores the database's position of such a file).
   */
  #startAt(
    path: string,
    file: RandomAccess,
    size: number,
    hash: string,
    tail = false,
  ): StartDecision {
    const skip = this.#skipAt;
    const end = this.#skipEnd;
    if (
      skip && end !== null && skip.path === path &&
      (skip.firstLineHash === hash || skip.firstLineHash === "") && skip.offset <= size
    ) {
      // The stuck line is known exactly: read again from the last position, skip only it.
      this.#skipAt = null;
      this.#skipEnd = null;
      if (end <= skip.offset) {
        this.#log("WARNING", `Resuming "${path}" at ${skip.offset}, after the line that hung`);
        return { offset: skip.offset };
      }
      this.#log(
        "WARNING",
        `Resuming "${path}" at ${skip.offset}, skipping the line ending at ${end}`,
      );
      return { offset: skip.offset, skipLineEnd: end };
    }
    if (skip && skip.path === path && skip.firstLineHash === hash && skip.offset <= size) {
      this.#skipAt = null;
      this.#careful = CAREFUL_LINES;
      this.#log("WARNING", `Resuming "${path}" at ${skip.offset}, skipping the line there`);
      return { offset: skip.offset, skipLine: true };
    }
    if (tail && (this.#fromDatabase || !this.#saved.has(path))) {
      const offset = tailStart(file, size);
      this.#log("INFO", `Added logfile: "${path}" (pos = ${offset}, hash = ${hash || "none"})`);
      return { offset };
    }
    const now = this.#o.clock.now();
    const matcher = this.#matcher!;
    const start = findStart(file, {
      size,
      hash,
      saved: this.#saved.get(path) ?? null,
      since: now - this.#spec!.findtime,
      dateOf: (line) => matcher.lineTime(line, now),
    });
    this.#log("INFO", `Added logfile: "${path}" (pos = ${start.offset}, hash = ${hash || "none"})`);
    return { offset: start.offset };
  }

  async #update(spec: JailSpec) {
    if (!this.#spec || !this.#fails) {
      this.#spec = spec;
      return;
    }
    let matcher: JailMatcher;
    let ignore: IgnoreChecker | null;
    try {
      matcher = this.#o.createMatcher(spec);
      ignore = this.#o.createIgnoreList?.(spec, this.#logger) ?? null;
    } catch (e) {
      this.#log("ERROR", `Cannot apply the new settings: ${errText(e)}; keeping the old ones`);
      return;
    }
    let journalOptions: JournalSourceOptions | null = null;
    if (this.#journal) {
      if (!isJournalBackend(spec.backend)) {
        this.#log("ERROR", "Cannot switch a running jail from the journal to files; restart it");
        return;
      }
      try {
        journalOptions = this.#journalOptions(spec, this.#journal.cursor, false);
      } catch (e) {
        this.#log("ERROR", `Cannot apply the new settings: ${errText(e)}; keeping the old ones`);
        return;
      }
    }
    const old = this.#spec;
    this.#spec = spec;
    this.#matcher = matcher;
    this.#ignore = ignore;
    this.#useDns = this.#parseUseDns(spec.usedns);
    this.#fails.setOptions({
      maxRetry: spec.maxretry,
      findTime: spec.findtime,
      maxMatches: spec.maxmatches,
    });
    if (journalOptions) {
      try {
        await this.#journal?.update(journalOptions);
      } catch (e) {
        this.#log("ERROR", `Cannot apply the new journal settings: ${errText(e)}`);
      }
    } else if (
      old.logpath.join("\0") !== spec.logpath.join("\0") || old.backend !== spec.backend ||
      old.logencoding !== spec.logencoding ||
      String(old.logpathTail ?? []) !== String(spec.logpathTail ?? [])
    ) {
      try {
        await this.#tailer?.update(this.#tailerOptions(spec));
      } catch (e) {
        this.#log("ERROR", `Cannot apply the new log settings: ${errText(e)}`);
      }
    }
    this.#statsChanged();
  }

  async #stop() {
    this.#stopped = true;
    clearTimeout(this.#statsTimer);
    this.#statsTimer = undefined;
    const positions =
      (await (this.#tailerStopped ?? this.#tailer?.stop() ?? this.#journal?.stop())) ?? [];
    const jail = this.#name;
    if (positions.length > 0) this.#post({ type: "positions", jail, positions });
    const cursor = this.#journal?.cursor ?? null;
    if (cursor !== null) this.#post({ type: "cursor", jail, cursor });
    this.#postStats(true);
    this.#post({ type: "stopped", jail });
  }

  #parseUseDns(value: string): UseDns {
    const v = parseUseDns(value);
    if (v === null) {
      this.#log("ERROR", `Incorrect value "${value}" specified for usedns; using "no"`);
      return "no";
    }
    return v;
  }

  /** One line from the tailer: the hot path. */
  #line(text: string, path: string, live: boolean, end: number): void {
    if (this.#careful > 0) this.#carefulPosition(path, live, end);
    const progress = this.#progress;
    if (progress === null) {
      this.#process(text, path, live, undefined);
      return;
    }
    progress.begin(path, end);
    try {
      this.#process(text, path, live, undefined);
    } finally {
      progress.done();
    }
  }

  /** One journal entry, already dated by the journal. */
  #journalEntry(text: string, time: number, live: boolean, cursor: string): void {
    const n = this.#ringText.length;
    if (n > 0) {
      this.#ringText[this.#ringAt] = text;
      this.#ringTime[this.#ringAt] = time;
      this.#ringAt = (this.#ringAt + 1) % n;
    }
    this.#process(text, "journal", live, time);
    if (this.#careful > 0) {
      // After a skipped entry, report each cursor so a second hang names its entry.
      if (live) this.#careful = 0;
      else {
        this.#careful--;
        if (cursor !== "") this.#post({ type: "cursor", jail: this.#name, cursor });
      }
    }
  }

  /** Journal lines as fail2ban keeps them in matches: `<ISO local time> <line>`. */
  #journalMatches(lines: string[], time: number): string[] {
    return lines.map((l) => {
      let t = time;
      for (let k = 1; k <= this.#ringText.length; k++) {
        const i = (this.#ringAt - k + this.#ringText.length) % this.#ringText.length;
        if (this.#ringText[i] === l) {
          t = this.#ringTime[i]!;
          break;
        }
      }
      return `${journalTimeText(t)} ${l}`;
    });
  }

  /** Runs one line through the filter and counts its failures. */
  #process(text: string, path: string, live: boolean, knownTime: number | undefined): void {
    const matcher = this.#matcher;
    if (!matcher || this.#stopped) return;
    const now = this.#o.clock.now();
    let result: LineResult;
    const started = performance.now();
    try {
      result = knownTime === undefined
        ? matcher.processLine(text, now)
        : matcher.processLine(text, now, knownTime);
    } catch (e) {
      this.#warnOnce("processLine", `Error processing a line of "${path}": ${errText(e)}`);
      return;
    }
    if (performance.now() - started >= SLOW_LINE_MS) this.#slowLine(text, path, matcher);
    if (result.time !== null) {
      if (result.failures.length === 0) {
        this.#lastDate = result.time;
        return;
      }
    } else if (result.failures.length === 0) return;
    const time = this.#failureTime(result.time, live, now, text, result.failures[0]!.regexIndex);
    if (result.time !== null) this.#lastDate = result.time;
    if (time === null) return;
    for (const f of result.failures) {
      const lines = knownTime === undefined ? f.lines : this.#journalMatches(f.lines, knownTime);
      if (f.host === null) {
        this.#consider(f.fid, null, time, lines, f.data);
        continue;
      }
      const address = parseAddress(f.host);
      if (address) {
        const fid = this.#useDns === "raw" ? f.host : address.canonical;
        this.#consider(fid, address, time, lines, f.data);
        continue;
      }
      const ids = hostToFailureIds(f.host, this.#useDns, this.#o.resolver, this.#logger);
      if (Array.isArray(ids)) this.#hostIds(f.host, ids, time, lines, f.data);
      else {
        ids.then(
          (list) => this.#hostIds(f.host!, list, time, lines, f.data),
          (e) => this.#warnOnce("dns", `Cannot resolve "${f.host}": ${errText(e)}`),
        );
      }
    }
  }

  /** The time a failure counts at, or null to skip it (fail2ban's rules, see the class doc). */
  #failureTime(
    time: number | null,
    live: boolean,
    now: number,
    line: string,
    regex: number,
  ): number | null {
    if (time === null) {
      // Once per failregex that matched an undated line (SECURITY.md #13): two kinds of undated
      // failure lines give two warnings, a thousand lines of one kind give one.
      this.#warnOnce(
        `nodate:${regex}`,
        `Found a match but no valid date/time found for "${line}" (failregex ${regex}). ` +
          "Please try setting a custom date pattern (see man page jail.conf(5))",
      );
      if (this.#lastDate !== null && this.#lastDate > now - MAX_LIVE_SKEW) return this.#lastDate;
      return live ? now : null;
    }
    if (live) {
      const delta = time - now;
      if (Math.abs(delta) > MAX_LIVE_SKEW) {
        this.#warnOnce(
          "skew",
          `Detected a log entry ${Math.round(Math.abs(delta))}s ${
            delta < 0 ? "before" : "after"
          } ` +
            `the current time in operation mode. This looks like a ${
              delta < 0 && delta >= -3300 ? "latency" : "timezone"
            } problem. Treating such entries as if they just happened. Line: ${line}`,
        );
        return now;
      }
      return time;
    }
    const findtime = this.#spec!.findtime;
    if (time < now - findtime) {
      this.#warnOnce(
        "old",
        `Ignoring all log entries older than ${findtime}s; these are probably messages ` +
          "generated while the daemon was not running",
      );
      return null;
    }
    return time;
  }

  #hostIds(
    host: string,
    ids: string[],
    time: number,
    lines: string[],
    data: Record<string, string>,
  ) {
    if (this.#stopped) return;
    if (ids.length === 0) {
      this.#warnOnce(
        `nodns:${this.#useDns}`,
        this.#useDns === "no"
          ? `Ignoring host name "${host}": usedns is "no" (further such names are not logged)`
          : `Unable to find a corresponding IP address for "${host}"`,
      );
      return;
    }
    for (const id of ids) {
      const a = this.#useDns === "raw" ? null : parseAddress(id);
      this.#consider(a?.canonical ?? id, a, time, lines, data);
    }
  }

  /** Counts a failure of `fid` unless ignoreip/ignoreself covers it. */
  #consider(
    fid: string,
    address: IPAddress | null,
    time: number,
    lines: string[],
    data: Record<string, string>,
  ) {
    const by = this.#ignore?.ignoredBy(address ?? fid) ?? null;
    if (by !== null) {
      this.#log("INFO", `[${this.#name}] Ignore ${fid} by ${by}`);
      return;
    }
    this.#count(fid, address, time, lines, data);
  }

  /** Counts a failure and posts the ban request at once when the id reaches maxretry. */
  #count(
    fid: string,
    address: IPAddress | null,
    time: number,
    lines: string[],
    data: Record<string, string>,
  ): void {
    this.#foundFids.push(fid);
    this.#foundTimes.push(time);
    if (this.#foundFids.length >= FOUND_BATCH) this.#flushFound();
    else if (!this.#foundFlushQueued) {
      // Lines read in one go end with a position message (which flushes); anything else (an
      // attempt, a resolved host name, a journal entry) is posted when this task ends.
      this.#foundFlushQueued = true;
      queueMicrotask(() => {
        this.#foundFlushQueued = false;
        if (this.#foundFids.length > 0) this.#flushFound();
      });
    }
    this.#addFailure(fid, address?.family ?? null, time, lines, data, 1);
  }

  /** Posts the failures found since the last batch as one `foundBatch` message. */
  #flushFound(): void {
    const fids = this.#foundFids;
    const times = this.#foundTimes;
    this.#foundFids = [];
    this.#foundTimes = [];
    this.#o.post({ type: "foundBatch", jail: this.#name, fids, times });
  }

  /** `set <jail> attempt`: failures counted with the log's, under the same canonical id. */
  #attempt(m: Extract<ToWorker, { type: "attempt" }>): void {
    if (!this.#fails || this.#stopped) return;
    const address = this.#useDns === "raw" ? null : parseAddress(m.fid);
    const fid = address?.canonical ?? m.fid;
    this.#addFailure(fid, address?.family ?? m.family, m.time, m.matches, {}, m.attempts);
  }

  #addFailure(
    fid: string,
    family: "inet4" | "inet6" | null,
    time: number,
    lines: string[],
    data: Record<string, string>,
    attempts: number,
  ): void {
    const jail = this.#name;
    const ticket = this.#fails!.addFailure(fid, time, lines, data, attempts);
    if (ticket) {
      this.#post({
        type: "ban",
        request: {
          jail,
          fid,
          family,
          failures: ticket.retry,
          time: ticket.lastTime,
          matches: ticket.matches,
          data: ticket.data,
        },
      });
    }
    this.#statsChanged();
  }

  /** After a skipped line, report positions line by line so a second hang names its line. */
  #carefulPosition(path: string, live: boolean, end: number): void {
    if (live) {
      this.#careful = 0;
      return;
    }
    this.#careful--;
    const hash = this.#tailer?.positions().find((p) => p.path === path)?.firstLineHash ?? "";
    this.#post({
      type: "positions",
      jail: this.#name,
      positions: [{ path, offset: end, firstLineHash: hash }],
    });
  }

  #statsChanged(): void {
    this.#statsDirty = true;
    if (this.#statsTimer === undefined && !this.#stopped) {
      this.#statsTimer = setTimeout(() => {
        this.#statsTimer = undefined;
        this.#postStats(false);
      }, this.#o.statsInterval ?? 1000);
    }
  }

  /** Cleans up expired failures and posts stats if anything changed (or `force`). */
  #postStats(force: boolean): void {
    const fails = this.#fails;
    if (!fails || !this.#spec) return;
    fails.cleanup(this.#o.clock.now());
    const files = this.#tailer?.files ?? [];
    const key = `${fails.size}|${fails.totalFailed}|${fails.evicted}|${files.join("\0")}`;
    const dirty = this.#statsDirty;
    this.#statsDirty = false;
    if (force || (dirty && key !== this.#lastStats)) {
      this.#lastStats = key;
      this.#post({
        type: "stats",
        jail: this.#spec.name,
        currentlyFailed: fails.size,
        totalFailed: fails.totalFailed,
        evicted: fails.evicted,
        files,
      });
    }
    // Keep cleaning while failures are pending, so "currently failed" drops as they expire.
    if (fails.size > 0 && !this.#stopped) this.#statsChanged();
  }

  #warnOnce(key: string, message: string): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#log("WARNING", message);
  }

  /** Posts a log record, prefixed with `[jail]` as fail2ban's jail messages are. */
  /**
   * A line that took milliseconds: maybe a regex gave up on it at the
   * backtrack limit (the line then counted as not matching, which the log
   * says). Examining costs up to a few times the limit per regex, so hostile
   * lines get at most {@link EXAMINE_BUDGET_MS} of it per minute; the others
   * are counted and the count logged.
   */
  #slowLine(text: string, path: string, matcher: JailMatcher): void {
    const t = performance.now();
    if (t - this.#examineWindow >= EXAMINE_WINDOW_MS) {
      if (this.#unexamined > 0) {
        this.#log(
          "WARNING",
          `${this.#unexamined} slow line(s) in the last minute were not examined for regexes that gave up at the backtrack limit (examined for ${EXAMINE_BUDGET_MS} ms per minute at most)`,
        );
      }
      this.#examineWindow = t;
      this.#examineSpent = 0;
      this.#unexamined = 0;
    }
    if (matcher.regexesGivenUp === undefined) return;
    if (this.#examineSpent >= EXAMINE_BUDGET_MS) {
      this.#unexamined++;
      return;
    }
    const regexes = matcher.regexesGivenUp();
    this.#examineSpent += performance.now() - t;
    if (regexes.length > 0) {
      this.#log("WARNING", describeGaveUp(`A line of "${path}"`, text, regexes));
    }
  }

  #log(level: LogLevel, message: string): void {
    const jail = this.#name;
    const text = jail === "" || message.startsWith(`[${jail}] `) ? message : `[${jail}] ${message}`;
    this.#post({ type: "log", jail, level, message: text });
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
