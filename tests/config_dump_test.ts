/**
 * `client -d` against `fail2ban-client -d`: for copies of Debian's /etc/fail2ban with a few
 * jails enabled (jail.local, jail.d overrides, custom actions with arguments, Python actions,
 * systemd jails, broken jails, fail2ban.local), f2b's command stream must print the same lines as
 * fail2ban-client's; `--dp` must print the same text. Skips with a message when fail2ban is not
 * installed.
 */

import assert from "node:assert/strict";
import { cpSync } from "node:fs";
import { dumpConfig } from "../src/config/command_stream.ts";

const ETC = "/etc/fail2ban";

function haveFail2ban(): boolean {
  try {
    const r = new Deno.Command("fail2ban-client", { args: ["-V"], stdout: "null", stderr: "null" })
      .outputSync();
    return r.success && Deno.statSync(`${ETC}/jail.conf`).isFile;
  } catch {
    return false;
  }
}

const HAVE = haveFail2ban();
if (!HAVE) console.warn("config_dump_test: fail2ban-client not installed, comparisons skipped");

/** Files of one scenario, relative to the copied configuration directory; `@LOGS@` is replaced. */
type Files = Record<string, string>;

/** Copies /etc/fail2ban to a temp dir, writes `files` and empty logs; returns the dir. */
function makeConfigDir(files: Files): string {
  const dir = Deno.makeTempDirSync({ prefix: "f2b_dump_" });
  cpSync(ETC, dir, { recursive: true });
  try {
    Deno.removeSync(`${dir}/jail.local`);
  } catch { /* none */ }
  Deno.mkdirSync(`${dir}/logs`);
  for (
    const f of [
      "auth.log",
      "apache-error.log",
      "fail2ban.log",
      "mail.log",
      "rot.log.1",
      "rot.log.2",
    ]
  ) {
    Deno.writeTextFileSync(`${dir}/logs/${f}`, "");
  }
  for (const [name, text] of Object.entries(files)) {
    Deno.writeTextFileSync(`${dir}/${name}`, text.replaceAll("@LOGS@", `${dir}/logs`));
  }
  return dir;
}

/** `fail2ban-client -c DIR FLAG` output and exit status. */
async function fail2banDump(
  dir: string,
  flag: string,
): Promise<{ text: string; ok: boolean }> {
  const r = await new Deno.Command("fail2ban-client", {
    args: ["-c", dir, flag],
    stdout: "piped",
    stderr: "null",
  }).output();
  return { text: new TextDecoder().decode(r.stdout), ok: r.success };
}

/** Lines of `a` missing from `b` (as a multiset). */
function missing(a: string[], b: string[]): string[] {
  const counts = new Map<string, number>();
  for (const l of b) counts.set(l, (counts.get(l) ?? 0) + 1);
  const out: string[] = [];
  for (const l of a) {
    const n = counts.get(l) ?? 0;
    if (n) counts.set(l, n - 1);
    else out.push(l.length > 400 ? `${l.slice(0, 400)}…` : l);
  }
  return out;
}

