/**
 * Counts failures per failure id (canonical address text for hosts) inside
 * `findtime`, as fail2ban's FailManager does, and hands out a {@link FailTicket}
 * when an id reaches `maxretry`.
 *
 * Behaviour kept from fail2ban:
 * - each failure adds one attempt (or `attempts`) to the id's retry count;
 * - the entry's time is its latest failure; a failure older than that does
 *   not move it back;
 * - when a failure comes more than `findtime` after the entry's first one,
 *   the count is re-estimated from the observed rate over the last `findtime`
 *   (`round(retry / (time - first) * findtime)`, first = time - findtime),
 *   so a slow trickle of failures does not add up forever;
 * - `cleanup(now)` drops ids whose latest failure is `findtime` old or more;
 * - the ticket keeps the last `maxmatches` matched lines and the captured
 *   values of the id's first failure;
 * - reaching `maxretry` returns the ticket and forgets the id, so counting
 *   starts again from zero.
 *
 * Memory is bounded: at most `maxEntries` ids are kept; adding a new id to a
 * full table evicts the one updated longest ago (a Map in update order).
 *
 * @module
 */

/** What the fail manager hands out when an id reaches `maxretry`. */
export interface FailTicket {
  /** Failure id: canonical address text, or the raw id. */
  fid: string;
  /** Failures seen (matched lines counted once each). */
  failures: number;
  /** The count compared with `maxretry` (failures, re-estimated over findtime, plus extra attempts). */
  retry: number;
  /** Time of the first failure counted (moved forward when the count is re-estimated), epoch seconds. */
  firstTime: number;
  /** Time of the latest failure, epoch seconds. */
  lastTime: number;
  /** The last `maxmatches` matched lines, oldest first. */
  matches: string[];
  /** Captured `<F-…>` values of the id's first failure. */
  data: Record<string, string>;
}

/** Options of {@link FailManager}. */
export interface FailManagerOptions {
  /** `maxretry`: failures that make a ticket. @default 5 */
  maxRetry: number;
  /** `findtime` in seconds. @default 600 */
  findTime: number;
  /** `maxmatches`: matched lines kept per id; 0 keeps none. @default maxRetry */
  maxMatches: number;
  /** Most ids kept at once; the least recently updated is evicted. @default 1_000_000 */
  maxEntries?: number;
}

const EMPTY_DATA: Readonly<Record<string, string>> = Object.freeze({});

/** One failing id. Small on purpose: millions of these may be alive. */
class FailEntry {
  firstTime: number;
  lastTime: number;
  retry: number;
  failures: number;
  /** One line as a string (the common single-failure case), several as an array, or null. */
  matches: string | string[] | null;
  data: Record<string, string> | null;

  constructor(
    time: number,
    retry: number,
    matches: string | string[] | null,
    data: Record<string, string> | null,
  ) {
    this.firstTime = time;
    this.lastTime = time;
    this.retry = retry;
    this.failures = 1;
    this.matches = matches;
    this.data = data;
  }
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Failure counting for one jail. */
export class FailManager {
  #maxRetry: number;
  #findTime: number;
  #maxMatches: number;
  #maxEntries: number;
  readonly #entries = new Map<string, FailEntry>();
  #totalFailed = 0;
  #evicted = 0;

  /** Creates an empty fail manager. */
  constructor(options: FailManagerOptions) {
    this.#maxRetry = options.maxRetry;
    this.#findTime = options.findTime;
    this.#maxMatches = Math.max(0, options.maxMatches);
    this.#maxEntries = Math.max(1, options.maxEntries ?? 1_000_000);
  }

  /** `maxretry`. */
  get maxRetry(): number {
    return this.#maxRetry;
  }
  /** `findtime` in seconds. */
  get findTime(): number {
    return this.#findTime;
  }
  /** `maxmatches`. */
  get maxMatches(): number {
    return this.#maxMatches;
  }
  /** The cap on ids kept. */
  get maxEntries(): number {
    return this.#maxEntries;
  }
  /** Ids currently failing ("Currently failed" in status). */
  get size(): number {
    return this.#entries.size;
  }
  /** Failures counted since start ("Total failed" in status). */
  get totalFailed(): number {
    return this.#totalFailed;
  }
  /** Ids dropped because the table was full. */
  get evicted(): number {
    return this.#evicted;
  }

