/**
 * fail2ban's layered configuration reader: a config "name" (`jail`, `filter.d/sshd`) is read from
 * `NAME.conf`, `NAME.d/*.conf`, `NAME.local`, `NAME.d/*.local` (later wins), with
 * `[INCLUDES] before/after`, `%(name)s` interpolation (plus fail2ban's `%(section/name)s`,
 * `%(known/name)s` and `%(__name__)s`) and `[DEFAULT]` inheritance.
 *
 * @module
 */

import { type IniFile, optionXform, parseIni } from "./ini_parser.ts";

/** One merged option value with where it was last set. */
export interface ConfigValue {
  /** The raw (not interpolated) value. */
  value: string;
  /** The file that set it, or `""` for values set by code. */
  file: string;
  /** 1-based line of the option in `file` (0 when set by code). */
  line: number;
  /** 1-based file line of each line of the raw value. */
  lines: number[];
}

/** A configuration error naming where it happened. */
export class ConfigError extends Error {
  /** The file involved, when known. */
  readonly file: string | undefined;
  /** The section involved, when known. */
  readonly section: string | undefined;
  /** The option involved, when known. */
  readonly option: string | undefined;
  /** Builds the error; `message` should already name file, section and option. */
  constructor(
    message: string,
    where: {
      file?: string | undefined;
      section?: string | undefined;
      option?: string | undefined;
    } = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "ConfigError";
    this.file = where.file;
    this.section = where.section;
    this.option = where.option;
  }
}

/** A section asked for does not exist. */
export class NoSectionError extends ConfigError {
  /** Builds the error for `section`. */
  constructor(section: string, files: readonly string[]) {
    super(
      `No section "${section}" in ${
        files.length ? files.map((f) => `"${f}"`).join(", ") : "config"
      }`,
      { section, file: files[0] },
    );
    this.name = "NoSectionError";
  }
}

/** An option asked for does not exist in the section nor in `[DEFAULT]`. */
export class NoOptionError extends ConfigError {
  /** Builds the error for `option` in `section`. */
  constructor(section: string, option: string, files: readonly string[]) {
    super(
      `No option "${option}" in section "${section}"${
        files.length ? ` (read from ${files.map((f) => `"${f}"`).join(", ")})` : ""
      }`,
      { section, option, file: files[0] },
    );
    this.name = "NoOptionError";
  }
}

/** Options for {@link ConfigReader}. */
export interface ConfigReaderOptions {
  /**
   * Cache of parsed files shared between readers (fail2ban shares parsed includes such as
   * `filter.d/common.conf` between all filters). `null` marks a file that does not exist.
   */
  cache?: Map<string, IniFile | null>;
}

type Section = Map<string, ConfigValue>;

const MAX_INTERPOLATION_DEPTH = 10;
const KEY_RE = /^%\(([^)]+)\)s/;
const SECTION_OPT_SUBST_RE = /%\(([\w-]+\/([^)]+))\)s/g;
const SECTION_OPTNAME_RE = /^([\w-]+)\/([^\s>]+)$/;
/** Conditional section or option name: `Init?family=inet6`. */
export const CONDITIONAL_RE = /^(\w+)(\?.+)$/;

function dirname(p: string): string {
  const i = p.lastIndexOf("/");
  if (i < 0) return "";
  if (i === 0) return "/";
  return p.slice(0, i);
}

/** Python's os.path.join for two components. */
export function joinPath(a: string, b: string): string {
  if (b.startsWith("/")) return b;
  if (a === "" || a.endsWith("/")) return a + b;
  return `${a}/${b}`;
}

/** Whether a path exists (anything `stat` can see; a dangling link does not). */
export function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

function isFile(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

/** Sorted paths in `dir` ending in `ext` (Python's sorted(glob('dir/*ext'))), hidden files excluded. */
function globExt(dir: string, ext: string): string[] {
  const out: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (e.name.startsWith(".") || !e.name.endsWith(ext)) continue;
      out.push(joinPath(dir, e.name));
    }
  } catch {
    return [];
  }
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** For each file, the file then its `.local` sibling if it exists and is not listed already. */
function expandWithLocal(files: string[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    out.push(f);
    const dot = f.lastIndexOf(".");
    const slash = f.lastIndexOf("/");
    const base = dot > slash + 1 ? f.slice(0, dot) : f;
    const local = `${base}.local`;
    if (!files.includes(local) && isFile(local)) out.push(local);
  }
  return out;
}

