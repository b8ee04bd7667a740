/**
 * Reads fail2ban's jails (`jail.conf`, `jail.d/*.conf`, `jail.local`, `jail.d/*.local` with
 * `paths-*.conf` includes) and server settings (`fail2ban.conf` and layers) into
 * {@link JailSpec}s and a {@link ServerSpec}, the way `fail2ban-client` does before it sends
 * them to the server.
 *
 * @module
 */

import { asBool } from "./_definition_init.ts";
import { readAction, UnsupportedActionError } from "./action_reader.ts";
import { ConfigError, ConfigReader, NoOptionError, NoSectionError } from "./config_reader.ts";
import { parseDuration } from "./duration.ts";
import { FILTER_OPTIONS, FilterReader } from "./filter_reader.ts";
import type { IniFile } from "./ini_parser.ts";
import { actionNotes, backendNote, logEncodingProblem, serverNotes } from "./migration.ts";
import { parseReference, splitWithOptions } from "./reference.ts";
import { parseIgnoreEntry } from "../net/ignore_entry.ts";
import type {
  ActionSpec,
  FilterSpec,
  JailSpec,
  PythonActionRef,
  ServerSpec,
  StreamValue,
} from "./types.ts";

/** The fail2ban version this reader mirrors (`%(fail2ban_version)s`). */
export const FAIL2BAN_VERSION = "1.0.2";

/** A jail that cannot start because of its configuration. */
export class JailConfigError extends ConfigError {
  /** The jail (section) name. */
  readonly jail: string;
  /** Builds the error for `jail`: `Cannot start jail "sshd": DETAIL`. */
  constructor(
    jail: string,
    detail: string,
    where: {
      file?: string | undefined;
      section?: string | undefined;
      option?: string | undefined;
    } = {},
    options?: ErrorOptions,
  ) {
    super(`Cannot start jail "${jail}": ${detail}`, { section: jail, ...where }, options);
    this.name = "JailConfigError";
    this.jail = jail;
  }
}

/** Options for {@link readJails}. */
export interface ReadJailsOptions {
  /** Return only enabled jails (as fail2ban starts them). @default true */
  onlyEnabled?: boolean;
  /**
   * Called for each jail that cannot be loaded; that jail is skipped and the others load, as
   * fail2ban does. Without it, {@link readJails} throws the error (an `AggregateError` of
   * {@link JailConfigError}s when several jails fail).
   */
  onError?: (error: JailConfigError) => void;
}

type OptType = "bool" | "int" | "string";

/** Jail options fail2ban reads first (to decide whether the jail is enabled). */
const JAIL_OPTIONS_FIRST: ReadonlyArray<[OptType, string, string | null]> = [
  ["bool", "enabled", "false"],
  ["string", "backend", "auto"],
  ["string", "filter", ""],
];

/** All jail options fail2ban reads (with filter options a jail may override). */
const JAIL_OPTIONS: ReadonlyArray<[OptType, string, string | null]> = [
  ["bool", "enabled", "false"],
  ["string", "backend", "auto"],
  ["int", "maxretry", null],
  ["int", "maxmatches", null],
  ["string", "findtime", null],
  ["string", "bantime", null],
  ["bool", "bantime.increment", null],
  ["string", "bantime.factor", null],
  ["string", "bantime.formula", null],
  ["string", "bantime.multipliers", null],
  ["string", "bantime.maxtime", null],
  ["string", "bantime.rndtime", null],
  ["bool", "bantime.overalljails", null],
  ["string", "ignorecommand", null],
  ["bool", "ignoreself", null],
  ["string", "ignoreip", null],
  ["string", "ignorecache", null],
  ["string", "filter", ""],
  ["string", "logtimezone", null],
  ["string", "logencoding", null],
  ["string", "logpath", null],
  ["string", "action", ""],
  ...Object.entries(FILTER_OPTIONS).map(([n, t]) =>
    [t === "int" ? "int" : "string", n, null] as [OptType, string, null]
  ),
];

/** Jail option values: the text as read plus its Python rendering (what fail2ban interpolates). */
interface JailOpts {
  /** Values as read (interpolated text). */
  text: Record<string, string>;
  /** Values as fail2ban passes them to filters and actions (`True`, `5`). */
  py: Record<string, string>;
  /** Values in read order with Python's types (a bad int is null), as fail2ban streams them. */
  stream: Array<[string, StreamValue]>;
}

