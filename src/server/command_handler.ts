/**
 * fail2ban-client's commands, answered against a {@link ServerControl}: a
 * function of (control, words) that tests call without a socket. Values are
 * plain JSON (the client formats them as fail2ban-client prints them).
 *
 * @module
 */

import denoJson from "../../deno.json" with { type: "json" };
import type { JailStatus, ReloadOptions, ServerControl } from "./control.ts";
import { cymruInfo, systemTxtLookup } from "../net/cymru.ts";
import { parseAddress } from "../net/ip_address.ts";
import {
  addJailCommand,
  bannedCommand,
  flushLogsCommand,
  getCommand,
  jailLifecycleCommand,
  setCommand,
  unbanCommand,
} from "./setting_commands.ts";

/** The f2b version that `version` answers. */
export const VERSION: string = denoJson.version;

/** A command that the server does not know, or with wrong arguments. */
export class InvalidCommandError extends Error {
  /** The command words received. */
  readonly command: string[];
  /** Builds the error; `detail` says what is wrong. */
  constructor(command: string[], detail: string) {
    super(detail);
    this.name = "InvalidCommandError";
    this.command = command;
  }
}

/** A `[label, value]` row of a status answer; the value is a number, text, list or nested rows. */
export type StatusRow = [string, number | string | string[] | StatusRow[]];

/** The server's command list, as `help` answers it. */
export const COMMAND_HELP: string = `Commands:
                                             BASIC
    reload [--restart] [--unban] [--all]     reloads the configuration without restarting
                                             the server; --restart restarts the affected
                                             jails, --unban also unbans their addresses
    reload [--restart] [--unban] [--if-exists] <JAIL>
                                             reloads the jail <JAIL>, or restarts it
    restart [--unban] [--if-exists] <JAIL>   restarts the jail <JAIL> (alias for
                                             'reload --restart ... <JAIL>')
    stop                                     stops all jails and terminates the server
    unban --all                              unbans all IP addresses (in all jails)
    unban <IP> ... <IP>                      unbans <IP> (in all jails)
    banned                                   returns jails with banned IPs
    banned <IP> ... <IP>                     returns the jails where each IP is banned
    status                                   gets the current status of the server
    ping                                     tests if the server is alive
    echo <WORDS>                             returns the words given
    help                                     returns this text
    version                                  returns the server version

                                             LOGGING
    set loglevel <LEVEL>                     sets the logging level (CRITICAL, ERROR,
                                             WARNING, NOTICE, INFO, DEBUG, TRACEDEBUG,
                                             HEAVYDEBUG or a number)
    get loglevel                             gets the logging level
    set logtarget <TARGET>                   sets the logging target (STDOUT, STDERR,
                                             SYSLOG, SYSOUT, SYSTEMD-JOURNAL or a file)
    get logtarget                            gets the logging target
    set syslogsocket auto|<SOCKET>           sets the syslog socket path
    get syslogsocket                         gets the syslog socket path
    flushlogs                                reopens a log file (for log rotation)

                                             DATABASE
    set dbfile <FILE>                        sets the database file ("None" disables it);
                                             only while no jail is present
    get dbfile                               gets the database file
    set dbmaxmatches <INT>                   sets the matches stored per ticket
    get dbmaxmatches                         gets the matches stored per ticket
    set dbpurgeage <TIME>                    sets how long ban history is kept
    get dbpurgeage                           gets the seconds of ban history kept

                                             JAIL CONTROL
    add <JAIL> <BACKEND>                     creates <JAIL> (not started) using <BACKEND>
    start <JAIL>                             starts the jail <JAIL>
    stop <JAIL>                              stops the jail <JAIL> and removes it
    status <JAIL> [FLAVOR]                   gets the current status of <JAIL>; FLAVOR is
                                             basic (default), short (no banned list) or
                                             extended (basic, plus "Total evicted": failing
                                             ids dropped because the failure table was full)
    status --all [FLAVOR]                    gets the status of every jail

                                             JAIL CONFIGURATION
    set <JAIL> idle on|off                   pauses (on) or resumes (off) reading the logs
    set <JAIL> attempt <IP> [<FAILURE> ...]  counts a failure of <IP> by hand
    set <JAIL> banip <IP> ... <IP>           bans <IP> in <JAIL> by hand
    set <JAIL> unbanip [--report-absent] <IP> ... <IP>
                                             unbans <IP> in <JAIL>
    set <JAIL> maxretry|maxmatches|maxlines <INT>
    set <JAIL> findtime|bantime <TIME>
    set <JAIL> usedns yes|warn|no|raw
    set <JAIL> ignoreself true|false
    set <JAIL> ignorecommand|ignorecache|logencoding|datepattern <VALUE>
    set <JAIL> addignoreip|delignoreip <IP>
    set <JAIL> addlogpath <FILE> [head|tail] adds <FILE>, read from its start or its end
    set <JAIL> dellogpath <FILE>
    set <JAIL> addfailregex|addignoreregex <REGEX>
    set <JAIL> delfailregex|delignoreregex <INDEX>
    set <JAIL> addjournalmatch|deljournalmatch <MATCH>
    set <JAIL> addaction <ACT>               adds a command action <ACT> (no commands yet)
    set <JAIL> delaction <ACT>               removes the action <ACT>
    set <JAIL> action <ACT> <PROPERTY> <VALUE>
                                             sets a command (actionban, ...), timeout or
                                             property of the action <ACT>

                                             JAIL INFORMATION
    get <JAIL> banned [<IP> ... <IP>]        banned IPs of <JAIL>, or 1/0 per IP given
    get <JAIL> banip [<SEP>|--with-time]     banned IPs of <JAIL>, by end of ban
    get <JAIL> logpath|logencoding|journalmatch|ignoreself|ignoreip|ignorecommand|
               ignorecache|failregex|ignoreregex|findtime|bantime|datepattern|usedns|
               maxretry|maxmatches|maxlines|backend|actions
    get <JAIL> actionproperties|actionmethods <ACT>
    get <JAIL> action <ACT> <PROPERTY>       a command, timeout or property of <ACT>`;

