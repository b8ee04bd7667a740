/**
 * Translation of Python `re` patterns (the dialect of fail2ban's filters) into
 * exactly equivalent JavaScript regular expressions.
 *
 * The translation parses the pattern into a small syntax tree and prints it
 * for V8 in `v` (unicode sets) mode, so Python's semantics are kept:
 *
 * - `\d`, `\w`, `\s`, `\b` are Unicode-aware as in Python 3 `str` patterns
 *   (`\d` = `\p{Nd}`, `\w` = letters, numbers and `_`, `\s` = Python's
 *   whitespace set, which differs from JavaScript's); with the `(?a)` flag
 *   they are ASCII.
 * - `.` never matches `\n` only (JavaScript's `.` also refuses `\r`,
 *   `\u2028`, `\u2029`); `(?s)` makes it match everything.
 * - `^`/`$` follow Python: `$` also matches before a final `\n`; with `(?m)`
 *   both match at `\n` only (JavaScript's `m` also breaks at `\r`).
 * - `\A`, `\Z` become input-start / input-end assertions.
 * - Conditionals `(?(name)yes|no)` are expanded exactly: the alternatives
 *   that decide whether the group took part are distributed over the rest of
 *   the enclosing sequence (`(a|b)c` ≡ `(?:ac|bc)`, which keeps the
 *   backtracking order), using V8's duplicate named groups.
 * - Numbered back-references become named ones.
 *
 * What cannot be expressed exactly (atomic groups, possessive quantifiers,
 * `\N{…}`, the `L` flag, a conditional whose group sits under a repeat …) is
 * a `SyntaxError` naming the origin.
 *
 * @module
 */

/** The result of {@link translatePythonRegex}. */
export interface TranslatedRegex {
  /** JavaScript pattern source (for `new RegExp(source, flags)`). */
  source: string;
  /** JavaScript flags: `u`, or `v` when nested classes or case folding need it, plus `i` for a global `(?i)`. */
  flags: string;
  /** JavaScript group name → Python group name, for names that had to be renamed. */
  renamed: Record<string, string>;
  /** JavaScript names of groups made up for numbered back-references (not Python groups). */
  synthetic: string[];
  /** Text every match contains (case-sensitive), for a cheap `indexOf` pre-check; "" if none. */
  required: string;
  /**
   * Texts of which every match contains at least one (case-sensitive), for a
   * cheap pre-check of many regexes at once; empty if none is known.
   */
  requiredAny: string[];
  /** For a pattern anchored at the input start and never empty: its possible first characters. */
  firstChars: FirstChars | null;
  /**
   * The same pattern with plain numbered groups instead of named ones (V8
   * builds a dictionary for the named groups of every match), or null when
   * the pattern has back-references. `groups` lists the group numbers of each
   * JavaScript group name, in order; at most one of them takes part in a match.
   */
  numbered: NumberedRegex | null;
  /**
   * Literals that decide whether some alternatives can match at all (only
   * with {@link TranslatedRegex.numbered}); empty when there are none.
   */
  guards: string[];
  /**
   * The numbered pattern without the alternatives that need the guards
   * whose bits are set in `absent` (bit i: `guards[i]` is not in the input).
   * On an input lacking those texts it finds exactly what the full pattern
   * finds, with the same groups.
   */
  pruned: ((absent: number) => NumberedRegex) | null;
}

/** A pattern printed with numbered groups. */
export interface NumberedRegex {
  /** JavaScript pattern source. */
  source: string;
  /** Group numbers of each JavaScript group name, in order; at most one takes part in a match. */
  groups: Record<string, number[]>;
}

/** Options of {@link translatePythonRegex}. */
export interface TranslateOptions {
  /** Compile as with `re.MULTILINE`. @default false */
  multiline?: boolean;
  /** Compile as with `re.IGNORECASE`. @default false */
  ignoreCase?: boolean;
  /**
   * Which named groups to keep capturing (by Python name); the others become
   * non-capturing unless a back-reference needs them. @default every group
   */
  keepGroup?: (pythonName: string) => boolean;
}

type Node =
  | { t: "seq"; items: Node[] }
  | { t: "alt"; branches: Node[] }
  | { t: "raw"; js: string; assert?: boolean; lit?: string; ci?: boolean }
  | {
    t: "group";
    kind: "cap" | "noncap" | "look" | "mod";
    /** Python name of a capturing group, or null. */
    name: string | null;
    /** Python group number of a capturing group. */
    num: number;
    /** For look: `?=` etc.; for mod: `?i:` / `?-i:`. */
    prefix: string;
    body: Node;
  }
  | { t: "quant"; body: Node; min: number; max: number; lazy: boolean; text: string }
  | { t: "backref"; ref: number }
  | { t: "cond"; ref: number; yes: Node; no: Node; id: number };

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
  x: boolean;
  a: boolean;
}

// Python's str.isspace() set (differs from JS \s: adds \x1c-\x1f and \x85, lacks \ufeff).
const PY_SPACE =
  "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PY_WORD = "\\p{L}\\p{N}_";
const ASCII_SPACE = "\\t-\\r\\x1c-\\x20";
const ASCII_WORD = "a-zA-Z0-9_";

/** Characters escaped outside a class in `v` mode. */
const SYNTAX_CHARS = new Set("^$\\.*+?()[]{}|/");
/** Characters escaped inside a class in `v` mode. */
const CLASS_ESCAPE_V = new Set("^$\\.*+?()[]{}|/&-!#%,:;<=>@`~");
/** Characters escaped inside a class in `u` mode. */
const CLASS_ESCAPE_U = new Set("\\[]^-");
let CLASS_ESCAPE = CLASS_ESCAPE_V;

/** Thrown when a pattern needs `v` mode (nested classes, case folding of complements). */
class NeedSets extends Error {}

