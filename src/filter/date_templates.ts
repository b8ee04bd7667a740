/**
 * Date templates: one regular expression that finds a date in a log line and
 * the conversion of what it matched to epoch seconds. Covers fail2ban's
 * pattern templates (strptime `%` directives), `EPOCH`/`LEPOCH`, `TAI64N`,
 * the `{^LN-BEG}`, `{UNB}` and `**` bound markers, and fail2ban's default
 * template set.
 *
 * @module
 */

import { boundedRegExp } from "./bounded_regex.ts";
import {
  civilToTime,
  DIRECTIVE_RE,
  Field,
  fieldsToTime,
  GROUP_FIELDS,
  type LocalTime,
  monthOfCodes,
  TIME_DIRECTIVES,
  type TimeDirective,
} from "./strptime.ts";

/** A directive table (`%Y` → regex and name). */
export type Directives = Readonly<Record<string, TimeDirective>>;

/** Template flags, as fail2ban sets them: how a template is anchored. */
export const TemplateFlag = {
  /** Matches only at the start of a line (`^`, `{^LN-BEG}`). */
  LINE_BEGIN: 8,
  /** Matches only at the end of a line (`$`). */
  LINE_END: 4,
  /** Must not start inside a word. */
  WORD_BEGIN: 2,
  /** Must not end inside a word. */
  WORD_END: 1,
} as const;

/** What a template's regex found: the match and where its date text lies. */
export type TemplateMatch = RegExpExecArray;

/** Result of translating a Python regex for JavaScript. */
export interface TranslatedRegex {
  /** JavaScript source with only numbered groups. */
  source: string;
  /** Flags from inline global flags (`(?i)`), JavaScript letters. */
  flags: string;
  /** Name of each capturing group by number - 1 (null for unnamed groups). */
  groupNames: (string | null)[];
}

/**
 * Translates a Python `re` pattern (as used in date patterns) to JavaScript:
 * named groups become numbered groups (their names returned), `(?P=name)`
 * becomes a numbered back-reference, `(?#…)` comments go, `{,n}` becomes
 * `{0,n}`, `\A`/`\Z` become `^`/`$`, a leading `]` in a class is escaped, and
 * inline global flags become RegExp flags.
 *
 * @throws {SyntaxError} for constructs JavaScript cannot express (conditionals, verbose mode).
 */
