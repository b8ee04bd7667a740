/**
 * What the control plane asks of the running daemon. The command handler is a
 * function of (control, command words), so tests can call it without a
 * socket; the daemon implements this interface.
 *
 * @module
 */

import type { JailSpec, ServerSpec } from "../config/types.ts";
import type { BanTicket } from "../ipc/messages.ts";
import type { DaemonLogger } from "../log/logger.ts";
import type { TxtLookup } from "../net/cymru.ts";

/** State of one jail as `status <jail>` prints it. */
export interface JailStatus {
  /** Jail name. */
  name: string;
  /** Ids with failures counted now. */
  currentlyFailed: number;
  /** Failures counted since the jail started. */
  totalFailed: number;
  /** Log files followed. */
  files: string[];
  /** Bans in force. */
  currentlyBanned: number;
  /** Bans since the jail started. */
  totalBanned: number;
  /** Ids banned now. */
  bannedIps: string[];
  /**
   * `backend = systemd` jails: the journalmatch as fail2ban shows it (`A=1 B=2 + C=3`); `status`
   * then lists "Journal matches" instead of "File list".
   */
  journalMatches?: string;
  /**
   * Distinct failing ids dropped from the failure table because it was full (the least recently
   * updated first); shown by `status <jail> extended` only.
   */
  evicted?: number;
}

/** Options of the `reload` command. */
export interface ReloadOptions {
  /** Reload only this jail. */
  jail?: string;
  /** Restart jails (actionstop/actionstart) instead of updating them in place. */
  restart?: boolean;
  /** Unban every address while reloading. */
  unban?: boolean;
  /** Also reload jails not changed. */
  all?: boolean;
  /** Do not fail when the jail does not exist. */
  ifExists?: boolean;
}

/** The running daemon as the command handler sees it. */
export interface ServerControl extends OptionalServerControl {
  /** Names of the running jails, in start order. */
  jailNames(): string[];
  /** Status of one jail; throws `UnknownJailError` for a jail not running. */
  jailStatus(name: string): JailStatus;
  /** Stops every jail (actionstop), flushes state and ends the server. */
  stop(): Promise<void>;
  /** Re-reads the configuration; bans are kept. */
  reload(options: ReloadOptions): Promise<void>;
}

/**
 * Optional parts of {@link ServerControl} (added for fail2ban-client's full
 * command set). A daemon that lacks one makes the commands that need it answer
 * `Command "…" is not supported by this server`. Each member lists the
 * commands it serves.
 */
