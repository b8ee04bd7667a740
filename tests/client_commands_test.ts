/**
 * fail2ban-client's command set through the real client and a real server
 * process on a temporary configuration whose actions record what they are
 * asked to do: every command of `fail2ban-client -h` (sent through `-i` over
 * a pipe, and one by one for exit codes), `-d`/`--dp`/`-t`, concurrent
 * clients, and clients that break off mid-frame.
 */

import assert from "node:assert/strict";
import { sendCommand, ServerUnreachableError } from "../src/client/control_client.ts";
import { dumpConfig } from "../src/config/command_stream.ts";
import { MOD, read, Server, stamp, V8, waitFor, writeServerConf } from "./security_harness.ts";
import { expandTags } from "../src/filter/filter_tags.ts";

/** `<HOST>` as the server answers it for jail alpha (expanded, as fail2ban does; usedns no). */
const HOST_RE = expandTags("<HOST>", "no");

const PROMPT = "fail2ban> ";

/** Writes a two-jail configuration (alpha, beta) with recording actions into `dir`. */
async function writeConfig(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/filter.d`, { recursive: true });
  await Deno.mkdir(`${dir}/action.d`, { recursive: true });
  await writeServerConf(dir, { extra: ["dbmaxmatches = 10"] });
  await Deno.writeTextFile(
    `${dir}/filter.d/authfail.conf`,
    `[Definition]
failregex = ^\\s*auth failure for user \\S+ from <HOST>$
ignoreregex = ^ignored
`,
  );
  await Deno.writeTextFile(
    `${dir}/action.d/record.conf`,
    `[Definition]
actionstart = echo "start <name>" >> ${dir}/actions.txt
actionstop = echo "stop <name>" >> ${dir}/actions.txt
actionban = echo "ban <name> <ip>" >> ${dir}/actions.txt
actionunban = echo "unban <name> <ip>" >> ${dir}/actions.txt

[Init]
foo = bar
`,
  );
  for (const f of ["alpha.log", "beta.log", "extra.log"]) {
    await Deno.writeTextFile(`${dir}/${f}`, "");
  }
  await Deno.writeTextFile(
    `${dir}/jail.conf`,
    `[DEFAULT]
backend = polling
usedns = no

[alpha]
enabled = true
filter = authfail
action = record
logpath = ${dir}/alpha.log
maxretry = 3
findtime = 10m
bantime = 1h
ignoreip = 10.0.0.1 192.168.0.0/24

[beta]
enabled = true
filter = authfail
action = record[name=beta]
logpath = ${dir}/beta.log
`,
  );
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function client(args: string[], stdin?: string): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", V8, MOD, "client", ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A real `f2b server -f -x` on a temporary configuration, socket, pidfile and log named on the command line. */
function startServer(dir: string): Server {
  const socket = `${dir}/run/f2b.sock`;
  const log = `${dir}/f2b.log`;
  return new Server(
    dir,
    ["-x", "-s", socket, "-p", `${dir}/run/f2b.pid`, "--logtarget", log],
    log,
    socket,
  );
}

async function withServer(fn: (s: Server, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "f2b_cmds_" });
  let server: Server | null = null;
  try {
    await writeConfig(dir);
    server = startServer(dir);
    await server.ready(["beta"]);
    await fn(server, dir);
  } finally {
    await server?.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Runs `commands` through one `client -i` fed by a pipe; returns each command's
 * printed answer (the text between two prompts).
 */
async function interactive(socket: string, commands: string[]): Promise<string[]> {
  const run = await client(["-s", socket, "-i"], commands.join("\n") + "\nexit\n");
  assert.equal(run.code, 0, run.stderr);
  const parts = run.stdout.split(PROMPT);
  assert.match(parts[0]!, /reads log files/);
  const answers = parts.slice(1, commands.length + 1).map((p) => p.replace(/\n$/, ""));
  assert.equal(answers.length, commands.length, run.stdout);
  return answers;
}

/** Runs `commands` through `-i` and checks each answer (exact text, or a regex). */
async function expectAnswers(socket: string, table: [string, string | RegExp][]): Promise<void> {
  const answers = await interactive(socket, table.map(([c]) => c));
  table.forEach(([command, expected], i) => {
    const got = answers[i]!;
    if (typeof expected === "string") assert.equal(got, expected, `answer to "${command}"`);
    else assert.match(got, expected, `answer to "${command}"`);
  });
}

Deno.test({
  name: "every basic, logging and database command through -i on a pipe",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withServer(async (s, dir) => {
      await expectAnswers(s.socket, [
        ["ping", "Server replied: pong"],
        ["version", /^\d+\.\d+\.\d+$/],
        ["echo hello world", "hello world"],
        ["status", "Status\n|- Number of jail:\t2\n`- Jail list:\talpha, beta"],
        ["help", /Usage: f2b client/],
        ["get loglevel", "Current logging level is 'INFO'"],
        ["set loglevel DEBUG", "Current logging level is 'DEBUG'"],
        ["set loglevel INFO", "Current logging level is 'INFO'"],
        ["get logtarget", `Current logging target is:\n\`- ${dir}/f2b.log`],
        ["get syslogsocket", "Current syslog socket is:\n`- auto"],
        ["set syslogsocket auto", "Current syslog socket is:\n`- auto"],
        ["flushlogs", "logs: rolled over"],
        ["get dbfile", `Current database file is:\n\`- ${dir}/f2b.sqlite3`],
        ["set dbfile " + `${dir}/f2b.sqlite3`, `Current database file is:\n\`- ${dir}/f2b.sqlite3`],
        ["set dbfile /tmp/other.sqlite3", "Cannot change database when there are jails present"],
        ["get dbmaxmatches", "10"],
        ["set dbmaxmatches 20", "20"],
        ["get dbmaxmatches", "20"],
        ["get dbpurgeage", "Current database purge age is:\n`- 86400seconds"],
        ["set dbpurgeage 2d", "Current database purge age is:\n`- 172800seconds"],
        ["bogus", /^Invalid command "bogus"/],
      ]);
      // Logging commands really changed the server's logger.
      assert.match(read(`${dir}/f2b.log`), /DEBUG/);
    }),
});

