/**
 * The command line: `f2b regex|server|client …`. Run under a fail2ban program
 * name (`fail2ban-regex`, `fail2ban-server`, `fail2ban-client`) it behaves as
 * that program.
 *
 * @module
 */

/** The subcommands and the fail2ban program names they stand for. */
export const PROGRAMS: Record<string, string> = {
  "fail2ban-regex": "regex",
  "fail2ban-server": "server",
  "fail2ban-client": "client",
};

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
  const base = programName.split("/").pop() ?? "";
  const byName = PROGRAMS[base.replace(/\.(ts|js|exe)$/, "")];
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
      return await runRegexCommand(rest);
    }
    case "server": {
      const { runServerCommand } = await import("./server.ts");
      return await runServerCommand(rest);
    }
    case "client": {
      const { runClientCommand } = await import("./client.ts");
      return await runClientCommand(rest);
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
