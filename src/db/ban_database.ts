/**
 * The ban database: SQLite through Deno's built-in `node:sqlite`, at the
 * `dbfile` of fail2ban.conf (or `:memory:`).
 *
 * Tables: `bans` (bans in force, one row per jail and id, restored with their
 * remaining time at start), `ban_history` (every ban, for bantime.increment,
 * kept `dbpurgeage` seconds), `positions` (log read positions per jail and
 * file) and `cursors` (journal cursors per jail).
 *
 * Crash safety: every write is its own committed transaction in WAL mode. The
 * caller records a ban (`addBan`) before it runs the ban action and removes it
 * (`removeBan`) after the unban action, so after `kill -9` every ban in force
 * is in the database, and a manual unban stays unbanned.
 *
 * Faults: at open the file is checked (`quick_check`, a write in a
 * transaction). A file that is truncated, corrupt, not a database, locked or
 * read-only is renamed to `<file>.bad-<epoch seconds>` (the previous backup
 * is removed, one is kept), a fresh database is made, and a loud ERROR names
 * the file and what to do. If even that fails, the database lives in memory
 * so the daemon keeps banning. Errors at run time (disk full) are logged and
 * the call reports failure; nothing is thrown to the caller.
 *
 * @module
 */

import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { basename, dirname, join } from "node:path";
import type { BanTicket, LogPosition } from "../ipc/messages.ts";
import type { Logger } from "../log/types.ts";
import type { Clock } from "../util/clock.ts";

/** Options of {@link BanDatabase.open}. */
export interface BanDatabaseOptions {
  /** Receives the errors. */
  logger: Logger;
  /** Source of the backup timestamp. */
  clock: Clock;
  /** Milliseconds to wait for a lock held by another connection. @default 5000 */
  busyTimeout?: number;
}

/** What the ban history says about an id. */
export interface BanHistory {
  /** Bans recorded for the id (the next ban's `banCount`). */
  banCount: number;
  /** Start of the latest ban, epoch seconds, or null. */
  lastBanTime: number | null;
  /** Duration of the latest ban in seconds (negative: permanent), or null. */
  lastBanDuration: number | null;
}

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bans (
  jail TEXT NOT NULL, fid TEXT NOT NULL, family TEXT,
  time REAL NOT NULL, bantime REAL NOT NULL, bancount INTEGER NOT NULL,
  failures INTEGER NOT NULL, matches TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (jail, fid));
CREATE TABLE IF NOT EXISTS ban_history (
  jail TEXT NOT NULL, fid TEXT NOT NULL, time REAL NOT NULL, bantime REAL NOT NULL,
  bancount INTEGER NOT NULL, failures INTEGER NOT NULL, matches TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ban_history_fid ON ban_history (fid, jail, time);
CREATE INDEX IF NOT EXISTS ban_history_time ON ban_history (time);
CREATE TABLE IF NOT EXISTS positions (
  jail TEXT NOT NULL, path TEXT NOT NULL, offset INTEGER NOT NULL,
  first_line_hash TEXT NOT NULL, PRIMARY KEY (jail, path));
CREATE TABLE IF NOT EXISTS cursors (jail TEXT PRIMARY KEY, cursor TEXT NOT NULL);
`;

/** Opens, checks and prepares a database file; throws on any fault. */
function openChecked(path: string, busyTimeout: number): DatabaseSync {
  if (path !== ":memory:") {
    // Create the file ourselves so it is 0600 from the start (SQLite gives its -wal/-shm the same mode).
    const f = Deno.openSync(path, { create: true, read: true, write: true, mode: 0o600 });
    f.close();
    Deno.chmodSync(path, 0o600);
  }
  const db = new DatabaseSync(path);
  try {
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(busyTimeout))}`);
    const check = db.prepare("PRAGMA quick_check").all() as { quick_check: string }[];
    const verdict = check.map((r) => r.quick_check).join("; ");
    if (verdict !== "ok") throw new Error(`integrity check failed: ${verdict}`);
    if (path !== ":memory:") {
      const mode = db.prepare("PRAGMA journal_mode = WAL").get() as { journal_mode: string };
      if (mode.journal_mode.toLowerCase() !== "wal") {
        throw new Error(`cannot switch to WAL journal (got "${mode.journal_mode}")`);
      }
      db.exec("PRAGMA synchronous = NORMAL");
    }
    // A write in a transaction proves the file is neither read-only nor locked.
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(SCHEMA);
      db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('version', ?)").run(
        String(SCHEMA_VERSION),
      );
      db.exec("COMMIT");
    } catch (e) {
      try {
        db.exec("ROLLBACK");
      } catch {
        // Nothing to roll back.
      }
      throw e;
    }
    return db;
  } catch (e) {
    try {
      db.close();
    } catch {
      // Already unusable.
    }
    throw e;
  }
}

