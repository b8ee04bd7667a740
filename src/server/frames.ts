/**
 * Newline-delimited JSON frames on the control socket: one JSON value per
 * line, at most {@link MAX_FRAME_BYTES} bytes before the newline.
 *
 * @module
 */

import { MAX_FRAME_BYTES, type Reply, type Request } from "../ipc/messages.ts";

/** A byte stream the frame reader pulls from (a `Deno.Conn` is one). */
export interface ByteSource {
  /** Reads into `p`; resolves to the byte count, or null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
}

/** A frame could not be read; `fatal` means the connection must be closed after replying. */
export class FrameError extends Error {
  /** Whether the stream can go on after this error. */
  readonly fatal: boolean;
  /** Builds the error. */
  constructor(message: string, fatal: boolean) {
    super(message);
    this.name = "FrameError";
    this.fatal = fatal;
  }
}

/** Options of {@link FrameReader}. */
export interface FrameReaderOptions {
  /** Largest frame accepted, in bytes without the newline. @default MAX_FRAME_BYTES */
  maxBytes?: number;
  /**
   * Milliseconds to wait for a complete frame once waiting starts; then
   * {@link FrameReader.next} throws a fatal {@link FrameError}. 0 waits forever.
   * @default 0
   */
  timeout?: number;
}

const NEWLINE = 0x0a;
const CHUNK = 16 * 1024;

/** A timed-out read: {@link FrameReader.next} throws this (fatal). */
export class FrameTimeoutError extends FrameError {
  /** Builds the error for `ms` milliseconds. */
  constructor(ms: number) {
    super(`No complete frame received within ${ms} ms`, true);
    this.name = "FrameTimeoutError";
  }
}

/** The stream ended in the middle of a frame (fatal; nothing to answer). */
export class FrameTruncatedError extends FrameError {
  /** Builds the error. */
  constructor() {
    super("Connection closed in the middle of a frame", true);
    this.name = "FrameTruncatedError";
  }
}

/**
 * Splits a byte stream into JSON frames. `next()` resolves to the next parsed
 * value, to `undefined` at a clean end of stream, and throws a
 * {@link FrameError} for a malformed frame (not fatal: the next frame can be
 * read), an oversized frame, a timeout or a stream ending mid-frame (fatal).
 */
export class FrameReader {
  readonly #source: ByteSource;
  readonly #maxBytes: number;
  readonly #timeout: number;
  #buf: Uint8Array = new Uint8Array(CHUNK);
  /** Bytes in #buf[#start, #end) not yet consumed. */
  #start = 0;
  #end = 0;
  /** Bytes from #start already searched for a newline. */
  #scanned = 0;
  #done = false;
  readonly #decoder = new TextDecoder();

  /** Reads frames from `source`. */
  constructor(source: ByteSource, options: FrameReaderOptions = {}) {
    this.#source = source;
    this.#maxBytes = options.maxBytes ?? MAX_FRAME_BYTES;
    this.#timeout = options.timeout ?? 0;
  }

  /** The next frame's parsed JSON, or undefined at the end of the stream. */
  async next(): Promise<unknown> {
    if (this.#timeout <= 0) return await this.#next();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FrameTimeoutError(this.#timeout)), this.#timeout);
    });
    try {
      return await Promise.race([this.#next(), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #next(): Promise<unknown> {
    while (true) {
      const nl = this.#buf.subarray(this.#start + this.#scanned, this.#end).indexOf(NEWLINE);
      if (nl >= 0) {
        const lineEnd = this.#start + this.#scanned + nl;
        if (lineEnd - this.#start > this.#maxBytes) {
          throw new FrameError(`Frame larger than ${this.#maxBytes} bytes`, true);
        }
        const text = this.#decoder.decode(this.#buf.subarray(this.#start, lineEnd));
        this.#start = lineEnd + 1;
        this.#scanned = 0;
        if (this.#start === this.#end) this.#start = this.#end = 0;
        if (text.trim() === "") continue;
        try {
          return JSON.parse(text);
        } catch (e) {
          throw new FrameError(
            `Malformed frame: ${e instanceof Error ? e.message : String(e)}`,
            false,
          );
        }
      }
      this.#scanned = this.#end - this.#start;
      if (this.#scanned > this.#maxBytes) {
        throw new FrameError(`Frame larger than ${this.#maxBytes} bytes`, true);
      }
      if (this.#done) {
        if (this.#scanned === 0) return undefined;
        throw new FrameTruncatedError();
      }
      this.#makeRoom();
      const n = await this.#source.read(this.#buf.subarray(this.#end));
      if (n === null) this.#done = true;
      else this.#end += n;
    }
  }

  /** Ensures free space after #end: compacts, then grows (never past maxBytes + one chunk). */
  #makeRoom(): void {
    if (this.#end < this.#buf.length) return;
    const used = this.#end - this.#start;
    if (this.#start > 0 && used < this.#buf.length / 2) {
      this.#buf.copyWithin(0, this.#start, this.#end);
    } else {
      const bigger = new Uint8Array(Math.min(this.#buf.length * 2, this.#maxBytes + CHUNK + 1));
      bigger.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = bigger;
    }
    this.#start = 0;
    this.#end = used;
  }
}

const encoder = new TextEncoder();

/** Encodes one message as a frame: its JSON and a newline. */
export function encodeFrame(message: Request | Reply | unknown): Uint8Array<ArrayBuffer> {
  return encoder.encode(JSON.stringify(message) + "\n");
}

/** Writes all of `data` to `w`. */
export async function writeAll(
  w: { write(p: Uint8Array): Promise<number> },
  data: Uint8Array,
): Promise<void> {
  let off = 0;
  while (off < data.length) off += await w.write(data.subarray(off));
}

/**
 * Checks that a decoded frame is a {@link Request}; throws a `TypeError`
 * saying what is wrong otherwise.
 */
export function parseRequest(value: unknown): Request {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError("Invalid request: expected a JSON object");
  }
  const v = value as Record<string, unknown>;
  if (v.type !== "command") {
    throw new TypeError(`Invalid request: unknown type ${JSON.stringify(v.type)}`);
  }
  const command = v.command;
  if (!Array.isArray(command) || !command.every((w) => typeof w === "string")) {
    throw new TypeError('Invalid request: "command" must be an array of strings');
  }
  return { type: "command", command };
}

/**
 * Checks that a decoded frame is a {@link Reply}; throws a `TypeError`
 * otherwise.
 */
export function parseReply(value: unknown): Reply {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError("Invalid reply: expected a JSON object");
  }
  const v = value as Record<string, unknown>;
  if (v.ok === true) return { ok: true, value: v.value ?? null };
  if (v.ok === false && typeof v.error === "object" && v.error !== null) {
    const e = v.error as Record<string, unknown>;
    return {
      ok: false,
      error: { name: String(e.name ?? "Error"), message: String(e.message ?? "") },
    };
  }
  throw new TypeError('Invalid reply: expected "ok" with "value" or "error"');
}
