/**
 * The control socket: a unix stream socket speaking newline-delimited JSON
 * (see frames.ts), answering each {@link Request} with the command handler.
 *
 * - The socket's directory is created with mode 0700 when missing; the
 *   socket itself is created with mode 0600.
 * - A socket file left by a dead server (nothing accepts on it) is removed;
 *   a live one makes start fail with {@link AlreadyRunningError} unless
 *   `force` (fail2ban-server's `-x`).
 * - Each client is served on its own; a malformed or oversized frame, a
 *   slow client or a client vanishing mid-frame affects only that
 *   connection.
 *
 * @module
 */

import { dirname } from "node:path";
import type { Reply } from "../ipc/messages.ts";
import { MAX_FRAME_BYTES } from "../ipc/messages.ts";
import type { Logger } from "../log/types.ts";
import { handleCommand } from "./command_handler.ts";
import type { ServerControl } from "./control.ts";
import {
  encodeFrame,
  FrameError,
  FrameReader,
  FrameTruncatedError,
  parseRequest,
  writeAll,
} from "./frames.ts";

/** Another server answers on the socket: start refused (unless forced). */
export class AlreadyRunningError extends Error {
  /** The socket path in use. */
  readonly socketPath: string;
  /** Builds the error for `socketPath`. */
  constructor(socketPath: string) {
    super(
      `Server already running: a server answers on socket "${socketPath}" (use -x to replace it)`,
    );
    this.name = "AlreadyRunningError";
    this.socketPath = socketPath;
  }
}

/** Options of {@link startControlServer}. */
export interface ControlServerOptions {
  /** Path of the unix socket. */
  socketPath: string;
  /** The daemon the commands act on. */
  control: ServerControl;
  /** Where connection problems and commands (DEBUG) are logged. */
  logger: Logger;
  /** Replace a live socket instead of refusing to start (`-x`). */
  force: boolean;
  /** Largest request frame in bytes. @default MAX_FRAME_BYTES */
  maxFrameBytes?: number;
  /**
   * Milliseconds a client may take to send a complete request (counted from
   * connect or from the previous reply) before it is disconnected.
   * @default 30000
   */
  requestTimeout?: number;
  /**
   * Milliseconds {@link ControlServer.close} waits for requests being
   * handled to send their replies before closing their connections.
   * @default 5000
   */
  closeGrace?: number;
}

/** A running control socket. */
export interface ControlServer {
  /** The socket path served. */
  readonly socketPath: string;
  /**
   * Stops accepting, removes the socket file, lets requests being handled
   * send their replies (up to `closeGrace`), then closes every connection.
   *
   * Do not await this from inside `ServerControl.stop()`: the `stop`
   * request is itself being handled, so its reply would wait for the
   * grace period. Let `stop()` resolve, then close the server.
   */
  close(): Promise<void>;
}

