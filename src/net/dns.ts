/**
 * Host name resolution with a small cache and a timeout, and fail2ban's
 * `usedns` rules for turning the host text a failregex captured into
 * addresses:
 *
 * - the text is an IP address: that address, whatever `usedns` says;
 * - `yes`: resolve the name (A and AAAA), one failure per address;
 * - `warn`: the same, and log a warning "Determined IP using DNS Lookup";
 * - `no`: names are not resolved, the failure is dropped;
 * - `raw`: the text is kept as the failure id as it is (the filter does this
 *   before calling here; {@link hostToFailureIds} covers it).
 *
 * @module
 */

import { type Clock, SYSTEM_CLOCK } from "../util/clock.ts";
import type { Logger } from "../log/types.ts";
import { type IPAddress, parseAddress } from "./ip_address.ts";

/** fail2ban's `usedns` values. */
export type UseDns = "yes" | "warn" | "no" | "raw";

/**
 * Reads a `usedns` value (case-insensitive; `true`/`false` as `yes`/`no`).
 * Returns null for anything else (fail2ban logs an error and uses `no`).
 */
export function parseUseDns(value: string): UseDns | null {
  const v = value.trim().toLowerCase();
  if (v === "yes" || v === "warn" || v === "no" || v === "raw") return v;
  if (v === "true") return "yes";
  if (v === "false") return "no";
  return null;
}

/** Something that turns a host name into address texts. */
export interface HostResolver {
  /** Canonical address texts of `name` (A and AAAA), empty when it does not resolve. Never rejects. */
  resolve(name: string): Promise<string[]>;
}

/** Options of {@link DnsResolver}. */
export interface DnsResolverOptions {
  /** Source of time for cache expiry. @default SYSTEM_CLOCK */
  clock?: Clock;
  /** Seconds before a lookup is given up. @default 5 */
  timeout?: number;
  /** Seconds a result (also an empty one) is kept. @default 300 */
  cacheTime?: number;
  /** Names kept in the cache; the oldest go first. @default 1000 */
  maxEntries?: number;
  /** Record lookup, replaceable in tests. @default Deno.resolveDns */
  lookup?: (name: string, type: "A" | "AAAA", signal: AbortSignal) => Promise<string[]>;
  /** A hosts file consulted before DNS (as getaddrinfo does), or null for none. @default "/etc/hosts" */
  hostsFile?: string | null;
  /** Where failed lookups are reported (WARNING, as fail2ban). */
  logger?: Logger;
}

interface CacheEntry {
  addresses: string[];
  expires: number;
}

/** A caching resolver over `Deno.resolveDns` (A and AAAA) and the hosts file. */
export class DnsResolver implements HostResolver {
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #cacheTime: number;
  readonly #maxEntries: number;
  readonly #lookup: (name: string, type: "A" | "AAAA", signal: AbortSignal) => Promise<string[]>;
  readonly #hostsFile: string | null;
  readonly #logger: Logger | null;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inflight = new Map<string, Promise<string[]>>();
  #hosts: Map<string, string[]> | null = null;
  #hostsExpires = 0;

  /** Creates a resolver; see {@link DnsResolverOptions}. */
  constructor(options: DnsResolverOptions = {}) {
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#timeoutMs = (options.timeout ?? 5) * 1000;
    this.#cacheTime = options.cacheTime ?? 300;
    this.#maxEntries = options.maxEntries ?? 1000;
    this.#lookup = options.lookup ??
      ((name, type, signal) => Deno.resolveDns(name, type, { signal }));
    this.#hostsFile = options.hostsFile === undefined ? "/etc/hosts" : options.hostsFile;
    this.#logger = options.logger ?? null;
  }

  /** The cached addresses of `name` when still fresh, else undefined. Never starts a lookup. */
  cached(name: string): string[] | undefined {
    const key = name.toLowerCase();
    const entry = this.#cache.get(key);
    if (!entry) return undefined;
    if (entry.expires <= this.#clock.now()) {
      this.#cache.delete(key);
      return undefined;
    }
    return entry.addresses;
  }

