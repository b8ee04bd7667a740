/**
 * `f2b server`: fail2ban-server's command line. Reads the configuration
 * directory, opens the control socket and runs the daemon with every enabled
 * jail, in the foreground (`-f`) or detached in the background (`-b`, the
 * default).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { dirname } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import type { JailSpec, ServerSpec } from "../config/types.ts";
import { readServerConfig } from "../config/jail_reader.ts";
import { ActionExecutor } from "../actions/action_executor.ts";
import { ShellCommandRunner } from "../actions/command_runner.ts";
import { BanDatabase } from "../db/ban_database.ts";
import { BanManager } from "../jail/ban_manager.ts";
import { checkJailSpec, loadCheckedJails } from "../jail/jail_check.ts";
import { Daemon } from "../daemon/daemon.ts";
import { regexBounded } from "../filter/bounded_regex.ts";
import { createLogger, type DaemonLogger } from "../log/logger.ts";
import { AlreadyRunningError, startControlServer } from "../server/control_server.ts";
import { VERSION } from "../server/command_handler.ts";
import { sendCommand } from "../client/control_client.ts";
import { PROGRAMS } from "./main.ts";
import { SYSTEM_CLOCK } from "../util/clock.ts";

const HELP = `Usage: f2b server [OPTIONS]

f2b v${VERSION} reads log files that contain password failure reports
and bans the corresponding IP addresses using firewall rules.

Options:
    -c, --conf <DIR>        configuration directory (default /etc/fail2ban)
    -s, --socket <FILE>     socket path
    -p, --pidfile <FILE>    pidfile path
    --pname <NAME>          name of the process (accepted, ignored)
    --loglevel <LEVEL>      logging level
    --logtarget <TARGET>    logging target: a file name or STDOUT, STDERR, SYSLOG or SYSOUT
    --syslogsocket auto|<FILE>
    -t, --test              test the configuration and exit
    -v                      increase verbosity
    -q                      decrease verbosity
    -x                      force execution of the server (replace the socket of a running one)
    -b                      start the server in the background (default)
    -f                      start the server in the foreground
    -h, --help              display this help message
    -V, --version           print the version (-V prints the short form)

f2b options:
    --heartbeat-timeout <SECONDS>  restart a jail worker silent this long (default 5)`;

const LEVELS = ["CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"];

/**
 * The V8 flags the server runs with: a backtrack limit for every filter regex
 * (`--allow-natives-syntax`, see src/filter/bounded_regex.ts), a linear-time fallback for runaway
 * regexes that engine can run, an old
 * generation that grows by 50% over the live data between full collections instead of up to
 * 4x (a million failing ids: RSS ~720 -> ~450 MiB, per-line speed unchanged), and young
 * generations of 1 MiB semi-spaces instead of up to 16 MiB in each isolate (the main thread and
 * every jail worker; workers keep most of what they allocate per line, so the larger nursery only
 * held memory: 5 idle jails ~157 -> ~147 MiB RSS, 300,000 failing ids ~354 -> ~277 MiB, same
 * lines/s in scripts/bench_memory.ts). Not for the regex command, whose per-line garbage a small
 * nursery collects 30% more slowly: the compiled executable, which runs both, keeps the others only.
 */
export const V8_FLAGS =
  "--v8-flags=--enable-experimental-regexp-engine-on-excessive-backtracks,--allow-natives-syntax,--heap-growing-percent=50,--max-semi-space-size=1";

interface ServerArgs {
  conf: string;
  socket?: string | undefined;
  pidfile?: string | undefined;
  loglevel?: string | undefined;
  logtarget?: string | undefined;
  syslogsocket?: string | undefined;
  foreground: boolean;
  force: boolean;
  test: boolean;
  verbosity: number;
  heartbeatTimeout?: number | undefined;
}

