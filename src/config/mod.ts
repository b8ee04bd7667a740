/**
 * Reading a fail2ban configuration directory, compatible with fail2ban 1.0.2's client:
 *
 * 1. {@link parseIni} reads one file of fail2ban's INI dialect.
 * 2. {@link ConfigReader} layers `NAME.conf`, `NAME.d/*.conf`, `NAME.local`, `NAME.d/*.local`,
 *    follows `[INCLUDES]` and interpolates `%(name)s`, `%(section/name)s`, `%(known/name)s`.
 * 3. {@link readFilter} and {@link readAction} read `filter.d/` and `action.d/` files with
 *    `[Definition]`, `[Init]`, reference arguments and `<tag>` substitution.
 * 4. {@link readJails} turns `jail.conf`/`jail.d`/`jail.local` into typed {@link JailSpec}s;
 *    {@link readServerConfig} reads `fail2ban.conf` into a {@link ServerSpec}.
 * 5. {@link configToCommands} renders it all as fail2ban-client's command stream
 *    (`client -d`, printed by {@link formatCommand} / {@link formatCommandPretty}).
 *
 * @example
 * ```ts ignore
 * import { readJails, readServerConfig } from "./mod.ts";
 * const server = readServerConfig("/etc/fail2ban");
 * const jails = readJails("/etc/fail2ban", { onError: (e) => console.error(e.message) });
 * ```
 *
 * @module
 */

export {
  type IniFile,
  type IniOption,
  type IniSection,
  optionXform,
  parseIni,
} from "./ini_parser.ts";
export {
  ConfigError,
  ConfigReader,
  type ConfigReaderOptions,
  type ConfigValue,
  NoOptionError,
  NoSectionError,
} from "./config_reader.ts";
export { parseDuration } from "./duration.ts";
export { parseReference, type Reference, splitWithOptions } from "./reference.ts";
export {
  asBool,
  DefinitionInitReader,
  type OptionType,
  substituteRecursiveTags,
} from "./_definition_init.ts";
export {
  FILTER_OPTIONS,
  FilterReader,
  type FilterReaderOptions,
  readFilter,
} from "./filter_reader.ts";
export {
  ACTION_OPTIONS,
  readAction,
  type ReadActionOptions,
  UnsupportedActionError,
} from "./action_reader.ts";
export {
  FAIL2BAN_VERSION,
  JailConfigError,
  readJails,
  type ReadJailsOptions,
  readServerConfig,
  splitWords,
} from "./jail_reader.ts";
export {
  actionNotes,
  backendNote,
  FAIL2BAN_BACKENDS,
  JOURNAL_BACKEND_OPTIONS,
  logEncodingProblem,
  LOGTARGET_OPTIONS,
  type OptionLocator,
  serverNotes,
} from "./migration.ts";
export {
  type ConfigDump,
  configToCommands,
  type ConfigToCommandsOptions,
  dumpConfig,
  formatCommand,
  formatCommandPretty,
  jailToCommands,
  pythonRepr,
  serverToCommands,
  type StreamCommand,
  type StreamItem,
} from "./command_stream.ts";
export type {
  ActionSpec,
  BanTimeIncrement,
  FilterSpec,
  JailSpec,
  PythonActionRef,
  RegexSource,
  ServerSpec,
  StreamValue,
} from "./types.ts";
