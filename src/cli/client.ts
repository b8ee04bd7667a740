/**
 * `f2b client` (fail2ban-client): sends a command to the running server and
 * prints its answer as fail2ban-client does.
 *
 * @module
 */

import { sendCommand } from "../client/control_client.ts";
import { formatError, formatReply } from "../client/format.ts";
import { ConfigReader } from "../config/config_reader.ts";
import { parseDuration } from "../config/duration.ts";
import { createLogger } from "../log/logger.ts";
import { COMMAND_HELP, VERSION } from "../server/command_handler.ts";

/** fail2ban's default configuration directory. */
export const DEFAULT_CONFIG_DIR = "/etc/fail2ban";
/** fail2ban's default socket path, used when fail2ban.conf does not set one. */
export const DEFAULT_SOCKET = "/var/run/fail2ban/fail2ban.sock";

/** Exit code of a failed command, as fail2ban-client's. */
const FAILURE = 255;

const USAGE = `Usage: f2b client [OPTIONS] <COMMAND>

Sends <COMMAND> to the running f2b server (fail2ban-client compatible).

Options:
    -c, --conf <DIR>        configuration directory (default ${DEFAULT_CONFIG_DIR}); the
                            socket path is read from its fail2ban.conf / fail2ban.local
    -s, --socket <FILE>     socket path (overrides the configuration)
    -p, --pidfile <FILE>    pidfile path (accepted for compatibility)
    -v                      increase verbosity
    -q                      decrease verbosity
    --timeout <TIME>        time to wait for the server's answer (e.g. 30, 1m)
    --str2sec <STRING>      convert a time abbreviation to seconds and exit
    -h, --help              display this help message
    -V, --version           print the version (-V: machine-readable short format)

${COMMAND_HELP}`;

/** Parsed command line of the client. */
export interface ClientArgs {
  configDir: string;
  socket: string | null;
  pidfile: string | null;
  verbose: number;
  /** Seconds to wait for the answer; null waits as long as the server works. */
  timeout: number | null;
  /** What to do instead of sending a command. */
  action: "command" | "help" | "version-short" | "version-long" | "str2sec";
  str2sec: string | null;
  command: string[];
}

/** A command line the client cannot use; the message says what is wrong. */
export class UsageError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

const WITH_VALUE: Record<string, keyof ClientArgs> = {
  "-c": "configDir",
  "--conf": "configDir",
  "-s": "socket",
  "--socket": "socket",
  "-p": "pidfile",
  "--pidfile": "pidfile",
  "--timeout": "timeout",
  "--str2sec": "str2sec",
};

/**
 * Parses fail2ban-client's options (everything before the first command
 * word, getopt style: `-vv`, `-sPATH`, `--socket=PATH`, `--`). Throws
 * {@link UsageError}.
 */
export function parseClientArgs(args: string[]): ClientArgs {
  const out: ClientArgs = {
    configDir: DEFAULT_CONFIG_DIR,
    socket: null,
    pidfile: null,
    verbose: 1,
    timeout: null,
    action: "command",
    str2sec: null,
    command: [],
  };
  const setValue = (opt: string, value: string | undefined) => {
    if (value === undefined) throw new UsageError(`Option "${opt}" needs a value`);
    const key = WITH_VALUE[opt]!;
    if (key === "timeout") {
      let seconds: number;
      try {
        seconds = parseDuration(value);
      } catch {
        throw new UsageError(`Invalid --timeout "${value}": expected a duration like 30 or 1m`);
      }
      if (!(seconds > 0)) throw new UsageError(`Invalid --timeout "${value}": must be positive`);
      out.timeout = seconds;
    } else if (key === "str2sec") {
      out.action = "str2sec";
      out.str2sec = value;
    } else {
      (out as unknown as Record<string, string>)[key] = value;
    }
  };
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      i++;
      break;
    }
    if (!arg.startsWith("-") || arg === "-") break;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq >= 0 ? arg.slice(0, eq) : arg;
      if (name in WITH_VALUE) {
        setValue(name, eq >= 0 ? arg.slice(eq + 1) : args[++i]);
      } else if (name === "--help") {
        out.action = "help";
      } else if (name === "--version") {
        out.action = "version-long";
      } else {
        throw new UsageError(`Unknown option "${name}"`);
      }
      continue;
    }
    // A group of short options: -vq, -s PATH, -sPATH.
    for (let j = 1; j < arg.length; j++) {
      const opt = `-${arg[j]}`;
      if (opt in WITH_VALUE) {
        const rest = arg.slice(j + 1);
        setValue(opt, rest !== "" ? rest : args[++i]);
        break;
      }
      switch (opt) {
        case "-v":
          out.verbose++;
          break;
        case "-q":
          out.verbose--;
          break;
        case "-h":
          out.action = "help";
          break;
        case "-V":
          out.action = "version-short";
          break;
        default:
          throw new UsageError(`Unknown option "${opt}"`);
      }
    }
  }
  out.command = args.slice(i);
  return out;
}

