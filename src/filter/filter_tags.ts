/**
 * fail2ban's regex tags (`<HOST>`, `<ADDR>`, `<F-USER>…</F-USER>`,
 * `<SKIPLINES>`, …) and their expansion into plain Python regex syntax,
 * done before {@link translatePythonRegex} compiles a filter's regexes.
 *
 * Group names the tags produce (the names fail2ban's filters and actions rely on):
 * `ip4`, `ip6`, `dns`, `cidr` for addresses; `fid` for `<F-ID>`; `fport` for
 * `<F-PORT>`; any other `<F-NAME>` becomes the lower-cased `name` (`user`,
 * `alt_user`, `nofail`, `mlfid`, `mlfforget`, `mlfgained`, `content`).
 *
 * @module
 */

// Dotted quad, optionally IPv4-mapped (the `::ffff:` prefix is outside the group).
const IPV4 = String.raw`\d{1,3}(?:\.\d{1,3}){3}`;
// Hex groups separated by one or two colons, ending with a group or a second colon.
const IPV6 = String.raw`(?:[0-9A-Fa-f]{1,4}:{1,2}|::){1,7}(?:[0-9A-Fa-f]{1,4}|(?<=:):)`;
const G_IP4 = String.raw`(?:::f{4,6}:)?(?P<ip4>${IPV4})`;
const G_IP6 = `(?P<ip6>${IPV6})`;
const G_DNS = String.raw`(?P<dns>[\w\-.^_]*\w)`;
const G_CIDR = String.raw`(?P<cidr>\d+)`;
const G_ADDR = String.raw`\[?(?:${G_IP4}|${G_IP6})\]?`;
const G_HOST = `(?:${G_ADDR}|${G_DNS})`;
const G_SUBNET = String.raw`\[?(?:${G_IP4}|${G_IP6})(?:/${G_CIDR})?\]?`;

/** Fixed replacements of the address and id tags. */
const STATIC_TAGS: Readonly<Record<string, string>> = {
  "IP4": G_IP4,
  "F-IP4/": G_IP4,
  "IP6": G_IP6,
  "F-IP6/": G_IP6,
  "ADDR": G_ADDR,
  "F-ADDR/": G_ADDR,
  "CIDR": G_CIDR,
  "F-CIDR/": G_CIDR,
  "SUBNET": G_SUBNET,
  "F-SUBNET/": G_SUBNET,
  "DNS": G_DNS,
  "F-DNS/": G_DNS,
  "F-ID/": String.raw`(?P<fid>\S+)`,
  "F-PORT/": String.raw`(?P<fport>\w+)`,
};

/** Group names that identify a failure, in the order fail2ban picks them (`fid` first). */
export const FAILURE_ID_GROUPS: readonly string[] = ["fid", "ip4", "ip6", "dns"];

/** Group names that make a failregex valid: an id, an address, or a multi-line id. */
export const FAILURE_ID_PRESENT: readonly string[] = [...FAILURE_ID_GROUPS, "mlfid"];

const TAG_RE = /<\/?[\w-]+\/?>/g;
const CUSTOM_RE = /^(\/?)F-([A-Z0-9_-]+)$/;

function groupNameOf(tag: string): string {
  const n = tag.toLowerCase();
  return n === "id" ? "fid" : n === "port" ? "fport" : n;
}

/**
 * Expands fail2ban's tags in a failregex, prefregex or ignoreregex into
 * Python regex syntax. Unknown tags (`<NOSRV>`) stay as literal text, and a
 * closing `</F-X>` without its opening tag stays too, as in fail2ban.
 *
 * @param regex the filter's regex with tags
 * @param useDns the jail's `usedns`: with `no`, `<HOST>` matches addresses only
 *
 * @example
 * ```ts
 * import { expandTags } from "./filter_tags.ts";
 * expandTags("user <F-USER>\\S+</F-USER> from <ADDR>").includes("(?P<user>\\S+)"); // true
 * ```
 */
export function expandTags(regex: string, useDns = "yes"): string {
  const open = new Set<string>();
  let skip = 0;
  return regex.replace(TAG_RE, (tag) => {
    const name = tag.slice(1, -1);
    if (name === "HOST") return useDns === "no" ? G_ADDR : G_HOST;
    if (name === "SKIPLINES") return String.raw`\n(?P<skiplines${skip++}>(?:(?:.*\n)*?))`;
    const fixed = STATIC_TAGS[name];
    if (fixed !== undefined) return fixed;
    const m = CUSTOM_RE.exec(name);
    if (!m) return tag;
    const id = m[2]!;
    if (m[1]) return open.has(id) ? ")" : tag;
    open.add(id);
    return `(?P<${groupNameOf(id)}>`;
  });
}

/**
 * Turns a flag group that opens a group, `((?i)x|y)` or `(?:(?i)x|y)`, into
 * the scoped form `(?i:x|y)`, as fail2ban does before compiling (Python 3.11
 * refuses global flags after the start). Note the outer group stops capturing.
 */
export function localizeFlags(regex: string): string {
  return regex.replace(/(?<!\\)\((?:\?:)?(\(\?[a-z]+)\)/g, "$1:");
}

/** Number of `<SKIPLINES>` groups in an expanded regex (they are named `skiplines0`, …). */
export function countSkipLines(expanded: string): number {
  let n = 0;
  while (expanded.includes(`(?P<skiplines${n}>`)) n++;
  return n;
}
