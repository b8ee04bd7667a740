/**
 * A configuration directory as the stream of commands fail2ban-client sends to the server
 * (`fail2ban-client -d` prints it, one command a line, in Python's `repr`; `--dp` with
 * `pprint`): server settings from `fail2ban.conf`, then for each enabled jail `add`, its filter,
 * options, log paths and actions, then `start` for each jail.
 *
 * @module
 */

import { ConfigReader, exists, NoOptionError, NoSectionError } from "./config_reader.ts";
import { JailConfigError, readJails, splitWords } from "./jail_reader.ts";
import type { JailSpec, StreamValue } from "./types.ts";
import { pythonGlob } from "../util/python_glob.ts";
import { shlexSplit } from "../jail/journal_match.ts";

/** Python's glob.glob, moved to src/util/python_glob.ts (jail workers use it too). */
export { pythonGlob };

/** One item of a command: Python's str, int, bool, None, a list or a dict. */
export type StreamItem = StreamValue | StreamItem[] | { [key: string]: StreamItem };

/** One command of the stream: `['set', 'sshd', 'maxretry', 5]`. */
export type StreamCommand = StreamItem[];

/** Options for {@link configToCommands}. */
export interface ConfigToCommandsOptions {
  /** `--loglevel` given on the command line (wins over fail2ban.conf). @default undefined */
  loglevel?: string | null;
  /** `--logtarget` given on the command line. @default undefined */
  logtarget?: string | null;
  /** `--syslogsocket` given on the command line. @default undefined */
  syslogsocket?: string | null;
  /** Receives warnings fail2ban-client would log (no log file found, no actions…). @default undefined */
  onWarning?: (message: string) => void;
  /** Receives each jail that cannot be loaded (it is streamed as `config-error`). @default undefined */
  onError?: (error: JailConfigError) => void;
}

/** Result of {@link dumpConfig}. */
export interface ConfigDump {
  /** The printed lines, one command each (several lines each with `pretty`). */
  lines: string[];
  /** Jails skipped because of their configuration. */
  errors: JailConfigError[];
  /** False when a jail failed and none loaded, as fail2ban-client's exit status says. */
  ok: boolean;
}

// ---------------------------------------------------------------- Python repr

const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, "0");
}

/** Python's `repr` of a str. */
function reprString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === quote || ch === "\\") out += "\\" + ch;
    else if (ch === "\t") out += "\\t";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (code < 0x20 || code === 0x7f) out += "\\x" + hex(code, 2);
    else if (code < 0x7f) out += ch;
    else if (!NON_PRINTABLE.test(ch)) out += ch;
    else if (code <= 0xff) out += "\\x" + hex(code, 2);
    else if (code <= 0xffff) out += "\\u" + hex(code, 4);
    else out += "\\U" + hex(code, 8);
  }
  return out + quote;
}

/**
 * Renders a stream item as Python's `repr` does (what `fail2ban-client -d` prints): strings in
 * `'…'` (or `"…"` when they hold `'` but no `"`) with Python's escapes, `True`/`False`/`None`,
 * lists as `[a, b]`, dicts as `{'k': v}`.
 *
 * @example
 * ```ts
 * import { pythonRepr } from "./command_stream.ts";
 * console.assert(pythonRepr(["set", "sshd", "maxretry", 5]) === "['set', 'sshd', 'maxretry', 5]");
 * console.assert(pythonRepr("it's") === `"it's"`);
 * ```
 */