export interface OptionalServerControl {
  /**
   * How `status <JAIL> cymru` asks DNS for TXT records (the system's resolver
   * when absent; tests point it at their own DNS server).
   */
  txtLookup?: TxtLookup;
  /**
   * Bans `ip` in `jail` by hand; false when it was banned already.
   * Serves `set <JAIL> banip <IP> …`. Throws `UnknownJailError`.
   */
  banIp?(jail: string, ip: string): boolean;
  /**
   * Unbans `ip` from `jail`, or from every jail (and the database) when
   * `jail` is null; returns the number of bans removed.
   * Serves `unban <IP> …`, `unban --all`, `set <JAIL> unbanip [--report-absent] <IP> …`.
   */
  unbanIp?(jail: string | null, ip: string): number;
  /**
   * Addresses banned in `jail`, ordered by end of ban.
   * Serves `banned [<IP> …]`, `unban --all`, `get <JAIL> banned [<IP> …]`, `get <JAIL> banip`.
   * Without it those commands use `jailStatus(jail).bannedIps`.
   */
  bannedIps?(jail: string): string[];
  /**
   * Bans in force in `jail` (time, banTime). Serves `get <JAIL> banip --with-time`.
   */
  banTickets?(jail: string): BanTicket[];
  /**
   * The spec `jail` runs with (after `set` changes).
   * Serves `get <JAIL> <option>` and, with {@link updateJail}, `set <JAIL> <option> …`.
   */
  jailSpec?(name: string): JailSpec;
  /**
   * Applies a changed spec to the running jail (the worker gets an `update`,
   * the ban manager the new bantime), keeping its failures and bans. Must
   * validate first (regexes compile, …) and throw without applying anything.
   * Serves `set <JAIL> maxretry|findtime|bantime|maxmatches|maxlines|usedns|
   * datepattern|logencoding|ignoreself|ignorecommand|ignorecache|
   * addignoreip|delignoreip|addlogpath|dellogpath|addfailregex|delfailregex|
   * addignoreregex|delignoreregex|addjournalmatch|deljournalmatch …`.
   */
  updateJail?(name: string, spec: JailSpec): Promise<void>;
  /** Stops one jail (actionstop) and removes it. Serves `stop <JAIL>`. */
  stopJail?(name: string): Promise<void>;
  /**
   * Starts one jail from the configuration (as `reload <JAIL>` would add it).
   * Serves `start <JAIL>`.
   */
  startJail?(name: string): Promise<void>;
  /**
   * The daemon's logger, whose level and target `set`/`get` change.
   * Serves `set|get loglevel|logtarget|syslogsocket`, `flushlogs`.
   */
  readonly daemonLogger?: DaemonLogger;
  /**
   * Server settings in force (fail2ban.conf [Definition]).
   * Serves `get dbfile|dbpurgeage|dbmaxmatches|socket|pidfile|allowipv6`.
   */
  serverSpec?(): ServerSpec;
  /**
   * Changes a database setting at run time and returns the value in force
   * (`serverSpec()` answers it afterwards). `dbmaxmatches`: matches stored per
   * ticket from now on; `dbpurgeage`: seconds of ban history kept (next purge);
   * `dbfile`: a path or `None`, only when no jail is present (the command
   * handler checks that): closes the database and opens the new one.
   * Serves `set dbfile|dbmaxmatches|dbpurgeage …`.
   */
  setDatabaseOption?(
    name: "dbfile" | "dbmaxmatches" | "dbpurgeage",
    value: string | number,
  ): void | Promise<void>;
  /**
   * Registers a new jail that is not running yet (`add <JAIL> <BACKEND>`): the
   * handler builds `spec` with fail2ban's defaults (no logpath, no regex, no
   * action). It is listed by `jailNames()`, answers `status`, `get` and `set`
   * (`updateJail` changes its spec without a worker), and `startJail(name)`
   * starts it with that spec instead of reading the configuration. Throws when
   * a jail of that name exists. Serves `add`.
   */
  addJail?(spec: JailSpec): void | Promise<void>;
  /**
   * Sets the idle state of a running jail: an idle jail reads no log lines
   * and bans nothing from its logs (its worker is paused, positions kept); on
   * `false` it resumes where it stopped. Manual `banip` still works. Throws
   * `UnknownJailError`. Serves `set <JAIL> idle on|off`.
   */
  setIdle?(jail: string, idle: boolean): void | Promise<void>;
  /**
   * Counts a failure of `ip` in `jail` by hand, as if its log had it now
   * (fail2ban's `addAttempt`): `matches.length || 1` failures with `matches`
   * as the matched lines; a ban follows when the count reaches maxretry.
   * ignoreip is not consulted (as fail2ban). Throws `UnknownJailError`.
   * Serves `set <JAIL> attempt <IP> [<failure> …]`.
   */
  addAttempt?(jail: string, ip: string, matches: string[]): void | Promise<void>;
}

/** A command named a jail that is not running. */
export class UnknownJailError extends Error {
  /** The jail name asked for. */
  readonly jail: string;
  /** Builds the error for `jail`. */
  constructor(jail: string) {
    super(`Sorry but the jail '${jail}' does not exist`);
    this.name = "UnknownJailError";
    this.jail = jail;
  }
}
