/**
 * `journalmatch` as fail2ban reads it: every non-empty line is split like a POSIX shell command
 * line (Python's `shlex.split`), `+` separates alternatives, and each remaining word is one
 * `FIELD=value` journal match.
 *
 * Semantics (sd_journal's, which `journalctl` applies to its match arguments): the groups are
 * alternatives (OR); inside a group, matches on different fields must all hold (AND) and matches
 * on the same field are alternatives (OR). Each line of the option adds its groups as further
 * alternatives, as fail2ban's one `addjournalmatch` per line does.
 *
 * @module
 */

/** Journal match groups: OR between groups, AND between fields of a group. */
export type JournalMatchGroups = string[][];

/** `FIELD=value`: upper-case letters, digits and `_`, not `__` (sd_journal_add_match's rule). */
const MATCH_RE = /^(?!__)[A-Z0-9_]+=/;

/**
 * Python's `shlex.split` in POSIX mode without comments: whitespace separates words, `'…'` is
 * literal, `"…"` honours `\"` and `\\`, a backslash outside quotes escapes the next character.
 *
 * @throws {SyntaxError} on an unclosed quote or a trailing backslash.
 *
 * @example
 * ```ts
 * import { shlexSplit } from "./journal_match.ts";
 * console.assert(shlexSplit(`_COMM=sshd "MESSAGE=a b"`).join("|") === "_COMM=sshd|MESSAGE=a b");
 * ```
 */
export function shlexSplit(text: string): string[] {
  const out: string[] = [];
  let token: string | null = null;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      if (token !== null) out.push(token);
      token = null;
      i++;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new SyntaxError(`No closing quotation in ${JSON.stringify(text)}`);
      token = (token ?? "") + text.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      let t: string = token ?? "";
      let j = i + 1;
      for (;;) {
        if (j >= text.length) {
          throw new SyntaxError(`No closing quotation in ${JSON.stringify(text)}`);
        }
        const d = text[j]!;
        if (d === '"') break;
        if (d === "\\" && (text[j + 1] === '"' || text[j + 1] === "\\")) {
          t += text[j + 1];
          j += 2;
        } else {
          t += d;
          j++;
        }
      }
      token = t;
      i = j + 1;
    } else if (c === "\\") {
      if (i + 1 >= text.length) {
        throw new SyntaxError(`No escaped character in ${JSON.stringify(text)}`);
      }
      token = (token ?? "") + text[i + 1];
      i += 2;
    } else {
      token = (token ?? "") + c;
      i++;
    }
  }
  if (token !== null) out.push(token);
  return out;
}

/**
 * Splits one `addjournalmatch` word list at `+` into groups, checking every match. Empty groups
 * (a leading, trailing or doubled `+`) are dropped, as sd_journal ignores them.
 *
 * @param where names the option in errors, e.g. `jail "sshd" journalmatch`
 * @throws {SyntaxError} for a word that is not `FIELD=value`.
 */
export function journalMatchGroups(words: string[], where = "journalmatch"): JournalMatchGroups {
  const groups: JournalMatchGroups = [];
  let group: string[] = [];
  for (const w of words) {
    if (w === "+") {
      if (group.length > 0) groups.push(group);
      group = [];
      continue;
    }
    if (!MATCH_RE.test(w) || w.includes("\0")) {
      throw new SyntaxError(
        `Invalid ${where}: ${JSON.stringify(w)} is not a journal match ` +
          "(FIELD=value, FIELD of A-Z, 0-9 and _)",
      );
    }
    group.push(w);
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/**
 * Parses a `journalmatch` option value (one or more lines) into match groups.
 *
 * @param where names the option in errors, e.g. `jail "sshd" journalmatch`
 * @throws {SyntaxError} for unbalanced quotes or a word that is not `FIELD=value`.
 *
 * @example
 * ```ts
 * import { parseJournalMatch } from "./journal_match.ts";
 * const g = parseJournalMatch("_SYSTEMD_UNIT=sshd.service + _COMM=sshd");
 * console.assert(g.length === 2 && g[1]![0] === "_COMM=sshd");
 * ```
 */
export function parseJournalMatch(
  text: string | null | undefined,
  where = "journalmatch",
): JournalMatchGroups {
  const groups: JournalMatchGroups = [];
  if (!text) return groups;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let words: string[];
    try {
      words = shlexSplit(line);
    } catch (e) {
      throw new SyntaxError(`Invalid ${where}: ${(e as Error).message}`);
    }
    groups.push(...journalMatchGroups(words, where));
  }
  return groups;
}

/**
 * The match arguments for `journalctl`: groups joined by `+`. Every word is a checked
 * `FIELD=value`, so none can be taken for an option or a path.
 */
export function journalMatchArgs(groups: JournalMatchGroups): string[] {
  const args: string[] = [];
  for (const g of groups) {
    if (g.length === 0) continue;
    if (args.length > 0) args.push("+");
    args.push(...g);
  }
  return args;
}

/** The groups as fail2ban's status shows them: `A=1 B=2 + C=3`. */
export function formatJournalMatch(groups: JournalMatchGroups): string {
  return groups.map((g) => g.join(" ")).join(" + ");
}
