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
 * Per id the table keeps a Map entry (an IPv4 id is keyed by its 32-bit
 * value, so no string is kept for it), a few typed-array cells for times and
 * counts, the matched line itself (not an array) while there is one, and the
 * captured values packed in one string, a value equal to the id written as a
 * mark and equal packings shared (a flood of `{user: "root", ip4: <id>}`
 * costs one pointer per id, not an object and two strings).
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
const MIN_CAPACITY = 1024;
/** Distinct data packings remembered for sharing; the cache starts over when full. */
const PACK_CACHE_MAX = 4096;

/**
 * Packs captured values into one string: per key `key NUL length NUL value`, or
 * `key NUL NUL` when the value is the failure id itself. Keys are regex group
 * names (no NUL); values may hold any character (their length is written).
 * Empty data packs to "".
 */
function packData(data: Record<string, string>, fid: string): string {
  let out = "";
  for (const k in data) {
    const v = data[k]!;
    out += v === fid ? `${k}\0\0` : `${k}\0${v.length}\0${v}`;
  }
  return out;
}

/** The record {@link packData} packed, its id marks replaced by `fid`. */
function unpackData(packed: string, fid: string): Record<string, string> {
  const data: Record<string, string> = {};
  let i = 0;
  while (i < packed.length) {
    const k = packed.indexOf("\0", i);
    const key = packed.slice(i, k);
    const l = packed.indexOf("\0", k + 1);
    if (l === k + 1) {
      data[key] = fid;
      i = l + 1;
    } else {
      const len = Number(packed.slice(k + 1, l));
      data[key] = packed.slice(l + 1, l + 1 + len);
      i = l + 1 + len;
    }
  }
  return data;
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The table key of a failure id: a canonical dotted-quad IPv4 text becomes
 * its 32-bit value as a signed integer (a small integer in V8, no string
 * kept); any other id stays a string. The mapping is one-to-one.
 */
function keyOf(fid: string): string | number {
  const n = fid.length;
  if (n < 7 || n > 15) return fid;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = fid.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && part === 0) return fid; // leading zero: not canonical
      part = part * 10 + (c - 0x30);
      if (++digits > 3 || part > 255) return fid;
    } else if (c === 0x2e && digits > 0 && dots < 3) {
      value = value * 256 + part;
      dots++;
      part = 0;
      digits = 0;
    } else return fid;
  }
  if (dots !== 3 || digits === 0) return fid;
  return (value * 256 + part) | 0;
}

function fidOf(key: string | number): string {
  if (typeof key === "string") return key;
  const w = key >>> 0;
  return `${w >>> 24}.${(w >>> 16) & 0xff}.${(w >>> 8) & 0xff}.${w & 0xff}`;
}

/**
 * Failure counting for one jail.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FailManager } from "./fail_manager.ts";
 *
 * const fails = new FailManager({ maxRetry: 3, findTime: 600, maxMatches: 3 });
 * assert.equal(fails.addFailure("192.0.2.7", 1000, ["line 1"], {}), null);
 * assert.equal(fails.addFailure("192.0.2.7", 1100, ["line 2"], {}), null);
 * const ticket = fails.addFailure("192.0.2.7", 1200, ["line 3"], {});
 * assert.equal(ticket?.failures, 3);
 * assert.deepEqual(ticket?.matches, ["line 1", "line 2", "line 3"]);
 * ```
 */