function tryRemove(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // Not there.
  }
}

/** Bans, ban history, log positions and journal cursors, in SQLite. */
export class BanDatabase {
  readonly #db: DatabaseSync;
  readonly #logger: Logger;
  /** The file in use, or `:memory:`. */
  readonly path: string;
  /** The file asked for (differs from `path` when it fell back to memory). */
  readonly requestedPath: string;
  /** Where a bad file was moved, when it was. */
  readonly backupPath: string | null;
  #closed = false;

  private constructor(
    db: DatabaseSync,
    logger: Logger,
    path: string,
    requestedPath: string,
    backupPath: string | null,
  ) {
    this.#db = db;
    this.#logger = logger;
    this.path = path;
    this.requestedPath = requestedPath;
    this.backupPath = backupPath;
  }

  /** True when the database fell back to memory (bans are lost at restart). */
  get inMemory(): boolean {
    return this.path === ":memory:";
  }

  /**
   * Opens (or creates) the database at `path` (`:memory:` for none on disk).
   * Never throws: a bad file is moved aside and replaced, and when no file can
   * be used the database lives in memory; both are logged as ERROR.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { BanDatabase } from "./ban_database.ts";
   * import { NULL_LOGGER } from "../log/types.ts";
   * import { ManualClock } from "../util/clock.ts";
   *
   * const clock = new ManualClock(1_700_000_000);
   * const db = BanDatabase.open(":memory:", { logger: NULL_LOGGER, clock });
   * db.addBan({
   *   jail: "sshd", fid: "192.0.2.7", family: "inet4", time: clock.now(), banTime: 600,
   *   banCount: 0, failures: 3, matches: [], data: {},
   * });
   * assert.deepEqual(db.currentBans(clock.now()).map((t) => t.fid), ["192.0.2.7"]);
   * assert.equal(db.banHistory("192.0.2.7", "sshd").banCount, 1);
   * db.close();
   * ```
   */
  static open(path: string, options: BanDatabaseOptions): BanDatabase {
    const { logger } = options;
    const busy = options.busyTimeout ?? 5000;
    if (path === ":memory:") {
      return new BanDatabase(openChecked(path, busy), logger, path, path, null);
    }
    const dir = dirname(path);
    let problem: string;
    try {
      try {
        Deno.statSync(dir);
      } catch {
        Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
      }
      return new BanDatabase(openChecked(path, busy), logger, path, path, null);
    } catch (e) {
      problem = (e as Error).message;
    }
    // The file is unusable: keep one backup of it and start a fresh one.
    const stamp = Math.trunc(options.clock.now());
    const backup = `${path}.bad-${stamp}`;
    let moved: string | null = null;
    try {
      const prefix = `${basename(path)}.bad-`;
      for (const entry of Deno.readDirSync(dir)) {
        if (entry.name.startsWith(prefix)) tryRemove(join(dir, entry.name));
      }
      Deno.renameSync(path, backup);
      moved = backup;
      for (const side of ["-wal", "-journal"]) {
        try {
          Deno.renameSync(path + side, backup + side);
        } catch {
          // No such side file.
        }
      }
      tryRemove(path + "-shm");
      const db = openChecked(path, busy);
      logger.log(
        "ERROR",
        `Database "${path}" was unusable (${problem}): moved it to "${backup}" and started a fresh database. ` +
          `Bans and history in the old file are not restored: inspect or repair the backup ` +
          `(sqlite3 "${backup}" .recover) if they matter, and check the disk and the file's permissions`,
      );
      return new BanDatabase(db, logger, path, path, backup);
    } catch (e) {
      logger.log(
        "ERROR",
        `Database "${path}" is unusable (${problem}) and cannot be replaced (${
          (e as Error).message
        })${moved ? `; the bad file was moved to "${moved}"` : ""}: ` +
          `keeping bans in memory only, they will be lost at restart. ` +
          `Fix the file or directory (permissions, free space, read-only mount) or set dbfile, then restart`,
      );
      return new BanDatabase(openChecked(":memory:", busy), logger, ":memory:", path, moved);
    }
  }

