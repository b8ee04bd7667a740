/**
 * Bytes of a log file to text lines, with exact byte offsets for positions.
 *
 * @module
 */

/** Largest line kept, in bytes; longer lines are dropped whole (see {@link LineDecoder}). */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

const LF = 0x0a;
const CR = 0x0d;

/** Options of a {@link LineDecoder}. */
export interface LineDecoderOptions {
  /**
   * `logencoding`: a TextDecoder label (`utf-8`, `latin-1`, `iso-8859-15`, …); `auto` means UTF-8.
   * Only encodings where byte 0x0A is always a line feed are supported (not UTF-16).
   * @default "auto"
   */
  encoding?: string;
  /** Lines longer than this many bytes (without the line end) are dropped. @default 65536 */
  maxLineBytes?: number;
}

/**
 * Maps a Python codec name as written in `logencoding` (`latin-1`, `utf_8`, `iso8859-15`) to a
 * TextDecoder label; `auto` is UTF-8.
 */
export function encodingLabel(encoding: string): string {
  const e = encoding.trim().toLowerCase().replaceAll("_", "-");
  if (e === "auto" || e === "") return "utf-8";
  if (e === "latin-1" || e === "l1" || e === "latin") return "iso-8859-1";
  const iso = /^iso-?8859-?(\d+)$/.exec(e);
  if (iso) return `iso-8859-${iso[1]}`;
  return e;
}

/** Receives decoded lines. */
export interface LineSink {
  /**
   * One complete line, line end and a trailing CR removed; `end` is the byte offset just past
   * its line feed (the position to resume after it).
   */
  line(text: string, end: number): void;
  /** A line of `bytes` bytes ending at `end` exceeded the size cap and was dropped. */
  oversize?(bytes: number, end: number): void;
}

/**
 * Splits a byte stream into lines.
 *
 * Invalid bytes decode to U+FFFD, a trailing CR is removed, NUL bytes are kept as U+0000
 * (plain characters for the regex engine). An incomplete last line is held until its line feed
 * arrives. A line longer than `maxLineBytes` is dropped entirely rather than cut: a cut line could
 * end in attacker-written text that looks like a line end (`… from 10.0.0.1`), so matching a
 * prefix would be unsafe. Memory stays bounded by the cap, and offsets count every byte, so
 * positions stay exact.
 *
 * @example
 * ```ts
 * import { LineDecoder } from "./line_decoder.ts";
 * const lines: string[] = [];
 * const d = new LineDecoder();
 * d.push(new TextEncoder().encode("a\r\nb"), { line: (t) => lines.push(t) });
 * d.push(new TextEncoder().encode("c\n"), { line: (t) => lines.push(t) });
 * if (lines.join("|") !== "a|bc") throw new Error();
 * ```
 */
export class LineDecoder {
  readonly #decoder: TextDecoder;
  readonly #max: number;
  /** Bytes of the held partial line (valid up to #heldLen). */
  #held: Uint8Array = new Uint8Array(0);
  #heldLen = 0;
  /** Total bytes of the current partial line, including dropped ones when over the cap. */
  #partialBytes = 0;
  /** Offset of the next byte to be pushed. */
  #offset: number;

  /** Creates a decoder whose first pushed byte is at `offset`. */
  constructor(options: LineDecoderOptions = {}, offset = 0) {
    const enc = options.encoding ?? "auto";
    const label = encodingLabel(enc);
    try {
      this.#decoder = new TextDecoder(label, { fatal: false, ignoreBOM: true });
    } catch {
      throw new RangeError(`Unknown logencoding: "${enc}"`);
    }
    if (this.#decoder.encoding.startsWith("utf-16")) {
      throw new RangeError(`Unsupported logencoding: "${enc}": UTF-16 logs are not supported`);
    }
    this.#max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.#offset = offset;
  }

  /** Name of the encoding in use (`utf-8`, `windows-1252`, …). */
  get encoding(): string {
    return this.#decoder.encoding;
  }

  /** Offset just past the last complete line: where reading resumes after a restart. */
  get lineOffset(): number {
    return this.#offset - this.#partialBytes;
  }

  /** Offset of the next byte expected. */
  get offset(): number {
    return this.#offset;
  }

  /** Bytes of an incomplete last line held back. */
  get pendingBytes(): number {
    return this.#partialBytes;
  }

  /** Forgets any partial line and continues at `offset` (after a seek or a truncation). */
  reset(offset: number): void {
    this.#heldLen = 0;
    this.#partialBytes = 0;
    this.#offset = offset;
  }

  /** Decodes `chunk`, calling `sink.line` for each line it completes. */
  push(chunk: Uint8Array, sink: LineSink): void {
    const n = chunk.length;
    let start = 0;
    while (start < n) {
      const nl = chunk.indexOf(LF, start);
      if (nl < 0) {
        this.#hold(chunk, start, n);
        break;
      }
      const end = this.#offset + nl + 1;
      if (this.#partialBytes === 0) {
        this.#emit(chunk, start, nl, end, sink);
      } else {
        const total = this.#partialBytes + (nl - start);
        if (this.#heldLen === this.#partialBytes && total <= this.#max + 1) {
          this.#hold(chunk, start, nl);
          this.#emit(this.#held, 0, this.#heldLen, end, sink);
        } else {
          sink.oversize?.(total, end);
        }
        this.#heldLen = 0;
        this.#partialBytes = 0;
      }
      start = nl + 1;
    }
    this.#offset += n;
  }

  /**
   * Emits a held incomplete last line as if it were complete (the file was rotated away and
   * will not grow). Returns true when a line was emitted.
   */
  flush(sink: LineSink): boolean {
    if (this.#partialBytes === 0) return false;
    const had = this.#heldLen === this.#partialBytes;
    if (had) this.#emit(this.#held, 0, this.#heldLen, this.#offset, sink);
    else sink.oversize?.(this.#partialBytes, this.#offset);
    this.#heldLen = 0;
    this.#partialBytes = 0;
    return had;
  }

  #emit(bytes: Uint8Array, from: number, to: number, end: number, sink: LineSink): void {
    if (to - from > this.#max + 1) {
      sink.oversize?.(to - from, end);
      return;
    }
    if (to > from && bytes[to - 1] === CR) to--;
    if (to - from > this.#max) {
      sink.oversize?.(to - from, end);
      return;
    }
    sink.line(this.#decoder.decode(bytes.subarray(from, to)), end);
  }

  #hold(chunk: Uint8Array, from: number, to: number): void {
    const len = to - from;
    const total = this.#partialBytes + len;
    // Keep bytes only while the line can still fit (a CR may follow the cap's last byte).
    if (this.#heldLen === this.#partialBytes && total <= this.#max + 1) {
      if (this.#held.length < total) {
        const grown = new Uint8Array(
          Math.min(this.#max + 1, Math.max(total, this.#held.length * 2, 256)),
        );
        grown.set(this.#held.subarray(0, this.#heldLen));
        this.#held = grown;
      }
      this.#held.set(chunk.subarray(from, to), this.#heldLen);
      this.#heldLen = total;
    }
    this.#partialBytes = total;
  }
}
