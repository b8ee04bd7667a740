/**
 * Filter and action references as written in jails: `NAME[opt=value, opt2="a,b"][opt3='x']`,
 * parsed the way fail2ban parses them (its `extractOptions` / `splitWithOptions`).
 *
 * @module
 */

/** A parsed reference: `iptables[name=SSH, port="ssh,http"]`. */
export interface Reference {
  /** Text before the first `[` (as fail2ban takes it: not trimmed). */
  name: string;
  /** Arguments in order of appearance (later duplicates win), values trimmed. */
  options: Record<string, string>;
}

const REFERENCE_RE = /^([^[]+)(?:\[(.*)\])?\s*$/s;
// Python's `$` (no MULTILINE) also matches before a final newline: `(?=\n?$)`.
const OPTION_EXTRACT_RE =
  /\s*([\w\-_.]+)=(?:"([^"]*)"|'([^']*)'|([^,\]]*))(?:,|\]\s*\[|(?=\n?$)|(?<wrngA>.+))|,?\s*(?=\n?$)|(?<wrngB>.+)/gs;
const OPTION_SPLIT_RE =
  /(?:[^[\s]+(?:\s*\[\s*(?:[\w\-_.]+=(?:"[^"]*"|'[^']*'|[^,\]]*)\s*(?:,|\]\s*\[)?\s*)*\])?\s*|\S+)(?=\n\s*|\s+|\n?$)/gs;

/**
 * Parses a filter or action reference.
 *
 * Values may be quoted with `"` or `'` (then they may hold `,` and `]`); unquoted values end at
 * `,` or `]`. Several bracket groups are allowed: `a[x=1][y=2]`. Names are `[\w.-]+`.
 *
 * @throws {SyntaxError} naming the reference when it cannot be parsed.
 *
 * @example
 * ```ts
 * import { parseReference } from "./reference.ts";
 * const r = parseReference('iptables[name=SSH, port="ssh,http", protocol=tcp]');
 * console.assert(r.name === "iptables" && r.options.port === "ssh,http");
 * ```
 */
export function parseReference(text: string): Reference {
  const m = REFERENCE_RE.exec(text);
  if (!m) {
    throw new SyntaxError(`Invalid reference ${JSON.stringify(text)}: unexpected option syntax`);
  }
  const name = m[1]!;
  const optstr = m[2];
  const options: Record<string, string> = {};
  if (optstr) {
    for (const om of optstr.matchAll(OPTION_EXTRACT_RE)) {
      const g = om.groups ?? {};
      if (g.wrngA !== undefined) {
        throw new SyntaxError(
          `Invalid reference ${JSON.stringify(text)}: unexpected syntax at ${
            om.index! + om[0].length - g.wrngA.length
          } after option "${om[1]}": ${g.wrngA.slice(0, 25)}`,
        );
      }
      if (g.wrngB !== undefined) {
        throw new SyntaxError(
          `Invalid reference ${JSON.stringify(text)}: expected option, wrong syntax at ${
            om.index! + om[0].length - g.wrngB.length
          }: ${g.wrngB.slice(0, 25)}`,
        );
      }
      const opt = om[1];
      if (!opt) continue;
      const value = om[2] ?? om[3] ?? om[4] ?? "";
      options[opt.trim()] = value.trim();
    }
  }
  return { name, options };
}

/**
 * Splits a (multi-line) `action =` or `filter =` value into references, keeping each reference's
 * bracketed options together even when they span lines or contain spaces (fail2ban's
 * `splitWithOptions`). Items are returned as matched (may carry trailing whitespace); callers trim
 * and skip empty ones.
 *
 * @example
 * ```ts
 * import { splitWithOptions } from "./reference.ts";
 * const parts = splitWithOptions('iptables[port="ssh, http"]\nsendmail-whois[dest=root]');
 * console.assert(parts.map((p) => p.trim()).join("|") === 'iptables[port="ssh, http"]|sendmail-whois[dest=root]');
 * ```
 */
export function splitWithOptions(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(OPTION_SPLIT_RE)) out.push(m[0]);
  return out;
}
