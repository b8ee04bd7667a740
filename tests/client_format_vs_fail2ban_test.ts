/**
 * f2b's client output against fail2ban-client's, for the same state: the real
 * fail2ban-server (started by `fail2ban-client -c DIR -x start`) and the real
 * f2b server run on equivalent temporary configurations (the same text, each
 * in its own directory), get the same bans and log lines, and answer the same
 * commands. Each side's answers come from its own client in interactive mode
 * over a pipe; the directory names are the only text replaced before the
 * comparison. Skipped when fail2ban is not installed.
 */

import assert from "node:assert/strict";
import { MOD, Server, stamp, V8, waitFor, writeServerConf } from "./security_harness.ts";

const PROMPT = "fail2ban> ";

function which(cmd: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`] }).outputSync().success;
  } catch {
    return false;
  }
}

const HAVE = which("fail2ban-client") && which("fail2ban-server");
if (!HAVE) {
  console.warn("client_format_vs_fail2ban_test: fail2ban is not installed, comparisons skipped");
}

/** The same configuration text for both servers; only `dir` differs. */
async function writeConfig(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/filter.d`, { recursive: true });
  await Deno.mkdir(`${dir}/action.d`, { recursive: true });
  await Deno.mkdir(`${dir}/run`, { recursive: true });
  await writeServerConf(dir, {
    name: "server",
    dbfile: `${dir}/bans.sqlite3`,
    extra: ["dbmaxmatches = 10", "allowipv6 = auto"],
  });
  // alpha's failregex names its host group itself, so both servers answer the same text for it.
  await Deno.writeTextFile(
    `${dir}/filter.d/authhost.conf`,
    `[Definition]
failregex = ^\\s*auth failure for user \\S+ from (?P<ip4>\\d+\\.\\d+\\.\\d+\\.\\d+)$
ignoreregex = ^ignored
`,
  );
  await Deno.writeTextFile(
    `${dir}/filter.d/authtag.conf`,
    `[Definition]
failregex = ^\\s*auth failure for user \\S+ from <HOST>$
`,
  );
  await Deno.writeTextFile(
    `${dir}/action.d/record.conf`,
    `[Definition]
actionstart = echo "start <name>" >> ${dir}/actions.txt
actionstop = echo "stop <name>" >> ${dir}/actions.txt
actioncheck =
actionban = echo "ban <name> <ip>" >> ${dir}/actions.txt
actionunban = echo "unban <name> <ip>" >> ${dir}/actions.txt

[Init]
foo = bar
`,
  );
  await Deno.writeTextFile(`${dir}/alpha.log`, "");
  await Deno.writeTextFile(`${dir}/beta.log`, "");
  await Deno.writeTextFile(
    `${dir}/jail.conf`,
    `[DEFAULT]
backend = polling
maxretry = 5
maxmatches = %(maxretry)s

[alpha]
enabled = true
filter = authhost
action = record
logpath = ${dir}/alpha.log
maxretry = 3
findtime = 10m
bantime = 1h
ignoreip = 10.0.0.1 192.168.0.0/24
usedns = no

[beta]
enabled = true
filter = authtag
action = record[name=beta]
logpath = ${dir}/beta.log
datepattern = ^%%Y-%%m-%%d %%H:%%M:%%S
`,
  );
}