async function compare(files: Files): Promise<void> {
  const dir = makeConfigDir(files);
  try {
    const exp = await fail2banDump(dir, "-d");
    const expLines = exp.text.split("\n").filter((l) => l !== "");
    assert.ok(expLines.length > 0, "fail2ban-client -d printed nothing");
    const dump = dumpConfig(dir);
    const got = dump.lines;
    assert.deepEqual(
      { onlyFail2ban: missing(expLines, got), onlyF2b: missing(got, expLines) },
      { onlyFail2ban: [], onlyF2b: [] },
    );
    assert.deepEqual(got, expLines, "same lines, same order");
    assert.equal(dump.ok, exp.ok, "success as fail2ban-client's exit status");
    const pretty = await fail2banDump(dir, "--dp");
    assert.equal(dumpConfig(dir, { pretty: true }).lines.join("\n") + "\n", pretty.text);
    console.log(`${expLines.length} lines equal (-d), --dp text equal`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

const CUSTOM_ACTION = `[Definition]
actionstart = echo "start <name>" 'x' é	tab
actionstart_on_demand = true
actionban = printf '%%s\\n' "<ip>" >> <file>
actionunban = sed -i "/<ip>/d" <file>
norestored = 1
[Init]
file = /tmp/banned-<name>
weird = a "double" and 'single' \\ back ünïcödé ☃
[Init?family=inet6]
file = /tmp/banned6-<name>
`;

Deno.test({
  name: "client -d equals fail2ban-client -d: sshd",
  ignore: !HAVE,
  fn: () => compare({ "jail.local": "[sshd]\nenabled = true\nlogpath = @LOGS@/auth.log\n" }),
});

Deno.test({
  name: "client -d equals fail2ban-client -d: sshd, apache-auth, recidive",
  ignore: !HAVE,
  fn: () =>
    compare({
      "jail.local": "[DEFAULT]\nignoreip = 127.0.0.1/8 ::1, 192.0.2.0/24\n" +
        "[sshd]\nlogpath = @LOGS@/auth.log\n    @LOGS@/rot.log.* tail\n" +
        "[apache-auth]\nenabled = true\nlogpath = @LOGS@/apache-*.log\n" +
        "[recidive]\nenabled = true\nlogpath = @LOGS@/fail2ban.log\n",
    }),
});

Deno.test({
  name:
    "client -d equals fail2ban-client -d: postfix[mode=aggressive], dovecot with a custom action",
  ignore: !HAVE,
  fn: () =>
    compare({
      "action.d/custom.conf": CUSTOM_ACTION,
      "jail.local": "[sshd]\nenabled = false\n" +
        "[postfix]\nenabled = true\nfilter = postfix[mode=aggressive]\nlogpath = @LOGS@/mail.log\n" +
        "[dovecot]\nenabled = true\nlogpath = @LOGS@/mail.log\n" +
        'action = custom[name=dc, actname=cust, file="/var/tmp/a b"]\n' +
        '         iptables-multiport[name=SSH, port="ssh,2222", protocol=tcp]\n' +
        "         %(action_mwl)s\n",
    }),
});

Deno.test({
  name: "client -d equals fail2ban-client -d: jail.d override with bantime.* and ignore options",
  ignore: !HAVE,
  fn: () =>
    compare({
      "jail.d/override.local": "[sshd]\nmaxretry = 3\nbantime = 1h\nfindtime = 30m\nport = 2222\n" +
        "bantime.increment = true\nbantime.factor = 2\nbantime.multipliers = 1 2 4 8\n" +
        "bantime.maxtime = 5w\nbantime.overalljails = yes\nignoreself = false\n" +
        "ignorecommand = /bin/true <ip>\nlogtimezone = UTC\nlogpath = @LOGS@/auth.log\n",
    }),
});

Deno.test({
  name: "client -d equals fail2ban-client -d: every Debian jail enabled",
  ignore: !HAVE,
  fn: () =>
    compare({
      "jail.local": "[DEFAULT]\nenabled = true\n" +
        "[sshd]\nlogpath = @LOGS@/auth.log\n    @LOGS@/rot.log.* tail\n" +
        "[apache-auth]\nlogpath = @LOGS@/apache-*.log\n" +
        "[recidive]\nlogpath = @LOGS@/fail2ban.log\n" +
        "[postfix]\nmode = aggressive\nlogpath = @LOGS@/mail.log\n",
    }),
});

Deno.test({
  name:
    "client -d equals fail2ban-client -d: Python action, systemd, jail regexes, broken jails, fail2ban.local",
  ignore: !HAVE,
  fn: () =>
    compare({
      "action.d/custom.conf": CUSTOM_ACTION,
      "fail2ban.local": "[Definition]\nloglevel = DEBUG\ndbmaxmatches = abc\n" +
        "[Thread]\nstacksize = 64\n",
      "jail.local": "[sshd]\nlogpath = @LOGS@/auth.log\n" +
        "action = custom\n         smtp.py[dest=root@localhost, actname=mailer]\n" +
        "[dovecot]\nenabled = true\nlogpath = @LOGS@/mail.log\n  @LOGS@/missing.log\n" +
        "  @LOGS@/rot.log.[12] head\n" +
        "failregex = ^extra one <HOST>$\n    ^extra two <HOST>$\nignoreregex = ^ignored <HOST>\n" +
        "maxlines = 2\ndatepattern = ^%%Y-%%m-%%d\nusedns = no\nmaxretry = x5\n" +
        "[sshd-journal]\nenabled = true\nfilter = sshd\nbackend = systemd\n" +
        'journalmatch = _SYSTEMD_UNIT="my unit.service" + _COMM=sshd\n' +
        "action = custom[actionban=\"echo '<ip>'\"]\n" +
        "[apache-auth]\nenabled = true\nlogpath = @LOGS@/apache-*.log\nfilter =\n" +
        "failregex = ^only <HOST>$\n" +
        "[broken1]\nenabled = true\nfilter = doesnotexist\nlogpath = @LOGS@/auth.log\n" +
        "[broken2]\nenabled = true\nfilter = sshd\naction = nosuchaction\n" +
        "[broken3]\nenabled = true\nfilter = sshd[mode=x\n",
    }),
});

Deno.test({
  name: "client -d fails as fail2ban-client when every enabled jail is broken",
  ignore: !HAVE,
  fn: () =>
    compare({
      "jail.local": "[sshd]\nenabled = false\n[x]\nenabled = true\nfilter = nosuch\n",
    }),
});
