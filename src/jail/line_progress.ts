/**
 * The line a jail worker is processing, published through shared memory so the supervisor can
 * read it while the worker is stuck (a worker stuck in a regex answers no message).
 *
 * Layout of the {@link SharedArrayBuffer} (Int32 words): a sequence number (odd while the worker
 * writes), a busy flag, the line's end offset (low and high 32 bits), the byte length of the
 * path (-1 when it did not fit), then the path's UTF-8 bytes. The worker writes the path only
 * when it changes, so a line costs a few atomic stores and no allocation.
 *
 * @module
 */

const SEQ = 0;
const BUSY = 1;
const END_LO = 2;
const END_HI = 3;
const PATH_LEN = 4;
const PATH_AT = 32;
const TWO_32 = 2 ** 32;

/** Bytes of the shared buffer a {@link LineProgress} needs. */
export const LINE_PROGRESS_BYTES = 4096;

/** What a stuck worker was doing: the line of `path` that ends at `end`. */
export interface LineInProgress {
  /** Path of the log file. */
  path: string;
  /** Offset just past the line (past its line feed). */
  end: number;
}

/**
 * Both sides of the shared record: the worker calls {@link begin} before a line and {@link done}
 * after it; the supervisor calls {@link current}.
 *
 * @example
 * ```ts
 * import { LINE_PROGRESS_BYTES, LineProgress } from "./line_progress.ts";
 * const buffer = new SharedArrayBuffer(LINE_PROGRESS_BYTES);
 * const worker = new LineProgress(buffer);
 * worker.begin("/var/log/auth.log", 120);
 * const seen = new LineProgress(buffer).current();
 * if (seen?.end !== 120) throw new Error();
 * ```
 */
export class LineProgress {
  readonly #words: Int32Array;
  readonly #bytes: Uint8Array;
  #seq = 0;
  #path: string | null = null;

  /** Wraps a buffer of at least {@link LINE_PROGRESS_BYTES} bytes. */
  constructor(buffer: SharedArrayBuffer) {
    if (buffer.byteLength < LINE_PROGRESS_BYTES) {
      throw new RangeError(`Line progress buffer too small: ${buffer.byteLength} bytes`);
    }
    this.#words = new Int32Array(buffer, 0, PATH_AT / 4);
    this.#bytes = new Uint8Array(buffer, PATH_AT, LINE_PROGRESS_BYTES - PATH_AT);
  }

  /** Worker: the line of `path` ending at `end` is being processed. */
  begin(path: string, end: number): void {
    const w = this.#words;
    const seq = this.#seq = (this.#seq + 2) | 0;
    Atomics.store(w, SEQ, seq - 1);
    if (path !== this.#path) {
      this.#path = path;
      const encoded = new TextEncoder().encode(path);
      if (encoded.length <= this.#bytes.length) {
        this.#bytes.set(encoded);
        Atomics.store(w, PATH_LEN, encoded.length);
      } else Atomics.store(w, PATH_LEN, -1);
    }
    Atomics.store(w, END_LO, end % TWO_32 | 0);
    Atomics.store(w, END_HI, Math.floor(end / TWO_32));
    Atomics.store(w, BUSY, 1);
    Atomics.store(w, SEQ, seq);
  }

  /** Worker: the line is done. */
  done(): void {
    Atomics.store(this.#words, BUSY, 0);
  }

  /** Supervisor: the line being processed, or null when none is (or it cannot be read). */
  current(): LineInProgress | null {
    const w = this.#words;
    for (let attempt = 0; attempt < 1000; attempt++) {
      const seq = Atomics.load(w, SEQ);
      if (seq & 1) continue;
      const busy = Atomics.load(w, BUSY);
      const lo = Atomics.load(w, END_LO) >>> 0;
      const hi = Atomics.load(w, END_HI);
      const len = Atomics.load(w, PATH_LEN);
      const bytes = len > 0 ? this.#bytes.slice(0, len) : null;
      if (Atomics.load(w, SEQ) !== seq) continue;
      if (busy !== 1 || !bytes) return null;
      return { path: new TextDecoder().decode(bytes), end: hi * TWO_32 + lo };
    }
    return null;
  }
}
