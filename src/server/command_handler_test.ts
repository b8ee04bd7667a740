import assert from "node:assert/strict";
import { handleCommand, InvalidCommandError, VERSION } from "./command_handler.ts";
import type { JailStatus, ReloadOptions, ServerControl } from "./control.ts";
import { UnknownJailError } from "./control.ts";
import type { TxtLookup } from "../net/cymru.ts";

/** A ServerControl that records calls. */
class FakeControl implements ServerControl {
  stopped = 0;
  txtLookup?: TxtLookup;
  reloads: ReloadOptions[] = [];
  readonly jails: Record<string, JailStatus> = {
    sshd: {
      name: "sshd",
      currentlyFailed: 1,
      totalFailed: 7,
      files: ["/var/log/auth.log"],
      currentlyBanned: 2,
      totalBanned: 3,
      bannedIps: ["192.0.2.10", "2001:db8::1"],
    },
  };
  jailNames(): string[] {
    return Object.keys(this.jails);
  }
  jailStatus(name: string): JailStatus {
    const s = this.jails[name];
    if (!s) throw new UnknownJailError(name);
    return s;
  }
  stop(): Promise<void> {
    this.stopped++;
    return Promise.resolve();
  }
  reload(options: ReloadOptions): Promise<void> {
    if (options.jail && !this.jails[options.jail] && !options.ifExists) {
      return Promise.reject(new UnknownJailError(options.jail));
    }
    this.reloads.push(options);
    return Promise.resolve();
  }
}

Deno.test("handleCommand answers ping with pong", async () => {
  assert.equal(await handleCommand(new FakeControl(), ["ping"]), "pong");
});

Deno.test("handleCommand status lists the jails", async () => {
  assert.deepEqual(await handleCommand(new FakeControl(), ["status"]), [
    ["Number of jail", 1],
    ["Jail list", "sshd"],
  ]);
});

Deno.test("handleCommand status of a jail gives filter and action rows", async () => {
  const rows = await handleCommand(new FakeControl(), ["status", "sshd"]);
  assert.deepEqual(rows, [
    ["Filter", [["Currently failed", 1], ["Total failed", 7], ["File list", [
      "/var/log/auth.log",
    ]]]],
    ["Actions", [["Currently banned", 2], ["Total banned", 3], ["Banned IP list", [
      "192.0.2.10",
      "2001:db8::1",
    ]]]],
  ]);
  assert.deepEqual(
    await handleCommand(new FakeControl(), ["status", "sshd", "basic"]),
    rows,
  );
});

Deno.test("handleCommand status of a systemd jail shows its journal matches, not files", async () => {
  const control = new FakeControl();
  control.jails.sshd = {
    ...control.jails.sshd!,
    files: [],
    journalMatches: "_SYSTEMD_UNIT=sshd.service + _COMM=sshd",
  };
  const rows = await handleCommand(control, ["status", "sshd", "short"]);
  assert.deepEqual(rows, [
    ["Filter", [["Currently failed", 1], ["Total failed", 7], ["Journal matches", [
      "_SYSTEMD_UNIT=sshd.service + _COMM=sshd",
    ]]]],
    ["Actions", [["Currently banned", 2], ["Total banned", 3]]],
  ]);
  const { formatJailStatus } = await import("../client/format.ts");
  assert.equal(
    formatJailStatus("sshd", rows as Parameters<typeof formatJailStatus>[1]),
    "Status for the jail: sshd\n|- Filter\n|  |- Currently failed:\t1\n|  |- Total failed:\t7\n" +
      "|  `- Journal matches:\t_SYSTEMD_UNIT=sshd.service + _COMM=sshd\n`- Actions\n" +
      "   |- Currently banned:\t2\n   `- Total banned:\t3",
  );
});

Deno.test("handleCommand status short flavor leaves out the banned list", async () => {
  const rows = await handleCommand(new FakeControl(), ["status", "sshd", "short"]) as unknown[][];
  assert.deepEqual(rows[1], ["Actions", [["Currently banned", 2], ["Total banned", 3]]]);
});