/**
 * A merged view of a fail2ban configuration (one config name with its layers and includes).
 *
 * @example
 * ```ts
 * import { ConfigReader } from "./config_reader.ts";
 * const dir = Deno.makeTempDirSync();
 * try {
 *   Deno.writeTextFileSync(`${dir}/a.conf`, "[DEFAULT]\nx = 1\n[s]\ny = %(x)s-%(__name__)s\n");
 *   Deno.writeTextFileSync(`${dir}/a.local`, "[s]\nx = 2\n");
 *   const cfg = new ConfigReader(dir);
 *   cfg.read("a");
 *   console.assert(cfg.get("s", "y") === "2-s");
 * } finally {
 *   Deno.removeSync(dir, { recursive: true });
 * }
 * ```
 */
export class ConfigReader {
  readonly #baseDir: string;
  readonly #cache: Map<string, IniFile | null>;
  #defaults: Section = new Map();
  #sections = new Map<string, Section>();
  #files: string[] = [];

  /** A reader rooted at `baseDir` (e.g. `/etc/fail2ban`). */
  constructor(baseDir: string, options: ConfigReaderOptions = {}) {
    this.#baseDir = baseDir.replace(/\/+$/, "") || "/";
    this.#cache = options.cache ?? new Map();
  }

  /** The configuration directory. */
  get baseDir(): string {
    return this.#baseDir;
  }

  /** Files read so far, in merge order. */
  get files(): readonly string[] {
    return this.#files;
  }

  /** The layer files of a config name that exist: `.conf`, `.d/*.conf`, `.local`, `.d/*.local`. */
  layerFiles(name: string): string[] {
    return this.candidateFiles(name).filter(exists);
  }

