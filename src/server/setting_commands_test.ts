import assert from "node:assert/strict";
import type { JailSpec, ServerSpec } from "../config/types.ts";
import type { BanTicket } from "../ipc/messages.ts";
import { createLogger, type DaemonLogger } from "../log/logger.ts";
import { handleCommand } from "./command_handler.ts";
import type { JailStatus, ReloadOptions, ServerControl } from "./control.ts";
import { UnknownJailError } from "./control.ts";
import { banWithTime, UnsupportedCommandError } from "./setting_commands.ts";
import { testFilterSpec, testJailSpec } from "../../tests/_jail_spec.ts";
import { expandTags } from "../filter/filter_tags.ts";

const HOST_RE = expandTags("<HOST>", "warn");

function jailSpec(name: string): JailSpec {
  return testJailSpec(name, {
    logpath: ["/var/log/auth.log"],
    filter: testFilterSpec({
      name: "sshd",
      file: "/etc/fail2ban/filter.d/sshd.conf",
      failregex: [{ pattern: "^Failed for <HOST>$", origin: "sshd.conf" }],
    }),
    actions: [{
      name: "dummy",
      kind: "dummy",
      file: null,
      commands: { actionban: "echo ban <ip>", actionunban: "echo unban <ip>" },
      properties: { target: "/tmp/x" },
      familyProperties: {},
      timeout: 60,
    }],
    maxretry: 5,
    maxmatches: 5,
  });
}