const INT_RE = /^\s*[+-]?\d+(?:_\d+)*\s*$/;

/** fail2ban's `splitwords`: split on spaces, commas and new lines, dropping empty items. */
export function splitWords(s: string): string[] {
  return s.split(/[ ,\n]+/).map((v) => v.trim()).filter((v) => v !== "");
}

/**
 * A filter with no regex and fail2ban's defaults (maxlines 1, no date pattern,
 * no journal match): what a jail has before its filter is read or set.
 */
export function emptyFilter(name = ""): FilterSpec {
  return {
    name,
    file: null,
    prefregex: null,
    failregex: [],
    ignoreregex: [],
    datepattern: null,
    maxlines: 1,
    journalmatch: null,
    logtimezone: null,
    options: {},
  };
}

/**
 * Optimal string alignment distance (Levenshtein plus adjacent transposition), or `limit + 1`
 * once it is certain to exceed `limit`.
 */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, prev2[j - 2]! + 1);
      }
      row.push(d);
      if (d < best) best = d;
    }
    if (best > limit) return limit + 1;
    prev2 = prev;
    prev = row;
  }
  return prev[b.length]!;
}

/** Jail options a misspelled name is compared with. */
const SPELLED_OPTIONS: readonly string[] = [
  ...new Set([...JAIL_OPTIONS.map(([, n]) => n), ...Object.keys(FILTER_OPTIONS)]),
];

/**
 * The known jail option `name` looks like a misspelling of (one edit away, two for names of six
 * characters or more), or null.
 */