function hex(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

function litChar(cp: number, inClass: boolean): string {
  const ch = String.fromCodePoint(cp);
  if (cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp < 0xa0) || cp === 0x2028 || cp === 0x2029) {
    return hex(cp);
  }
  if ((inClass ? CLASS_ESCAPE : SYNTAX_CHARS).has(ch)) return "\\" + ch;
  if (cp >= 0xd800 && cp <= 0xdfff) return hex(cp);
  return ch;
}

const SIMPLE_ESCAPES: Record<string, number> = {
  a: 7,
  f: 12,
  n: 10,
  r: 13,
  t: 9,
  v: 11,
};

class Parser {
  readonly src: string;
  readonly origin: string;
  readonly sets: boolean;
  pos = 0;
  flags: Flags;
  groupCount = 0;
  readonly names = new Map<string, number>();
  readonly referenced = new Set<number>();
  condCount = 0;
  globalI = false;

  constructor(src: string, origin: string, opts: TranslateOptions, sets: boolean) {
    this.sets = sets;
    this.src = src;
    this.origin = origin;
    this.flags = { i: false, m: !!opts.multiline, s: false, x: false, a: false };
    this.globalI = !!opts.ignoreCase;
    if (this.globalI && !sets) throw new NeedSets();
  }

  error(msg: string, at = this.pos): SyntaxError {
    return new SyntaxError(
      `Cannot translate regex${
        this.origin ? ` of ${this.origin}` : ""
      }: ${msg} at position ${at} in "${this.src}"`,
    );
  }

  parseGlobalFlags(): void {
    // Leading (?flags) groups, possibly several, as Python 3.11 allows.
    for (;;) {
      const m = /^\(\?([aiLmsux]+)\)/.exec(this.src.slice(this.pos));
      if (!m) break;
      this.applyFlags(m[1]!, true, this.flags);
      if (this.flags.i) this.globalI = true;
      this.pos += m[0].length;
    }
  }

  applyFlags(letters: string, on: boolean, f: Flags): void {
    for (const c of letters) {
      switch (c) {
        case "i":
          if (!this.sets) throw new NeedSets();
          f.i = on;
          break;
        case "m":
          f.m = on;
          break;
        case "s":
          f.s = on;
          break;
        case "x":
          f.x = on;
          break;
        case "a":
          f.a = on;
          break;
        case "u":
          break;
        case "L":
          throw this.error("the locale flag (?L) is not supported");
        default:
          throw this.error(`unknown flag "${c}"`);
      }
    }
  }

  parseAlt(): Node {
    const branches: Node[] = [this.parseSeq()];
    while (this.src[this.pos] === "|") {
      this.pos++;
      branches.push(this.parseSeq());
    }
    return branches.length === 1 ? branches[0]! : { t: "alt", branches };
  }

  skipVerbose(): void {
    if (!this.flags.x) return;
    for (;;) {
      const c = this.src[this.pos];
      if (c === undefined) return;
      if (/\s/.test(c)) this.pos++;
      else if (c === "#") {
        while (this.pos < this.src.length && this.src[this.pos] !== "\n") this.pos++;
      } else return;
    }
  }

  parseSeq(): Node {
    const items: Node[] = [];
    for (;;) {
      this.skipVerbose();
      const c = this.src[this.pos];
      if (c === undefined || c === "|" || c === ")") break;
      const start = this.pos;
      let atom = this.parseAtom();
      if (atom === null) continue; // comment or flag-only construct
      this.skipVerbose();
      const q = this.parseQuantifier();
      if (q) {
        if (atom.t === "raw" && atom.assert) {
          throw this.error("nothing to repeat", start);
        }
        atom = { t: "quant", body: atom, ...q };
        this.skipVerbose();
        if (this.src[this.pos] === "+") {
          throw this.error("possessive quantifiers are not supported");
        }
        const nx = this.src[this.pos];
        if ((nx !== undefined && "*?".includes(nx)) || this.isBraceQuant()) {
          throw this.error("multiple repeat");
        }
      }
      items.push(atom);
    }
    return { t: "seq", items };
  }

  isBraceQuant(): boolean {
    return /^\{(\d*)(,(\d*))?\}/.test(this.src.slice(this.pos)) &&
      !/^\{,?\}/.test(this.src.slice(this.pos));
  }

  parseQuantifier(): { min: number; max: number; lazy: boolean; text: string } | null {
    const c = this.src[this.pos];
    let min: number, max: number, text: string;
    if (c === "*") [min, max, text] = [0, Infinity, "*"];
    else if (c === "+") [min, max, text] = [1, Infinity, "+"];
    else if (c === "?") [min, max, text] = [0, 1, "?"];
    else if (c === "{") {
      const m = /^\{(\d*)(?:(,)(\d*))?\}/.exec(this.src.slice(this.pos));
      if (!m || (m[1] === "" && (m[2] === undefined || m[3] === ""))) {
        if (m && m[1] === "" && m[2] !== undefined && m[3] === "") {
          // Python: "{,}" is {0,} (0 to unbounded)
          [min, max, text] = [0, Infinity, "*"];
          this.pos += m[0].length - 1;
        } else return null;
      } else {
        min = m[1] === "" ? 0 : Number(m[1]);
        max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
        if (max < min) throw this.error("min repeat greater than max repeat");
        text = max === Infinity ? `{${min},}` : min === max ? `{${min}}` : `{${min},${max}}`;
        this.pos += m[0].length - 1;
      }
    } else return null;
    this.pos++;
    let lazy = false;
    if (this.src[this.pos] === "?") {
      lazy = true;
      this.pos++;
    }
    return { min: min!, max: max!, lazy, text: text! + (lazy ? "?" : "") };
  }

