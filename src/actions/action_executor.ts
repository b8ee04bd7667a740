/**
 * The action executor: one serialized queue, for all jails, that runs the
 * commands of command actions (action.d/*.conf) the way fail2ban's
 * CommandAction does.
 *
 * - `startJail` runs `actionstart` of each action. An action with
 *   `[Init?family=…]` sections (or `actionstart_on_demand = true`) starts on
 *   demand instead: its `actionstart` runs for a family at that family's first
 *   ban. A command that comes out the same for inet4 and inet6 runs once.
 * - `ban` runs `actionban` of each action (`reban`: `actionreban`, else
 *   `actionban`; actions with `norestored = true` skip restored tickets).
 * - When a command fails, fail2ban's repair logic runs: with an
 *   `actioncheck`, the check runs; if it fails, `actionrepair` runs (or, with
 *   no repair command, `actionstop` then `actionstart`), then the check again;
 *   the command is then retried once. An unban is not repaired unless
 *   `actionrepair_on_unban = true`. A command that timed out is not retried
 *   (it would hold the queue for another timeout): the call fails.
 * - `stopJail` mirrors fail2ban's jail stop: it removes the jail's bans from
 *   the firewall (`actionflush` where the action has one, else `actionunban`
 *   for each ban given), then runs `actionstop` of each action in reverse.
 * - A failing command is logged as
 *   `[sshd] Error executing action "iptables-multiport" actionban for 192.0.2.1: exit code 1 -- command: "…" -- stderr: "…"`
 *   and `ban`/`unban` resolve to false, so the caller keeps the ban pending
 *   and retries it. Nothing is thrown.
 *
 * Crash safety: the caller records a ban in the database (committed) before
 * calling `ban`, and removes it after `unban` succeeded, so a crash between
 * the two leaves the ban recorded and it is re-applied (`reban`) at restart.
 *
 * Batches: an action may declare `actionban_batch` (and `actionunban_batch`):
 * when several bans (unbans) of one jail and family are waiting in the queue,
 * the executor runs that command once for all of them, with `<ips>` replaced
 * by the addresses joined with commas (e.g. `nft add element … { <ips> }`)
 * and the environment variable `F2B_IPS` holding them one per line (e.g.
 * `printf '%s\n' "$F2B_IPS" | sed 's/^/add f2b-<name> /' | ipset restore -exist`).
 * Only tickets whose id is a valid address are batched; if the batch command
 * fails, each ticket falls back to its single `actionban`/`actionunban`.
 *
 * @module
 */

import type { ActionSpec } from "../config/types.ts";
import type { BanTicket } from "../ipc/messages.ts";
import type { Logger } from "../log/types.ts";
import type { Clock } from "../util/clock.ts";
import type { CommandResult, CommandRunner } from "./command_runner.ts";
import {
  buildCommand,
  dynamicValuesFor,
  isPlainAddress,
  type MergedBanInfo,
  type PreparedCommand,
  propertiesFor,
  replaceDynamicTags,
  replaceStaticTags,
  reverseAddress,
} from "./tag_substitution.ts";

/** Options of {@link ActionExecutor}. */
export interface ActionExecutorOptions {
  /** Runs the commands. */
  runner: CommandRunner;
  /** Receives errors and debug records. */
  logger: Logger;
  /** Source of `<time>` for commands without a ticket. */
  clock: Clock;
  /** Merged bans of an address, for `<ipmatches>`/`<ipfailures>` (jail null = all jails). @default the ticket's own */
  mergedBans?: (fid: string, jail: string | null) => MergedBanInfo | null;
  /** Host name of an address, for `<ip-host>`. @default a PTR lookup, "" when it fails */
  resolveHost?: (ip: string) => Promise<string>;
  /** Most tickets in one batch command. @default 1000 */
  maxBatch?: number;
}

/** Started state of an action per family: bit 1 started, bit 2 holds bans. */
const STARTED = 1;
const HAS_ITEMS = 2;

interface ActionState {
  spec: ActionSpec;
  started: Map<string, number>;
  /** Commands already run per operation and family (fail2ban runs a same command once for both families). */
  executed: Map<string, Map<string, string>>;
  onDemand: boolean;
  families: string[];
  needsMerged: boolean;
  needsHost: boolean;
}

