/**
 * Every message that crosses a thread or a socket, as discriminated unions on
 * `type`, so both sides are type-checked against the same definitions.
 *
 * - Main thread → jail worker: {@link ToWorker}
 * - Jail worker → main thread: {@link FromWorker}
 * - Client ↔ server: {@link Request} / {@link Reply}, newline-delimited JSON
 *
 * @module
 */

import type { JailSpec } from "../config/types.ts";

/** Saved read position of one log file. */
export interface LogPosition {
  /** Absolute path of the log file. */
  path: string;
  /** Byte offset of the first unread byte. */
  offset: number;
  /** Hash of the file's first line, to detect rotation across restarts. */
  firstLineHash: string;
}

/** What a worker sends to ask for a ban: one address reached maxretry. */
export interface BanRequest {
  /** Name of the jail that asks. */
  jail: string;
  /** Canonical failure id (canonical address text for hosts). */
  fid: string;
  /** Address family when `fid` is an address, else null. */
  family: "inet4" | "inet6" | null;
  /** Number of failures counted. */
  failures: number;
  /** Time of the last failure, epoch seconds. */
  time: number;
  /** Matched lines kept (at most maxmatches). */
  matches: string[];
  /** Captured `<F-…>` values of the last failure (user, …). */
  data: Record<string, string>;
}

/** Main thread → jail worker. */
export type ToWorker =
  | {
    type: "start";
    spec: JailSpec;
    /** Positions saved in the database, by path. */
    positions: LogPosition[];
    /** Resume at these positions but skip the line starting there (after a hang). */
    skipLineAt: LogPosition | null;
    /**
     * With `skipLineAt`: skip instead the line of that file that ends at this offset (the line the
     * previous worker was stuck on, read from its `progress`); lines before it are read again.
     */
    skipLineEnd?: number;
    /**
     * Shared memory where the worker publishes the line it is processing (a `LineProgress`,
     * src/jail/line_progress.ts), read by the supervisor when the worker stops answering.
     */
    progress?: SharedArrayBuffer;
    /**
     * True when `positions` were read from the database (the daemon's or `start <jail>`'s start):
     * a file of a `logpath` entry marked ` tail` then starts at its end regardless, as fail2ban's.
     * Absent on a worker restart or `idle off`, which resume where the previous worker was.
     */
    fromDatabase?: boolean;
    /** `backend = systemd`: the journal cursor saved in the database, resumed after. */
    cursor?: string | null;
    /** `backend = systemd`: skip the first entry after `cursor` (it hung the previous worker). */
    skipEntry?: boolean;
  }
  | { type: "ping"; seq: number }
  /** Replace settings of the running jail (maxretry, findtime, regexes, ignoreip, logpaths…). */
  | { type: "update"; spec: JailSpec }
  /** Forget failures of an address (after a ban or a manual unban). */
  | { type: "forget"; fid: string }
  /**
   * `set <jail> attempt <ip> [<match> …]`: count `attempts` failures of `fid` at `time` with the
   * failures read from the log (ignoreip not consulted, as in fail2ban); a ban request follows
   * when the id reaches maxretry.
   */
  | {
    type: "attempt";
    fid: string;
    family: "inet4" | "inet6" | null;
    time: number;
    matches: string[];
    attempts: number;
  }
  | { type: "stop" };

/** Jail worker → main thread. */
export type FromWorker =
  | { type: "ready"; jail: string }
  | { type: "pong"; seq: number }
  /** A failure was counted: `[jail] Found <fid> - <time>` in the log. */
  | { type: "found"; jail: string; fid: string; time: number }
  /**
   * Failures counted, in order (`fids[i]` at `times[i]`), posted together: a jail worker sends
   * the failures of each processed chunk in one message, before any other message that follows
   * them (a `ban` request above all), so a flood costs the main thread one message per chunk.
   */
  | { type: "foundBatch"; jail: string; fids: string[]; times: number[] }
  | { type: "ban"; request: BanRequest }
  /** Read positions, sent after each processed chunk (for the database and for restarts). */
  | { type: "positions"; jail: string; positions: LogPosition[] }
  /**
   * `backend = systemd`: cursor of the last journal entry processed, sent after each chunk and
   * at stop (for the database, `BanDatabase.saveCursor`, and for restarts).
   */
  | { type: "cursor"; jail: string; cursor: string }
  | {
    type: "stats";
    jail: string;
    currentlyFailed: number;
    totalFailed: number;
    /** Distinct failing ids evicted because of the memory cap. */
    evicted: number;
    files: string[];
  }
  | { type: "log"; jail: string; level: LogLevel; message: string }
  | { type: "stopped"; jail: string };

/** Log levels, fail2ban's names. */
export type LogLevel = "CRITICAL" | "ERROR" | "WARNING" | "NOTICE" | "INFO" | "DEBUG";

/** Client → server: a fail2ban-client command as its words, e.g. `["status", "sshd"]`. */
export interface Request {
  /** Always `"command"`. */
  type: "command";
  /** The command's words. */
  command: string[];
}

/** Server → client. */
export type Reply =
  | { ok: true; value: unknown }
  | { ok: false; error: { name: string; message: string } };

/** Largest socket frame accepted, in bytes. */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** A ban in force (or being applied): what the ban manager, database and actions share. */
export interface BanTicket {
  /** Name of the jail that bans. */
  jail: string;
  /** Canonical failure id (address text for hosts). */
  fid: string;
  /** Address family when `fid` is an address, else null. */
  family: "inet4" | "inet6" | null;
  /** Ban start, epoch seconds. */
  time: number;
  /** Ban duration in seconds; negative means permanent. */
  banTime: number;
  /** How many times this id was banned before this ban (0 for the first; from the ban history). */
  banCount: number;
  /** Failures that led to the ban. */
  failures: number;
  /** Matched lines. */
  matches: string[];
  /** Captured `<F-…>` values. */
  data: Record<string, string>;
}

/** One failure a worker reported, from a `found` or a `foundBatch` message. */
export interface FoundEvent {
  /** Always `"found"`. */
  type: "found";
  /** Name of the jail. */
  jail: string;
  /** Canonical failure id. */
  fid: string;
  /** Time of the failure, epoch seconds. */
  time: number;
}

/**
 * The failures reported by `messages` (`found` and `foundBatch`), one event each, in order.
 *
 * @example
 * ```ts
 * import { foundEvents } from "./messages.ts";
 * const events = foundEvents([{ type: "foundBatch", jail: "j", fids: ["a", "b"], times: [1, 2] }]);
 * if (events.length !== 2 || events[1]!.fid !== "b") throw new Error();
 * ```
 */
export function foundEvents(messages: readonly FromWorker[]): FoundEvent[] {
  const out: FoundEvent[] = [];
  for (const m of messages) {
    if (m.type === "found") out.push({ type: "found", jail: m.jail, fid: m.fid, time: m.time });
    else if (m.type === "foundBatch") {
      for (let i = 0; i < m.fids.length; i++) {
        out.push({ type: "found", jail: m.jail, fid: m.fids[i]!, time: m.times[i]! });
      }
    }
  }
  return out;
}