Deno.test({
  name: "ban commands: banip, banned, get banned/banip, unbanip, unban, attempt",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withServer(async (s, dir) => {
      await expectAnswers(s.socket, [
        ["set alpha banip 192.0.2.1 192.0.2.2", "2"],
        ["set alpha banip 192.0.2.1", "0"],
        ["set beta banip 192.0.2.1", "1"],
        ["banned", "[{'alpha': ['192.0.2.1', '192.0.2.2']}, {'beta': ['192.0.2.1']}]"],
        ["banned 192.0.2.1 192.0.2.9", "[['alpha', 'beta'], []]"],
        ["get alpha banned", "['192.0.2.1', '192.0.2.2']"],
        ["get alpha banned 192.0.2.1", "1"],
        ["get alpha banned 192.0.2.1 192.0.2.9", "[1, 0]"],
        ["get alpha banip", "192.0.2.1 192.0.2.2"],
        ["get alpha banip ,", "192.0.2.1,192.0.2.2"],
        [
          "get alpha banip --with-time",
          /^192\.0\.2\.1 \t[\d-]+ [\d:]+ \+ 3600 = [\d-]+ [\d:]+\n192\.0\.2\.2 \t[\d-]+ [\d:]+ \+ 3600 = [\d-]+ [\d:]+$/,
        ],
        [
          "status alpha",
          `Status for the jail: alpha\n|- Filter\n|  |- Currently failed:\t0\n|  |- Total failed:\t0\n|  \`- File list:\t${dir}/alpha.log\n\`- Actions\n   |- Currently banned:\t2\n   |- Total banned:\t2\n   \`- Banned IP list:\t192.0.2.1 192.0.2.2`,
        ],
        [
          "status alpha short",
          `Status for the jail: alpha\n|- Filter\n|  |- Currently failed:\t0\n|  |- Total failed:\t0\n|  \`- File list:\t${dir}/alpha.log\n\`- Actions\n   |- Currently banned:\t2\n   \`- Total banned:\t2`,
        ],
        [
          // Team Cymru over the system's DNS: an entry per address ("nxdomain" where the
          // resolver knows none), or empty lists when DNS fails
          "status alpha cymru",
          /^Status for the jail: alpha\n[^]*\n {3}\|- Banned IP list:\t192\.0\.2\.1 192\.0\.2\.2\n {3}\|- Banned ASN list:\t(?:[\w, ]+ [\w, ]+)?\n {3}\|- Banned Country list:\t(?:[\w, ]+ [\w, ]+)?\n {3}`- Banned RIR list:\t(?:[\w, ]+ [\w, ]+)?$/,
        ],
        ["status nojail", "Sorry but the jail 'nojail' does not exist"],
        [
          "status --all short",
          `Status for the jail: alpha\n|- Filter\n|  |- Currently failed:\t0\n|  |- Total failed:\t0\n|  \`- File list:\t${dir}/alpha.log\n\`- Actions\n   |- Currently banned:\t2\n   \`- Total banned:\t2\nStatus for the jail: beta\n|- Filter\n|  |- Currently failed:\t0\n|  |- Total failed:\t0\n|  \`- File list:\t${dir}/beta.log\n\`- Actions\n   |- Currently banned:\t1\n   \`- Total banned:\t1`,
        ],
        ["set alpha unbanip 192.0.2.2", "1"],
        ["set alpha unbanip --report-absent 192.0.2.77", "not banned: ['192.0.2.77']"],
        ["set alpha unbanip 192.0.2.77", "0"],
        ["unban 192.0.2.1", "2"],
        ["set beta banip 2001:db8::1 192.0.2.3", "2"],
        ["unban --all", "2"],
        ["banned", "[{'alpha': []}, {'beta': []}]"],
        // Three attempts reach alpha's maxretry: a ban.
        ["set alpha attempt 192.0.2.50", "1"],
        ["set alpha attempt 192.0.2.50 failure one", "1"],
        ["get alpha banned 192.0.2.50", "1"],
      ]);
      await waitFor(
        () => read(`${dir}/actions.txt`).includes("ban alpha 192.0.2.50"),
        "the attempt ban action",
        () => read(`${dir}/actions.txt`),
      );
      const actions = read(`${dir}/actions.txt`);
      for (
        const line of [
          "ban alpha 192.0.2.1",
          "ban alpha 192.0.2.2",
          "ban beta 192.0.2.1",
          "unban alpha 192.0.2.2",
          "unban alpha 192.0.2.1",
          "unban beta 192.0.2.1",
          "ban beta 2001:db8::1",
          "unban beta 2001:db8::1",
        ]
      ) {
        assert.ok(actions.includes(line + "\n"), `${line} in\n${actions}`);
      }
    }),
});

