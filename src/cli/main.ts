/**
 * The command line: `f2b regex|server|client …`. Run under a fail2ban program
 * name (`fail2ban-regex`, `fail2ban-server`, `fail2ban-client`) it behaves as
 * that program.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/**
 * The program names that stand for a subcommand: fail2ban's own, and the
 * `f2b-` names the installer uses beside an installed fail2ban.
 */
export const PROGRAMS: Record<string, string> = {
  "fail2ban-regex": "regex",
  "fail2ban-server": "server",
  "fail2ban-client": "client",
  "f2b-regex": "regex",
  "f2b-server": "server",
  "f2b-client": "client",
};

/** fail2ban's configuration directory, the default of `-c`. */
export const DEFAULT_CONFIG_DIR = "/etc/fail2ban";

/**
 * The configuration shipped with f2b (`config/`): beside the sources under
 * `deno run`, embedded in the executable built by `deno task compile`.
 */
export const BUILTIN_CONFIG_DIR: string = fileURLToPath(new URL("../../config", import.meta.url));

/** How this process was started, for {@linkcode programName}. */
export interface ProgramInvocation {
  /** True in an executable built by `deno compile` (`Deno.build.standalone`). */
  standalone: boolean;
  /** The name the program was called by (`process.argv0`: a symlink keeps its own name). */
  argv0: string;
  /** The executable's real path (`Deno.execPath()`: symlinks resolved). */
  execPath: string;
}

/**
 * The program name to dispatch on. Under `deno run` it is always `f2b` (the
 * wrapper scripts pass the subcommand); in a compiled executable it is the
 * name it was called by (a symlink named fail2ban-client), else the name of
 * the executable file itself (a copy named fail2ban-client).
 */
export function programName(invocation: ProgramInvocation): string {
  if (!invocation.standalone) return "f2b";
  if (Object.hasOwn(PROGRAMS, baseName(invocation.argv0))) return invocation.argv0;
  return invocation.execPath;
}

function baseName(path: string): string {
  return (path.split("/").pop() ?? "").replace(/\.(ts|js|exe)$/, "");
}

/** True when `args` name a configuration directory (`-c DIR`, `--conf=DIR`, `-xc DIR`, …). */
function hasConfigOption(args: string[]): boolean {
  for (const a of args) {
    if (a === "--") break;
    if (/^--conf(ig)?(=|$)/.test(a) || /^-[a-zA-Z]*c/.test(a)) return true;
  }
  return false;
}

/**
 * Arguments with the built-in configuration made explicit when none is given
 * and fail2ban's default directory does not exist; a given `-c` or an existing
 * /etc/fail2ban is always used as it is.
 */
export function withDefaultConfig(
  command: string,
  args: string[],
  defaultExists: () => boolean = () => existsDir(DEFAULT_CONFIG_DIR),
): string[] {
  if (!Object.values(PROGRAMS).includes(command) || hasConfigOption(args)) return args;
  if (defaultExists()) return args;
  return ["-c", BUILTIN_CONFIG_DIR, ...args];
}

function existsDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

const USAGE = `Usage: f2b <command> [options]

Commands:
  regex   test a filter against log lines (fail2ban-regex)
  server  run the daemon (fail2ban-server)
  client  control the daemon (fail2ban-client)

Run "f2b <command> -h" for the options of a command.`;

/**
 * Picks the subcommand from the program name (a link named fail2ban-client)
 * or the first argument, and returns the remaining arguments.
 */
export function dispatch(
  programName: string,
  args: string[],
): { command: string | null; rest: string[] } {
  const base = baseName(programName);
  const byName = Object.hasOwn(PROGRAMS, base) ? PROGRAMS[base] : undefined;
  if (byName) return { command: byName, rest: args };
  const [first, ...rest] = args;
  if (first && Object.values(PROGRAMS).includes(first)) return { command: first, rest };
  return { command: null, rest: args };
}

/** Runs the command line and returns the exit code. */
export async function main(programName: string, args: string[]): Promise<number> {
  const { command, rest } = dispatch(programName, args);
  switch (command) {
    case "regex": {
      const { runRegexCommand } = await import("./regex.ts");
      return await runRegexCommand(withDefaultConfig(command, rest));
    }
    case "server": {
      const { runServerCommand } = await import("./server.ts");
      return await runServerCommand(withDefaultConfig(command, rest));
    }
    case "client": {
      const { runClientCommand } = await import("./client.ts");
      return await runClientCommand(withDefaultConfig(command, rest));
    }
    default:
      if (args[0] === "-h" || args[0] === "--help") {
        console.log(USAGE);
        return 0;
      }
      console.error(
        args[0]
          ? `Unknown command "${args[0]}": expected regex, server or client\n\n${USAGE}`
          : USAGE,
      );
      return 2;
  }
}
