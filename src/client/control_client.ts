/**
 * The client side of the control socket: sends one command, reads its reply.
 *
 * @module
 */

import type { Reply } from "../ipc/messages.ts";
import { encodeFrame, FrameReader, parseReply, writeAll } from "../server/frames.ts";

/** No server accepts connections on the socket. */
export class ServerUnreachableError extends Error {
  /** The socket path tried. */
  readonly socketPath: string;
  /** Builds the error; `cause` is the connect error. */
  constructor(socketPath: string, cause?: unknown) {
    super(`Failed to access socket path: ${socketPath}. Is fail2ban running?`, { cause });
    this.name = "ServerUnreachableError";
    this.socketPath = socketPath;
  }
}

/** The server did not answer in time, or hung up without answering. */
export class NoReplyError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "NoReplyError";
  }
}

/** Options of {@link sendCommand}. */
export interface SendCommandOptions {
  /** Milliseconds to wait for the reply; 0 waits as long as the server works. @default 0 */
  timeout?: number;
  /** Largest reply accepted, in bytes. @default 256 MiB */
  maxReplyBytes?: number;
}

/**
 * Sends `command` (fail2ban-client's words) to the server on `socketPath`
 * and returns its {@link Reply}. Throws {@link ServerUnreachableError} when
 * no server answers on the socket, {@link NoReplyError} on a timeout or a
 * connection closed without a reply.
 */
export async function sendCommand(
  socketPath: string,
  command: string[],
  options: SendCommandOptions = {},
): Promise<Reply> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: socketPath });
  } catch (e) {
    throw new ServerUnreachableError(socketPath, e);
  }
  try {
    try {
      await writeAll(conn, encodeFrame({ type: "command", command }));
    } catch (e) {
      throw new NoReplyError(
        `Cannot send to the server on "${socketPath}": ${e instanceof Error ? e.message : e}`,
      );
    }
    const reader = new FrameReader(conn, {
      maxBytes: options.maxReplyBytes ?? 256 * 1024 * 1024,
      timeout: options.timeout ?? 0,
    });
    let frame: unknown;
    try {
      frame = await reader.next();
    } catch (e) {
      throw new NoReplyError(
        `No reply from the server on "${socketPath}": ${e instanceof Error ? e.message : e}`,
      );
    }
    if (frame === undefined) {
      throw new NoReplyError(`The server on "${socketPath}" closed the connection without a reply`);
    }
    return parseReply(frame);
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}
