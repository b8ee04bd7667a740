/**
 * The bans in force for one jail, as fail2ban's BanManager keeps them, and
 * the ban time of a new ban (`bantime`, `bantime.increment`) as fail2ban's
 * observer computes it from the ban history.
 *
 * - A ban starts at the time of the failure that caused it (the ticket's
 *   `time`), not at the moment it is applied, and ends `banTime` later; a
 *   negative `banTime` is permanent.
 * - `bantime.increment`: when the address was banned before (history
 *   `banCount` > 0) and the ban is not permanent, the ban time is the
 *   jail's calculator (multipliers or formula, maxtime, rndtime) applied to
 *   (bantime, banCount); the first ban uses `bantime` unchanged.
 * - Expiry order is kept in a min-heap on end time, so the next unban and the
 *   expired bans are found without scanning every ban.
 *
 * @module
 */

import type { BanTimeIncrement } from "../config/types.ts";
import type { BanRequest, BanTicket } from "../ipc/messages.ts";
import type { Logger } from "../log/types.ts";
import type { Clock } from "../util/clock.ts";
import { type BanTimeCalculator, makeBanTimeCalculator } from "./bantime_formula.ts";

/** What the database knows of an id's earlier bans. */
export interface BanHistory {
  /** Earlier bans of this id (fail2ban's `bips.bancount`; 0 when never banned). */
  banCount: number;
  /** Duration of the last ban in seconds, or null; kept for callers, unused in the computation (as in fail2ban). */
  lastBanTime: number | null;
}

/** Options of {@link BanManager}. */
export interface BanManagerOptions {
  /** Jail name. */
  jail: string;
  /** `bantime` in seconds; negative is permanent. */
  banTime: number;
  /** `bantime.*` options. */
  increment: BanTimeIncrement;
  /** Source of "now". */
  clock: Clock;
  /** Random numbers in [0, 1) for `bantime.rndtime`. @default Math.random */
  random?: () => number;
  /** Where formula errors are reported (the ban then keeps `bantime`). */
  logger?: Logger;
}

/** Outcome of {@link BanManager.add}. */
export type AddBanResult =
  /** Now banned. */
  | "banned"
  /** Already banned; the ban in force ends no earlier than the new one would. */
  | "already"
  /** Already banned; the ban in force was prolonged to end when the new one would. */
  | "prolonged"
  /** The ban would already have ended: ignored. */
  | "expired";

interface HeapEntry {
  end: number;
  ticket: BanTicket;
}

/** End of a ban in epoch seconds; Infinity when permanent. */
export function banEndTime(ticket: BanTicket): number {
  return ticket.banTime < 0 ? Infinity : ticket.time + ticket.banTime;
}

/**
 * fail2ban's observer raising the failure count of a known bad address:
 * one new failure of an id banned `banCount` times counts as
 * `2^banCount / 2 + 1` (2, 3, 5, 9, …), at most `maxRetry`.
 */
export function badAddressRetry(banCount: number, maxRetry: number): number {
  const n = banCount < 20 ? banCount : 20;
  return Math.min(2 ** n / 2 + 1, maxRetry);
}

/** The bans of one jail. */
export class BanManager {
  /** Name of the jail. */
  readonly jail: string;
  #banTime: number;
  #increment: BanTimeIncrement;
  #calculator: BanTimeCalculator;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #logger: Logger | null;
  readonly #bans = new Map<string, BanTicket>();
  #heap: HeapEntry[] = [];
  #totalBanned = 0;

