/**
 * The filter engine: a fail2ban filter (prefregex, failregex, ignoreregex,
 * maxlines, date detection) applied to log lines one at a time, with
 * fail2ban's multi-line buffer and multi-line failure ids (`<F-MLFID>`).
 *
 * @module
 */

import { boundedRegExp, ranIntoLimit } from "./bounded_regex.ts";
import type { FilterSpec, RegexSource } from "../config/types.ts";
import { expandTags, FAILURE_ID_PRESENT, localizeFlags } from "./filter_tags.ts";
import { type NumberedRegex, translatePythonRegex } from "./python_regex.ts";
import type { DateMatch, FailureMatch, GaveUpRegex, LineResult } from "./types.ts";

/** What the filter needs from a date detector. */
export interface DateDetectorLike {
  /** Finds the date in `line`; `now` (epoch seconds) completes year-less dates. */
  match(line: string, now: number): DateMatch | null;
  /** The detector's state as text (see `DateDetector.stateFingerprint`), when it keeps one. */
  stateFingerprint?(): string;
}

/** Options of {@link Filter}. */
export interface FilterOptions {
  /** Finds each line's date; null when lines carry none (journal). */
  dateDetector: DateDetectorLike | null;
  /** The jail's `usedns`; with `no`, `<HOST>` matches addresses only. @default "warn" */
  useDns?: string;
  /** Try every failregex on a line instead of stopping at the first match (fail2ban-regex, sample tests). @default false */
  checkAllRegex?: boolean;
  /** Drop failures of lines without a date (fail2ban's start-up read). @default false */
  skipUndated?: boolean;
  /** Report `<F-NOFAIL>` matches and pending multi-line matches as failures too (marked in `data.nofail`). @default false */
  keepNoFail?: boolean;
  /**
   * Fill each failure's `data`, `lines` and `users`. Without them (false), a
   * failure carries its id, host, time, regex index and `data.nofail` only:
   * enough for counting (fail2ban-regex's summary), and faster. @default true
   */
  failureData?: boolean;
}

/** A buffered line: the text regexes see (date cut out) and the original line. */
interface BufLine {
  text: string;
  full: string;
}

interface Compiled {
  re: RegExp;
  required: string;
  /** Possible first characters (ASCII bitmap) of an anchored regex, or null. */
  first: Uint8Array | null;
  firstNonAscii: boolean;
  /** Texts of which every match contains one; empty if unknown. */
  requiredAny: string[];
  /** JS group name → fail2ban name, for every named group kept in the data. */
  names: [string, string][];
  skipLines: string[];
  alt: [string, string][];
  tuple: [string, string][];
  source: RegexSource;
  /**
   * For a regex ending in `<F-CONTENT>.+</F-CONTENT>$`: the same regex with
   * the content group replaced by a one-character lookahead, or null. On a
   * buffer whose only newline is the last character, it matches exactly where
   * the full regex does, and the content is the rest of the buffer minus that
   * newline (V8 walks `.+` a character at a time, so this saves most of it).
   */
  contentTail: RegExp | null;
  /** JS name of the content group that {@link Compiled.contentTail} leaves out. */
  contentJs: string | null;
  /**
   * When `re` has numbered groups: the group numbers of each entry of
   * `names` (and of `skipLines` in `skipIdx`); null when `re` has named groups.
   */
  idx: number[][] | null;
  skipIdx: number[][] | null;
  /** See {@link Variant.build}. */
  build: GroupsBuilder | null;
  /**
   * With {@link FilterOptions.failureData} false: the groups keys kept
   * (`MERGE_KEYS`), in the one order all its builders write them (one object
   * shape for every match, so the code reading them stays monomorphic); else
   * null.
   */
  keys: string[] | null;
  /** Guard literals of the regex (see `TranslatedRegex.guards`). */
  guards: string[];
  /** Pruned variants by the bits of absent guards (at most 2 guards), compiled on first use. */
  pruned: (Variant | undefined)[];
  makePruned: ((absent: number) => NumberedRegex) | null;
}

/** One compiled form of a regex: the full one or one without dead alternatives. */
interface Variant {
  re: RegExp;
  idx: number[][] | null;
  skipIdx: number[][] | null;
  /** Builds `{ ...pre, name: value, … }` from a match of `re` (numbered, no `alt_`/`tuple_` groups), or null. */
  build: GroupsBuilder | null;
}

type GroupsBuilder = (
  m: RegExpExecArray,
  pre: Groups | null,
  content: string | undefined,
) => Groups;

/**
 * A function made for one regex that reads its numbered groups into an
 * object literal with fixed keys: V8 then builds every result with one shape
 * and no per-key lookups (a generic loop over the names is ~3x slower). The
 * source holds only group names, as JSON string literals, and group numbers.
 */
function groupsBuilder(
  names: [string, string][],
  idx: number[][],
  contentJs: string | null,
  keys: string[] | null,
): GroupsBuilder {
  const own = new Map<string, string>();
  names.forEach(([js, py], k) => {
    const read = idx[k]!.length === 0
      ? "undefined"
      : idx[k]!.map((i) => `m[${i | 0}]`).join(" ?? ");
    own.set(py, js === contentJs ? `content !== undefined ? content : ${read}` : read);
  });
  if (keys === null) {
    const fields = [...own].map(([py, value]) => `${JSON.stringify(py)}: ${value}`);
    return new Function(
      "m",
      "pre",
      "content",
      `return { ...pre, ${fields.join(", ")} };`,
    ) as GroupsBuilder;
  }
  // every key of the filter, in one order: one shape for all groups objects
  const fields = keys.map((py) => {
    const key = JSON.stringify(py);
    return `${key}: ${own.get(py) ?? `pre === null ? undefined : pre[${key}]`}`;
  });
  return new Function("m", "pre", "content", `return { ${fields.join(", ")} };`) as GroupsBuilder;
}

