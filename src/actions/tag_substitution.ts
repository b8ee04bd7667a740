/**
 * Tag substitution for command actions: turns an action command such as
 * `<iptables> -I f2b-<name> 1 -s <ip> -j <blocktype>` into a shell command
 * plus the environment it must run with.
 *
 * Two stages, as fail2ban does it:
 *
 * 1. **Static tags** come from the action's configuration (`[Definition]`,
 *    `[Init]`, the jail's arguments, and `[Init?family=inet6]` overrides when
 *    the ticket's family is inet6). They are replaced as text, recursively
 *    (`<iptables>` → `iptables <lockingopt>` → `iptables -w`), because the
 *    administrator wrote them. `<br>` and `<sp>` become a newline and a space,
 *    `<fq-hostname>` and `<sh-hostname>` the host's name.
 * 2. **Dynamic tags** come from the ban ticket (`<ip>`, `<fid>`, `<family>`,
 *    `<failures>`, `<time>`, `<bantime>`, `<bancount>`, `<matches>`,
 *    `<ipmatches>`, `<ipjailmatches>`, `<ipfailures>`, `<ipjailfailures>`,
 *    `<ip-rev>`, `<ip-host>`, `<restored>`, `<raw-ticket>`, and every captured
 *    `<F-NAME>`). They are never re-scanned for tags.
 *
 * Security: a dynamic value that comes from log text (matches, captured
 * `<F-…>` values, a host name from DNS, an id that is not a valid address) is
 * never written into the command text. The tag is replaced by a reference to
 * an environment variable (`F2B_MATCHES`, `F2B_F_USER`, …) quoted for the
 * place where the tag stands — `"${F2B_MATCHES}"` outside quotes,
 * `${F2B_MATCHES}` inside double quotes, `'"${F2B_MATCHES}"'` inside single
 * quotes — and the value travels in the command's environment, where the
 * shell expands it once and never parses it. Numbers, valid addresses and
 * other values made only of harmless characters are written as text.
 * A tag inside a here-document whose delimiter is quoted cannot be expanded
 * by the shell and is refused with an error.
 *
 * @module
 */

import { isIPv4, isIPv6 } from "node:net";
import type { ActionSpec } from "../config/types.ts";
import type { BanTicket } from "../ipc/messages.ts";

/** fail2ban's limit on nested tag replacement, to stop self-referencing definitions. */
export const MAX_TAG_REPLACE_COUNT = 25;

/** Matches one `<tag>` (anything but spaces and angle brackets inside), as fail2ban does. */
const TAG_RE = /<([^ <>]+)>/g;

/** Names of the dynamic tags filled from the ticket; never replaced from properties. */
export const DYNAMIC_TAGS: ReadonlySet<string> = new Set([
  "ip",
  "fid",
  "family",
  "ip-rev",
  "ip-host",
  "failures",
  "time",
  "bantime",
  "bancount",
  "matches",
  "ipmatches",
  "ipjailmatches",
  "ipfailures",
  "ipjailfailures",
  "restored",
  "raw-ticket",
]);

/** Characters that can be written into a command as text anywhere without meaning to a shell. */
const SAFE_TEXT_RE = /^[A-Za-z0-9_.,:/@+=-]*$/;

/** A prepared command: shell text plus the environment variables it refers to. */
export interface PreparedCommand {
  /** Shell text for `/bin/sh -c`. */
  command: string;
  /** Variables the command refers to (values taken from log text, never parsed by the shell). */
  env: Record<string, string>;
}

/** One dynamic value and whether it may be written into a command as text. */
export interface DynamicValue {
  /** The value. */
  value: string;
  /** True when the value comes from outside the configuration (log text, DNS): always passed by environment. */
  untrusted: boolean;
}

/** What a dynamic substitution knows: the tag values by name and the captured `<F-…>` values. */
export interface DynamicValues {
  /** Dynamic tags by name (`ip`, `matches`, …). */
  tags: Record<string, DynamicValue>;
  /** Captured values by lower-case name (`user`, `fid`…), as the filter stored them. */
  captures: Record<string, string>;
}

/** Facts about the ban beyond the ticket itself, for `<ipmatches>` and friends. */
export interface MergedBanInfo {
  /** Matches of every ban of the address. */
  matches: string[];
  /** Failures of every ban of the address. */
  failures: number;
}