/** Runs `commands` through a client's interactive mode; returns each answer. */
async function interactive(cmd: string[], commands: string[]): Promise<string[]> {
  const child = new Deno.Command(cmd[0]!, {
    args: [...cmd.slice(1), "-i"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(commands.join("\n") + "\nexit\n"));
  await w.close();
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  const parts = text.split(PROMPT).slice(1, commands.length + 1).map((p) => p.replace(/\n$/, ""));
  assert.equal(parts.length, commands.length, `${cmd.join(" ")}: ${text}`);
  return parts;
}

function fail2banClient(dir: string): string[] {
  return ["fail2ban-client", "-c", dir];
}

function f2bClient(dir: string): string[] {
  return [Deno.execPath(), "run", "-A", V8, MOD, "client", "-c", dir];
}

/** Both servers, each on its own copy of the configuration. */
interface Pair {
  fb: string;
  f2b: string;
}

async function withServers(fn: (dirs: Pair) => Promise<void>): Promise<void> {
  const fb = await Deno.makeTempDir({ prefix: "f2b_vs_fb_" });
  const f2b = await Deno.makeTempDir({ prefix: "f2b_vs_f2b_" });
  let f2bServer: Server | null = null;
  try {
    await writeConfig(fb);
    await writeConfig(f2b);
    const started = await new Deno.Command("fail2ban-client", {
      args: ["-c", fb, "-x", "start"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(started.success, new TextDecoder().decode(started.stderr));
    const socket = `${f2b}/run/server.sock`;
    const log = `${f2b}/server.log`;
    f2bServer = new Server(
      f2b,
      ["-x", "-s", socket, "-p", `${f2b}/run/server.pid`, "--logtarget", log],
      log,
      socket,
    );
    await f2bServer.ready(["beta"]);
    await fn({ fb, f2b });
  } finally {
    await new Deno.Command("fail2ban-client", {
      args: ["-c", fb, "stop"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output().catch(() => {});
    await f2bServer?.stop();
    await Deno.remove(fb, { recursive: true }).catch(() => {});
    await Deno.remove(f2b, { recursive: true }).catch(() => {});
  }
}

/** Sends the same commands to both; returns the answers with each directory replaced by DIR. */
async function both(dirs: Pair, commands: string[]): Promise<{ fb: string[]; f2b: string[] }> {
  const [fb, f2b] = await Promise.all([
    interactive(fail2banClient(dirs.fb), commands),
    interactive(f2bClient(dirs.f2b), commands),
  ]);
  return {
    fb: fb.map((t) => t.replaceAll(dirs.fb, "DIR")),
    f2b: f2b.map((t) => t.replaceAll(dirs.f2b, "DIR")),
  };
}

/** Asserts identical answers, command by command. */
async function assertSame(dirs: Pair, commands: string[]): Promise<void> {
  const { fb, f2b } = await both(dirs, commands);
  const differ = commands.flatMap((c, i) =>
    f2b[i] === fb[i]
      ? []
      : [`"${c}":\n  fail2ban: ${JSON.stringify(fb[i])}\n  f2b:      ${JSON.stringify(f2b[i])}`]
  );
  assert.equal(differ.length, 0, `answers differ:\n${differ.join("\n")}`);
}

const appendLine = (path: string, line: string) =>
  Deno.writeTextFile(path, line + "\n", { append: true });

Deno.test({
  name: "client output equals fail2ban-client's for the same state",
  ignore: !HAVE,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withServers(async (dirs) => {
      // The same bans and the same failures on both.
      await assertSame(dirs, [
        "set alpha banip 192.0.2.1 192.0.2.2",
        "set beta banip 2001:db8::1",
        "set beta banip 192.0.2.1",
      ]);
      for (const dir of [dirs.fb, dirs.f2b]) {
        await appendLine(
          `${dir}/alpha.log`,
          `${stamp()} auth failure for user bob from 203.0.113.5`,
        );
        await appendLine(
          `${dir}/alpha.log`,
          `${stamp()} auth failure for user bob from 203.0.113.5`,
        );
        await appendLine(
          `${dir}/alpha.log`,
          `${stamp()} ignored auth failure for user x from 203.0.113.6`,
        );
      }
      for (const [name, dir] of [["fail2ban", dirs.fb], ["f2b", dirs.f2b]] as const) {
        await waitFor(async () => {
          const client = name === "fail2ban" ? fail2banClient(dir) : f2bClient(dir);
          const [s] = await interactive(client, ["status alpha"]);
          return s!.includes("Total failed:\t2");
        }, `${name} to count the failures`);
      }
      await assertSame(dirs, [
        "ping",
        "echo hello  world",
        "status",
        "status alpha",
        "status alpha short",
        "status beta",
        "status nojail",
        "banned",
        "banned 192.0.2.1 192.0.2.9 2001:db8::1",
        "get alpha banned",
        "get alpha banned 192.0.2.1",
        "get alpha banned 192.0.2.1 192.0.2.9",
        "get alpha banip",
        "get alpha banip ,",
        "get loglevel",
        "get logtarget",
        "get syslogsocket",
        "get dbfile",
        "get dbmaxmatches",
        "get dbpurgeage",
        "get alpha maxretry",
        "get alpha findtime",
        "get alpha bantime",
        "get alpha maxmatches",
        "get alpha maxlines",
        "get alpha usedns",
        "get alpha logpath",
        "get alpha logencoding",
        "get alpha journalmatch",
        "get alpha ignoreself",
        "get alpha ignoreip",
        "get alpha ignorecommand",
        "get alpha ignorecache",
        "get alpha failregex",
        "get alpha ignoreregex",
        "get alpha datepattern",
        "get beta datepattern",
        "get alpha actions",
        "get alpha action record actionban",
        "get alpha action record actionunban",
        "get alpha action record timeout",
        "get alpha action record foo",
        "get beta maxretry",
        "get beta bantime",
        "get beta ignoreip",
        "get beta ignoreregex",
      ]);
      // Changes answer the same too.
      await assertSame(dirs, [
        "set alpha maxretry 7",
        "set alpha findtime 1h",
        "set alpha bantime 2h",
        "set alpha maxmatches 4",
        "set alpha maxlines 2",
        "set alpha usedns warn",
        "set alpha ignoreself false",
        "set alpha addignoreip 192.0.2.0/28",
        "set alpha delignoreip 192.0.2.0/28",
        "set alpha ignorecommand /bin/false",
        `set alpha ignorecache 'key="<ip>", max-count=100, max-time=5m'`,
        "get alpha ignorecache",
        "set alpha addignoreregex ^y",
        "set alpha delignoreregex 1",
        "set alpha datepattern '%Y-%m-%d %H:%M:%S'",
        "set alpha datepattern EPOCH",
        "set alpha datepattern {^LN-BEG}",
        "set alpha logencoding utf-8",
        "set alpha idle on",
        "set alpha idle off",
        "set alpha action record foo baz",
        "set alpha action record timeout 30",
        "set alpha addaction newact",
        "get alpha actions",
        "set alpha delaction newact",
        "set alpha unbanip 192.0.2.2",
        "set alpha unbanip 192.0.2.77",
        "set alpha unbanip --report-absent 192.0.2.77",
        "set dbmaxmatches 20",
        "set dbpurgeage 2d",
        "get alpha banip",
        "unban 192.0.2.1",
        "unban --all",
        "banned",
        "add gamma polling",
        "status",
        "get gamma maxretry",
        "get gamma findtime",
        "get gamma bantime",
        "get gamma maxmatches",
        "get gamma usedns",
        "get gamma logencoding",
        "get gamma actions",
        "stop gamma",
        "status",
      ]);
    }),
});

Deno.test({
  name: "client output differs from fail2ban-client's only where it cannot be the same",
  ignore: !HAVE,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withServers(async (dirs) => {
      await assertSame(dirs, [
        "set alpha banip 192.0.2.1 192.0.2.2",
        "set beta bantime -1",
        "set beta banip 192.0.2.3",
      ]);
      const { fb, f2b } = await both(dirs, [
        "version",
        "get beta failregex",
        "get alpha banip --with-time",
        "get alpha actionproperties record",
        "get beta banip --with-time",
      ]);
      // A permanent ban: "+ -1" and fail2ban's end-of-time date, on both.
      assert.match(fb[4]!, /^192\.0\.2\.3 \t.* \+ -1 = 9999-12-31 23:59:59$/);
      assert.match(f2b[4]!, /^192\.0\.2\.3 \t.* \+ -1 = 9999-12-31 23:59:59$/);
      // version: each server answers its own version.
      assert.match(fb[0]!, /^\d+\.\d+\.\d+$/);
      assert.match(f2b[0]!, /^\d+\.\d+\.\d+$/);
      // failregex with tags: both answer the regex with <HOST> expanded, each into its own host
      // regex (fail2ban's is GPL text f2b does not copy); the frame is the same.
      for (const answer of [fb[1]!, f2b[1]!]) {
        assert.match(
          answer,
          /^The following regular expression are defined:\n`- \[0\]: \^\\s\*auth failure for user \\S\+ from \(\?:.*\(\?P<ip4>.*\(\?P<ip6>.*\(\?P<dns>/,
        );
      }
      // --with-time: the ban times are each server's own clock; the format is the same.
      const withTime =
        /^192\.0\.2\.[12] \t\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+ 3600 = \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n192\.0\.2\.[12] \t.* \+ 3600 = .*$/;
      assert.match(fb[2]!, withTime);
      assert.match(f2b[2]!, withTime);
      // actionproperties: fail2ban lists the Python attributes of its CommandAction object
      // (ESCAPE_CRE, banEpoch, …); f2b lists the action's commands and properties. The frame is
      // the same and every f2b property is one fail2ban lists.
      const head = "The jail alpha action record has the following properties:\n";
      assert.ok(fb[3]!.startsWith(head) && f2b[3]!.startsWith(head), `${fb[3]}\n${f2b[3]}`);
      const fbProps = new Set(fb[3]!.slice(head.length).split(", "));
      for (const p of f2b[3]!.slice(head.length).split(", ")) {
        assert.ok(fbProps.has(p), `property ${p} in fail2ban's list ${[...fbProps]}`);
      }
    }),
});
