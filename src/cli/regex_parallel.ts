/**
 * `f2b regex` on a large log file with two threads: this one reads the
 * first part of the file, a worker (workers/regex_worker.ts) the rest, and
 * the counts are added up. The result is exactly the one-thread result:
 *
 * - the worker first runs the date detector alone over the lines before its
 *   part (cheap), so its detector is in the state this thread's will be;
 * - it then runs the filter over some lines just before its part without
 *   counting them, to fill the filter's cross-line state (the `<F-MLFID>`
 *   cache, the last date), and reports the filter's state fingerprint at the
 *   start of its part and at a few checkpoints after it, counting each
 *   stretch between checkpoints separately;
 * - this thread, at the end of its part, compares its own fingerprint with
 *   the worker's at the same place. Equal states read the same lines the same
 *   way, so the worker's counts from there on are the ones this thread would
 *   have made. When they differ, this thread reads on to the next checkpoint
 *   and compares again, and past the last one it reads the rest itself.
 *
 * Only the plain summary runs this way (no `-v`, `--json`, `-o`, single-line
 * filters): every other output is in line order or needs per-line detail.
 *
 * @module
 */

import type { FilterSpec } from "../config/types.ts";
import type { DateDetectorOptions, TemplateHits } from "../filter/date_detector.ts";
import type { RegexOptions, Stats } from "./regex.ts";

/**
 * Smallest log file split between two threads. Measured on a 2-CPU machine
 * (sshd, `scripts/bench_regex.ts`): a 19 MB log took 0.33 s split against
 * 0.25 s in one thread (the worker needs ~80 ms to start, and both threads
 * run slower side by side); a 97 MB log took 0.93 s against 1.07 s.
 */
export const PARALLEL_MIN_BYTES = 64 << 20;
/** Share of the file's bytes this thread reads: the worker also runs the date detector over the rest. */
const MAIN_SHARE = 0.56;
/** Bytes the worker runs the filter over, uncounted, before its part (to fill the filter's state). */
const WARM_BYTES = 256 << 10;
/** Checkpoints after the start of the worker's part, and the bytes between them. */
const CHECKPOINTS = 6;
const CHECKPOINT_BYTES = 256 << 10;

/** What the worker needs to build the same filter and read its part (main thread → worker). */
export interface RegexWorkerStart {
  type: "start";
  opts: RegexOptions;
  /** The filter as the main thread runs it (maxlines and a command-line ignoreregex applied). */
  spec: FilterSpec;
  detector: DateDetectorOptions;
  useDns: string;
  now: number;
  maxPrint: number;
  path: string;
  /** Line start where the uncounted lines begin. */
  warmStart: number;
  /** Line starts of the checkpoints: the first is the start of the worker's part. */
  checkpoints: number[];
}

/** Worker → main thread. */
export type RegexWorkerMessage =
  | { type: "fingerprint"; index: number; fingerprint: string }
  | {
    type: "done";
    /** Counts of each stretch: from checkpoint i to checkpoint i + 1 (the last to the end of the file). */
    segments: Stats[];
    /** The worker's date template statistics at the end of the file. */
    templateHits: TemplateHits[];
  }
  | { type: "error"; message: string };

/** The byte offset of the first line start at or after `offset` (the file size if none). */
export function lineStartAtOrAfter(file: Deno.FsFile, offset: number, size: number): number {
  if (offset <= 0) return 0;
  if (offset >= size) return size;
  file.seekSync(offset - 1, Deno.SeekMode.Start);
  const buf = new Uint8Array(1 << 14);
  let pos = offset - 1;
  for (;;) {
    const n = file.readSync(buf);
    if (n === null) return size;
    const i = buf.subarray(0, n).indexOf(10);
    if (i >= 0) return pos + i + 1;
    pos += n;
  }
}

/** Where the worker's part, its uncounted lines and its checkpoints start in a file of `size` bytes. */
export function planSplit(
  path: string,
  size: number,
  share = MAIN_SHARE,
  checkpointBytes = CHECKPOINT_BYTES,
  warmBytes = WARM_BYTES,
): { warmStart: number; checkpoints: number[] } {
  const file = Deno.openSync(path, { read: true });
  try {
    const split = lineStartAtOrAfter(file, Math.floor(size * share), size);
    const warmStart = lineStartAtOrAfter(file, split - warmBytes, size);
    const checkpoints = [split];
    for (let i = 1; i <= CHECKPOINTS; i++) {
      const at = lineStartAtOrAfter(file, split + i * checkpointBytes, size);
      if (at >= size || at <= checkpoints.at(-1)!) break;
      checkpoints.push(at);
    }
    return { warmStart, checkpoints };
  } finally {
    file.close();
  }
}

/** Whether `encoding` keeps every LF a 0x0A byte that no other character contains (so a file can be split at one). */
export function splittableEncoding(encoding: string): boolean {
  try {
    const name = new TextDecoder(encoding).encoding;
    return name === "utf-8" || name === "windows-1252" || name.startsWith("iso-8859-");
  } catch {
    return false;
  }
}

/**
 * Adds the counts of `more` (the lines after those of `into`) to `into`,
 * keeping the printed lists as one run over all lines would (the first
 * `maxPrint + 1` ignored and missed lines unless all are to be printed).
 */
export function addStats(into: Stats, more: Stats, maxPrint: number, opts: RegexOptions): void {
  for (const g of more.gaveUp) into.gaveUp.push({ ...g, lineNo: g.lineNo + into.lines });
  into.lines += more.lines;
  into.gaveUpUnexamined ||= more.gaveUpUnexamined;
  into.tested += more.tested;
  into.matched += more.matched;
  into.ignored += more.ignored;
  into.missed += more.missed;
  into.prefHits += more.prefHits;
  for (let i = 0; i < into.failHits.length; i++) into.failHits[i]! += more.failHits[i] ?? 0;
  for (let i = 0; i < into.ignoreHits.length; i++) into.ignoreHits[i]! += more.ignoreHits[i] ?? 0;
  for (const l of more.matchedLines) into.matchedLines.push(l);
  const keep = (list: string[], add: string[], all: boolean) => {
    for (const l of add) {
      if (!all && list.length >= maxPrint + 1) break;
      list.push(l);
    }
  };
  keep(into.ignoredLines, more.ignoredLines, opts.printAllIgnored);
  keep(into.missedLines, more.missedLines, opts.printAllMissed);
}

/**
 * The worker thread's side as seen from the main thread: messages in order,
 * awaited one by one; an error or the worker's death ends the stream.
 */
export class RegexWorker {
  readonly #worker: Worker;
  readonly #queue: RegexWorkerMessage[] = [];
  #wake: (() => void) | null = null;
  #closed = false;

  constructor() {
    this.#worker = new Worker(new URL("../../workers/regex_worker.ts", import.meta.url), {
      type: "module",
    });
    this.#worker.onmessage = (e: MessageEvent<RegexWorkerMessage>) => this.#push(e.data);
    this.#worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#push({ type: "error", message: e.message });
    };
  }

  #push(m: RegexWorkerMessage): void {
    this.#queue.push(m);
    this.#wake?.();
    this.#wake = null;
  }

  /** Sends the work. */
  start(message: RegexWorkerStart): void {
    this.#worker.postMessage(message);
  }

  /** The next message (an error message once the worker failed). */
  async next(): Promise<RegexWorkerMessage> {
    while (this.#queue.length === 0) {
      if (this.#closed) return { type: "error", message: "worker closed" };
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    return this.#queue.shift()!;
  }

  /** Stops the worker. */
  close(): void {
    this.#closed = true;
    this.#worker.terminate();
    this.#wake?.();
  }
}