function variantOf(c: Compiled, absent: number): Variant {
  let v = c.pruned[absent];
  if (v === undefined) {
    const num = c.makePruned!(absent);
    const idxOf = (js: string) => num.groups[js] ?? [];
    const idx = c.names.map(([js]) => idxOf(js));
    v = {
      re: boundedRegExp(num.source, c.re.flags),
      idx,
      skipIdx: c.skipLines.map(idxOf),
      build: c.build === null ? null : groupsBuilder(c.names, idx, c.contentJs, c.keys),
    };
    c.pruned[absent] = v;
  }
  return v;
}

/** How a translated `<F-CONTENT>.+</F-CONTENT>$` ends (`.` never matches `\n`; `$` allows a final `\n`). */
const CONTENT_TAIL = "(?<content>[^\\n]+)(?=\\n?$)";

type Groups = Record<string, unknown>;

interface MlfEntry {
  key: string;
  hash: number;
  expires: number;
  fail: Groups;
  prev: MlfEntry | null;
  next: MlfEntry | null;
  /** Next entry with the same hash. */
  same: MlfEntry | null;
}

/** Lines after which a filter decides whether its literal prefilter pays (see `Filter.#samplePrefilter`). */
const PREFILTER_SAMPLE = 4096;

/** Most multi-line failure ids kept; the oldest go first. */
const MLF_MAX = 100;

/**
 * FNV-1a of a string's length and last 16 UTF-16 code units (ids such as
 * `host sshd[1234]: ` differ at their end; keys of equal hash are told apart
 * by comparing them).
 */