  parseAtom(): Node | null {
    const c = this.src[this.pos]!;
    if (c === "(") return this.parseGroup();
    if (c === "[") return { t: "raw", js: this.parseClass(), ci: this.flags.i || this.globalI };
    if (c === "\\") return this.parseEscape();
    this.pos++;
    switch (c) {
      case ".":
        return { t: "raw", js: this.flags.s ? "[\\s\\S]" : "[^\\n]" };
      case "^":
        return { t: "raw", js: this.flags.m ? "(?<![^\\n])" : "^", assert: true };
      case "$":
        return { t: "raw", js: this.flags.m ? "(?![^\\n])" : "(?=\\n?$)", assert: true };
      case "*":
      case "+":
      case "?":
        throw this.error("nothing to repeat", this.pos - 1);
      case "{":
        this.pos--;
        if (this.isBraceQuant()) throw this.error("nothing to repeat");
        this.pos++;
        return { t: "raw", js: "\\{" };
    }
    this.pos--;
    const cp = this.src.codePointAt(this.pos)!;
    this.pos += cp > 0xffff ? 2 : 1;
    return this.literal(cp);
  }

  literal(cp: number): Node {
    const js = litChar(cp, false);
    return this.flags.i || this.globalI
      ? { t: "raw", js, ci: true }
      : { t: "raw", js, lit: String.fromCodePoint(cp) };
  }

  classFor(letter: string, inClass: boolean): string | null {
    const a = this.flags.a;
    const word = a ? ASCII_WORD : PY_WORD;
    const space = a ? ASCII_SPACE : PY_SPACE;
    const digit = a ? "0-9" : "\\p{Nd}";
    switch (letter) {
      case "d":
        return inClass ? digit : `[${digit}]`;
      case "D":
        if (inClass && !this.sets) throw new NeedSets();
        return `[^${digit}]`;
      case "w":
        return inClass ? word : `[${word}]`;
      case "W":
        if (inClass && !this.sets) throw new NeedSets();
        return `[^${word}]`;
      case "s":
        return inClass ? space : `[${space}]`;
      case "S":
        if (inClass && !this.sets) throw new NeedSets();
        return `[^${space}]`;
    }
    return null;
  }

  /** Parses an escape valid both in and out of classes into a code point, or null. */
  escapeCodePoint(inClass: boolean): number | null {
    const s = this.src;
    const c = s[this.pos + 1];
    if (c === undefined) throw this.error("bad escape (end of pattern)");
    if (c in SIMPLE_ESCAPES) {
      this.pos += 2;
      return SIMPLE_ESCAPES[c]!;
    }
    if (inClass && c === "b") {
      this.pos += 2;
      return 8;
    }
    let m: RegExpExecArray | null;
    const rest = s.slice(this.pos + 1);
    if (c === "x") {
      if (!(m = /^x([0-9a-fA-F]{2})/.exec(rest))) throw this.error("incomplete escape \\x");
      this.pos += 1 + m[0].length;
      return parseInt(m[1]!, 16);
    }
    if (c === "u") {
      if (!(m = /^u([0-9a-fA-F]{4})/.exec(rest))) throw this.error("incomplete escape \\u");
      this.pos += 1 + m[0].length;
      return parseInt(m[1]!, 16);
    }
    if (c === "U") {
      if (!(m = /^U([0-9a-fA-F]{8})/.exec(rest))) throw this.error("incomplete escape \\U");
      const cp = parseInt(m[1]!, 16);
      if (cp > 0x10ffff) throw this.error("bad escape \\U");
      this.pos += 1 + m[0].length;
      return cp;
    }
    if (c === "N") throw this.error("named Unicode escapes \\N{…} are not supported");
    if (c === "0" || (inClass && /[1-7]/.test(c))) {
      m = /^[0-7]{1,3}/.exec(rest)!;
      this.pos += 1 + m[0].length;
      return parseInt(m[0], 8);
    }
    if (/[1-7]/.test(c) && (m = /^[0-7]{3}/.exec(rest))) {
      const v = parseInt(m[0], 8);
      if (v > 0o377) throw this.error("octal escape value outside of range 0-0o377");
      this.pos += 4;
      return v;
    }
    if (/[A-Za-z0-9]/.test(c)) return null;
    const cp = s.codePointAt(this.pos + 1)!;
    this.pos += 1 + (cp > 0xffff ? 2 : 1);
    return cp;
  }

  parseEscape(): Node {
    const s = this.src;
    const c = s[this.pos + 1];
    if (c !== undefined) {
      const cls = this.classFor(c, false);
      if (cls) {
        this.pos += 2;
        return { t: "raw", js: cls };
      }
      const word = this.flags.a ? ASCII_WORD : PY_WORD;
      switch (c) {
        case "A":
          this.pos += 2;
          return { t: "raw", js: "(?<![\\s\\S])", assert: true };
        case "Z":
          this.pos += 2;
          return { t: "raw", js: "(?![\\s\\S])", assert: true };
        case "b":
          this.pos += 2;
          return {
            t: "raw",
            assert: true,
            js: this.flags.a
              ? "\\b"
              : `(?:(?<=[${word}])(?![${word}])|(?<![${word}])(?=[${word}]))`,
          };
        case "B":
          this.pos += 2;
          return {
            t: "raw",
            assert: true,
            js: this.flags.a
              ? "\\B"
              : `(?:(?<=[${word}])(?=[${word}])|(?<![${word}])(?![${word}]))`,
          };
      }
      if (/[1-9]/.test(c)) {
        const m = /^[0-9]{1,2}/.exec(s.slice(this.pos + 1))!;
        if (!(/[1-7]/.test(c) && /^[0-7]{3}/.test(s.slice(this.pos + 1)))) {
          const ref = Number(m[0]);
          if (ref > this.groupCount) throw this.error(`invalid group reference ${ref}`);
          this.pos += 1 + m[0].length;
          this.referenced.add(ref);
          return { t: "backref", ref };
        }
      }
    }
    const start = this.pos;
    const cp = this.escapeCodePoint(false);
    if (cp === null) throw this.error(`bad escape \\${c}`, start);
    return this.literal(cp);
  }

