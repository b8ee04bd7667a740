/**
 * Follows one jail's log files: globs, file-system events with a polling fallback, rotation by
 * rename and by copytruncate, files that appear, vanish and come back.
 *
 * @module
 */

import { dirname, isAbsolute, resolve } from "../util/posix_path.ts";
import { pythonGlob } from "../util/python_glob.ts";
import type { LogLevel, LogPosition } from "../ipc/messages.ts";
import { LineDecoder } from "./line_decoder.ts";
import { fileAccess, firstLineHash, type RandomAccess } from "./start_position.ts";

/** Bytes read per chunk. */
const CHUNK_BYTES = 64 * 1024;
/** Bytes read in one go before letting other events (messages, timers) run. */
const YIELD_BYTES = 1024 * 1024;
/** Bytes of a file's head compared to detect a truncated-and-regrown or replaced file. */
const HEAD_BYTES = 128;
/** Bytes before the read position compared to recognise a copy of the same log. */
const TAIL_CHECK_BYTES = 256;

/** Where the tailer reports lines, positions and problems. */
export interface TailerSink {
  /**
   * One complete line of `path`. `live` is false while a file's backlog is read (up to its
   * first end), true for lines written since. `end` is the offset just past the line.
   */
  line(text: string, path: string, live: boolean, end: number): void;
  /** The read position of `path` after a chunk was processed. */
  position(position: LogPosition): void;
  /** A message for the daemon's log. */
  log(level: LogLevel, message: string): void;
}

/** Where to start reading a file that was configured (not one that appeared later). */
export interface StartDecision {
  /** Byte offset of a line start. */
  offset: number;
  /** Skip the line at `offset` (it hung the previous worker). @default false */
  skipLine?: boolean;
  /** Skip the line that ends at this offset (it hung the previous worker); others are read. */
  skipLineEnd?: number;
}

/** Options of a {@link LogTailer}. */
export interface LogTailerOptions {
  /** `logpath` entries; globs (`*`, `?`, `[…]`) are expanded and re-expanded. */
  logpath: string[];
  /**
   * Per `logpath` entry: true when it was written with ` tail` (fail2ban's `logpath = FILE tail`);
   * passed to {@link startAt} for the files of that entry. @default all false
   */
  tail?: boolean[];
  /** `backend`: `polling` stats files every `pollInterval`; anything else also watches. @default "auto" */
  backend?: string;
  /** `logencoding`. @default "auto" */
  encoding?: string;
  /** Lines longer than this are dropped. @default 65536 */
  maxLineBytes?: number;
  /** Milliseconds between polls (with watching, a safety net). @default 1000 */
  pollInterval?: number;
  /** Milliseconds between glob re-expansions when no event asks for one. @default 5000 */
  globInterval?: number;
  /**
   * Where to start a file present at start (or added by an update). A file that appears later,
   * or the new file after a rotation, is read from its start.
   * `tail` is true for a file of a `logpath` entry marked ` tail`.
   * @default the end of the file
   */
  startAt?(
    path: string,
    file: RandomAccess,
    size: number,
    hash: string,
    tail?: boolean,
  ): StartDecision;
}

