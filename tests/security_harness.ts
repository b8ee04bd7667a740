/**
 * Shared pieces for the SECURITY.md process tests (tests/security_*_test.ts):
 * a temporary configuration, the real server as a subprocess with its own
 * socket, pidfile and log target, and a recording action that appends every
 * start, stop, ban and unban to a file.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { sendCommand } from "../src/client/control_client.ts";

/** Path of the program's entry module. */
export const MOD = fileURLToPath(new URL("../mod.ts", import.meta.url));
/** Directory of the shipped configuration. */
export const SHIPPED = fileURLToPath(new URL("../config/", import.meta.url));
/** The V8 flag every f2b process runs with. */
export const V8 =
  "--v8-flags=--enable-experimental-regexp-engine-on-excessive-backtracks,--allow-natives-syntax";
/**
 * The flags without `--allow-natives-syntax`: filter regexes run without a
 * backtrack limit, so a catastrophic regex really hangs a worker (the
 * supervisor's restart is what bounds it then).
 */
export const V8_UNBOUNDED =
  "--v8-flags=--enable-experimental-regexp-engine-on-excessive-backtracks";

/** `YYYY-MM-DD hh:mm:ss` in local time, the form the test filter's dates take. */
export function stamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())}`;
}

/** A log line the `authfail` test filter matches. */
export function fail(ip: string, user = "bob", d = new Date()): string {
  return `${stamp(d)} auth failure for user ${user} from ${ip}\n`;
}

/** One jail of a test configuration. */
export interface JailDef {
  /** Section name; the log file is `<dir>/<name>.log`. */
  name: string;
  /** `action = ` value. @default "record" */
  action?: string;
  /** `filter = ` value. @default "authfail" */
  filter?: string;
  /** Extra `key = value` lines. */
  extra?: string;
  /** `logpath = ` value. @default `<dir>/<name>.log` (created empty) */
  logpath?: string;
}

/** Options of {@link writeConfig}. */
export interface ConfigOptions {
  /** Options of [DEFAULT] in jail.conf, over the test defaults (findtime 10m, bantime 10m, maxretry 2, …). */
  defaults?: Record<string, string>;
  /** `logtarget` of fail2ban.conf. @default `<dir>/f2b.log` */
  logtarget?: string;
  /** `dbfile` of fail2ban.conf. @default `<dir>/f2b.sqlite3` */
  dbfile?: string;
  /** Copy the shipped filter.d (common.conf, sshd.conf, …) into the config. @default false */
  shippedFilters?: boolean;
}

/** Options of {@link writeServerConf}. */
export interface ServerConfOptions {
  /** Base name of the log, socket and pidfile (`<dir>/<name>.log`, `<dir>/run/<name>.sock`). @default "f2b" */
  name?: string;
  /** `logtarget`. @default `<dir>/<name>.log` */
  logtarget?: string;
  /** `dbfile`. @default `<dir>/<name>.sqlite3` */
  dbfile?: string;
  /** Further `key = value` lines for [Definition]. */
  extra?: string[];
}

/** Writes a test `fail2ban.conf` whose files all live in `dir`. */
export async function writeServerConf(dir: string, options: ServerConfOptions = {}): Promise<void> {
  const name = options.name ?? "f2b";
  await Deno.writeTextFile(
    `${dir}/fail2ban.conf`,
    [
      "[Definition]",
      "loglevel = INFO",
      `logtarget = ${options.logtarget ?? `${dir}/${name}.log`}`,
      "syslogsocket = auto",
      `socket = ${dir}/run/${name}.sock`,
      `pidfile = ${dir}/run/${name}.pid`,
      `dbfile = ${options.dbfile ?? `${dir}/${name}.sqlite3`}`,
      "dbpurgeage = 1d",
      ...(options.extra ?? []),
      "",
    ].join("\n"),
  );
}

/** The recording action: one line per start, stop, ban and unban in `<dir>/actions.txt`. */
export function recordAction(dir: string): string {
  return `[Definition]
actionstart = echo "start <name>" >> ${dir}/actions.txt
actionstop = echo "stop <name>" >> ${dir}/actions.txt
actionban = echo "ban <name> <ip>" >> ${dir}/actions.txt
actionunban = echo "unban <name> <ip>" >> ${dir}/actions.txt
`;
}

/** Writes fail2ban.conf, jail.conf, filter.d/authfail.conf and action.d/record.conf into `dir`. */
export async function writeConfig(
  dir: string,
  jails: JailDef[],
  options: ConfigOptions = {},
): Promise<void> {
  await Deno.mkdir(`${dir}/filter.d`, { recursive: true });
  await Deno.mkdir(`${dir}/action.d`, { recursive: true });
  if (options.shippedFilters) {
    for (const e of Deno.readDirSync(`${SHIPPED}filter.d`)) {
      if (e.isFile) {
        await Deno.copyFile(`${SHIPPED}filter.d/${e.name}`, `${dir}/filter.d/${e.name}`);
      }
    }
  }
  await writeServerConf(dir, {
    ...(options.logtarget !== undefined ? { logtarget: options.logtarget } : {}),
    ...(options.dbfile !== undefined ? { dbfile: options.dbfile } : {}),
  });
  await Deno.writeTextFile(
    `${dir}/filter.d/authfail.conf`,
    `[Definition]
