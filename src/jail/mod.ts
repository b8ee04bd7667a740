/**
 * The jail core: what one jail does with its log lines.
 *
 * - {@link FailManager} counts failures per address within `findtime` and
 *   reports when `maxretry` is reached.
 * - {@link BanManager} keeps the bans in force, their ban times (with
 *   `bantime.increment` and its formula) and unbans them when due.
 * - {@link IgnoreList} decides `ignoreip` / `ignoreself` (addresses, networks,
 *   host names).
 * - {@link LogTailer} and {@link JournalSource} read log files (rotation,
 *   start position, encodings) and the systemd journal; {@link JailRunner}
 *   joins a source, the filter and the fail manager into ban requests.
 *
 * @module
 */

export * from "./fail_manager.ts";
export * from "./ban_manager.ts";
export * from "./bantime_formula.ts";
export * from "./ignore_list.ts";
export * from "./jail_check.ts";
export * from "./jail_matcher.ts";
export * from "./jail_runner.ts";
export * from "./journal_match.ts";
export * from "./journal_source.ts";
export * from "./line_decoder.ts";
export * from "./line_progress.ts";
export * from "./log_tailer.ts";
export * from "./start_position.ts";
