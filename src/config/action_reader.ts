/**
 * Reads a fail2ban action (`action.d/NAME.conf` with `.local` and `.d/` layers, `[INCLUDES]`,
 * `[Definition]` commands, `[Init]` and `[Init?family=inet6]`, the jail's arguments) into an
 * {@link ActionSpec}. Runtime tags (`<ip>`, `<F-USER>`, `<matches>`…) stay in the commands.
 *
 * @module
 */

import { CONDITIONAL_RE, ConfigError, joinPath } from "./config_reader.ts";
import { asBool, DefinitionInitReader, type OptionType } from "./_definition_init.ts";
import { parseDuration } from "./duration.ts";
import type { IniFile } from "./ini_parser.ts";
import { parseReference, type Reference } from "./reference.ts";
import type { ActionSpec, StreamValue } from "./types.ts";

/** `[Definition]` options fail2ban reads from an action. */
export const ACTION_OPTIONS: Readonly<Record<string, OptionType>> = {
  actionstart: "string",
  actionstart_on_demand: "bool",
  actionstop: "string",
  actionflush: "string",
  actionreload: "string",
  actioncheck: "string",
  actionrepair: "string",
  actionrepair_on_unban: "bool",
  actionban: "string",
  actionprolong: "string",
  actionreban: "string",
  actionunban: "string",
  norestored: "bool",
  // f2b's batch forms (fail2ban has none): one command for many queued bans, see ActionExecutor.
  actionban_batch: "string",
  actionunban_batch: "string",
};

/** Tags fail2ban never resolves at config time (they hold log text, escaped at run time). */
const RUNTIME_ONLY_TAGS = ["matches", "ipmatches", "ipjailmatches", "timeout", "bantime"];

/** Default seconds before an action command is killed. */
const DEFAULT_TIMEOUT = 60;

/** A Python action (`action.d/NAME.py`), which this implementation cannot run. */
export class UnsupportedActionError extends ConfigError {
  /** The action reference name (`smtp.py`). */
  readonly action: string;
  /** Builds the error for `action` of jail `jail`. */
  constructor(action: string, jail: string, file: string) {
    super(
      `Action "${action}" of jail "${jail}" is a Python action (${file}): Python actions are ` +
        `not supported, the jail runs without it (use a .conf action instead)`,
      { file },
    );
    this.name = "UnsupportedActionError";
    this.action = action;
  }
}

/** Options for {@link readAction}. */
export interface ReadActionOptions {
  /** The jail the action belongs to (default: the `name` argument, else `jail`). */
  jailName?: string;
  /** Parsed-file cache shared between readers. */
  cache?: Map<string, IniFile | null>;
}

/**
 * Reads an action as fail2ban would for a jail.
 *
 * @param configDir The configuration directory (`/etc/fail2ban`).
 * @param reference `iptables-multiport[port=ssh]` or a parsed reference.
 * @param jailOptions The jail's options (they take part in `%(…)s` interpolation, with priority
 *   over the action's `[Definition]`, as in fail2ban).
 * @throws {UnsupportedActionError} for a Python action (`NAME.py`).
 * @throws {ConfigError} when the action is missing (listing the paths looked at) or invalid.
 *
 * @example
 * ```ts ignore
 * import { readAction } from "./action_reader.ts";
 * const a = readAction("/etc/fail2ban", "iptables-multiport[port=ssh]", {}, { jailName: "sshd" });
 * console.log(a.commands.actionban);
 * ```
 */
export function readAction(
  configDir: string,
  reference: string | Reference,
  jailOptions: Record<string, string> = {},
  options: ReadActionOptions = {},
): ActionSpec {
  const ref = typeof reference === "string" ? parseReference(reference) : reference;
  const kind = ref.name;
  const initOpts: Record<string, string> = { ...ref.options };
  const jailName = options.jailName ?? initOpts.name ?? "jail";
  if (kind.endsWith(".py")) {
    throw new UnsupportedActionError(
      kind,
      jailName,
      joinPath(joinPath(configDir, "action.d"), kind),
    );
  }
  // fail2ban names the instance after the file, plus the `name` argument when it differs.
  const name = initOpts.name ??= jailName;
  let actname = initOpts.actname;
  if (actname === undefined) {
    actname = kind;
    if (name !== jailName) {
      actname += name.startsWith(jailName) ? name.slice(jailName.length) : `-${name}`;
    }
    initOpts.actname = actname;
  }
  const reader = new DefinitionInitReader(
    configDir,
    joinPath("action.d", kind),
    initOpts,
    ACTION_OPTIONS,
    options.cache,
  );
  const files = reader.read();
  if (!files.length) {
    const looked = reader.cfg.candidateFiles(joinPath("action.d", kind));
    throw new ConfigError(
      `Action "${kind}" not found in ${joinPath(configDir, "action.d")} (looked in ${
        looked.join(", ")
      })`,
      { file: looked[0] },
    );
  }
  reader.getOptions(jailOptions);
  let opts: Map<string, string>;
  try {
    opts = reader.getCombined(RUNTIME_ONLY_TAGS);
  } catch (e) {
    throw new ConfigError(
      `Action "${kind}" of jail "${jailName}" (${files[0]}): ${(e as Error).message}`,
      { file: files[0], section: "Definition" },
      { cause: e },
    );
  }
  const commands: Record<string, string> = {};
  const properties: Record<string, string> = {};
  const familyProperties: Record<string, Record<string, string>> = {};
  const streamOptions: Array<[string, StreamValue]> = [];
  for (const [k, v] of opts) {
    if (!(k in ACTION_OPTIONS) || k.startsWith("known/")) continue;
    if (ACTION_OPTIONS[k] === "bool") properties[k] = v;
    else commands[k] = v;
    streamOptions.push([k, ACTION_OPTIONS[k] === "bool" ? asBool(v) : v]);
  }
  // fail2ban sends the init options (reference arguments and [Init]) as given, tags unresolved.
  for (const [k, v] of reader.initOpts) {
    if (k in ACTION_OPTIONS || k.startsWith("known/")) continue;
    streamOptions.push([k, v]);
    const cond = CONDITIONAL_RE.exec(k);
    const fam = cond ? /^\?family=(\w+)$/.exec(cond[2]!) : null;
    if (cond && fam) (familyProperties[fam[1]!] ??= {})[cond[1]!] = v;
    else properties[k] = v;
  }
  let timeout = DEFAULT_TIMEOUT;
  if (properties.timeout !== undefined) {
    try {
      timeout = parseDuration(properties.timeout);
    } catch (e) {
      throw new ConfigError(
        `Action "${actname}" of jail "${jailName}": ${(e as Error).message}`,
        { file: files[0], section: "Init", option: "timeout" },
      );
    }
  }
  return {
    name: actname,
    kind,
    file: files.find((f) => f.endsWith(`/action.d/${kind}.conf`)) ?? files[0] ?? null,
    commands,
    properties,
    familyProperties,
    timeout,
    streamOptions,
  };
}
