/**
 * `ignorecommand` with `ignorecache`, run on the main thread before a ban
 * (workers never run commands). Exit 0 means ignore the address, 1 means ban
 * it; anything else is an error and the address is banned.
 *
 * @module
 */

import type { BanRequest } from "../ipc/messages.ts";
import type { Logger } from "../log/types.ts";
import type { Clock } from "../util/clock.ts";
import { substituteShellTags } from "./shell_tags.ts";

/** What one command run returned. */
export interface IgnoreCommandResult {
  /** Exit code (null when killed). */
  code: number | null;
  /** Error output, for the log. */
  stderr: string;
}

/** Runs a shell command with extra environment variables and a timeout in seconds. */
export type IgnoreCommandExec = (
  command: string,
  env: Record<string, string>,
  timeout: number,
) => Promise<IgnoreCommandResult>;

/** Parsed `ignorecache` option: `key="<ip>", max-count=100, max-time=5m`. */
export interface IgnoreCacheOptions {
  /** Cache key template. */
  key: string;
  /** Entries kept. @default 100 */
  maxCount: number;
  /** Seconds an entry is kept. @default 300 */
  maxTime: number;
}

const UNITS: Record<string, number> = {
  s: 1,
  sec: 1,
  second: 1,
  seconds: 1,
  m: 60,
  min: 60,
  minute: 60,
  minutes: 60,
  h: 3600,
  hour: 3600,
  hours: 3600,
  d: 86400,
  day: 86400,
  days: 86400,
  w: 604800,
  week: 604800,
  weeks: 604800,
};

function seconds(text: string, where: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  let total = 0;
  let rest = t;
  const part = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)/i;
  while (rest.length > 0) {
    const m = part.exec(rest);
    const unit = m ? UNITS[(m[2] as string).toLowerCase()] : undefined;
    if (!m || unit === undefined) throw new SyntaxError(`Bad duration in ${where}: "${text}"`);
    total += Number(m[1]) * unit;
    rest = rest.slice(m[0].length).trim();
  }
  return total;
}

/**
 * Parses an `ignorecache` value.
 *
 * @example
 * ```ts
 * import { parseIgnoreCache } from "./ignore_command.ts";
 * const c = parseIgnoreCache('key="<ip>", max-count=10, max-time=5m', "jail.conf [sshd] ignorecache");
 * if (c.key !== "<ip>" || c.maxCount !== 10 || c.maxTime !== 300) throw new Error();
 * ```
 */
export function parseIgnoreCache(text: string, where: string): IgnoreCacheOptions {
  const out: IgnoreCacheOptions = { key: "<ip>", maxCount: 100, maxTime: 300 };
  const re = /\s*([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^,]*))\s*(?:,|$)/y;
  let i = 0;
  const s = text.trim();
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    if (!m || m[0].length === 0) throw new SyntaxError(`Bad ${where}: "${text}"`);
    i = re.lastIndex;
    const name = m[1] as string;
    const value = (m[2] ?? m[3] ?? m[4] ?? "").trim();
    if (name === "key") out.key = value;
    else if (name === "max-count") {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) {
        throw new SyntaxError(`Bad max-count in ${where}: "${value}"`);
      }
      out.maxCount = n;
    } else if (name === "max-time") out.maxTime = seconds(value, where);
    else throw new SyntaxError(`Unknown option "${name}" in ${where}`);
  }
  return out;
}

/** The dynamic tags of a ban request, as the ignorecommand and cache key see them. */
export function requestTags(request: BanRequest): Record<string, string> {
  const tags: Record<string, string> = {
    ip: request.fid,
    fid: request.fid,
    family: request.family ?? "",
    failures: String(request.failures),
    time: String(request.time),
    matches: request.matches.join("\n"),
    name: request.jail,
  };
  for (const [k, v] of Object.entries(request.data)) {
    tags[`F-${k.toUpperCase()}`] = v;
    tags[k] = v;
  }
  return tags;
}

/** Options of {@link IgnoreCommand}. */
export interface IgnoreCommandOptions {
  /** Name of the jail (for tags and log records). */
  jail: string;
  /** The `ignorecommand` template. */
  command: string;
  /** `ignorecache` as written, or null for no cache. */
  cache: string | null;
  /** Runs the command. */
  exec: IgnoreCommandExec;
  /** Receives the command's failures. */
  logger: Logger;
  /** Source of time for the cache. */
  clock: Clock;
  /** Seconds before the command is killed. @default 60 */
  timeout?: number;
}

/** One jail's ignorecommand with its cache. */
export class IgnoreCommand {
  readonly #jail: string;
  readonly #command: string;
  readonly #cache: IgnoreCacheOptions | null;
  readonly #exec: IgnoreCommandExec;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #timeout: number;
  /** key → [ignore, expiry]; Map order is insertion order, oldest first. */
  readonly #entries = new Map<string, [boolean, number]>();

  /** Builds it; throws a SyntaxError for a bad `ignorecache`. */
  constructor(options: IgnoreCommandOptions) {
    this.#jail = options.jail;
    this.#command = options.command;
    this.#cache = options.cache?.trim()
      ? parseIgnoreCache(options.cache, `jail "${options.jail}" ignorecache`)
      : null;
    this.#exec = options.exec;
    this.#logger = options.logger;
    this.#clock = options.clock;
    this.#timeout = options.timeout ?? 60;
  }

  /** True when the command says the request's address is to be ignored. */
  async isIgnored(request: BanRequest): Promise<boolean> {
    const tags = requestTags(request);
    let key: string | null = null;
    if (this.#cache) {
      key = this.#cache.key.replace(/<([\w-]+)>/g, (all, n: string) => tags[n] ?? all);
      const hit = this.#entries.get(key);
      if (hit) {
        if (hit[1] > this.#clock.now()) return hit[0];
        this.#entries.delete(key);
      }
    }
    const { command, env } = substituteShellTags(this.#command, tags);
    let ignore = false;
    try {
      const r = await this.#exec(command, env, this.#timeout);
      if (r.code === 0) ignore = true;
      else if (r.code !== 1) {
        this.#logger.log(
          "ERROR",
          `[${this.#jail}] ignorecommand for ${request.fid} failed with exit code ${r.code}` +
            (r.stderr.trim() ? `: ${r.stderr.trim()}` : ""),
        );
      }
    } catch (e) {
      this.#logger.log(
        "ERROR",
        `[${this.#jail}] ignorecommand for ${request.fid} failed: ${
          e instanceof Error ? e.message : e
        }`,
      );
    }
    if (this.#cache && key !== null) {
      this.#entries.set(key, [ignore, this.#clock.now() + this.#cache.maxTime]);
      while (this.#entries.size > this.#cache.maxCount) {
        const oldest = this.#entries.keys().next().value as string;
        this.#entries.delete(oldest);
      }
    }
    return ignore;
  }
}
