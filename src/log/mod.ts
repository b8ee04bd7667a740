/**
 * Logging: the small {@link Logger} interface every component takes, and the
 * daemon's logger with fail2ban's targets (`STDOUT`, `STDERR`, `SYSLOG`,
 * `SYSTEMD-JOURNAL`, a file), levels and line format.
 *
 * @module
 */

export * from "./types.ts";
export * from "./logger.ts";
export * from "./unix_datagram.ts";