Deno.test({
  name: "jail settings: every get and set of fail2ban-client -h, applied to the running jail",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withServer(async (s, dir) => {
      await expectAnswers(s.socket, [
        ["get alpha logpath", `Current monitored log file(s):\n\`- ${dir}/alpha.log`],
        [
          `set alpha addlogpath ${dir}/extra.log tail`,
          `Current monitored log file(s):\n|- ${dir}/alpha.log\n\`- ${dir}/extra.log`,
        ],
        [
          `set alpha dellogpath ${dir}/extra.log`,
          `Current monitored log file(s):\n\`- ${dir}/alpha.log`,
        ],
        ["get alpha logencoding", "Current log encoding is set to:\nUTF-8"],
        ["set alpha logencoding utf-8", "Current log encoding is set to:\nutf-8"],
        ["get alpha journalmatch", "No journal match filter set"],
        [
          "set alpha addjournalmatch _SYSTEMD_UNIT=sshd.service",
          "Current match filter:\n_SYSTEMD_UNIT=sshd.service",
        ],
        ["set alpha deljournalmatch _SYSTEMD_UNIT=sshd.service", "No journal match filter set"],
        ["get alpha ignoreself", "True"],
        ["set alpha ignoreself false", "False"],
        [
          "get alpha ignoreip",
          "These IP addresses/networks are ignored:\n|- 192.168.0.0/24\n`- 10.0.0.1",
        ],
        [
          "set alpha addignoreip 10.9.9.9",
          "These IP addresses/networks are ignored:\n|- 192.168.0.0/24\n|- 10.0.0.1\n`- 10.9.9.9",
        ],
        [
          "set alpha delignoreip 10.9.9.9",
          "These IP addresses/networks are ignored:\n|- 192.168.0.0/24\n`- 10.0.0.1",
        ],
        ["get alpha ignorecommand", "False"],
        ["set alpha ignorecommand /bin/false", "/bin/false"],
        ["get alpha ignorecache", "None"],
        [`set alpha ignorecache 'key="<ip>", max-count=100, max-time=5m'`, "['<ip>', 100, 300]"],
        [
          "get alpha failregex",
          `The following regular expression are defined:\n\`- [0]: ^\\s*auth failure for user \\S+ from ${HOST_RE}$`,
        ],
        [
          "set alpha addfailregex '^\\s*bad login from <HOST>$'",
          `The following regular expression are defined:\n|- [0]: ^\\s*auth failure for user \\S+ from ${HOST_RE}$\n\`- [1]: ^\\s*bad login from ${HOST_RE}$`,
        ],
        ["set alpha addfailregex '^bad('", /^Cannot translate regex/],
        ["set alpha delfailregex 7", /^Invalid index 7/],
        [
          "get alpha ignoreregex",
          "The following regular expression are defined:\n`- [0]: ^ignored",
        ],
        [
          "set alpha addignoreregex ^y",
          "The following regular expression are defined:\n|- [0]: ^ignored\n`- [1]: ^y",
        ],
        [
          "set alpha delignoreregex 1",
          "The following regular expression are defined:\n`- [0]: ^ignored",
        ],
        ["get alpha findtime", "600"],
        ["set alpha findtime 1h", "3600"],
        ["set alpha findtime abc", /^Invalid value "abc" for "findtime"/],
        ["get alpha bantime", "3600"],
        ["set alpha bantime 2h", "7200"],
        ["get alpha datepattern", "Current date pattern set to: Default Detectors"],
        [
          "set alpha datepattern '%Y-%m-%d %H:%M:%S'",
          "Current date pattern set to: %Y-%m-%d %H:%M:%S (Year-Month-Day 24hour:Minute:Second)",
        ],
        ["set alpha datepattern {^LN-BEG}", "Current date pattern set to: Default Detectors"],
        ["get alpha usedns", "no"],
        ["set alpha usedns warn", "warn"],
        ["set alpha usedns bogus", /^Invalid value "bogus" for "usedns"/],
        ["get alpha maxretry", "3"],
        ["set alpha maxretry 5", "5"],
        ["set alpha maxretry x", /^Invalid value "x" for "maxretry"/],
        ["get alpha maxmatches", "3"],
        ["set alpha maxmatches 4", "4"],
        ["get alpha maxlines", "1"],
        ["set alpha maxlines 2", "2"],
        ["set alpha idle on", "True"],
        ["set alpha idle off", "False"],
        ["set alpha idle maybe", "Invalid idle option, must be 'on' or 'off'"],
        ["get alpha actions", "The jail alpha has the following actions:\nrecord"],
        [
          "get alpha actionproperties record",
          "The jail alpha action record has the following properties:\nactionban, actionstart, actionstop, actionunban, actname, foo, name, timeout",
        ],
        [
          "get alpha actionmethods record",
          "The jail alpha action record has the following methods:\nban, start, stop, unban",
        ],
        ["get alpha action record actionban", `echo "ban alpha <ip>" >> ${dir}/actions.txt`],
        ["get alpha action record timeout", "60"],
        ["get alpha action record foo", "bar"],
        ["get alpha action record nosuch", /has no property "nosuch"/],
        ["set alpha action record foo baz", "baz"],
        ["set alpha action record timeout 30", "30"],
        [
          `set alpha action record actionban 'echo "BAN <name> <ip> <foo>" >> ${dir}/actions.txt'`,
          `echo "BAN <name> <ip> <foo>" >> ${dir}/actions.txt`,
        ],
        ["set alpha action norec foo bar", `Jail "alpha" has no action "norec"`],
        ["set alpha addaction newact", "newact"],
        ["get alpha actions", "The jail alpha has the following actions:\nrecord, newact"],
        [
          `set alpha action newact actionban 'echo "NEW <ip>" >> ${dir}/actions.txt'`,
          `echo "NEW <ip>" >> ${dir}/actions.txt`,
        ],
        ["set alpha banip 192.0.2.60", "1"],
      ]);
      // The changed and added action commands run at once.
      await waitFor(
        () => {
          const a = read(`${dir}/actions.txt`);
          return a.includes("BAN alpha 192.0.2.60 baz") && a.includes("NEW 192.0.2.60");
        },
        "the changed actions",
        () => read(`${dir}/actions.txt`),
      );
      await expectAnswers(s.socket, [
        ["set alpha delaction newact", "None"],
        ["get alpha actions", "The jail alpha has the following actions:\nrecord"],
        ["set alpha delaction nosuchact", `Jail "alpha" has no action "nosuchact"`],
        ["get alpha nosuchsetting", /unknown setting "nosuchsetting"/],
        ["set alpha nosuchsetting 1", /unknown or unsupported setting "nosuchsetting"/],
      ]);
      // The running jail uses the new failregex and maxretry (5) at once.
      for (let i = 0; i < 5; i++) {
        await Deno.writeTextFile(
          `${dir}/alpha.log`,
          `${stamp()} bad login from 192.0.2.77\n`,
          { append: true },
        );
      }
      await waitFor(
        () => read(`${dir}/actions.txt`).includes("BAN alpha 192.0.2.77 baz"),
        "a ban by the added failregex",
        () => read(`${dir}/f2b.log`),
      );
    }),
});