export function pythonRepr(value: StreamItem | undefined): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    if (Number.isNaN(value)) return "nan";
    if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
    return String(value);
  }
  if (typeof value === "string") return reprString(value);
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(", ")}]`;
  return `{${
    Object.entries(value).map(([k, v]) => `${reprString(k)}: ${pythonRepr(v)}`).join(", ")
  }}`;
}

/**
 * Prints one command as `fail2ban-client -d` does (Python's `repr` of the list).
 *
 * @example
 * ```ts
 * import { formatCommand } from "./command_stream.ts";
 * console.assert(formatCommand(["start", "sshd"]) === "['start', 'sshd']");
 * ```
 */
export function formatCommand(command: StreamCommand): string {
  return pythonRepr(command);
}

// ---------------------------------------------------------------- pprint

/** Length in code points, as Python counts a str. */
function pyLen(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Python's str.splitlines(keepends=True). */
function splitLinesKeep(s: string): string[] {
  const out: string[] = [];
  // deno-lint-ignore no-control-regex -- Python's line boundaries include \x1c-\x1e
  const re = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;
  let last = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    out.push(s.slice(last, m.index + m[0].length));
    last = m.index + m[0].length;
  }
  if (last < s.length) out.push(s.slice(last));
  return out;
}

/** Python's `\S*\s*` chunks of a str (its whitespace set), the empty last match dropped. */
const PY_SPACE = String
  .raw`\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000`;
const WORD_RE = new RegExp(`[^${PY_SPACE}]*[${PY_SPACE}]*`, "g");

/** Python's `pprint.pformat(value, width, indent)` for the types a command stream holds. */
class PrettyPrinter {
  readonly #width: number;
  readonly #indent: number;
  #out = "";

  constructor(width: number, indent: number) {
    this.#width = width;
    this.#indent = indent;
  }

  format(value: StreamItem): string {
    this.#out = "";
    this.#format(value, 0, 0, 0);
    return this.#out;
  }

  #repr(value: StreamItem): string {
    // pprint's own repr sorts dict keys.
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      const keys = Object.keys(value).sort();
      return `{${keys.map((k) => `${reprString(k)}: ${this.#repr(value[k]!)}`).join(", ")}}`;
    }
    if (Array.isArray(value)) return `[${value.map((v) => this.#repr(v)).join(", ")}]`;
    return pythonRepr(value);
  }

  #format(value: StreamItem, indent: number, allowance: number, level: number): void {
    const rep = this.#repr(value);
    if (pyLen(rep) > this.#width - indent - allowance) {
      if (Array.isArray(value)) {
        this.#out += "[";
        this.#items(value, indent, allowance + 1, level + 1);
        this.#out += "]";
        return;
      }
      if (typeof value === "string") {
        this.#string(value, indent, allowance, level + 1);
        return;
      }
      if (value !== null && typeof value === "object") {
        this.#dict(value, indent, allowance, level + 1);
        return;
      }
    }
    this.#out += rep;
  }

  #items(items: StreamItem[], indentIn: number, allowance: number, level: number): void {
    const indent = indentIn + this.#indent;
    if (this.#indent > 1) this.#out += " ".repeat(this.#indent - 1);
    const delimNl = ",\n" + " ".repeat(indent);
    items.forEach((item, i) => {
      const last = i === items.length - 1;
      if (i > 0) this.#out += delimNl;
      this.#format(item, indent, last ? allowance : 1, level);
    });
  }

  #dict(
    value: { [key: string]: StreamItem },
    indentIn: number,
    allowance: number,
    level: number,
  ): void {
    this.#out += "{";
    if (this.#indent > 1) this.#out += " ".repeat(this.#indent - 1);
    const keys = Object.keys(value).sort();
    const indent = indentIn + this.#indent;
    const delimNl = ",\n" + " ".repeat(indent);
    keys.forEach((k, i) => {
      const last = i === keys.length - 1;
      const rep = reprString(k);
      this.#out += rep + ": ";
      this.#format(value[k]!, indent + pyLen(rep) + 2, last ? allowance + 1 : 1, level);
      if (!last) this.#out += delimNl;
    });
    this.#out += "}";
  }

  #string(value: string, indentIn: number, allowanceIn: number, level: number): void {
    if (value === "") {
      this.#out += reprString(value);
      return;
    }
    let indent = indentIn;
    let allowance = allowanceIn;
    if (level === 1) {
      indent++;
      allowance++;
    }
    const chunks: string[] = [];
    const lines = splitLinesKeep(value);
    const maxWidth = this.#width - indent;
    let maxWidth1 = maxWidth;
    let rep = "";
    lines.forEach((line, i) => {
      rep = reprString(line);
      const lastLine = i === lines.length - 1;
      if (lastLine) maxWidth1 -= allowance;
      if (pyLen(rep) <= maxWidth1) {
        chunks.push(rep);
        return;
      }
      const parts = line.match(WORD_RE) ?? [];
      parts.pop();
      let maxWidth2 = maxWidth;
      let current = "";
      parts.forEach((part, j) => {
        const candidate = current + part;
        if (j === parts.length - 1 && lastLine) maxWidth2 -= allowance;
        if (pyLen(reprString(candidate)) > maxWidth2) {
          if (current) chunks.push(reprString(current));
          current = part;
        } else current = candidate;
      });
      if (current) chunks.push(reprString(current));
    });
    if (chunks.length === 1) {
      this.#out += rep;
      return;
    }
    if (level === 1) this.#out += "(";
    this.#out += chunks.join("\n" + " ".repeat(indent));
    if (level === 1) this.#out += ")";
  }
}

