/**
 * What a jail's spec must pass before anything runs it: its filter compiles
 * (every prefregex, failregex and ignoreregex translates, each failregex has
 * a host or id group, the datepattern and logtimezone are valid) and its
 * `ignoreip` entries parse. The one check behind `server -t`, the start of
 * the server, `reload` / SIGHUP and the `start` / `set` commands: a broken
 * configuration is refused whole, before any jail is touched.
 *
 * @module
 */

import { JailConfigError, readJails } from "../config/jail_reader.ts";
import type { JailSpec } from "../config/types.ts";
import { DateDetector } from "../filter/date_detector.ts";
import { Filter } from "../filter/filter.ts";
import { parseIgnoreEntry } from "../net/ignore_entry.ts";

function message(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** The filter option a compile error is about, from the regex origin it names. */
function optionOf(text: string): string | undefined {
  return /\b(prefregex|failregex|ignoreregex|datepattern|logtimezone)\b/.exec(text)?.[1];
}

/**
 * Compiles the jail's filter (as its worker will) and parses its `ignoreip`
 * entries; nothing is kept. For a spec changed at run time (`set <jail>
 * addfailregex …`): the error is the filter's or the entry's own.
 *
 * @throws {SyntaxError} naming the regex (file, section, option and line) or
 *   the ignoreip entry
 */
export function checkJailSpec(spec: JailSpec): void {
  const flt = spec.filter;
  const dateDetector = new DateDetector({
    datepattern: flt.datepattern,
    logtimezone: flt.logtimezone,
  });
  new Filter(flt, { dateDetector, useDns: spec.usedns });
  for (const entry of spec.ignoreip) parseIgnoreEntry(entry.trim());
}

/**
 * Checks one jail as {@link checkJailSpec} does, reporting a problem as a
 * configuration error.
 *
 * @throws {JailConfigError} naming the jail (section), the file and the key
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkJail } from "./jail_check.ts";
 * import type { JailSpec } from "../config/types.ts";
 *
 * const spec = {
 *   name: "web", ignoreip: [], usedns: "warn",
 *   filter: {
 *     name: "web", file: "/etc/f2b/filter.d/web.conf", prefregex: null, ignoreregex: [],
 *     failregex: [{ pattern: "^(unclosed <HOST>", origin: "/etc/f2b/filter.d/web.conf [Definition] failregex line 1" }],
 *     datepattern: null, maxlines: 1, journalmatch: null, logtimezone: null, options: {},
 *   },
 * } as unknown as JailSpec;
 * assert.throws(() => checkJail(spec), /Cannot start jail "web": .*web\.conf .*failregex/);
 * ```
 */
export function checkJail(spec: JailSpec): void {
  const flt = spec.filter;
  try {
    checkJailSpec(spec);
  } catch (e) {
    if (!(e instanceof SyntaxError || e instanceof RangeError || e instanceof TypeError)) throw e;
    const text = message(e);
    if (text.startsWith("invalid ignoreip entry")) {
      throw new JailConfigError(spec.name, `ignoreip: ${text}`, {
        section: spec.name,
        option: "ignoreip",
      }, { cause: e });
    }
    const where = flt.file ? "" : ` (filter "${flt.name}")`;
    throw new JailConfigError(spec.name, `${text}${where}`, {
      file: flt.file ?? undefined,
      section: spec.name,
      option: optionOf(text) ?? "filter",
    }, { cause: e });
  }
}

/**
 * Checks every jail ({@link checkJail}) and returns them unchanged when all
 * pass.
 *
 * @throws {JailConfigError} for one broken jail, or an `AggregateError` of
 *   them (its message lists each) when several are broken
 */
export function checkJails(specs: JailSpec[]): JailSpec[] {
  const errors: JailConfigError[] = [];
  checkEach(specs, errors);
  throwAll(errors);
  return specs;
}

/** {@link checkJail} on every spec, each `JailConfigError` added to `errors` (others thrown). */
function checkEach(specs: JailSpec[], errors: JailConfigError[]): void {
  for (const spec of specs) {
    try {
      checkJail(spec);
    } catch (e) {
      if (!(e instanceof JailConfigError)) throw e;
      errors.push(e);
    }
  }
}

/**
 * Reads the enabled jails of a configuration directory and checks them
 * ({@link checkJail}): the one validation behind `server -t`, the server's
 * start and every reload, so a configuration `-t` passes is one the server
 * takes, and a broken one is refused whole. Every broken jail is reported,
 * whether the reader or the check found its problem.
 *
 * @throws {JailConfigError} for one broken jail, or an `AggregateError` of
 *   them when several are broken; a `ConfigError` when there is no jail
 *   configuration at all
 */
export function loadCheckedJails(configDir: string): JailSpec[] {
  const errors: JailConfigError[] = [];
  const jails = readJails(configDir, { onlyEnabled: true, onError: (e) => errors.push(e) });
  checkEach(jails, errors);
  throwAll(errors);
  return jails;
}

function throwAll(errors: JailConfigError[]): void {
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) {
    throw new AggregateError(
      errors,
      `${errors.length} jails cannot start: ${errors.map((e) => e.message).join("; ")}`,
    );
  }
}