/** A daemon stand-in with every optional part. */
class FullControl implements ServerControl {
  specs = new Map([["sshd", jailSpec("sshd")], ["web", jailSpec("web")]]);
  bans = new Map<string, BanTicket[]>([["sshd", []], ["web", []]]);
  updates: string[] = [];
  stoppedJails: string[] = [];
  idle = new Map<string, boolean>();
  attempts: [string, string, string[]][] = [];
  db = { dbfile: "/var/lib/f2b.sqlite3", dbpurgeage: 86400, dbmaxmatches: 10 };
  daemonLogger: DaemonLogger;
  constructor(logger: DaemonLogger) {
    this.daemonLogger = logger;
  }
  jailNames(): string[] {
    return [...this.specs.keys()];
  }
  jailStatus(name: string): JailStatus {
    const spec = this.specs.get(name);
    if (!spec) throw new UnknownJailError(name);
    return {
      name,
      currentlyFailed: 0,
      totalFailed: 0,
      files: spec.logpath,
      currentlyBanned: this.bannedIps(name).length,
      totalBanned: 0,
      bannedIps: this.bannedIps(name),
    };
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  reload(_: ReloadOptions): Promise<void> {
    return Promise.resolve();
  }
  banIp(jail: string, ip: string): boolean {
    const list = this.bans.get(jail)!;
    if (list.some((t) => t.fid === ip)) return false;
    list.push({
      jail,
      fid: ip,
      family: "inet4",
      time: 1_700_000_000,
      banTime: 600,
      banCount: 0,
      failures: 0,
      matches: [],
      data: {},
    });
    return true;
  }
  unbanIp(jail: string | null, ip: string): number {
    let n = 0;
    for (const [name, list] of this.bans) {
      if (jail !== null && name !== jail) continue;
      const i = list.findIndex((t) => t.fid === ip);
      if (i >= 0) {
        list.splice(i, 1);
        n++;
      }
    }
    return n;
  }
  bannedIps(jail: string): string[] {
    return (this.bans.get(jail) ?? []).map((t) => t.fid);
  }
  banTickets(jail: string): BanTicket[] {
    return this.bans.get(jail) ?? [];
  }
  jailSpec(name: string): JailSpec {
    const spec = this.specs.get(name);
    if (!spec) throw new UnknownJailError(name);
    return spec;
  }
  updateJail(name: string, spec: JailSpec): Promise<void> {
    if (spec.filter.failregex.some((r) => r.pattern.includes("("))) {
      return Promise.reject(new SyntaxError("bad regex"));
    }
    this.specs.set(name, spec);
    this.updates.push(name);
    return Promise.resolve();
  }
  stopJail(name: string): Promise<void> {
    this.specs.delete(name);
    this.stoppedJails.push(name);
    return Promise.resolve();
  }
  addJail(spec: JailSpec): void {
    if (this.specs.has(spec.name)) throw new Error("exists");
    this.specs.set(spec.name, spec);
    this.bans.set(spec.name, []);
  }
  setIdle(jail: string, idle: boolean): void {
    this.jailSpec(jail);
    this.idle.set(jail, idle);
  }
  addAttempt(jail: string, ip: string, matches: string[]): void {
    this.jailSpec(jail);
    this.attempts.push([jail, ip, matches]);
  }
  setDatabaseOption(name: "dbfile" | "dbmaxmatches" | "dbpurgeage", value: string | number): void {
    (this.db as Record<string, string | number>)[name] = value;
  }
  serverSpec(): ServerSpec {
    return {
      loglevel: "INFO",
      logtarget: "STDERR",
      syslogsocket: "auto",
      socket: "/run/f2b.sock",
      pidfile: "/run/f2b.pid",
      ...this.db,
      allowipv6: "auto",
    };
  }
}

async function withControl(fn: (c: FullControl, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "f2b_cmd_" });
  const logger = createLogger({ target: `${dir}/f2b.log`, level: "INFO" });
  try {
    await fn(new FullControl(logger), dir);
  } finally {
    logger.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("banip, banned, get banned and unban work across jails", async () => {
  await withControl(async (c) => {
    assert.equal(await handleCommand(c, ["set", "sshd", "banip", "192.0.2.1", "192.0.2.2"]), 2);
    assert.equal(await handleCommand(c, ["set", "sshd", "banip", "192.0.2.1"]), 0);
    await handleCommand(c, ["set", "web", "banip", "192.0.2.1"]);
    assert.deepEqual(await handleCommand(c, ["banned"]), [
      { sshd: ["192.0.2.1", "192.0.2.2"] },
      { web: ["192.0.2.1"] },
    ]);
    assert.deepEqual(await handleCommand(c, ["banned", "192.0.2.1", "192.0.2.9"]), [
      ["sshd", "web"],
      [],
    ]);
    assert.equal(await handleCommand(c, ["get", "sshd", "banned", "192.0.2.2"]), 1);
    assert.deepEqual(await handleCommand(c, ["get", "sshd", "banned", "192.0.2.2", "x"]), [1, 0]);
    assert.equal(await handleCommand(c, ["unban", "192.0.2.1"]), 2);
    assert.equal(await handleCommand(c, ["unban", "--all"]), 1);
    assert.deepEqual(await handleCommand(c, ["banned"]), [{ sshd: [] }, { web: [] }]);
  });
});

Deno.test("unbanip --report-absent names the addresses not banned", async () => {
  await withControl(async (c) => {
    await handleCommand(c, ["set", "sshd", "banip", "192.0.2.1"]);
    await assert.rejects(
      handleCommand(c, ["set", "sshd", "unbanip", "--report-absent", "192.0.2.1", "192.0.2.9"]),
      /not banned: \['192\.0\.2\.9'\]/,
    );
    assert.equal(await handleCommand(c, ["set", "sshd", "unbanip", "192.0.2.9"]), 0);
    assert.equal(await handleCommand(c, ["set", "sshd", "unbanip", "192.0.2.1"]), 1);
  });
});

Deno.test("get banip --with-time shows start, duration and end", async () => {
  await withControl(async (c) => {
    await handleCommand(c, ["set", "sshd", "banip", "192.0.2.1"]);
    const lines = await handleCommand(c, ["get", "sshd", "banip", "--with-time"]) as string[];
    assert.equal(lines.length, 1);
    assert.match(
      lines[0]!,
      /^192\.0\.2\.1 \t\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+ 600 = \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/,
    );
    assert.equal(
      banWithTime({ ...c.banTickets("sshd")[0]!, banTime: -1 }).endsWith(
        " + -1 = 9999-12-31 23:59:59",
      ),
      true,
    );
  });
});

Deno.test("get reads jail settings from the spec", async () => {
  await withControl(async (c) => {
    assert.equal(await handleCommand(c, ["get", "sshd", "maxretry"]), 5);
    assert.equal(await handleCommand(c, ["get", "sshd", "findtime"]), 600);
    assert.equal(await handleCommand(c, ["get", "sshd", "usedns"]), "warn");
    assert.equal(await handleCommand(c, ["get", "sshd", "ignoreself"]), true);
    assert.equal(await handleCommand(c, ["get", "sshd", "ignorecommand"]), false);
    // answered as fail2ban does: tags expanded (here for usedns warn)
    assert.deepEqual(await handleCommand(c, ["get", "sshd", "failregex"]), [
      `^Failed for ${HOST_RE}$`,
    ]);
    assert.deepEqual(await handleCommand(c, ["get", "sshd", "logpath"]), ["/var/log/auth.log"]);
    assert.deepEqual(await handleCommand(c, ["get", "sshd", "actions"]), ["dummy"]);
    assert.equal(
      await handleCommand(c, ["get", "sshd", "action", "dummy", "actionban"]),
      "echo ban <ip>",
    );
    assert.equal(await handleCommand(c, ["get", "sshd", "action", "dummy", "timeout"]), 60);
    assert.deepEqual(await handleCommand(c, ["get", "sshd", "actionmethods", "dummy"]), [
      "ban",
      "unban",
    ]);
    assert.deepEqual(await handleCommand(c, ["get", "sshd", "datepattern"]), [
      null,
      "Default Detectors",
    ]);
    await assert.rejects(handleCommand(c, ["get", "sshd", "nosuch"]), /unknown setting "nosuch"/);
    await assert.rejects(handleCommand(c, ["get", "nojail", "maxretry"]), UnknownJailError);
  });
});

Deno.test("set changes a jail through updateJail and answers the new value", async () => {
  await withControl(async (c) => {
    assert.equal(await handleCommand(c, ["set", "sshd", "maxretry", "7"]), 7);
    assert.equal(await handleCommand(c, ["set", "sshd", "findtime", "1h"]), 3600);
    assert.equal(await handleCommand(c, ["set", "sshd", "bantime", "20m"]), 1200);
    assert.deepEqual(await handleCommand(c, ["set", "sshd", "addignoreip", "10.0.0.0/8"]), [
      "10.0.0.0/8",
    ]);
    assert.deepEqual(await handleCommand(c, ["set", "sshd", "delignoreip", "10.0.0.0/8"]), []);
    assert.deepEqual(
      await handleCommand(c, ["set", "sshd", "addfailregex", "^Bad", "user", "<HOST>$"]),
      [`^Failed for ${HOST_RE}$`, `^Bad user ${HOST_RE}$`],
    );
    assert.deepEqual(await handleCommand(c, ["set", "sshd", "delfailregex", "0"]), [
      `^Bad user ${HOST_RE}$`,
    ]);
    assert.equal(await handleCommand(c, ["set", "sshd", "ignoreself", "false"]), false);
    assert.equal(
      await handleCommand(c, ["set", "sshd", "action", "dummy", "actionban", "echo", "B", "<ip>"]),
      "echo B <ip>",
    );
    assert.equal(c.jailSpec("sshd").maxretry, 7);
    assert.equal(c.jailSpec("web").maxretry, 5, "other jails unchanged");
    assert.equal(c.updates.length, 9);
  });
});

Deno.test("set rejects bad values before anything changes", async () => {
  await withControl(async (c) => {
    await assert.rejects(
      handleCommand(c, ["set", "sshd", "maxretry", "many"]),
      /expected an integer/,
    );
    await assert.rejects(
      handleCommand(c, ["set", "sshd", "usedns", "maybe"]),
      /yes, warn, no or raw/,
    );
    await assert.rejects(handleCommand(c, ["set", "sshd", "delfailregex", "5"]), /Invalid index 5/);
    await assert.rejects(handleCommand(c, ["set", "sshd", "addfailregex", "(<HOST>"]), SyntaxError);
    await assert.rejects(
      handleCommand(c, ["set", "sshd", "frobs", "1"]),
      UnsupportedCommandError,
    );
    await assert.rejects(handleCommand(c, ["set", "dbpurgeage", "soon"]), /Invalid value "soon"/);
    await assert.rejects(handleCommand(c, ["set", "dbmaxmatches", "-1"]), /integer >= 0/);
    await assert.rejects(
      handleCommand(c, ["set", "sshd", "idle", "maybe"]),
      /must be 'on' or 'off'/,
    );
    await assert.rejects(handleCommand(c, ["set", "sshd", "attempt", "a;b"]), /Invalid address/);
    await assert.rejects(handleCommand(c, ["set", "sshd", "banip", "$(x)"]), /Invalid address/);
    await assert.rejects(handleCommand(c, ["add", "x", "inotify"]), /Unknown backend inotify/);
    await assert.rejects(
      handleCommand(c, ["set", "sshd", "delaction", "nope"]),
      /no action "nope"/,
    );
    assert.deepEqual(c.updates, []);
    assert.equal(c.jailSpec("sshd").filter.failregex.length, 1);
  });
});

Deno.test("logging commands change the daemon's logger", async () => {
  await withControl(async (c, dir) => {
    assert.equal(await handleCommand(c, ["get", "loglevel"]), "INFO");
    assert.equal(await handleCommand(c, ["set", "loglevel", "debug"]), "DEBUG");
    assert.equal(await handleCommand(c, ["set", "loglevel", "7"]), "7");
    await assert.rejects(handleCommand(c, ["set", "loglevel", "LOUD"]), /Invalid log level/);
    assert.equal(await handleCommand(c, ["get", "logtarget"]), `${dir}/f2b.log`);
    assert.equal(
      await handleCommand(c, ["set", "logtarget", `${dir}/other.log`]),
      `${dir}/other.log`,
    );
    await assert.rejects(
      handleCommand(c, ["set", "logtarget", `${dir}/none/x.log`]),
      /Failed to change log target/,
    );
    assert.equal(await handleCommand(c, ["get", "logtarget"]), `${dir}/other.log`);
    assert.equal(await handleCommand(c, ["flushlogs"]), "rolled over");
    assert.equal(await handleCommand(c, ["get", "syslogsocket"]), "auto");
  });
});

Deno.test("database settings come from the server spec", async () => {
  await withControl(async (c) => {
    assert.equal(await handleCommand(c, ["get", "dbfile"]), "/var/lib/f2b.sqlite3");
    assert.equal(await handleCommand(c, ["get", "dbpurgeage"]), 86400);
    assert.equal(await handleCommand(c, ["get", "dbmaxmatches"]), 10);
  });
});

Deno.test("stop <JAIL> stops one jail; missing optional parts are reported", async () => {
  await withControl(async (c) => {
    assert.equal(await handleCommand(c, ["stop", "web"]), null);
    assert.deepEqual(c.stoppedJails, ["web"]);
    await assert.rejects(handleCommand(c, ["stop", "web"]), UnknownJailError);
    await assert.rejects(
      handleCommand(c, ["start", "web"]),
      (e: unknown) => e instanceof UnsupportedCommandError && /not supported/.test(e.message),
    );
  });
});

Deno.test("database settings change at run time; dbfile only without jails", async () => {
  await withControl(async (c) => {
    assert.equal(await handleCommand(c, ["set", "dbpurgeage", "2d"]), 172800);
    assert.equal(await handleCommand(c, ["get", "dbpurgeage"]), 172800);
    assert.equal(await handleCommand(c, ["set", "dbmaxmatches", "3"]), 3);
    assert.equal(await handleCommand(c, ["get", "dbmaxmatches"]), 3);
    assert.equal(
      await handleCommand(c, ["set", "dbfile", "/var/lib/f2b.sqlite3"]),
      "/var/lib/f2b.sqlite3",
    );
    await assert.rejects(
      handleCommand(c, ["set", "dbfile", "/tmp/other.db"]),
      /Cannot change database when there are jails present/,
    );
    await handleCommand(c, ["stop", "sshd"]);
    await handleCommand(c, ["stop", "web"]);
    assert.equal(await handleCommand(c, ["set", "dbfile", "None"]), null);
    assert.equal(await handleCommand(c, ["set", "dbmaxmatches", "5"]), null);
    assert.equal(await handleCommand(c, ["get", "dbfile"]), null);
  });
});

Deno.test("add makes a jail with fail2ban's defaults that set commands fill", async () => {
  await withControl(async (c) => {
    assert.equal(await handleCommand(c, ["add", "gamma", "polling"]), "gamma");
    await assert.rejects(handleCommand(c, ["add", "gamma", "polling"]), /already exists/);
    assert.deepEqual(await handleCommand(c, ["status"]), [
      ["Number of jail", 3],
      ["Jail list", "sshd, web, gamma"],
    ]);
    assert.equal(await handleCommand(c, ["get", "gamma", "maxretry"]), 3);
    assert.equal(await handleCommand(c, ["get", "gamma", "maxmatches"]), 5);
    assert.equal(await handleCommand(c, ["get", "gamma", "backend"]), "polling");
    assert.equal(await handleCommand(c, ["get", "gamma", "logencoding"]), "UTF-8");
    assert.deepEqual(await handleCommand(c, ["get", "gamma", "actions"]), []);
    assert.equal(await handleCommand(c, ["set", "gamma", "addaction", "rec"]), "rec");
    assert.equal(
      await handleCommand(c, ["set", "gamma", "action", "rec", "actionban", "echo <ip>"]),
      "echo <ip>",
    );
    assert.deepEqual(c.jailSpec("gamma").actions[0]!.commands, { actionban: "echo <ip>" });
    await assert.rejects(handleCommand(c, ["set", "gamma", "addaction", "rec"]), /already exists/);
    await assert.rejects(
      handleCommand(c, ["set", "gamma", "addaction", "py", "/x.py", "{}"]),
      /Python actions/,
    );
    assert.equal(await handleCommand(c, ["set", "gamma", "delaction", "rec"]), null);
    assert.deepEqual(await handleCommand(c, ["get", "gamma", "actions"]), []);
  });
});

Deno.test("idle, attempt, addlogpath tail and canonical addresses reach the daemon", async () => {
  await withControl(async (c) => {
    assert.equal(await handleCommand(c, ["set", "sshd", "idle", "on"]), true);
    assert.equal(c.idle.get("sshd"), true);
    assert.equal(await handleCommand(c, ["set", "sshd", "idle", "off"]), false);
    assert.equal(await handleCommand(c, ["set", "sshd", "attempt", "::ffff:192.0.2.7"]), 1);
    assert.equal(await handleCommand(c, ["set", "sshd", "attempt", "192.0.2.7", "a", "b"]), 1);
    assert.deepEqual(c.attempts, [["sshd", "192.0.2.7", []], ["sshd", "192.0.2.7", ["a", "b"]]]);
    await handleCommand(c, ["set", "sshd", "addlogpath", "/var/log/b.log", "tail"]);
    assert.deepEqual(c.jailSpec("sshd").logpath, ["/var/log/auth.log", "/var/log/b.log"]);
    assert.deepEqual(c.jailSpec("sshd").logpathTail, [false, true]);
    await handleCommand(c, ["set", "sshd", "dellogpath", "/var/log/auth.log"]);
    assert.deepEqual(c.jailSpec("sshd").logpathTail, [true]);
    assert.equal(await handleCommand(c, ["set", "sshd", "banip", "::ffff:192.0.2.8"]), 1);
    assert.deepEqual(await handleCommand(c, ["banned", "::ffff:192.0.2.8"]), [["sshd"]]);
    assert.equal(await handleCommand(c, ["get", "sshd", "banned", "192.0.2.8"]), 1);
  });
});

Deno.test("answers shaped as fail2ban's: datepattern names, ignoreip order, ignorecache", async () => {
  await withControl(async (c) => {
    assert.deepEqual(await handleCommand(c, ["get", "sshd", "datepattern"]), [
      null,
      "Default Detectors",
    ]);
    assert.deepEqual(
      await handleCommand(c, ["set", "sshd", "datepattern", "%Y-%m-%d %H:%M:%S"]),
      ["%Y-%m-%d %H:%M:%S", "Year-Month-Day 24hour:Minute:Second"],
    );
    assert.deepEqual(await handleCommand(c, ["set", "sshd", "datepattern", "EPOCH"]), [
      null,
      "Epoch",
    ]);
    assert.deepEqual(await handleCommand(c, ["set", "sshd", "datepattern", "{^LN-BEG}"]), [
      null,
      "Default Detectors",
    ]);
    await handleCommand(c, ["set", "sshd", "addignoreip", "10.0.0.1", "192.168.0.0/24"]);
    assert.deepEqual(await handleCommand(c, ["get", "sshd", "ignoreip"]), [
      "192.168.0.0/24",
      "10.0.0.1",
    ]);
    assert.equal(await handleCommand(c, ["get", "sshd", "ignorecache"]), null);
    assert.deepEqual(
      await handleCommand(c, [
        "set",
        "sshd",
        "ignorecache",
        'key="<ip>",',
        "max-count=100,",
        "max-time=5m",
      ]),
      ["<ip>", 100, 300],
    );
    await assert.rejects(
      handleCommand(c, ["set", "sshd", "ignorecache", "bogus=1"]),
      /Unknown option "bogus"/,
    );
  });
});