export class FailManager {
  #maxRetry: number;
  #findTime: number;
  #maxMatches: number;
  #maxEntries: number;
  // Key → slot; Map order is update order, so the first key is the oldest.
  readonly #slots = new Map<string | number, number>();
  // Columns indexed by slot: millions of ids cost a few typed-array cells each.
  #first = new Float64Array(0);
  #last = new Float64Array(0);
  #retry = new Float64Array(0);
  #failures = new Uint32Array(0);
  /** One line as a string (the common single-failure case), several as an array. */
  #matches: (string | string[] | null)[] = [];
  /** Captured values packed by {@link packData}, or null when there are none. */
  #data: (string | null)[] = [];
  /** Recent packings, so equal ones are one shared string. */
  readonly #packs = new Map<string, string>();
  #free: number[] = [];
  #used = 0; // slots ever handed out (high-water mark)
  #totalFailed = 0;
  #evicted = 0;
  // Latest failure time of the Map's last key, and whether an id ever went to
  // the end with an earlier time (then cleanup must scan every id).
  #tailTime = -Infinity;
  #disordered = false;

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
    return this.#slots.size;
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
      for (const slot of this.#slots.values()) this.#truncate(slot);
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
    const slots = this.#slots;
    const key = keyOf(fid);
    let slot = slots.get(key);
    if (slot === undefined) {
      if (slots.size >= this.#maxEntries) this.#evictDownTo(this.#maxEntries - 1);
      slot = this.#allocate();
      this.#first[slot] = time;
      this.#last[slot] = time;
      this.#retry[slot] = count;
      this.#failures[slot] = 1;
      let matches: string | string[] | null = null;
      if (this.#maxMatches > 0 && lines.length > 0) {
        matches = lines.length === 1
          ? lines[0]!
          : lines.length > this.#maxMatches
          ? lines.slice(-this.#maxMatches)
          : lines.slice();
      }
      this.#matches[slot] = matches;
      this.#data[slot] = hasKeys(data) ? this.#pack(data, fid) : null;
      slots.set(key, slot);
      this.#noteTail(time);
    } else {
      this.#adjustTime(slot, time);
      this.#retry[slot]! += count;
      this.#failures[slot]! += 1;
      if (this.#maxMatches > 0) {
        if (lines.length > 0) this.#appendMatches(slot, lines);
      } else this.#matches[slot] = null;
      // Move to the end: the Map stays in update order.
      slots.delete(key);
      slots.set(key, slot);
      this.#noteTail(this.#last[slot]!);
    }
    if (this.#retry[slot]! >= this.#maxRetry) return this.#take(key, slot);
    return null;
  }

  /**
   * Adds `count` to the retry count of an id already failing (fail2ban's
   * observer raising the count of a known bad address). Returns the ticket
   * when it now reaches `maxretry`; null when it does not or the id is unknown.
   */
  addRetry(fid: string, count: number): FailTicket | null {
    const key = keyOf(fid);
    const slot = this.#slots.get(key);
    if (slot === undefined) return null;
    this.#retry[slot]! += count;
    if (this.#retry[slot]! >= this.#maxRetry) return this.#take(key, slot);
    return null;
  }

  /** The current state of `fid` as a ticket (a copy), or null when it is not failing. */
  get(fid: string): FailTicket | null {
    const key = keyOf(fid);
    const slot = this.#slots.get(key);
    return slot === undefined ? null : this.#ticket(key, slot);
  }

  /** Whether `fid` is failing. */
  has(fid: string): boolean {
    return this.#slots.has(keyOf(fid));
  }

  /** Ids currently failing, least recently updated first. */
  *ids(): IterableIterator<string> {
    for (const key of this.#slots.keys()) yield fidOf(key);
  }

  /**
   * Drops ids whose latest failure is at or before `now - findtime`. Returns
   * how many. While failures arrive in time order the ids are kept sorted by
   * time and only the expired ones are visited; otherwise every id is checked.
   */
  cleanup(now: number): number {
    const limit = now - this.#findTime;
    const last = this.#last;
    const slots = this.#slots;
    const sorted = !this.#disordered;
    let removed = 0;
    for (const [key, slot] of slots) {
      if (last[slot]! <= limit) {
        slots.delete(key);
        this.#release(slot);
        removed++;
      } else if (sorted) break;
    }
    if (slots.size === 0) this.#resetOrder();
    if (removed > 0) this.#maybeCompact();
    return removed;
  }

  /** Forgets `fid` (after a ban or a manual unban). Returns whether it was failing. */
  forget(fid: string): boolean {
    const key = keyOf(fid);
    const slot = this.#slots.get(key);
    if (slot === undefined) return false;
    this.#slots.delete(key);
    this.#release(slot);
    return true;
  }

  /** Forgets every id. */
  clear(): void {
    this.#slots.clear();
    this.#packs.clear();
    this.#resetOrder();
    this.#resize(0);
    this.#free = [];
    this.#used = 0;
  }

  #pack(data: Record<string, string>, fid: string): string {
    const packed = packData(data, fid);
    const shared = this.#packs.get(packed);
    if (shared !== undefined) return shared;
    if (this.#packs.size >= PACK_CACHE_MAX) this.#packs.clear();
    this.#packs.set(packed, packed);
    return packed;
  }

  #noteTail(time: number): void {
    if (time < this.#tailTime) this.#disordered = true;
    else this.#tailTime = time;
  }

  #resetOrder(): void {
    this.#tailTime = -Infinity;
    this.#disordered = false;
  }

  #take(key: string | number, slot: number): FailTicket {
    const ticket = this.#ticket(key, slot);
    this.#slots.delete(key);
    this.#release(slot);
    return ticket;
  }

  #ticket(key: string | number, slot: number): FailTicket {
    const m = this.#matches[slot] ?? null;
    const data = this.#data[slot] ?? null;
    const fid = fidOf(key);
    return {
      fid,
      failures: this.#failures[slot]!,
      retry: this.#retry[slot]!,
      firstTime: this.#first[slot]!,
      lastTime: this.#last[slot]!,
      matches: m === null ? [] : typeof m === "string" ? [m] : m.slice(),
      data: data === null ? { ...EMPTY_DATA } : unpackData(data, fid),
    };
  }

  #allocate(): number {
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    if (this.#used === this.#first.length) {
      this.#resize(Math.max(MIN_CAPACITY, this.#first.length * 2));
    }
    return this.#used++;
  }

  #release(slot: number): void {
    this.#matches[slot] = null;
    this.#data[slot] = null;
    this.#free.push(slot);
  }

