/**
 * A jail's `ignoreip` and `ignoreself`: addresses that are never counted or
 * banned.
 *
 * Entries are single addresses (kept in a hash set of canonical texts),
 * networks (`10.0.0.0/8`, `1.2.3.4/255.255.0.0`, `2001:db8::/32`) and host
 * names. Names are resolved in the background through a {@link HostResolver}
 * and re-resolved every `refreshInterval` seconds; {@link IgnoreList.isIgnored}
 * never waits for DNS: until a name has resolved it matches nothing, and when
 * a later lookup fails the last known addresses stay in use. A failure id
 * that is not an address (a raw id with `usedns = raw`) is ignored when it
 * equals a name entry.
 *
 * `ignoreself` ignores the machine's own addresses (every network
 * interface's address, read again at each refresh) plus 127.0.0.0/8 and ::1.
 *
 * @module
 */

import { defaultHostResolver, type HostResolver } from "../net/dns.ts";
import { type IgnoreEntry, parseIgnoreEntry as parseEntry } from "../net/ignore_entry.ts";
import {
  type IPAddress,
  type IPNetwork,
  parseAddress,
  parseNetworkOrThrow,
} from "../net/ip_address.ts";
import type { Logger } from "../log/types.ts";
import { type Clock, SYSTEM_CLOCK } from "../util/clock.ts";

/** Options of {@link IgnoreList}. */
export interface IgnoreListOptions {
  /** `ignoreip` entries: addresses, networks, host names. */
  ignoreip: string[];
  /** `ignoreself`. @default true */
  ignoreself?: boolean;
  /** Resolves host name entries. @default the shared cached DNS resolver */
  resolver?: HostResolver;
  /** Source of time for refreshing names and own addresses. @default SYSTEM_CLOCK */
  clock?: Clock;
  /** Seconds between re-resolving names and re-reading own addresses. @default 300 */
  refreshInterval?: number;
  /** The machine's own addresses. @default every address of Deno.networkInterfaces() */
  selfAddresses?: () => string[];
  /** Where a failed refresh is reported. */
  logger?: Logger;
}

/** Why an address is ignored, in fail2ban's words ("Ignore 1.2.3.4 by ip"). */
export type IgnoreSource = "ignoreself rule" | "ip" | "dns";

type Entry = IgnoreEntry;

const LOOPBACK_V4 = parseNetworkOrThrow("127.0.0.0/8");
const LOOPBACK_V6 = "::1";

/** Addresses of every network interface; empty when they cannot be read (no --allow-sys). */
export function interfaceAddresses(): string[] {
  try {
    return Deno.networkInterfaces().map((i) => i.address);
  } catch {
    return [];
  }
}

/**
 * The ignore rules of one jail.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IgnoreList } from "./ignore_list.ts";
 *
 * const ignore = new IgnoreList({ ignoreip: ["127.0.0.1/8", "192.0.2.0/24"], ignoreself: false });
 * assert.equal(ignore.ignoredBy("192.0.2.9"), "ip");
 * assert.equal(ignore.isIgnored("198.51.100.1"), false);
 * ```
 */
export class IgnoreList {
  readonly #entries = new Map<string, Entry>();
  readonly #singles = new Set<string>();
  #networks: IPNetwork[] = [];
  readonly #names = new Map<string, string[]>();
  readonly #nameAddresses = new Set<string>();
  #ignoreSelf: boolean;
  readonly #selfSet = new Set<string>();
  readonly #resolver: HostResolver;
  readonly #clock: Clock;
  readonly #refreshInterval: number;
  readonly #selfAddresses: () => string[];
  readonly #logger: Logger | null;
  #nextRefresh = -Infinity;
  #pending: Promise<void> = Promise.resolve();

