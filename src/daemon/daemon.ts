/**
 * The daemon: the main thread that turns the workers' ban requests into bans
 * (ban manager, database, serialized action executor), unbans on time by a
 * timer, restores bans at start, and answers the control plane.
 *
 * @module
 */

import type { JailSpec, ServerSpec } from "../config/types.ts";
import { dirname } from "node:path";
import { BanDatabase } from "../db/ban_database.ts";
import { FailManager } from "../jail/fail_manager.ts";
import { formatJournalMatch, parseJournalMatch } from "../jail/journal_match.ts";
import { isJournalBackend } from "../jail/journal_source.ts";
import type { DaemonLogger } from "../log/logger.ts";
import type { BanRequest, BanTicket, FromWorker, LogPosition } from "../ipc/messages.ts";
import type { Logger } from "../log/types.ts";
import type { JailStatus, ReloadOptions, ServerControl } from "../server/control.ts";
import { UnknownJailError } from "../server/control.ts";
import type { Clock } from "../util/clock.ts";
import { IgnoreCommand, type IgnoreCommandExec } from "./ignore_command.ts";
import type {
  ActionExecutorPort,
  BanDatabasePort,
  BanManagerFactory,
  BanManagerPort,
} from "./ports.ts";
import { Supervisor, type WorkerFactory } from "./supervisor.ts";

/** A timer handle. */
type Timer = ReturnType<typeof setTimeout>;

/** Options of {@link Daemon}. */
export interface DaemonOptions {
  /** Reads the enabled jails (at start and on reload). */
  loadJails: () => Promise<JailSpec[]> | JailSpec[];
  /** Makes a jail's ban manager. */
  newBanManager: BanManagerFactory;
  /** Runs the jails' actions (the serialized action executor). */
  executor: ActionExecutorPort;
  /** The ban database, or null for none (`dbfile = None`). */
  db: BanDatabasePort | null;
  /** Receives the daemon's records. */
  logger: Logger;
  /** Source of time for bans and unbans. */
  clock: Clock;
  /** Runs ignorecommand. */
  exec: IgnoreCommandExec;
  /** Seconds of ban history kept (dbpurgeage). @default 86400 */
  dbPurgeAge?: number;
  /** Milliseconds between position saves. @default 10000 */
  positionSaveInterval?: number;
  /** Milliseconds after a ban before positions are saved (once for a burst of bans). @default 100 */
  banPositionSaveDelay?: number;
  /** Milliseconds between history purges. @default 3600000 */
  purgeInterval?: number;
  /** First delay in milliseconds before retrying a failed ban action, doubled each time. @default 1000 */
  retryBackoff?: number;
  /** Longest retry delay in milliseconds. @default 300000 */
  maxRetryBackoff?: number;
  /** Checks a changed spec before `updateJail` applies it (compiles its regexes); throws when bad. */
  validateJail?: (spec: JailSpec) => void;
  /** The daemon's logger, for `set/get loglevel|logtarget`, `flushlogs`. */
  daemonLogger?: DaemonLogger;
  /** Server settings in force, for `get dbfile|socket|…` (`set dbpurgeage|dbmaxmatches|dbfile` change them). */
  serverSpec?: ServerSpec;
  /**
   * Opens the database at a path, for `set dbfile` (when no jail is present).
   * @default BanDatabase.open with the daemon's logger and clock
   */
  openDatabase?: (file: string) => BanDatabasePort;
  /** Makes jail workers (a fake in tests). */
  workerFactory?: WorkerFactory;
  /** Milliseconds between heartbeats. @default 1000 */
  heartbeatInterval?: number;
  /** Milliseconds without a pong before a worker is restarted. @default 5000 */
  heartbeatTimeout?: number;
  /** First worker restart delay in milliseconds. @default 500 */
  restartBackoff?: number;
}

interface JailState {
  spec: JailSpec;
  bans: BanManagerPort;
  ignore: IgnoreCommand | null;
  currentlyFailed: number;
  totalFailed: number;
  evicted: number;
  /** When eviction was last warned about (clock seconds), null before the first warning. */
  evictionWarnedAt: number | null;
  files: string[];
  /** Ids whose ban request is being handled (ignorecommand running). */
  inFlight: Set<string>;
  positionsDirty: boolean;
  /** A ban or unban happened since positions were last saved. */
  saveNow: boolean;
  /** False for a jail made by `add` and not started yet (no worker, no actionstart). */
  started: boolean;
  /** `set <jail> idle on`: the worker is stopped, its positions kept. */
  idle: boolean;
  /** Failures counted by `set <jail> attempt`, made on first use. */
  attempts: FailManager | null;
  /** `backend = systemd`: the last journal cursor reported (saved with the positions). */
  cursor: string | null;
}

interface PendingBan {
  ticket: BanTicket;
  attempt: number;
  timer: Timer | null;
}

