/**
 * Persistence: the SQLite ban database (bans in force, ban history, log
 * positions, journal cursors) with fault handling at open.
 *
 * @module
 */

export * from "./ban_database.ts";