type TaskKind = "start" | "stop" | "flush" | "ban" | "reban" | "unban";

interface Task {
  kind: TaskKind;
  jail: string;
  ticket: BanTicket | null;
  actions: ActionSpec[] | null;
  bans: BanTicket[];
  resolve: (ok: boolean) => void;
}

function truthy(v: string | undefined): boolean {
  return v !== undefined && /^(1|true|yes|on)$/i.test(v.trim());
}

async function defaultResolveHost(ip: string): Promise<string> {
  const rev = reverseAddress(ip);
  if (!rev) return "";
  try {
    const names = await Deno.resolveDns(
      rev + (ip.includes(":") ? "ip6.arpa" : "in-addr.arpa"),
      "PTR",
      { signal: AbortSignal.timeout(5000) },
    );
    return (names[0] ?? "").replace(/\.$/, "");
  } catch {
    return "";
  }
}

/**
 * Runs action commands for every jail through one serialized queue.
 *
 * @example Log-derived values reach the shell only as environment variables
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActionExecutor } from "./action_executor.ts";
 * import { FakeCommandRunner } from "./command_runner.ts";
 * import { NULL_LOGGER } from "../log/types.ts";
 * import { ManualClock } from "../util/clock.ts";
 *
 * const runner = new FakeCommandRunner();
 * const clock = new ManualClock(1_700_000_000);
 * const executor = new ActionExecutor({ runner, logger: NULL_LOGGER, clock });
 * await executor.startJail("sshd", [{
 *   name: "demo", kind: "demo", file: null, timeout: 60, properties: {}, familyProperties: {},
 *   commands: { actionstart: "demo-start", actionban: "demo-ban <ip> <F-USER>" },
 * }]);
 * await executor.ban({
 *   jail: "sshd", fid: "192.0.2.7", family: "inet4", time: clock.now(), banTime: 600,
 *   banCount: 0, failures: 3, matches: [], data: { user: "x; rm -rf /" },
 * });
 * assert.deepEqual(runner.commands(), ["demo-start", `demo-ban 192.0.2.7 "\${F2B_F_USER}"`]);
 * assert.equal(runner.calls[1]?.env.F2B_F_USER, "x; rm -rf /");
 * ```
 */
export class ActionExecutor {
  readonly #runner: CommandRunner;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #mergedBans: ActionExecutorOptions["mergedBans"];
  readonly #resolveHost: (ip: string) => Promise<string>;
  readonly #maxBatch: number;
  readonly #jails = new Map<string, ActionState[]>();
  #queue: Task[] = [];
  #running = false;
  #idleWaiters: (() => void)[] = [];

  /** Builds an executor; nothing runs until a method is called. */
  constructor(options: ActionExecutorOptions) {
    this.#runner = options.runner;
    this.#logger = options.logger;
    this.#clock = options.clock;
    this.#mergedBans = options.mergedBans;
    this.#resolveHost = options.resolveHost ?? defaultResolveHost;
    this.#maxBatch = options.maxBatch ?? 1000;
  }

  /** Number of calls waiting or running. */
  get pending(): number {
    return this.#queue.length + (this.#running ? 1 : 0);
  }