function invalid(words: string[], detail: string): InvalidCommandError {
  return new InvalidCommandError(words, `${detail}: see "help" for the list of commands`);
}

/** Builds `status`'s answer: number of jails and their names. */
export function serverStatus(names: string[]): StatusRow[] {
  return [["Number of jail", names.length], ["Jail list", names.join(", ")]];
}

/** The flavors of `status <jail> [flavor]` f2b answers. */
export type StatusFlavor = "basic" | "short" | "extended";

const FLAVORS: readonly string[] = ["basic", "short", "extended"];

/**
 * Builds `status <jail> [flavor]`'s answer from a {@link JailStatus}: `basic` is fail2ban's
 * (scripts parse it: it never changes), `short` leaves out the banned list, `extended` adds
 * f2b's own rows to `basic` ("Total evicted" in Filter).
 */
export function jailStatusRows(
  status: JailStatus,
  flavor: StatusFlavor,
  moreActions: StatusRow[] = [],
): StatusRow[] {
  const actions: StatusRow[] = [
    ["Currently banned", status.currentlyBanned],
    ["Total banned", status.totalBanned],
  ];
  if (flavor !== "short") actions.push(["Banned IP list", status.bannedIps]);
  actions.push(...moreActions);
  const filter: StatusRow[] = [
    ["Currently failed", status.currentlyFailed],
    ["Total failed", status.totalFailed],
  ];
  if (flavor === "extended") filter.push(["Total evicted", status.evicted ?? 0]);
  filter.push(
    status.journalMatches !== undefined
      ? ["Journal matches", [status.journalMatches]]
      : ["File list", status.files],
  );
  return [["Filter", filter], ["Actions", actions]];
}

/**
 * `status <JAIL> cymru`: the basic status with the AS numbers, countries and
 * registries of the banned addresses (Team Cymru's DNS), one entry each.
 */