  /** Runs a write in a transaction; logs and returns false on failure. */
  #write(what: string, fn: () => void): boolean {
    if (this.#closed) return false;
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        fn();
        this.#db.exec("COMMIT");
      } catch (e) {
        try {
          this.#db.exec("ROLLBACK");
        } catch {
          // The failed statement ended the transaction.
        }
        throw e;
      }
      return true;
    } catch (e) {
      this.#logger.log("ERROR", `Database "${this.path}": cannot ${what}: ${(e as Error).message}`);
      return false;
    }
  }

  /** Runs a read; logs and returns `fallback` on failure. */
  #read<T>(what: string, fallback: T, fn: () => T): T {
    if (this.#closed) return fallback;
    try {
      return fn();
    } catch (e) {
      this.#logger.log("ERROR", `Database "${this.path}": cannot ${what}: ${(e as Error).message}`);
      return fallback;
    }
  }

  /** Records a ban in force and in the history; committed when it returns true. */
  addBan(ticket: BanTicket): boolean {
    const matches = JSON.stringify(ticket.matches);
    return this.#write(`record the ban of "${ticket.fid}" in jail "${ticket.jail}"`, () => {
      this.#db.prepare(
        `INSERT OR REPLACE INTO bans (jail, fid, family, time, bantime, bancount, failures, matches, data)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        ticket.jail,
        ticket.fid,
        ticket.family,
        ticket.time,
        ticket.banTime,
        ticket.banCount,
        ticket.failures,
        matches,
        JSON.stringify(ticket.data),
      );
      this.#db.prepare(
        `INSERT INTO ban_history (jail, fid, time, bantime, bancount, failures, matches)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        ticket.jail,
        ticket.fid,
        ticket.time,
        ticket.banTime,
        ticket.banCount,
        ticket.failures,
        matches,
      );
    });
  }

  /** Forgets a ban in force (unbanned); the history keeps it. */
  removeBan(jail: string, fid: string): boolean {
    return this.#write(`remove the ban of "${fid}" in jail "${jail}"`, () => {
      this.#db.prepare("DELETE FROM bans WHERE jail = ? AND fid = ?").run(jail, fid);
    });
  }

  /** Forgets every ban in force of a jail (or of all jails when `jail` is null). */
  removeAllBans(jail: string | null): boolean {
    return this.#write(`remove the bans of ${jail ? `jail "${jail}"` : "all jails"}`, () => {
      if (jail === null) this.#db.prepare("DELETE FROM bans").run();
      else this.#db.prepare("DELETE FROM bans WHERE jail = ?").run(jail);
    });
  }

  /** Bans still in force at `now` (permanent, or ending after `now`), oldest first. */
  currentBans(now: number, jail: string | null = null): BanTicket[] {
    return this.#read("read the bans", [] as BanTicket[], () => {
      const sql =
        `SELECT jail, fid, family, time, bantime, bancount, failures, matches, data FROM bans
        WHERE (bantime < 0 OR time + bantime > ?)${jail === null ? "" : " AND jail = ?"}
        ORDER BY time, rowid`;
      const args: SQLInputValue[] = jail === null ? [now] : [now, jail];
      const rows = this.#db.prepare(sql).all(...args) as Record<string, SQLInputValue>[];
      return rows.map((r) => ({
        jail: String(r.jail),
        fid: String(r.fid),
        family: r.family === "inet4" || r.family === "inet6" ? r.family : null,
        time: Number(r.time),
        banTime: Number(r.bantime),
        banCount: Number(r.bancount),
        failures: Number(r.failures),
        matches: parseJson(r.matches, [] as string[]),
        data: parseJson(r.data, {} as Record<string, string>),
      }));
    });
  }

  /** The ban history of an id in one jail, or over all jails when `jail` is null. */
  banHistory(fid: string, jail: string | null): BanHistory {
    return this.#read(
      `read the ban history of "${fid}"`,
      { banCount: 0, lastBanTime: null, lastBanDuration: null } as BanHistory,
      () => {
        const where = jail === null ? "fid = ?" : "fid = ? AND jail = ?";
        const args: SQLInputValue[] = jail === null ? [fid] : [fid, jail];
        const count = this.#db.prepare(
          `SELECT COUNT(*) AS n, MAX(bancount) AS maxcount FROM ban_history WHERE ${where}`,
        ).get(...args) as { n: number; maxcount: number | null };
        const last = this.#db.prepare(
          `SELECT time, bantime FROM ban_history WHERE ${where} ORDER BY time DESC, rowid DESC LIMIT 1`,
        ).get(...args) as { time: number; bantime: number } | undefined;
        return {
          // Purged rows must not make the count go back: the stored counts carry it on.
          banCount: Math.max(
            Number(count.n),
            count.maxcount === null ? 0 : Number(count.maxcount) + 1,
          ),
          lastBanTime: last ? Number(last.time) : null,
          lastBanDuration: last ? Number(last.bantime) : null,
        };
      },
    );
  }

  /** Matches and failures of every recorded ban of an id (for `<ipmatches>`, `<ipjailfailures>`…). */
  bansMerged(fid: string, jail: string | null): { matches: string[]; failures: number } {
    return this.#read(`read the bans of "${fid}"`, { matches: [], failures: 0 }, () => {
      const where = jail === null ? "fid = ?" : "fid = ? AND jail = ?";
      const args: SQLInputValue[] = jail === null ? [fid] : [fid, jail];
      const rows = this.#db.prepare(
        `SELECT failures, matches FROM ban_history WHERE ${where} ORDER BY time, rowid`,
      ).all(...args) as { failures: number; matches: string }[];
      const matches: string[] = [];
      let failures = 0;
      for (const r of rows) {
        failures += Number(r.failures);
        matches.push(...parseJson(r.matches, [] as string[]));
      }
      return { matches, failures };
    });
  }

  /** Replaces the saved read positions of a jail. */
  savePositions(jail: string, positions: LogPosition[]): boolean {
    return this.#write(`save the log positions of jail "${jail}"`, () => {
      this.#db.prepare("DELETE FROM positions WHERE jail = ?").run(jail);
      const ins = this.#db.prepare(
        "INSERT INTO positions (jail, path, offset, first_line_hash) VALUES (?, ?, ?, ?)",
      );
      for (const p of positions) ins.run(jail, p.path, p.offset, p.firstLineHash);
    });
  }

  /** The saved read positions of a jail. */
  loadPositions(jail: string): LogPosition[] {
    return this.#read(`read the log positions of jail "${jail}"`, [] as LogPosition[], () => {
      const rows = this.#db.prepare(
        "SELECT path, offset, first_line_hash FROM positions WHERE jail = ? ORDER BY path",
      ).all(jail) as { path: string; offset: number; first_line_hash: string }[];
      return rows.map((r) => ({
        path: String(r.path),
        offset: Number(r.offset),
        firstLineHash: String(r.first_line_hash),
      }));
    });
  }

  /** Saves the journal cursor of a jail. */
  saveCursor(jail: string, cursor: string): boolean {
    return this.#write(`save the journal cursor of jail "${jail}"`, () => {
      this.#db.prepare("INSERT OR REPLACE INTO cursors (jail, cursor) VALUES (?, ?)").run(
        jail,
        cursor,
      );
    });
  }

  /** The saved journal cursor of a jail, or null. */
  loadCursor(jail: string): string | null {
    return this.#read(`read the journal cursor of jail "${jail}"`, null as string | null, () => {
      const row = this.#db.prepare("SELECT cursor FROM cursors WHERE jail = ?").get(jail) as
        | { cursor: string }
        | undefined;
      return row ? String(row.cursor) : null;
    });
  }

  /**
   * Drops history older than `dbpurgeage` seconds (except bans still in
   * force) and bans in force that have ended. Returns the rows removed.
   */
  purge(now: number, dbpurgeage: number): number {
    let removed = 0;
    this.#write("purge old bans", () => {
      const old = now - dbpurgeage;
      removed += Number(
        this.#db.prepare(
          "DELETE FROM ban_history WHERE time < ? AND bantime >= 0 AND time + bantime <= ?",
        ).run(old, now).changes,
      );
      removed += Number(
        this.#db.prepare("DELETE FROM bans WHERE bantime >= 0 AND time + bantime <= ?").run(now)
          .changes,
      );
    });
    return removed;
  }

  /** Checkpoints the WAL and closes the file. Further calls do nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (!this.inMemory) this.#db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch {
      // Best effort: the WAL is replayed at next open anyway.
    }
    try {
      this.#db.close();
    } catch (e) {
      this.#logger.log("ERROR", `Database "${this.path}": cannot close: ${(e as Error).message}`);
    }
  }
}

function parseJson<T>(text: SQLInputValue | undefined, fallback: T): T {
  try {
    return typeof text === "string" ? JSON.parse(text) as T : fallback;
  } catch {
    return fallback;
  }
}
