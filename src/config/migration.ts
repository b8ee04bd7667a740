/**
 * Migration notes: where f2b, given a fail2ban configuration, would behave differently from
 * fail2ban 1.0.2. The readers call these checks and put the result on the spec
 * ({@link JailSpec.warnings}, {@link ServerSpec.warnings}); the daemon logs them at start and
 * `server -t` prints them.
 *
 * The options fail2ban reads (its jail, filter, action and fail2ban.conf option tables)
 * compared with f2b:
 *
 * | Where | Option | f2b |
 * | --- | --- | --- |
 * | jail | `backend = pyinotify`, `gamin` | not implemented: treated as `auto` (file-system events with polling as a safety net); warned |
 * | jail | `backend = polling[…]`, `auto[…]` | options of file backends are ignored; warned |
 * | jail | `backend = systemd[…]` | `journalpath`, `journalfiles`, `journalflags`, `namespace` read; other options ignored (fail2ban fails the backend); warned |
 * | jail | `backend` of another name | the jail does not start (as in fail2ban): error naming file, section and option |
 * | jail | `logencoding` | Python codec names mapped to WHATWG encodings; one without a decoder, or UTF-16/32, stops the jail: error. `auto` is UTF-8 (fail2ban: the locale's encoding) |
 * | jail | `action = NAME.py[…]` | Python actions are not run; the jail starts without them; warned |
 * | action | `actionreload` | not run: on reload a changed action is stopped and started again; warned when set |
 * | action | `actionprolong` | not run (fail2ban 1.0.2 never runs it either) |
 * | filter | `logtype` | interpolation only, as in fail2ban (`file`, `short`, `journal`, `rfc5424`) |
 * | fail2ban.conf | `[Thread] stacksize` | ignored (no Python threads); warned when set |
 * | fail2ban.conf | `allowipv6 = no` | ignored: IPv6 is always handled; warned |
 * | fail2ban.conf | `logtarget = …[format=…]` | only `datetime`, `padding` and `facility` are read; other options warned |
 *
 * Everything else fail2ban reads (`maxretry`, `findtime`, `bantime`, `bantime.*`, `maxmatches`,
 * `ignoreip`, `ignoreself`, `ignorecommand`, `ignorecache`, `logpath` with `head`/`tail`,
 * `logtimezone`, `usedns`, `prefregex`, `failregex`, `ignoreregex`, `maxlines`, `datepattern`,
 * `journalmatch`, the action commands and flags, `[Init] timeout`, `loglevel`, `logtarget`,
 * `syslogsocket`, `socket`, `pidfile`, `dbfile`, `dbmaxmatches`, `dbpurgeage`) is honoured.
 *
 * @module
 */

import { encodingLabel } from "../jail/line_decoder.ts";
import { asBool } from "./_definition_init.ts";
import { parseReference } from "./reference.ts";
import type { JailSpec, ServerSpec } from "./types.ts";

/** The backends fail2ban 1.0.2 knows, besides `auto`. */
export const FAIL2BAN_BACKENDS: readonly string[] = ["pyinotify", "gamin", "polling", "systemd"];

/** Options of `backend = systemd[…]` that f2b reads (fail2ban's names). */
export const JOURNAL_BACKEND_OPTIONS: readonly string[] = [
  "journalpath",
  "journalfiles",
  "journalflags",
  "namespace",
];

/** `logtarget` options f2b reads (fail2ban's names). */
export const LOGTARGET_OPTIONS: readonly string[] = ["datetime", "padding", "facility"];

/**
 * Checks a jail's `backend` value.
 *
 * @returns a note when f2b treats the backend differently from fail2ban, else null.
 * @throws {SyntaxError} for a backend fail2ban does not know either, or a malformed value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { backendNote } from "./migration.ts";
 * assert.equal(backendNote("auto"), null);
 * assert.match(backendNote("pyinotify") ?? "", /treated as "auto"/);
 * assert.throws(() => backendNote("inotify"), SyntaxError);
 * ```
 */