/** Longest setTimeout delay (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The running daemon; it implements the control plane's {@link ServerControl}. */
export class Daemon implements ServerControl {
  readonly #o: DaemonOptions;
  readonly #logger: Logger;
  /** Loggers per fail2ban component (`fail2ban.actions`, `fail2ban.filter`, …). */
  readonly #actionsLog: Logger;
  readonly #filterLog: Logger;
  readonly #jailLog: Logger;
  readonly #clock: Clock;
  readonly #jails = new Map<string, JailState>();
  readonly #supervisor: Supervisor;
  /** Bans whose action failed, retried with backoff; key `jail\0fid`. */
  readonly #pending = new Map<string, PendingBan>();
  #unbanTimer: Timer | null = null;
  #unbanAt = Infinity;
  #positionTimer: Timer | null = null;
  /** Saves positions shortly after bans ({@link #savePositionsSoon}). */
  #banSaveTimer: Timer | null = null;
  /** The last second {@link #foundTime} formatted, and its text. */
  #foundSecond = NaN;
  #foundText = "";
  #purgeTimer: Timer | null = null;
  #state: "new" | "running" | "stopping" | "stopped" = "new";
  readonly #finished = Promise.withResolvers<void>();
  #reloading: Promise<void> = Promise.resolve();
  /** Ban and unban actions in flight, awaited at stop. */
  readonly #inFlightActions = new Set<Promise<unknown>>();