/**
 * Prints one command as `fail2ban-client --dp` does (`pprint.pformat(cmd, width=1000,
 * indent=2)`): short commands on one line, long ones split one item a line, over-long strings
 * split at line ends and spaces.
 *
 * @example
 * ```ts
 * import { formatCommandPretty } from "./command_stream.ts";
 * console.assert(formatCommandPretty(["start", "sshd"]) === "['start', 'sshd']");
 * ```
 */
export function formatCommandPretty(command: StreamCommand): string {
  return new PrettyPrinter(1000, 2).format(command);
}

// ---------------------------------------------------------------- helpers

/** Python's `shlex.split` (POSIX mode, no comments), shared with the journal match reader. */
export { shlexSplit };

/** Python's `json.dumps` of a flat str → str dict (`ensure_ascii`, `", "` and `": "`). */
function jsonDumps(obj: Record<string, string>): string {
  const str = (s: string) => {
    let out = '"';
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      const ch = s[i]!;
      if (ch === '"') out += '\\"';
      else if (ch === "\\") out += "\\\\";
      else if (ch === "\n") out += "\\n";
      else if (ch === "\r") out += "\\r";
      else if (ch === "\t") out += "\\t";
      else if (ch === "\b") out += "\\b";
      else if (ch === "\f") out += "\\f";
      else if (c < 0x20 || c > 0x7e) out += "\\u" + hex(c, 4);
      else out += ch;
    }
    return out + '"';
  };
  return `{${Object.entries(obj).map(([k, v]) => `${str(k)}: ${str(v)}`).join(", ")}}`;
}

// ---------------------------------------------------------------- streams

/** fail2ban's filter-option stream step: regex lines, usedns/maxlines/prefregex first. */
function fillStream(
  stream: StreamCommand[],
  opts: ReadonlyArray<readonly [string, StreamValue]>,
  jail: string,
): StreamCommand[] {
  let prio0 = 0;
  for (const [opt, value] of opts) {
    if (value === null) continue;
    if (opt === "failregex" || opt === "ignoreregex") {
      const multi = String(value).split("\n").filter((r) => r !== "");
      if (multi.length > 1) stream.push(["multi-set", jail, `add${opt}`, multi]);
      else if (multi.length) stream.push(["set", jail, `add${opt}`, multi[0]!]);
    } else if (opt === "usedns" || opt === "maxlines" || opt === "prefregex") {
      stream.splice(opt === "usedns" ? 0 : prio0, 0, ["set", jail, opt, value]);
      prio0++;
    } else if ("datepattern".includes(opt)) {
      // fail2ban tests `opt in ('datepattern')`, a substring test.
      stream.push(["set", jail, opt, value]);
    } else if (opt === "journalmatch") {
      for (const match of String(value).split("\n")) {
        if (match === "") continue;
        stream.push(["set", jail, "addjournalmatch", ...shlexSplit(match)]);
      }
    }
  }
  return stream;
}