export function backendNote(value: string): string | null {
  let ref;
  try {
    ref = parseReference(value.trim());
  } catch (e) {
    throw new SyntaxError(`backend ${JSON.stringify(value)} is malformed: ${(e as Error).message}`);
  }
  const name = ref.name.trim().toLowerCase();
  const options = Object.keys(ref.options);
  if (name !== "auto" && !FAIL2BAN_BACKENDS.includes(name)) {
    throw new SyntaxError(
      `unknown backend ${JSON.stringify(value)}: must be one of ${
        ["auto", ...FAIL2BAN_BACKENDS].map((b) => `"${b}"`).join(", ")
      }`,
    );
  }
  if (name === "systemd") {
    const unknown = options.filter((o) => !JOURNAL_BACKEND_OPTIONS.includes(o));
    if (!unknown.length) return null;
    return `backend ${JSON.stringify(value)}: option${unknown.length > 1 ? "s" : ""} ${
      unknown.map((o) => `"${o}"`).join(", ")
    } ignored (f2b reads ${JOURNAL_BACKEND_OPTIONS.map((o) => `"${o}"`).join(", ")})`;
  }
  const notes: string[] = [];
  if (name === "pyinotify" || name === "gamin") {
    notes.push(
      `backend "${name}" is not implemented by f2b: treated as "auto" ` +
        "(file-system events, with polling as a safety net)",
    );
  }
  if (options.length) {
    notes.push(
      `backend ${JSON.stringify(value)}: options ${
        options.map((o) => `"${o}"`).join(", ")
      } ignored (file backends take no options)`,
    );
  }
  return notes.length ? notes.join("; ") : null;
}

/**
 * Checks a jail's `logencoding` value.
 *
 * @returns null when f2b can decode it, else why not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logEncodingProblem } from "./migration.ts";
 * assert.equal(logEncodingProblem("latin-1"), null);
 * assert.match(logEncodingProblem("utf-16") ?? "", /not supported/);
 * ```
 */
export function logEncodingProblem(value: string): string | null {
  const label = encodingLabel(value);
  let encoding: string;
  try {
    encoding = new TextDecoder(label).encoding;
  } catch {
    return `logencoding ${JSON.stringify(value)} is not an encoding f2b can decode`;
  }
  if (encoding.startsWith("utf-16") || encoding.startsWith("utf-32")) {
    return `logencoding ${JSON.stringify(value)} is not supported: f2b reads only encodings ` +
      "where a line feed is the byte 0x0A (UTF-8, Latin-1, ISO-8859-*, Windows code pages…)";
  }
  return null;
}

/** Where a server option was set, for messages (`" (file:line)"` or `""`). */
export type OptionLocator = (section: string, option: string) => string;

/**
 * Server settings f2b reads but does not honour as fail2ban does.
 *
 * @param spec The settings read from fail2ban.conf.
 * @param stacksize `[Thread] stacksize` as written, or undefined when not set.
 * @param at Tells where an option was set.
 */
export function serverNotes(
  spec: ServerSpec,
  stacksize: string | undefined,
  at: OptionLocator = () => "",
): string[] {
  const notes: string[] = [];
  if (stacksize !== undefined && stacksize.trim() !== "") {
    notes.push(
      `fail2ban.conf [Thread] stacksize${
        at("Thread", "stacksize")
      }: ignored (f2b runs no Python threads)`,
    );
  }
  const v6 = spec.allowipv6.trim().toLowerCase();
  if (v6 !== "auto" && v6 !== "" && !asBool(v6)) {
    notes.push(
      `fail2ban.conf [Definition] allowipv6${at("Definition", "allowipv6")}: ${
        JSON.stringify(spec.allowipv6)
      } ignored (f2b always handles IPv6 addresses and starts the inet6 part of actions)`,
    );
  }
  const m = /^[^\[]+\[(.*)\]\s*$/s.exec(spec.logtarget.trim());
  if (m) {
    const unknown = m[1]!.split(",").map((p) => p.split("=")[0]!.trim().toLowerCase())
      .filter((k) => k !== "" && !LOGTARGET_OPTIONS.includes(k));
    if (unknown.length) {
      notes.push(
        `fail2ban.conf [Definition] logtarget${at("Definition", "logtarget")}: option${
          unknown.length > 1 ? "s" : ""
        } ${unknown.map((o) => `"${o}"`).join(", ")} ignored (f2b reads ${
          LOGTARGET_OPTIONS.map((o) => `"${o}"`).join(", ")
        })`,
      );
    }
  }
  return notes;
}

/** The notes of one jail spec that depend only on the spec (its actions). */
export function actionNotes(spec: Pick<JailSpec, "name" | "actions">): string[] {
  const notes: string[] = [];
  for (const a of spec.actions) {
    if (a.commands.actionreload?.trim()) {
      notes.push(
        `Action "${a.name}" of jail "${spec.name}"${
          a.file ? ` (${a.file})` : ""
        }: actionreload is not run by f2b (on reload a changed action is stopped and started again)`,
      );
    }
  }
  return notes;
}