Deno.test({
  name: "jail control: add, start, status, stop; reload and restart of a jail",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withServer(async (s, dir) => {
      await expectAnswers(s.socket, [
        ["add gamma polling", "Added jail gamma"],
        ["add gamma polling", `Jail "gamma" already exists`],
        ["add delta inotify", /^Unknown backend inotify/],
        ["status", "Status\n|- Number of jail:\t3\n`- Jail list:\talpha, beta, gamma"],
        [
          `set gamma addlogpath ${dir}/extra.log`,
          `Current monitored log file(s):\n\`- ${dir}/extra.log`,
        ],
        ["set gamma addfailregex '^\\s*oops from <HOST>$'", /\[0\]: \^\\s\*oops from \(\?:/],
        ["set gamma maxretry 1", "1"],
        ["set gamma addaction rec", "rec"],
        [`set gamma action rec actionban 'echo "gamma <ip>" >> ${dir}/actions.txt'`, /gamma/],
        ["start gamma", "Jail started"],
        [
          "status gamma",
          `Status for the jail: gamma\n|- Filter\n|  |- Currently failed:\t0\n|  |- Total failed:\t0\n|  \`- File list:\t${dir}/extra.log\n\`- Actions\n   |- Currently banned:\t0\n   |- Total banned:\t0\n   \`- Banned IP list:\t`,
        ],
      ]);
      await Deno.writeTextFile(`${dir}/extra.log`, `${stamp()} oops from 192.0.2.99\n`, {
        append: true,
      });
      await waitFor(
        () => read(`${dir}/actions.txt`).includes("gamma 192.0.2.99"),
        "a ban in the added jail",
        () => read(`${dir}/f2b.log`),
      );
      await expectAnswers(s.socket, [
        ["stop gamma", "Jail stopped"],
        ["status", "Status\n|- Number of jail:\t2\n`- Jail list:\talpha, beta"],
        ["stop beta", "Jail stopped"],
        ["start beta", "Jail started"],
        ["reload beta", "OK"],
        ["restart --unban beta", "OK"],
        ["reload --restart --if-exists nosuchjail", "OK"],
        ["reload", "OK"],
        ["status", "Status\n|- Number of jail:\t2\n`- Jail list:\talpha, beta"],
      ]);
      assert.match(read(`${dir}/actions.txt`), /stop beta\n(?:.*\n)*start beta\n/);
    }),
});

Deno.test({
  name: "errors: unknown command or jail, bad value, no server: a message and exit 255",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withServer(async (s) => {
      const cases: [string[], RegExp][] = [
        [["bogus"], /Invalid command "bogus"/],
        [["status", "nojail"], /Sorry but the jail 'nojail' does not exist/],
        [["set", "alpha", "maxretry", "many"], /Invalid value "many" for "maxretry"/],
        [["set", "alpha", "bantime", "soon"], /Invalid value "soon" for "bantime"/],
        [["get"], /"get" needs a setting or jail name/],
      ];
      for (const [words, message] of cases) {
        const r = await client(["-s", s.socket, ...words]);
        assert.equal(r.code, 255, words.join(" "));
        assert.match(r.stdout, message, words.join(" "));
      }
      const json = await client(["-s", s.socket, "--json", "get", "alpha", "ignoreip"]);
      assert.equal(json.code, 0);
      assert.deepEqual(JSON.parse(json.stdout), ["192.168.0.0/24", "10.0.0.1"]);
      const jsonError = await client(["-s", s.socket, "--json", "status", "nojail"]);
      assert.equal(jsonError.code, 255);
      assert.equal(JSON.parse(jsonError.stdout).error.name, "UnknownJailError");
      const ok = await client(["-s", s.socket, "get", "alpha", "maxretry"]);
      assert.equal(ok.code, 0);
      assert.equal(ok.stdout, "3\n");
      const none = await client(["-s", `${s.dir}/nothing.sock`, "ping"]);
      assert.equal(none.code, 255);
      assert.match(
        none.stderr,
        /Failed to access socket path: .*nothing\.sock\. Is fail2ban running\?/,
      );
      const usage = await client(["-z"]);
      assert.equal(usage.code, 255);
      assert.match(usage.stderr, /Unknown option "-z"/);
    }),
});

Deno.test({
  name: "-d, --dp, -t, --str2sec and -V need no server",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "f2b_cmds_" });
    try {
      await writeConfig(dir);
      const d = await client(["-c", dir, "-d"]);
      assert.equal(d.code, 0, d.stderr);
      assert.equal(d.stdout, dumpConfig(dir).lines.join("\n") + "\n");
      assert.ok(d.stdout.includes("['start', 'alpha']"));
      const dp = await client(["-c", dir, "--dp"]);
      assert.equal(dp.stdout, dumpConfig(dir, { pretty: true }).lines.join("\n") + "\n");
      const dt = await client(["-c", dir, "-d", "-t"]);
      assert.equal(dt.code, 0);
      assert.ok(dt.stdout.endsWith("OK: configuration test is successful\n"), dt.stdout);
      const t = await client(["-c", dir, "-t"]);
      assert.equal(t.code, 0);
      assert.equal(t.stdout, "OK: configuration test is successful\n");
      assert.equal((await client(["--str2sec", "1d 2h"])).stdout, "93600\n");
      assert.equal((await client(["--str2sec", "1.5h"])).stdout, "5400.0\n");
      assert.match((await client(["-V"])).stdout, /^\d+\.\d+\.\d+\n$/);
      await Deno.writeTextFile(`${dir}/jail.local`, "[alpha]\nfilter = nosuchfilter\n");
      const bad = await client(["-c", dir, "-t"]);
      assert.equal(bad.code, 255);
      assert.match(bad.stdout + bad.stderr, /nosuchfilter/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "client start, restart and stop run the server in the background",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "f2b_cmds_" });
    const socket = `${dir}/run/f2b.sock`;
    try {
      await writeConfig(dir);
      const start = await client(["-c", dir, "-x", "-b", "start"]);
      assert.equal(start.code, 0, start.stderr);
      assert.equal(start.stdout, "Server ready\n");
      const again = await client(["-c", dir, "start"]);
      assert.equal(again.code, 255);
      assert.match(again.stderr, /already running/);
      const restart = await client(["-c", dir, "restart"]);
      assert.equal(restart.code, 0, restart.stderr);
      assert.equal(restart.stdout, "Shutdown successful\nServer ready\n");
      assert.equal((await client(["-c", dir, "ping"])).stdout, "Server replied: pong\n");
      const stop = await client(["-c", dir, "stop"]);
      assert.equal(stop.code, 0);
      assert.equal(stop.stdout, "Shutdown successful\n");
      await waitFor(async () => {
        try {
          await sendCommand(socket, ["ping"], { timeout: 1000 });
          return false;
        } catch (e) {
          return e instanceof ServerUnreachableError;
        }
      }, "the server to stop");
    } finally {
      await sendCommand(socket, ["stop"], { timeout: 5000 }).catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "concurrent clients each get their own answer",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withServer(async (s) => {
      const ips = Array.from({ length: 40 }, (_, i) => `198.51.100.${i + 1}`);
      const replies = await Promise.all(
        ips.map((ip, i) =>
          sendCommand(s.socket, ["set", i % 2 ? "alpha" : "beta", "banip", ip], { timeout: 20_000 })
        ),
      );
      assert.ok(replies.every((r) => r.ok && r.value === 1), JSON.stringify(replies));
      const [a, b, echo] = await Promise.all([
        sendCommand(s.socket, ["get", "alpha", "banned"]),
        sendCommand(s.socket, ["get", "beta", "banned"]),
        sendCommand(s.socket, ["echo", "x"]),
      ]);
      assert.ok(a.ok && b.ok && echo.ok);
      assert.equal((a.value as string[]).length, 20);
      assert.equal((b.value as string[]).length, 20);
      assert.deepEqual(echo.value, ["x"]);
      // Five real client processes at once.
      const runs = await Promise.all(
        ["alpha", "beta", "alpha", "beta", "alpha"].map((j) =>
          client(["-s", s.socket, "get", j, "bantime"])
        ),
      );
      assert.deepEqual(runs.map((r) => r.stdout), ["3600\n", "600\n", "3600\n", "600\n", "3600\n"]);
    }),
});