  parseClass(): string {
    const s = this.src;
    const start = this.pos;
    this.pos++;
    let neg = false;
    if (s[this.pos] === "^") {
      neg = true;
      this.pos++;
    }
    const parts: string[] = [];
    let first = true;
    for (;;) {
      if (this.pos >= s.length) throw this.error("unterminated character set", start);
      const c = s[this.pos]!;
      if (c === "]" && !first) {
        this.pos++;
        break;
      }
      first = false;
      // One class item: a code point or a class escape.
      let lo: number | null;
      if (c === "\\") {
        const e = s[this.pos + 1];
        const cls = e === undefined ? null : this.classFor(e, true);
        if (cls) {
          this.pos += 2;
          parts.push(cls);
          if (s[this.pos] === "-" && s[this.pos + 1] !== "]" && s[this.pos + 1] !== undefined) {
            throw this.error(`bad character range \\${e}-${s[this.pos + 1]}`);
          }
          continue;
        }
        const at = this.pos;
        lo = this.escapeCodePoint(true);
        if (lo === null) throw this.error(`bad escape \\${e}`, at);
      } else {
        lo = s.codePointAt(this.pos)!;
        this.pos += lo > 0xffff ? 2 : 1;
      }
      if (s[this.pos] === "-" && s[this.pos + 1] !== "]" && s[this.pos + 1] !== undefined) {
        this.pos++;
        let hi: number | null;
        if (s[this.pos] === "\\") {
          const e = s[this.pos + 1];
          if (e !== undefined && this.classFor(e, true)) {
            throw this.error(`bad character range ${String.fromCodePoint(lo)}-\\${e}`);
          }
          const at = this.pos;
          hi = this.escapeCodePoint(true);
          if (hi === null) throw this.error(`bad escape \\${e}`, at);
        } else {
          hi = s.codePointAt(this.pos)!;
          this.pos += hi > 0xffff ? 2 : 1;
        }
        if (hi < lo) throw this.error("bad character range", start);
        parts.push(`${litChar(lo, true)}-${litChar(hi, true)}`);
      } else {
        parts.push(litChar(lo, true));
      }
    }
    return `[${neg ? "^" : ""}${parts.join("")}]`;
  }

  parseGroup(): Node | null {
    const s = this.src;
    const start = this.pos;
    this.pos++;
    if (s[this.pos] !== "?") {
      const num = ++this.groupCount;
      const body = this.parseAlt();
      this.expect(")", start);
      return { t: "group", kind: "cap", name: null, num, prefix: "", body };
    }
    const rest = s.slice(this.pos);
    let m: RegExpExecArray | null;
    if ((m = /^\?P<([^>]*)>/.exec(rest))) {
      const name = m[1]!;
      if (!/^[\p{L}\p{Nl}_][\p{L}\p{N}\p{Mn}\p{Mc}\p{Pc}]*$/u.test(name)) {
        throw this.error(`bad character in group name "${name}"`);
      }
      if (this.names.has(name)) throw this.error(`redefinition of group name "${name}"`);
      const num = ++this.groupCount;
      this.names.set(name, num);
      this.pos += m[0].length;
      const body = this.parseAlt();
      this.expect(")", start);
      return { t: "group", kind: "cap", name, num, prefix: "", body };
    }
    if ((m = /^\?P=([^)]*)\)/.exec(rest))) {
      const ref = this.names.get(m[1]!);
      if (ref === undefined) throw this.error(`unknown group name "${m[1]}"`);
      this.pos += m[0].length;
      this.referenced.add(ref);
      return { t: "backref", ref };
    }
    if (rest.startsWith("?#")) {
      const end = s.indexOf(")", this.pos);
      if (end < 0) throw this.error("missing ), unterminated comment", start);
      this.pos = end + 1;
      return null;
    }
    for (const p of ["?:", "?=", "?!", "?<=", "?<!"]) {
      if (rest.startsWith(p)) {
        this.pos += p.length;
        const body = this.parseAlt();
        this.expect(")", start);
        return {
          t: "group",
          kind: p === "?:" ? "noncap" : "look",
          name: null,
          num: 0,
          prefix: p,
          body,
        };
      }
    }
    if ((m = /^\?\(([^)]*)\)/.exec(rest))) {
      const refText = m[1]!;
      let ref: number;
      if (/^\d+$/.test(refText)) {
        ref = Number(refText);
        if (ref < 1 || ref > this.groupCount) throw this.error(`invalid group reference ${ref}`);
      } else {
        const r = this.names.get(refText);
        if (r === undefined) throw this.error(`unknown group name "${refText}"`);
        ref = r;
      }
      this.pos += m[0].length;
      const yes = this.parseSeq();
      let no: Node = { t: "seq", items: [] };
      if (s[this.pos] === "|") {
        this.pos++;
        no = this.parseSeq();
        if (s[this.pos] === "|") {
          throw this.error("conditional backref with more than two branches");
        }
      }
      this.expect(")", start);
      return { t: "cond", ref, yes, no, id: ++this.condCount };
    }
    if ((m = /^\?([aiLmsux]*)(?:-([imsx]*))?(:|\))/.exec(rest))) {
      const on = m[1]!;
      const off = m[2] ?? "";
      if (m[3] === ")") {
        throw this.error("global flags not at the start of the expression");
      }
      if (!on && !off) throw this.error("missing flag");
      this.pos += m[0].length;
      const saved = this.flags;
      this.flags = { ...saved };
      this.applyFlags(on, true, this.flags);
      this.applyFlags(off, false, this.flags);
      const body = this.parseAlt();
      const iChanged = this.flags.i !== saved.i;
      const iOn = this.flags.i;
      this.flags = saved;
      this.expect(")", start);
      if (!iChanged) return { t: "group", kind: "noncap", name: null, num: 0, prefix: "?:", body };
      return {
        t: "group",
        kind: "mod",
        name: null,
        num: 0,
        prefix: iOn ? "?i:" : "?-i:",
        body,
      };
    }
    if (rest.startsWith("?>")) throw this.error("atomic groups are not supported");
    if (rest.startsWith("?<")) throw this.error("unknown extension ?<");
    throw this.error(`unknown extension ${rest.slice(0, 2)}`);
  }

  expect(ch: string, start: number): void {
    if (this.src[this.pos] !== ch) throw this.error("missing ), unterminated subpattern", start);
    this.pos++;
  }
}