/** Jail options fail2ban-client never sends as `set JAIL OPT VALUE`. */
const JAIL_IGNORED = new Set([
  "action",
  "filter",
  "enabled",
  "usedns",
  "prefregex",
  "ignoreregex",
  "failregex",
  "maxlines",
  "datepattern",
  "journalmatch",
]);

/** Stream options of a spec built without the reader's record (best effort from the spec). */
function jailOptionsOf(spec: JailSpec): Array<[string, StreamValue]> {
  const opts: Array<[string, StreamValue]> = [
    ["enabled", spec.enabled],
    [
      "backend",
      spec.backend,
    ],
    ["maxretry", spec.maxretry],
    ["maxmatches", spec.maxmatches],
    [
      "findtime",
      String(spec.findtime),
    ],
    ["bantime", String(spec.bantime)],
  ];
  if (spec.ignorecommand !== null) opts.push(["ignorecommand", spec.ignorecommand]);
  opts.push(["ignoreself", spec.ignoreself]);
  if (spec.ignoreip.length) opts.push(["ignoreip", spec.ignoreip.join(" ")]);
  opts.push(["logencoding", spec.logencoding]);
  if (spec.logpath.length) {
    opts.push([
      "logpath",
      spec.logpath.map((p, i) => spec.logpathTail?.[i] ? `${p} tail` : p).join("\n"),
    ]);
  }
  opts.push(["usedns", spec.usedns]);
  return opts;
}

/**
 * The commands fail2ban-client sends for one loaded jail: `add`, filter settings, jail settings,
 * `addlogpath` for each existing file, actions. (`start` comes after all jails.)
 *
 * @param onWarning Receives "Have not found any log file for JAIL jail" and similar.
 */
export function jailToCommands(
  spec: JailSpec,
  onWarning: (message: string) => void = () => {},
): StreamCommand[] {
  const name = spec.name;
  const stream: StreamCommand[] = [];
  if (spec.filter.streamOptions) stream.push(...fillStream([], spec.filter.streamOptions, name));
  const opts = spec.streamOptions ?? jailOptionsOf(spec);
  fillStream(stream, opts, name);
  const backendOpt = opts.find(([k]) => k === "backend")?.[1];
  const backend: StreamValue = backendOpt === undefined ? spec.backend : backendOpt;
  const logpaths: StreamCommand[] = [];
  for (const [opt, value] of opts) {
    if (opt === "logpath") {
      if (String(backend ?? "").startsWith("systemd")) continue;
      let found = 0;
      for (const line of String(value).split("\n")) {
        const sp = line.lastIndexOf(" ");
        const path = sp >= 0 ? line.slice(0, sp) : line;
        const tail = sp >= 0 ? line.slice(sp + 1) : "head";
        const files = pythonGlob(path).filter((p) => {
          if (exists(p)) return true;
          onWarning(`File ${p} is a dangling link, thus cannot be monitored`);
          return false;
        });
        if (!files.length) onWarning(`No file(s) found for glob ${path}`);
        for (const p of files) {
          found++;
          logpaths.push(["set", name, "addlogpath", p, tail]);
        }
      }
      if (!found) onWarning(`Have not found any log file for ${name} jail`);
    } else if (opt === "backend") {
      continue;
    } else if (opt === "ignoreip") {
      stream.push(["set", name, "addignoreip", ...splitWords(String(value ?? ""))]);
    } else if (!JAIL_IGNORED.has(opt)) {
      stream.push(["set", name, opt, value]);
    }
  }
  stream.push(...logpaths);
  const py = spec.pythonActions ?? [];
  const pushPython = (upTo: number) => {
    for (const p of py) {
      if (p.position !== upTo) continue;
      stream.push(["set", name, "addaction", p.name, p.file, jsonDumps(p.options)]);
    }
  };
  spec.actions.forEach((action, i) => {
    pushPython(i);
    stream.push(["set", name, "addaction", action.name]);
    const multi: Array<[string, StreamValue]> = action.streamOptions ?? [
      ...Object.entries(action.commands),
      ...Object.entries(action.properties),
      ...Object.entries(action.familyProperties).flatMap(([fam, props]) =>
        Object.entries(props).map(([k, v]): [string, string] => [`${k}?family=${fam}`, v])
      ),
    ];
    if (multi.length > 1) stream.push(["multi-set", name, "action", action.name, multi]);
    else if (multi.length) stream.push(["set", name, "action", action.name, ...multi[0]!]);
  });
  pushPython(spec.actions.length);
  stream.unshift(["add", name, backend]);
  return stream;
}