  /** Resolves `name`, from the cache when fresh; concurrent calls share one lookup. */
  resolve(name: string): Promise<string[]> {
    const key = name.toLowerCase();
    const hit = this.cached(key);
    if (hit) return Promise.resolve(hit);
    const pending = this.#inflight.get(key);
    if (pending) return pending;
    const promise = this.#resolveUncached(key).then((addresses) => {
      this.#inflight.delete(key);
      this.#store(key, addresses);
      return addresses;
    });
    this.#inflight.set(key, promise);
    return promise;
  }

  /** Drops every cached result. */
  clear(): void {
    this.#cache.clear();
    this.#hosts = null;
  }

  /** Number of cached names. */
  get size(): number {
    return this.#cache.size;
  }

  #store(key: string, addresses: string[]): void {
    this.#cache.delete(key);
    while (this.#cache.size >= this.#maxEntries) {
      const oldest = this.#cache.keys().next();
      if (oldest.done) break;
      this.#cache.delete(oldest.value);
    }
    this.#cache.set(key, { addresses, expires: this.#clock.now() + this.#cacheTime });
  }

  async #resolveUncached(name: string): Promise<string[]> {
    const literal = parseAddress(name);
    if (literal) return [literal.canonical];
    const fromHosts = (await this.#hostsTable()).get(name);
    if (fromHosts && fromHosts.length > 0) return fromHosts;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#timeoutMs);
    const errors: string[] = [];
    try {
      const results = await Promise.all(
        (["A", "AAAA"] as const).map((type) =>
          this.#lookup(name, type, controller.signal).catch((e: unknown) => {
            errors.push(e instanceof Error ? e.message : String(e));
            return [] as string[];
          })
        ),
      );
      const seen = new Set<string>();
      for (const list of results) {
        for (const text of list) {
          const address = parseAddress(text);
          if (address) seen.add(address.canonical);
        }
      }
      if (seen.size === 0 && errors.length > 0) {
        this.#logger?.log(
          "WARNING",
          `Unable to find a corresponding IP address for ${name}: ${errors[0]}`,
        );
      }
      return [...seen];
    } finally {
      clearTimeout(timer);
    }
  }

  async #hostsTable(): Promise<Map<string, string[]>> {
    const now = this.#clock.now();
    if (this.#hosts && now < this.#hostsExpires) return this.#hosts;
    const table = new Map<string, string[]>();
    if (this.#hostsFile !== null) {
      let text = "";
      try {
        text = await Deno.readTextFile(this.#hostsFile);
      } catch {
        // no hosts file: DNS only
      }
      parseHostsFile(text, table);
    }
    this.#hosts = table;
    this.#hostsExpires = now + this.#cacheTime;
    return table;
  }
}

/** Adds the entries of a hosts file's text to `table` (lowercase name → canonical addresses). */
export function parseHostsFile(text: string, table: Map<string, string[]>): void {
  for (const raw of text.split("\n")) {
    const hash = raw.indexOf("#");
    const line = hash >= 0 ? raw.slice(0, hash) : raw;
    const fields = line.trim().split(/\s+/);
    if (fields.length < 2) continue;
    const address = parseAddress(fields[0]!);
    if (!address) continue;
    for (const name of fields.slice(1)) {
      const key = name.toLowerCase();
      const list = table.get(key);
      if (!list) table.set(key, [address.canonical]);
      else if (!list.includes(address.canonical)) list.push(address.canonical);
    }
  }
}

let defaultResolver: DnsResolver | null = null;

/** The process-wide resolver (system clock, 5 s timeout, 5 min cache of 1000 names). */
export function defaultHostResolver(): DnsResolver {
  defaultResolver ??= new DnsResolver();
  return defaultResolver;
}

/** Resolves `name` to canonical address texts (A and AAAA) through the shared cached resolver. */
export function resolveHost(name: string): Promise<string[]> {
  return defaultHostResolver().resolve(name);
}

/**
 * fail2ban's `DNSUtils.textToIp`: the address when `text` is one; otherwise,
 * with `usedns` `yes` or `warn`, the addresses it resolves to (a promise);
 * otherwise none. Returns synchronously whenever no lookup is needed.
 */
export function textToIp(
  text: string,
  useDns: UseDns,
  resolver: HostResolver = defaultHostResolver(),
  logger?: Logger,
): IPAddress[] | Promise<IPAddress[]> {
  const address = parseAddress(text);
  if (address) return [address];
  if (useDns !== "yes" && useDns !== "warn") return [];
  return resolver.resolve(text).then((texts) => {
    const out: IPAddress[] = [];
    for (const t of texts) {
      const a = parseAddress(t);
      if (a) out.push(a);
    }
    if (out.length > 0 && useDns === "warn") {
      logger?.log(
        "WARNING",
        `Determined IP using DNS Lookup: ${text} = [${out.map((a) => a.canonical).join(", ")}]`,
      );
    }
    return out;
  });
}

/**
 * Failure ids for host text captured by a failregex's `<HOST>`/`<DNS>` group,
 * as fail2ban's filter derives them: `raw` keeps the text as is; an address
 * gives its canonical text; a name gives its resolved addresses (`yes`,
 * `warn`) or nothing (`no`: the failure is dropped).
 */
export function hostToFailureIds(
  text: string,
  useDns: UseDns,
  resolver: HostResolver = defaultHostResolver(),
  logger?: Logger,
): string[] | Promise<string[]> {
  if (useDns === "raw") return [text];
  const result = textToIp(text, useDns, resolver, logger);
  if (Array.isArray(result)) return result.map((a) => a.canonical);
  return result.then((list) => list.map((a) => a.canonical));
}
