/**
 * Where to start reading a log file: at a saved position when the file is the same one, else at
 * the first line newer than now - findtime, found by bisection on the lines' timestamps so that a
 * multi-gigabyte log is not read from its start.
 *
 * @module
 */

import { md5Hex } from "../util/md5.ts";
import type { LogPosition } from "../ipc/messages.ts";

/** Bytes read per probe of the bisection. */
export const PROBE_WINDOW = 4096;

/** A file read at absolute offsets (synchronously: the worker owns its thread). */
export interface RandomAccess {
  /** Reads into `buf` from `offset`; returns the bytes read (0 at the end). */
  readAt(buf: Uint8Array, offset: number): number;
}

/** {@link RandomAccess} over an open Deno file. */
export function fileAccess(file: Deno.FsFile): RandomAccess {
  return {
    readAt(buf, offset) {
      file.seekSync(offset, Deno.SeekMode.Start);
      let got = 0;
      while (got < buf.length) {
        const n = file.readSync(buf.subarray(got));
        if (n === null || n === 0) break;
        got += n;
      }
      return got;
    },
  };
}

/**
 * MD5 (hex) of the file's first line including its line feed, as fail2ban stores it; "" when the
 * first line is not complete yet. A first line longer than `limit` bytes hashes its first `limit`
 * bytes.
 */
export function firstLineHash(file: RandomAccess, size: number, limit = 64 * 1024): string {
  if (size <= 0) return "";
  // Most first lines are short: read 1 KiB first, the rest only when needed.
  const small = new Uint8Array(Math.min(size, 1024, limit));
  const k = file.readAt(small, 0);
  const first = small.subarray(0, k).indexOf(0x0a);
  if (first >= 0) return md5Hex(small.subarray(0, first + 1));
  if (k < small.length || k === size) return "";
  const buf = new Uint8Array(Math.min(size, limit));
  const n = file.readAt(buf, 0);
  const nl = buf.subarray(0, n).indexOf(0x0a);
  if (nl >= 0) return md5Hex(buf.subarray(0, nl + 1));
  return n >= limit ? md5Hex(buf.subarray(0, n)) : "";
}

/** Options of {@link findStart}. */
export interface FindStartOptions {
  /** File size in bytes. */
  size: number;
  /** Hash of the file's first line ({@link firstLineHash}). */
  hash: string;
  /** Position saved for this path, or null. */
  saved: LogPosition | null;
  /** Start at the first line at or after this time (epoch seconds): now - findtime. */
  since: number;
  /** The time of a line (date detector), or null when it has none. */
  dateOf(line: string): number | null;
  /** Decoder for probed lines. @default UTF-8 */
  decoder?: TextDecoder;
  /** Bytes read per probe. @default 4096 */
  window?: number;
}

/** The outcome of {@link findStart}. */
export interface StartPosition {
  /** Byte offset of the first line to read (always a line start). */
  offset: number;
  /**
   * `saved`: the saved position of the same file; `seek`: the first line within findtime;
   * `end`: nothing recent or no dates, start at the end; `empty`: an empty file.
   */
  reason: "saved" | "seek" | "end" | "empty";
  /** Bytes read to decide, for diagnostics. */
  bytesRead: number;
}

/**
 * Chooses where to start reading a file at first start or restart.
 *
 * With a saved position whose first-line hash matches and that is still a line start, reading
 * resumes there. Otherwise the
 * file is bisected on line timestamps for the first line at or after `since` (fail2ban reads the
 * whole file and drops old lines; seeking reads a few KiB instead). A file with no recognisable
 * dates starts at its end, after the last complete line.
 */
export function findStart(file: RandomAccess, options: FindStartOptions): StartPosition {
  const { size, saved, hash } = options;
  if (size === 0) return { offset: 0, reason: "empty", bytesRead: 0 };
  if (saved && hash !== "" && saved.firstLineHash === hash && saved.offset <= size) {
    // Same first line, but a different file of the same kind could have one too: the saved
    // offset must at least still be a line start.
    if (saved.offset === 0) return { offset: 0, reason: "saved", bytesRead: 0 };
    const before = new Uint8Array(1);
    if (file.readAt(before, saved.offset - 1) === 1 && before[0] === 0x0a) {
      return { offset: saved.offset, reason: "saved", bytesRead: 1 };
    }
  }
  return new Bisector(file, options).run();
}

/**
 * Where a file marked ` tail` (`logpath = FILE tail`) starts: at its end, as fail2ban's, but
 * after the last line feed when its last line is still being written (so that line is read
 * whole once complete). A last line longer than 1 MiB is skipped.
 *
 * @example
 * ```ts
 * import { tailStart } from "./start_position.ts";
 * const bytes = new TextEncoder().encode("old\nold\npart");
 * const file = { readAt: (b: Uint8Array, o: number) => { const p = bytes.subarray(o, o + b.length); b.set(p); return p.length; } };
 * console.assert(tailStart(file, bytes.length) === 8);
 * ```
 */
export function tailStart(file: RandomAccess, size: number): number {
  const buf = new Uint8Array(PROBE_WINDOW);
  let pos = size;
  const stop = Math.max(0, size - 1024 * 1024);
  while (pos > stop) {
    const from = Math.max(stop, pos - buf.length);
    const n = file.readAt(buf.subarray(0, pos - from), from);
    const nl = buf.subarray(0, n).lastIndexOf(0x0a);
    if (nl >= 0) return from + nl + 1;
    pos = from;
  }
  return stop === 0 ? 0 : size;
}