  #resize(capacity: number): void {
    const n = Math.min(this.#used, capacity);
    const grow = (old: Float64Array) => {
      const a = new Float64Array(capacity);
      a.set(old.subarray(0, n));
      return a;
    };
    this.#first = grow(this.#first);
    this.#last = grow(this.#last);
    this.#retry = grow(this.#retry);
    const failures = new Uint32Array(capacity);
    failures.set(this.#failures.subarray(0, n));
    this.#failures = failures;
    this.#matches.length = n;
    this.#data.length = n;
  }

  /** After mass removal, move live ids to the low slots and give memory back. */
  #maybeCompact(): void {
    const capacity = this.#first.length;
    const size = this.#slots.size;
    if (capacity <= MIN_CAPACITY || size * 4 > capacity) return;
    const first = new Float64Array(Math.max(MIN_CAPACITY, size * 2));
    const last = new Float64Array(first.length);
    const retry = new Float64Array(first.length);
    const failures = new Uint32Array(first.length);
    const matches: (string | string[] | null)[] = [];
    const data: (string | null)[] = [];
    let next = 0;
    for (const [key, slot] of this.#slots) {
      first[next] = this.#first[slot]!;
      last[next] = this.#last[slot]!;
      retry[next] = this.#retry[slot]!;
      failures[next] = this.#failures[slot]!;
      matches.push(this.#matches[slot] ?? null);
      data.push(this.#data[slot] ?? null);
      this.#slots.set(key, next++); // same key: keeps its place in the order
    }
    this.#first = first;
    this.#last = last;
    this.#retry = retry;
    this.#failures = failures;
    this.#matches = matches;
    this.#data = data;
    this.#free = [];
    this.#used = next;
  }

  #evictDownTo(size: number): void {
    const slots = this.#slots;
    while (slots.size > size) {
      const oldest = slots.entries().next();
      if (oldest.done) return;
      slots.delete(oldest.value[0]);
      this.#release(oldest.value[1]);
      this.#evicted++;
    }
  }

  #adjustTime(slot: number, time: number): void {
    if (time <= this.#last[slot]!) return;
    const windowStart = time - this.#findTime;
    const first = this.#first[slot]!;
    if (first < windowStart) {
      this.#retry[slot] = roundHalfEven(this.#retry[slot]! / (time - first) * this.#findTime);
      this.#first[slot] = windowStart;
    }
    this.#last[slot] = time;
  }

  #appendMatches(slot: number, lines: string[]): void {
    const max = this.#maxMatches;
    const current = this.#matches[slot] ?? null;
    let list: string[];
    if (current === null) list = [];
    else if (typeof current === "string") list = [current];
    else list = current;
    for (const line of lines) list.push(line);
    if (list.length > max) list.splice(0, list.length - max);
    this.#matches[slot] = list.length === 1 ? list[0]! : list;
  }

  #truncate(slot: number): void {
    const m = this.#matches[slot] ?? null;
    if (this.#maxMatches === 0) this.#matches[slot] = null;
    else if (Array.isArray(m) && m.length > this.#maxMatches) {
      m.splice(0, m.length - this.#maxMatches);
    }
  }
}

function hasKeys(data: Record<string, string>): boolean {
  for (const _ in data) return true;
  return false;
}