// ---- conditional expansion -------------------------------------------------

function containsGroup(n: Node, num: number): boolean {
  switch (n.t) {
    case "seq":
      return n.items.some((x) => containsGroup(x, num));
    case "alt":
      return n.branches.some((x) => containsGroup(x, num));
    case "group":
      return (n.kind === "cap" && n.num === num) || containsGroup(n.body, num);
    case "quant":
      return containsGroup(n.body, num);
    case "cond":
      return containsGroup(n.yes, num) || containsGroup(n.no, num);
    default:
      return false;
  }
}

function containsCond(n: Node, id: number): boolean {
  switch (n.t) {
    case "seq":
      return n.items.some((x) => containsCond(x, id));
    case "alt":
      return n.branches.some((x) => containsCond(x, id));
    case "group":
    case "quant":
      return containsCond(n.body, id);
    case "cond":
      return n.id === id || containsCond(n.yes, id) || containsCond(n.no, id);
    default:
      return false;
  }
}

function firstCond(n: Node): { t: "cond"; ref: number; yes: Node; no: Node; id: number } | null {
  switch (n.t) {
    case "seq":
      for (const x of n.items) {
        const c = firstCond(x);
        if (c) return c;
      }
      return null;
    case "alt":
      for (const x of n.branches) {
        const c = firstCond(x);
        if (c) return c;
      }
      return null;
    case "group":
    case "quant":
      return firstCond(n.body);
    case "cond":
      return n;
    default:
      return null;
  }
}

type Variant = { node: Node; took: boolean };

/** Splits `n` into alternatives (in backtracking order) in which group `num` surely did / did not take part. */
function variants(n: Node, num: number, fail: (m: string) => never): Variant[] {
  if (!containsGroup(n, num)) return [{ node: n, took: false }];
  switch (n.t) {
    case "group": {
      if (n.kind === "cap" && n.num === num) return [{ node: n, took: true }];
      if (n.kind === "look") fail("a conditional refers to a group inside a lookaround");
      return variants(n.body, num, fail).map((v) => ({
        node: { ...n, body: v.node },
        took: v.took,
      }));
    }
    case "seq": {
      const i = n.items.findIndex((x) => containsGroup(x, num));
      return variants(n.items[i]!, num, fail).map((v) => ({
        node: { t: "seq", items: [...n.items.slice(0, i), v.node, ...n.items.slice(i + 1)] },
        took: v.took,
      }));
    }
    case "alt":
      return n.branches.flatMap((b) => variants(b, num, fail));
    case "quant": {
      if (n.min === 0 && n.max === 1) {
        const empty: Variant = { node: { t: "seq", items: [] }, took: false };
        const vs = variants(n.body, num, fail);
        return n.lazy ? [empty, ...vs] : [...vs, empty];
      }
      if (n.min === 1 && n.max === 1) return variants(n.body, num, fail);
      return fail("a conditional refers to a group inside a repeat");
    }
    case "cond":
      return fail("a conditional refers to a group inside another conditional");
    default:
      return [{ node: n, took: false }];
  }
}

/** Replaces conditional `id` by its yes/no branch. */
function resolveCond(n: Node, id: number, took: boolean): Node {
  switch (n.t) {
    case "seq":
      return { t: "seq", items: n.items.map((x) => resolveCond(x, id, took)) };
    case "alt":
      return { t: "alt", branches: n.branches.map((x) => resolveCond(x, id, took)) };
    case "group":
      return { ...n, body: resolveCond(n.body, id, took) };
    case "quant":
      return { ...n, body: resolveCond(n.body, id, took) };
    case "cond":
      if (n.id === id) {
        // Wrap so that a branch with alternation stays one unit.
        return {
          t: "group",
          kind: "noncap",
          name: null,
          num: 0,
          prefix: "?:",
          body: took ? n.yes : n.no,
        };
      }
      return { ...n, yes: resolveCond(n.yes, id, took), no: resolveCond(n.no, id, took) };
    default:
      return n;
  }
}

