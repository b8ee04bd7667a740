/**
 * Shared reading of filter and action files: `[Definition]` options, `[Init]` options that a
 * reference's arguments override, and fail2ban's recursive `<tag>` substitution between them.
 *
 * @module
 */

import { CONDITIONAL_RE, ConfigReader, NoOptionError, NoSectionError } from "./config_reader.ts";
import type { IniFile } from "./ini_parser.ts";

const TAG_RE = /<([^ <>]+)>/g;
/** Replacements of one tag inside another beyond this count mean a loop. */
const MAX_TAG_REPLACE_COUNT = 25;

function searchTag(value: string, from: number): RegExpExecArray | null {
  TAG_RE.lastIndex = from;
  return TAG_RE.exec(value);
}

/**
 * Resolves `<tag>` references between option values (fail2ban's `substituteRecursiveTags`):
 * `b = <a>_3` with `a = 3` becomes `b = 3_3`, repeatedly, so `<x-<mode>>` works. Tags that are
 * neither options nor found by `addrepl` stay as written (`<HOST>`, `<ip>`). Tags in `ignore`
 * are neither replaced nor resolved. With `conditional` (`family=inet6`), `tag?family=inet6`
 * wins over `tag`.
 *
 * @throws {SyntaxError} for a self-referencing definition.
 *
 * @example
 * ```ts
 * import { substituteRecursiveTags } from "./_definition_init.ts";
 * const r = substituteRecursiveTags(new Map([["mode", "ddos"], ["re", "<x-<mode>>"], ["x-ddos", "D"]]));
 * console.assert(r.get("re") === "D");
 * ```
 */
export function substituteRecursiveTags(
  input: ReadonlyMap<string, string>,
  options: {
    ignore?: ReadonlySet<string>;
    conditional?: string;
    addrepl?: (tag: string) => string | null | undefined;
  } = {},
): Map<string, string> {
  const tags = new Map(input);
  const ignore = options.ignore ?? new Set<string>();
  const done = new Set<string>();
  const repCounts = new Map<string, Map<string, number>>();
  for (;;) {
    let repeat = false;
    for (const tag of [...tags.keys()]) {
      if (ignore.has(tag) || done.has(tag)) continue;
      const orig = tags.get(tag)!;
      let value = orig;
      const counts = repCounts.get(tag) ?? new Map<string, number>();
      let m = searchTag(value, 0);
      while (m) {
        const rtag = m[1]!;
        if (ignore.has(rtag)) {
          m = searchTag(value, m.index + m[0].length);
          continue;
        }
        if (rtag === tag || (counts.get(rtag) ?? 1) > MAX_TAG_REPLACE_COUNT) {
          throw new SyntaxError(
            `Option "${tag}" refers to itself through "<${rtag}>" and cannot be resolved: ${value}`,
          );
        }
        let repl: string | null | undefined;
        if (options.conditional) repl = tags.get(`${rtag}?${options.conditional}`);
        if (repl == null) {
          repl = tags.get(rtag);
          if (repl == null && options.addrepl) repl = options.addrepl(rtag);
        }
        if (repl == null) {
          m = searchTag(value, m.index + m[0].length);
          continue;
        }
        value = value.replaceAll(`<${rtag}>`, repl);
        counts.set(rtag, (counts.get(rtag) ?? 0) + 1);
        m = searchTag(value, m.index);
      }
      if (orig !== value) {
        if (searchTag(value, 0)) {
          repCounts.set(tag, counts);
          repeat = true;
        }
        tags.set(tag, value);
      }
      if (!value.includes("<")) done.add(tag);
    }
    if (!repeat) break;
  }
  return tags;
}

/** Type of a known option, for conversion after interpolation. */
export type OptionType = "string" | "int" | "bool";

/** fail2ban's boolean words. */
export function asBool(v: string): boolean {
  return ["1", "on", "true", "yes"].includes(v.toLowerCase());
}

