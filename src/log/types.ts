/**
 * The logging interface every component takes, so tests can capture logs and
 * the daemon can route them to fail2ban's targets.
 *
 * @module
 */

import type { LogLevel } from "../ipc/messages.ts";

/** Something that takes log records. */
export interface Logger {
  /** Logs `message` at `level`. */
  log(level: LogLevel, message: string): void;
  /**
   * Logs each of `messages` at `level`, in order, as {@link log} would: optional, for loggers
   * that write many records at a lower cost per record (one write for all of them).
   */
  logMany?(level: LogLevel, messages: readonly string[]): void;
}

/** A logger that drops everything. */
export const NULL_LOGGER: Logger = { log() {} };

/** A logger that keeps records in memory, for tests. */
export class MemoryLogger implements Logger {
  /** The records logged so far. */
  readonly records: { level: LogLevel; message: string }[] = [];
  /** Keeps the record. */
  log(level: LogLevel, message: string): void {
    this.records.push({ level, message });
  }
  /** Messages logged at `level`, or all when no level is given. */
  messages(level?: LogLevel): string[] {
    return this.records.filter((r) => !level || r.level === level).map((r) => r.message);
  }
}