function parse(args: string[]): ServerArgs | number {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      // fail2ban's init scripts and units pass a trailing "start" (fail2ban-server -xf start).
      allowPositionals: true,
      options: {
        conf: { type: "string", short: "c" },
        socket: { type: "string", short: "s" },
        pidfile: { type: "string", short: "p" },
        pname: { type: "string" },
        loglevel: { type: "string" },
        logtarget: { type: "string" },
        syslogsocket: { type: "string" },
        test: { type: "boolean", short: "t" },
        v: { type: "boolean", short: "v", multiple: true },
        q: { type: "boolean", short: "q", multiple: true },
        x: { type: "boolean", short: "x" },
        b: { type: "boolean", short: "b" },
        f: { type: "boolean", short: "f" },
        async: { type: "boolean" },
        timeout: { type: "string" },
        help: { type: "boolean", short: "h" },
        V: { type: "boolean", short: "V" },
        version: { type: "boolean" },
        "heartbeat-timeout": { type: "string" },
      },
    });
  } catch (e) {
    console.error(`${e instanceof Error ? e.message : e}\n\n${HELP}`);
    return 255;
  }
  const unexpected = parsed.positionals.filter((word) => word !== "start");
  if (unexpected.length > 0) {
    console.error(
      `Unexpected argument "${unexpected[0]}": the server takes only "start"\n\n${HELP}`,
    );
    return 255;
  }
  const v = parsed.values;
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  if (v.V) {
    console.log(VERSION);
    return 0;
  }
  if (v.version) {
    console.log(`f2b v${VERSION}`);
    return 0;
  }
  let heartbeatTimeout: number | undefined;
  if (v["heartbeat-timeout"] !== undefined) {
    heartbeatTimeout = Number(v["heartbeat-timeout"]);
    if (!(heartbeatTimeout > 0)) {
      console.error(`Bad --heartbeat-timeout: "${v["heartbeat-timeout"]}": expected seconds > 0`);
      return 255;
    }
  }
  return {
    conf: v.conf ?? "/etc/fail2ban",
    socket: v.socket,
    pidfile: v.pidfile,
    loglevel: v.loglevel,
    logtarget: v.logtarget,
    syslogsocket: v.syslogsocket,
    // fail2ban-server runs in the background unless -f comes last.
    foreground: lastFlag(args, ["-f"], ["-b"]),
    force: v.x ?? false,
    test: v.test ?? false,
    verbosity: (v.v?.length ?? 0) - (v.q?.length ?? 0),
    heartbeatTimeout,
  };
}

/** True when one of `on` appears after every one of `off` (short flags may be grouped: `-xf`). */
function lastFlag(args: string[], on: string[], off: string[]): boolean {
  let state = false;
  for (const a of args) {
    if (a === "--") break;
    if (/^-[a-zA-Z]+$/.test(a)) {
      for (const ch of a.slice(1)) {
        if (on.includes(`-${ch}`)) state = true;
        if (off.includes(`-${ch}`)) state = false;
      }
    }
  }
  return state;
}

