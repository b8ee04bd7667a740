/**
 * `f2b client` (fail2ban-client): sends a command to the running server and
 * prints its answer as fail2ban-client does.
 *
 * @module
 */

import { sendCommand } from "../client/control_client.ts";
import { formatError, formatReply } from "../client/format.ts";
import { dumpConfig, shlexSplit } from "../config/command_stream.ts";
import { ConfigReader } from "../config/config_reader.ts";
import { parseDuration } from "../config/duration.ts";
import { createLogger } from "../log/logger.ts";
import type { Logger } from "../log/types.ts";
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
    --loglevel <LEVEL>      logging level of a server started by "start"
    --logtarget <TARGET>    logging target of a server started by "start"
    --syslogsocket auto|<FILE>
                            syslog socket of a server started by "start"
    -d                      dump the configuration as the command stream and exit
    --dp, --dump-pretty     dump it in a more readable form (Python's pprint)
    -t, --test              test the configuration (before the command, if any)
    -i                      interactive mode: read commands one per line until "exit"
    -x                      "start": replace the socket of a running server
    -b                      "start": run the server in the background (default)
    -f                      "start": run the server in the foreground
    -v                      increase verbosity
    -q                      decrease verbosity
    --pname <NAME>          name of the server process (accepted, ignored)
    --async                 accepted for compatibility, ignored
    --timeout <TIME>        time to wait for the server's answer (e.g. 30, 1m)
    --str2sec <STRING>      convert a time abbreviation to seconds and exit
    --json                  print answers as JSON (for scripts) instead of fail2ban's text
    -h, --help              display this help message
    -V, --version           print the version (-V: machine-readable short format)

Client commands:
    start                                    starts the server and the jails
    restart                                  restarts the server (stop, then start)

${COMMAND_HELP}`;

/** Parsed command line of the client. */
export interface ClientArgs {
  configDir: string;
  socket: string | null;
  pidfile: string | null;
  /** `--pname`: fail2ban's process name; accepted, f2b does not rename its process. */
  pname: string | null;
  verbose: number;
  /** Seconds to wait for the answer; null waits as long as the server works. */
  timeout: number | null;
  loglevel: string | null;
  logtarget: string | null;
  syslogsocket: string | null;
  /** `-x` */
  force: boolean;
  /** `-f` (else `-b`) */
  foreground: boolean;
  /** What to do instead of sending a command (`test`: `-t` given; the command, if any, follows). */
  action: "command" | "help" | "version-short" | "version-long" | "str2sec" | "test";
  /** `-d` (1) or `--dp` (2): print the configuration stream; 0 for none. */
  dump: 0 | 1 | 2;
  /** `-i`: read commands from stdin. */
  interactive: boolean;
  /** `--json`: print each answer as JSON instead of fail2ban-client's text. */
  json: boolean;
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
  "--loglevel": "loglevel",
  "--logtarget": "logtarget",
  "--syslogsocket": "syslogsocket",
  "--pname": "pname",
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
    pname: null,
    verbose: 1,
    timeout: null,
    loglevel: null,
    logtarget: null,
    syslogsocket: null,
    force: false,
    foreground: false,
    action: "command",
    dump: 0,
    interactive: false,
    json: false,
    str2sec: null,
    command: [],
  };
  // The first of -h, -V, --str2sec wins, as in fail2ban-client.
  const setAction = (action: ClientArgs["action"]) => {
    if (out.action === "command" || out.action === "test") out.action = action;
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
      if (out.action === "command" || out.action === "test") out.str2sec = value;
      setAction("str2sec");
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
        setAction("help");
      } else if (name === "--version") {
        setAction("version-long");
      } else if (name === "--test") {
        if (out.action === "command") out.action = "test";
      } else if (name === "--dp" || name === "--dump-pretty") {
        out.dump = 2;
      } else if (name === "--json") {
        out.json = true;
      } else if (name === "--async") {
        // fail2ban's internal option; f2b's server has no async mode.
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
          setAction("help");
          break;
        case "-V":
          setAction("version-short");
          break;
        case "-t":
          if (out.action === "command") out.action = "test";
          break;
        case "-d":
          out.dump = 1;
          break;
        case "-i":
          out.interactive = true;
          break;
        case "-x":
          out.force = true;
          break;
        case "-b":
          out.foreground = false;
          break;
        case "-f":
          out.foreground = true;
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

/** fail2ban-server arguments that carry the client's options over to `start`. */
function serverArgs(args: ClientArgs): string[] {
  const out = ["-c", args.configDir];
  if (args.socket !== null) out.push("-s", args.socket);
  if (args.pidfile !== null) out.push("-p", args.pidfile);
  if (args.loglevel !== null) out.push("--loglevel", args.loglevel);
  if (args.logtarget !== null) out.push("--logtarget", args.logtarget);
  if (args.syslogsocket !== null) out.push("--syslogsocket", args.syslogsocket);
  if (args.force) out.push("-x");
  return out;
}

async function isServerUp(socketPath: string): Promise<boolean> {
  try {
    return (await sendCommand(socketPath, ["ping"], { timeout: 2000 })).ok;
  } catch {
    return false;
  }
}

/** `start`: refuses when a server answers (unless -x), else runs `f2b server` (-b or -f). */
async function startServer(
  args: ClientArgs,
  socketPath: string,
  logger: Logger,
): Promise<number> {
  if (!args.force && await isServerUp(socketPath)) {
    logger.log("ERROR", "Server already running");
    return FAILURE;
  }
  const { runServerCommand } = await import("./server.ts");
  const code = await runServerCommand([...serverArgs(args), args.foreground ? "-f" : "-b"]);
  if (code === 0 && !args.foreground) console.log("Server ready");
  return code === 0 ? 0 : FAILURE;
}

/** `restart`'s first half: sends `stop` and waits until the socket no longer answers. */
async function stopServer(
  args: ClientArgs,
  socketPath: string,
  logger: Logger,
): Promise<number> {
  if (!(await isServerUp(socketPath))) {
    logger.log("WARNING", `No server answers on ${socketPath}: starting a new one`);
    return 0;
  }
  const reply = await sendCommand(socketPath, ["stop"], {
    timeout: args.timeout === null ? 0 : Math.ceil(args.timeout * 1000),
  });
  if (!reply.ok) {
    logger.log("ERROR", `NOK: ${reply.error.name}: ${reply.error.message}`);
    console.log(formatError(reply.error));
    return FAILURE;
  }
  console.log(formatReply(["stop"], reply.value));
  const deadline = Date.now() + (args.timeout ?? 30) * 1000;
  while (await isServerUp(socketPath)) {
    if (Date.now() > deadline) {
      logger.log("ERROR", `The server on ${socketPath} did not stop in time`);
      return FAILURE;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return 0;
}

function clientLogLevel(verbose: number): string {
  if (verbose <= 0) return "ERROR";
  if (verbose === 1) return "WARNING";
  if (verbose === 2) return "INFO";
  return "DEBUG";
}

/** The prompt of interactive mode, as fail2ban-client's. */
export const PROMPT = "fail2ban> ";

/** Prints the configuration stream (`-d`, `--dp`); returns false when fail2ban-client would fail. */
function dumpCommand(args: ClientArgs, logger: Logger): boolean {
  let dump;
  try {
    dump = dumpConfig(args.configDir, {
      pretty: args.dump === 2,
      loglevel: args.loglevel,
      logtarget: args.logtarget,
      syslogsocket: args.syslogsocket,
      onWarning: (message) => logger.log("WARNING", message),
      onError: (error) => logger.log("ERROR", error.message),
    });
  } catch (e) {
    console.log(`ERROR: ${(e as Error).message}`);
    return false;
  }
  if (dump.lines.length > 0) console.log(dump.lines.join("\n"));
  return dump.ok;
}

/** Sends one command (or runs `start`/`restart` of the server) and prints its answer. */
async function processCommand(
  args: ClientArgs,
  socketPath: string,
  logger: Logger,
  command: string[],
): Promise<number> {
  const [name, ...rest] = command;
  if (name === "start" && rest.length === 0) return await startServer(args, socketPath, logger);
  if (name === "restart" && rest.length === 0) {
    const stopped = await stopServer(args, socketPath, logger);
    if (stopped !== 0) return stopped;
    return await startServer(args, socketPath, logger);
  }
  let reply;
  try {
    reply = await sendCommand(socketPath, command, {
      timeout: args.timeout === null ? 0 : Math.ceil(args.timeout * 1000),
    });
  } catch (e) {
    logger.log("ERROR", (e as Error).message);
    return FAILURE;
  }
  if (args.json) {
    console.log(JSON.stringify(reply.ok ? reply.value ?? null : { error: reply.error }));
    return reply.ok ? 0 : FAILURE;
  }
  if (reply.ok) {
    console.log(formatReply(command, reply.value));
    return 0;
  }
  logger.log("ERROR", `NOK: ${reply.error.name}: ${reply.error.message}`);
  console.log(formatError(reply.error));
  return FAILURE;
}

/** Lines of `stream` (UTF-8), without their line ends. */
async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let nl: number;
    while ((nl = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, nl).replace(/\r$/, "");
      rest = rest.slice(nl + 1);
    }
  }
  if (rest !== "") yield rest;
}

/** Options of {@link runInteractive}. */
export interface InteractiveOptions {
  /** Where commands come from. @default Deno.stdin.readable */
  input?: ReadableStream<Uint8Array>;
  /** Writes the prompt (no newline). @default stdout */
  writePrompt?: (text: string) => void;
}

/**
 * `-i`: prints fail2ban-client's banner, then reads commands one per line
 * (shell-quoted words), sends each and prints its answer, until `exit`,
 * `quit` or the end of the input. `help` prints the usage. A failed command
 * is reported and the loop goes on; the exit code is 0.
 */
export async function runInteractive(
  args: ClientArgs,
  socketPath: string,
  logger: Logger,
  options: InteractiveOptions = {},
): Promise<number> {
  const encoder = new TextEncoder();
  const writePrompt = options.writePrompt ??
    ((text: string) => void Deno.stdout.writeSync(encoder.encode(text)));
  console.log(`f2b v${VERSION} reads log files that contain password failure reports`);
  console.log("and bans the corresponding IP addresses using firewall rules.");
  console.log("");
  writePrompt(PROMPT);
  for await (const line of readLines(options.input ?? Deno.stdin.readable)) {
    const text = line.trim();
    if (text === "exit" || text === "quit") return 0;
    if (text === "help") {
      console.log(USAGE);
    } else if (text !== "") {
      let words: string[] | null = null;
      try {
        words = shlexSplit(text);
      } catch (e) {
        logger.log("ERROR", `Cannot parse the command: ${(e as Error).message}`);
      }
      if (words !== null && words.length > 0) {
        await processCommand(args, socketPath, logger, words);
      }
    }
    writePrompt(PROMPT);
  }
  // End of input: end the prompt line, as fail2ban-client does.
  console.log("");
  return 0;
}

/**
 * Runs fail2ban-client's command line and returns the exit code: 0 on
 * success, 255 on any failure (as fail2ban-client). With `-d`/`--dp` the
 * configuration stream is printed and the client stops unless `-t` is also
 * given; `-t` tests the configuration and stops unless a command or `-i`
 * follows.
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
        const text = parsed.str2sec ?? "";
        const seconds = parseDuration(text);
        // fail2ban computes in Python: a decimal in the input makes the result a float ("5400.0").
        const float = /\d*\.\d/.test(text) && Number.isInteger(seconds);
        console.log(float ? `${seconds}.0` : String(seconds));
        return 0;
      } catch (e) {
        console.error((e as Error).message);
        return FAILURE;
      }
  }
  const logger = createLogger({ target: "STDERR", level: clientLogLevel(parsed.verbose) });
  try {
    const testing = parsed.action === "test";
    if (parsed.dump !== 0) {
      const ok = dumpCommand(parsed, logger);
      if (!testing) return ok ? 0 : FAILURE;
    }
    if (testing) {
      const { runServerCommand } = await import("./server.ts");
      const code = await runServerCommand(["-t", ...serverArgs(parsed)]);
      if (code !== 0) {
        console.log("ERROR: test configuration failed");
        return FAILURE;
      }
      if (parsed.command.length === 0 && !parsed.interactive) return 0;
    }
    if (parsed.command.length === 0 && !parsed.interactive) {
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
    if (parsed.interactive) {
      if (parsed.command.length > 0) {
        const code = await processCommand(parsed, socketPath, logger, parsed.command);
        if (code !== 0) return code;
      }
      return await runInteractive(parsed, socketPath, logger);
    }
    return await processCommand(parsed, socketPath, logger, parsed.command);
  } finally {
    logger.close();
  }
}