/** Reader for one filter or action file with its `[Definition]` and `[Init]` sections. */
export class DefinitionInitReader {
  /** The merged configuration of the file and its layers. */
  readonly cfg: ConfigReader;
  /** Config name relative to the base dir (`filter.d/sshd`) or an explicit file path. */
  readonly file: string;
  /** Reference arguments, then `[Init]` values and `known/…` copies (reference wins). */
  readonly initOpts: Map<string, string>;
  readonly #configOpts: Readonly<Record<string, OptionType>>;
  #opts = new Map<string, string>();
  #pOpts: Record<string, string> = {};
  readonly #defCache = new Map<string, string | null>();
  #explicit: boolean;

  /** A reader for `file`; `initOpts` are the reference's arguments. */
  constructor(
    baseDir: string,
    file: string,
    initOpts: Record<string, string>,
    configOpts: Readonly<Record<string, OptionType>>,
    cache?: Map<string, IniFile | null>,
    explicit = false,
  ) {
    this.cfg = new ConfigReader(baseDir, cache ? { cache } : {});
    this.file = file;
    this.initOpts = new Map(Object.entries(initOpts));
    this.#configOpts = configOpts;
    this.#explicit = explicit;
  }

  /** Reads the file(s); returns the files read (empty when none exists). */
  read(): string[] {
    return this.#explicit ? this.cfg.readFiles([this.file]) : this.cfg.read(this.file);
  }

  /** The option values read by the last {@link getOptions} (known options, or all with `all`). */
  get opts(): ReadonlyMap<string, string> {
    return this.#opts;
  }

  /**
   * Reads the known `[Definition]` options (those not already given in `pOpts`, the jail's
   * options, which also take part in interpolation), records `[Init]` values (unless given as
   * reference arguments) and their `known/…` copies, and with `all` every other own
   * `[Definition]` option too.
   */
  getOptions(pOptsIn: Record<string, string>, all = false): void {
    let pOpts = pOptsIn;
    if (this.initOpts.size) pOpts = { ...pOpts, ...Object.fromEntries(this.initOpts) };
    const opts = new Map<string, string>();
    for (const name of Object.keys(this.#configOpts)) {
      if (name in pOpts) continue;
      try {
        opts.set(name, this.cfg.get("Definition", name, { vars: pOpts }));
      } catch (e) {
        if (e instanceof NoSectionError || e instanceof NoOptionError) continue;
        throw e;
      }
    }
    this.#opts = opts;
    this.#pOpts = pOpts;
    if (this.cfg.hasSection("Init")) {
      for (const opt of this.cfg.options("Init", false)) {
        if (opt === "__name__") continue;
        let v: string | undefined;
        if (!opt.startsWith("known/")) {
          v = this.cfg.get("Init", opt);
          this.initOpts.set(`known/${opt}`, v);
        }
        if (!this.initOpts.has(opt)) {
          v ??= this.cfg.get("Init", opt);
          this.initOpts.set(opt, v);
        }
      }
    }
    if (all && this.cfg.hasSection("Definition")) {
      for (const opt of this.cfg.options("Definition", false)) {
        if (opt === "__name__" || this.#opts.has(opt)) continue;
        this.#opts.set(opt, this.cfg.get("Definition", opt));
      }
    }
  }

  /** A `[Definition]` option resolved with the jail's and init options, or null (cached). */
  getCombOption(name: string): string | null {
    if (this.#defCache.has(name)) return this.#defCache.get(name)!;
    let v: string | null;
    try {
      v = this.cfg.getEx("Definition", name, this.#pOpts);
    } catch (e) {
      if (!(e instanceof NoSectionError || e instanceof NoOptionError)) throw e;
      v = null;
    }
    this.#defCache.set(name, v);
    return v;
  }

  /**
   * Options read by {@link getOptions} merged with the init options, `<tag>` references resolved
   * (conditional options such as `blocktype?family=inet6` and `ignore` stay unresolved).
   */
  getCombined(ignoreIn: Iterable<string> = []): Map<string, string> {
    const combined = new Map(this.#opts);
    for (const [k, v] of this.initOpts) combined.set(k, v);
    if (!combined.size) return combined;
    const ignore = new Set(ignoreIn);
    for (const n of combined.keys()) {
      const cond = CONDITIONAL_RE.exec(n);
      if (cond) ignore.add(cond[1]!);
    }
    return substituteRecursiveTags(combined, {
      ignore,
      addrepl: (tag) => this.getCombOption(tag),
    });
  }
}