/** Expands conditional `c` inside the tree `n`; returns the new tree, or null if `c` is not under `n`. */
function expandCond(
  n: Node,
  c: { ref: number; id: number },
  fail: (m: string) => never,
): Node {
  switch (n.t) {
    case "seq": {
      const j = n.items.findIndex((x) => containsCond(x, c.id));
      const i = n.items.findIndex((x) => containsGroup(x, c.ref));
      if (i === j) {
        // Both in the same item: descend.
        return { t: "seq", items: n.items.map((x, k) => (k === j ? expandCond(x, c, fail) : x)) };
      }
      if (i < 0 || i > j) {
        // The group cannot have taken part before the conditional here.
        return {
          t: "seq",
          items: n.items.map((x, k) => (k === j ? resolveCond(x, c.id, false) : x)),
        };
      }
      const vs = variants(n.items[i]!, c.ref, fail);
      const rest = n.items.slice(i + 1);
      const branches: Node[] = vs.map((v) => ({
        t: "seq",
        items: [v.node, ...rest.map((x) => resolveCond(x, c.id, v.took))],
      }));
      return {
        t: "seq",
        items: [
          ...n.items.slice(0, i),
          {
            t: "group",
            kind: "noncap",
            name: null,
            num: 0,
            prefix: "?:",
            body: { t: "alt", branches },
          },
        ],
      };
    }
    case "alt":
      return {
        t: "alt",
        branches: n.branches.map((b) => (containsCond(b, c.id) ? expandCond(b, c, fail) : b)),
      };
    case "group":
      if (containsGroup(n, c.ref) && n.kind === "cap" && n.num === c.ref) {
        return fail("a conditional inside the group it refers to");
      }
      return { ...n, body: expandCond(n.body, c, fail) };
    case "quant":
      if (containsGroup(n.body, c.ref)) return fail("a conditional and its group inside a repeat");
      return { ...n, body: expandCond(n.body, c, fail) };
    case "cond":
      return fail("nested conditionals are not supported");
    default:
      return n;
  }
}

// ---- required literal ----------------------------------------------------

/** The longest run of literal text every match of `n` must contain, or "". */
function requiredLiteral(n: Node): string {
  let best = "";
  for (const run of requiredRuns(n)) if (run.length > best.length) best = run;
  return best;
}

/** Runs of literal text every match of `n` must contain (not looking into alternations). */
function requiredRuns(n: Node): string[] {
  const runs: string[] = [];
  const walk = (seq: Node) => {
    let run = "";
    const items = seq.t === "seq" ? seq.items : [seq];
    for (const x of items) {
      if (x.t === "raw" && x.lit !== undefined) {
        run += x.lit;
        continue;
      }
      if (run !== "") runs.push(run);
      run = "";
      if (x.t === "group" && (x.kind === "cap" || x.kind === "noncap")) walk(x.body);
      else if (x.t === "quant" && x.min >= 1) walk(x.body);
    }
    if (run !== "") runs.push(run);
  };
  walk(n);
  return runs;
}

/** Most strings in a set of alternatives worth keeping. */
const MAX_ANY = 16;

/** The finite set of texts `n` matches, when it is a small one made of literals; else null. */
function exactSet(n: Node): string[] | null {
  switch (n.t) {
    case "raw":
      return n.lit !== undefined ? [n.lit] : null;
    case "seq": {
      let cur = [""];
      for (const x of n.items) {
        const s = exactSet(x);
        if (s === null) return null;
        cur = cross(cur, s);
        if (cur.length > MAX_ANY) return null;
      }
      return cur;
    }
    case "alt": {
      const out: string[] = [];
      for (const b of n.branches) {
        const s = exactSet(b);
        if (s === null) return null;
        out.push(...s);
      }
      return out.length > MAX_ANY ? null : out;
    }
    case "group":
      return n.kind === "cap" || n.kind === "noncap" ? exactSet(n.body) : null;
    default:
      return null;
  }
}

function cross(a: string[], b: string[]): string[] {
  const out: string[] = [];
  for (const x of a) for (const y of b) out.push(x + y);
  return out;
}

/** Better set of alternatives: longer shortest text, then fewer texts. */
function betterAny(a: string[], b: string[] | null): boolean {
  if (b === null) return true;
  const la = Math.min(...a.map((x) => x.length)), lb = Math.min(...b.map((x) => x.length));
  return la !== lb ? la > lb : a.length < b.length;
}

/** Texts of which every match of `n` contains one, or null when nothing is known. */
function requiredAny(n: Node): string[] | null {
  let best: string[] | null = null;
  const consider = (s: string[] | null) => {
    if (s !== null && s.length > 0 && s.every((x) => x !== "") && betterAny(s, best)) best = s;
  };
  switch (n.t) {
    case "raw":
      return n.lit !== undefined ? [n.lit] : null;
    case "seq": {
      // runs of items with a finite literal language, expanded (`(?:a|b)c` needs "ac" or "bc")
      let cur: string[] | null = null;
      for (const x of n.items) {
        const s = exactSet(x);
        if (s !== null) {
          const next: string[] = cur === null ? s : cross(cur, s);
          if (next.length <= MAX_ANY) {
            cur = next;
            continue;
          }
          consider(cur);
          cur = s;
          continue;
        }
        consider(cur);
        cur = null;
        consider(requiredAny(x));
      }
      consider(cur);
      return best;
    }
    case "alt": {
      const out: string[] = [];
      for (const b of n.branches) {
        const s = requiredAny(b);
        if (s === null) return null;
        out.push(...s);
      }
      return out.length > MAX_ANY ? null : out;
    }
    case "group":
      return n.kind === "cap" || n.kind === "noncap" ? requiredAny(n.body) : null;
    case "quant":
      return n.min >= 1 ? requiredAny(n.body) : null;
    default:
      return null;
  }
}

// ---- pruning alternatives by absent text ----------------------------------

/** Most guard literals per regex (each costs an `indexOf` per buffer). */
const MAX_GUARDS = 2;

/**
 * Guard literals: for alternatives of an alternation that need some text
 * their siblings do not all need, that text. A branch whose guard is absent
 * from the input can match nowhere in it, so dropping it leaves the search
 * (order of attempts, result, groups) as it was, only without the dead
 * attempts: fail2ban's sshd `Failed …` regex spends most of its time
 * backtracking through branches that need `": "`.
 */
