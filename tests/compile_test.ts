/**
 * The executable built by `deno task compile`: help, regex, regex by the name
 * fail2ban-regex (a symlink), and a server with a jail worker, a ban and the
 * client, all from the embedded modules. Where compiling cannot work (no
 * denort runtime: Deno's servers out of reach and no DENORT_BIN) that test is
 * skipped and says why; the same checks then run through `deno run` with the
 * exact flags the executable is compiled with, so the permissions are tested
 * either way.
 */

import assert from "node:assert/strict";
import { compile, CompileError, RUNTIME_FLAGS } from "../scripts/compile.ts";
import { MOD, stamp } from "./security_harness.ts";

const LINE = "Nov 25 10:00:00 host sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string[], cwd?: string): Promise<Run> {
  const [program, ...args] = cmd as [string, ...string[]];
  const out = await new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(cwd ? { cwd } : {}),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function waitFor(what: string, check: () => Promise<boolean>, seconds = 30): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

async function writeConfig(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/filter.d`, { recursive: true });
  await Deno.mkdir(`${dir}/action.d`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/fail2ban.conf`,
    `[Definition]
loglevel = INFO
logtarget = ${dir}/f2b.log
socket = ${dir}/run/f2b.sock
pidfile = ${dir}/run/f2b.pid
dbfile = ${dir}/f2b.sqlite3
`,
  );
  await Deno.writeTextFile(
    `${dir}/filter.d/authfail.conf`,
    `[Definition]\nfailregex = ^\\s*auth failure for user \\S+ from <HOST>$\n`,
  );
  await Deno.writeTextFile(
    `${dir}/action.d/record.conf`,
    `[Definition]
actionban = echo "ban <name> <ip> on <fq-hostname>" >> ${dir}/actions.txt
actionunban = echo "unban <name> <ip>" >> ${dir}/actions.txt
`,
  );
  await Deno.writeTextFile(`${dir}/auth.log`, "");
  await Deno.writeTextFile(
    `${dir}/jail.conf`,
    `[DEFAULT]
maxretry = 2
usedns = no
ignoreself = true
ignoreip =

[auth]
enabled = true
filter = authfail
logpath = ${dir}/auth.log
action = record
`,
  );
}

/**
 * Runs f2b's three programs through `f2b` (a command line: the executable, or
 * deno run with its flags) and `regexByName` (the same program called as
 * fail2ban-regex).
 */
async function exercise(f2b: string[], regexByName: string[], dir: string): Promise<void> {
  const help = await run([...f2b, "-h"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /Usage: f2b/);

  for (const cmd of [[...f2b, "regex"], regexByName]) {
    const r = await run([...cmd, LINE, "Failed password for .* from <HOST>"], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Lines: 1 lines, 0 ignored, 1 matched, 0 missed/);
  }

  const conf = `${dir}/conf`;
  await writeConfig(conf);
  const client = (...args: string[]) => run([...f2b, "client", "-c", conf, ...args]);
  const test = await run([...f2b, "server", "-c", conf, "-t"]);
  assert.equal(test.code, 0, test.stdout + test.stderr);

  const server = new Deno.Command(f2b[0] as string, {
    args: [...f2b.slice(1), "server", "-c", conf, "-xf"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const serverErr = new Response(server.stderr).text();
  try {
    await waitFor("the server's socket", async () => (await client("ping")).code === 0);
    const now = stamp();
    await Deno.writeTextFile(
      `${conf}/auth.log`,
      `${now} auth failure for user bob from 198.51.100.7\n`.repeat(2),
      { append: true },
    );
    const hostname = Deno.hostname();
    await waitFor("the ban action", async () => {
      const text = await Deno.readTextFile(`${conf}/actions.txt`).catch(() => "");
      return text.includes(`ban auth 198.51.100.7 on ${hostname}`);
    });
    const status = await client("status", "auth");
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /Banned IP list:\s+198\.51\.100\.7/);
    const stop = await client("stop");
    assert.equal(stop.code, 0, stop.stderr);
    const exit = await server.status;
    assert.equal(exit.code, 0, await serverErr);
  } finally {
    try {
      server.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await server.status;
    await serverErr;
  }
}

const buildDir = await Deno.makeTempDir({ prefix: "f2b_compile_" });
let built: string | null = null;
let skipReason = "";
try {
  built = await compile({ output: `${buildDir}/f2b` });
} catch (e) {
  if (!(e instanceof CompileError && e.reason === "runtime-unavailable")) {
    await Deno.remove(buildDir, { recursive: true });
    throw e;
  }
  skipReason = e.message;
  console.log(`compile_test: the compiled executable test is skipped: ${skipReason}`);
}

Deno.test({
  name: "the compiled executable runs regex, regex as fail2ban-regex, server and client",
  ignore: built === null,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "f2b_compiled_run_" });
    try {
      await Deno.symlink(built as string, `${dir}/fail2ban-regex`);
      await exercise([built as string], [`${dir}/fail2ban-regex`], dir);
      // Started in the background, the server must find itself again.
      const conf = `${dir}/conf`;
      const start = await run([built as string, "client", "-c", conf, "start"]);
      assert.equal(start.code, 0, start.stdout + start.stderr);
      const stop = await run([built as string, "client", "-c", conf, "stop"]);
      assert.equal(stop.code, 0, stop.stdout + stop.stderr);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "f2b runs with the compiled-in permissions and V8 flag through deno run",
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "f2b_flags_run_" });
    try {
      const f2b = [Deno.execPath(), "run", "--no-config", ...RUNTIME_FLAGS, MOD];
      await exercise(f2b, [...f2b, "regex"], dir);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

globalThis.addEventListener("unload", () => {
  Deno.removeSync(buildDir, { recursive: true });
});