Deno.test("handleCommand status extended flavor adds the evicted count; basic never shows it", async () => {
  const control = new FakeControl();
  control.jails.sshd = { ...control.jails.sshd!, evicted: 500 };
  const basic = await handleCommand(control, ["status", "sshd"]);
  assert.doesNotMatch(JSON.stringify(basic), /evict/i);
  assert.deepEqual(await handleCommand(control, ["status", "sshd", "extended"]), [
    ["Filter", [["Currently failed", 1], ["Total failed", 7], ["Total evicted", 500], [
      "File list",
      ["/var/log/auth.log"],
    ]]],
    ["Actions", [["Currently banned", 2], ["Total banned", 3], ["Banned IP list", [
      "192.0.2.10",
      "2001:db8::1",
    ]]]],
  ]);
  const all = await handleCommand(control, ["status", "--all", "extended"]) as unknown[];
  assert.match(JSON.stringify(all), /"Total evicted",500/);
  const { formatJailStatus } = await import("../client/format.ts");
  const rows = await handleCommand(control, ["status", "sshd", "extended"]);
  assert.match(
    formatJailStatus("sshd", rows as Parameters<typeof formatJailStatus>[1]),
    /\| {2}\|- Total failed:\t7\n\| {2}\|- Total evicted:\t500\n\| {2}`- File list:/,
  );
});

Deno.test("handleCommand status of an unknown jail throws UnknownJailError", async () => {
  await assert.rejects(
    handleCommand(new FakeControl(), ["status", "nojail"]),
    (e: unknown) => e instanceof UnknownJailError && e.message.includes("'nojail'"),
  );
});

Deno.test("handleCommand status rejects an unknown flavor", async () => {
  await assert.rejects(
    handleCommand(new FakeControl(), ["status", "sshd", "fancy"]),
    /Unknown status flavor "fancy"/,
  );
});

Deno.test("handleCommand stop stops the daemon once and answers null", async () => {
  const control = new FakeControl();
  assert.equal(await handleCommand(control, ["stop"]), null);
  assert.equal(control.stopped, 1);
});

Deno.test("handleCommand reload passes its options", async () => {
  const control = new FakeControl();
  assert.equal(await handleCommand(control, ["reload"]), null);
  await handleCommand(control, ["reload", "--restart", "--unban", "--all"]);
  await handleCommand(control, ["reload", "--if-exists", "sshd"]);
  await handleCommand(control, ["restart", "--unban", "sshd"]);
  assert.deepEqual(control.reloads, [
    {},
    { restart: true, unban: true, all: true },
    { ifExists: true, jail: "sshd" },
    { restart: true, unban: true, jail: "sshd" },
  ]);
});

Deno.test("handleCommand reload of an unknown jail fails unless --if-exists", async () => {
  const control = new FakeControl();
  await assert.rejects(handleCommand(control, ["reload", "nojail"]), UnknownJailError);
  await handleCommand(control, ["reload", "--if-exists", "nojail"]);
  assert.deepEqual(control.reloads, [{ ifExists: true, jail: "nojail" }]);
});

Deno.test("handleCommand reload rejects unknown options and two jails", async () => {
  await assert.rejects(
    handleCommand(new FakeControl(), ["reload", "--bogus"]),
    /Unknown option "--bogus" of "reload"/,
  );
  await assert.rejects(
    handleCommand(new FakeControl(), ["reload", "a", "b"]),
    /takes one jail/,
  );
  await assert.rejects(handleCommand(new FakeControl(), ["restart"]), /takes a jail name/);
});

Deno.test("handleCommand version and echo", async () => {
  assert.equal(await handleCommand(new FakeControl(), ["version"]), VERSION);
  assert.match(VERSION, /^\d+\.\d+\.\d+/);
  assert.deepEqual(await handleCommand(new FakeControl(), ["echo", "a", "b c"]), ["a", "b c"]);
});

Deno.test("handleCommand unknown command says so and points at help", async () => {
  await assert.rejects(
    handleCommand(new FakeControl(), ["frobnicate", "x"]),
    (e: unknown) =>
      e instanceof InvalidCommandError && /Invalid command "frobnicate"/.test(e.message) &&
      /"help"/.test(e.message),
  );
  await assert.rejects(handleCommand(new FakeControl(), []), InvalidCommandError);
  const help = await handleCommand(new FakeControl(), ["help"]);
  assert.match(String(help), /status <JAIL> \[FLAVOR\]/);
});

Deno.test("handleCommand status cymru adds the AS numbers, countries and registries of the banned addresses", async () => {
  const control = new FakeControl();
  const asked: string[] = [];
  control.txtLookup = (name) => {
    asked.push(name);
    if (name.startsWith("10.2.0.192.")) {
      return Promise.resolve([["64500 | 192.0.2.0/24 | ZZ | ripencc | 2001-01-01"]]);
    }
    return Promise.reject(new Deno.errors.NotFound("no records found"));
  };
  const rows = await handleCommand(control, ["status", "sshd", "cymru"]) as [string, unknown][];
  assert.deepEqual(rows[1], [
    "Actions",
    [
      ["Currently banned", 2],
      ["Total banned", 3],
      ["Banned IP list", ["192.0.2.10", "2001:db8::1"]],
      ["Banned ASN list", ["64500", "nxdomain"]],
      ["Banned Country list", ["ZZ", "nxdomain"]],
      ["Banned RIR list", ["ripencc", "nxdomain"]],
    ],
  ]);
  assert.deepEqual(asked.map((n) => n.split(".").slice(-4).join(".")), [
    "origin.asn.cymru.com",
    "origin6.asn.cymru.com",
  ]);
});