function guardLiterals(tree: Node): string[] {
  const uses = new Map<string, number>();
  const visit = (n: Node): void => {
    switch (n.t) {
      case "seq":
        n.items.forEach(visit);
        return;
      case "alt": {
        const runs = n.branches.map((b) => new Set(requiredRuns(b)));
        runs.forEach((own, i) => {
          let best = "";
          for (const r of own) {
            if (r.length < 2 || r.length <= best.length) continue;
            if (runs.every((other, j) => j === i || !other.has(r))) best = r;
          }
          // weighed by the size of the branch it removes: a big branch is a long dead search
          if (best !== "") uses.set(best, (uses.get(best) ?? 0) + treeSize(n.branches[i]!));
        });
        n.branches.forEach(visit);
        return;
      }
      case "group":
      case "quant":
        visit(n.body);
        return;
      default:
        return;
    }
  };
  visit(tree);
  return [...uses].sort((a, b) => b[1] - a[1] || b[0].length - a[0].length)
    .slice(0, MAX_GUARDS).map(([lit]) => lit);
}

function treeSize(n: Node): number {
  switch (n.t) {
    case "seq":
      return n.items.reduce((a, x) => a + treeSize(x), 1);
    case "alt":
      return n.branches.reduce((a, x) => a + treeSize(x), 1);
    case "group":
    case "quant":
      return 1 + treeSize(n.body);
    default:
      return 1;
  }
}

/** The tree without the alternatives that need an absent guard (an alternation keeps at least one). */
function pruneAbsent(n: Node, absent: string[]): Node {
  switch (n.t) {
    case "seq":
      return { t: "seq", items: n.items.map((x) => pruneAbsent(x, absent)) };
    case "alt": {
      const kept = n.branches.filter((b) => {
        const runs = requiredRuns(b);
        return !absent.some((lit) => runs.includes(lit));
      });
      const branches = (kept.length > 0 ? kept : n.branches).map((b) => pruneAbsent(b, absent));
      return branches.length === 1 ? branches[0]! : { t: "alt", branches };
    }
    case "group":
      return { ...n, body: pruneAbsent(n.body, absent) };
    case "quant":
      return { ...n, body: pruneAbsent(n.body, absent) };
    default:
      return n;
  }
}

// ---- printing -------------------------------------------------------------

function jsName(py: string, renamed: Record<string, string>): string {
  if (/^[A-Za-z_$][\w$]*$/.test(py)) return py;
  let out = "";
  for (const ch of py) out += /[\w$]/.test(ch) ? ch : `$${ch.codePointAt(0)!.toString(16)}$`;
  if (!/^[A-Za-z_$]/.test(out)) out = "$" + out;
  renamed[out] = py;
  return out;
}

/**
 * Prints the tree as JavaScript. With `numbered`, named groups print as plain
 * groups and `numbered` is told each one's name as its number comes up.
 */
function print(
  n: Node,
  nameOf: (num: number) => string | null,
  numbered?: (name: string) => void,
): string {
  switch (n.t) {
    case "seq":
      return n.items.map((x) => print(x, nameOf, numbered)).join("");
    case "alt":
      return n.branches.map((x) => print(x, nameOf, numbered)).join("|");
    case "raw":
      return n.js;
    case "group": {
      if (n.kind === "cap") {
        const name = nameOf(n.num);
        // numbered by their opening parenthesis: this group before those in its body
        if (name && numbered) numbered(name);
        const body = print(n.body, nameOf, numbered);
        if (name && numbered) return `(${body})`;
        // Unnamed groups capture nothing fail2ban reads: keep them non-capturing (cheaper).
        return name ? `(?<${name}>${body})` : `(?:${body})`;
      }
      return `(${n.prefix}${print(n.body, nameOf, numbered)})`;
    }
    case "quant": {
      let body = print(n.body, nameOf, numbered);
      if (!(n.body.t === "group" || (n.body.t === "raw" && isSingleAtom(n.body.js)))) {
        body = `(?:${body})`;
      }
      return body + n.text;
    }
    case "backref":
      return `\\k<${nameOf(n.ref)}>`;
    case "cond":
      throw new Error("unexpanded conditional");
  }
}

function isSingleAtom(js: string): boolean {
  return /^(\\u\{[0-9a-f]+\}|\\.|[^\\]|\[(?:\\.|[^\]\\])*\]|\\[pP]\{\w+\})$/su.test(js) &&
    !js.startsWith("(");
}

/**
 * Translates a Python `re` pattern into an equivalent JavaScript pattern.
 *
 * @param pattern the Python pattern (fail2ban tags already expanded)
 * @param origin where the pattern comes from, for error messages (file, option, line)
 * @throws {SyntaxError} when the pattern is invalid or cannot be translated exactly
 *
 * @example
 * ```ts
 * import { translatePythonRegex } from "./python_regex.ts";
 * const { source, flags } = translatePythonRegex("(?i)user (?P<user>\\S+)$");
 * const m = new RegExp(source, flags).exec("USER bob");
 * console.log(m?.groups?.user); // "bob"
 * ```
 */
export function translatePythonRegex(
  pattern: string,
  origin = "",
  options: TranslateOptions = {},
): TranslatedRegex {
  try {
    return translate(pattern, origin, options, false);
  } catch (e) {
    if (!(e instanceof NeedSets)) throw e;
    return translate(pattern, origin, options, true);
  }
}

