/**
 * What the daemon needs from the ban manager, the action executor and the
 * database, as small interfaces: the real classes fit them, and unit tests
 * pass fakes.
 *
 * @module
 */

import type { ActionSpec, JailSpec } from "../config/types.ts";
import type { BanRequest, BanTicket, LogPosition } from "../ipc/messages.ts";

/** One jail's bans in force (src/jail/ban_manager.ts). */
export interface BanManagerPort<H = unknown> {
  /** Makes the ticket for a request, its ban time from the history. */
  createTicket(request: BanRequest, history: H): BanTicket;
  /** Adds a ban; false when the id is already banned. */
  addBan(ticket: BanTicket): boolean;
  /** Removes a ban (manual unban). */
  removeBan(fid: string): unknown;
  /** True when `fid` is banned. */
  isBanned(fid: string): boolean;
  /** The ban of `fid`, if any. */
  getBan(fid: string): BanTicket | undefined | null;
  /** Bans in force. */
  bans(): Iterable<BanTicket>;
  /** End time (epoch seconds) of the next ban to expire, or null. */
  nextUnbanTime(): number | null;
  /** Removes and returns the bans whose end time is at or before `now`. */
  popExpired(now: number): BanTicket[];
  /** Changes bantime and bantime.* for later bans (on reload); bans in force keep theirs. */
  setOptions?(options: { banTime?: number; increment?: JailSpec["bantimeIncrement"] }): void;
  /** Number of bans in force. */
  readonly currentlyBanned: number;
  /** Bans made since the jail started. */
  readonly totalBanned: number;
}

/** The serialized action executor (src/actions/). */
export interface ActionExecutorPort {
  /** Runs actionstart of a jail's actions. */
  startJail(jail: string, actions: ActionSpec[]): Promise<unknown> | unknown;
  /** Flushes the jail's bans from the firewall (actionflush, else actionunban of each of `bans`), then runs actionstop. */
  stopJail(jail: string, bans?: BanTicket[]): Promise<unknown> | unknown;
  /** Runs actionban; false when an action failed. */
  ban(ticket: BanTicket): Promise<boolean>;
  /** Re-applies a ban restored from the database (actionreban, else actionban). */
  reban?(ticket: BanTicket): Promise<boolean>;
  /** Runs actionunban; false when an action failed. */
  unban(ticket: BanTicket): Promise<boolean>;
}

/** The ban database (src/db/ban_database.ts). */
export interface BanDatabasePort<H = unknown> {
  /** Records a ban. */
  addBan(ticket: BanTicket): unknown;
  /** Forgets a ban in force (the history stays). */
  removeBan(jail: string, fid: string): unknown;
  /** Bans whose end is after `now` (and permanent ones). */
  currentBans(now: number): BanTicket[];
  /** Ban history of `fid` in `jail`, or in all jails when null. */
  banHistory(fid: string, jail: string | null): H;
  /** Saves a jail's log positions. */
  savePositions(jail: string, positions: LogPosition[]): unknown;
  /** Log positions saved for a jail. */
  loadPositions(jail: string): LogPosition[];
  /** Saves a `backend = systemd` jail's journal cursor. */
  saveCursor?(jail: string, cursor: string): unknown;
  /** The journal cursor saved for a jail, or null. */
  loadCursor?(jail: string): string | null;
  /** Removes history older than `age` seconds. */
  purge(now: number, age: number): unknown;
  /** Closes the database. */
  close(): unknown;
}

/** Makes a jail's ban manager. */
export type BanManagerFactory = (spec: JailSpec) => BanManagerPort;