Deno.test({
  name: "clients that break off mid-frame or send garbage leave the server answering",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withServer(async (s) => {
      const enc = new TextEncoder();
      // Half a frame, then gone.
      const half = await Deno.connect({ transport: "unix", path: s.socket });
      await half.write(enc.encode('{"type":"command","command":["sta'));
      half.close();
      // Garbage, then gone without reading.
      const junk = await Deno.connect({ transport: "unix", path: s.socket });
      await junk.write(enc.encode("\u0000\u00ff not json at all\n"));
      junk.close();
      // An oversized frame (2 MiB without a newline).
      const big = await Deno.connect({ transport: "unix", path: s.socket });
      try {
        await big.write(new Uint8Array(2 * 1024 * 1024).fill(0x61));
      } catch {
        // the server may close first
      }
      big.close();
      // A slow client holding a partial frame open while others are served.
      const slow = await Deno.connect({ transport: "unix", path: s.socket });
      await slow.write(enc.encode('{"type":"comm'));
      const r = await sendCommand(s.socket, ["status", "alpha"], { timeout: 10_000 });
      assert.ok(r.ok);
      slow.close();
      const ping = await client(["-s", s.socket, "ping"]);
      assert.equal(ping.code, 0);
      assert.equal(ping.stdout, "Server replied: pong\n");
    }),
});