/** Server settings: fail2ban.conf, then the command line. */
function settings(spec: ServerSpec, a: ServerArgs): ServerSpec {
  const s = { ...spec };
  if (a.socket) s.socket = a.socket;
  if (a.pidfile) s.pidfile = a.pidfile;
  if (a.loglevel) s.loglevel = a.loglevel;
  if (a.logtarget) s.logtarget = a.logtarget;
  if (a.syslogsocket) s.syslogsocket = a.syslogsocket;
  if (a.verbosity !== 0) {
    const i = LEVELS.indexOf(s.loglevel.toUpperCase());
    if (i >= 0) {
      s.loglevel = LEVELS[Math.max(0, Math.min(LEVELS.length - 1, i + a.verbosity))] as string;
    }
  }
  return s;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Where f2b would differ from fail2ban with this configuration, one line per note. */
function migrationNotes(spec: ServerSpec, jails: JailSpec[]): string[] {
  return [
    ...(spec.warnings ?? []),
    ...jails.flatMap((j) => (j.warnings ?? []).map((w) => `[${j.name}] ${w}`)),
  ];
}

async function testConfig(conf: string): Promise<number> {
  try {
    const spec = await readServerConfig(conf);
    const jails = loadCheckedJails(conf);
    for (const note of migrationNotes(spec, jails)) console.log(`WARNING: ${note}`);
    if (jails.length === 0) console.log(`WARNING: no enabled jail in ${conf}`);
  } catch (e) {
    console.error(`ERROR: ${errorText(e)}`);
    return 1;
  }
  console.log("OK: configuration test is successful");
  return 0;
}

/** Runs `f2b server` and returns its exit code. */
export async function runServerCommand(args: string[]): Promise<number> {
  const a = parse(args);
  if (typeof a === "number") return a;
  if (a.test) return await testConfig(a.conf);
  let spec: ServerSpec;
  try {
    spec = settings(await readServerConfig(a.conf), a);
  } catch (e) {
    console.error(`ERROR: ${errorText(e)}`);
    return 255;
  }
  if (!a.foreground) {
    // Configuration errors are shown here: the detached server has no terminal.
    try {
      const jails = loadCheckedJails(a.conf);
      for (const note of migrationNotes(spec, jails)) console.error(`WARNING: ${note}`);
    } catch (e) {
      console.error(`ERROR: ${errorText(e)}`);
      return 255;
    }
    if (!a.force && await answers(spec.socket)) {
      console.error(
        `ERROR: Server already running: a server answers on socket "${spec.socket}" (use -x to replace it)`,
      );
      return 255;
    }
    return await background(args, spec.socket);
  }
  return await foreground(a, spec);
}

async function answers(socket: string): Promise<boolean> {
  try {
    return (await sendCommand(socket, ["ping"], { timeout: 1000 })).ok;
  } catch {
    return false;
  }
}

/** Starts this program again, detached, in the foreground mode; returns when its socket answers. */
async function background(args: string[], socket: string): Promise<number> {
  const rest = [...args.filter((x) => x !== "-b"), "-f"];
  const exec = Deno.execPath();
  const base = exec.split("/").pop() ?? "";
  let cmd: string[];
  // A compiled executable's main module also ends in mod.ts: only `deno run` needs the script path.
  if (!Deno.build.standalone) {
    cmd = ["run", "-A", V8_FLAGS, fromFileUrl(Deno.mainModule), "server", ...rest];
  } else {
    cmd = base.replace(/\.exe$/, "") in PROGRAMS ? rest : ["server", ...rest];
  }
  const child = new Deno.Command(exec, {
    args: cmd,
    stdin: "null",
    stdout: "null",
    // No pipe: a write to it after this process is gone would fail in the server.
    stderr: "null",
    detached: true,
  }).spawn();
  let exited: Deno.CommandStatus | null = null;
  child.status.then((s) => exited = s);
  for (let i = 0; i < 300; i++) {
    if (exited) {
      console.error(
        `ERROR: the server exited with code ${
          (exited as Deno.CommandStatus).code
        }; see its log target for why`,
      );
      return 255;
    }
    if (await answers(socket)) {
      child.unref();
      return 0;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  console.error(`ERROR: the server did not answer on "${socket}" within 30 seconds`);
  child.unref();
  return 255;
}

async function foreground(a: ServerArgs, spec: ServerSpec): Promise<number> {
  let logger: DaemonLogger;
  try {
    logger = createLogger({
      target: spec.logtarget,
      level: spec.loglevel,
      syslogSocket: spec.syslogsocket,
    });
  } catch (e) {
    console.error(`ERROR: ${errorText(e)}`);
    return 255;
  }
  const clock = SYSTEM_CLOCK;
  const log = logger.child("server");
  log.log("INFO", "-".repeat(50));
  log.log("INFO", `Starting f2b v${VERSION}`);
  if (!regexBounded()) {
    log.log(
      "WARNING",
      "Filter regexes run without a backtrack limit: start f2b with --v8-flags=--allow-natives-syntax (deno task start, the installed service and the compiled executable do), or a hostile log line can stall a jail until its worker is restarted",
    );
  }
  // Jail notes are logged by the daemon as each jail starts.
  for (const note of spec.warnings ?? []) log.log("WARNING", note);

  let db: BanDatabase | null = null;
  let control: Awaited<ReturnType<typeof startControlServer>> | null = null;
  let pidWritten = false;
  const signals: [Deno.Signal, () => void][] = [];
  let runner: ShellCommandRunner | null = null;
  try {
    if (spec.dbfile && spec.dbfile.toLowerCase() !== "none") {
      if (spec.dbfile !== ":memory:") {
        await Deno.mkdir(dirname(spec.dbfile), { recursive: true }).catch(() => {});
      }
      db = BanDatabase.open(spec.dbfile, { logger: logger.child("database"), clock });
    }
    const database = db;
    // Shells kept started (about 0.25 MiB each): a ban does not wait for setsid and the shell
    // to start, even in a burst of bans.
    const shell = new ShellCommandRunner({ spares: 16 });
    runner = shell;
    const executor = new ActionExecutor({
      runner: shell,
      logger: logger.child("actions"),
      clock,
      ...(database ? { mergedBans: (fid, jail) => database.bansMerged(fid, jail) } : {}),
    });
    const daemon: Daemon = new Daemon({
      loadJails: () => loadCheckedJails(a.conf),
      newBanManager: (jail) =>
        new BanManager({
          jail: jail.name,
          banTime: jail.bantime,
          increment: jail.bantimeIncrement,
          clock,
          logger: logger.child("actions"),
        }),
      executor,
      db,
      logger,
      clock,
      exec: (command, env, timeout) => shell.run(command, { env, timeout }),
      dbPurgeAge: spec.dbpurgeage,
      validateJail: checkJailSpec,
      daemonLogger: logger,
      serverSpec: spec,
      ...(a.heartbeatTimeout ? { heartbeatTimeout: a.heartbeatTimeout * 1000 } : {}),
    });
    try {
      control = await startControlServer({
        socketPath: spec.socket,
        control: daemon,
        logger: logger.child("server"),
        force: a.force,
      });
    } catch (e) {
      if (e instanceof AlreadyRunningError) {
        console.error(`ERROR: ${e.message}`);
        log.log("ERROR", e.message);
        return 255;
      }
      throw e;
    }
    if (spec.pidfile) {
      await Deno.mkdir(dirname(spec.pidfile), { recursive: true });
      await Deno.writeTextFile(spec.pidfile, `${Deno.pid}\n`);
      pidWritten = true;
    }
    const on = (sig: Deno.Signal, fn: () => void) => {
      Deno.addSignalListener(sig, fn);
      signals.push([sig, fn]);
    };
    const stop = () => {
      log.log("NOTICE", "Received signal: stopping");
      void daemon.stop();
    };
    on("SIGTERM", stop);
    on("SIGINT", stop);
    on("SIGHUP", () => {
      log.log("NOTICE", "Received SIGHUP: reloading the configuration");
      daemon.reload({}).catch((e) => log.log("ERROR", `Reload failed: ${errorText(e)}`));
    });
    // The first process spawn of a Deno process is slow (tens of ms): pay it now, not in the
    // first ban.
    for (let i = 0; i < 2; i++) await shell.run(":", { env: {}, timeout: 5 });
    try {
      await daemon.start();
    } catch (e) {
      log.log("ERROR", `Cannot start: ${errorText(e)}`);
      console.error(`ERROR: ${errorText(e)}`);
      await daemon.stop();
      return 255;
    }
    log.log("INFO", `Server ready (${daemon.jailNames().length} jails)`);
    await daemon.finished;
    log.log("INFO", "Exiting f2b");
    return 0;
  } catch (e) {
    log.log("CRITICAL", `Server failed: ${errorText(e)}`);
    console.error(`ERROR: ${errorText(e)}`);
    return 255;
  } finally {
    for (const [sig, fn] of signals) Deno.removeSignalListener(sig, fn);
    // Let the reply to a `stop` command go out before the socket closes.
    await new Promise((r) => setTimeout(r, 10));
    await control?.close();
    await runner?.close();
    if (pidWritten) await Deno.remove(spec.pidfile).catch(() => {});
    logger.close();
  }
}
