import assert from "node:assert/strict";
import { withFiles } from "../../tests/_config_files.ts";
import { JailConfigError, misspelledOption, readJails, readServerConfig } from "./jail_reader.ts";

function withDir(files: Record<string, string>, fn: (dir: string) => void): void {
  withFiles(files, fn, "f2b_jr_");
}

const JAIL_CONF = `[INCLUDES]
before = paths.conf

[DEFAULT]
bantime = 10m
findtime = 1h30m
maxretry = 5
maxmatches = %(maxretry)s
port = 0:65535
protocol = tcp
banaction = fw
action_ = %(banaction)s[port="%(port)s", protocol="%(protocol)s"]
action = %(action_)s
filter = %(__name__)s[mode=%(mode)s]
mode = normal
ignoreip = 127.0.0.1/8 ::1, 10.0.0.0/8

[sshd]
port = ssh
logpath = %(sshd_log)s
backend = polling

[web]
enabled = true
logpath = /var/log/web.log
          /var/log/web-*.log tail
action = %(action_)s
         smtp.py[dest=root]
bantime.increment = true
bantime.multipliers = 1 2 4
bantime.maxtime = 1w

[broken]
enabled = true
filter = missing
logpath = /x
`;

const FILES = {
  "jail.conf": JAIL_CONF,
  "paths.conf": "[DEFAULT]\nsshd_log = /var/log/auth.log\n",
  "jail.local": "[sshd]\nenabled = true\nmaxretry = 3\n",
  "filter.d/sshd.conf":
    "[Definition]\nfailregex = ^fail <HOST>$\n  ^<mode> <HOST>$\n[Init]\nmode = x\n",
  "filter.d/web.conf": "[Definition]\nfailregex = ^web <HOST>$\n",
  "action.d/fw.conf": "[Definition]\nactionban = fw -p <protocol> --dport <port> -s <ip>\n",
  "fail2ban.conf": "[Definition]\nloglevel = DEBUG\ndbpurgeage = 2d\n",
  "fail2ban.d/x.local": "[Definition]\nlogtarget = STDOUT\n",
};

Deno.test("readJails builds enabled jails with filters, actions and fail2ban defaults", () => {
  withDir(FILES, (dir) => {
    const errors: JailConfigError[] = [];
    const jails = readJails(dir, { onError: (e) => errors.push(e) });
    assert.deepEqual(jails.map((j) => j.name), ["sshd", "web"]);
    const [sshd, web] = jails as [typeof jails[0], typeof jails[0]];
    assert.equal(sshd.maxretry, 3);
    assert.equal(sshd.maxmatches, 3);
    assert.equal(sshd.findtime, 5400);
    assert.equal(sshd.bantime, 600);
    assert.equal(sshd.backend, "polling");
    assert.deepEqual(sshd.logpath, ["/var/log/auth.log"]);
    assert.deepEqual(sshd.ignoreip, ["127.0.0.1/8", "::1", "10.0.0.0/8"]);
    assert.deepEqual(sshd.filter.failregex.map((r) => r.pattern), [
      "^fail <HOST>$",
      "^normal <HOST>$",
    ]);
    assert.equal(sshd.actions[0]?.commands.actionban, "fw -p tcp --dport ssh -s <ip>");
    assert.equal(sshd.usedns, "warn");
    assert.equal(sshd.ignoreself, true);
    assert.equal(sshd.options.port, "ssh");

    assert.deepEqual(web.logpath, ["/var/log/web.log", "/var/log/web-*.log"]);
    assert.deepEqual(web.logpathTail, [false, true]);
    assert.equal(web.actions.length, 1);
    assert.ok(web.warnings?.some((w) => /smtp\.py.*not supported/.test(w)));
    assert.deepEqual(web.bantimeIncrement, {
      enabled: true,
      factor: 1,
      formula: null,
      multipliers: [1, 2, 4],
      maxtime: 604800,
      rndtime: null,
      overalljails: false,
    });

    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.jail, "broken");
    assert.match(
      errors[0]!.message,
      /^Cannot start jail "broken": filter "missing" not found in .*filter\.d \(looked in .*missing\.conf/,
    );
  });
});

Deno.test("readJails throws for a broken jail without onError, and can list disabled jails", () => {
  withDir(FILES, (dir) => {
    assert.throws(() => readJails(dir), JailConfigError);
    const all = readJails(`${dir}`, { onlyEnabled: false, onError: () => {} });
    assert.ok(all.some((j) => j.name === "sshd"));
  });
  withDir({ ...FILES, "jail.local": "[sshd]\nenabled = true\nbantime = 10 parsecs\n" }, (dir) => {
    const errors: string[] = [];
    readJails(dir, { onError: (e) => errors.push(e.message) });
    assert.ok(
      errors.some((m) =>
        /^Cannot start jail "sshd": bantime \(.*jail\.local:3\): Invalid duration/.test(m)
      ),
      errors.join("\n"),
    );
  });
});

Deno.test("readJails refuses a bad ignoreip entry, naming file, line, section and key", () => {
  for (const entry of ["192.0.2.0/33", "300.1.2.3", "$(reboot)"]) {
    const local = `[sshd]\nenabled = true\nignoreip = 127.0.0.1 ${entry}\n`;
    withDir({ ...FILES, "jail.local": local }, (dir) => {
      const errors: JailConfigError[] = [];
      readJails(dir, { onError: (e) => errors.push(e) });
      const e = errors.find((x) => x.jail === "sshd");
      assert.ok(e, entry);
      assert.equal(e.file, `${dir}/jail.local`);
      assert.equal(e.section, "sshd");
      assert.equal(e.option, "ignoreip");
      assert.match(
        e.message,
        /^Cannot start jail "sshd": ignoreip \(.*jail\.local:3\): Invalid ignoreip entry/,
      );
      assert.ok(e.message.includes(JSON.stringify(entry)), e.message);
    });
  }
});

Deno.test("readJails keeps an unknown option but warns when it looks like a misspelled one", () => {
  const local = "[sshd]\nenabled = true\nmaxretyr = 3\nmy_var = x\naction_ = fw\n";
  withDir({ ...FILES, "jail.local": local }, (dir) => {
    const sshd = readJails(dir, { onError: () => {} }).find((j) => j.name === "sshd");
    assert.ok(sshd);
    assert.equal(sshd.options.maxretyr, "3");
    assert.equal(sshd.maxretry, 5);
    const notes = (sshd.warnings ?? []).filter((w) => /Unknown option/.test(w));
    assert.deepEqual(notes, [
      `Unknown option "maxretyr" in jail "sshd" (${dir}/jail.local:3 [sshd] maxretyr): not a jail option, kept for interpolation only; did you mean "maxretry"?`,
    ]);
  });
  assert.equal(misspelledOption("bantim"), "bantime");
  assert.equal(misspelledOption("ignoreips"), "ignoreip");
  assert.equal(misspelledOption("maxretry"), null);
  assert.equal(misspelledOption("port"), null);
  assert.equal(misspelledOption("protocol"), null);
});

Deno.test("readServerConfig reads fail2ban.conf layers with defaults", () => {
  withDir(FILES, (dir) => {
    assert.deepEqual(readServerConfig(dir), {
      loglevel: "DEBUG",
      logtarget: "STDOUT",
      syslogsocket: "auto",
      socket: "/var/run/fail2ban/fail2ban.sock",
      pidfile: "/var/run/fail2ban/fail2ban.pid",
      dbfile: "/var/lib/fail2ban/fail2ban.sqlite3",
      dbpurgeage: 172800,
      dbmaxmatches: 10,
      allowipv6: "auto",
    });
  });
});
