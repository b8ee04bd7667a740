/**
 * Parser for fail2ban's INI dialect (Python `configparser` as fail2ban configures it).
 *
 * Rules, as fail2ban 1.0.2 on Python 3 applies them:
 * - `[Section]` headers (any text between the brackets); `[DEFAULT]` holds defaults.
 * - `key = value` or `key: value`: the key ends at the first `=` or `:`.
 * - Option names are lower-cased (configparser's `optionxform`); section names keep their case.
 * - Whole-line comments start with `#` or `;` (after optional indentation).
 * - Inline comments: only `;` preceded by whitespace (fail2ban sets `inline_comment_prefixes=";"`);
 *   an inline `#` is part of the value.
 * - A line indented deeper than its option line continues the value. A blank line inside a value
 *   is kept as an empty line; a comment line is skipped without ending the value; trailing blank
 *   lines are dropped.
 * - The same section or the same option twice in one file is an error (configparser's strict mode).
 *
 * @module
 */

/** One option as written in a file. */
export interface IniOption {
  /** The joined value (continuation lines joined with `\n`, trailing blank lines removed). */
  value: string;
  /** File the option was read from. */
  file: string;
  /** 1-based line of the `key = value` line. */
  line: number;
  /** 1-based file line of each line of `value` (same length as `value.split("\n")`). */
  lines: number[];
}

/** One section of a file with its options in file order. */
export interface IniSection {
  /** Section name as written (`Definition`, `sshd`, `Init?family=inet6`). */
  name: string;
  /** 1-based line of the header. */
  line: number;
  /** Options by lower-cased name. */
  options: Map<string, IniOption>;
}

/** A parsed INI file. */
export interface IniFile {
  /** The file name given to the parser. */
  file: string;
  /** Options of `[DEFAULT]`. */
  defaults: Map<string, IniOption>;
  /** Other sections in file order. */
  sections: Map<string, IniSection>;
}

/** configparser's `optionxform`: option names are case-insensitive, stored lower-cased. */
export function optionXform(name: string): string {
  return name.toLowerCase();
}

const SECTION_RE = /^\[(.+)\]/;
const OPTION_RE = /^(.*?)\s*([=:])\s*(.*)$/s;

interface PendingOption {
  parts: string[];
  lines: number[];
  file: string;
  line: number;
}

/** Index of an inline `;` comment (a `;` at the start or after whitespace), or -1. */
function inlineCommentStart(line: string): number {
  let from = 0;
  for (;;) {
    const i = line.indexOf(";", from);
    if (i < 0) return -1;
    if (i === 0 || /\s/.test(line[i - 1]!)) return i;
    from = i + 1;
  }
}

/**
 * Parses one file of fail2ban's INI dialect.
 *
 * @param text The file content.
 * @param file The file name, used in the result and in error messages.
 * @throws {SyntaxError} naming the file and line for a line that is neither a header, an option,
 *   a comment nor a continuation, for an option before any section header, and for a duplicate
 *   section or option.
 *
 * @example
 * ```ts
 * import { parseIni } from "./ini_parser.ts";
 * const ini = parseIni("[Definition]\nFailRegex = ^a <HOST>\n   ^b <HOST>\n", "f.conf");
 * console.assert(ini.sections.get("Definition")?.options.get("failregex")?.value === "^a <HOST>\n^b <HOST>");
 * ```
 */
export function parseIni(text: string, file: string): IniFile {
  const defaults = new Map<string, IniOption>();
  const sections = new Map<string, IniSection>();
  const seenSections = new Set<string>();
  let current: Map<string, PendingOption> | null = null;
  let currentName = "";
  const pendingBySection = new Map<Map<string, PendingOption>, Map<string, IniOption>>();
  const pendingDefaults = new Map<string, PendingOption>();
  let optName: string | null = null;
  let indentLevel = 0;

  const rawLines = text.split(/\r?\n/);
  if (rawLines.length > 0 && rawLines[rawLines.length - 1] === "") rawLines.pop();
  for (let idx = 0; idx < rawLines.length; idx++) {
    const lineNo = idx + 1;
    const line = rawLines[idx]!;
    let commentStart = inlineCommentStart(line);
    const stripped = line.trim();
    if (stripped.startsWith("#") || stripped.startsWith(";")) commentStart = 0;
    const value = (commentStart >= 0 ? line.slice(0, commentStart) : line).trim();
    if (value === "") {
      // configparser keeps a blank line inside a value, but not a comment line.
      if (commentStart < 0 && current !== null && optName !== null) {
        const opt = current.get(optName);
        if (opt) {
          opt.parts.push("");
          opt.lines.push(lineNo);
        }
      }
      continue;
    }
    const firstNonSpace = line.search(/\S/);
    const curIndent = firstNonSpace < 0 ? 0 : firstNonSpace;
    if (current !== null && optName !== null && curIndent > indentLevel) {
      const opt = current.get(optName)!;
      opt.parts.push(value);
      opt.lines.push(lineNo);
      continue;
    }
    indentLevel = curIndent;
    const sect = SECTION_RE.exec(value);
    if (sect) {
      const name = sect[1]!;
      if (seenSections.has(name)) {
        throw new SyntaxError(`${file}:${lineNo}: section "${name}" already exists in this file`);
      }
      seenSections.add(name);
      currentName = name;
      if (name === "DEFAULT") {
        current = pendingDefaults;
      } else {
        current = new Map();
        const options = new Map<string, IniOption>();
        pendingBySection.set(current, options);
        sections.set(name, { name, line: lineNo, options });
      }
      optName = null;
      continue;
    }
    if (current === null) {
      throw new SyntaxError(
        `${file}:${lineNo}: file contains no section headers before line ${JSON.stringify(line)}`,
      );
    }
    const m = OPTION_RE.exec(value);
    if (!m || m[1] === "") {
      throw new SyntaxError(
        `${file}:${lineNo}: cannot parse line ${JSON.stringify(line)}: expected ` +
          `"[section]", "key = value" or an indented continuation line`,
      );
    }
    const name = optionXform(m[1]!.trimEnd());
    if (current.has(name)) {
      throw new SyntaxError(
        `${file}:${lineNo}: option "${name}" in section "${currentName}" already exists in this file`,
      );
    }
    current.set(name, { parts: [m[3]!.trim()], lines: [lineNo], file, line: lineNo });
    optName = name;
  }

  const finish = (src: Map<string, PendingOption>, dst: Map<string, IniOption>) => {
    for (const [name, p] of src) {
      while (p.parts.length > 1 && p.parts[p.parts.length - 1]!.trim() === "") {
        p.parts.pop();
        p.lines.pop();
      }
      // configparser applies rstrip() to the joined value.
      const value = p.parts.join("\n").trimEnd();
      dst.set(name, { value, file: p.file, line: p.line, lines: p.lines });
    }
  };
  finish(pendingDefaults, defaults);
  for (const [src, dst] of pendingBySection) finish(src, dst);
  return { file, defaults, sections };
}