function definitionGetter(cfg: ConfigReader): (name: string, dflt: string | null) => {
  value: string | null;
  found: boolean;
} {
  return (name, dflt) => {
    try {
      return { value: cfg.get("Definition", name), found: true };
    } catch (e) {
      if (e instanceof NoOptionError || e instanceof NoSectionError) {
        return { value: dflt, found: false };
      }
      throw e;
    }
  };
}

const INT_RE = /^\s*[+-]?\d+(?:_\d+)*\s*$/;

function pyInt(v: string): number | null {
  return INT_RE.test(v) ? Number.parseInt(v.replaceAll("_", ""), 10) : null;
}

/**
 * The server-level commands fail2ban-client sends first, from `fail2ban.conf` and its layers:
 * `thread` (when `[Thread] stacksize` is set), `syslogsocket`, `loglevel`, `logtarget`,
 * `allowipv6`, `dbfile`, `dbmaxmatches` (when set), `dbpurgeage`, values as written.
 *
 * @throws {ConfigError} for a value that cannot be interpolated.
 */
export function serverToCommands(
  configDir: string,
  options: Pick<ConfigToCommandsOptions, "loglevel" | "logtarget" | "syslogsocket"> = {},
): StreamCommand[] {
  const cfg = new ConfigReader(configDir.replace(/\/+$/, "") || "/");
  cfg.read("fail2ban");
  const get = definitionGetter(cfg);
  const out: StreamCommand[] = [];
  if (cfg.hasSection("Thread")) {
    try {
      const v = cfg.get("Thread", "stacksize");
      out.push(["set", "thread", { stacksize: pyInt(v) }]);
    } catch (e) {
      if (!(e instanceof NoOptionError)) throw e;
    }
  }
  const hasDefinition = cfg.hasSection("Definition");
  out.push(["set", "syslogsocket", options.syslogsocket ?? get("syslogsocket", "auto").value]);
  out.push(["set", "loglevel", options.loglevel ?? get("loglevel", "INFO").value]);
  out.push([
    "set",
    "logtarget",
    options.logtarget ?? get("logtarget", "/var/log/fail2ban.log").value,
  ]);
  out.push(["set", "allowipv6", get("allowipv6", "auto").value]);
  out.push(["set", "dbfile", get("dbfile", "/var/lib/fail2ban/fail2ban.sqlite3").value]);
  const maxMatches = get("dbmaxmatches", null);
  if (maxMatches.found || !hasDefinition) {
    out.push(["set", "dbmaxmatches", maxMatches.value === null ? null : pyInt(maxMatches.value)]);
  }
  out.push(["set", "dbpurgeage", get("dbpurgeage", "1d").value]);
  return out;
}

const JSON_STR = String.raw`"((?:[^"\\]|\\.)*)"`;
const NOT_FOUND_RE = new RegExp(`^(filter|action) ${JSON_STR} not found in `, "s");
const BAD_REF_RE = new RegExp(
  `^invalid (filter|action) definition ${JSON_STR} .*?: Invalid reference ${JSON_STR}: (.*)$`,
  "s",
);