export function translatePythonRegex(pattern: string): TranslatedRegex {
  let out = "";
  let flags = "";
  const groupNames: (string | null)[] = [];
  const n = pattern.length;
  let i = 0;
  while (i < n) {
    const c = pattern[i]!;
    if (c === "(" && (pattern.startsWith(END_BOUND, i) || pattern.startsWith(BEGIN_BOUND, i))) {
      // "not inside a word", written so V8 tests it cheaply
      out += `(?:(?<![${WORD}])|(?![${WORD}]))`;
      i += END_BOUND.length;
      continue;
    }
    if (c === "\\") {
      const next = pattern[i + 1];
      if (next === undefined) {
        throw new SyntaxError(`Bad date pattern "${pattern}": trailing backslash`);
      }
      out += escapeOutsideClass(next);
      i += 2;
      continue;
    }
    if (c === "[") {
      let j = i + 1;
      let cls = "[";
      if (pattern[j] === "^") {
        cls += "^";
        j++;
      }
      if (pattern[j] === "]") {
        cls += "\\]";
        j++;
      }
      while (j < n && pattern[j] !== "]") {
        if (pattern[j] === "\\" && j + 1 < n) {
          cls += escapeInClass(pattern[j + 1]!);
          j += 2;
        } else {
          cls += pattern[j] === "[" ? "\\[" : pattern[j];
          j++;
        }
      }
      if (j >= n) {
        throw new SyntaxError(`Bad date pattern "${pattern}": unterminated character class`);
      }
      out += cls + "]";
      i = j + 1;
      continue;
    }
    if (c === "{") {
      const m = /^\{(\d*)(,?)(\d*)\}/.exec(pattern.slice(i, i + 24));
      if (m && (m[1] !== "" || (m[2] !== "" && m[3] !== ""))) {
        out += `{${m[1] || "0"}${m[2]}${m[3]}}`;
        i += m[0].length;
      } else {
        out += "\\{";
        i++;
      }
      continue;
    }
    if (c === "}" || c === "]") {
      out += "\\" + c;
      i++;
      continue;
    }
    if (c === "(") {
      if (pattern[i + 1] !== "?") {
        groupNames.push(null);
        out += "(";
        i++;
        continue;
      }
      const rest = pattern.slice(i + 2, i + 40);
      let m = /^P<([A-Za-z_]\w*)>/.exec(rest);
      if (m) {
        groupNames.push(m[1]!);
        out += "(";
        i += 2 + m[0].length;
        continue;
      }
      m = /^P=([A-Za-z_]\w*)\)/.exec(rest);
      if (m) {
        const idx = groupNames.indexOf(m[1]!);
        if (idx < 0) {
          throw new SyntaxError(`Bad date pattern "${pattern}": unknown group name "${m[1]}"`);
        }
        out += `(?:\\${idx + 1})`;
        i += 2 + m[0].length;
        continue;
      }
      if (pattern[i + 2] === "#") {
        const end = pattern.indexOf(")", i);
        if (end < 0) throw new SyntaxError(`Bad date pattern "${pattern}": unterminated comment`);
        i = end + 1;
        continue;
      }
      m = /^([a-zA-Z]+)\)/.exec(rest);
      if (m) {
        for (const f of m[1]!) {
          if (f === "i" || f === "s" || f === "m") {
            if (!flags.includes(f)) flags += f;
          } else if (f !== "u" && f !== "L" && f !== "a") {
            throw new SyntaxError(
              `Bad date pattern "${pattern}": inline flag "${f}" is not supported`,
            );
          }
        }
        i += 2 + m[0].length;
        continue;
      }
      if (pattern[i + 2] === "(") {
        throw new SyntaxError(
          `Bad date pattern "${pattern}": conditional groups are not supported`,
        );
      }
      if (pattern[i + 2] === "<" && pattern[i + 3] !== "=" && pattern[i + 3] !== "!") {
        throw new SyntaxError(`Bad date pattern "${pattern}": use (?P<name>...) for named groups`);
      }
      out += "(?";
      i += 2;
      continue;
    }
    out += c;
    i++;
  }
  return { source: out, flags, groupNames };
}

/** Python's `\\w` on text: letters, digits and underscore in any script. */
const WORD = "\\p{L}\\p{N}_";
/** Python's `\\b`: between a word character and a non-word character (or the line edge). */
const WORD_EDGE = `(?:(?<=[${WORD}])(?![${WORD}])|(?<![${WORD}])(?=[${WORD}]))`;
const NOT_WORD_EDGE = `(?:(?<=[${WORD}])(?=[${WORD}])|(?<![${WORD}])(?![${WORD}]))`;
const BEGIN_BOUND = "(?=^|\\b|\\W)";
const END_BOUND = "(?=\\b|\\W|$)";
const SYNTAX_CHARS = "^$\\.*+?()[]{}|/";

/** One escape outside a class, for a `u`-flag RegExp with Python's Unicode word rules. */
function escapeOutsideClass(ch: string): string {
  switch (ch) {
    case "A":
      return "^";
    case "Z":
      return "$";
    case "w":
      return `[${WORD}]`;
    case "W":
      return `[^${WORD}]`;
    case "b":
      return WORD_EDGE;
    case "B":
      return NOT_WORD_EDGE;
  }
  return plainEscape(ch, false);
}

/** One escape inside a class. */
function escapeInClass(ch: string): string {
  if (ch === "w") return WORD;
  if (ch === "b") return "\\x08";
  return plainEscape(ch, true);
}

