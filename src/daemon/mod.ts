/**
 * The daemon: the main thread that supervises one worker per jail, turns
 * their ban requests into bans (ban manager, database, action executor),
 * unbans on time and answers the control plane.
 *
 * @module
 */

export * from "./daemon.ts";
export * from "./supervisor.ts";
export * from "./ports.ts";
export * from "./ignore_command.ts";
export * from "./shell_tags.ts";