  /** Every layer file fail2ban would consider for `name`, existing or not (for error messages). */
  candidateFiles(name: string): string[] {
    const base = joinPath(this.#baseDir, name);
    return [
      `${base}.conf`,
      ...globExt(`${base}.d`, ".conf"),
      `${base}.local`,
      ...globExt(`${base}.d`, ".local"),
    ];
  }

  /**
   * Reads config `name` (relative to the base dir, e.g. `jail` or `filter.d/sshd`) with its layers
   * and includes, merging into what was read before. Returns the files read (empty: none found).
   */
  read(name: string): string[] {
    if (!exists(this.#baseDir)) {
      throw new ConfigError(`Base configuration directory "${this.#baseDir}" does not exist`, {
        file: this.#baseDir,
      });
    }
    return this.readFiles(this.layerFiles(name));
  }

  /** Reads explicit files (with their `.local` siblings and `[INCLUDES]`), merging in order. */
  readFiles(files: string[]): string[] {
    const all = this.#getIncludes(files, []);
    const read: string[] = [];
    for (const f of all) {
      const ini = this.#parse(f);
      if (!ini) continue;
      read.push(f);
      this.#merge(ini);
    }
    this.#files.push(...read);
    return read;
  }

  #parse(file: string): IniFile | null {
    if (this.#cache.has(file)) return this.#cache.get(file)!;
    let ini: IniFile | null = null;
    if (isFile(file)) {
      const text = Deno.readTextFileSync(file);
      ini = parseIni(text, file);
    }
    this.#cache.set(file, ini);
    return ini;
  }

  #getIncludes(files: string[], seen: string[]): string[] {
    const out: string[] = [];
    for (const f of expandWithLocal(files)) out.push(...this.#includesOf(f, seen));
    return out;
  }

  #includesOf(resource: string, seen: string[]): string[] {
    const ini = this.#parse(resource);
    if (!ini) return [];
    const inc = ini.sections.get("INCLUDES");
    const before: string[] = [];
    const after: string[] = [];
    if (inc) {
      const single = new ConfigReader(this.#baseDir, { cache: this.#cache });
      single.#merge(ini);
      single.#files = [resource];
      const dir = dirname(resource);
      for (const [opt, list] of [["before", before], ["after", after]] as const) {
        if (!inc.options.has(opt)) continue;
        const value = single.get("INCLUDES", opt);
        for (const entry of value.split("\n")) {
          const r = joinPath(dir, entry);
          if (seen.includes(r)) continue;
          list.push(...this.#getIncludes([r], [...seen, resource]));
        }
      }
    }
    return [...before, resource, ...after];
  }

  #merge(ini: IniFile): void {
    for (const [k, v] of ini.defaults) this.#defaults.set(k, v);
    for (const [rawName, s] of ini.sections) {
      let name = rawName;
      let options: Map<string, ConfigValue> = s.options;
      const cond = CONDITIONAL_RE.exec(rawName);
      if (cond) {
        name = cond[1]!;
        options = new Map();
        for (const [k, v] of s.options) options.set(k + cond[2]!, v);
      }
      const existing = this.#sections.get(name);
      if (existing) {
        const known: Array<[string, ConfigValue]> = [];
        for (const [k, v] of existing) if (options.has(k)) known.push([k, v]);
        this.mergeSection(`KNOWN/${name}`, new Map(known));
        for (const [k, v] of options) existing.set(k, v);
      } else {
        this.#sections.set(name, new Map(options));
      }
    }
  }

  /** Section names in order, without fail2ban's internal `KNOWN/…` sections. */
  sections(): string[] {
    return [...this.#sections.keys()].filter((n) => !n.startsWith("KNOWN/"));
  }

  /** Whether `section` exists (`DEFAULT` is not a section). */
  hasSection(section: string): boolean {
    return this.#sections.has(section);
  }

  /** Whether `option` is set in `section` (or, with `withDefault`, in `[DEFAULT]`). */
  hasOption(section: string, option: string, withDefault = true): boolean {
    const key = optionXform(option);
    const sec = this.#sections.get(section);
    if (sec?.has(key)) return true;
    if (!withDefault) return false;
    return this.#defaults.has(key);
  }

  /** Whether `option` is set in `[DEFAULT]`. */
  hasDefault(option: string): boolean {
    return this.#defaults.has(optionXform(option));
  }

  /** Option names of `section`, own ones only unless `withDefault`. */
  options(section: string, withDefault = false): string[] {
    const sec = this.#sections.get(section);
    if (!sec) throw new NoSectionError(section, this.#files);
    const names = [...sec.keys()];
    if (withDefault) { for (const k of this.#defaults.keys()) if (!sec.has(k)) names.push(k); }
    return names;
  }

  /** Where an option's raw value came from (section first, then `[DEFAULT]`). */
  source(section: string, option: string): ConfigValue | undefined {
    const key = optionXform(option);
    return this.#sections.get(section)?.get(key) ?? this.#defaults.get(key);
  }

  /** Adds `[DEFAULT]` values set by code (like fail2ban's `fail2ban_version`). */
  mergeDefaults(values: Record<string, string>): void {
    for (const [k, v] of Object.entries(values)) {
      this.#defaults.set(optionXform(k), { value: v, file: "", line: 0, lines: [0] });
    }
  }

  /**
   * Merges values into `section` (created when missing); with `prefix`, each name gets it
   * (names already starting with it and `__name__` are skipped), as fail2ban stores a filter's
   * options in a jail as `known/NAME`.
   */
  mergeSection(
    section: string,
    values: Map<string, ConfigValue> | Record<string, string>,
    prefix = "",
  ): void {
    let sec = this.#sections.get(section);
    if (!sec) this.#sections.set(section, sec = new Map());
    const entries: Array<[string, ConfigValue]> = values instanceof Map
      ? [...values]
      : Object.entries(values).map(([k, v]) => [k, { value: v, file: "", line: 0, lines: [0] }]);
    for (const [k, v] of entries) {
      if (prefix && (k.startsWith(prefix) || k === "__name__")) continue;
      sec.set(prefix + k, v);
    }
  }

  /**
   * An option value, interpolated unless `raw`: looked up in `vars`, then `section`, then
   * `[DEFAULT]` (configparser's order).
   *
   * @throws {NoSectionError} when `section` is missing (and is not `DEFAULT`).
   * @throws {NoOptionError} when the option is missing.
   * @throws {ConfigError} for a bad or unresolvable `%(…)s` reference.
   */
  get(
    section: string,
    option: string,
    opts: { raw?: boolean; vars?: Record<string, string> | undefined } = {},
  ): string {
    const sec = this.#sections.get(section);
    if (!sec && section !== "DEFAULT") throw new NoSectionError(section, this.#files);
    const vars = new Map<string, string>();
    if (opts.vars) { for (const [k, v] of Object.entries(opts.vars)) vars.set(optionXform(k), v); }
    const key = optionXform(option);
    const value = vars.get(key) ?? sec?.get(key)?.value ?? this.#defaults.get(key)?.value;
    if (value === undefined) throw new NoOptionError(section, key, this.#files);
    if (opts.raw) return value;
    const accum: string[] = [];
    this.#interpolate(section, key, value, value, accum, vars, 1);
    return accum.join("");
  }

  /**
   * Like {@link get}, but an option name `sec/opt` reads `opt` of section `sec` first
   * (`known/opt`: the value before the last override, then the current section), as fail2ban's
   * `get_ex`.
   */
  getEx(section: string, option: string, vars?: Record<string, string>): string {
    const m = option.includes("/") ? SECTION_OPTNAME_RE.exec(option) : null;
    if (m) {
      const sec = m[1]!;
      const opt = m[2]!;
      const lower = sec.toLowerCase();
      const candidates = lower === "known"
        ? [`KNOWN/${section}`, section]
        : [lower === "default" ? "DEFAULT" : sec];
      for (const c of candidates) {
        try {
          return this.get(c, opt);
        } catch (e) {
          if (!(e instanceof NoSectionError || e instanceof NoOptionError)) throw e;
        }
      }
    }
    return this.get(section, option, { vars });
  }

  #mapSectionOptions(
    section: string,
    rest: string,
    overlay: Map<string, string>,
    lookup: (k: string) => string | undefined,
  ): void {
    if (!rest.includes("/") || !rest.includes("%(")) return;
    for (const m of rest.matchAll(SECTION_OPT_SUBST_RE)) {
      const sopt = m[1]!;
      const opt = m[2]!;
      const key = optionXform(sopt);
      if (lookup(key) !== undefined) continue;
      const sec = sopt.slice(0, sopt.length - opt.length - 1);
      const lower = sec.toLowerCase();
      let v: string | undefined;
      let useDefault = false;
      if (lower === "default") {
        useDefault = true;
      } else if (lower === "known") {
        v = this.#sections.get(`KNOWN/${section}`)?.get(opt)?.value;
        if (v === undefined) useDefault = true;
      } else {
        const s = this.#sections.get(sec);
        if (!s) continue;
        v = s.get(opt)?.value;
        if (v === undefined) useDefault = true;
      }
      if (useDefault) v = this.#defaults.get(opt)?.value;
      if (v === undefined) continue;
      overlay.set(key, v);
    }
  }

  #where(section: string, option: string): string {
    const src = this.source(section, option);
    return src && src.file ? ` (${src.file}:${src.line})` : "";
  }

  #interpolate(
    section: string,
    option: string,
    rawval: string,
    text: string,
    accum: string[],
    overlay: Map<string, string>,
    depth: number,
  ): void {
    // fail2ban sets __name__ and resolves %(section/option)s at every nesting level.
    const sec = this.#sections.get(section);
    const vars = new Map(overlay);
    vars.set("__name__", section);
    const lookup = (k: string) => vars.get(k) ?? sec?.get(k)?.value ?? this.#defaults.get(k)?.value;
    this.#mapSectionOptions(section, text, vars, lookup);
    if (depth > MAX_INTERPOLATION_DEPTH) {
      throw new ConfigError(
        `Cannot interpolate option "${option}" in section [${section}]${
          this.#where(section, option)
        }: references nested deeper than ${MAX_INTERPOLATION_DEPTH} (a loop?) in ${
          JSON.stringify(rawval)
        }`,
        { file: this.source(section, option)?.file, section, option },
      );
    }
    let rest = text;
    while (rest) {
      const p = rest.indexOf("%");
      if (p < 0) {
        accum.push(rest);
        return;
      }
      if (p > 0) {
        accum.push(rest.slice(0, p));
        rest = rest.slice(p);
      }
      const c = rest.slice(1, 2);
      if (c === "%") {
        accum.push("%");
        rest = rest.slice(2);
      } else if (c === "(") {
        const m = KEY_RE.exec(rest);
        if (!m) {
          throw new ConfigError(
            `Cannot interpolate option "${option}" in section [${section}]${
              this.#where(section, option)
            }: bad reference ${JSON.stringify(rest)} (write "%(name)s", or "%%" for a "%")`,
            { file: this.source(section, option)?.file, section, option },
          );
        }
        const name = optionXform(m[1]!);
        rest = rest.slice(m[0].length);
        const v = lookup(name);
        if (v === undefined) {
          throw new ConfigError(
            `Cannot interpolate option "${option}" in section [${section}]${
              this.#where(section, option)
            }: "%(${m[1]})s" refers to an option not defined in [${section}] or [DEFAULT]`,
            { file: this.source(section, option)?.file, section, option },
          );
        }
        if (v.includes("%")) {
          this.#interpolate(section, option, rawval, v, accum, vars, depth + 1);
        } else {
          accum.push(v);
        }
      } else {
        throw new ConfigError(
          `Cannot interpolate option "${option}" in section [${section}]${
            this.#where(section, option)
          }: "%" must be followed by "%" or "(", found ${JSON.stringify(rest)}`,
          { file: this.source(section, option)?.file, section, option },
        );
      }
    }
  }
}