/** Extra inputs to {@link dynamicValuesFor}. */
export interface DynamicValuesOptions {
  /** Address family used for the command, `""` for none. */
  family: string;
  /** Current time, epoch seconds, for commands without a ticket (`<time>`). */
  now: number;
  /** Ban info merged over every jail (`<ipmatches>`, `<ipfailures>`). @default the ticket's own */
  mergedAll?: MergedBanInfo | null;
  /** Ban info merged over the ticket's jail (`<ipjailmatches>`, `<ipjailfailures>`). @default the ticket's own */
  mergedJail?: MergedBanInfo | null;
  /** Host name of the address (`<ip-host>`), looked up by the caller when the command needs it. @default "" */
  ipHost?: string;
  /** Whether the ticket is a ban restored at start (`<restored>`). @default false */
  restored?: boolean;
}

/** True when `text` is a plain IPv4 or IPv6 address (no zone id). */
export function isPlainAddress(text: string): boolean {
  return isIPv4(text) || (isIPv6(text) && !text.includes("%"));
}

/** Expands an IPv6 address into its 32 hexadecimal nibbles. */
function ipv6Nibbles(addr: string): string[] {
  let text = addr.toLowerCase();
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, v4.index) + ((a << 8) | b).toString(16) + ":" +
      ((c << 8) | d).toString(16);
  }
  const [head = "", tail] = text.split("::");
  const headParts = head === "" ? [] : head.split(":");
  const tailParts = tail === undefined || tail === "" ? [] : tail.split(":");
  const zeros = tail === undefined ? [] : Array(8 - headParts.length - tailParts.length).fill("0");
  return [...headParts, ...zeros, ...tailParts].flatMap((h) => [...h.padStart(4, "0")]);
}

/**
 * The reverse-DNS name of an address (`<ip-rev>`): `4.3.2.1.` for 1.2.3.4,
 * nibbles for IPv6; `""` for a text that is not an address.
 *
 * @example
 * ```ts
 * import { reverseAddress } from "./tag_substitution.ts";
 * console.assert(reverseAddress("192.0.2.7") === "7.2.0.192.");
 * ```
 */
export function reverseAddress(ip: string): string {
  if (isIPv4(ip)) return ip.split(".").reverse().join(".") + ".";
  if (isIPv6(ip) && !ip.includes("%")) return ipv6Nibbles(ip).reverse().join(".") + ".";
  return "";
}

/**
 * The dynamic values of a ticket (or of no ticket, for actionstart/stop/flush,
 * where fail2ban uses an empty ticket: empty address, zero counts).
 */
export function dynamicValuesFor(
  ticket: BanTicket | null,
  options: DynamicValuesOptions,
): DynamicValues {
  const fid = ticket?.fid ?? "";
  const validIp = isPlainAddress(fid);
  const matches = ticket?.matches ?? [];
  const failures = ticket?.failures ?? 0;
  const mergedAll = options.mergedAll ?? { matches, failures };
  const mergedJail = options.mergedJail ?? { matches, failures };
  const trusted = (value: string): DynamicValue => ({ value, untrusted: false });
  const untrusted = (value: string): DynamicValue => ({ value, untrusted: true });
  const tags: Record<string, DynamicValue> = {
    ip: validIp ? trusted(fid) : untrusted(fid),
    fid: validIp ? trusted(fid) : untrusted(fid),
    family: trusted(options.family),
    "ip-rev": trusted(validIp ? reverseAddress(fid) : ""),
    "ip-host": untrusted(options.ipHost ?? ""),
    failures: trusted(String(failures)),
    time: trusted(String(ticket?.time ?? options.now)),
    bantime: trusted(ticket ? String(Math.trunc(ticket.banTime)) : ""),
    bancount: trusted(String(ticket?.banCount ?? 0)),
    matches: untrusted(matches.join("\n")),
    ipmatches: untrusted(mergedAll.matches.join("\n")),
    ipjailmatches: untrusted(mergedJail.matches.join("\n")),
    ipfailures: trusted(String(mergedAll.failures)),
    ipjailfailures: trusted(String(mergedJail.failures)),
    restored: trusted(options.restored ? "1" : "0"),
    "raw-ticket": untrusted(ticket ? JSON.stringify(ticket) : ""),
  };
  const captures: Record<string, string> = {};
  if (ticket) {
    for (const [k, v] of Object.entries(ticket.data)) captures[k.toLowerCase()] = String(v);
  }
  return { tags, captures };
}