function plainEscape(ch: string, inClass: boolean): string {
  if (/[0-9dDsStnrfvxuWw]/.test(ch)) return "\\" + ch;
  if (inClass && ch === "-") return "\\-";
  if (SYNTAX_CHARS.includes(ch)) return "\\" + ch;
  // Python lets any other character be escaped; a u-flag RegExp does not
  return ch;
}

// Pattern shapes fail2ban inspects to decide on bounds and anchoring.
const STARTS_ANCHORED = /^\(*(?:\(\?\w+\))?(?:\^|\(*\*\*|\((?:\?:)?\^)/;
const ENDS_ANCHORED = /(?<!\\)(?:\$\)?|\\b|\\s|\*\*\)*)$/;
const HAS_CAPTURE = /(?<!\(\?)(?<!\\)\((?!\?)/;
const CAPTURE_WRAP = /^((?:\(\?\w+\))?\^?(?:\(\?\w+\))?)(.*?)(\$?)$/s;
const LINE_BEGIN_RE = /^(?:\(\?\w+\))?(?:\^|\((?:\?:)?\^(?!\|))/;
const LINE_END_RE = /(?<![\\|])(?:\$\)?)$/;
const STAR_MARKS = /^\(*(?:\(\?\w+\))?\(*\*\*|(?<!\\)\*\*\)*$/g;
const INLINE_FLAGS = /\(\?[a-z]+\)/;

/** A template regex after fail2ban's bound rules. */
export interface BoundRegex {
  /** Python-flavoured regex, bounds added and `**` marks removed. */
  regex: string;
  /** Template name (`{^LN-BEG}` prefixed when line-anchored by the rules). */
  name: string;
  /** {@link TemplateFlag} bits. */
  flags: number;
  /** True when group 1 was added around the whole date, so it ends where the match ends. */
  wrapped: boolean;
}

/**
 * Applies fail2ban's bound rules to a template regex: a word bound before
 * (or, with `"start"`, a line-start bound allowing two non-word characters)
 * and after, unless the regex already starts with `^`/`**` or ends with
 * `$`/`\b`/`\s`/`**`; a capturing group around the date when there is none.
 */
export function applyBounds(
  input: string,
  name: string,
  wordBegin: boolean | "start",
  wordEnd: boolean,
): BoundRegex {
  let regex = input.trim();
  const gf = INLINE_FLAGS.exec(regex);
  if (gf) regex = regex.slice(0, gf.index) + regex.slice(gf.index + gf[0].length);
  const boundBegin = wordBegin !== false && !STARTS_ANCHORED.test(regex);
  const boundEnd = wordEnd && !ENDS_ANCHORED.test(regex);
  let wrapped = false;
  if (!HAS_CAPTURE.test(regex)) {
    regex = regex.replace(CAPTURE_WRAP, "$1($2)$3");
    wrapped = true;
  }
  let flags = 0;
  if (boundBegin) {
    if (wordBegin === "start") {
      flags |= TemplateFlag.LINE_BEGIN;
      regex = "^(?:\\W{0,2})?" + regex;
      if (!name.startsWith("{^LN-BEG}")) name = "{^LN-BEG}" + name;
    } else {
      flags |= TemplateFlag.WORD_BEGIN;
      regex = "(?=^|\\b|\\W)" + regex;
    }
  }
  if (boundEnd) {
    flags |= TemplateFlag.WORD_END;
    regex += "(?=\\b|\\W|$)";
  }
  if (!(flags & TemplateFlag.LINE_BEGIN) && LINE_BEGIN_RE.test(regex)) {
    flags |= TemplateFlag.LINE_BEGIN;
  }
  if (!(flags & TemplateFlag.LINE_END) && LINE_END_RE.test(regex)) flags |= TemplateFlag.LINE_END;
  regex = regex.replace(STAR_MARKS, (m) => m.replaceAll("**", ""));
  if (gf) regex = gf[0] + regex;
  return { regex, name, flags, wrapped };
}

/** Removes the bound markers and bound groups of a pattern, for placing it inside `{DATE}`. */
export function unboundPattern(pattern: string): string {
  return pattern
    .replace(/^\{UNB\}/, "")
    .replace(/^\{\^LN-BEG\}/, "")
    .replace(/^\((?:\?:)?\^\|\\b\|\\W\)/, "")
    .replace(/\(\?=\\b\|\\W\|\$\)$/, "");
}

/**
 * A date template: finds a date in a line and converts it to epoch seconds.
 * Subclasses differ in how the matched text becomes a time.
 */
export abstract class DateTemplate {
  /** Name shown in statistics (`{^LN-BEG}Epoch`). */
  readonly name: string;
  /** {@link TemplateFlag} bits. */
  readonly flags: number;
  /** Preference weight: 100 for line-anchored copies of the defaults, else 1. */
  weight = 1;
  /** The strptime pattern the template was made from, or null (epoch, TAI64N). */
  readonly pattern: string | null;
  /** The Python-flavoured regex (fail2ban's view of the template, as fail2ban-regex shows it). */
  regex: string;
  /** How often the regex matched (fail2ban's template hits, used in template ordering). */
  matchCount = 0;
  #search: RegExp | null = null;
  #sticky: RegExp | null = null;
  readonly #source: string;
  readonly #flags: string;
  readonly #groupAtEnd: boolean;

  /** Compiles the template from its bound regex. */
  constructor(bound: BoundRegex, pattern: string | null, js?: TranslatedRegex) {
    this.name = bound.name;
    this.flags = bound.flags;
    this.pattern = pattern;
    this.regex = bound.regex;
    const t = js ?? translatePythonRegex(bound.regex);
    this.#groupAtEnd = bound.wrapped;
    this.#source = t.source;
    this.#flags = t.flags + (bound.wrapped ? "u" : "du");
    // check the syntax now; compile for matching on first use (Unicode classes are costly to build)
    try {
      new RegExp(t.source.replaceAll(WORD, "\\w"), this.#flags.replace("i", ""));
    } catch (e) {
      throw new SyntaxError(
        `Bad date pattern "${pattern ?? bound.name}": ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  #regex(): RegExp {
    return this.#search ??= boundedRegExp(this.#source, this.#flags);
  }

  #stickyRegex(): RegExp {
    return this.#sticky ??= boundedRegExp(this.#source, this.#flags + "y");
  }

  /** True when the template is anchored at the line start or end. */
  get anchored(): boolean {
    return (this.flags & (TemplateFlag.LINE_BEGIN | TemplateFlag.LINE_END)) !== 0;
  }

  /** Searches the whole line. */
  search(line: string): TemplateMatch | null {
    const m = (this.#search ?? this.#regex()).exec(line);
    if (m !== null) this.matchCount++;
    return m;
  }

  /** Matches only at offset `pos`. */
  matchAt(line: string, pos: number): TemplateMatch | null {
    const re = this.#sticky ?? this.#stickyRegex();
    re.lastIndex = pos;
    const m = re.exec(line);
    if (m !== null) this.matchCount++;
    return m;
  }

  /**
   * Reads a date at the line start without the regex, for the common shape
   * of a template; -1 when the line does not have that shape (then
   * {@link DateTemplate.search} decides). On success returns where the date
   * text ends (it starts at 0, the regex would match exactly that span),
   * sets {@link DateTemplate.fastTime} and counts the match like `search`.
   */
  fastMatch(_line: string, _now: number, _defaultZone: number | null, _local: LocalTime): number {
    return -1;
  }

  /** True when {@link DateTemplate.fastMatch} can read some lines. */
  get hasFastMatch(): boolean {
    return false;
  }

  /** Epoch seconds (NaN for an invalid date) of the last successful {@link DateTemplate.fastMatch}. */
  fastTime = NaN;

  /** Offset where the date text (group 1) starts. */
  dateStart(m: TemplateMatch): number {
    if (this.#groupAtEnd) return m.index + m[0].length - (m[1]?.length ?? 0);
    const span = m.indices?.[1];
    return span ? span[0] : m.index;
  }

  /** Offset just past the date text (group 1). */
  dateEnd(m: TemplateMatch): number {
    if (this.#groupAtEnd) return m.index + m[0].length;
    const span = m.indices?.[1];
    return span ? span[1] : m.index + m[0].length;
  }

  /** Epoch seconds of a match, or NaN when the text is not a valid date. */
  abstract toTime(
    m: TemplateMatch,
    now: number,
    defaultZone: number | null,
    local: LocalTime,
  ): number;
}

/** fail2ban's syslog default (`Nov  1 12:34:56`), the pattern of the commonest log lines. */
const SYSLOG_PATTERN = "(?:%a )?%b %d %k:%M:%S(?:\\.%f)?(?: %ExY)?";

/** A template made of a strptime pattern (`%b %d %H:%M:%S`). */
export class PatternTemplate extends DateTemplate {
  readonly #fields: Field[];
  readonly #groups: number[];
  readonly #values: (string | undefined)[];
  /** The line-anchored syslog default with the standard directives: {@link PatternTemplate.fastMatch} applies. */
  readonly #syslog: boolean;

  /**
   * Compiles `pattern`. `{UNB}` drops both word bounds, `{^LN-BEG}` anchors
   * at the line start, `**` at either end drops that bound.
   *
   * @throws {SyntaxError} for an unknown directive or a bad regex.
   */
  constructor(
    pattern: string,
    wordBegin: boolean | "start" = true,
    wordEnd = true,
    directives: Directives = TIME_DIRECTIVES,
  ) {
    let p = pattern;
    if (p.startsWith("{UNB}")) {
      p = p.slice(5);
      wordBegin = false;
      wordEnd = false;
    }
    if (wordBegin !== false && p.startsWith("{^LN-BEG}")) {
      p = p.slice(9);
      wordBegin = "start";
    }
    let regex = "";
    let name = "";
    let last = 0;
    for (const m of p.matchAll(DIRECTIVE_RE)) {
      const literal = p.slice(last, m.index);
      if (literal.includes("%")) {
        throw new SyntaxError(
          `Failed to set datepattern "${pattern}": unknown directive "${
            literal.slice(literal.indexOf("%"), literal.indexOf("%") + 2)
          }" (a literal percent is written %%)`,
        );
      }
      const d = directives[m[1]!]!;
      regex += literal + d.regex;
      name += literal + d.name;
      last = m.index + m[0].length;
    }
    const tail = p.slice(last);
    if (tail.includes("%")) {
      throw new SyntaxError(
        `Failed to set datepattern "${pattern}": unknown directive "${
          tail.slice(tail.indexOf("%"), tail.indexOf("%") + 2)
        }" (a literal percent is written %%)`,
      );
    }
    regex += tail;
    name += tail;
    if (/(?<!%)%[aAbBpc]/.test(p)) regex = "(?iu)" + regex;
    const bound = applyBounds(regex, name, wordBegin, wordEnd);
    const js = translatePythonRegex(bound.regex);
    super(bound, pattern, js);
    this.#fields = [];
    this.#groups = [];
    js.groupNames.forEach((g, i) => {
      const f = g === null ? undefined : GROUP_FIELDS[g];
      if (f !== undefined && f !== Field.Ignored) {
        this.#fields.push(f);
        this.#groups.push(i + 1);
      }
    });
    this.#values = new Array(this.#fields.length).fill(undefined);
    this.#syslog = pattern === "{^LN-BEG}" + SYSLOG_PATTERN && wordBegin === "start" &&
      wordEnd && directives === TIME_DIRECTIVES;
  }

  override get hasFastMatch(): boolean {
    return this.#syslog;
  }

  /**
   * `Mon dd hh:mm:ss` at offset 0 (day `dd`, ` d` or `0d`; two-digit hour,
   * minute and second), followed by the line end or a space that does not
   * start a year: exactly the span and fields the regex finds for such a
   * line, read from char codes. Any other shape gives -1.
   */
  override fastMatch(
    line: string,
    now: number,
    defaultZone: number | null,
    local: LocalTime,
  ): number {
    if (!this.#syslog || line.length < 15) return -1;
    const month = monthOfCodes(line.charCodeAt(0), line.charCodeAt(1), line.charCodeAt(2));
    if (month === 0 || line.charCodeAt(3) !== 32 || line.charCodeAt(6) !== 32) return -1;
    const d1 = line.charCodeAt(4), d2 = line.charCodeAt(5) - 48;
    let day: number;
    if (d1 === 32 || d1 === 48) {
      if (d2 < 1 || d2 > 9) return -1;
      day = d2;
    } else if (d1 === 49 || d1 === 50) {
      if (d2 < 0 || d2 > 9) return -1;
      day = (d1 - 48) * 10 + d2;
    } else if (d1 === 51) {
      if (d2 !== 0 && d2 !== 1) return -1;
      day = 30 + d2;
    } else return -1;
    const h1 = line.charCodeAt(7) - 48, h2 = line.charCodeAt(8) - 48;
    const m1 = line.charCodeAt(10) - 48, m2 = line.charCodeAt(11) - 48;
    const s1 = line.charCodeAt(13) - 48, s2 = line.charCodeAt(14) - 48;
    if (
      h1 < 0 || h1 > 2 || h2 < 0 || h2 > 9 || line.charCodeAt(9) !== 58 ||
      m1 < 0 || m1 > 5 || m2 < 0 || m2 > 9 || line.charCodeAt(12) !== 58 ||
      s1 < 0 || s1 > 5 || s2 < 0 || s2 > 9
    ) return -1;
    // after the seconds: the line end, or a space not followed by "2" (no fraction, no year)
    if (line.length > 15 && (line.charCodeAt(15) !== 32 || line.charCodeAt(16) === 50)) return -1;
    this.matchCount++;
    // the same second as the last line (most lines of a busy log): the same time, and
    // converting it again would leave the local-time state as the last conversion did
    const fields = ((month * 32 + day) * 24 + h1 * 10 + h2) * 3600 + (m1 * 10 + m2) * 60 +
      s1 * 10 + s2;
    const last = this.#lastFast;
    if (
      fields === last.fields && now === last.now && local === last.local &&
      defaultZone === last.zone && local.lastOffset === last.offset
    ) return 15;
    local.setNow(now);
    this.fastTime = civilToTime(
      local.nowYear,
      month,
      day,
      h1 * 10 + h2,
      m1 * 10 + m2,
      s1 * 10 + s2,
      null,
      true,
      false,
      defaultZone,
      local,
    );
    last.fields = fields;
    last.now = now;
    last.local = local;
    last.zone = defaultZone;
    last.offset = local.lastOffset;
    return 15;
  }

  /** What the last {@link PatternTemplate.fastMatch} conversion started from and left behind. */
  readonly #lastFast: {
    fields: number;
    now: number;
    local: LocalTime | null;
    zone: number | null;
    offset: number | null;
  } = { fields: -1, now: NaN, local: null, zone: null, offset: null };

  /** Converts the matched fields (see {@link fieldsToTime}). */
  toTime(m: TemplateMatch, now: number, defaultZone: number | null, local: LocalTime): number {
    const values = this.#values;
    const groups = this.#groups;
    for (let i = 0; i < groups.length; i++) values[i] = m[groups[i]!];
    return fieldsToTime(this.#fields, values, now, defaultZone, local);
  }
}

const EPOCH_SHORT = "\\d{10,11}\\b(?:\\.\\d{3,6})?";
const EPOCH_LONG = "\\d{10,11}(?:\\d{3}(?:\\.\\d{1,6}|\\d{3})?)?";
const EPOCH_MARK = /(?<!\\)\{L?EPOCH\}/gi;

/** Unix timestamps (`1124013600.123`), optionally in milliseconds/microseconds (`LEPOCH`). */
export class EpochTemplate extends DateTemplate {
  readonly #long: boolean;
  readonly #group: number;

  /**
   * @param mode `"line"`: at the line start (after up to two non-word
   *   characters); `"any"`: at the line start, after `[` at the line start, or
   *   after `audit(`; or a pattern with `{EPOCH}`/`{LEPOCH}` in it.
   */
  constructor(mode: "line" | "any" | { pattern: string }, long = false) {
    const num = long ? EPOCH_LONG : EPOCH_SHORT;
    let bound: BoundRegex;
    let group = 1;
    const baseName = long ? "LongEpoch" : "Epoch";
    if (mode === "line") {
      bound = {
        regex: `^(?:\\W{0,2})?(${num})(?=\\b|\\W|$)`,
        name: "{^LN-BEG}" + baseName,
        flags: TemplateFlag.LINE_BEGIN | TemplateFlag.WORD_END,
        wrapped: true,
      };
    } else if (mode === "any") {
      const src = `((?:^|(?<=^\\[)|(?<=\\baudit\\())${num})(?=\\b|\\W|$)`;
      bound = { regex: src, name: baseName, flags: TemplateFlag.WORD_END, wrapped: true };
    } else {
      const regex = "(" + mode.pattern.replace(EPOCH_MARK, `(${num})`) + ")";
      bound = applyBounds(regex, mode.pattern, true, true);
      bound = { ...bound, name: mode.pattern };
      group = 2;
    }
    super(bound, mode === "line" || mode === "any" ? null : mode.pattern);
    this.#long = long;
    this.#group = group;
    // fail2ban writes these with conditional groups (`[` before the number asks for `]` after it,
    // `audit(` for `:<n>)`), which backtracking makes optional; shown as fail2ban shows them
    if (mode === "line") {
      this.regex = `^(?:\\W{0,2})?((?P<square>(?<=^\\[))?${num})(?(square)(?=\\]))(?=\\b|\\W|$)`;
    } else if (mode === "any") {
      this.regex = `((?:^|(?P<square>(?<=^\\[))|(?P<selinux>(?<=\\baudit\\()))${num})` +
        `(?:(?(selinux)(?=:\\d+\\)))|(?(square)(?=\\])))(?=\\b|\\W|$)`;
    }
  }

  /** The timestamp as written (fractions kept), scaled down from ms/µs in long form. */
  toTime(m: TemplateMatch): number {
    const v = m[this.#group];
    if (v === undefined) return NaN;
    let t = Number(v);
    if (this.#long && v.length >= 13) t = v.length >= 16 && !v.includes(".") ? t / 1e6 : t / 1000;
    return t;
  }
}

/** TAI64N labels (`@4000000037c219bf2ef02e94`, daemontools/multilog). */
export class Tai64nTemplate extends DateTemplate {
  /** @param lineStart anchor at the line start (`{^LN-BEG}TAI64N`) */
  constructor(lineStart: boolean) {
    super(applyBounds("@[0-9a-f]{24}", "TAI64N", lineStart ? "start" : false, true), null);
  }

  /** Seconds of the label (the TAI offset is ignored, as fail2ban does). */
  toTime(m: TemplateMatch): number {
    const v = m[1];
    return v === undefined ? NaN : parseInt(v.slice(2, 17), 16);
  }
}

/** fail2ban's default date patterns, most specific first. */
export const DEFAULT_PATTERNS: readonly string[] = [
  "%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\\s*%z)?",
  "(?:%a )?%b %d %k:%M:%S(?:\\.%f)?(?: %ExY)?",
  "(?:%a )?%b %d %ExY %k:%M:%S(?:\\.%f)?",
  "%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S",
  "%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\\.%f)?(?: %z)?",
  "%m/%d/%ExY:%H:%M:%S",
  "%m-%d-%ExY %k:%M:%S(?:\\.%f)?",
  "EPOCH",
  "{^LN-BEG}%H:%M:%S",
  "^<%m/%d/%Exy@%H:%M:%S>",
  "%Exy%Exm%Exd  ?%H:%M:%S",
  "%b %d, %ExY %I:%M:%S %p",
  "^%b-%d-%Exy %k:%M:%S",
  "%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\\s*%z)?",
  "(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\\.%f)?(?: %ExY)?",
  "(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\\.%f)?(?: %ExY)?",
  "TAI64N",
];

/**
 * Builds a template from one `datepattern` entry: `EPOCH`, `LEPOCH`, `TAI64N`
 * (optionally `{^LN-BEG}`/`^` anchored), a pattern with `{EPOCH}`, or a
 * strptime pattern.
 */
export function templateFromPattern(
  pattern: string,
  directives: Directives = TIME_DIRECTIVES,
): DateTemplate {
  const key = pattern.includes("%") ? pattern : pattern.toUpperCase();
  if (key.includes("EPOCH")) {
    EPOCH_MARK.lastIndex = 0;
    if (EPOCH_MARK.test(pattern)) {
      EPOCH_MARK.lastIndex = 0;
      return new EpochTemplate({ pattern }, key.includes("LEPOCH"));
    }
    if (key === "EPOCH" || key === "{^LN-BEG}EPOCH" || key === "^EPOCH") {
      return new EpochTemplate(key === "EPOCH" ? "any" : "line");
    }
    if (key === "LEPOCH" || key === "{^LN-BEG}LEPOCH" || key === "^LEPOCH") {
      return new EpochTemplate(key === "LEPOCH" ? "any" : "line", true);
    }
  }
  if (key === "TAI64N" || key === "{^LN-BEG}TAI64N" || key === "^TAI64N") {
    return new Tai64nTemplate(key !== "TAI64N");
  }
  return new PatternTemplate(pattern, true, true, directives);
}

/** The line-anchored copy of a default template (preferred, weight 100), or null when it is anchored already. */
export function lineAnchoredCopy(
  t: DateTemplate,
  directives: Directives = TIME_DIRECTIVES,
): DateTemplate | null {
  if (t.name.startsWith("{^LN-BEG}") || t.name.startsWith("^")) return null;
  const copy = templateFromPattern("{^LN-BEG}" + (t.pattern ?? t.name), directives);
  if (copy.name === t.name) return null;
  copy.weight = 100;
  return copy;
}

/** fail2ban's full default list: line-anchored copies first, then the defaults. */
export function defaultTemplates(directives: Directives = TIME_DIRECTIVES): DateTemplate[] {
  const base = DEFAULT_PATTERNS.map((p) => templateFromPattern(p, directives));
  const anchored: DateTemplate[] = [];
  for (const t of base) {
    const c = lineAnchoredCopy(t, directives);
    if (c) anchored.push(c);
  }
  return [...anchored, ...base];
}

const DATE_MARK = /(?<!\\)\{DATE\}/gi;

/**
 * The default templates placed inside a `{DATE}` pattern
 * (`^[^\[]*\[({DATE})`), one template per default.
 */
export function templatesForDateMark(
  preMatch: string,
  directives: Directives = TIME_DIRECTIVES,
): DateTemplate[] {
  return DEFAULT_PATTERNS.map((p) => templateFromPattern(p, directives)).map((t) => {
    const inner = unboundPattern(t.pattern ?? t.name);
    return templateFromPattern(preMatch.replace(DATE_MARK, () => inner), directives);
  });
}
