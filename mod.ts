/**
 * f2b: fail2ban rebuilt in TypeScript for Deno.
 *
 * From a log line to a ban:
 *
 * 1. The config reader loads a fail2ban configuration directory into typed
 *    jail specs (`src/config/`).
 * 2. The supervisor (main thread) starts one worker per enabled jail
 *    (`workers/jail_worker.ts`).
 * 3. Each worker tails its logpaths, finds each line's date (date detector),
 *    runs the filter (prefregex, failregex, ignoreregex), drops ignored
 *    addresses and counts failures per address within findtime.
 * 4. When a count reaches maxretry the worker posts a ban request; the ban
 *    manager decides the ban time and records the ban in the database.
 * 5. The serialized action executor runs the jail's actions (firewall rules,
 *    mails, …) with log-derived values kept out of the shell.
 * 6. Timers unban addresses when their ban time is over.
 *
 * @module
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