function hashOf(s: string): number {
  const n = s.length;
  let h = Math.imul(0x811c9dc5 ^ n, 16777619);
  for (let i = n > 16 ? n - 16 : 0; i < n; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h | 0;
}

/**
 * The `<F-MLFID>` cache: entries in insertion order with an expiry, at most
 * {@link MLF_MAX}. Keys are fresh substrings of each line, and V8 hashes a
 * fresh string for a `Map` lookup far slower than a char-code loop does, so
 * the index is keyed by our own hash (collisions chained). The order list is
 * ours too: dropping the oldest entries of a busy `Map` by iterating it gets
 * slower with every delete (V8 keeps deleted slots until it rehashes).
 */
class MlfCache {
  readonly #index = new Map<number, MlfEntry>();
  #size = 0;
  #head: MlfEntry | null = null;
  #tail: MlfEntry | null = null;

  get(key: string, hash: number): MlfEntry | undefined {
    let e = this.#index.get(hash) ?? null;
    while (e !== null && e.key !== key) e = e.same;
    return e ?? undefined;
  }

  /** The entries, oldest first, as text (see `Filter.stateFingerprint`). */
  fingerprint(): string {
    const parts: string[] = [];
    for (let e = this.#head; e !== null; e = e.next) {
      parts.push(e.key, String(e.expires), JSON.stringify(e.fail, keepUndefined));
    }
    return parts.join("\u0001");
  }

  /** Removes an entry that is in the cache. */
  delete(entry: MlfEntry): void {
    const first = this.#index.get(entry.hash)!;
    if (first === entry) {
      if (entry.same === null) this.#index.delete(entry.hash);
      else this.#index.set(entry.hash, entry.same);
    } else {
      let e = first;
      while (e.same !== entry) e = e.same!;
      e.same = entry.same;
    }
    this.#size--;
    if (entry.prev === null) this.#head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === null) this.#tail = entry.prev;
    else entry.next.prev = entry.prev;
    entry.prev = entry.next = entry.same = null;
  }

  /** Adds a new key (not in the cache): when full, drops the oldest until one unexpired entry went. */
  add(key: string, hash: number, fail: Groups, now: number): void {
    if (this.#size >= MLF_MAX) {
      for (let e = this.#head; e !== null;) {
        const next = e.next;
        this.delete(e);
        if (e.expires > now && this.#size < MLF_MAX) break;
        e = next;
      }
    }
    const entry: MlfEntry = {
      key,
      hash,
      expires: now + 300,
      fail,
      prev: this.#tail,
      next: null,
      same: this.#index.get(hash) ?? null,
    };
    if (this.#tail === null) this.#head = entry;
    else this.#tail.next = entry;
    this.#tail = entry;
    this.#index.set(hash, entry);
    this.#size++;
  }
}

/** A JSON replacer that writes undefined values (a key set to undefined is still a key, in order). */
function keepUndefined(_key: string, value: unknown): unknown {
  return value === undefined ? "\u0000undefined" : value;
}

const EMPTY: readonly number[] = [];
const NO_TEXT: string[] = Object.freeze([]) as unknown as string[];
const NO_DATA: Record<string, string> = Object.freeze({}) as Record<string, string>;
const NO_LINES: BufLine[] = [];
/**
 * Keys the multi-line merge and the failure record read or write on groups
 * objects (all that is kept of a match without failure data).
 */
const MERGE_KEYS = [
  "mlfid",
  "content",
  "fid",
  "ip4",
  "ip6",
  "dns",
  "user",
  "users",
  "nofail",
  "mlfforget",
  "mlfgained",
  "mlfpending",
  "matches",
  "nofail-matches",
];
const SKIP_DATA = new Set([
  "matches",
  "nofail-matches",
  "mlfpending",
  "content",
  "mlfid",
  "mlfforget",
  "mlfgained",
  "nofail",
]);

function compile(
  src: RegexSource,
  useDns: string,
  multiline: boolean,
  keepGroup?: (pythonName: string) => boolean,
): Compiled {
  const expanded = localizeFlags(expandTags(src.pattern, useDns));
  if (expanded.trim() === "") {
    throw new SyntaxError(`Cannot compile regex of ${src.origin}: empty regex`);
  }
  const t = translatePythonRegex(expanded, src.origin, { multiline, keepGroup });
  const num = t.numbered;
  const re = boundedRegExp(num?.source ?? t.source, t.flags);
  const names: [string, string][] = [];
  const skipLines: string[] = [];
  const alt: [string, string][] = [];
  const tuple: [string, string][] = [];
  const seen = new Set<string>();
  for (const m of t.source.matchAll(/\(\?<([^>=!]+)>/g)) {
    const js = m[1]!;
    if (seen.has(js) || t.synthetic.includes(js)) continue;
    seen.add(js);
    const py = t.renamed[js] ?? js;
    if (/^skiplines\d+$/.test(py)) {
      skipLines.push(js);
      continue;
    }
    names.push([js, py]);
    const c = /^(alt_|tuple_)(.*?)(?:_\d+)?$/.exec(py);
    if (c && py.length > 4) {
      const target = c[2] === "id" ? "fid" : c[2] === "port" ? "fport" : c[2]!;
      (c[1] === "alt_" ? alt : tuple).push([py, target]);
    }
  }
  skipLines.sort((a, b) => Number(a.slice(9)) - Number(b.slice(9)));
  alt.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  tuple.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let contentTail: RegExp | null = null;
  if (
    !multiline && t.source.endsWith(CONTENT_TAIL) &&
    t.source.indexOf("(?<content>") === t.source.length - CONTENT_TAIL.length &&
    !t.source.includes("\\k<content>")
  ) {
    // numbered: the content group is the last one, and the tail regex simply lacks it
    const tail = num === null ? t.source : num.source;
    const plain = num === null ? CONTENT_TAIL : CONTENT_TAIL.replace("(?<content>", "(");
    if (tail.endsWith(plain)) {
      contentTail = boundedRegExp(tail.slice(0, -plain.length) + "(?=[^\\n])", t.flags);
    }
  }
  const idxOf = (js: string) => num?.groups[js] ?? [];
  const idx = num === null ? null : names.map(([js]) => idxOf(js));
  return {
    re,
    contentTail,
    contentJs: contentTail === null ? null : "content",
    idx,
    skipIdx: num === null ? null : skipLines.map(idxOf),
    // (a "__proto__" key in an object literal would set the prototype instead)
    build: idx === null || alt.length > 0 || tuple.length > 0 ||
        names.some(([, py]) => py === "__proto__")
      ? null
      : groupsBuilder(names, idx, contentTail === null ? null : "content", null),
    keys: null,
    guards: t.guards,
    pruned: [undefined, undefined, undefined, undefined],
    makePruned: t.pruned,
    required: t.required,
    requiredAny: t.requiredAny,
    first: t.firstChars?.ascii ?? null,
    firstNonAscii: t.firstChars?.nonAscii ?? true,
    names,
    skipLines,
    alt,
    tuple,
    source: src,
  };
}

/**
 * The groups a filter without failure data reads: those of `MERGE_KEYS`,
 * the `alt_`/`tuple_` groups that stand in for them, and `<SKIPLINES>`.
 */
function leanGroup(py: string): boolean {
  return MERGE_KEYS.includes(py) || /^(?:alt_|tuple_|skiplines\d)/.test(py);
}

function hasIdGroup(c: Compiled): boolean {
  return c.names.some(([, py]) => FAILURE_ID_PRESENT.includes(py));
}

/** The value of a group that may occur several times (in different alternatives): the one that took part. */
function numberedGroup(m: RegExpExecArray, nums: number[]): string | undefined {
  for (let i = 0; i < nums.length; i++) {
    const v = m[nums[i]!];
    if (v !== undefined) return v;
  }
  return undefined;
}

/**
 * The groups of a match by fail2ban name. With `pre` (the prefregex's
 * groups) the result is `{ ...pre, ...own }`, built in one object when the
 * regex has no `alt_`/`tuple_` groups (those read the regex's own values).
 */
function groupsOf(
  c: Compiled,
  m: RegExpExecArray,
  v: Variant,
  content?: string,
  pre?: Groups | null,
): Groups {
  if (v.build !== null) return v.build(m, pre ?? null, content);
  const direct = pre !== undefined && pre !== null && c.alt.length === 0 &&
    c.tuple.length === 0;
  const g: Groups = direct ? { ...pre } : {};
  const cj = content === undefined ? null : c.contentJs;
  const names = c.names;
  const idx = v.idx;
  if (idx === null) {
    const mg = m.groups!;
    for (let k = 0; k < names.length; k++) {
      const e = names[k]!;
      g[e[1]] = e[0] === cj ? content : mg[e[0]];
    }
  } else {
    for (let k = 0; k < names.length; k++) {
      const e = names[k]!;
      g[e[1]] = e[0] === cj ? content : numberedGroup(m, idx[k]!);
    }
  }
  if (direct) return g;
  for (const [k, n] of c.alt) {
    const v = g[k];
    if (v && !g[n]) g[n] = v;
  }
  for (const [k, n] of c.tuple) {
    const v = g[k];
    const cur = g[n];
    g[n] = Array.isArray(cur) ? [...cur, v] : [cur, v];
  }
  return pre === undefined || pre === null ? g : { ...pre, ...g };
}

function countNl(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = s.indexOf("\n", from); i >= 0 && i < to; i = s.indexOf("\n", i + 1)) n++;
  return n;
}

/** The outcome of one regex search over the buffer, as fail2ban's Regex keeps it. */
interface Search {
  m: RegExpExecArray;
  /** The form of the regex that matched (its group numbers). */
  v: Variant;
  matched: BufLine[];
  unmatched: BufLine[];
}

/**
 * One regex finding any text some failregex requires, or null when a
 * failregex requires none (or one with a newline, which a single line cannot
 * hold but the joined buffer can). Texts containing another are dropped.
 */
function literalPrefilter(list: Compiled[]): RegExp | null {
  const all = new Set<string>();
  for (const c of list) {
    if (c.requiredAny.length === 0) return null;
    for (const t of c.requiredAny) {
      if (t.includes("\n")) return null;
      all.add(t);
    }
  }
  const texts = [...all].sort((a, b) => a.length - b.length);
  const kept: string[] = [];
  for (const t of texts) if (!kept.some((k) => t.includes(k))) kept.push(t);
  return new RegExp(kept.map((t) => t.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&")).join("|"));
}

/** Which regexes may match a buffer starting with each char code (see `Filter.#firstMask`). */
function firstCharMask(list: Compiled[]): Uint32Array {
  const mask = new Uint32Array(129);
  list.forEach((c, i) => {
    const bit = 1 << i;
    for (let ch = 0; ch < 128; ch++) if (c.first === null || c.first[ch] !== 0) mask[ch]! |= bit;
    if (c.first === null || c.firstNonAscii) mask[128]! |= bit;
  });
  return mask;
}

/** The cheap checks before a regex runs: its possible first characters and required text. */
function precheck(c: Compiled, buf: string): boolean {
  if (c.first !== null) {
    const ch = buf.charCodeAt(0);
    if (ch < 128 ? c.first[ch] === 0 : !c.firstNonAscii) return false;
  }
  return c.required === "" || buf.indexOf(c.required) >= 0;
}

/** The form of a regex to run on a buffer: without the alternatives whose guard texts it lacks. */
function variantFor(c: Compiled, buf: string): Variant {
  const guards = c.guards;
  if (guards.length === 0) return c;
  let absent = 0;
  for (let i = 0; i < guards.length; i++) if (buf.indexOf(guards[i]!) < 0) absent |= 1 << i;
  return absent === 0 ? c : variantOf(c, absent);
}

function search(c: Compiled, buf: string, org: BufLine[]): Search | null {
  if (!precheck(c, buf)) return null;
  const v = variantFor(c, buf);
  const m = v.re.exec(buf);
  if (m === null) return null;
  if (org.length <= 1) return { m, v, matched: org, unmatched: NO_LINES };
  const start = m.index;
  const end = start + m[0].length;
  const ls = buf.lastIndexOf("\n", start) + 1;
  let le = buf.indexOf("\n", end - 1);
  le = le < 0 ? buf.length : le + 1;
  const n1 = countNl(buf, 0, ls);
  const n2 = countNl(buf, 0, le);
  const matched = org.slice(n1, n2);
  const unmatched = org.slice(0, n1);
  if (c.skipLines.length) {
    let skipped = "";
    for (let i = 0; i < c.skipLines.length; i++) {
      const g = v.skipIdx === null ? m.groups![c.skipLines[i]!] : numberedGroup(m, v.skipIdx[i]!);
      if (g !== undefined) skipped += g;
    }
    // Python's splitlines(): no empty last element.
    const lines = skipped === "" ? [] : skipped.replace(/\n$/, "").split("\n");
    let n = 0;
    for (const sl of lines) {
      for (let j = n; j < matched.length; j++) {
        if (matched[j]!.text === sl) {
          unmatched.push(matched.splice(j, 1)[0]!);
          n = j;
          break;
        }
      }
    }
  }
  for (let i = n2; i < org.length; i++) unmatched.push(org[i]!);
  return { m, v, matched, unmatched };
}

function joinBuf(lines: BufLine[]): string {
  if (lines.length === 1) return lines[0]!.text + "\n";
  let s = "";
  for (const l of lines) s += l.text + "\n";
  return s;
}

/**
 * A compiled fail2ban filter.
 *
 * @example
 * ```ts
 * import { Filter } from "./filter.ts";
 * const f = new Filter({
 *   name: "demo", file: null, prefregex: null, ignoreregex: [], datepattern: null,
 *   maxlines: 1, journalmatch: null, logtimezone: null, options: {},
 *   failregex: [{ pattern: "^auth failed for <F-USER>\\S+</F-USER> from <HOST>$", origin: "demo" }],
 * }, { dateDetector: null });
 * const r = f.processLine("auth failed for bob from 192.0.2.1", 1124013600);
 * console.log(r.failures[0]?.fid, r.failures[0]?.data.user); // "192.0.2.1" "bob"
 * ```
 */
export class Filter {
  /** The spec the filter was built from. */
  readonly spec: FilterSpec;
  readonly #dd: DateDetectorLike | null;
  readonly #options: FilterOptions;
  readonly #pref: Compiled | null;
  readonly #fail: Compiled[];
  readonly #ignore: Compiled[];
  readonly #maxLines: number;
  readonly #checkAll: boolean;
  readonly #skipUndated: boolean;
  readonly #keepNoFail: boolean;
  readonly #failureData: boolean;
  /**
   * Bit i set at a buffer's first char code (128: any other, or none) when
   * failregex i may start with it; null with more than 32 failregexes.
   */
  readonly #firstMask: Uint32Array | null;
  /**
   * A regex of the texts failregexes require (every failregex needs one of
   * them); null when some failregex needs none, with multi-line buffers, or
   * when a required text holds a newline.
   */
  #prefilter: RegExp | null;
  /** Lines the prefilter has tested and let through (see `#samplePrefilter`). */
  #prefilterTested = 0;
  #prefilterPassed = 0;
  #prefMatched: boolean | null = null;
  /** The buffer text the last line's regexes saw first (before a prefregex content replacement). */
  #lastBuf = "";
  #lastOrg: BufLine[] = NO_LINES;
  #ignoreIndex = -1;
  #buffer: BufLine[] = [];
  /**
   * Single-line filter without failure data (nothing keeps a line's buffer
   * past the line): the line and content buffers are these objects, reused.
   */
  #oneLine: BufLine | null = null;
  #oneBuf: BufLine[] = NO_LINES;
  #oneContent: BufLine | null = null;
  #oneContentBuf: BufLine[] = NO_LINES;
  #outIgnored = false;
  #outMatched: number[] = EMPTY as number[];
  #lastDate: number | null = null;
  readonly #mlf = new MlfCache();

  /**
   * Compiles the filter's regexes.
   * @param sharing a filter of the same spec and options whose compiled
   *   regexes this one uses instead (see {@link Filter.twin})
   * @throws {SyntaxError} naming the filter file and option when a regex cannot be compiled or
   *   a failregex has no host or id group
   */
  constructor(spec: FilterSpec, options: FilterOptions, sharing?: Filter) {
    this.spec = spec;
    this.#options = options;
    this.#dd = options.dateDetector;
    this.#maxLines = Math.max(1, spec.maxlines | 0);
    this.#checkAll = options.checkAllRegex ?? false;
    this.#skipUndated = options.skipUndated ?? false;
    this.#keepNoFail = options.keepNoFail ?? false;
    this.#failureData = options.failureData ?? true;
    const useDns = options.useDns ?? "warn";
    const multi = this.#maxLines > 1;
    // without failure data only the groups that decide a failure are captured
    const keep = this.#failureData ? undefined : leanGroup;
    if (sharing !== undefined) {
      // a twin (see `twin`): the same compiled regexes
      this.#pref = sharing.#pref;
      this.#fail = sharing.#fail;
      this.#ignore = sharing.#ignore;
    } else {
      this.#pref = spec.prefregex ? compile(spec.prefregex, useDns, false, keep) : null;
      this.#fail = spec.failregex.map((r) => compile(r, useDns, multi, keep));
      this.#ignore = spec.ignoreregex.map((r) => compile(r, useDns, false, keep));
      if (!this.#failureData) this.#uniformShape();
    }
    if (!this.#failureData && this.#maxLines === 1) {
      this.#oneLine = { text: "", full: "" };
      this.#oneBuf = [this.#oneLine];
      this.#oneContent = { text: "", full: "" };
      this.#oneContentBuf = [this.#oneContent];
    }
    this.#firstMask = this.#fail.length > 32 ? null : firstCharMask(this.#fail);
    this.#prefilter = this.#maxLines === 1 ? literalPrefilter(this.#fail) : null;
    for (const c of this.#fail) {
      if (!hasIdGroup(c) && !(this.#pref && hasIdGroup(this.#pref))) {
        throw new SyntaxError(
          `Invalid failregex of filter "${spec.name}" (${c.source.origin}): no host or id group (<HOST>, <ADDR>, <F-ID>, <F-MLFID>…) in "${c.source.pattern}"`,
        );
      }
    }
  }

  /**
   * A filter of the same spec and options, with its own date detector and
   * fresh state, sharing this one's compiled regexes (nothing to compile):
   * lines run through it leave this one's state and counts as they are.
   */
  twin(dateDetector: DateDetectorLike | null): Filter {
    return new Filter(this.spec, { ...this.#options, dateDetector }, this);
  }

  /** Rebuilds the group builders to write every key of the filter (see `Compiled.keys`). */
  #uniformShape(): void {
    // without failure data only these keys are ever read: the others are not kept
    const list = [...MERGE_KEYS];
    const all = this.#pref === null ? this.#fail : [this.#pref, ...this.#fail];
    for (const c of all) {
      c.keys = list;
      if (c.build !== null && c.idx !== null) {
        c.build = groupsBuilder(c.names, c.idx, c.contentJs, list);
      }
    }
  }

  /**
   * Everything the filter carries from one line to the next, as text: the
   * last date, the multi-line buffer and the `<F-MLFID>` cache (with the
   * date detector's own state when it has one). Two filters built from the
   * same spec and options with equal fingerprints give the same results for
   * the same lines from then on: `f2b regex` compares them before it adds up
   * the counts of a thread that started in the middle of a log.
   */
  stateFingerprint(): string {
    return [
      String(this.#lastDate),
      this.#maxLines > 1 ? JSON.stringify(this.#buffer) : "",
      this.#mlf.fingerprint(),
      this.#dd?.stateFingerprint?.() ?? "",
    ].join("\u0003");
  }

  /** Number of failregexes (for per-regex statistics). */
  get failRegexCount(): number {
    return this.#fail.length;
  }

  /**
   * Whether the prefregex matched the last line: null when the filter has no
   * prefregex or did not try it (an ignoreregex matched first, or the line
   * holds none of the texts the failregexes need, so no failure was possible).
   */
  get prefRegexMatched(): boolean | null {
    return this.#prefMatched;
  }

  /**
   * Whether the prefregex matches the last line's buffer (the line without
   * its date): {@link prefRegexMatched} when the filter tried it, otherwise
   * the prefregex is run now (without reading its groups). Null when the
   * filter has no prefregex.
   */
  prefRegexMatches(): boolean | null {
    const pc = this.#pref;
    if (pc === null) return null;
    if (this.#prefMatched !== null) return this.#prefMatched;
    const buf = this.#lastBuf;
    if (!precheck(pc, buf)) return false;
    if (
      pc.contentTail !== null && this.#lastOrg.length === 1 && buf.indexOf("\n") === buf.length - 1
    ) {
      return pc.contentTail.test(buf);
    }
    return search(pc, buf, this.#lastOrg) !== null;
  }

  /** Index of the ignoreregex that ignored the last line (the first to match), or -1. */
  get ignoreRegexIndex(): number {
    return this.#ignoreIndex;
  }

  /** Number of ignoreregexes. */
  get ignoreRegexCount(): number {
    return this.#ignore.length;
  }

  /**
   * The regexes that ran into the backtrack limit on the last line (each
   * then counted it as not matching), found by running them again on that
   * line's buffer (see `ranIntoLimit`): costly, so only for a line that was
   * slow, right after its `processLine`. Multi-line buffers are checked as
   * the last line left them.
   */
  regexesGivenUp(): GaveUpRegex[] {
    const out: GaveUpRegex[] = [];
    let buf = this.#lastBuf;
    const gaveUp = (c: Compiled, text: string, tailForm: boolean): boolean => {
      if (!precheck(c, text)) return false;
      const re = tailForm && c.contentTail !== null ? c.contentTail : variantFor(c, text).re;
      return ranIntoLimit(re, text);
    };
    this.#ignore.forEach((c, index) => {
      if (gaveUp(c, buf, false)) out.push({ kind: "ignoreregex", index, origin: c.source.origin });
    });
    const pc = this.#pref;
    if (pc !== null) {
      const tail = this.#lastOrg.length === 1 && buf.indexOf("\n") === buf.length - 1;
      if (gaveUp(pc, buf, tail)) {
        out.push({ kind: "prefregex", index: 0, origin: pc.source.origin });
        return out;
      }
      const ps = search(pc, buf, this.#lastOrg);
      if (ps === null) return out;
      const content = groupsOf(pc, ps.m, ps.v).content as string | undefined;
      if (content) buf = content + "\n";
    }
    this.#fail.forEach((c, index) => {
      if (gaveUp(c, buf, false)) out.push({ kind: "failregex", index, origin: c.source.origin });
    });
    return out;
  }

  /**
   * Runs one log line (without its line end) through the filter.
   *
   * @param line the log line, without its line end or with its LF (then a
   *   single-line filter slices the text it matches from it instead of
   *   appending a newline); a trailing CR is removed
   * @param now the current time in epoch seconds (year-less dates, undated lines)
   * @param time the line's time when already known (journal entries): no date detection then
   */
  processLine(line: string, now: number, time?: number): LineResult {
    // a line with its LF: the single-line buffer (text + LF) is sliced from it, not built
    let lf: string | null = null;
    if (line.charCodeAt(line.length - 1) === 10) {
      lf = line;
      line = line.slice(0, -1);
    }
    if (line.charCodeAt(line.length - 1) === 13) {
      line = line.slice(0, -1);
      lf = null;
    }
    let text = line;
    let textLf = lf;
    let date: number | null = null;
    let dateTemplate: string | null = null;
    let noDate = false;
    if (time !== undefined) {
      date = time;
      this.#lastDate = time;
    } else if (this.#dd !== null) {
      const dm = this.#dd.match(line, now);
      if (dm !== null) {
        dateTemplate = dm.template;
        if (dm.end > dm.start) {
          if (dm.start === 0) {
            text = line.slice(dm.end);
            if (lf !== null) textLf = lf.slice(dm.end);
          } else {
            text = line.slice(0, dm.start) + line.slice(dm.end);
            textLf = null;
          }
          date = dm.time;
          this.#lastDate = date;
        } else if (this.#lastDate !== null && this.#lastDate > now - 60) {
          date = this.#lastDate;
        } else {
          date = now;
        }
      }
      if (date === null) {
        noDate = true;
        if (this.#lastDate !== null && this.#lastDate > now - 60) date = this.#lastDate;
      }
    }
    let tl: BufLine;
    if (this.#oneLine !== null) {
      tl = this.#oneLine;
      tl.text = text;
      tl.full = line;
    } else {
      tl = { text, full: line };
    }
    const failures = this.#findFailure(tl, date, noDate, now, textLf);
    return {
      time: noDate ? null : date,
      dateTemplate,
      failures,
      ignored: this.#outIgnored,
      matchedRegexes: this.#outMatched,
    };
  }

  #ignoreMatch(buf: string, org: BufLine[], fr: Search | null): boolean {
    if (fr !== null && this.#maxLines > 1) {
      org = fr.matched;
      buf = joinBuf(org);
    }
    const list = this.#ignore;
    for (let i = 0; i < list.length; i++) {
      if (search(list[i]!, buf, org) !== null) {
        if ((!this.#checkAll || this.#maxLines > 1) && fr !== null) this.#buffer = fr.unmatched;
        if (this.#ignoreIndex < 0) this.#ignoreIndex = i;
        return true;
      }
    }
    return false;
  }

  #findFailure(
    tl: BufLine,
    date: number | null,
    noDate: boolean,
    now: number,
    textLf: string | null,
  ): FailureMatch[] {
    let list: FailureMatch[] = EMPTY as unknown as FailureMatch[];
    let matched = EMPTY as number[];
    let ignored = false;
    let org: BufLine[];
    if (this.#maxLines > 1) {
      if (this.#buffer === NO_LINES) this.#buffer = [];
      this.#buffer.push(tl);
      if (this.#buffer.length > this.#maxLines) this.#buffer = this.#buffer.slice(-this.#maxLines);
      org = this.#buffer;
    } else if (this.#oneLine !== null) {
      org = this.#buffer = this.#oneBuf;
    } else {
      org = this.#buffer = [tl];
    }
    this.#prefMatched = null;
    this.#ignoreIndex = -1;
    let buf: string | null = textLf !== null && org.length === 1 ? textLf : joinBuf(org);
    this.#lastBuf = buf;
    this.#lastOrg = org;

    if (this.#ignore.length && this.#ignore.length < this.#fail.length - 2) {
      if (this.#ignoreMatch(buf, org, null)) {
        ignored = true;
        return this.#done(list, matched, ignored);
      }
    }
    // no failregex can match without one of its required texts: skip the regexes
    // (on the line without its date: every buffer a failregex sees, the
    // prefregex's content too, is that text or part of it, and a newline)
    if (this.#prefilter !== null) {
      if (!this.#prefilter.test(tl.text)) {
        if (this.#prefilterTested < PREFILTER_SAMPLE) this.#prefilterTested++;
        return this.#done(list, matched, ignored);
      }
      if (this.#prefilterTested < PREFILTER_SAMPLE) this.#samplePrefilter();
    }
    let pre: Groups | null = null;
    const pc = this.#pref;
    if (pc !== null && pc.contentTail !== null && org.length === 1 && tl.text.indexOf("\n") < 0) {
      // buf is tl.text + "\n": the content runs from the match end to the final newline
      const m = precheck(pc, buf) ? pc.contentTail.exec(buf) : null;
      this.#prefMatched = m !== null;
      if (m === null) return this.#done(list, matched, ignored);
      const end = m.index + m[0].length;
      pre = groupsOf(pc, m, pc, buf.slice(end, buf.length - 1));
      const repl = pre.content as string | undefined;
      pre.content = undefined;
      if (repl) {
        this.#buffer = this.#contentBuffer(repl);
        buf = buf.slice(end); // repl + "\n", without a copy
      }
    } else if (pc !== null) {
      const ps = search(pc, buf, org);
      this.#prefMatched = ps !== null;
      if (ps === null) return this.#done(list, matched, ignored);
      pre = groupsOf(pc, ps.m, ps.v);
      const repl = pre.content as string | undefined;
      pre.content = undefined;
      if (repl) {
        this.#buffer = this.#contentBuffer(repl);
        buf = null;
      }
    }
    const firstMask = this.#firstMask;
    const fails = this.#fail;
    // with the first-character mask: the failregexes still to try for this buffer
    // (bit i: failregex i), visited set bit by set bit
    let bits = 0;
    let maskBuf: string | null = null;
    for (let idx = 0; idx < fails.length; idx++) {
      if (buf === null) buf = joinBuf(this.#buffer);
      if (firstMask !== null) {
        if (buf !== maskBuf) {
          maskBuf = buf;
          const ch = buf.charCodeAt(0);
          bits = firstMask[ch < 128 ? ch : 128]! & (-1 << idx);
        }
        if (bits === 0) break;
        idx = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
      }
      const fr = fails[idx]!;
      const s = search(fr, buf, org);
      if (s === null) continue;
      let fail = groupsOf(fr, s.m, s.v, undefined, pre);
      if (this.#ignore.length && this.#ignoreMatch(buf, org, s)) {
        ignored = true;
        buf = null;
        if (!this.#checkAll) break;
        continue;
      }
      // a literal of one: `[]` then push would allocate room for 17
      if (matched === EMPTY) matched = [idx];
      else matched.push(idx);
      if (noDate && date === null && this.#skipUndated) continue;
      if (!this.#checkAll || this.#maxLines > 1) {
        this.#buffer = s.unmatched;
        buf = null;
      }
      const mlfid = fail.mlfid as string | undefined;
      if (mlfid !== undefined) {
        fail = this.#mergeFailure(mlfid, fail, s, date, now);
        if (fail.nofail && !this.#checkAll) return this.#done(list, matched, ignored);
      } else if (this.#failureData) {
        fail.matches = [...((fail.matches as BufLine[] | undefined) ?? []), ...s.matched];
      }
      const fid = fail.fid as string | undefined;
      const host = (fail.ip4 ?? fail.ip6 ?? fail.dns) as string | undefined;
      let id: string | undefined = fid;
      if (host === undefined) {
        if (fid === undefined && mlfid === undefined) continue; // fail2ban logs "No group found"
      } else if (id === undefined) id = host;
      if (id === undefined) {
        fail.mlfpending = 1;
        if (!this.#checkAll) return this.#done(list, matched, ignored);
        if (!this.#keepNoFail) continue;
      }
      if (fail.nofail && !this.#keepNoFail) continue;
      const failure = this.#toFailure(fail, id ?? null, host ?? null, date ?? now, idx);
      if (list.length === 0) list = [failure];
      else list.push(failure);
      if (!this.#checkAll) break;
    }
    if (!this.#checkAll && list.length > 1) list = list.slice(0, 1);
    return this.#done(list, matched, ignored);
  }

  /**
   * Counts a line the prefilter let through; after {@link PREFILTER_SAMPLE}
   * lines, drops the prefilter when it let most through and a cheap
   * prefregex (the `contentTail` form) decides first anyway: then it costs
   * more than it saves. Results are the same with or without it.
   */
  #samplePrefilter(): void {
    this.#prefilterPassed++;
    if (++this.#prefilterTested < PREFILTER_SAMPLE) return;
    if (this.#prefilterPassed * 2 > PREFILTER_SAMPLE && this.#pref?.contentTail) {
      this.#prefilter = null;
    }
  }

  /** The buffer holding only the prefregex's content. */
  #contentBuffer(repl: string): BufLine[] {
    const one = this.#oneContent;
    if (one === null) return [{ text: repl, full: repl }];
    one.text = one.full = repl;
    return this.#oneContentBuf;
  }

  /** Records a line's ignore flag and matched regexes (read by `processLine`) and returns its failures. */
  #done(list: FailureMatch[], matched: number[], ignored: boolean): FailureMatch[] {
    this.#outIgnored = ignored;
    this.#outMatched = matched;
    return list;
  }

  #toFailure(
    fail: Groups,
    fid: string | null,
    host: string | null,
    time: number,
    regexIndex: number,
  ): FailureMatch {
    if (!this.#failureData) {
      const nofail = fail.nofail;
      return {
        fid: fid ?? "",
        host,
        time,
        lines: NO_TEXT,
        data: nofail ? { nofail: String(nofail) } : NO_DATA,
        regexIndex,
        hostFromName: host !== null && fail.ip4 == null && fail.ip6 == null,
      };
    }
    const data: Record<string, string> = {};
    let users: string[] | undefined;
    for (const k in fail) {
      const v = fail[k];
      if (v === undefined || v === null) continue;
      if (SKIP_DATA.has(k)) continue;
      if (k === "users") {
        users = [...(v as Iterable<string>)];
        continue;
      }
      data[k] = Array.isArray(v) ? v.map((x) => x ?? "").join(",") : String(v);
    }
    if (fail.nofail) data.nofail = String(fail.nofail);
    const out: FailureMatch = {
      fid: fid ?? "",
      host,
      time,
      lines: ((fail.matches as BufLine[] | undefined) ?? []).map((l) => l.full),
      data,
      regexIndex,
      hostFromName: host !== null && fail.ip4 == null && fail.ip6 == null,
    };
    if (users !== undefined) out.users = users;
    return out;
  }

  #mergeFailure(mlfid: string, fail: Groups, s: Search, date: number | null, now: number): Groups {
    const hash = hashOf(mlfid);
    let entry = this.#mlf.get(mlfid, hash);
    if (entry !== undefined && entry.expires <= now) {
      this.#mlf.delete(entry);
      entry = undefined;
    }
    let users: string[] | undefined;
    let fl = 0;
    if (fail.mlfgained) {
      fl |= 8 | 1;
      if (!fail.nofail) fail.nofail = fail.mlfgained;
    } else if (fail.nofail) fl |= 1;
    if (fail.mlfforget) fl |= 2;
    clear(fail, "mlfforget");
    if (entry !== undefined) {
      const g = entry.fail;
      users = updateUsers(g, fail.user as string | undefined);
      if (g.nofail) fl |= 4;
      clear(g, "nofail");
      if (g.mlfgained) fl |= 4;
      clear(g, "mlfgained");
      if (fl & 8) clear(g, "mlfpending");
      if ((fl & 4) === 0 && !g.mlfpending) clear(g, "matches");
      for (const k in fail) if (fail[k] !== undefined && fail[k] !== null) g[k] = fail[k];
      fail = g;
      if (fl & 2) this.#mlf.delete(entry);
    } else if (!(fl & 2)) {
      users = updateUsers(fail, fail.user as string | undefined);
      this.#mlf.add(mlfid, hash, fail, now);
    }
    const pending = fail.mlfpending;
    clear(fail, "mlfpending");
    if (pending || (users && users.length > 1)) {
      clear(fail, "nofail");
      clear(fail, "mlfgained");
      fl &= ~(8 | 1);
    }
    if (!this.#failureData) {
      // the matched lines are not kept
    } else if ((fl & 1) === 0) {
      const m = joinLines(fail["nofail-matches"], fail.matches, (fl & 8) === 0 ? s.matched : null);
      clear(fail, "nofail-matches");
      fail.matches = m;
    } else if ((fl & 3) === 1) {
      fail["nofail-matches"] = joinLines(fail["nofail-matches"], undefined, s.matched);
    }
    void date;
    return fail;
  }
}

/**
 * Sets a key to undefined only when it holds a value: an absent key reads
 * the same, and every key cleared this way is one the failure data skips,
 * so not adding it saves V8 a shape change per failure.
 */
function clear(o: Groups, k: string): void {
  if (o[k] !== undefined) o[k] = undefined;
}

/** `[...(a ?? []), ...(b ?? []), ...(c ?? [])]` for lists of buffered lines, without iterators. */
function joinLines(a: unknown, b: unknown, c: BufLine[] | null): BufLine[] {
  if (!(a === undefined || Array.isArray(a)) || !(b === undefined || Array.isArray(b))) {
    // a group of that name holds text: spread it as the generic code would
    return [
      ...((a as Iterable<BufLine> | undefined) ?? []),
      ...((b as Iterable<BufLine> | undefined) ?? []),
      ...(c ?? []),
    ];
  }
  const out: BufLine[] = [];
  if (a !== undefined) { for (let i = 0; i < a.length; i++) out.push(a[i]); }
  if (b !== undefined) { for (let i = 0; i < b.length; i++) out.push(b[i]); }
  if (c !== null) { for (let i = 0; i < c.length; i++) out.push(c[i]!); }
  return out;
}

function updateUsers(fail: Groups, user: string | undefined): string[] | undefined {
  // a list used as a set (few users; a Set would hash each fresh user string)
  let users = fail.users as string[] | undefined;
  if (user) {
    if (!users) fail.users = users = [];
    if (!users.includes(user)) users.push(user);
  }
  return users;
}