const GLOB_CHARS = /[*?[]/;

interface Tracked {
  path: string;
  /** From a glob (dropped when it no longer matches and is gone) or a literal logpath. */
  glob: boolean;
  file: Deno.FsFile | null;
  ino: number | null;
  dev: number;
  decoder: LineDecoder;
  head: Uint8Array;
  hash: string;
  live: boolean;
  /** Use `startAt` when next opened (configured file, not one that appeared later). */
  configured: boolean;
  /** From a `logpath` entry marked ` tail`. */
  tail: boolean;
  skipLine: boolean;
  /** End offset of a line to skip, -1 for none. */
  skipEnd: number;
  reported: number;
}

/**
 * Tails the log files of one jail and hands complete lines to a {@link TailerSink}.
 *
 * New bytes are read as soon as a file-system event names the file (or a poll sees it grew).
 * Rotation by rename drains the old file's unread tail through the still-open handle, then reads
 * the new file from its start; copytruncate (size below the position, or a changed head) restarts
 * at 0. A replacement that is a copy of the same log (same head, same bytes before the position)
 * keeps the position, so nothing is counted twice. A missing, unreadable or dangling path is
 * warned about once and picked up when it appears.
 */
export class LogTailer {
  readonly #sink: TailerSink;
  #options: LogTailerOptions;
  #patterns: string[] = [];
  readonly #files = new Map<string, Tracked>();
  /** Real path of a symlinked log → its logpath, to route events. */
  readonly #aliases = new Map<string, string>();
  readonly #dirty = new Set<string>();
  #rescan = false;
  #pumping = false;
  #running = false;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #lastGlob = 0;
  #watcher: Deno.FsWatcher | null = null;
  #watchedDirs = "";
  #watchFailed = false;
  readonly #buf = new Uint8Array(CHUNK_BYTES);
  #idle: Promise<void> = Promise.resolve();
  #idleResolve: (() => void) | null = null;

  /** Creates a tailer; nothing is read before {@link start}. */
  constructor(options: LogTailerOptions, sink: TailerSink) {
    this.#options = options;
    this.#sink = sink;
    this.#patterns = options.logpath.map((p) => (isAbsolute(p) ? p : resolve(p)));
    // Fails early on a bad logencoding.
    new LineDecoder({ encoding: options.encoding ?? "auto" });
  }

  /** Paths being followed (existing or awaited). */
  get files(): string[] {
    return [...this.#files.keys()];
  }

  /** True while file-system events are used. */
  get watching(): boolean {
    return this.#watcher !== null;
  }

  /** Current read positions of the open files. */
  positions(): LogPosition[] {
    const out: LogPosition[] = [];
    for (const t of this.#files.values()) if (t.file) out.push(this.#position(t));
    return out;
  }

  /** Opens the files, reads their backlog from the chosen start, then follows them. */
  async start(): Promise<void> {
    this.#running = true;
    this.#expand(true);
    this.#updateWatcher();
    this.#schedulePoll();
    for (const p of this.#files.keys()) this.#dirty.add(p);
    await this.#pump();
  }

  /** Checks every file now (also what a poll does). Resolves when the pending work is done. */
  async poll(): Promise<void> {
    if (!this.#running) return;
    for (const p of this.#files.keys()) this.#dirty.add(p);
    this.#rescan = true;
    await this.#pump();
  }

  /** Resolves once no check is running. */
  idle(): Promise<void> {
    return this.#pumping ? this.#idle : Promise.resolve();
  }

  /** Applies new options (logpaths, backend, intervals); files no longer configured are closed. */
  async update(options: LogTailerOptions): Promise<void> {
    // Fails early on a bad logencoding, before anything changes.
    new LineDecoder({ encoding: options.encoding ?? "auto" });
    const old = this.#options;
    this.#options = options;
    if (old.encoding !== options.encoding || old.maxLineBytes !== options.maxLineBytes) {
      // Re-read any held partial line with the new decoder.
      for (const t of this.#files.values()) {
        t.decoder = this.#decoder(t.decoder.lineOffset);
      }
    }
    this.#patterns = options.logpath.map((p) => (isAbsolute(p) ? p : resolve(p)));
    for (const [path, t] of this.#files) {
      if (!this.#patterns.some((p) => p === path || (GLOB_CHARS.test(p) && matchesGlob(p, path)))) {
        this.#close(t);
        this.#files.delete(path);
      }
    }
    if (!this.#running) return;
    this.#expand(true);
    this.#updateWatcher();
    clearTimeout(this.#pollTimer);
    this.#schedulePoll();
    await this.poll();
  }

  /** Stops following: closes the watcher, the timer and the files. Returns the last positions. */
  async stop(): Promise<LogPosition[]> {
    this.#running = false;
    clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
    this.#watcher?.close();
    this.#watcher = null;
    await this.idle();
    const positions = this.positions();
    for (const t of this.#files.values()) this.#close(t);
    return positions;
  }

  #schedulePoll(): void {
    if (!this.#running) return;
    this.#pollTimer = setTimeout(() => {
      const now = performance.now();
      if (now - this.#lastGlob >= (this.#options.globInterval ?? 5000)) this.#rescan = true;
      for (const p of this.#files.keys()) this.#dirty.add(p);
      this.#pump().finally(() => this.#schedulePoll());
    }, this.#options.pollInterval ?? 1000);
  }

  /** Expands the logpaths; new paths are tracked, vanished glob matches forgotten. */
  #expand(configured: boolean): void {
    this.#lastGlob = performance.now();
    const seen = new Set<string>();
    const tails = this.#options.tail;
    for (let i = 0; i < this.#patterns.length; i++) {
      const pattern = this.#patterns[i]!;
      const tail = tails?.[i] ?? false;
      if (!GLOB_CHARS.test(pattern)) {
        seen.add(pattern);
        this.#track(pattern, false, configured, tail);
        continue;
      }
      let matches: string[] = [];
      try {
        matches = pythonGlob(pattern);
      } catch (e) {
        this.#warnOnce(pattern, "glob", `Cannot expand logpath "${pattern}": ${errText(e)}`);
      }
      for (const m of matches) {
        const path = isAbsolute(m) ? m : resolve(m);
        seen.add(path);
        this.#track(path, true, configured, tail);
      }
    }
    for (const [path, t] of this.#files) {
      if (t.glob && !seen.has(path) && t.file === null) this.#files.delete(path);
    }
  }

  #track(path: string, glob: boolean, configured: boolean, tail: boolean): void {
    if (this.#files.has(path)) return;
    this.#files.set(path, {
      path,
      glob,
      file: null,
      ino: null,
      dev: 0,
      decoder: this.#decoder(0),
      head: new Uint8Array(0),
      hash: "",
      live: false,
      configured,
      tail,
      skipLine: false,
      skipEnd: -1,
      reported: -1,
    });
    this.#dirty.add(path);
  }

  #decoder(offset: number): LineDecoder {
    const o = this.#options;
    return new LineDecoder(
      { encoding: o.encoding ?? "auto", maxLineBytes: o.maxLineBytes },
      offset,
    );
  }

  /** Runs checks until nothing is pending; one pump at a time. */
  async #pump(): Promise<void> {
    if (this.#pumping) return this.#idle;
    this.#pumping = true;
    this.#idle = new Promise((r) => (this.#idleResolve = r));
    try {
      while (this.#running && (this.#dirty.size > 0 || this.#rescan)) {
        if (this.#rescan) {
          this.#rescan = false;
          this.#expand(false);
          this.#updateWatcher();
        }
        for (const path of this.#dirty) {
          this.#dirty.delete(path);
          const t = this.#files.get(path);
          if (!t) continue;
          try {
            await this.#check(t);
          } catch (e) {
            // An I/O error (EIO, a vanished mount): keep the position and retry at the next check.
            this.#warnOnce(t.path, "read", `Error reading log file "${t.path}": ${errText(e)}`);
          }
          if (!this.#running) break;
        }
      }
    } finally {
      this.#pumping = false;
      this.#idleResolve?.();
    }
  }

  /** Brings one file up to date: opens it, follows rotations, reads new bytes. */
  async #check(t: Tracked): Promise<void> {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(t.path);
      if (!info.isFile) throw new Error("not a regular file");
    } catch (e) {
      if (t.file) {
        this.#sink.log("INFO", `Log file "${t.path}" is gone; reading its rest`);
        await this.#drain(t);
        this.#close(t);
      }
      // When it appears (again) it is a new file: read it from its start.
      t.configured = false;
      // A glob match that vanished is no longer a logpath; it comes back if it matches again.
      if (t.glob) {
        this.#files.delete(t.path);
        return;
      }
      this.#warnOnce(
        t.path,
        "missing",
        `Cannot read log file "${t.path}": ${errText(e)}; waiting for it`,
      );
      return;
    }
    if (t.file && (info.ino !== t.ino || info.dev !== t.dev)) {
      await this.#rotated(t);
    }
    if (!t.file && !this.#open(t)) return;
    await this.#read(t);
  }

  /** Rename rotation or replacement: finish the old file, then continue in the new one. */
  async #rotated(t: Tracked): Promise<void> {
    await this.#drain(t);
    const old = t.file!;
    const oldOffset = t.decoder.offset;
    const oldHead = t.head;
    let tail: Uint8Array | null = null;
    if (oldOffset > 0) {
      const n = Math.min(oldOffset, TAIL_CHECK_BYTES);
      tail = new Uint8Array(n);
      tail = tail.subarray(0, fileAccess(old).readAt(tail, oldOffset - n));
    }
    this.#close(t);
    t.configured = false;
    if (!this.#open(t)) return;
    // A copy of the same log (same head, same bytes before the position): keep the position.
    const file = t.file!;
    const size = file.statSync().size;
    if (
      tail && size >= oldOffset && oldHead.length > 0 &&
      t.head.length >= oldHead.length && equalBytes(t.head.subarray(0, oldHead.length), oldHead)
    ) {
      const now = new Uint8Array(tail.length);
      const n = fileAccess(file).readAt(now, oldOffset - tail.length);
      if (n === tail.length && equalBytes(now, tail)) {
        t.decoder = this.#decoder(oldOffset);
        t.live = true;
        this.#sink.log(
          "INFO",
          `Log file "${t.path}" was replaced by a copy; keeping the position ${oldOffset}`,
        );
        return;
      }
    }
    this.#sink.log(
      "INFO",
      `Log rotation detected for "${t.path}"; reading the new file from its start`,
    );
  }

  /** Reads what is left in the open handle (a renamed or deleted file) and its last partial line. */
  async #drain(t: Tracked): Promise<void> {
    try {
      await this.#read(t, true);
      t.decoder.flush(this.#lineSink(t));
      this.#report(t);
    } catch (e) {
      this.#sink.log("WARNING", `Cannot read the rest of "${t.path}": ${errText(e)}`);
    }
  }

  /** Opens `t.path`; returns false (warned once) when it cannot be opened. */
  #open(t: Tracked): boolean {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(t.path, { read: true });
    } catch (e) {
      this.#warnOnce(
        t.path,
        "open",
        `Cannot open log file "${t.path}": ${errText(e)}; waiting for it`,
      );
      return false;
    }
    try {
      const info = file.statSync();
      t.file = file;
      t.ino = info.ino;
      t.dev = info.dev;
      t.head = this.#readHead(file, info.size);
      t.hash = firstLineHash(fileAccess(file), info.size);
      let offset = 0;
      t.skipLine = false;
      t.skipEnd = -1;
      if (t.configured) {
        const start =
          this.#options.startAt?.(t.path, fileAccess(file), info.size, t.hash, t.tail) ??
            { offset: info.size };
        offset = Math.min(start.offset, info.size);
        t.skipLine = start.skipLine ?? false;
        if (start.skipLineEnd !== undefined && start.skipLineEnd > offset) {
          t.skipEnd = start.skipLineEnd;
        }
      }
      t.configured = false;
      t.live = false;
      t.decoder = this.#decoder(offset);
      const missing = this.#warned.delete(`${t.path}|missing`);
      if (this.#warned.delete(`${t.path}|open`) || missing) {
        this.#sink.log("INFO", `Log file "${t.path}" is readable now`);
      }
      this.#alias(t.path);
      // The start is a position too: a worker stuck in the first chunk restarts from it.
      this.#report(t);
      return true;
    } catch (e) {
      file.close();
      t.file = null;
      this.#warnOnce(
        t.path,
        "open",
        `Cannot read log file "${t.path}": ${errText(e)}; waiting for it`,
      );
      return false;
    }
  }

  #alias(path: string): void {
    try {
      const real = Deno.realPathSync(path);
      if (real !== path && this.#aliases.get(real) !== path) {
        this.#aliases.set(real, path);
        this.#rescan = true;
      }
    } catch {
      // Gone again: the next check warns.
    }
  }

  #readHead(file: Deno.FsFile, size: number): Uint8Array {
    const head = new Uint8Array(Math.min(size, HEAD_BYTES));
    return head.subarray(0, fileAccess(file).readAt(head, 0));
  }

  /** Reads new bytes up to the current size; `drain` skips the truncation checks. */
  async #read(t: Tracked, drain = false): Promise<void> {
    const file = t.file;
    if (!file) return;
    const size = file.statSync().size;
    const d = t.decoder;
    if (!drain) {
      if (size < d.offset) {
        this.#sink.log("INFO", `Log file "${t.path}" was truncated; reading it from its start`);
        this.#restart(t, file, size);
      } else if (t.head.length > 0 && size > d.offset) {
        const head = new Uint8Array(t.head.length);
        const n = fileAccess(file).readAt(head, 0);
        if (n < head.length || !equalBytes(head, t.head)) {
          this.#sink.log(
            "INFO",
            `Log file "${t.path}" was truncated and rewritten; reading it from its start`,
          );
          this.#restart(t, file, size);
        }
      }
      if (t.head.length < HEAD_BYTES && size > t.head.length) {
        t.head = this.#readHead(file, size);
      }
    }
    const sink = this.#lineSink(t);
    let sinceYield = 0;
    // The handle's own pointer is shared with every positional read (head, first-line hash,
    // start bisection), which seek it elsewhere: seek to the decoder's offset before reading,
    // and trust the pointer only between reads of this loop.
    file.seekSync(d.offset, Deno.SeekMode.Start);
    for (;;) {
      const n = file.readSync(this.#buf);
      if (n === null || n === 0) break;
      d.push(this.#buf.subarray(0, n), sink);
      this.#report(t);
      sinceYield += n;
      if (sinceYield >= YIELD_BYTES) {
        sinceYield = 0;
        await new Promise((r) => setTimeout(r, 0));
        // Stopped, rotated, or given a new decoder by update() (which resumes at the line offset
        // it saw): this read is over, the next check goes on from the current state.
        if (!this.#running || t.file !== file || t.decoder !== d) return;
        file.seekSync(d.offset, Deno.SeekMode.Start);
      }
    }
    if (t.hash === "" && size > 0) t.hash = firstLineHash(fileAccess(file), size);
    t.live = true;
    this.#report(t);
  }

  #restart(t: Tracked, file: Deno.FsFile, size: number): void {
    t.decoder.reset(0);
    t.skipLine = false;
    t.skipEnd = -1;
    t.head = this.#readHead(file, size);
    t.hash = firstLineHash(fileAccess(file), size);
    t.live = true;
  }

  #lineSink(t: Tracked) {
    const sink = this.#sink;
    return {
      line: (text: string, end: number) => {
        if (t.skipLine || end === t.skipEnd) {
          t.skipLine = false;
          t.skipEnd = -1;
          sink.log("WARNING", `Skipped the line of "${t.path}" ending at ${end}`);
          return;
        }
        if (t.skipEnd >= 0 && end > t.skipEnd) t.skipEnd = -1;
        sink.line(text, t.path, t.live, end);
      },
      oversize: (bytes: number, end: number) => {
        t.skipLine = false;
        if (end >= t.skipEnd) t.skipEnd = -1;
        this.#warnOnce(
          t.path,
          "oversize",
          `Dropped a line of ${bytes} bytes in "${t.path}" ending at ${end}: longer than ${
            this.#options.maxLineBytes ?? 65536
          } bytes`,
        );
      },
    };
  }

  #report(t: Tracked): void {
    const offset = t.decoder.lineOffset;
    if (offset === t.reported) return;
    t.reported = offset;
    this.#sink.position(this.#position(t));
  }

  #position(t: Tracked): LogPosition {
    return { path: t.path, offset: t.decoder.lineOffset, firstLineHash: t.hash };
  }

  #close(t: Tracked): void {
    try {
      t.file?.close();
    } catch {
      // Already closed.
    }
    t.file = null;
    t.ino = null;
    t.reported = -1;
  }

  /** Keys (`path|kind`) of problems already warned about. */
  readonly #warned = new Set<string>();

  #warnOnce(path: string, kind: string, message: string): void {
    const key = `${path}|${kind}`;
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#sink.log("WARNING", message);
  }

  /** Watches the directories of the files (and of their link targets) unless polling is asked for. */
  #updateWatcher(): void {
    const backend = (this.#options.backend ?? "auto").toLowerCase();
    if (!this.#running || backend === "polling" || this.#watchFailed) return;
    const dirs = new Set<string>();
    for (const pattern of this.#patterns) dirs.add(staticDir(pattern));
    for (const path of this.#files.keys()) dirs.add(dirname(path));
    for (const real of this.#aliases.keys()) dirs.add(dirname(real));
    const existing = [...dirs].filter((d) => {
      try {
        return Deno.statSync(d).isDirectory;
      } catch {
        return false;
      }
    }).sort();
    const key = existing.join("\0");
    if (key === this.#watchedDirs && this.#watcher) return;
    this.#watcher?.close();
    this.#watcher = null;
    this.#watchedDirs = key;
    if (existing.length === 0) return;
    let watcher: Deno.FsWatcher;
    try {
      watcher = Deno.watchFs(existing, { recursive: false });
    } catch (e) {
      this.#watchFailed = true;
      this.#sink.log("INFO", `File-system events unavailable (${errText(e)}); polling instead`);
      return;
    }
    this.#watcher = watcher;
    this.#listen(watcher);
  }

  async #listen(watcher: Deno.FsWatcher): Promise<void> {
    try {
      for await (const event of watcher) {
        // Our own reads show up as access events.
        if (event.kind === "access") continue;
        let hit = false;
        for (const p of event.paths) {
          const path = this.#files.has(p) ? p : this.#aliases.get(p);
          if (path !== undefined) {
            this.#dirty.add(path);
            hit = true;
          } else if (
            event.kind === "create" || event.kind === "rename" || event.kind === "remove"
          ) {
            this.#rescan = true;
            hit = true;
          }
        }
        if (hit) this.#pump();
      }
    } catch (e) {
      if (this.#watcher === watcher && this.#running) {
        this.#watcher = null;
        this.#watchFailed = true;
        this.#sink.log("INFO", `File-system events stopped (${errText(e)}); polling instead`);
      }
    }
  }
}

/** The deepest directory of a pattern without glob characters. */
function staticDir(pattern: string): string {
  const i = pattern.search(GLOB_CHARS);
  if (i < 0) return dirname(pattern);
  const slash = pattern.lastIndexOf("/", i);
  return slash <= 0 ? "/" : pattern.slice(0, slash);
}

function matchesGlob(pattern: string, path: string): boolean {
  try {
    return pythonGlob(pattern).some((m) => resolve(m) === path);
  } catch {
    return false;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
