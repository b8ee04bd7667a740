/**
 * fail2ban-client's `get`/`set` commands and the ban commands (`banned`,
 * `unban`, `set <JAIL> banip|unbanip`), answered with the optional parts of
 * {@link ServerControl}. Answers have the shapes fail2ban's server gives, so
 * the client prints them the same way.
 *
 * @module
 */

import { parseDuration } from "../config/duration.ts";
import { emptyFilter } from "../config/jail_reader.ts";
import type { ActionSpec, JailSpec, RegexSource } from "../config/types.ts";
import type { BanTicket } from "../ipc/messages.ts";
import { parseIgnoreCache } from "../daemon/ignore_command.ts";
import { templateFromPattern } from "../filter/date_templates.ts";
import { expandTags } from "../filter/filter_tags.ts";
import { canonicalAddress, isValidHostText, parseAddress } from "../net/ip_address.ts";
import type { OptionalServerControl, ServerControl } from "./control.ts";

/** A command the running daemon cannot serve (it lacks the optional method). */
export class UnsupportedCommandError extends Error {
  /** The command words. */
  readonly command: string[];
  /** Builds the error for `command`; `detail` says why. */
  constructor(command: string[], detail?: string) {
    super(detail ?? `Command "${command.join(" ")}" is not supported by this server`);
    this.name = "UnsupportedCommandError";
    this.command = command;
  }
}

/** A command with a missing or wrong argument; the message says what is wrong. */
export class CommandArgumentError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "CommandArgumentError";
  }
}

function need<K extends keyof OptionalServerControl>(
  control: ServerControl,
  key: K,
  words: string[],
): NonNullable<OptionalServerControl[K]> {
  const member = control[key];
  if (member === undefined) throw new UnsupportedCommandError(words);
  return (typeof member === "function" ? member.bind(control) : member) as NonNullable<
    OptionalServerControl[K]
  >;
}

function bannedOf(control: ServerControl, jail: string): string[] {
  return control.bannedIps ? control.bannedIps(jail) : control.jailStatus(jail).bannedIps;
}

function arg(words: string[], index: number, what: string): string {
  const value = words[index];
  if (value === undefined || value === "") {
    throw new CommandArgumentError(`"${words.slice(0, index).join(" ")}" needs ${what}`);
  }
  return value;
}

function parseInteger(words: string[], text: string, min: number): number {
  if (!/^-?\d+$/.test(text.trim()) || Number(text) < min) {
    throw new CommandArgumentError(
      `Invalid value "${text}" for "${words[2] ?? words[1]}": expected an integer >= ${min}`,
    );
  }
  return Number(text);
}

function parseSeconds(words: string[], text: string): number {
  try {
    return parseDuration(text);
  } catch (e) {
    throw new CommandArgumentError(
      `Invalid value "${text}" for "${words[2]}": ${e instanceof Error ? e.message : e}`,
    );
  }
}

function parseBool(words: string[], text: string): boolean {
  const t = text.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(t)) return true;
  if (["0", "false", "no", "off"].includes(t)) return false;
  throw new CommandArgumentError(
    `Invalid value "${text}" for "${words[2]}": expected true or false`,
  );
}

/**
 * The failure id for an address given on the command line: the canonical
 * address (`::ffff:1.2.3.4` → `1.2.3.4`), or a host name as written (fail2ban
 * accepts any id); anything else is refused, as it would reach actions.
 */
export function commandId(words: string[], text: string): string {
  const address = canonicalAddress(text);
  if (address !== null) return address;
  if (isValidHostText(text)) return text;
  throw new CommandArgumentError(
    `Invalid address "${text}" for "${
      words.slice(0, 3).join(" ")
    }": expected an IP address or a host name`,
  );
}

/** `banned`: each jail with its addresses; `banned IP…`: for each address, the jails banning it. */
export function bannedCommand(control: ServerControl, ips: string[]): unknown {
  const jails = control.jailNames();
  const lists = new Map(jails.map((j) => [j, bannedOf(control, j)]));
  if (ips.length === 0) return jails.map((j) => ({ [j]: lists.get(j)! }));
  return ips.map((ip) => {
    const id = canonicalAddress(ip) ?? ip;
    return jails.filter((j) => lists.get(j)!.includes(id));
  });
}