async function exists(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** Whether a server accepts connections on `path`. */
async function isLive(path: string): Promise<boolean> {
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

function errorReply(e: unknown): Reply {
  if (e instanceof Error) return { ok: false, error: { name: e.name, message: e.message } };
  return { ok: false, error: { name: "Error", message: String(e) } };
}

/**
 * Opens the control socket and serves commands until closed. Throws
 * {@link AlreadyRunningError} when a live server holds the socket (and not
 * `force`), or an `Error` naming the path when the socket cannot be made.
 */
export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const { socketPath, logger, force } = options;
  const dir = dirname(socketPath);
  if (!(await exists(dir))) {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await Deno.chmod(dir, 0o700);
  }
  const existing = await exists(socketPath);
  if (existing) {
    if (await isLive(socketPath)) {
      if (!force) throw new AlreadyRunningError(socketPath);
      logger.log("WARNING", `Replacing the socket "${socketPath}" of a running server (-x)`);
    } else if (!existing.isSocket && !force) {
      throw new Error(
        `Cannot use socket path "${socketPath}": a file that is not a socket is in the way`,
      );
    } else {
      logger.log("WARNING", `Removing stale socket "${socketPath}": no server answers on it`);
    }
    await Deno.remove(socketPath);
  }
  let listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>;
  // Listen is synchronous: the narrowed umask cannot leak to other code.
  const oldUmask = Deno.umask(0o177);
  try {
    listener = Deno.listen({ transport: "unix", path: socketPath });
  } catch (e) {
    throw new Error(
      `Cannot listen on socket "${socketPath}": ${e instanceof Error ? e.message : String(e)}`,
    );
  } finally {
    Deno.umask(oldUmask);
  }
  await Deno.chmod(socketPath, 0o600);
  const server = new ControlServerImpl(listener, options);
  logger.log("DEBUG", `Control socket listening on ${socketPath}`);
  return server;
}

class ControlServerImpl implements ControlServer {
  readonly socketPath: string;
  readonly #listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>;
  readonly #control: ServerControl;
  readonly #logger: Logger;
  readonly #maxFrameBytes: number;
  readonly #requestTimeout: number;
  readonly #closeGrace: number;
  readonly #conns = new Set<Deno.Conn>();
  /** Requests being handled: settle when their reply is written. */
  readonly #inFlight = new Set<Promise<void>>();
  readonly #acceptLoop: Promise<void>;
  #closed = false;

  constructor(
    listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>,
    options: ControlServerOptions,
  ) {
    this.socketPath = options.socketPath;
    this.#listener = listener;
    this.#control = options.control;
    this.#logger = options.logger;
    this.#maxFrameBytes = options.maxFrameBytes ?? MAX_FRAME_BYTES;
    this.#requestTimeout = options.requestTimeout ?? 30_000;
    this.#closeGrace = options.closeGrace ?? 5_000;
    this.#acceptLoop = this.#accept();
  }

  async #accept(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        if (this.#closed || e instanceof Deno.errors.BadResource) return;
        this.#logger.log("ERROR", `Control socket accept failed: ${(e as Error).message}`);
        continue;
      }
      this.#conns.add(conn);
      this.#serve(conn).finally(() => {
        this.#conns.delete(conn);
        try {
          conn.close();
        } catch {
          // already closed
        }
      });
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const reader = new FrameReader(conn, {
      maxBytes: this.#maxFrameBytes,
      timeout: this.#requestTimeout,
    });
    while (!this.#closed) {
      let frame: unknown;
      try {
        frame = await reader.next();
      } catch (e) {
        if (this.#closed) return;
        if (e instanceof FrameTruncatedError) {
          this.#logger.log("DEBUG", `Control socket: ${e.message}`);
          return;
        }
        if (e instanceof FrameError) {
          this.#logger.log("WARNING", `Control socket: ${e.message}`);
          await this.#send(conn, errorReply(e));
          if (e.fatal) return;
          continue;
        }
        // The client went away (reset, broken pipe): nothing to answer.
        return;
      }
      if (frame === undefined) return;
      let done!: () => void;
      const tracked = new Promise<void>((resolve) => (done = resolve));
      this.#inFlight.add(tracked);
      try {
        await this.#send(conn, await this.#answer(frame));
      } finally {
        this.#inFlight.delete(tracked);
        done();
      }
    }
  }

  async #answer(frame: unknown): Promise<Reply> {
    try {
      const request = parseRequest(frame);
      this.#logger.log("DEBUG", `Command: ${JSON.stringify(request.command)}`);
      const value = await handleCommand(this.#control, request.command);
      return { ok: true, value: value ?? null };
    } catch (e) {
      return errorReply(e);
    }
  }

  /** Writes a reply; a client that left is not an error of the server. */
  async #send(conn: Deno.Conn, reply: Reply): Promise<void> {
    let data: Uint8Array;
    try {
      data = encodeFrame(reply);
    } catch (e) {
      data = encodeFrame(errorReply(e));
    }
    try {
      await writeAll(conn, data);
    } catch {
      // the client disconnected before reading its reply
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    await this.#acceptLoop;
    try {
      await Deno.remove(this.socketPath);
    } catch {
      // removed by someone else already
    }
    if (this.#inFlight.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(this.#inFlight),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#closeGrace))),
      ]);
      clearTimeout(timer);
    }
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    this.#conns.clear();
  }
}
