/**
 * f2b: fail2ban rebuilt in TypeScript for Deno. Run as a program (`f2b server`,
 * `f2b client`, `f2b regex`), or use the parts as a library.
 *
 * From a log line to a ban:
 *
 * 1. The config reader loads a fail2ban configuration directory into typed
 *    jail specs: {@link readJails}, {@link readServerConfig}, {@link readFilter},
 *    {@link readAction} (`src/config/`). Where f2b would differ from fail2ban,
 *    the spec carries `warnings`.
 * 2. The {@link Daemon} (main thread) has its {@link Supervisor} start one
 *    worker per enabled jail (`workers/jail_worker.ts`).
 * 3. Each worker's {@link JailRunner} reads the jail's logs ({@link LogTailer},
 *    or {@link JournalSource} for `backend = systemd`), finds each line's date
 *    ({@link DateDetector}), runs the {@link Filter} (prefregex, failregex,
 *    ignoreregex), drops addresses on the {@link IgnoreList} and counts
 *    failures per address within findtime ({@link FailManager}).
 * 4. When a count reaches maxretry the worker posts a {@link BanRequest}; the
 *    {@link BanManager} decides the ban time (`bantime.increment`) and the
 *    {@link BanDatabase} records the ban.
 * 5. The serialized {@link ActionExecutor} runs the jail's actions (firewall
 *    rules, mails, …) through a {@link ShellCommandRunner}, with log-derived
 *    values kept out of the shell ({@link buildCommand}).
 * 6. A timer unbans addresses when their ban time is over.
 *
 * The control plane: {@link sendCommand} sends a fail2ban-client command to
 * the server's socket, where {@link handleCommand} answers it; the daemon logs
 * through {@link createLogger}.
 *
 * @example Steps 3 and 4 by hand: a filter, a fail manager and a ban manager
 * ```ts
 * import assert from "node:assert/strict";
 * import { BanManager, FailManager, Filter, ManualClock } from "./mod.ts";
 *
 * const clock = new ManualClock(1_700_000_000);
 * const filter = new Filter({
 *   name: "demo", file: null, prefregex: null, ignoreregex: [], datepattern: null,
 *   maxlines: 1, journalmatch: null, logtimezone: null, options: {},
 *   failregex: [{ pattern: "^auth failed from <HOST>$", origin: "demo" }],
 * }, { dateDetector: null });
 * const fails = new FailManager({ maxRetry: 2, findTime: 600, maxMatches: 2 });
 * const bans = new BanManager({
 *   jail: "demo", banTime: 3600, clock,
 *   increment: {
 *     enabled: true, factor: 1, formula: null, multipliers: [1, 2, 4],
 *     maxtime: null, rndtime: null, overalljails: false,
 *   },
 * });
 * for (const line of ["auth failed from 192.0.2.7", "auth failed from 192.0.2.7"]) {
 *   for (const f of filter.processLine(line, clock.now()).failures) {
 *     const t = fails.addFailure(f.fid, f.time, f.lines, f.data);
 *     if (!t) continue;
 *     const request = {
 *       jail: "demo", fid: t.fid, family: "inet4" as const, failures: t.failures,
 *       time: t.lastTime, matches: t.matches, data: t.data,
 *     };
 *     // A second ban of this address (banCount 1) takes the second multiplier.
 *     const ticket = bans.createTicket(request, { banCount: 1, lastBanTime: null });
 *     assert.ok(bans.addBan(ticket));
 *     assert.equal(ticket.banTime, 7200);
 *   }
 * }
 * assert.ok(bans.isBanned("192.0.2.7"));
 * ```
 *
 @module
 */

export * from "./src/config/mod.ts";
export * from "./src/filter/mod.ts";
export * from "./src/jail/mod.ts";
export * from "./src/net/mod.ts";
export * from "./src/actions/mod.ts";
export * from "./src/db/mod.ts";
export * from "./src/log/mod.ts";
export * from "./src/ipc/mod.ts";
export * from "./src/util/mod.ts";
export * from "./src/client/mod.ts";
export * from "./src/server/mod.ts";
export * from "./src/daemon/mod.ts";
// Two modules export these names: the top level picks one and renames the other.
export { pythonRepr } from "./src/config/mod.ts";
export { pythonRepr as replyRepr } from "./src/client/mod.ts";
export type { BanHistory } from "./src/jail/mod.ts";
export type { BanHistory as DatabaseBanHistory } from "./src/db/mod.ts";

if (import.meta.main) {
  const { main, programName } = await import("./src/cli/main.ts");
  const { argv0 } = await import("node:process");
  const standalone = Deno.build.standalone;
  const name = programName({ standalone, argv0, execPath: standalone ? Deno.execPath() : "" });
  Deno.exit(await main(name, Deno.args));
}