/** `unban --all` / `unban IP…`: removes bans in every jail; returns how many were removed. */
export function unbanCommand(control: ServerControl, words: string[]): number {
  const unbanIp = need(control, "unbanIp", words);
  const args = words.slice(1);
  if (args.length === 0) {
    throw new CommandArgumentError(`"unban" needs addresses or --all`);
  }
  if (args.includes("--all")) {
    if (args.length > 1) throw new CommandArgumentError(`"unban --all" takes no addresses`);
    const all = new Set<string>();
    for (const jail of control.jailNames()) for (const ip of bannedOf(control, jail)) all.add(ip);
    let n = 0;
    for (const ip of all) n += unbanIp(null, ip);
    return n;
  }
  const ids = args.map((ip) => commandId(words, ip));
  let n = 0;
  for (const id of ids) n += unbanIp(null, id);
  return n;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

function localTime(epoch: number): string {
  const d = new Date(epoch * 1000);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${
    pad2(d.getMinutes())
  }:${pad2(d.getSeconds())}`;
}

/** `get <JAIL> banip --with-time` line: `IP \tSTART + SECONDS = END` (`+ -1 = 9999-12-31 23:59:59` when permanent). */
export function banWithTime(ticket: BanTicket): string {
  // A permanent ban ends at fail2ban's "end of time", printed as the largest date it can show.
  const end = ticket.banTime < 0 ? "9999-12-31 23:59:59" : localTime(ticket.time + ticket.banTime);
  return `${ticket.fid} \t${localTime(ticket.time)} + ${ticket.banTime} = ${end}`;
}

function findAction(spec: JailSpec, name: string): ActionSpec {
  const action = spec.actions.find((a) => a.name === name);
  if (!action) {
    throw new CommandArgumentError(`Jail "${spec.name}" has no action "${name}"`);
  }
  return action;
}

/** Methods of a command action (fail2ban's `CommandAction`) that `set … action ACT METHOD` would call. */
const ACTION_METHODS = ["start", "stop", "ban", "unban", "flush", "reban", "reload", "prolong"];

/**
 * `get <JAIL> datepattern`'s answer as fail2ban's server gives it: `[pattern,
 * name]` of the one template, `[null, name]` for templates without a pattern
 * (`EPOCH`, `TAI64N`), `[null, "Default Detectors"]` without a datepattern or
 * for a bare `{^LN-BEG}`.
 */
export function datePatternAnswer(datepattern: string | null): [string | null, string] {
  const p = datepattern?.trim() ?? "";
  if (p === "" || p === "{^LN-BEG}" || p === "{^LN-BEG}{DATE}") return [null, "Default Detectors"];
  try {
    const t = templateFromPattern(p);
    return [t.pattern ?? null, t.name];
  } catch {
    return [p, p];
  }
}

/**
 * `get <JAIL> ignoreip`'s order, as fail2ban's: networks and names first, in
 * the order given, then single addresses (fail2ban keeps those in a set).
 */
export function ignoreIpAnswer(ignoreip: string[]): string[] {
  const single = (text: string) => {
    const a = parseAddress(text);
    return a !== null && !text.includes("/");
  };
  return [...ignoreip.filter((t) => !single(t)), ...ignoreip.filter(single)];
}

/**
 * Regexes as `get <JAIL> failregex|ignoreregex` answers them: as fail2ban
 * does, with the tags (`<HOST>`, `<F-USER>`…) expanded into the regexes the
 * filter runs (f2b's own host regexes, for the jail's `usedns`).
 */
export function regexAnswer(regexes: RegexSource[], useDns: string): string[] {
  return regexes.map((r) => {
    try {
      return expandTags(r.pattern, useDns);
    } catch {
      return r.pattern;
    }
  });
}

/** `get <JAIL> ignorecache`'s answer: `[key, max-count, max-time]`, or null when unset. */
function ignoreCacheAnswer(spec: JailSpec): [string, number, number] | null {
  const text = spec.ignorecache?.trim() ?? "";
  if (text === "") return null;
  try {
    const c = parseIgnoreCache(text, `jail "${spec.name}" ignorecache`);
    return [c.key, c.maxCount, c.maxTime];
  } catch {
    return null;
  }
}

function journalMatches(spec: JailSpec): string[][] {
  const text = spec.filter.journalmatch?.trim() ?? "";
  if (text === "") return [];
  return text.split(/\s+\+\s+/).map((group) => group.split(/\s+/).filter((w) => w !== ""));
}

/** Answers `get <JAIL> <what> …`. */
function getJail(control: ServerControl, words: string[]): unknown {
  const jail = words[1]!;
  const what = arg(words, 2, "a setting name");
  switch (what) {
    case "banned": {
      const banned = bannedOf(control, jail);
      const ips = words.slice(3);
      if (ips.length === 0) return banned;
      const flags = ips.map((ip) => (banned.includes(canonicalAddress(ip) ?? ip) ? 1 : 0));
      return flags.length === 1 ? flags[0] : flags;
    }
    case "banip": {
      const option = words[3];
      if (option === "--with-time") {
        const tickets = need(control, "banTickets", words)(jail);
        return tickets.map(banWithTime);
      }
      return bannedOf(control, jail);
    }
    case "logpath":
      return control.jailStatus(jail).files;
  }
  const spec = need(control, "jailSpec", words)(jail);
  switch (what) {
    case "maxretry":
      return spec.maxretry;
    case "findtime":
      return spec.findtime;
    case "bantime":
      return spec.bantime;
    case "maxmatches":
      return spec.maxmatches;
    case "maxlines":
      return spec.filter.maxlines;
    case "usedns":
      return spec.usedns;
    case "backend":
      return spec.backend;
    case "logencoding":
      // "auto" is the locale's encoding; f2b decodes logs as UTF-8 then.
      return spec.logencoding.toLowerCase() === "auto" ? "UTF-8" : spec.logencoding;
    case "ignoreself":
      return spec.ignoreself;
    case "ignorecommand":
      return spec.ignorecommand ?? false;
    case "ignorecache":
      return ignoreCacheAnswer(spec);
    case "ignoreip":
      return ignoreIpAnswer(spec.ignoreip);
    case "failregex":
      return regexAnswer(spec.filter.failregex, spec.usedns);
    case "ignoreregex":
      return regexAnswer(spec.filter.ignoreregex, spec.usedns);
    case "datepattern":
      return datePatternAnswer(spec.filter.datepattern);
    case "journalmatch":
      return journalMatches(spec);
    case "actions":
      return spec.actions.map((a) => a.name);
    case "actionproperties": {
      const action = findAction(spec, arg(words, 3, "an action name"));
      return [
        ...new Set([...Object.keys(action.commands), ...Object.keys(action.properties), "timeout"]),
      ].sort();
    }
    case "actionmethods": {
      const action = findAction(spec, arg(words, 3, "an action name"));
      return Object.keys(action.commands)
        .filter((k) => k.startsWith("action") && k.length > 6)
        .map((k) => k.slice(6))
        .sort();
    }
    case "action": {
      const action = findAction(spec, arg(words, 3, "an action name"));
      const property = arg(words, 4, "a property name");
      if (property === "timeout") return action.timeout;
      const value = action.commands[property] ?? action.properties[property];
      if (value === undefined) {
        throw new CommandArgumentError(
          `Action "${action.name}" of jail "${jail}" has no property "${property}"`,
        );
      }
      return value;
    }
  }
  throw new CommandArgumentError(
    `Invalid command "get ${jail} ${what}": unknown setting "${what}"`,
  );
}

function withFilter(spec: JailSpec, change: Partial<JailSpec["filter"]>): JailSpec {
  return { ...spec, filter: { ...spec.filter, ...change } };
}

function removeAt<T>(list: T[], words: string[]): T[] {
  const index = parseInteger(words, arg(words, 3, "an index"), 0);
  if (index >= list.length) {
    throw new CommandArgumentError(
      `Invalid index ${index} for "${words[2]}": the jail has ${list.length} entries`,
    );
  }
  return list.filter((_, i) => i !== index);
}

/** Computes the new spec for `set <JAIL> <what> …` and the answer to give once applied. */
function changeJail(
  spec: JailSpec,
  words: string[],
): { spec: JailSpec; answer: (spec: JailSpec) => unknown } {
  const what = words[2]!;
  const value = () => arg(words, 3, "a value");
  const rest = () => {
    const v = words.slice(3).join(" ");
    if (v === "") throw new CommandArgumentError(`"${words.join(" ")}" needs a value`);
    return v;
  };
  const origin = `set ${spec.name} ${what}`;
  switch (what) {
    case "maxretry":
      return {
        spec: { ...spec, maxretry: parseInteger(words, value(), 1) },
        answer: (s) => s.maxretry,
      };
    case "maxmatches":
      return {
        spec: { ...spec, maxmatches: parseInteger(words, value(), 0) },
        answer: (s) => s.maxmatches,
      };
    case "maxlines":
      return {
        spec: withFilter(spec, { maxlines: parseInteger(words, value(), 1) }),
        answer: (s) => s.filter.maxlines,
      };
    case "findtime":
      return {
        spec: { ...spec, findtime: parseSeconds(words, value()) },
        answer: (s) => s.findtime,
      };
    case "bantime":
      return { spec: { ...spec, bantime: parseSeconds(words, value()) }, answer: (s) => s.bantime };
    case "usedns": {
      const v = value().toLowerCase();
      if (!["yes", "warn", "no", "raw"].includes(v)) {
        throw new CommandArgumentError(
          `Invalid value "${v}" for "usedns": expected yes, warn, no or raw`,
        );
      }
      return { spec: { ...spec, usedns: v }, answer: (s) => s.usedns };
    }
    case "ignoreself":
      return {
        spec: { ...spec, ignoreself: parseBool(words, value()) },
        answer: (s) => s.ignoreself,
      };
    case "ignorecommand":
      return {
        spec: { ...spec, ignorecommand: words.slice(3).join(" ") || null },
        answer: (s) => s.ignorecommand ?? "",
      };
    case "ignorecache": {
      const text = words.slice(3).join(" ");
      if (text.trim() !== "") {
        try {
          parseIgnoreCache(text, `"${origin}"`);
        } catch (e) {
          throw new CommandArgumentError((e as Error).message);
        }
      }
      return {
        spec: { ...spec, ignorecache: text || null },
        answer: ignoreCacheAnswer,
      };
    }
    case "logencoding":
      return { spec: { ...spec, logencoding: value() }, answer: (s) => s.logencoding };
    case "datepattern":
      return {
        spec: withFilter(spec, { datepattern: rest() }),
        answer: (s) => datePatternAnswer(s.filter.datepattern),
      };
    case "addignoreip": {
      const add = words.slice(3);
      if (add.length === 0) throw new CommandArgumentError(`"${origin}" needs an address`);
      return {
        spec: {
          ...spec,
          ignoreip: [...spec.ignoreip, ...add.filter((a) => !spec.ignoreip.includes(a))],
        },
        answer: (s) => ignoreIpAnswer(s.ignoreip),
      };
    }
    case "delignoreip": {
      const del = words.slice(3);
      return {
        spec: { ...spec, ignoreip: spec.ignoreip.filter((a) => !del.includes(a)) },
        answer: (s) => ignoreIpAnswer(s.ignoreip),
      };
    }
    case "addlogpath": {
      const path = value();
      const mode = words[4]?.toLowerCase();
      if (mode !== undefined && mode !== "head" && mode !== "tail") {
        throw new CommandArgumentError(`Invalid "${origin}" mode "${mode}": expected head or tail`);
      }
      if (words.length > 5) {
        throw new CommandArgumentError(`"${origin}" takes a file and head or tail`);
      }
      if (spec.logpath.includes(path)) return { spec, answer: (s) => s.logpath };
      const tails = spec.logpath.map((_, i) => spec.logpathTail?.[i] ?? false);
      return {
        spec: {
          ...spec,
          logpath: [...spec.logpath, path],
          logpathTail: [...tails, mode === "tail"],
        },
        answer: (s) => s.logpath,
      };
    }
    case "dellogpath": {
      const path = value();
      const keep = spec.logpath.map((p) => p !== path);
      return {
        spec: {
          ...spec,
          logpath: spec.logpath.filter((_, i) => keep[i]),
          logpathTail: spec.logpath.map((_, i) => spec.logpathTail?.[i] ?? false).filter((_, i) =>
            keep[i]
          ),
        },
        answer: (s) => s.logpath,
      };
    }
    case "addaction": {
      const name = value();
      if (words.length > 4) {
        throw new UnsupportedCommandError(
          words,
          `"${origin} ${name} <PYTHONFILE> <JSONKWARGS>": Python actions cannot run in f2b; add a command action (without a file) and set its commands`,
        );
      }
      if (spec.actions.some((a) => a.name === name)) {
        throw new CommandArgumentError(`Action "${name}" already exists in jail "${spec.name}"`);
      }
      const action: ActionSpec = {
        name,
        kind: name,
        file: null,
        commands: {},
        properties: { actname: name },
        familyProperties: {},
        timeout: 60,
      };
      return { spec: { ...spec, actions: [...spec.actions, action] }, answer: () => name };
    }
    case "delaction": {
      const name = value();
      findAction(spec, name);
      return {
        spec: { ...spec, actions: spec.actions.filter((a) => a.name !== name) },
        answer: () => null,
      };
    }
    case "addfailregex":
      return {
        spec: withFilter(spec, {
          failregex: [...spec.filter.failregex, { pattern: rest(), origin }],
        }),
        answer: (s) => regexAnswer(s.filter.failregex, s.usedns),
      };
    case "delfailregex":
      return {
        spec: withFilter(spec, { failregex: removeAt(spec.filter.failregex, words) }),
        answer: (s) => regexAnswer(s.filter.failregex, s.usedns),
      };
    case "addignoreregex":
      return {
        spec: withFilter(spec, {
          ignoreregex: [...spec.filter.ignoreregex, { pattern: rest(), origin }],
        }),
        answer: (s) => regexAnswer(s.filter.ignoreregex, s.usedns),
      };
    case "delignoreregex":
      return {
        spec: withFilter(spec, { ignoreregex: removeAt(spec.filter.ignoreregex, words) }),
        answer: (s) => regexAnswer(s.filter.ignoreregex, s.usedns),
      };
    case "addjournalmatch": {
      const match = rest();
      const current = spec.filter.journalmatch?.trim();
      return {
        spec: withFilter(spec, { journalmatch: current ? `${current} + ${match}` : match }),
        answer: journalMatches,
      };
    }
    case "deljournalmatch": {
      const match = rest().split(/\s+/).join(" ");
      const groups = journalMatches(spec).map((g) => g.join(" ")).filter((g) => g !== match);
      return {
        spec: withFilter(spec, { journalmatch: groups.length ? groups.join(" + ") : null }),
        answer: journalMatches,
      };
    }
    case "action": {
      const name = arg(words, 3, "an action name");
      const property = arg(words, 4, "a property name");
      findAction(spec, name);
      if (ACTION_METHODS.includes(property)) {
        throw new UnsupportedCommandError(
          words,
          `"${origin} ${name} ${property}": calling an action method by hand is not supported; use banip/unbanip, reload or restart`,
        );
      }
      const text = words.slice(5).join(" ");
      const actions = spec.actions.map((a) => {
        if (a.name !== name) return a;
        if (property === "timeout") {
          return { ...a, timeout: parseSeconds([...words.slice(0, 2), "timeout"], text) };
        }
        if (/^action[a-z]+$/.test(property)) {
          return { ...a, commands: { ...a.commands, [property]: text } };
        }
        return { ...a, properties: { ...a.properties, [property]: text } };
      });
      return {
        spec: { ...spec, actions },
        answer: (s) => {
          const a = findAction(s, name);
          return property === "timeout"
            ? a.timeout
            : a.commands[property] ?? a.properties[property];
        },
      };
    }
  }
  throw new UnsupportedCommandError(
    words,
    `Invalid command "set ${spec.name} ${what}": unknown or unsupported setting "${what}"`,
  );
}

/** Answers `set <JAIL> …`. */
async function setJail(control: ServerControl, words: string[]): Promise<unknown> {
  const jail = words[1]!;
  const what = arg(words, 2, "a setting name");
  switch (what) {
    case "banip": {
      const banIp = need(control, "banIp", words);
      const ips = words.slice(3);
      if (ips.length === 0) throw new CommandArgumentError(`"set ${jail} banip" needs addresses`);
      const ids = ips.map((ip) => commandId(words, ip));
      let n = 0;
      for (const id of ids) if (banIp(jail, id)) n++;
      return n;
    }
    case "unbanip": {
      const unbanIp = need(control, "unbanIp", words);
      let ips = words.slice(3);
      const reportAbsent = ips[0] === "--report-absent";
      if (reportAbsent) ips = ips.slice(1);
      if (ips.length === 0) throw new CommandArgumentError(`"set ${jail} unbanip" needs addresses`);
      ips = ips.map((ip) => commandId(words, ip));
      control.jailStatus(jail); // UnknownJailError before anything changes
      if (reportAbsent) {
        const banned = bannedOf(control, jail);
        const absent = ips.filter((ip) => !banned.includes(ip));
        if (absent.length > 0) {
          throw new CommandArgumentError(
            `not banned: [${absent.map((ip) => `'${ip}'`).join(", ")}]`,
          );
        }
      }
      let n = 0;
      for (const ip of ips) n += unbanIp(jail, ip);
      return n;
    }
    case "idle": {
      const v = words[3];
      if ((v !== "on" && v !== "off") || words.length > 4) {
        throw new CommandArgumentError(`Invalid idle option, must be 'on' or 'off'`);
      }
      await need(control, "setIdle", words)(jail, v === "on");
      return v === "on";
    }
    case "attempt": {
      const addAttempt = need(control, "addAttempt", words);
      const id = commandId(words, arg(words, 3, "an address"));
      await addAttempt(jail, id, words.slice(4));
      return 1;
    }
  }
  const jailSpec = need(control, "jailSpec", words);
  const updateJail = need(control, "updateJail", words);
  const { spec, answer } = changeJail(jailSpec(jail), words);
  await updateJail(jail, spec);
  return answer(jailSpec(jail));
}

const DB_SETTINGS = new Set(["dbfile", "dbpurgeage", "dbmaxmatches"]);

/** Answers `get …` (server settings and jail settings). */
export function getCommand(control: ServerControl, words: string[]): unknown {
  const what = arg(words, 1, "a setting or jail name");
  switch (what) {
    case "loglevel":
      return need(control, "daemonLogger", words).level;
    case "logtarget":
      return need(control, "daemonLogger", words).target;
    case "syslogsocket":
      return need(control, "daemonLogger", words).syslogSocket;
    case "dbfile": {
      const file = need(control, "serverSpec", words)().dbfile;
      return file === "" || file.toLowerCase() === "none" ? null : file;
    }
    case "dbpurgeage":
    case "dbmaxmatches": {
      const spec = need(control, "serverSpec", words)();
      if (spec.dbfile === "" || spec.dbfile.toLowerCase() === "none") return null;
      return what === "dbpurgeage" ? spec.dbpurgeage : spec.dbmaxmatches;
    }
  }
  control.jailStatus(what); // UnknownJailError for a jail not running
  return getJail(control, words);
}

/** Answers `set …` (server settings and jail settings). */
export async function setCommand(control: ServerControl, words: string[]): Promise<unknown> {
  const what = arg(words, 1, "a setting or jail name");
  switch (what) {
    case "loglevel": {
      const logger = need(control, "daemonLogger", words);
      try {
        logger.setLevel(arg(words, 2, "a level"));
      } catch (e) {
        throw new CommandArgumentError((e as Error).message);
      }
      return logger.level;
    }
    case "logtarget": {
      const logger = need(control, "daemonLogger", words);
      try {
        logger.setTarget(words.slice(2).join(" ") || arg(words, 2, "a target"));
      } catch (e) {
        throw new CommandArgumentError(`Failed to change log target: ${(e as Error).message}`);
      }
      return logger.target;
    }
    case "syslogsocket": {
      const logger = need(control, "daemonLogger", words);
      try {
        logger.setSyslogSocket(arg(words, 2, "a socket path or auto"));
      } catch (e) {
        throw new CommandArgumentError(`Failed to change syslog socket: ${(e as Error).message}`);
      }
      return logger.syslogSocket;
    }
  }
  if (DB_SETTINGS.has(what)) return await setDatabase(control, words);
  control.jailStatus(what); // UnknownJailError for a jail not running
  return await setJail(control, words);
}

function dbDisabled(file: string): boolean {
  return file === "" || file.toLowerCase() === "none";
}

/** Answers `set dbfile|dbmaxmatches|dbpurgeage <VALUE>`. */
async function setDatabase(control: ServerControl, words: string[]): Promise<unknown> {
  const what = words[1] as "dbfile" | "dbmaxmatches" | "dbpurgeage";
  const text = arg(words, 2, "a value");
  if (words.length > 3) throw new CommandArgumentError(`"set ${what}" takes one value`);
  const serverSpec = need(control, "serverSpec", words);
  const current = serverSpec();
  if (what === "dbfile") {
    const same = dbDisabled(text) ? dbDisabled(current.dbfile) : text === current.dbfile;
    if (!same) {
      if (control.jailNames().length > 0) {
        throw new CommandArgumentError("Cannot change database when there are jails present");
      }
      await need(control, "setDatabaseOption", words)("dbfile", text);
    }
    const file = serverSpec().dbfile;
    return dbDisabled(file) ? null : file;
  }
  // As fail2ban: without a database the setting has no effect and the answer is None.
  if (dbDisabled(current.dbfile)) return null;
  const setOption = need(control, "setDatabaseOption", words);
  if (what === "dbmaxmatches") {
    await setOption("dbmaxmatches", parseInteger(["set", what, what], text, 0));
    return serverSpec().dbmaxmatches;
  }
  await setOption("dbpurgeage", parseSeconds(["set", what, what], text));
  return serverSpec().dbpurgeage;
}

/** Backends `add <JAIL> <BACKEND>` accepts, as fail2ban. */
const BACKENDS = ["auto", "pyinotify", "gamin", "polling", "systemd"];

/**
 * The spec of a jail made by `add <JAIL> <BACKEND>`: fail2ban's defaults
 * (maxretry 3, findtime and bantime 600 s, maxmatches 5, usedns warn), no log
 * path, no regex, no action; `set` commands fill it before `start <JAIL>`.
 */
export function newJailSpec(name: string, backend: string): JailSpec {
  return {
    name,
    enabled: true,
    backend,
    logpath: [],
    logpathTail: [],
    logencoding: "auto",
    filter: emptyFilter(name),
    actions: [],
    maxretry: 3,
    findtime: 600,
    bantime: 600,
    maxmatches: 5,
    ignoreip: [],
    ignoreself: true,
    ignorecommand: null,
    ignorecache: null,
    usedns: "warn",
    bantimeIncrement: {
      enabled: false,
      factor: 1,
      formula: null,
      multipliers: [],
      maxtime: null,
      rndtime: null,
      overalljails: false,
    },
    options: {},
  };
}

/** Answers `add <JAIL> [<BACKEND>]`: a new jail, not started; returns its name. */
export async function addJailCommand(control: ServerControl, words: string[]): Promise<string> {
  const name = arg(words, 1, "a jail name");
  const backend = (words[2] ?? "auto").trim();
  if (words.length > 3) throw new CommandArgumentError(`"add" takes a jail name and a backend`);
  if (!BACKENDS.includes(backend.replace(/\[.*$/, ""))) {
    throw new CommandArgumentError(
      `Unknown backend ${backend}. Must be among ${
        BACKENDS.slice(1).map((b) => `'${b}'`).join(", ")
      } or 'auto'`,
    );
  }
  const addJail = need(control, "addJail", words);
  if (control.jailNames().includes(name)) {
    throw new CommandArgumentError(`Jail "${name}" already exists`);
  }
  await addJail(newJailSpec(name, backend));
  return name;
}

/** Answers `flushlogs`: reopens a file log target (after logrotate). */
export function flushLogsCommand(control: ServerControl, words: string[]): string {
  return need(control, "daemonLogger", words).reopen();
}

/** Answers `start <JAIL>` and `stop <JAIL>`. */
export async function jailLifecycleCommand(
  control: ServerControl,
  words: string[],
): Promise<null> {
  const jail = arg(words, 1, "a jail name");
  if (words[0] === "stop") {
    control.jailStatus(jail);
    await need(control, "stopJail", words)(jail);
  } else {
    await need(control, "startJail", words)(jail);
  }
  return null;
}