  /** Changes options at runtime; a lower `maxEntries` evicts the oldest ids at once. */
  setOptions(options: Partial<FailManagerOptions>): void {
    if (options.maxRetry !== undefined) this.#maxRetry = options.maxRetry;
    if (options.findTime !== undefined) this.#findTime = options.findTime;
    if (options.maxMatches !== undefined) {
      this.#maxMatches = Math.max(0, options.maxMatches);
      for (const entry of this.#entries.values()) this.#truncate(entry);
    }
    if (options.maxEntries !== undefined) {
      this.#maxEntries = Math.max(1, options.maxEntries);
      this.#evictDownTo(this.#maxEntries);
    }
  }

  /** Sets "Total failed" (restored after a restart). */
  setTotalFailed(value: number): void {
    this.#totalFailed = value;
  }

  /**
   * Counts one failure of `fid` at `time` with its matched `lines` and
   * captured `data`. `attempts` is how much the failure adds to the count
   * (@default 1). Returns the ticket, and forgets the id, when the count
   * reaches `maxretry`; otherwise null.
   */
  addFailure(
    fid: string,
    time: number,
    lines: string[],
    data: Record<string, string>,
    attempts = 1,
  ): FailTicket | null {
    this.#totalFailed++;
    const count = attempts > 0 ? attempts : 1;
    const entries = this.#entries;
    let entry = entries.get(fid);
    if (entry === undefined) {
      if (entries.size >= this.#maxEntries) this.#evictDownTo(this.#maxEntries - 1);
      let matches: string | string[] | null = null;
      if (this.#maxMatches > 0 && lines.length > 0) {
        matches = lines.length === 1
          ? lines[0]!
          : lines.length > this.#maxMatches
          ? lines.slice(-this.#maxMatches)
          : lines.slice();
      }
      entry = new FailEntry(time, count, matches, hasKeys(data) ? data : null);
      entries.set(fid, entry);
    } else {
      this.#adjustTime(entry, time);
      entry.retry += count;
      entry.failures++;
      if (this.#maxMatches > 0) {
        if (lines.length > 0) this.#appendMatches(entry, lines);
      } else entry.matches = null;
      // Keep the Map in update order so the first key is the oldest.
      entries.delete(fid);
      entries.set(fid, entry);
    }
    if (entry.retry >= this.#maxRetry) {
      entries.delete(fid);
      return toTicket(fid, entry);
    }
    return null;
  }

  /**
   * Adds `count` to the retry count of an id already failing (fail2ban's
   * observer raising the count of a known bad address). Returns the ticket
   * when it now reaches `maxretry`; null when it does not or the id is unknown.
   */
  addRetry(fid: string, count: number): FailTicket | null {
    const entry = this.#entries.get(fid);
    if (entry === undefined) return null;
    entry.retry += count;
    if (entry.retry >= this.#maxRetry) {
      this.#entries.delete(fid);
      return toTicket(fid, entry);
    }
    return null;
  }

  /** The current state of `fid` as a ticket (a copy), or null when it is not failing. */
  get(fid: string): FailTicket | null {
    const entry = this.#entries.get(fid);
    return entry === undefined ? null : toTicket(fid, entry);
  }

  /** Whether `fid` is failing. */
  has(fid: string): boolean {
    return this.#entries.has(fid);
  }

  /** Ids currently failing, least recently updated first. */
  ids(): IterableIterator<string> {
    return this.#entries.keys();
  }

  /** Drops ids whose latest failure is at or before `now - findtime`. Returns how many. */
  cleanup(now: number): number {
    const limit = now - this.#findTime;
    let removed = 0;
    for (const [fid, entry] of this.#entries) {
      if (entry.lastTime <= limit) {
        this.#entries.delete(fid);
        removed++;
      }
    }
    return removed;
  }

  /** Forgets `fid` (after a ban or a manual unban). Returns whether it was failing. */
  forget(fid: string): boolean {
    return this.#entries.delete(fid);
  }

  /** Forgets every id. */
  clear(): void {
    this.#entries.clear();
  }

  #evictDownTo(size: number): void {
    const entries = this.#entries;
    while (entries.size > size) {
      const oldest = entries.keys().next();
      if (oldest.done) return;
      entries.delete(oldest.value);
      this.#evicted++;
    }
  }

  #adjustTime(entry: FailEntry, time: number): void {
    if (time <= entry.lastTime) return;
    const windowStart = time - this.#findTime;
    if (entry.firstTime < windowStart) {
      entry.retry = roundHalfEven(entry.retry / (time - entry.firstTime) * this.#findTime);
      entry.firstTime = windowStart;
    }
    entry.lastTime = time;
  }

  #appendMatches(entry: FailEntry, lines: string[]): void {
    const max = this.#maxMatches;
    let list: string[];
    if (entry.matches === null) list = [];
    else if (typeof entry.matches === "string") list = [entry.matches];
    else list = entry.matches;
    for (const line of lines) list.push(line);
    if (list.length > max) list.splice(0, list.length - max);
    entry.matches = list.length === 1 ? list[0]! : list;
  }

  #truncate(entry: FailEntry): void {
    if (this.#maxMatches === 0) entry.matches = null;
    else if (Array.isArray(entry.matches) && entry.matches.length > this.#maxMatches) {
      entry.matches.splice(0, entry.matches.length - this.#maxMatches);
    }
  }
}

function hasKeys(data: Record<string, string>): boolean {
  for (const _ in data) return true;
  return false;
}

function toTicket(fid: string, entry: FailEntry): FailTicket {
  const m = entry.matches;
  return {
    fid,
    failures: entry.failures,
    retry: entry.retry,
    firstTime: entry.firstTime,
    lastTime: entry.lastTime,
    matches: m === null ? [] : typeof m === "string" ? [m] : m.slice(),
    data: entry.data === null ? { ...EMPTY_DATA } : { ...entry.data },
  };
}