  /** Builds the list; an invalid entry (`10.0.0.0/33`, `a b`) throws a SyntaxError naming it. */
  constructor(options: IgnoreListOptions) {
    this.#ignoreSelf = options.ignoreself ?? true;
    this.#resolver = options.resolver ?? defaultHostResolver();
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#refreshInterval = options.refreshInterval ?? 300;
    this.#selfAddresses = options.selfAddresses ?? interfaceAddresses;
    this.#logger = options.logger ?? null;
    this.#nextRefresh = this.#clock.now() + this.#refreshInterval;
    if (this.#ignoreSelf) this.#readSelf();
    for (const entry of options.ignoreip) this.add(entry);
  }

  /** `ignoreself`. */
  get ignoreSelf(): boolean {
    return this.#ignoreSelf;
  }

  set ignoreSelf(value: boolean) {
    this.#ignoreSelf = value;
    if (value) this.#readSelf();
  }

  /**
   * Adds an `ignoreip` entry. Returns false for an empty entry or a
   * duplicate. Throws a SyntaxError for text that is no address, network or
   * host name. A name starts resolving in the background.
   */
  add(entry: string): boolean {
    const text = entry.trim();
    if (text === "") return false;
    const parsed = parseEntry(text);
    const key = parsed.text;
    if (this.#entries.has(key)) return false;
    this.#entries.set(key, parsed);
    if (parsed.kind === "address") this.#singles.add(key);
    else if (parsed.kind === "network") this.#networks.push(parsed.network);
    else {
      this.#names.set(key, []);
      this.#track(this.#resolveName(key));
    }
    return true;
  }

  /** Removes an entry (as written or in canonical form). Returns whether it was there. */
  remove(entry: string): boolean {
    const text = entry.trim();
    let key: string;
    try {
      key = parseEntry(text).text;
    } catch {
      return false;
    }
    const found = this.#entries.get(key);
    if (!found) return false;
    this.#entries.delete(key);
    if (found.kind === "address") this.#singles.delete(key);
    else if (found.kind === "network") {
      this.#networks = this.#networks.filter((n) => n !== found.network);
    } else {
      this.#names.delete(key);
      this.#rebuildNameAddresses();
    }
    return true;
  }

  /** Removes every entry (`ignoreself` stays as it is). */
  clear(): void {
    this.#entries.clear();
    this.#singles.clear();
    this.#networks = [];
    this.#names.clear();
    this.#nameAddresses.clear();
  }

  /** The entries in canonical form (`10.0.0.0/8`, `2001:db8::1`, `host.example`), in the order added. */
  list(): string[] {
    return [...this.#entries.keys()];
  }

  /** Addresses the name entries currently resolve to. */
  resolvedAddresses(): string[] {
    return [...this.#nameAddresses];
  }

  /** Whether `address` (an IPAddress, address text or raw failure id) is ignored. */
  isIgnored(address: IPAddress | string): boolean {
    return this.ignoredBy(address) !== null;
  }

  /** Which rule ignores `address`, or null when none does. Never waits for DNS. */
  ignoredBy(address: IPAddress | string): IgnoreSource | null {
    this.#maybeRefresh();
    let parsed: IPAddress | null;
    if (typeof address === "string") {
      // Fast path: canonical text found in a hash set without parsing.
      if (this.#ignoreSelf && this.#selfSet.has(address)) return "ignoreself rule";
      if (this.#singles.has(address)) return "ip";
      parsed = parseAddress(address);
      if (parsed === null) {
        return this.#names.has(address.toLowerCase()) ? "dns" : null;
      }
    } else parsed = address;
    const key = parsed.canonical;
    if (this.#ignoreSelf && (this.#selfSet.has(key) || LOOPBACK_V4.contains(parsed))) {
      return "ignoreself rule";
    }
    if (this.#singles.has(key)) return "ip";
    const networks = this.#networks;
    for (let i = 0; i < networks.length; i++) {
      if (networks[i]!.contains(parsed)) return "ip";
    }
    if (this.#nameAddresses.has(key)) return "dns";
    return null;
  }

  /** Re-resolves every name and re-reads own addresses now; resolves when done. */
  refresh(): Promise<void> {
    this.#nextRefresh = this.#clock.now() + this.#refreshInterval;
    if (this.#ignoreSelf) this.#readSelf();
    for (const name of this.#names.keys()) this.#track(this.#resolveName(name));
    return this.settled();
  }

  /** Resolves when every lookup started so far has finished (for tests and start-up). */
  async settled(): Promise<void> {
    let current: Promise<void>;
    do {
      current = this.#pending;
      await current;
    } while (current !== this.#pending);
  }

  #track(p: Promise<void>): void {
    this.#pending = Promise.all([this.#pending, p]).then(() => {});
  }

  #maybeRefresh(): void {
    if (this.#clock.now() < this.#nextRefresh) return;
    this.#nextRefresh = this.#clock.now() + this.#refreshInterval;
    if (this.#ignoreSelf) this.#readSelf();
    for (const name of this.#names.keys()) this.#track(this.#resolveName(name));
  }

  #readSelf(): void {
    const set = this.#selfSet;
    set.clear();
    set.add(LOOPBACK_V6);
    for (const text of this.#selfAddresses()) {
      const a = parseAddress(text);
      if (a) set.add(a.canonical);
    }
  }

  async #resolveName(name: string): Promise<void> {
    let addresses: string[];
    try {
      addresses = await this.#resolver.resolve(name);
    } catch (e) {
      this.#logger?.log("WARNING", `Cannot resolve ignoreip "${name}": ${(e as Error).message}`);
      return;
    }
    // The entry may have been removed meanwhile; a failed lookup keeps the last known addresses.
    if (!this.#names.has(name) || addresses.length === 0) return;
    const canonical: string[] = [];
    for (const text of addresses) {
      const a = parseAddress(text);
      if (a) canonical.push(a.canonical);
    }
    this.#names.set(name, canonical);
    this.#rebuildNameAddresses();
  }

  #rebuildNameAddresses(): void {
    this.#nameAddresses.clear();
    for (const list of this.#names.values()) {
      for (const a of list) this.#nameAddresses.add(a);
    }
  }
}