/**
 * Finds the socket path: `-s`, else `socket` in [Definition] of the
 * configuration directory's fail2ban.conf (and .local layers), else the
 * default. Throws an `Error` naming the directory when it has no
 * fail2ban.conf.
 */
export function resolveSocketPath(args: ClientArgs): string {
  if (args.socket !== null) return args.socket;
  const reader = new ConfigReader(args.configDir);
  const files = reader.read("fail2ban");
  if (files.length === 0) {
    throw new Error(
      `Cannot read the configuration: no fail2ban.conf in "${args.configDir}" (use -c DIR or -s SOCKET)`,
    );
  }
  if (reader.hasSection("Definition") && reader.hasOption("Definition", "socket")) {
    return reader.get("Definition", "socket");
  }
  return DEFAULT_SOCKET;
}

function clientLogLevel(verbose: number): string {
  if (verbose <= 0) return "ERROR";
  if (verbose === 1) return "WARNING";
  if (verbose === 2) return "INFO";
  return "DEBUG";
}

/**
 * Runs fail2ban-client's command line and returns the exit code: 0 on
 * success, 255 on any failure (as fail2ban-client).
 */
export async function runClientCommand(args: string[]): Promise<number> {
  let parsed: ClientArgs;
  try {
    parsed = parseClientArgs(args);
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    return FAILURE;
  }
  switch (parsed.action) {
    case "help":
      console.log(USAGE);
      return 0;
    case "version-short":
      console.log(VERSION);
      return 0;
    case "version-long":
      console.log(`f2b v${VERSION} (fail2ban-compatible)`);
      return 0;
    case "str2sec":
      try {
        const seconds = parseDuration(parsed.str2sec ?? "");
        console.log(String(seconds));
        return 0;
      } catch (e) {
        console.error((e as Error).message);
        return FAILURE;
      }
  }
  const logger = createLogger({ target: "STDERR", level: clientLogLevel(parsed.verbose) });
  try {
    if (parsed.command.length === 0) {
      console.error(`No command given\n\n${USAGE}`);
      return FAILURE;
    }
    let socketPath: string;
    try {
      socketPath = resolveSocketPath(parsed);
    } catch (e) {
      logger.log("ERROR", (e as Error).message);
      return FAILURE;
    }
    logger.log("INFO", `Using socket file ${socketPath}`);
    let reply;
    try {
      reply = await sendCommand(socketPath, parsed.command, {
        timeout: parsed.timeout === null ? 0 : Math.ceil(parsed.timeout * 1000),
      });
    } catch (e) {
      logger.log("ERROR", (e as Error).message);
      return FAILURE;
    }
    if (reply.ok) {
      console.log(formatReply(parsed.command, reply.value));
      return 0;
    }
    logger.log("ERROR", `NOK: ${reply.error.name}: ${reply.error.message}`);
    console.log(formatError(reply.error));
    return FAILURE;
  } finally {
    logger.close();
  }
}