function translate(
  pattern: string,
  origin: string,
  options: TranslateOptions,
  sets: boolean,
): TranslatedRegex {
  CLASS_ESCAPE = sets ? CLASS_ESCAPE_V : CLASS_ESCAPE_U;
  const p = new Parser(pattern, origin, options, sets);
  p.parseGlobalFlags();
  let tree = p.parseAlt();
  if (p.pos < pattern.length) {
    throw p.error(pattern[p.pos] === ")" ? "unbalanced parenthesis" : "unexpected character");
  }
  const fail = (m: string): never => {
    throw p.error(m, 0);
  };
  for (let c = firstCond(tree); c; c = firstCond(tree)) tree = expandCond(tree, c, fail);
  const renamed: Record<string, string> = {};
  const byNum = new Map<number, string>();
  for (const [py, num] of p.names) {
    // a named group nobody reads is printed non-capturing (cheaper to match, no substring)
    if (options.keepGroup && !options.keepGroup(py) && !p.referenced.has(num)) continue;
    byNum.set(num, jsName(py, renamed));
  }
  const synthetic: string[] = [];
  for (const num of p.referenced) {
    if (!byNum.has(num)) {
      byNum.set(num, `$${num}`);
      synthetic.push(`$${num}`);
    }
  }
  const source = print(tree, (num) => byNum.get(num) ?? null);
  const mode = sets ? "v" : "u";
  const flags = (p.globalI ? "i" : "") + mode;
  try {
    new RegExp(source, flags);
  } catch (e) {
    throw p.error(
      `the translation "${source}" is not valid JavaScript (${(e as Error).message})`,
      0,
    );
  }
  let firstChars: FirstChars | null = null;
  if (anchored(tree)) {
    const f = firstSet(tree, mode);
    if (!f.nullable) firstChars = { ascii: f.ascii, nonAscii: f.nonAscii };
  }
  const printNumbered = (t: Node): NumberedRegex | null => {
    const groups: Record<string, number[]> = {};
    let count = 0;
    const src = print(t, (num) => byNum.get(num) ?? null, (name) => {
      (groups[name] ??= []).push(++count);
    });
    // the group count V8 sees must be ours, or the numbers would be off
    return countCaptures(src) === count ? { source: src, groups } : null;
  };
  const numbered = p.referenced.size === 0 ? printNumbered(tree) : null;
  const guards = numbered === null ? [] : guardLiterals(tree);
  const full = tree;
  const pruned = guards.length === 0 ? null : (absent: number): NumberedRegex => {
    const lits = guards.filter((_, i) => (absent & (1 << i)) !== 0);
    return printNumbered(pruneAbsent(full, lits)) ?? numbered!;
  };
  return {
    source,
    flags,
    renamed,
    synthetic,
    required: requiredLiteral(tree),
    requiredAny: requiredAny(tree) ?? [],
    firstChars,
    numbered,
    guards,
    pruned,
  };
}

/** Capturing groups in a JavaScript pattern: `(` not escaped, not in a class, not `(?`. */
function countCaptures(src: string): number {
  let n = 0;
  let inClass = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src.charCodeAt(i);
    if (c === 92) i++; // backslash: skip the escaped character
    else if (c === 91) inClass++; // [ (v-mode classes nest)
    else if (c === 93 && inClass > 0) inClass--;
    else if (c === 40 && inClass === 0 && src.charCodeAt(i + 1) !== 63) n++;
  }
  return n;
}

// ---- first characters of anchored patterns ---------------------------------

/** The characters a match can start with (for patterns anchored at the input start). */
export interface FirstChars {
  /** 1 at each ASCII code a match may start with. */
  ascii: Uint8Array;
  /** Whether a match may start with a non-ASCII character. */
  nonAscii: boolean;
}

interface First {
  ascii: Uint8Array;
  nonAscii: boolean;
  nullable: boolean;
}

function anchored(n: Node): boolean {
  switch (n.t) {
    case "seq":
      return n.items.length > 0 && anchored(n.items[0]!);
    case "alt":
      return n.branches.every(anchored);
    case "group":
      return n.kind !== "look" && anchored(n.body);
    case "raw":
      return n.js === "^";
    default:
      return false;
  }
}

function anyFirst(nullable: boolean): First {
  return { ascii: new Uint8Array(128).fill(1), nonAscii: true, nullable };
}

function firstSet(n: Node, mode: string): First {
  switch (n.t) {
    case "raw": {
      if (n.assert) return { ascii: new Uint8Array(128), nonAscii: false, nullable: true };
      const re = new RegExp(`^(?:${n.js})`, (n.ci ? "i" : "") + mode);
      const ascii = new Uint8Array(128);
      for (let c = 0; c < 128; c++) if (re.test(String.fromCharCode(c))) ascii[c] = 1;
      // Non-ASCII: assume possible unless the atom is a plain ASCII literal.
      const nonAscii = !(n.lit !== undefined && n.lit.charCodeAt(0) < 128);
      return { ascii, nonAscii, nullable: false };
    }
    case "seq": {
      const out: First = { ascii: new Uint8Array(128), nonAscii: false, nullable: true };
      for (const x of n.items) {
        const f = firstSet(x, mode);
        for (let c = 0; c < 128; c++) out.ascii[c]! |= f.ascii[c]!;
        out.nonAscii ||= f.nonAscii;
        if (!f.nullable) {
          out.nullable = false;
          break;
        }
      }
      return out;
    }
    case "alt": {
      const out: First = { ascii: new Uint8Array(128), nonAscii: false, nullable: false };
      for (const b of n.branches) {
        const f = firstSet(b, mode);
        for (let c = 0; c < 128; c++) out.ascii[c]! |= f.ascii[c]!;
        out.nonAscii ||= f.nonAscii;
        out.nullable ||= f.nullable;
      }
      return out;
    }
    case "group":
      if (n.kind === "look") return { ascii: new Uint8Array(128), nonAscii: false, nullable: true };
      return firstSet(n.body, mode);
    case "quant": {
      const f = firstSet(n.body, mode);
      if (n.min === 0) f.nullable = true;
      return f;
    }
    default:
      return anyFirst(true);
  }
}