/** Properties of `spec` as seen for `family`: `[Init?family=…]` overrides win. */
export function propertiesFor(spec: ActionSpec, family: string): Record<string, string> {
  const overrides = family ? spec.familyProperties[family] : undefined;
  return overrides ? { ...spec.properties, ...overrides } : spec.properties;
}

let hostNames: { fq: string; short: string } | null = null;

/** The host's names for `<fq-hostname>` / `<sh-hostname>`, read once. */
function hostName(tag: "fq-hostname" | "sh-hostname"): string {
  if (!hostNames) {
    let fq = "localhost";
    try {
      fq = Deno.hostname();
    } catch {
      // No permission to read the host name: keep "localhost".
    }
    hostNames = { fq, short: fq.split(".")[0] ?? fq };
  }
  return tag === "fq-hostname" ? hostNames.fq : hostNames.short;
}

/** Fallback values of tags no property defines, as fail2ban has them. */
function fallbackTag(tag: string): string | undefined {
  switch (tag) {
    case "br":
      return "\n";
    case "sp":
      return " ";
    case "fq-hostname":
    case "sh-hostname":
      return hostName(tag);
  }
  return undefined;
}

/** True for a tag name filled at ban time (never from properties). */
function isDynamicTag(tag: string): boolean {
  return DYNAMIC_TAGS.has(tag) || tag.startsWith("F-");
}

/**
 * Replaces the static tags of `query` from `properties`, recursively, leaving
 * dynamic tags (`<ip>`, `<matches>`, `<F-USER>`…) and unknown tags in place.
 * Throws a `SyntaxError` on self-referencing definitions.
 *
 * @example
 * ```ts
 * import { replaceStaticTags } from "./tag_substitution.ts";
 * const cmd = replaceStaticTags("<iptables> -I f2b-<name> -s <ip>", {
 *   iptables: "iptables <lockingopt>", lockingopt: "-w", name: "sshd",
 * });
 * console.assert(cmd === "iptables -w -I f2b-sshd -s <ip>");
 * ```
 */
export function replaceStaticTags(query: string, properties: Record<string, string>): string {
  if (!query.includes("<")) return query;
  let current = query;
  for (let round = 0; round <= MAX_TAG_REPLACE_COUNT; round++) {
    const next = current.replace(TAG_RE, (whole, tag: string) => {
      if (isDynamicTag(tag)) return whole;
      const value = Object.hasOwn(properties, tag) ? properties[tag] : fallbackTag(tag);
      return value ?? whole;
    });
    if (next === current || !next.includes("<")) return next;
    current = next;
  }
  throw new SyntaxError(
    `Cannot substitute tags: too deep replacement, possible self-referencing definitions in: ${
      JSON.stringify(query)
    }`,
  );
}

/** The environment variable name for a dynamic tag: `F2B_MATCHES`, `F2B_F_USER`, `F2B_IP_HOST`. */
function envName(tag: string): string {
  return "F2B_" + tag.toUpperCase().replace(/\W/g, "_");
}

/** Maps a `<F-NAME>` tag to the key fail2ban stores the capture under. */
function captureKey(name: string): string {
  const key = name.toLowerCase();
  return key === "id" ? "fid" : key === "port" ? "fport" : key;
}

type Frame = "plain" | "dq" | "sq" | "bq" | "cmdsub" | "brace";

interface PendingHeredoc {
  delimiter: string;
  quoted: boolean;
  stripTabs: boolean;
}

/** Where a tag stands, for quoting its replacement. */
type TagContext = "plain" | "dq" | "sq" | "heredoc" | "quoted-heredoc";

/**
 * Replaces the dynamic tags of `command` (already statically substituted).
 * Untrusted values, and any value with characters a shell would read, become
 * references to environment variables quoted for the tag's place; the
 * variables are returned in `env`. Tags with no value (`<F-X>` not captured)
 * become empty, as in fail2ban; other unknown tags are left as they are.
 *
 * @example
 * ```ts
 * import { replaceDynamicTags } from "./tag_substitution.ts";
 * const p = replaceDynamicTags("echo '<F-USER>' <ip>", {
 *   tags: { ip: { value: "192.0.2.1", untrusted: false } },
 *   captures: { user: "$(reboot)" },
 * });
 * console.assert(p.command === `echo ''"\${F2B_F_USER}"'' 192.0.2.1`);
 * console.assert(p.env.F2B_F_USER === "$(reboot)");
 * ```
 */