export function misspelledOption(name: string): string | null {
  if (SPELLED_OPTIONS.includes(name)) return null;
  const limit = name.length >= 6 ? 2 : 1;
  let best: string | null = null;
  let bestDistance = limit + 1;
  for (const known of SPELLED_OPTIONS) {
    const d = editDistance(name, known, limit);
    if (d < bestDistance) {
      best = known;
      bestDistance = d;
    }
  }
  return best;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/** Reads all jails of one configuration directory (the shared part of {@link readJails}). */
class JailsLoader {
  readonly #dir: string;
  readonly #cfg: ConfigReader;
  readonly #cache = new Map<string, IniFile | null>();

  constructor(configDir: string) {
    this.#dir = configDir.replace(/\/+$/, "") || "/";
    this.#cfg = new ConfigReader(this.#dir, { cache: this.#cache });
    const files = this.#cfg.read("jail");
    if (!files.length) {
      throw new ConfigError(
        `No jail configuration found in "${this.#dir}" (looked in ${
          this.#cfg.candidateFiles("jail").join(", ")
        })`,
        { file: `${this.#dir}/jail.conf` },
      );
    }
    this.#cfg.mergeDefaults({ fail2ban_version: FAIL2BAN_VERSION, fail2ban_confpath: this.#dir });
  }

  sections(): string[] {
    return this.#cfg.sections().filter((s) => s !== "INCLUDES");
  }

  #where(jail: string, option: string): { file?: string; section: string; option: string } {
    const src = this.#cfg.source(jail, option);
    return src?.file ? { file: src.file, section: jail, option } : { section: jail, option };
  }

  #at(jail: string, option: string): string {
    const src = this.#cfg.source(jail, option);
    return src?.file ? ` (${src.file}:${src.line})` : "";
  }

  /** fail2ban's getOptions: read, default, convert (bad numbers warn and fall back). */
  #getOpts(
    jail: string,
    spec: ReadonlyArray<[OptType, string, string | null]>,
    warnings: string[],
  ): JailOpts {
    const text: Record<string, string> = {};
    const py: Record<string, string> = {};
    const stream: Array<[string, StreamValue]> = [];
    for (const [type, name, dflt] of spec) {
      let v: string;
      try {
        v = this.#cfg.get(jail, name);
      } catch (e) {
        if (e instanceof NoOptionError) {
          if (dflt === null) continue;
          v = dflt;
        } else if (e instanceof ConfigError) {
          throw new JailConfigError(jail, e.message, this.#where(jail, name), { cause: e });
        } else throw e;
      }
      if (type === "int") {
        if (!INT_RE.test(v)) {
          warnings.push(
            `Jail "${jail}"${this.#at(jail, name)}: ${name} ${
              JSON.stringify(v)
            } is not an integer, ignored (fail2ban uses its default)`,
          );
          stream.push([name, dflt === null ? null : Number.parseInt(dflt, 10)]);
          continue;
        }
        const n = Number.parseInt(v.replaceAll("_", ""), 10);
        text[name] = String(n);
        py[name] = String(n);
        stream.push([name, n]);
      } else if (type === "bool") {
        text[name] = v;
        py[name] = asBool(v) ? "True" : "False";
        stream.push([name, asBool(v)]);
      } else {
        text[name] = v;
        py[name] = v;
        stream.push([name, v]);
      }
    }
    return { text, py, stream };
  }

  #duration(jail: string, opts: JailOpts, name: string, dflt: number): number {
    const v = opts.text[name];
    if (v === undefined) return dflt;
    try {
      return parseDuration(v);
    } catch (e) {
      throw new JailConfigError(
        jail,
        `${name}${this.#at(jail, name)}: ${(e as Error).message}`,
        this.#where(jail, name),
      );
    }
  }

  #number(jail: string, opts: JailOpts, name: string, dflt: number): number {
    const v = opts.text[name];
    if (v === undefined) return dflt;
    const n = Number(v.trim());
    if (v.trim() === "" || !Number.isFinite(n)) {
      throw new JailConfigError(
        jail,
        `${name}${this.#at(jail, name)}: ${JSON.stringify(v)} is not a number`,
        this.#where(jail, name),
      );
    }
    return n;
  }

  /** Whether a jail is enabled (reading only what fail2ban reads first). */
  isEnabled(jail: string): boolean {
    try {
      return asBool(this.#cfg.get(jail, "enabled"));
    } catch (e) {
      if (e instanceof NoOptionError) return false;
      throw new JailConfigError(jail, (e as Error).message, this.#where(jail, "enabled"), {
        cause: e,
      });
    }
  }

  /**
   * Options of the jail's own section that nothing reads and that look like a misspelled jail
   * option (`maxretyr`): fail2ban takes unknown options silently (they may serve interpolation),
   * and so does f2b, with a warning naming file, section and key.
   */
  #misspellings(jail: string, filter: FilterSpec, actions: ActionSpec[]): string[] {
    const out: string[] = [];
    for (const name of this.#cfg.options(jail, false)) {
      if (name.startsWith("known/") || name === "__name__" || name in filter.options) continue;
      // A [DEFAULT] value overridden here (action_, banaction) is an interpolation variable.
      if (this.#cfg.hasDefault(name) || actions.some((a) => name in a.properties)) continue;
      const near = misspelledOption(name);
      if (near === null) continue;
      const src = this.#cfg.source(jail, name);
      out.push(
        `Unknown option "${name}" in jail "${jail}"${
          src?.file ? ` (${src.file}:${src.line} [${jail}] ${name})` : ""
        }: not a jail option, kept for interpolation only; did you mean "${near}"?`,
      );
    }
    return out;
  }

  /** Builds the spec of one jail, as fail2ban's JailReader. */
  load(jail: string): JailSpec {
    const warnings: string[] = [];
    const first = this.#getOpts(jail, JAIL_OPTIONS_FIRST, warnings);
    const enabled = asBool(first.text.enabled ?? "false");

    let filter: FilterReader | null = null;
    const flt = first.text.filter ?? "";
    if (flt) {
      let ref;
      try {
        ref = parseReference(flt);
      } catch (e) {
        throw new JailConfigError(
          jail,
          `invalid filter definition ${JSON.stringify(flt)}${this.#at(jail, "filter")}: ${
            (e as Error).message
          }`,
          this.#where(jail, "filter"),
        );
      }
      filter = new FilterReader(this.#dir, ref.name, { ...ref.options }, { cache: this.#cache });
      try {
        filter.read();
        filter.applyAutoOptions(first.text.backend ?? "auto");
        filter.getOptions(first.py, true);
        const combined = filter.getCombined();
        this.#cfg.mergeSection(jail, Object.fromEntries(combined), "known/");
      } catch (e) {
        if (!(e instanceof ConfigError || e instanceof SyntaxError)) throw e;
        throw new JailConfigError(jail, lowerFirst(e.message), {
          file: e instanceof ConfigError ? e.file : undefined,
          section: jail,
          option: "filter",
        }, { cause: e });
      }
    } else {
      warnings.push(`No filter set for jail "${jail}"`);
    }

    const opts = this.#getOpts(jail, JAIL_OPTIONS, warnings);
    let filterSpec = emptyFilter();
    if (filter) {
      try {
        filter.getOptions(opts.py);
        const own: Record<string, string> = {};
        for (const k of [...Object.keys(FILTER_OPTIONS), "logtimezone"]) {
          if (k === "usedns") continue;
          const v = opts.text[k];
          if (v !== undefined) own[k] = v;
        }
        const origin = (() => {
          const src = this.#cfg.source(jail, "failregex");
          return src?.file ? `${src.file} [${jail}]` : `jail "${jail}"`;
        })();
        filterSpec = filter.toSpec(own, origin);
      } catch (e) {
        if (!(e instanceof ConfigError || e instanceof SyntaxError)) throw e;
        throw new JailConfigError(jail, lowerFirst(e.message), { section: jail }, { cause: e });
      }
    } else if (opts.text.failregex !== undefined || opts.text.ignoreregex !== undefined) {
      const lines = (o: string) =>
        (opts.text[o] ?? "").split("\n").flatMap((p, i) =>
          p === "" ? [] : [{ pattern: p, origin: `jail "${jail}" ${o} line ${i + 1}` }]
        );
      filterSpec = {
        ...filterSpec,
        failregex: lines("failregex"),
        ignoreregex: lines("ignoreregex"),
      };
    }

    const actions: ActionSpec[] = [];
    const pythonActions: PythonActionRef[] = [];
    for (const raw of splitWithOptions(opts.text.action ?? "")) {
      const act = raw.trim();
      if (!act) continue;
      let ref;
      try {
        ref = parseReference(act);
      } catch (e) {
        throw new JailConfigError(
          jail,
          `invalid action definition ${JSON.stringify(act)}${this.#at(jail, "action")}: ${
            (e as Error).message
          }`,
          this.#where(jail, "action"),
        );
      }
      try {
        actions.push(
          readAction(this.#dir, ref, opts.py, { jailName: jail, cache: this.#cache }),
        );
      } catch (e) {
        if (e instanceof UnsupportedActionError) {
          const src = this.#cfg.source(jail, "action");
          warnings.push(
            src?.file ? `${e.message}; set in ${src.file}:${src.line} [${jail}] action` : e.message,
          );
          const { actname, ...rest } = ref.options;
          pythonActions.push({
            name: actname ?? ref.name.replace(/\.py$/, ""),
            file: e.file ?? ref.name,
            options: rest,
            position: actions.length,
          });
          continue;
        }
        if (!(e instanceof ConfigError || e instanceof SyntaxError)) throw e;
        throw new JailConfigError(
          jail,
          `${lowerFirst(e.message)}${this.#at(jail, "action")}`,
          { file: e instanceof ConfigError ? e.file : undefined, section: jail, option: "action" },
          { cause: e },
        );
      }
    }
    if (!actions.length) warnings.push(`No actions were defined for jail "${jail}"`);
    warnings.push(...actionNotes({ name: jail, actions }));

    const backend = opts.text.backend ?? "auto";
    let backendProblem: string | null;
    try {
      backendProblem = backendNote(backend);
    } catch (e) {
      throw new JailConfigError(
        jail,
        `${(e as Error).message}${this.#at(jail, "backend")}`,
        this.#where(jail, "backend"),
      );
    }
    if (backendProblem) {
      warnings.push(`Jail "${jail}"${this.#at(jail, "backend")}: ${backendProblem}`);
    }
    const encodingProblem = opts.text.logencoding === undefined
      ? null
      : logEncodingProblem(opts.text.logencoding);
    if (encodingProblem) {
      throw new JailConfigError(
        jail,
        `${encodingProblem}${this.#at(jail, "logencoding")}`,
        this.#where(jail, "logencoding"),
      );
    }
    const logpath: string[] = [];
    const logpathTail: boolean[] = [];
    if (opts.text.logpath !== undefined && !backend.startsWith("systemd")) {
      for (const line of opts.text.logpath.split("\n")) {
        const sp = line.lastIndexOf(" ");
        const path = sp >= 0 ? line.slice(0, sp) : line;
        const mode = sp >= 0 ? line.slice(sp + 1) : "head";
        if (mode.toLowerCase() !== "head" && mode.toLowerCase() !== "tail") {
          throw new JailConfigError(
            jail,
            `logpath${this.#at(jail, "logpath")}: ${
              JSON.stringify(line)
            } must be a path optionally followed by " head" or " tail"`,
            this.#where(jail, "logpath"),
          );
        }
        logpath.push(path);
        logpathTail.push(mode.toLowerCase() === "tail");
      }
    }

    const maxretry = opts.text.maxretry !== undefined ? Number(opts.text.maxretry) : 3;
    const multipliers = (opts.text["bantime.multipliers"] ?? "").split(/\s+/).filter((x) => x);
    const badMult = multipliers.find((m) => !INT_RE.test(m));
    if (badMult !== undefined) {
      throw new JailConfigError(
        jail,
        `bantime.multipliers${this.#at(jail, "bantime.multipliers")}: ${
          JSON.stringify(badMult)
        } is not an integer`,
        this.#where(jail, "bantime.multipliers"),
      );
    }
    const options: Record<string, string> = {};
    for (const name of this.#cfg.options(jail, true)) {
      if (name.startsWith("known/") || name === "__name__") continue;
      try {
        options[name] = this.#cfg.get(jail, name);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
      }
    }
    const ignoreip = splitWords(opts.text.ignoreip ?? "");
    for (const entry of ignoreip) {
      try {
        parseIgnoreEntry(entry);
      } catch (e) {
        throw new JailConfigError(
          jail,
          `ignoreip${this.#at(jail, "ignoreip")}: ${(e as Error).message}`,
          this.#where(jail, "ignoreip"),
          { cause: e },
        );
      }
    }
    warnings.push(...this.#misspellings(jail, filterSpec, actions));
    const nonEmpty = (v: string | undefined) => (v === undefined || v === "" ? null : v);
    return {
      name: jail,
      enabled,
      backend,
      logpath,
      logpathTail,
      logencoding: opts.text.logencoding ?? "auto",
      filter: filterSpec,
      actions,
      maxretry,
      findtime: this.#duration(jail, opts, "findtime", 600),
      bantime: this.#duration(jail, opts, "bantime", 600),
      maxmatches: opts.text.maxmatches !== undefined ? Number(opts.text.maxmatches) : maxretry,
      ignoreip,
      ignoreself: asBool(opts.text.ignoreself ?? "true"),
      ignorecommand: nonEmpty(opts.text.ignorecommand),
      ignorecache: nonEmpty(opts.text.ignorecache),
      usedns: opts.text.usedns ?? filterSpec.options.usedns ?? "warn",
      bantimeIncrement: {
        enabled: asBool(opts.text["bantime.increment"] ?? "false"),
        factor: this.#number(jail, opts, "bantime.factor", 1),
        formula: nonEmpty(opts.text["bantime.formula"]),
        multipliers: multipliers.map((m) => Number.parseInt(m, 10)),
        maxtime: nonEmpty(opts.text["bantime.maxtime"]) === null
          ? null
          : this.#duration(jail, opts, "bantime.maxtime", 0),
        rndtime: nonEmpty(opts.text["bantime.rndtime"]) === null
          ? null
          : this.#duration(jail, opts, "bantime.rndtime", 0),
        overalljails: asBool(opts.text["bantime.overalljails"] ?? "false"),
      },
      options,
      warnings,
      streamOptions: opts.stream,
      pythonActions,
    };
  }
}

/**
 * Reads the jails of a configuration directory as `fail2ban-client` does: each jail section of
 * `jail.conf`/`jail.d`/`jail.local` (DEFAULT inherited, `%(…)s` resolved, action macros such as
 * `%(action_mwl)s` expanded), with its filter and actions.
 *
 * @param configDir The configuration directory (`/etc/fail2ban`).
 * @throws {ConfigError} when there is no jail configuration at all.
 * @throws {JailConfigError} (or an `AggregateError` of them) for broken jails, unless
 *   `options.onError` is given (then broken jails are reported there and skipped).
 *
 * @example
 * ```ts ignore
 * import { readJails } from "./jail_reader.ts";
 * const jails = readJails("/etc/fail2ban", { onError: (e) => console.error(e.message) });
 * console.log(jails.map((j) => j.name));
 * ```
 */
export function readJails(configDir: string, options: ReadJailsOptions = {}): JailSpec[] {
  const loader = new JailsLoader(configDir);
  const onlyEnabled = options.onlyEnabled ?? true;
  const jails: JailSpec[] = [];
  const errors: JailConfigError[] = [];
  for (const name of loader.sections()) {
    try {
      if (onlyEnabled && !loader.isEnabled(name)) continue;
      jails.push(loader.load(name));
    } catch (e) {
      if (!(e instanceof JailConfigError)) {
        if (e instanceof ConfigError || e instanceof SyntaxError) {
          errors.push(new JailConfigError(name, lowerFirst(e.message), {}, { cause: e }));
          continue;
        }
        throw e;
      }
      errors.push(e);
    }
  }
  if (errors.length) {
    if (options.onError) {
      for (const e of errors) options.onError(e);
    } else if (errors.length === 1) {
      throw errors[0];
    } else {
      throw new AggregateError(
        errors,
        `${errors.length} jails cannot start: ${errors.map((e) => e.message).join("; ")}`,
      );
    }
  }
  return jails;
}

/**
 * Reads server settings from `fail2ban.conf` (+ `fail2ban.d/*.conf`, `fail2ban.local`,
 * `fail2ban.d/*.local`) `[Definition]`, with fail2ban's defaults for missing options.
 *
 * @throws {ConfigError} for an unresolvable value, a bad `dbpurgeage` or `dbmaxmatches`.
 */
export function readServerConfig(configDir: string): ServerSpec {
  const cfg = new ConfigReader(configDir);
  cfg.read("fail2ban");
  const get = (name: string, dflt: string): string => {
    try {
      return cfg.get("Definition", name);
    } catch (e) {
      if (e instanceof NoOptionError || e instanceof NoSectionError) return dflt;
      throw e;
    }
  };
  const where = (name: string) => {
    const src = cfg.source("Definition", name);
    return src?.file ? ` (${src.file}:${src.line})` : "";
  };
  let dbpurgeage: number;
  const purge = get("dbpurgeage", "1d");
  try {
    dbpurgeage = parseDuration(purge);
  } catch (e) {
    throw new ConfigError(
      `fail2ban.conf [Definition] dbpurgeage${where("dbpurgeage")}: ${(e as Error).message}`,
      {
        file: cfg.source("Definition", "dbpurgeage")?.file,
        section: "Definition",
        option: "dbpurgeage",
      },
    );
  }
  const maxMatchesText = get("dbmaxmatches", "10");
  if (!INT_RE.test(maxMatchesText)) {
    throw new ConfigError(
      `fail2ban.conf [Definition] dbmaxmatches${where("dbmaxmatches")}: ${
        JSON.stringify(maxMatchesText)
      } is not an integer`,
      {
        file: cfg.source("Definition", "dbmaxmatches")?.file,
        section: "Definition",
        option: "dbmaxmatches",
      },
    );
  }
  const spec: ServerSpec = {
    loglevel: get("loglevel", "INFO"),
    logtarget: get("logtarget", "/var/log/fail2ban.log"),
    syslogsocket: get("syslogsocket", "auto"),
    socket: get("socket", "/var/run/fail2ban/fail2ban.sock"),
    pidfile: get("pidfile", "/var/run/fail2ban/fail2ban.pid"),
    dbfile: get("dbfile", "/var/lib/fail2ban/fail2ban.sqlite3"),
    dbpurgeage,
    dbmaxmatches: Number.parseInt(maxMatchesText, 10),
    allowipv6: get("allowipv6", "auto"),
  };
  let stacksize: string | undefined;
  try {
    stacksize = cfg.get("Thread", "stacksize");
  } catch (e) {
    if (!(e instanceof NoOptionError || e instanceof NoSectionError)) throw e;
  }
  const at = (section: string, option: string) => {
    const src = cfg.source(section, option);
    return src?.file ? ` (${src.file}:${src.line})` : "";
  };
  const warnings = serverNotes(spec, stacksize, at);
  if (warnings.length) spec.warnings = warnings;
  return spec;
}