/** A dated line found by a probe. */
interface Probe {
  start: number;
  next: number;
  time: number;
}

class Bisector {
  readonly #file: RandomAccess;
  readonly #size: number;
  readonly #since: number;
  readonly #dateOf: (line: string) => number | null;
  readonly #decoder: TextDecoder;
  readonly #buf: Uint8Array;
  #bytesRead = 0;
  #sawDate = false;

  constructor(file: RandomAccess, options: FindStartOptions) {
    this.#file = file;
    this.#size = options.size;
    this.#since = options.since;
    this.#dateOf = options.dateOf;
    this.#decoder = options.decoder ?? new TextDecoder();
    this.#buf = new Uint8Array(options.window ?? PROBE_WINDOW);
  }

  run(): StartPosition {
    const window = this.#buf.length;
    // Invariant: lo is a line start and every dated line before lo is older than `since`;
    // hi is a line start of a dated line at or after `since`, or the file size.
    let lo = 0;
    let hi = this.#size;
    let hiFound = false;
    let lost = false;
    while (hi - lo > 2 * window) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const probe = this.#probe(mid, hi);
      if (probe === null) {
        // No date near mid: look in the lower half, but never move hi off a line start.
        const low = this.#probe(lo + Math.floor((mid - lo) / 2), mid);
        if (low === null) {
          lost = true;
          break;
        }
        if (low.time >= this.#since) {
          hi = low.start;
          hiFound = true;
        } else lo = low.next;
        continue;
      }
      if (probe.time >= this.#since) {
        hi = probe.start;
        hiFound = true;
      } else lo = probe.next;
    }
    if (lost && !this.#sawDate) {
      return { offset: this.#lastLineEnd(), reason: "end", bytesRead: this.#bytesRead };
    }
    // After losing track in an undated stretch, scan a bounded amount and start where it stops.
    const budget = lost ? 64 * window : Infinity;
    const found = this.#scan(lo, hiFound ? hi : this.#size, budget);
    if (found !== null) return { offset: found, reason: "seek", bytesRead: this.#bytesRead };
    if (hiFound) return { offset: hi, reason: "seek", bytesRead: this.#bytesRead };
    return { offset: this.#lastLineEnd(), reason: "end", bytesRead: this.#bytesRead };
  }

  /** The first dated line starting after `from` (at a line start when `from` is 0) and before `limit`. */
  #probe(from: number, limit: number): Probe | null {
    const n = this.#read(from);
    let i = 0;
    if (from > 0) {
      // `from` may sit inside a line: the line starting at the next LF after from-1.
      const nl = this.#buf.subarray(0, n).indexOf(0x0a);
      if (nl < 0) return null;
      i = nl + 1;
    }
    while (from + i < limit) {
      const nl = this.#buf.subarray(i, n).indexOf(0x0a);
      if (nl < 0) return null;
      const time = this.#dateOf(this.#decoder.decode(this.#buf.subarray(i, i + nl)));
      if (time !== null) {
        this.#sawDate = true;
        return { start: from + i, next: from + i + nl + 1, time };
      }
      i += nl + 1;
    }
    return null;
  }

  /** Reads lines from `lo` for the first dated one at or after `since`, up to `limit`. */
  #scan(lo: number, limit: number, budget: number): number | null {
    let pos = lo;
    while (pos < limit) {
      if (pos - lo > budget) return pos;
      const n = this.#read(pos);
      if (n === 0) break;
      let i = 0;
      let nl: number;
      while ((nl = this.#buf.subarray(i, n).indexOf(0x0a)) >= 0) {
        const time = this.#dateOf(this.#decoder.decode(this.#buf.subarray(i, i + nl)));
        if (time !== null) {
          this.#sawDate = true;
          if (time >= this.#since) return pos + i;
        }
        i += nl + 1;
        if (pos + i >= limit) return null;
      }
      // A line longer than the window: skip to its end.
      if (i === 0) {
        const end = this.#nextLineStart(pos + n);
        if (end === null) return null;
        pos = end;
      } else pos += i;
    }
    return null;
  }

  #nextLineStart(from: number): number | null {
    let pos = from;
    for (;;) {
      const n = this.#read(pos);
      if (n === 0) return null;
      const nl = this.#buf.subarray(0, n).indexOf(0x0a);
      if (nl >= 0) return pos + nl + 1;
      pos += n;
    }
  }

  /** Offset just past the last line feed (the end when the last line is complete). */
  #lastLineEnd(): number {
    let pos = this.#size;
    // A last line longer than this has no line start worth finding.
    const stop = Math.max(0, this.#size - 1024 * 1024);
    while (pos > stop) {
      const from = Math.max(0, pos - this.#buf.length);
      const n = this.#read(from, pos - from);
      const nl = this.#buf.subarray(0, n).lastIndexOf(0x0a);
      if (nl >= 0) return from + nl + 1;
      pos = from;
    }
    return stop === 0 ? 0 : this.#size;
  }

  #read(offset: number, length = this.#buf.length): number {
    const n = this.#file.readAt(this.#buf.subarray(0, length), offset);
    this.#bytesRead += n;
    return n;
  }
}