/** Decodes a JSON-quoted name from a reader message, or null when it does not parse. */
function unquote(s: string): string | null {
  try {
    return JSON.parse(`"${s}"`) as string;
  } catch {
    return null;
  }
}

/**
 * fail2ban's wording for a skipped jail. The reader's detail (after `Cannot start jail "X": `)
 * is reworded as fail2ban-client says it for a missing filter or action and a bad reference.
 */
function configErrorLine(e: JailConfigError): StreamCommand {
  const prefix = `Cannot start jail "${e.jail}": `;
  let detail = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
  const nf = NOT_FOUND_RE.exec(detail);
  const bad = BAD_REF_RE.exec(detail);
  const nfName = nf ? unquote(nf[2]!) : null;
  const badRef = bad ? unquote(bad[2]!) : null;
  if (nf && nfName !== null) {
    detail = nf[1] === "filter"
      ? `Unable to read the filter ${reprString(nfName)}`
      : `Unable to read action ${reprString(nfName)}`;
  } else if (bad && badRef !== null) {
    detail = `Invalid ${bad[1]} definition ${reprString(badRef)}: ${bad[4]}`;
  }
  return ["config-error", `Jail '${e.jail}' skipped, because of wrong configuration: ${detail}`];
}

/**
 * The whole configuration of `configDir` as the command stream fail2ban-client sends (and
 * prints with `-d`): server settings, each enabled jail's commands in section order (a jail
 * that cannot load as one `config-error` command), then `start` for each loaded jail.
 *
 * @throws {ConfigError} when there is no jail configuration or fail2ban.conf cannot be read.
 *
 * @example
 * ```ts ignore
 * import { configToCommands, formatCommand } from "./command_stream.ts";
 * for (const c of configToCommands("/etc/fail2ban")) console.log(formatCommand(c));
 * ```
 */
export function configToCommands(
  configDir: string,
  options: ConfigToCommandsOptions = {},
): StreamCommand[] {
  const warn = options.onWarning ?? (() => {});
  const stream = serverToCommands(configDir, options);
  const errors = new Map<string, JailConfigError>();
  const jails = readJails(configDir, {
    onError: (e) => {
      errors.set(e.jail, e);
      options.onError?.(e);
    },
  });
  const byName = new Map(jails.map((j) => [j.name, j]));
  let order: string[] = jails.map((j) => j.name);
  if (errors.size) {
    const cfg = new ConfigReader(configDir.replace(/\/+$/, "") || "/");
    cfg.read("jail");
    order = cfg.sections().filter((s) => byName.has(s) || errors.has(s));
  }
  for (const name of order) {
    const spec = byName.get(name);
    if (spec) {
      for (const w of spec.warnings ?? []) warn(w);
      stream.push(...jailToCommands(spec, warn));
    } else stream.push(configErrorLine(errors.get(name)!));
  }
  for (const j of jails) stream.push(["start", j.name]);
  return stream;
}

/**
 * What `fail2ban-client -c DIR -d` (or `--dp` with `pretty`) prints: the lines of
 * {@link configToCommands}, with the jails skipped and fail2ban-client's success flag.
 *
 * @throws {ConfigError} as {@link configToCommands}.
 */
export function dumpConfig(
  configDir: string,
  options: ConfigToCommandsOptions & { pretty?: boolean } = {},
): ConfigDump {
  const errors: JailConfigError[] = [];
  const commands = configToCommands(configDir, {
    ...options,
    onError: (e) => {
      errors.push(e);
      options.onError?.(e);
    },
  });
  const fmt = options.pretty ? formatCommandPretty : formatCommand;
  const started = commands.some((c) => c[0] === "start");
  return { lines: commands.map(fmt), errors, ok: started || errors.length === 0 };
}