async function cymruStatusRows(control: ServerControl, jail: string): Promise<StatusRow[]> {
  const status = control.jailStatus(jail);
  const info = await cymruInfo(
    status.bannedIps.map(parseAddress),
    control.txtLookup ?? systemTxtLookup(),
  );
  return jailStatusRows(status, "basic", [
    ["Banned ASN list", info.asn],
    ["Banned Country list", info.country],
    ["Banned RIR list", info.rir],
  ]);
}

/** Parses `reload`'s (or `restart`'s) words after the command name. */
function parseReload(words: string[], args: string[], restart: boolean): ReloadOptions {
  const options: ReloadOptions = {};
  if (restart) options.restart = true;
  for (const arg of args) {
    switch (arg) {
      case "--restart":
        options.restart = true;
        break;
      case "--unban":
        options.unban = true;
        break;
      case "--all":
        options.all = true;
        break;
      case "--if-exists":
        options.ifExists = true;
        break;
      default:
        if (arg.startsWith("--")) {
          throw invalid(words, `Unknown option "${arg}" of "${words[0]}"`);
        }
        if (options.jail !== undefined) {
          throw invalid(words, `"${words[0]}" takes one jail, got "${options.jail}" and "${arg}"`);
        }
        options.jail = arg;
    }
  }
  if (restart && options.jail === undefined) {
    throw invalid(words, `"restart" on the server takes a jail name`);
  }
  return options;
}

/**
 * Runs one fail2ban-client command against the daemon and returns its
 * answer. Throws {@link InvalidCommandError} for an unknown command or wrong
 * arguments, and whatever the daemon throws (e.g. `UnknownJailError`).
 *
 * @example
 * ```ts
 * import { handleCommand } from "./command_handler.ts";
 * const control = {
 *   jailNames: () => ["sshd"],
 *   jailStatus: () => { throw new Error("unused"); },
 *   stop: async () => {},
 *   reload: async () => {},
 * };
 * if (await handleCommand(control, ["ping"]) !== "pong") throw new Error();
 * ```
 */
export async function handleCommand(control: ServerControl, words: string[]): Promise<unknown> {
  const [name, ...args] = words;
  switch (name) {
    case undefined:
    case "":
      throw invalid(words, "Empty command");
    case "ping":
      return "pong";
    case "version":
      return VERSION;
    case "echo":
      return args;
    case "help":
      return COMMAND_HELP;
    case "status": {
      if (args.length === 0) return serverStatus(control.jailNames());
      if (args[0] === "--all") {
        // fail2ban 1.1's form: every jail's status at once.
        const flavor = args[1] ?? "basic";
        if (args.length > 2 || !FLAVORS.includes(flavor)) {
          throw invalid(words, `"status --all" takes a flavor: basic, short or extended`);
        }
        return control.jailNames().map((jail) => ({
          [jail]: jailStatusRows(control.jailStatus(jail), flavor as StatusFlavor),
        }));
      }
      if (args.length > 2) throw invalid(words, `"status" takes a jail and a flavor at most`);
      const flavor = args[1] ?? "basic";
      if (flavor === "cymru") return await cymruStatusRows(control, args[0]!);
      if (!FLAVORS.includes(flavor)) {
        throw invalid(
          words,
          `Unknown status flavor "${flavor}": expected basic, short, extended or cymru`,
        );
      }
      return jailStatusRows(control.jailStatus(args[0]!), flavor as StatusFlavor);
    }
    case "stop":
      if (args.length > 0) return await jailLifecycleCommand(control, words);
      await control.stop();
      return null;
    case "start":
      if (args.length === 0) {
        throw invalid(words, `"start" without a jail is done by the client: "f2b client start"`);
      }
      return await jailLifecycleCommand(control, words);
    case "banned":
      return bannedCommand(control, args);
    case "unban":
      return unbanCommand(control, words);
    case "get":
      return getCommand(control, words);
    case "set":
      return await setCommand(control, words);
    case "add":
      return await addJailCommand(control, words);
    case "flushlogs":
      return flushLogsCommand(control, words);
    case "reload":
      await control.reload(parseReload(words, args, false));
      return null;
    case "restart":
      await control.reload(parseReload(words, args, true));
      return null;
    default:
      throw invalid(words, `Invalid command "${name}"`);
  }
}