  /** Builds the daemon; nothing runs until {@link start}. */
  constructor(options: DaemonOptions) {
    this.#o = options;
    this.#logger = options.logger;
    const child = (name: string): Logger => {
      const l = options.logger as Logger & { child?: (c: string) => Logger };
      return typeof l.child === "function" ? l.child(name) : l;
    };
    this.#actionsLog = child("actions");
    this.#filterLog = child("filter");
    this.#jailLog = child("jail");
    this.#clock = options.clock;
    this.#supervisor = new Supervisor({
      logger: options.logger,
      onMessage: (jail, message) => this.#onWorkerMessage(jail, message),
      ...(options.workerFactory ? { workerFactory: options.workerFactory } : {}),
      ...(options.heartbeatInterval ? { heartbeatInterval: options.heartbeatInterval } : {}),
      ...(options.heartbeatTimeout ? { heartbeatTimeout: options.heartbeatTimeout } : {}),
      ...(options.restartBackoff ? { restartBackoff: options.restartBackoff } : {}),
    });
  }

  /** Resolves when the daemon has stopped (by {@link stop}, a signal or the `stop` command). */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  /** Worker restarts so far. */
  get workerRestarts(): number {
    return this.#supervisor.restarts;
  }

  /**
   * Starts every enabled jail: actionstart, bans still in force restored from
   * the database, then the workers from their saved positions.
   */
  async start(): Promise<void> {
    if (this.#state !== "new") throw new Error("The daemon was already started");
    this.#state = "running";
    const specs = await this.#o.loadJails();
    if (specs.length === 0) {
      this.#logger.log(
        "WARNING",
        "No enabled jail in the configuration: nothing to watch (turn one on with enabled = true in jail.local or jail.d/)",
      );
    }
    const restore = this.#currentBans();
    for (const spec of specs) await this.#startJail(spec, restore);
    this.#armDatabaseTimers();
  }

  /** Starts the position-save and purge timers when a database is open and they are not running. */
  #armDatabaseTimers(): void {
    if (!this.#o.db || this.#positionTimer !== null) return;
    this.#positionTimer = setInterval(
      () => this.#savePositions(false),
      this.#o.positionSaveInterval ?? 10_000,
    );
    const purge = () => {
      try {
        this.#o.db?.purge(this.#clock.now(), this.#o.dbPurgeAge ?? 86400);
      } catch (e) {
        this.#logger.log("ERROR", `Cannot purge the database: ${errorText(e)}`);
      }
    };
    purge();
    this.#purgeTimer = setInterval(purge, this.#o.purgeInterval ?? 3_600_000);
  }

  #currentBans(): BanTicket[] {
    if (!this.#o.db) return [];
    try {
      return this.#o.db.currentBans(this.#clock.now());
    } catch (e) {
      this.#logger.log("ERROR", `Cannot read the bans in force from the database: ${errorText(e)}`);
      return [];
    }
  }

  #newState(spec: JailSpec, started: boolean): JailState {
    return {
      spec,
      bans: this.#o.newBanManager(spec),
      ignore: this.#ignoreCommand(spec),
      currentlyFailed: 0,
      totalFailed: 0,
      evicted: 0,
      evictionWarnedAt: null,
      files: [],
      inFlight: new Set(),
      positionsDirty: false,
      saveNow: false,
      started,
      idle: false,
      attempts: null,
      cursor: null,
    };
  }

  async #startJail(spec: JailSpec, restore: BanTicket[]): Promise<void> {
    const name = spec.name;
    // A jail made by `add` keeps its state (and idle flag); any other starts fresh.
    const added = this.#jails.get(name);
    const state = added && !added.started ? added : this.#newState(spec, true);
    if (state !== added) this.#jailLog.log("INFO", `Creating new jail '${name}'`);
    for (const w of spec.warnings ?? []) this.#jailLog.log("WARNING", `[${name}] ${w}`);
    state.started = true;
    this.#jails.set(name, state);
    try {
      await this.#o.executor.startJail(name, spec.actions);
    } catch (e) {
      this.#actionsLog.log("ERROR", `[${name}] actionstart failed: ${errorText(e)}`);
    }
    const now = this.#clock.now();
    for (const ticket of restore) {
      if (ticket.jail !== name) continue;
      if (ticket.banTime >= 0 && ticket.time + ticket.banTime <= now) continue;
      if (!state.bans.addBan(ticket)) continue;
      this.#actionsLog.log("NOTICE", `[${name}] Restore Ban ${ticket.fid}`);
      this.#applyBan(ticket, 0, true);
    }
    this.#armUnbanTimer();
    let positions: LogPosition[] = [];
    try {
      positions = this.#o.db?.loadPositions(name) ?? [];
    } catch (e) {
      this.#logger.log("ERROR", `[${name}] Cannot read saved log positions: ${errorText(e)}`);
    }
    let cursor: string | null = null;
    try {
      cursor = this.#o.db?.loadCursor?.(name) ?? null;
    } catch (e) {
      this.#logger.log("ERROR", `[${name}] Cannot read the saved journal cursor: ${errorText(e)}`);
    }
    state.cursor = cursor;
    if (!state.idle) this.#supervisor.startJail(spec, positions, { fromDatabase: true, cursor });
    this.#jailLog.log("INFO", `Jail '${name}' started`);
  }

  #ignoreCommand(spec: JailSpec): IgnoreCommand | null {
    if (!spec.ignorecommand?.trim()) return null;
    return new IgnoreCommand({
      jail: spec.name,
      command: spec.ignorecommand,
      cache: spec.ignorecache,
      exec: this.#o.exec,
      logger: this.#logger,
      clock: this.#clock,
    });
  }

  #onWorkerMessage(jail: string, message: FromWorker): void {
    const state = this.#jails.get(jail);
    if (!state) return;
    switch (message.type) {
      case "ban":
        this.#onBanRequest(state, message.request);
        break;
      case "found":
        this.#filterLog.log(
          "INFO",
          `[${jail}] Found ${message.fid} - ${this.#foundTime(message.time)}`,
        );
        break;
      case "foundBatch":
        this.#logFound(jail, message.fids, message.times);
        break;
      case "positions":
        state.positionsDirty = true;
        break;
      case "cursor":
        state.cursor = message.cursor;
        state.positionsDirty = true;
        break;
      case "stats":
        state.currentlyFailed = message.currentlyFailed;
        state.totalFailed = message.totalFailed;
        if (message.evicted > state.evicted) this.#warnEviction(jail, state, message.evicted);
        state.evicted = message.evicted;
        state.files = message.files;
        break;
      case "log":
        this.#filterLog.log(message.level, message.message);
        break;
      case "ready":
      case "pong":
      case "stopped":
        break;
    }
  }

  /**
   * The failure table of a jail is full and ids are evicted: warned when it starts, then at most
   * once a minute with the running count (`status <jail> extended` shows it at any time).
   */
  #warnEviction(jail: string, state: JailState, evicted: number): void {
    const now = this.#clock.now();
    const last = state.evictionWarnedAt;
    if (last !== null && now - last < 60 && now >= last) return;
    state.evictionWarnedAt = now;
    this.#filterLog.log(
      "WARNING",
      `[${jail}] The failure table is full: ${evicted} failing ids evicted so far (the least recently updated first; their failures count again from zero)`,
    );
  }

  /** `[jail] Found <id> - <time>` of a batch of failures, written together. */
  #logFound(jail: string, fids: readonly string[], times: readonly number[]): void {
    const log = this.#filterLog;
    const enabled = this.#o.daemonLogger?.isEnabled("INFO") ?? true;
    if (!enabled || fids.length === 0) return;
    const lines = new Array<string>(fids.length);
    for (let i = 0; i < fids.length; i++) {
      lines[i] = `[${jail}] Found ${fids[i]} - ${this.#foundTime(times[i]!)}`;
    }
    if (log.logMany) log.logMany("INFO", lines);
    else for (const line of lines) log.log("INFO", line);
  }

  /** {@link formatTime}, remembered for the last second asked (a flood's failures share it). */
  #foundTime(epoch: number): string {
    const second = Math.floor(epoch);
    if (second !== this.#foundSecond) {
      this.#foundSecond = second;
      this.#foundText = formatTime(second);
    }
    return this.#foundText;
  }

  #onBanRequest(state: JailState, request: BanRequest): void {
    if (this.#state !== "running") return;
    const jail = state.spec.name;
    const fid = request.fid;
    if (state.bans.isBanned(fid)) {
      this.#actionsLog.log("NOTICE", `[${jail}] ${fid} already banned`);
      this.#supervisor.post(jail, { type: "forget", fid });
      return;
    }
    if (state.ignore) {
      if (state.inFlight.has(fid)) return;
      state.inFlight.add(fid);
      const ignore = state.ignore;
      state.ignore.isIgnored(request).then((ignored) => {
        state.inFlight.delete(fid);
        if (this.#jails.get(jail) !== state) return;
        if (ignored) {
          this.#actionsLog.log("NOTICE", `[${jail}] Ignore ${fid} by command`);
          this.#supervisor.post(jail, { type: "forget", fid });
          return;
        }
        if (state.ignore === ignore || state.ignore === null) this.#ban(state, request);
      });
      return;
    }
    this.#ban(state, request);
  }

  #ban(state: JailState, request: BanRequest): BanTicket | null {
    if (this.#state !== "running") return null;
    const jail = state.spec.name;
    const fid = request.fid;
    let history: unknown = { banCount: 0, lastBanTime: null, lastBanDuration: null };
    if (this.#o.db) {
      try {
        history = this.#o.db.banHistory(
          fid,
          state.spec.bantimeIncrement.overalljails ? null : jail,
        );
      } catch (e) {
        this.#logger.log(
          "ERROR",
          `[${jail}] Cannot read the ban history of ${fid}: ${errorText(e)}`,
        );
      }
    }
    const ticket = state.bans.createTicket(request, history);
    if (!state.bans.addBan(ticket)) {
      this.#actionsLog.log("NOTICE", `[${jail}] ${fid} already banned`);
      this.#supervisor.post(jail, { type: "forget", fid });
      return null;
    }
    // Recorded (committed) before the action runs: a crash in between re-applies it at start.
    this.#dbAdd(ticket);
    // The action is queued before the rest of the bookkeeping, which waits behind it.
    this.#applyBan(ticket);
    this.#actionsLog.log("NOTICE", `[${jail}] Ban ${fid}`);
    this.#supervisor.post(jail, { type: "forget", fid });
    this.#armUnbanTimer();
    this.#savePositionsSoon(state);
    return ticket;
  }

  /**
   * After a ban, saves the jail's positions shortly (a crash must not re-read the lines that
   * caused it), once for all the bans of a burst rather than once per ban.
   */
  #savePositionsSoon(state: JailState): void {
    state.saveNow = true;
    if (this.#banSaveTimer !== null || !this.#o.db) return;
    this.#banSaveTimer = setTimeout(() => {
      this.#banSaveTimer = null;
      for (const [name, s] of this.#jails) if (s.saveNow) this.#saveJailPositions(name, s);
    }, this.#o.banPositionSaveDelay ?? 100);
  }

  #dbAdd(ticket: BanTicket): void {
    // dbmaxmatches: the matched lines stored per ticket.
    const max = this.#o.serverSpec?.dbmaxmatches;
    if (max !== undefined && max >= 0 && ticket.matches.length > max) {
      ticket = { ...ticket, matches: max === 0 ? [] : ticket.matches.slice(-max) };
    }
    try {
      this.#o.db?.addBan(ticket);
    } catch (e) {
      this.#logger.log(
        "ERROR",
        `[${ticket.jail}] Cannot record the ban of ${ticket.fid} in the database: ${errorText(e)}`,
      );
    }
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inFlightActions.add(p);
    p.finally(() => this.#inFlightActions.delete(p));
    return p;
  }

  /** Runs actionban; on failure the ban stays recorded and is retried with backoff. */
  #applyBan(ticket: BanTicket, attempt = 0, restored = false): void {
    const key = `${ticket.jail}\0${ticket.fid}`;
    const executor = this.#o.executor;
    const run = restored && executor.reban ? executor.reban(ticket) : executor.ban(ticket);
    this.#track(
      run.catch((e) => {
        this.#actionsLog.log(
          "ERROR",
          `[${ticket.jail}] Ban of ${ticket.fid} failed: ${errorText(e)}`,
        );
        return false;
      }),
    ).then((ok) => {
      const state = this.#jails.get(ticket.jail);
      const still = state?.bans.getBan(ticket.fid);
      if (ok || this.#state !== "running" || !still || still.time !== ticket.time) {
        if (this.#pending.get(key)?.ticket === ticket) this.#pending.delete(key);
        return;
      }
      const delay = Math.min(
        (this.#o.retryBackoff ?? 1000) * 2 ** attempt,
        this.#o.maxRetryBackoff ?? 300_000,
      );
      this.#actionsLog.log(
        "WARNING",
        `[${ticket.jail}] Ban of ${ticket.fid} is pending: its action failed; retrying in ${
          (delay / 1000).toFixed(1)
        } s`,
      );
      const pending: PendingBan = { ticket, attempt: attempt + 1, timer: null };
      pending.timer = setTimeout(() => {
        pending.timer = null;
        if (this.#pending.get(key) !== pending) return;
        this.#applyBan(ticket, attempt + 1, restored);
      }, delay);
      this.#pending.set(key, pending);
    });
  }

  /** Bans whose actionban failed and waits for a retry. */
  pendingBans(): BanTicket[] {
    return [...this.#pending.values()].filter((p) => p.timer !== null).map((p) => p.ticket);
  }

  #armUnbanTimer(): void {
    let next = Infinity;
    for (const s of this.#jails.values()) {
      const t = s.bans.nextUnbanTime();
      if (t !== null && t < next) next = t;
    }
    if (next === this.#unbanAt && this.#unbanTimer !== null) return;
    if (this.#unbanTimer !== null) clearTimeout(this.#unbanTimer);
    this.#unbanTimer = null;
    this.#unbanAt = next;
    if (next === Infinity || this.#state !== "running") return;
    const delay = Math.min(Math.max(0, (next - this.#clock.now()) * 1000), MAX_TIMER_MS);
    this.#unbanTimer = setTimeout(() => {
      this.#unbanTimer = null;
      this.#unbanAt = Infinity;
      this.checkUnbans();
    }, Math.ceil(delay));
  }

  /** Unbans every ban whose time is over and re-arms the timer (the timer calls it). */
  checkUnbans(): void {
    const now = this.#clock.now();
    for (const state of this.#jails.values()) {
      for (const ticket of state.bans.popExpired(now)) this.#unban(ticket, "time");
    }
    this.#armUnbanTimer();
  }

  #unban(ticket: BanTicket, why: "time" | "manual"): void {
    const jail = ticket.jail;
    this.#actionsLog.log("NOTICE", `[${jail}] Unban ${ticket.fid}`);
    try {
      this.#o.db?.removeBan(jail, ticket.fid);
    } catch (e) {
      this.#logger.log(
        "ERROR",
        `[${jail}] Cannot remove the ban of ${ticket.fid} from the database: ${errorText(e)}`,
      );
    }
    const key = `${jail}\0${ticket.fid}`;
    const pending = this.#pending.get(key);
    if (pending) {
      this.#pending.delete(key);
      // Its actionban never succeeded: there is nothing to undo.
      if (pending.timer !== null) {
        clearTimeout(pending.timer);
        return;
      }
    }
    if (why === "manual") this.#supervisor.post(jail, { type: "forget", fid: ticket.fid });
    this.#track(
      this.#o.executor.unban(ticket).catch((e) => {
        this.#actionsLog.log("ERROR", `[${jail}] Unban of ${ticket.fid} failed: ${errorText(e)}`);
        return false;
      }),
    );
  }

  /** Bans `ip` in `jail` by hand (`set <jail> banip`). Returns false when already banned. */
  banIp(jail: string, ip: string): boolean {
    const state = this.#state_(jail);
    if (state.bans.isBanned(ip)) return false;
    const family = ip.includes(":") ? "inet6" : /^\d+\.\d+\.\d+\.\d+$/.test(ip) ? "inet4" : null;
    return this.#ban(state, {
      jail,
      fid: ip,
      family,
      failures: 0,
      time: this.#clock.now(),
      matches: [],
      data: {},
    }) !== null;
  }

  /**
   * Unbans `ip` by hand (`set <jail> unbanip`, `unban`): from `jail`, or from
   * every jail when null. Returns the number of bans removed.
   */
  unbanIp(jail: string | null, ip: string): number {
    const states = jail === null ? [...this.#jails.values()] : [this.#state_(jail)];
    let n = 0;
    for (const state of states) {
      const ticket = state.bans.getBan(ip);
      if (!ticket) continue;
      state.bans.removeBan(ip);
      this.#unban(ticket, "manual");
      this.#saveJailPositions(state.spec.name, state);
      n++;
    }
    this.#armUnbanTimer();
    return n;
  }

  /** Addresses banned in `jail`, ordered by end of ban. */
  bannedIps(jail: string): string[] {
    return this.banTickets(jail).map((t) => t.fid);
  }

  /** Bans in force in `jail`, ordered by end of ban (`get <jail> banip --with-time`). */
  banTickets(jail: string): BanTicket[] {
    const end = (t: BanTicket) => t.banTime < 0 ? Infinity : t.time + t.banTime;
    return [...this.#state_(jail).bans.bans()].sort((a, b) => end(a) - end(b));
  }

  /**
   * Registers a jail made by `add`: listed and configurable, started by
   * `startJail` with the spec `set` commands built.
   */
  addJail(spec: JailSpec): void {
    if (this.#state !== "running") throw new Error("The server is not running");
    if (this.#jails.has(spec.name)) throw new Error(`Jail "${spec.name}" already exists`);
    this.#jails.set(spec.name, this.#newState(spec, false));
    this.#jailLog.log("INFO", `Creating new jail '${spec.name}'`);
  }

  /**
   * `set <jail> idle on|off`: on stops the jail's worker (positions kept, no
   * log line read); off starts it again where it stopped.
   */
  async setIdle(jail: string, idle: boolean): Promise<void> {
    const state = this.#state_(jail);
    if (state.idle === idle) return;
    state.idle = idle;
    if (!state.started) return;
    if (idle) {
      await this.#supervisor.stopJail(jail);
      this.#saveJailPositions(jail, state);
      this.#jailLog.log("INFO", `Jail '${jail}' is idle`);
    } else {
      this.#supervisor.startJail(state.spec, this.#supervisor.positions(jail), {
        cursor: this.#supervisor.cursor(jail) ?? state.cursor,
      });
      this.#jailLog.log("INFO", `Jail '${jail}' is active again`);
    }
  }

  /**
   * `set <jail> attempt <ip> [<match> …]`: counts `matches.length || 1`
   * failures of `ip` now, with the jail's maxretry and findtime; reaching
   * maxretry bans it (ignoreip is not consulted, as in fail2ban). The jail's
   * worker counts them with the failures read from its logs (so both add up to
   * maxretry); resolves once the worker has counted them and any ban request
   * it made was received. Without a worker (a jail made by `add` not started
   * yet, an idle jail, a worker being restarted) they are counted here.
   */
  async addAttempt(jail: string, ip: string, matches: string[]): Promise<void> {
    const state = this.#state_(jail);
    const now = this.#clock.now();
    this.#filterLog.log("INFO", `[${jail}] Attempt ${ip} - ${formatTime(now)}`);
    const family = ip.includes(":") ? "inet6" : /^\d+\.\d+\.\d+\.\d+$/.test(ip) ? "inet4" : null;
    const attempts = matches.length || 1;
    if (
      state.started && !state.idle &&
      this.#supervisor.post(jail, {
        type: "attempt",
        fid: ip,
        family,
        time: now,
        matches,
        attempts,
      })
    ) {
      await this.#supervisor.sync(jail);
      return;
    }
    const spec = state.spec;
    const options = {
      maxRetry: spec.maxretry,
      findTime: spec.findtime,
      maxMatches: spec.maxmatches,
    };
    state.attempts ??= new FailManager(options);
    state.attempts.setOptions(options);
    state.attempts.cleanup(now);
    const ticket = state.attempts.addFailure(ip, now, matches, {}, attempts);
    if (!ticket) return;
    this.#onBanRequest(state, {
      jail,
      fid: ip,
      family,
      failures: ticket.retry,
      time: ticket.lastTime,
      matches: ticket.matches,
      data: ticket.data,
    });
  }

  /**
   * `set dbpurgeage|dbmaxmatches|dbfile`: changes a database setting now;
   * `dbfile` only while no jail is present (closes the database, opens the new one).
   */
  setDatabaseOption(
    name: "dbfile" | "dbmaxmatches" | "dbpurgeage",
    value: string | number,
  ): void {
    const spec = this.#o.serverSpec;
    if (!spec) throw new Error("Server settings are not available");
    switch (name) {
      case "dbpurgeage":
        this.#o.dbPurgeAge = Number(value);
        this.#o.serverSpec = { ...spec, dbpurgeage: Number(value) };
        return;
      case "dbmaxmatches":
        this.#o.serverSpec = { ...spec, dbmaxmatches: Number(value) };
        return;
      case "dbfile": {
        if (this.#jails.size > 0) {
          throw new Error("Cannot change database when there are jails present");
        }
        const file = String(value);
        const none = file === "" || file.toLowerCase() === "none";
        const open = this.#o.openDatabase ?? ((path: string) => {
          if (path !== ":memory:") Deno.mkdirSync(dirname(path), { recursive: true });
          return BanDatabase.open(path, { logger: this.#logger, clock: this.#clock });
        });
        const next = none ? null : open(file);
        try {
          this.#o.db?.close();
        } catch (e) {
          this.#logger.log("ERROR", `Cannot close the database: ${errorText(e)}`);
        }
        for (const t of [this.#positionTimer, this.#purgeTimer]) if (t !== null) clearInterval(t);
        this.#positionTimer = this.#purgeTimer = null;
        this.#o.db = next;
        this.#o.serverSpec = { ...spec, dbfile: none ? "None" : file };
        this.#logger.log("INFO", none ? "Database disabled" : `Connected to database ${file}`);
        if (this.#state === "running") this.#armDatabaseTimers();
        return;
      }
    }
  }

  /** The daemon's logger (for the control plane's log commands). */
  get daemonLogger(): DaemonLogger | undefined {
    return this.#o.daemonLogger;
  }

  /** Server settings in force. */
  serverSpec(): ServerSpec {
    if (!this.#o.serverSpec) throw new Error("Server settings are not available");
    return this.#o.serverSpec;
  }

  /** Applies a changed spec to a running jail, keeping its failures and bans; validates first. */
  updateJail(name: string, spec: JailSpec): Promise<void> {
    const state = this.#state_(name);
    if (spec.name !== name) throw new Error(`Cannot rename jail "${name}" to "${spec.name}"`);
    if (!state.started) {
      // A jail made by `add` is checked when it starts: it may have no failregex yet.
      state.spec = spec;
      state.ignore = this.#ignoreCommand(spec);
      return Promise.resolve();
    }
    this.#o.validateJail?.(spec);
    // The ignorecache text is parsed here: a bad one throws before anything changes.
    if (spec.ignorecommand?.trim() && spec.ignorecache?.trim()) this.#ignoreCommand(spec);
    this.#updateJail(state, spec);
    this.#armUnbanTimer();
    return Promise.resolve();
  }

  /** Stops one jail (actionstop) and removes it (`stop <jail>`). */
  async stopJail(name: string): Promise<void> {
    this.#state_(name);
    await this.#stopJail(name);
    this.#armUnbanTimer();
  }

  /** Starts one jail: one made by `add` with its spec, else from the configuration (`start <jail>`). */
  async startJail(name: string): Promise<void> {
    const added = this.#jails.get(name);
    if (added && !added.started) {
      this.#o.validateJail?.(added.spec);
      added.bans = this.#o.newBanManager(added.spec);
      await this.#startJail(added.spec, this.#currentBans());
      this.#armUnbanTimer();
      return;
    }
    if (added) throw new Error(`Jail "${name}" is already running`);
    const spec = (await this.#o.loadJails()).find((s) => s.name === name);
    if (!spec) throw new UnknownJailError(name);
    await this.#startJail(spec, this.#currentBans());
  }

  #state_(jail: string): JailState {
    const state = this.#jails.get(jail);
    if (!state) throw new UnknownJailError(jail);
    return state;
  }

  /** The spec a jail runs with. */
  jailSpec(name: string): JailSpec {
    return this.#state_(name).spec;
  }

  /** Names of the running jails, in start order. */
  jailNames(): string[] {
    return [...this.#jails.keys()];
  }

  /** Status of one jail, from its worker's last stats and its ban manager. */
  jailStatus(name: string): JailStatus {
    const s = this.#state_(name);
    return {
      name,
      currentlyFailed: s.currentlyFailed,
      totalFailed: s.totalFailed,
      files: s.files.length > 0 ? s.files : s.spec.logpath,
      currentlyBanned: s.bans.currentlyBanned,
      totalBanned: s.bans.totalBanned,
      bannedIps: [...s.bans.bans()].map((t) => t.fid),
      evicted: s.evicted,
      ...(isJournalBackend(s.spec.backend) ? { journalMatches: journalMatches(s.spec) } : {}),
    };
  }

  #savePositions(all: boolean): void {
    for (const [name, state] of this.#jails) {
      if (all || state.positionsDirty) this.#saveJailPositions(name, state);
    }
  }

  #saveJailPositions(name: string, state: JailState): void {
    state.saveNow = false;
    const db = this.#o.db;
    if (!db) return;
    const positions = this.#supervisor.positions(name);
    const cursor = this.#supervisor.cursor(name) ?? state.cursor;
    if (positions.length === 0 && cursor === null) return;
    try {
      if (positions.length > 0) db.savePositions(name, positions);
      if (cursor !== null) db.saveCursor?.(name, cursor);
      state.positionsDirty = false;
    } catch (e) {
      this.#logger.log("ERROR", `[${name}] Cannot save log positions: ${errorText(e)}`);
    }
  }

  async #stopJail(name: string): Promise<void> {
    const state = this.#jails.get(name);
    if (!state) return;
    if (!state.started) {
      this.#jails.delete(name);
      this.#jailLog.log("INFO", `Jail '${name}' stopped`);
      return;
    }
    await this.#supervisor.stopJail(name);
    const positions = this.#supervisor.positions(name);
    if (positions.length > 0) {
      try {
        this.#o.db?.savePositions(name, positions);
      } catch (e) {
        this.#logger.log("ERROR", `[${name}] Cannot save log positions: ${errorText(e)}`);
      }
    }
    const cursor = this.#supervisor.cursor(name) ?? state.cursor;
    if (cursor !== null) {
      try {
        this.#o.db?.saveCursor?.(name, cursor);
      } catch (e) {
        this.#logger.log("ERROR", `[${name}] Cannot save the journal cursor: ${errorText(e)}`);
      }
    }
    for (const [key, p] of this.#pending) {
      if (p.ticket.jail !== name) continue;
      if (p.timer !== null) clearTimeout(p.timer);
      this.#pending.delete(key);
    }
    await Promise.allSettled([...this.#inFlightActions]);
    try {
      await this.#o.executor.stopJail(name, [...state.bans.bans()]);
    } catch (e) {
      this.#actionsLog.log("ERROR", `[${name}] actionstop failed: ${errorText(e)}`);
    }
    this.#jails.delete(name);
    this.#jailLog.log("INFO", `Jail '${name}' stopped`);
  }

  /** Stops every jail (actionstop), saves positions, closes the database. Bans stay recorded. */
  async stop(): Promise<void> {
    if (this.#state === "stopping" || this.#state === "stopped") return this.finished;
    const wasRunning = this.#state === "running";
    this.#state = "stopping";
    this.#logger.log("INFO", "Shutdown in progress...");
    for (const t of [this.#positionTimer, this.#purgeTimer]) if (t !== null) clearInterval(t);
    if (this.#banSaveTimer !== null) clearTimeout(this.#banSaveTimer);
    this.#banSaveTimer = null;
    if (this.#unbanTimer !== null) clearTimeout(this.#unbanTimer);
    this.#unbanTimer = null;
    await this.#reloading.catch(() => {});
    if (wasRunning) {
      // Workers first, so positions are final before they are saved.
      await this.#supervisor.stopAll();
      for (const name of [...this.#jails.keys()].reverse()) await this.#stopJail(name);
    }
    try {
      this.#o.db?.close();
    } catch (e) {
      this.#logger.log("ERROR", `Cannot close the database: ${errorText(e)}`);
    }
    this.#state = "stopped";
    this.#finished.resolve();
  }

  /**
   * Re-reads the configuration: new jails start, removed ones stop (actionstop),
   * changed ones are updated in place (their workers get `update`; new actions
   * are restarted and re-applied). Bans are kept.
   */
  reload(options: ReloadOptions = {}): Promise<void> {
    const run = this.#reloading.catch(() => {}).then(() => this.#reload(options));
    this.#reloading = run;
    return run;
  }

  async #reload(options: ReloadOptions): Promise<void> {
    if (this.#state !== "running") return;
    this.#logger.log("INFO", "Reload configuration");
    // Read everything first: a bad configuration changes nothing.
    const specs = await this.#o.loadJails();
    const wanted = new Map(specs.map((s) => [s.name, s]));
    if (options.jail !== undefined) {
      if (!wanted.has(options.jail) && !this.#jails.has(options.jail)) {
        if (options.ifExists) return;
        throw new UnknownJailError(options.jail);
      }
      for (const name of [...wanted.keys()]) if (name !== options.jail) wanted.delete(name);
    }
    const targets = options.jail !== undefined ? [options.jail] : [...this.#jails.keys()];
    for (const name of targets) {
      if (this.#jails.has(name) && !wanted.has(name)) await this.#stopJail(name);
    }
    for (const spec of wanted.values()) {
      const state = this.#jails.get(spec.name);
      if (!state) {
        await this.#startJail(spec, this.#currentBans());
        continue;
      }
      if (options.unban) {
        for (const t of [...state.bans.bans()]) {
          state.bans.removeBan(t.fid);
          this.#unban(t, "manual");
        }
      }
      if (options.restart) {
        await this.#stopJail(spec.name);
        await this.#startJail(spec, this.#currentBans());
        continue;
      }
      this.#updateJail(state, spec);
    }
    this.#armUnbanTimer();
  }

  #updateJail(state: JailState, spec: JailSpec): void {
    const old = state.spec;
    state.spec = spec;
    if (JSON.stringify(old) === JSON.stringify(spec)) return;
    if (
      old.ignorecommand !== spec.ignorecommand || old.ignorecache !== spec.ignorecache
    ) state.ignore = this.#ignoreCommand(spec);
    let bans = state.bans;
    if (bans.setOptions) {
      bans.setOptions({ banTime: spec.bantime, increment: spec.bantimeIncrement });
    } else {
      // A new ban manager with the new ban times; bans in force move over unchanged.
      bans = this.#o.newBanManager(spec);
      for (const t of state.bans.bans()) bans.addBan(t);
      state.bans = bans;
    }
    // An idle jail's worker is stopped: it gets the new spec when it starts again.
    if (!state.idle) this.#supervisor.updateJail(spec);
    if (JSON.stringify(old.actions) !== JSON.stringify(spec.actions)) {
      const tickets = [...bans.bans()];
      const name = spec.name;
      this.#track(
        (async () => {
          await this.#o.executor.stopJail(name, tickets);
          await this.#o.executor.startJail(name, spec.actions);
          for (const t of tickets) this.#applyBan(t, 0, true);
        })().catch((e) => {
          this.#actionsLog.log("ERROR", `[${name}] Cannot restart the actions: ${errorText(e)}`);
        }),
      );
    }
    this.#jailLog.log("INFO", `Jail '${spec.name}' reloaded`);
  }
}

/** A systemd jail's journalmatch as fail2ban's `status` shows it (`A=1 B=2 + C=3`). */
function journalMatches(spec: JailSpec): string {
  try {
    return formatJournalMatch(parseJournalMatch(spec.filter.journalmatch, "journalmatch"));
  } catch {
    // Not startable anyway (the worker logged why): show it as written.
    return (spec.filter.journalmatch ?? "").trim();
  }
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Local time as fail2ban prints it in `Found` lines: `2005-08-14 12:00:00`. */
export function formatTime(epoch: number): string {
  const d = new Date(epoch * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${
    pad(d.getMinutes())
  }:${pad(d.getSeconds())}`;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