  /** Names of the jails whose actions are registered. */
  jails(): string[] {
    return [...this.#jails.keys()];
  }

  /** Resolves when the queue is empty. */
  idle(): Promise<void> {
    if (!this.#running && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Registers the jail's actions and runs `actionstart` of each (on-demand actions wait for a ban). */
  async startJail(jail: string, actions: ActionSpec[]): Promise<void> {
    await this.#enqueue({ kind: "start", jail, ticket: null, actions, bans: [] });
  }

  /**
   * Stops a jail as fail2ban does: flush its bans (`actionflush`, or
   * `actionunban` of each of `bans` for actions without one), then
   * `actionstop` of each action in reverse order, and forgets the jail.
   */
  async stopJail(jail: string, bans: BanTicket[] = []): Promise<void> {
    await this.#enqueue({ kind: "stop", jail, ticket: null, actions: null, bans });
  }

  /** Removes every ban of the jail from the firewall (`actionflush`, else `actionunban` of each of `bans`). True when all succeeded. */
  flush(jail: string, bans: BanTicket[] = []): Promise<boolean> {
    return this.#enqueue({ kind: "flush", jail, ticket: null, actions: null, bans });
  }

  /** Applies a ban with every action of the ticket's jail. True when all succeeded. */
  ban(ticket: BanTicket): Promise<boolean> {
    return this.#enqueue({ kind: "ban", jail: ticket.jail, ticket, actions: null, bans: [] });
  }

  /** Re-applies a ban restored from the database (`actionreban`, else `actionban`). */
  reban(ticket: BanTicket): Promise<boolean> {
    return this.#enqueue({ kind: "reban", jail: ticket.jail, ticket, actions: null, bans: [] });
  }

  /** Lifts a ban with every action of the ticket's jail. True when all succeeded. */
  unban(ticket: BanTicket): Promise<boolean> {
    return this.#enqueue({ kind: "unban", jail: ticket.jail, ticket, actions: null, bans: [] });
  }

  #enqueue(task: Omit<Task, "resolve">): Promise<boolean> {
    return new Promise((resolve) => {
      this.#queue.push({ ...task, resolve });
      if (!this.#running) void this.#pump();
    });
  }

  async #pump(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        const task = this.#queue.shift()!;
        try {
          if (task.kind === "ban" || task.kind === "reban" || task.kind === "unban") {
            const group = [task, ...this.#takeSameKind(task)];
            await this.#runTickets(task.kind, task.jail, group);
          } else {
            task.resolve(await this.#runJailTask(task));
          }
        } catch (e) {
          this.#logger.log(
            "ERROR",
            `[${task.jail}] Action executor failure: ${(e as Error).message}`,
          );
          task.resolve(false);
        }
      }
    } finally {
      this.#running = false;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Takes queued tasks of the same kind and jail, up to the first other task of that jail. */
  #takeSameKind(head: Task): Task[] {
    const taken: Task[] = [];
    const rest: Task[] = [];
    let blocked = false;
    for (const t of this.#queue) {
      if (t.jail !== head.jail) rest.push(t);
      else if (!blocked && t.kind === head.kind && taken.length + 1 < this.#maxBatch) {
        taken.push(t);
      } else {
        blocked = true;
        rest.push(t);
      }
    }
    if (taken.length > 0) this.#queue = rest;
    return taken;
  }

  #newState(spec: ActionSpec): ActionState {
    const hasCond = Object.keys(spec.familyProperties).length > 0;
    const flag = spec.properties["actionstart_on_demand"];
    const onDemand = flag !== undefined && flag.trim() !== "" ? truthy(flag) : hasCond;
    const fam = spec.properties["families"];
    const families = fam && fam.trim() !== ""
      ? fam.trim().split(/[\s,]+/)
      : hasCond
      ? ["inet4", "inet6"]
      : [""];
    const all = Object.values(spec.commands).join("\n") + "\n" +
      Object.values(spec.properties).join("\n");
    return {
      spec,
      started: new Map(),
      executed: new Map(),
      onDemand,
      families,
      needsMerged: /<ip(jail)?(matches|failures)>/.test(all),
      needsHost: all.includes("<ip-host>"),
    };
  }

  async #runJailTask(task: Task): Promise<boolean> {
    switch (task.kind) {
      case "start": {
        const states = (task.actions ?? []).map((s) => this.#newState(s));
        this.#jails.set(task.jail, states);
        let ok = true;
        for (const st of states) {
          if (st.onDemand) continue;
          ok = (await this.#start(task.jail, st, st.families)) && ok;
        }
        return ok;
      }
      case "flush":
        return await this.#flush(task.jail, task.bans);
      case "stop": {
        const states = this.#jails.get(task.jail);
        if (!states) return true;
        let ok = await this.#flush(task.jail, task.bans);
        for (const st of [...states].reverse()) ok = (await this.#stop(task.jail, st, null)) && ok;
        this.#jails.delete(task.jail);
        return ok;
      }
      default:
        return false;
    }
  }

  /** Runs an operation without a ticket (start, stop, flush, check, repair) for `families`. */
  async #operation(
    jail: string,
    st: ActionState,
    op: string,
    families: string[],
    after?: (family: string, ok: boolean) => void,
  ): Promise<boolean> {
    let ok = true;
    for (const family of families) {
      const prepared = this.#prepare(st, op, null, family, {});
      let ran = true;
      if (prepared) {
        const others = st.executed.get(op);
        let same = false;
        for (const [f, cmd] of others ?? []) {
          if (f !== family && cmd === prepared.command) same = true;
        }
        if (!same) ran = await this.#exec(jail, st, op, null, prepared);
      }
      after?.(family, ran);
      let map = st.executed.get(op);
      if (!map) st.executed.set(op, map = new Map());
      if (ran && prepared) map.set(family, prepared.command);
      else map.delete(family);
      ok &&= ran;
    }
    return ok;
  }

  #start(jail: string, st: ActionState, families: string[]): Promise<boolean> {
    return this.#operation(jail, st, "actionstart", families, (family, ok) => {
      if (ok) {
        st.executed.get("actionstop")?.delete(family);
        st.started.set(family, STARTED);
      }
    });
  }

  #stop(jail: string, st: ActionState, family: string | null): Promise<boolean> {
    let families: string[];
    if (family === null) {
      families = [...st.started].filter(([, v]) => v).map(([f]) => f);
      st.started.clear();
      if (families.length === 0) return Promise.resolve(true);
    } else {
      if (!st.started.has(family)) return Promise.resolve(true);
      st.started.set(family, 0);
      families = [family];
    }
    return this.#operation(jail, st, "actionstop", families, (f, ok) => {
      if (ok) st.executed.get("actionstart")?.delete(f);
    });
  }

  async #flush(jail: string, bans: BanTicket[]): Promise<boolean> {
    const states = this.#jails.get(jail);
    if (!states) return true;
    let ok = true;
    for (const st of states) {
      if (st.spec.commands["actionflush"]?.trim()) {
        const families = [...st.started].filter(([, v]) => (v & 3) === 3).map(([f]) => f);
        if (families.length === 0) continue;
        ok = (await this.#operation(jail, st, "actionflush", families, (f, done) => {
          if (done) st.started.set(f, (st.started.get(f) ?? 0) & ~HAS_ITEMS);
        })) && ok;
      } else {
        for (const t of bans) ok = (await this.#ticketCommand(jail, st, "unban", t)) && ok;
      }
    }
    return ok;
  }

  /** Builds one command of an action, for a ticket or none. */
  #prepare(
    st: ActionState,
    op: string,
    ticket: BanTicket | null,
    family: string,
    extra: { merged?: [MergedBanInfo | null, MergedBanInfo | null]; host?: string },
  ): PreparedCommand | null {
    const values = dynamicValuesFor(ticket, {
      family,
      now: this.#clock.now(),
      mergedAll: extra.merged?.[0] ?? null,
      mergedJail: extra.merged?.[1] ?? null,
      ipHost: extra.host ?? "",
      restored: ticket !== null && this.#restoring,
    });
    return buildCommand(st.spec, op, values, family);
  }

  #restoring = false;

  /** Runs a prepared command; logs a failure; true on success. */
  async #exec(
    jail: string,
    st: ActionState,
    op: string,
    ticket: BanTicket | null,
    prepared: PreparedCommand,
  ): Promise<boolean> {
    const result = await this.#runner.run(prepared.command, {
      env: prepared.env,
      timeout: st.spec.timeout,
    });
    this.#lastTimedOut = result.timedOut;
    if (result.code === 0 && !result.timedOut) return true;
    this.#logFailure(jail, st, op, ticket?.fid ?? null, prepared, result);
    return false;
  }

  #lastTimedOut = false;

  #logFailure(
    jail: string,
    st: ActionState,
    op: string,
    fid: string | null,
    prepared: PreparedCommand,
    r: CommandResult,
  ): void {
    const reason = r.timedOut
      ? `timed out after ${st.spec.timeout} seconds, process group killed`
      : r.code === null
      ? (r.stderr.startsWith("Cannot run") ? "could not start" : "killed by a signal")
      : `exit code ${r.code}`;
    const target = fid === null ? "" : ` for ${JSON.stringify(fid)}`;
    this.#logger.log(
      "ERROR",
      `[${jail}] Error executing action "${st.spec.name}" ${op}${target}: ${reason}` +
        ` -- command: ${JSON.stringify(prepared.command)}` +
        ` -- stderr: ${JSON.stringify(r.stderr.trim())}`,
    );
  }

  /** Runs `op` for a ticket with fail2ban's check-and-repair on failure. */
  async #processCmd(
    jail: string,
    st: ActionState,
    op: string,
    ticket: BanTicket,
    family: string,
  ): Promise<boolean> {
    const extra = await this.#extraFor(st, ticket);
    for (let attempt = 0;; attempt++) {
      if (attempt > 0 && st.spec.commands["actioncheck"]?.trim()) {
        if (!(await this.#invariantCheck(jail, st, family, op === "actionunban"))) return false;
      }
      const prepared = this.#prepare(st, op, ticket, family, extra);
      if (!prepared) return true;
      const ok = await this.#exec(jail, st, op, ticket, prepared);
      if (ok) return true;
      if (attempt >= 1 || this.#lastTimedOut) return false;
    }
  }

  /** fail2ban's invariant check: actioncheck, repair when it fails. True when sane. */
  async #invariantCheck(
    jail: string,
    st: ActionState,
    family: string,
    unban: boolean,
  ): Promise<boolean> {
    const check = this.#prepare(st, "actioncheck", null, family, {});
    if (!check) return true;
    if (await this.#exec(jail, st, "actioncheck", null, check)) return true;
    const props = propertiesFor(st.spec, family);
    if (unban && !truthy(props["actionrepair_on_unban"])) {
      this.#logger.log("ERROR", `[${jail}] Invariant check failed. Unban is impossible.`);
      return false;
    }
    this.#logger.log(
      "ERROR",
      `[${jail}] Invariant check failed for action "${st.spec.name}". Trying to restore a sane environment`,
    );
    const repair = this.#prepare(st, "actionrepair", null, family, {});
    if (repair) {
      if (!(await this.#exec(jail, st, "actionrepair", null, repair))) {
        st.started.set(family, 0);
        this.#logger.log("CRITICAL", `[${jail}] Unable to restore environment`);
        return false;
      }
      st.started.set(family, STARTED);
    } else {
      await this.#stop(jail, st, family);
      await this.#start(jail, st, [family]);
    }
    if (st.started.get(family)) {
      const again = this.#prepare(st, "actioncheck", null, family, {});
      if (again && !(await this.#exec(jail, st, "actioncheck", null, again))) {
        this.#logger.log("CRITICAL", `[${jail}] Unable to restore environment`);
        return false;
      }
    }
    return true;
  }

  async #extraFor(
    st: ActionState,
    ticket: BanTicket,
  ): Promise<{ merged?: [MergedBanInfo | null, MergedBanInfo | null]; host?: string }> {
    const extra: { merged?: [MergedBanInfo | null, MergedBanInfo | null]; host?: string } = {};
    if (st.needsMerged && this.#mergedBans) {
      try {
        extra.merged = [
          this.#mergedBans(ticket.fid, null),
          this.#mergedBans(ticket.fid, ticket.jail),
        ];
      } catch (e) {
        this.#logger.log(
          "ERROR",
          `[${ticket.jail}] Failed to get merged bans of ${JSON.stringify(ticket.fid)}: ${
            (e as Error).message
          }`,
        );
      }
    }
    if (st.needsHost && isPlainAddress(ticket.fid)) {
      extra.host = await this.#resolveHost(ticket.fid);
    }
    return extra;
  }

  /** One ticket through one action: ban, reban or unban, with on-demand start. */
  async #ticketCommand(
    jail: string,
    st: ActionState,
    kind: "ban" | "reban" | "unban",
    ticket: BanTicket,
  ): Promise<boolean> {
    const family = ticket.family ?? "";
    if (kind === "unban") {
      if (!((st.started.get(family) ?? 0) & HAS_ITEMS)) return true;
      return await this.#processCmd(jail, st, "actionunban", ticket, family);
    }
    if (kind === "reban" && truthy(propertiesFor(st.spec, family)["norestored"])) return true;
    if (!(await this.#ensureStarted(jail, st, family))) return false;
    const op = kind === "reban" && st.spec.commands["actionreban"]?.trim()
      ? "actionreban"
      : "actionban";
    const ok = await this.#processCmd(jail, st, op, ticket, family);
    if (ok) st.started.set(family, (st.started.get(family) ?? 0) | STARTED | HAS_ITEMS);
    return ok;
  }

  async #ensureStarted(jail: string, st: ActionState, family: string): Promise<boolean> {
    if (st.onDemand && !st.started.get(family)) return await this.#start(jail, st, [family]);
    return true;
  }

  /** Runs ban/reban/unban tasks of one jail, batching per action where it can. */
  async #runTickets(kind: "ban" | "reban" | "unban", jail: string, tasks: Task[]): Promise<void> {
    const states = this.#jails.get(jail);
    if (!states) {
      for (const t of tasks) {
        this.#logger.log(
          "ERROR",
          `[${jail}] Cannot ${kind} ${
            JSON.stringify(t.ticket?.fid)
          }: the jail has no actions started`,
        );
        t.resolve(false);
      }
      return;
    }
    const results = tasks.map(() => true);
    this.#restoring = kind === "reban";
    try {
      for (const st of states) {
        const single = new Set<number>(tasks.map((_, i) => i));
        const batchOp = kind === "unban" ? "actionunban_batch" : "actionban_batch";
        const canBatch = tasks.length > 1 && st.spec.commands[batchOp]?.trim() &&
          !(kind === "reban" && st.spec.commands["actionreban"]?.trim());
        if (canBatch) {
          const byFamily = new Map<string, number[]>();
          tasks.forEach((t, i) => {
            const tk = t.ticket!;
            if (!isPlainAddress(tk.fid)) return;
            const fam = tk.family ?? "";
            if (kind === "reban" && truthy(propertiesFor(st.spec, fam)["norestored"])) return;
            if (kind === "unban" && !((st.started.get(fam) ?? 0) & HAS_ITEMS)) return;
            const list = byFamily.get(fam) ?? [];
            list.push(i);
            byFamily.set(fam, list);
          });
          for (const [family, idx] of byFamily) {
            if (idx.length < 2) continue;
            const ok = await this.#batch(
              jail,
              st,
              batchOp,
              family,
              idx.map((i) => tasks[i]!.ticket!),
            );
            if (ok) {
              for (const i of idx) single.delete(i);
              if (kind !== "unban") {
                st.started.set(family, (st.started.get(family) ?? 0) | STARTED | HAS_ITEMS);
              }
            }
          }
        }
        for (const i of single) {
          const ok = await this.#ticketCommand(jail, st, kind, tasks[i]!.ticket!);
          results[i] = results[i]! && ok;
        }
      }
    } finally {
      this.#restoring = false;
    }
    tasks.forEach((t, i) => t.resolve(results[i]!));
  }

  /** Runs a batch command for `tickets` (valid addresses of one family). */
  async #batch(
    jail: string,
    st: ActionState,
    op: string,
    family: string,
    tickets: BanTicket[],
  ): Promise<boolean> {
    if (op === "actionban_batch" && !(await this.#ensureStarted(jail, st, family))) return false;
    const raw = st.spec.commands[op] ?? "";
    const ips = tickets.map((t) => t.fid);
    const stat = replaceStaticTags(raw, propertiesFor(st.spec, family)).replaceAll(
      "<ips>",
      ips.join(","),
    );
    const values = dynamicValuesFor(null, { family, now: this.#clock.now() });
    const prepared = replaceDynamicTags(stat, values);
    prepared.env["F2B_IPS"] = ips.join("\n");
    this.#logger.log(
      "DEBUG",
      `[${jail}] ${op} of action "${st.spec.name}" for ${ips.length} addresses`,
    );
    const ok = await this.#exec(jail, st, op, null, prepared);
    if (!ok) {
      this.#logger.log("WARNING", `[${jail}] Batch ${op} failed: trying each address alone`);
    }
    return ok;
  }
}
