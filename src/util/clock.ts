/**
 * The source of "now" for every component. Nothing reads the wall clock
 * directly, so tests can pin time (fail2ban's samples assume 2005-08-14 12:00
 * CEST) and move it forward without sleeping.
 *
 * @module
 */

/** A source of the current time. */
export interface Clock {
  /** Current time as epoch seconds (fractional), as fail2ban counts time. */
  now(): number;
}

/** The real wall clock. */
export const SYSTEM_CLOCK: Clock = { now: () => Date.now() / 1000 };

/** A clock that tests set and advance by hand. */
export class ManualClock implements Clock {
  #now: number;
  /** Starts at `start` epoch seconds. */
  constructor(start: number) {
    this.#now = start;
  }
  /** Current pinned time in epoch seconds. */
  now(): number {
    return this.#now;
  }
  /** Moves time to `t` epoch seconds. */
  set(t: number): void {
    this.#now = t;
  }
  /** Moves time forward by `seconds`. */
  advance(seconds: number): void {
    this.#now += seconds;
  }
}
