/**
 * Reads a fail2ban filter (`filter.d/NAME.conf` with `.local` and `.d/` layers, `[INCLUDES]`,
 * `[Definition]`, `[Init]` and the reference's arguments) into a {@link FilterSpec}.
 *
 * @module
 */

import { DefinitionInitReader, type OptionType } from "./_definition_init.ts";
import { ConfigError, joinPath } from "./config_reader.ts";
import type { IniFile } from "./ini_parser.ts";
import { parseReference, type Reference } from "./reference.ts";
import type { FilterSpec, RegexSource, StreamValue } from "./types.ts";

/** Python's int() syntax (after interpolation). */
const INT_RE = /^\s*[+-]?\d+(?:_\d+)*\s*$/;

/** Options of a filter that fail2ban reads from `[Definition]` (and a jail may override). */
export const FILTER_OPTIONS: Readonly<Record<string, OptionType>> = {
  usedns: "string",
  prefregex: "string",
  ignoreregex: "string",
  failregex: "string",
  maxlines: "int",
  datepattern: "string",
  journalmatch: "string",
};

function isFile(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

/** Options for {@link FilterReader}. */
export interface FilterReaderOptions {
  /** Parsed-file cache shared between readers. */
  cache?: Map<string, IniFile | null>;
  /** Told the files {@link readFilter} read, in merge order (`f2b regex -l info` lists them). */
  onRead?: (files: readonly string[]) => void;
}

/**
 * A filter being read, in fail2ban's steps (the jail reader drives them; {@link readFilter} runs
 * them all): {@link FilterReader.read}, {@link FilterReader.applyAutoOptions},
 * {@link FilterReader.getOptions} (twice, as fail2ban does: once with the jail's first options
 * and `all`, then with all jail options), {@link FilterReader.toSpec}.
 */
export class FilterReader {
  /** The filter name without options: `sshd`. */
  readonly name: string;
  /** The reader of the filter file. */
  readonly def: DefinitionInitReader;
  readonly #configDir: string;
  readonly #explicitFile: string | null;
  #files: string[] = [];
  #allOptions = new Map<string, string>();

  /** A reader for filter `name` (or a path to a filter file) with reference arguments `options`. */
  constructor(
    configDir: string,
    name: string,
    options: Record<string, string> = {},
    readerOptions: FilterReaderOptions = {},
  ) {
    this.#configDir = configDir;
    let explicit: string | null = null;
    if (name.includes("/")) {
      if (isFile(name)) explicit = name;
      else if (isFile(`${name}.conf`)) explicit = `${name}.conf`;
    }
    this.#explicitFile = explicit;
    this.name = explicit
      ? explicit.slice(explicit.lastIndexOf("/") + 1).replace(/\.(conf|local)$/, "")
      : name;
    this.def = new DefinitionInitReader(
      configDir,
      explicit ?? joinPath("filter.d", name),
      options,
      FILTER_OPTIONS,
      readerOptions.cache,
      explicit !== null,
    );
  }

  /** Files read, in merge order. */
  get files(): readonly string[] {
    return this.#files;
  }

  /** The main filter file (the first layer file read), or null before reading. */
  get mainFile(): string | null {
    const own = this.#explicitFile ??
      this.def.cfg.candidateFiles(joinPath("filter.d", this.name)).find((f) =>
        this.#files.includes(f)
      );
    return own ?? this.#files[0] ?? null;
  }

  /**
   * Reads the filter files.
   *
   * @throws {ConfigError} listing the paths looked at when the filter does not exist.
   */
  read(): void {
    this.#files = this.def.read();
    if (!this.#files.length) {
      const looked = this.#explicitFile
        ? [this.#explicitFile]
        : this.def.cfg.candidateFiles(joinPath("filter.d", this.name));
      throw new ConfigError(
        `Filter "${this.name}" not found in ${joinPath(this.#configDir, "filter.d")} (looked in ${
          looked.join(", ")
        })`,
        { file: looked[0] },
      );
    }
  }

  /** Sets `logtype` (`file`, or `journal` for a systemd backend) unless the filter sets it. */
  applyAutoOptions(backend: string): void {
    if (
      !this.def.initOpts.get("logtype") && !this.def.cfg.hasOption("Definition", "logtype", false)
    ) {
      this.def.initOpts.set("logtype", backend.startsWith("systemd") ? "journal" : "file");
    }
  }

  /** Reads options with the jail's options `pOpts` (see {@link DefinitionInitReader.getOptions}). */
  getOptions(pOpts: Record<string, string>, all = false): void {
    this.def.getOptions(pOpts, all);
    if (all) { for (const [k, v] of this.def.getCombined()) this.#allOptions.set(k, v); }
  }

  /** Combined options (known options and init options with tags resolved). */
  getCombined(): Map<string, string> {
    return this.def.getCombined();
  }

  #origins(option: string, value: string): RegexSource[] {
    const src = this.def.cfg.source("Definition", option);
    const lines = value.split("\n");
    const fromInit = this.def.initOpts.has(option);
    const out: RegexSource[] = [];
    const rawCount = src ? src.value.split("\n").length : -1;
    for (let i = 0; i < lines.length; i++) {
      const pattern = lines[i]!;
      if (pattern === "") continue;
      let origin: string;
      if (fromInit || !src) {
        origin = `filter "${this.name}" option ${option} line ${i + 1}`;
      } else {
        const where = `${src.file || "(set by code)"} [Definition] ${option}`;
        // Interpolation may change the line count: then name the option line and the item.
        origin = rawCount === lines.length
          ? `${where} line ${src.lines[i] ?? src.line}`
          : `${where} line ${src.line} (item ${i + 1} after interpolation)`;
      }
      out.push({ pattern, origin });
    }
    return out;
  }

  /**
   * The filter's spec. `jailOptions` are the jail's own filter-related options (fail2ban sends
   * those after the filter's: a jail's `failregex` adds lines, its `maxlines` etc. replace).
   */
  toSpec(jailOptions: Record<string, string> = {}, jailOrigin = "jail"): FilterSpec {
    const opts = this.getCombined();
    const options: Record<string, string> = {};
    for (const [k, v] of this.#allOptions) options[k] = v;
    for (const [k, v] of opts) options[k] = v;
    const jailLines = (opt: string): RegexSource[] =>
      (jailOptions[opt] ?? "").split("\n").flatMap((p, i) =>
        p === "" ? [] : [{ pattern: p, origin: `${jailOrigin} ${opt} line ${i + 1}` }]
      );
    const scalar = (opt: string): string | undefined => jailOptions[opt] ?? opts.get(opt);
    const failregex = [
      ...(opts.has("failregex") ? this.#origins("failregex", opts.get("failregex")!) : []),
      ...jailLines("failregex"),
    ];
    const ignoreregex = [
      ...(opts.has("ignoreregex") ? this.#origins("ignoreregex", opts.get("ignoreregex")!) : []),
      ...jailLines("ignoreregex"),
    ];
    let prefregex: RegexSource | null = null;
    if (jailOptions.prefregex !== undefined) {
      prefregex = { pattern: jailOptions.prefregex, origin: `${jailOrigin} prefregex` };
    } else if (opts.has("prefregex")) {
      prefregex = this.#origins("prefregex", opts.get("prefregex")!)[0] ??
        { pattern: "", origin: "" };
    }
    if (prefregex && prefregex.pattern === "") prefregex = null;
    let maxlines = 1;
    const ml = scalar("maxlines");
    if (ml !== undefined) {
      const n = /^\s*[+-]?\d+\s*$/.test(ml) ? Number.parseInt(ml, 10) : NaN;
      if (Number.isNaN(n)) {
        const src = this.def.cfg.source("Definition", "maxlines");
        throw new ConfigError(
          `Filter "${this.name}"${src?.file ? ` (${src.file}:${src.line})` : ""}: maxlines ${
            JSON.stringify(ml)
          } is not an integer`,
          { file: src?.file, section: "Definition", option: "maxlines" },
        );
      }
      maxlines = n;
    }
    const datepattern = scalar("datepattern");
    const journalmatch = scalar("journalmatch");
    const logtimezone = jailOptions.logtimezone ?? opts.get("logtimezone") ??
      this.#allOptions.get("logtimezone");
    const streamOptions: Array<[string, StreamValue]> = [];
    for (const [k, v] of opts) {
      if (FILTER_OPTIONS[k] !== "int") streamOptions.push([k, v]);
      else {
        streamOptions.push([k, INT_RE.test(v) ? Number.parseInt(v.replaceAll("_", ""), 10) : null]);
      }
    }
    return {
      name: this.name,
      file: this.mainFile,
      prefregex,
      failregex,
      ignoreregex,
      datepattern: datepattern === undefined || datepattern === "" ? null : datepattern,
      maxlines,
      journalmatch: journalmatch === undefined || journalmatch === "" ? null : journalmatch,
      logtimezone: logtimezone === undefined || logtimezone === "" ? null : logtimezone,
      options,
      streamOptions,
    };
  }
}

/**
 * Reads a filter as fail2ban would for a jail using it.
 *
 * @param configDir The configuration directory (`/etc/fail2ban`).
 * @param reference `sshd`, `sshd[mode=aggressive]`, a parsed reference, or a path to a filter file.
 * @param jailOptions The jail's options that fail2ban passes to the filter (they take part in
 *   interpolation; `backend` selects `logtype`; a jail's own `failregex`, `ignoreregex`,
 *   `prefregex`, `maxlines`, `datepattern`, `journalmatch`, `logtimezone` apply on top).
 * @throws {ConfigError} when the filter is missing (listing the paths looked at) or invalid.
 * @throws {SyntaxError} for an unparsable reference or filter file.
 *
 * @example
 * ```ts ignore
 * import { readFilter } from "./filter_reader.ts";
 * const spec = readFilter("/etc/fail2ban", "sshd[mode=aggressive]");
 * console.log(spec.failregex.length);
 * ```
 */
export function readFilter(
  configDir: string,
  reference: string | Reference,
  jailOptions: Record<string, string> = {},
  readerOptions: FilterReaderOptions = {},
): FilterSpec {
  const ref = typeof reference === "string" ? parseReference(reference) : reference;
  const reader = new FilterReader(configDir, ref.name, { ...ref.options }, readerOptions);
  reader.read();
  readerOptions.onRead?.(reader.files);
  reader.applyAutoOptions(jailOptions.backend ?? "auto");
  reader.getOptions(jailOptions, true);
  reader.getOptions(jailOptions);
  const own: Record<string, string> = {};
  for (const k of [...Object.keys(FILTER_OPTIONS), "logtimezone"]) {
    if (k === "usedns") continue;
    const v = jailOptions[k];
    if (v !== undefined) own[k] = v;
  }
  return reader.toSpec(own);
}