export function replaceDynamicTags(command: string, values: DynamicValues): PreparedCommand {
  const env: Record<string, string> = {};
  if (!command.includes("<")) return { command, env };
  const out: string[] = [];
  const stack: Frame[] = ["plain"];
  const heredocs: PendingHeredoc[] = [];
  const n = command.length;
  let i = 0;

  /** Value of the tag starting at `i` (a `<`), or null when it is not a dynamic tag. */
  const tagAt = (
    pos: number,
    text = command,
  ): { end: number; tag: string; value: DynamicValue } | null => {
    const close = text.indexOf(">", pos + 1);
    if (close < 0) return null;
    const tag = text.slice(pos + 1, close);
    if (tag === "" || /[ <]/.test(tag)) return null;
    const known = values.tags[tag];
    if (known) return { end: close + 1, tag, value: known };
    if (/^F-[A-Z0-9_-]+$/.test(tag)) {
      const captured = values.captures[captureKey(tag.slice(2))];
      return { end: close + 1, tag, value: { value: captured ?? "", untrusted: true } };
    }
    return null;
  };

  /** Text replacing a tag in `ctx`. */
  const replacement = (tag: string, value: DynamicValue, ctx: TagContext): string => {
    if (!value.untrusted && SAFE_TEXT_RE.test(value.value)) return value.value;
    if (ctx === "quoted-heredoc") {
      throw new SyntaxError(
        `Cannot substitute tag "<${tag}>" inside a here-document with a quoted delimiter: the value would be written unescaped`,
      );
    }
    const name = envName(tag);
    // NUL cannot travel in an environment variable.
    env[name] = value.value.includes("\0") ? value.value.replaceAll("\0", "\uFFFD") : value.value;
    switch (ctx) {
      case "plain":
        return `"\${${name}}"`;
      case "sq":
        return `'"\${${name}}"'`;
      default:
        return `\${${name}}`;
    }
  };

  /** Copies here-document bodies after a newline at `i`; returns the new index. */
  const readHeredocs = (start: number): number => {
    let pos = start;
    for (const doc of heredocs) {
      while (pos < n) {
        let eol = command.indexOf("\n", pos);
        if (eol < 0) eol = n;
        const line = command.slice(pos, eol);
        const bare = doc.stripTabs ? line.replace(/^\t+/, "") : line;
        if (bare === doc.delimiter) {
          out.push(line);
          if (eol < n) out.push("\n");
          pos = eol + 1;
          break;
        }
        out.push(substituteLine(line, doc.quoted ? "quoted-heredoc" : "heredoc"));
        if (eol < n) out.push("\n");
        pos = eol + 1;
      }
    }
    heredocs.length = 0;
    return pos;
  };

  /** Substitutes tags in one here-document line. */
  const substituteLine = (line: string, ctx: TagContext): string => {
    if (!line.includes("<")) return line;
    let res = "";
    let backslashes = 0;
    for (let j = 0; j < line.length; j++) {
      const c = line[j]!;
      if (c === "<") {
        const found = tagAt(j, line);
        if (found) {
          let rep = replacement(found.tag, found.value, ctx);
          if (ctx === "heredoc" && backslashes % 2 === 1 && rep.startsWith("$")) rep = "\\" + rep;
          res += rep;
          j = found.end - 1;
          backslashes = 0;
          continue;
        }
      }
      backslashes = c === "\\" ? backslashes + 1 : 0;
      res += c;
    }
    return res;
  };

  while (i < n) {
    const c = command[i]!;
    const frame = stack[stack.length - 1]!;
    if (frame === "sq") {
      if (c === "'") stack.pop();
      else if (c === "<") {
        const found = tagAt(i);
        if (found) {
          out.push(replacement(found.tag, found.value, "sq"));
          i = found.end;
          continue;
        }
      }
      out.push(c);
      i++;
      continue;
    }
    if (frame === "dq") {
      if (c === "\\") {
        const next = command[i + 1];
        if (next !== undefined && '$`"\\\n'.includes(next)) {
          out.push(c, next);
          i += 2;
          continue;
        }
        // A backslash before anything else is literal; one before a tag must stay literal.
        const found = next === "<" ? tagAt(i + 1) : null;
        if (found) {
          const rep = replacement(found.tag, found.value, "dq");
          out.push(rep.startsWith("$") ? "\\\\" : "\\", rep);
          i = found.end;
          continue;
        }
        out.push(c);
        i++;
        continue;
      }
      if (c === '"') {
        stack.pop();
        out.push(c);
        i++;
        continue;
      }
      if (c === "<") {
        const found = tagAt(i);
        if (found) {
          out.push(replacement(found.tag, found.value, "dq"));
          i = found.end;
          continue;
        }
      }
      if (c === "`") stack.push("bq");
      else if (c === "$" && command[i + 1] === "(") {
        stack.push("cmdsub");
        out.push("$(");
        i += 2;
        continue;
      } else if (c === "$" && command[i + 1] === "{") {
        stack.push("brace");
        out.push("${");
        i += 2;
        continue;
      }
      out.push(c);
      i++;
      continue;
    }
    // plain, bq, cmdsub, brace: command text.
    if (c === "\\") {
      const next = command[i + 1];
      const found = next === "<" ? tagAt(i + 1) : null;
      if (found) {
        // The backslash asked for a literal character: the quoted value is literal anyway.
        out.push(replacement(found.tag, found.value, "plain"));
        i = found.end;
        continue;
      }
      out.push(c);
      if (next !== undefined) out.push(next);
      i += 2;
      continue;
    }
    if (c === "<") {
      const found = tagAt(i);
      if (found) {
        out.push(replacement(found.tag, found.value, "plain"));
        i = found.end;
        continue;
      }
      const doc = /^<<(-?)[ \t]*(?:'([^'\n]*)'|"([^"\n]*)"|\\?([A-Za-z0-9_]+))/.exec(
        command.slice(i, i + 200),
      );
      if (doc && command[i + 2] !== "<") {
        const quoted = doc[2] !== undefined || doc[3] !== undefined ||
          doc[0].includes("\\");
        heredocs.push({
          delimiter: doc[2] ?? doc[3] ?? doc[4] ?? "",
          quoted,
          stripTabs: doc[1] === "-",
        });
        out.push(doc[0]);
        i += doc[0].length;
        continue;
      }
      out.push(c);
      i++;
      continue;
    }
    if (c === "\n" && heredocs.length > 0) {
      out.push(c);
      i = readHeredocs(i + 1);
      continue;
    }
    if (c === "#" && frame === "plain") {
      const prev = i === 0 ? "\n" : command[i - 1]!;
      if (/[\s;&|()]/.test(prev)) {
        let eol = command.indexOf("\n", i);
        if (eol < 0) eol = n;
        out.push(command.slice(i, eol));
        i = eol;
        continue;
      }
    }
    if (c === "'") stack.push("sq");
    else if (c === '"') stack.push("dq");
    else if (c === "`") {
      if (frame === "bq") stack.pop();
      else stack.push("bq");
    } else if (c === "$" && command[i + 1] === "(") {
      stack.push("cmdsub");
      out.push("$(");
      i += 2;
      continue;
    } else if (c === "$" && command[i + 1] === "{") {
      stack.push("brace");
      out.push("${");
      i += 2;
      continue;
    } else if (c === "(" && frame === "cmdsub") stack.push("cmdsub");
    else if (c === ")" && frame === "cmdsub") stack.pop();
    else if (c === "}" && frame === "brace") stack.pop();
    out.push(c);
    i++;
  }
  return { command: out.join(""), env };
}

/**
 * Builds the command `commandName` of `spec` for a ticket (or none): static
 * tags with the family's overrides, then dynamic tags. Returns null when the
 * action has no such command or it is blank.
 */
export function buildCommand(
  spec: ActionSpec,
  commandName: string,
  values: DynamicValues,
  family: string,
): PreparedCommand | null {
  const raw = spec.commands[commandName];
  if (raw === undefined || raw.trim() === "") return null;
  const stat = replaceStaticTags(raw, propertiesFor(spec, family));
  return replaceDynamicTags(stat, values);
}