  /** Creates an empty ban manager; an invalid `bantime.formula` throws a SyntaxError. */
  constructor(options: BanManagerOptions) {
    this.jail = options.jail;
    this.#banTime = options.banTime;
    this.#increment = options.increment;
    this.#clock = options.clock;
    this.#random = options.random ?? Math.random;
    this.#logger = options.logger ?? null;
    this.#calculator = makeBanTimeCalculator(
      options.increment,
      this.#random,
      `[${options.jail}] bantime.formula`,
    );
  }

  /** `bantime` in seconds; negative is permanent. */
  get banTime(): number {
    return this.#banTime;
  }

  /** `bantime.*` options. */
  get increment(): BanTimeIncrement {
    return this.#increment;
  }

  /** Changes `bantime` or `bantime.*` for later bans; bans in force keep theirs. */
  setOptions(options: { banTime?: number; increment?: BanTimeIncrement }): void {
    if (options.increment !== undefined) {
      this.#calculator = makeBanTimeCalculator(
        options.increment,
        this.#random,
        `[${this.jail}] bantime.formula`,
      );
      this.#increment = options.increment;
    }
    if (options.banTime !== undefined) this.#banTime = options.banTime;
  }

  /**
   * The ban time for an id with `history`: `bantime`, or the increment
   * calculator's value when increment is on, the id was banned before and
   * the ban is not permanent. A failing formula logs an error and keeps
   * `bantime`, as fail2ban does.
   */
  computeBanTime(banCount: number): number {
    const base = this.#banTime;
    if (!this.#increment.enabled || base <= 0 || banCount <= 0) return base;
    try {
      const t = this.#calculator(base, banCount);
      if (Number.isNaN(t)) throw new RangeError("result is not a number");
      return t;
    } catch (e) {
      this.#logger?.log(
        "ERROR",
        `[${this.jail}] Cannot compute bantime.formula for ban count ${banCount}: ${
          (e as Error).message
        }`,
      );
      return base;
    }
  }

  /** Makes the ticket for a ban request, its ban time computed from the ban `history`. */
  createTicket(request: BanRequest, history: BanHistory): BanTicket {
    return {
      jail: this.jail,
      fid: request.fid,
      family: request.family,
      time: request.time,
      banTime: this.computeBanTime(history.banCount),
      banCount: history.banCount,
      failures: request.failures,
      matches: request.matches,
      data: request.data,
    };
  }

  /** Adds a ban; false when it was already banned (fail2ban logs "already banned") or already expired. */
  addBan(ticket: BanTicket): boolean {
    return this.add(ticket) === "banned";
  }

  /**
   * Adds a ban and says what happened. An id already banned is not banned
   * again, but when the new ban would end later, the one in force is
   * prolonged (its ticket's `banTime` is updated in place, as fail2ban does).
   */
  add(ticket: BanTicket): AddBanResult {
    const end = banEndTime(ticket);
    if (end < this.#clock.now()) return "expired";
    const old = this.#bans.get(ticket.fid);
    if (old !== undefined) {
      if (end > banEndTime(old)) {
        // As fail2ban: the new duration, plus the delay of the new ban's start when later.
        old.banTime = ticket.banTime < 0
          ? -1
          : ticket.banTime + Math.max(0, ticket.time - old.time);
        if (old.banTime >= 0) this.#push({ end: banEndTime(old), ticket: old });
        return "prolonged";
      }
      return "already";
    }
    this.#bans.set(ticket.fid, ticket);
    this.#totalBanned++;
    if (end !== Infinity) this.#push({ end, ticket });
    return "banned";
  }

  /** Removes the ban of `fid` (manual unban); the ticket, or null when it was not banned. */
  removeBan(fid: string): BanTicket | null {
    const ticket = this.#bans.get(fid);
    if (ticket === undefined) return null;
    this.#bans.delete(fid);
    // Its heap entry goes stale; compact when stale entries dominate.
    if (this.#heap.length > 64 && this.#heap.length > 2 * this.#bans.size) this.#rebuild();
    return ticket;
  }

  /** Whether `fid` is banned. */
  isBanned(fid: string): boolean {
    return this.#bans.has(fid);
  }

  /** The ban of `fid`, or null. */
  getBan(fid: string): BanTicket | null {
    return this.#bans.get(fid) ?? null;
  }

  /** Bans in force, in the order they were made. */
  bans(): BanTicket[] {
    return [...this.#bans.values()];
  }

  /** Banned ids, in the order they were banned. */
  ids(): string[] {
    return [...this.#bans.keys()];
  }

  /** End of `ticket`'s ban in epoch seconds; Infinity when permanent. */
  endTime(ticket: BanTicket): number {
    return banEndTime(ticket);
  }

  /** When the next ban ends, or null when no ban in force ends. */
  nextUnbanTime(): number | null {
    this.#dropStale();
    return this.#heap[0]?.end ?? null;
  }

  /**
   * Removes and returns the bans that have ended by `now` (end time at or
   * before `now`), earliest first, at most `max` of them.
   */
  popExpired(now: number, max = Infinity): BanTicket[] {
    const out: BanTicket[] = [];
    while (out.length < max) {
      this.#dropStale();
      const top = this.#heap[0];
      if (top === undefined || top.end > now) break;
      this.#pop();
      this.#bans.delete(top.ticket.fid);
      out.push(top.ticket);
    }
    return out;
  }

  /** Removes every ban and returns them (jail stop, `unban --all`). */
  flush(): BanTicket[] {
    const all = [...this.#bans.values()];
    this.#bans.clear();
    this.#heap = [];
    return all;
  }

  /** Bans in force ("Currently banned"). */
  get currentlyBanned(): number {
    return this.#bans.size;
  }

  /** Bans made since start ("Total banned"). */
  get totalBanned(): number {
    return this.#totalBanned;
  }

  /** Sets "Total banned" (restored after a restart). */
  setTotalBanned(value: number): void {
    this.#totalBanned = value;
  }

  #isLive(entry: HeapEntry): boolean {
    return this.#bans.get(entry.ticket.fid) === entry.ticket &&
      banEndTime(entry.ticket) === entry.end;
  }

  #dropStale(): void {
    while (this.#heap.length > 0 && !this.#isLive(this.#heap[0]!)) this.#pop();
  }

  #rebuild(): void {
    this.#heap = this.#heap.filter((e) => this.#isLive(e));
    for (let i = (this.#heap.length >> 1) - 1; i >= 0; i--) this.#siftDown(i);
  }

  #push(entry: HeapEntry): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.end <= entry.end) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    heap[0] = last;
    this.#siftDown(0);
  }

  #siftDown(start: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const entry = heap[start]!;
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && heap[child + 1]!.end < heap[child]!.end) child++;
      if (heap[child]!.end >= entry.end) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = entry;
  }
}
