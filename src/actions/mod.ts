/**
 * Command actions: tag substitution that keeps log text away from the shell,
 * the command runner (process groups, timeouts), and the serialized action
 * executor with fail2ban's start/ban/unban/flush/stop semantics and batches.
 *
 * @module
 */

export * from "./tag_substitution.ts";
export * from "./command_runner.ts";
export * from "./action_executor.ts";