failregex = ^\\s*auth failure for user <F-USER>\\S+(?: \\S+)*?</F-USER> from <HOST>$
`,
  );
  await Deno.writeTextFile(`${dir}/action.d/record.conf`, recordAction(dir));
  const defaults: Record<string, string> = {
    findtime: "10m",
    bantime: "10m",
    maxretry: "2",
    backend: "polling",
    usedns: "no",
    ignoreself: "false",
    ignoreip: "",
    ...options.defaults,
  };
  let conf = "[DEFAULT]\n" +
    Object.entries(defaults).map(([k, v]) => `${k} = ${v}\n`).join("");
  for (const j of jails) {
    if (j.logpath === undefined) {
      await Deno.writeTextFile(`${dir}/${j.name}.log`, "", { append: true });
    }
    conf += `
[${j.name}]
enabled = true
filter = ${j.filter ?? "authfail"}
logpath = ${j.logpath ?? `${dir}/${j.name}.log`}
action = ${j.action ?? "record"}
${j.extra ?? ""}
`;
  }
  await Deno.writeTextFile(`${dir}/jail.conf`, conf);
}

/** The real server in a subprocess (`server -f -c DIR`), its output collected. */
export class Server {
  /** The server process. */
  readonly child: Deno.ChildProcess;
  /** stdout and stderr, joined, once the process ended. */
  readonly output: Promise<string>;
  /** Set once the process has ended. */
  exited = false;
  /**
   * Starts `server -f -c dir` with `extra` arguments; `logFile` and `socket`
   * say where the server logs and listens (set them when `extra` moves them).
   */
  constructor(
    readonly dir: string,
    extra: string[] = [],
    readonly logFile = `${dir}/f2b.log`,
    readonly socket = `${dir}/run/f2b.sock`,
    v8Flags = V8,
  ) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", v8Flags, MOD, "server", "-f", "-c", dir, ...extra],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const dec = (s: ReadableStream<Uint8Array>) => new Response(s).text();
    this.output = Promise.all([dec(this.child.stdout), dec(this.child.stderr)]).then((x) =>
      x.join("")
    );
    this.child.status.then(() => (this.exited = true));
  }
  /** Sends a command; throws the server's error. */
  async command(...words: string[]): Promise<unknown> {
    const reply = await sendCommand(this.socket, words, { timeout: 10_000 });
    if (!reply.ok) throw new Error(`${reply.error.name}: ${reply.error.message}`);
    return reply.value;
  }
  /** Waits until every jail answers `status`. */
  async ready(jails: string[]): Promise<void> {
    await waitFor(
      async () => {
        if (this.exited) {
          throw new Error(`Server exited early:\n${this.log()}\n${await this.output}`);
        }
        try {
          for (const j of jails) await this.command("status", j);
          return true;
        } catch {
          return false;
        }
      },
      `server up with ${jails.join(", ")}`,
      () => this.log(),
    );
  }
  /** The server's log file so far. */
  log(): string {
    return read(this.logFile);
  }
  /** SIGTERM (or `signal`), then the exit code. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<number> {
    try {
      this.child.kill(signal);
    } catch {
      // already gone
    }
    const { code } = await this.child.status;
    await this.output;
    return code;
  }
  /** kill -9, then waits for the end. */
  async kill9(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.child.status;
    await this.output;
  }
}

/** Polls `check` every 50 ms for up to `seconds`; throws naming `what`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  context: () => string = () => "",
  seconds = 30,
): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`Timed out waiting for ${what}\n${context()}`);
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A file's text, or "" when it cannot be read. */
export function read(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/** A file's non-empty lines. */
export function lines(path: string): string[] {
  return read(path).split("\n").filter((l) => l);
}

/** Appends text (or bytes) to a file. */
export async function append(path: string, data: string | Uint8Array): Promise<void> {
  if (typeof data === "string") await Deno.writeTextFile(path, data, { append: true });
  else await Deno.writeFile(path, data, { append: true });
}

/** The value under `label` in a status reply (nested pairs as fail2ban's). */
export function row(rows: unknown, label: string): unknown {
  if (!Array.isArray(rows)) return undefined;
  for (const r of rows) {
    if (Array.isArray(r) && r[0] === label) return r[1];
    const inner = Array.isArray(r) ? row(r[1], label) : undefined;
    if (inner !== undefined) return inner;
  }
  return undefined;
}

/** Runs `fn` in a fresh temporary directory removed afterwards. */
export async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "f2b-security-" });
  try {
    await fn(dir);
  } finally {
    await Deno.chmod(dir, 0o700).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

/** Recorded `ban <jail> <ip>` lines of the recording action. */
export function bans(dir: string): string[] {
  return lines(`${dir}/actions.txt`).filter((l) => l.startsWith("ban "));
}

/** Runs `f2b server -t -c dir` (plus `extra`) and returns code, stdout and stderr. */
export async function serverTest(
  dir: string,
  extra: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", V8, MOD, "server", "-t", "-c", dir, ...extra],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}
