import assert from "node:assert/strict";
import type { ActionSpec } from "../config/types.ts";
import type { BanTicket } from "../ipc/messages.ts";
import { MemoryLogger } from "../log/types.ts";
import { ManualClock } from "../util/clock.ts";
import { ActionExecutor } from "./action_executor.ts";
import { FakeCommandRunner } from "./command_runner.ts";

function action(
  name: string,
  commands: Record<string, string>,
  properties: Record<string, string> = {},
  familyProperties: Record<string, Record<string, string>> = {},
): ActionSpec {
  return { name, kind: name, file: null, commands, properties, familyProperties, timeout: 5 };
}

function ticket(fid: string, over: Partial<BanTicket> = {}): BanTicket {
  return {
    jail: "sshd",
    fid,
    family: fid.includes(":") ? "inet6" : "inet4",
    time: 1000,
    banTime: 600,
    banCount: 0,
    failures: 3,
    matches: ["m"],
    data: {},
    ...over,
  };
}

function setup() {
  const runner = new FakeCommandRunner();
  const logger = new MemoryLogger();
  const exec = new ActionExecutor({ runner, logger, clock: new ManualClock(1000) });
  return { runner, logger, exec };
}

const IPT = action(
  "iptables",
  {
    actionstart: "<iptables> -N f2b-<name>",
    actionstop: "<iptables> -X f2b-<name>",
    actionflush: "<iptables> -F f2b-<name>",
    actioncheck: "<iptables> -C f2b-<name>",
    actionban: "<iptables> -I f2b-<name> -s <ip> -j <blocktype>",
    actionunban: "<iptables> -D f2b-<name> -s <ip> -j <blocktype>",
  },
  { iptables: "iptables -w", name: "sshd", blocktype: "REJECT" },
  {
    inet6: { iptables: "ip6tables -w", blocktype: "REJECT6" },
  },
);

Deno.test("ActionExecutor starts family-conditional actions on demand, per family", async () => {
  const { runner, exec } = setup();
  await exec.startJail("sshd", [IPT]);
  assert.deepEqual(runner.commands(), []);
  assert.equal(await exec.ban(ticket("192.0.2.1")), true);
  assert.equal(await exec.ban(ticket("192.0.2.2")), true);
  assert.equal(await exec.ban(ticket("2001:db8::1")), true);
  assert.deepEqual(runner.commands(), [
    "iptables -w -N f2b-sshd",
    "iptables -w -I f2b-sshd -s 192.0.2.1 -j REJECT",
    "iptables -w -I f2b-sshd -s 192.0.2.2 -j REJECT",
    "ip6tables -w -N f2b-sshd",
    "ip6tables -w -I f2b-sshd -s 2001:db8::1 -j REJECT6",
  ]);
});

Deno.test("ActionExecutor starts plain actions at jail start and runs a shared command once", async () => {
  const { runner, exec } = setup();
  const a = action("a", { actionstart: "start <name>", actionban: "ban <ip>" }, { name: "x" });
  const b = action("b", { actionstart: "start-b <family>" }, {}, {});
  const c = action("c", { actionstart: "same for all" }, { actionstart_on_demand: "false" }, {
    inet6: { unused: "1" },
  });
  await exec.startJail("sshd", [a, b, c]);
  assert.deepEqual(runner.commands(), ["start x", "start-b ", "same for all"]);
});

Deno.test("ActionExecutor stop flushes with actionflush or unbans each, then stops in reverse", async () => {
  const { runner, exec } = setup();
  const plain = action("plain", {
    actionstart: "start plain",
    actionstop: "stop plain",
    actionban: "ban <ip>",
    actionunban: "unban <ip>",
  });
  await exec.startJail("sshd", [IPT, plain]);
  const t = ticket("192.0.2.1");
  await exec.ban(t);
  runner.calls.length = 0;
  await exec.stopJail("sshd", [t]);
  assert.deepEqual(runner.commands(), [
    "iptables -w -F f2b-sshd",
    "unban 192.0.2.1",
    "stop plain",
    "iptables -w -X f2b-sshd",
  ]);
  assert.deepEqual(exec.jails(), []);
});

Deno.test("ActionExecutor unban runs only where the family holds bans", async () => {
  const { runner, exec } = setup();
  await exec.startJail("sshd", [IPT]);
  assert.equal(await exec.unban(ticket("192.0.2.9")), true);
  assert.deepEqual(runner.commands(), []);
  await exec.ban(ticket("192.0.2.1"));
  assert.equal(await exec.unban(ticket("192.0.2.1")), true);
  assert.equal(runner.commands().at(-1), "iptables -w -D f2b-sshd -s 192.0.2.1 -j REJECT");
});

Deno.test("ActionExecutor logs a failing ban with jail, action, command and stderr, repairs and retries", async () => {
  const { runner, logger, exec } = setup();
  await exec.startJail("sshd", [IPT]);
  await exec.ban(ticket("192.0.2.1"));
  runner.calls.length = 0;
  let failures = 1;
  runner.respond((c) =>
    c.command.includes("-I f2b-sshd -s 192.0.2.2") && failures-- > 0
      ? { code: 2, stderr: "iptables: No chain/target/match by that name.\n" }
      : undefined
  );
  let checkFailures = 1;
  runner.respond((c) =>
    c.command.includes("-C f2b-sshd") && checkFailures-- > 0
      ? { code: 1, stderr: "Bad rule" }
      : undefined
  );
  assert.equal(await exec.ban(ticket("192.0.2.2")), true);
  assert.deepEqual(runner.commands(), [
    "iptables -w -I f2b-sshd -s 192.0.2.2 -j REJECT",
    "iptables -w -C f2b-sshd",
    // No actionrepair: stop and start again.
    "iptables -w -X f2b-sshd",
    "iptables -w -N f2b-sshd",
    "iptables -w -C f2b-sshd",
    "iptables -w -I f2b-sshd -s 192.0.2.2 -j REJECT",
  ]);
  const errors = logger.messages("ERROR");
  assert.equal(
    errors[0],
    '[sshd] Error executing action "iptables" actionban for "192.0.2.2": exit code 2 -- command: "iptables -w -I f2b-sshd -s 192.0.2.2 -j REJECT" -- stderr: "iptables: No chain/target/match by that name."',
  );
  assert.ok(errors.some((e) => e.includes("Invariant check failed")));
  assert.deepEqual(logger.messages("CRITICAL"), []);
});

Deno.test("ActionExecutor ban returns false when the command keeps failing, and runs actionrepair", async () => {
  const { runner, exec } = setup();
  const a = action("a", {
    actionban: "ban <ip>",
    actioncheck: "check",
    actionrepair: "repair",
  });
  await exec.startJail("sshd", [a]);
  runner.failWhen("ban ");
  runner.failWhen("check", "check failed");
  assert.equal(await exec.ban(ticket("192.0.2.1")), false);
  assert.deepEqual(runner.commands(), ["ban 192.0.2.1", "check", "repair", "check"]);
});

Deno.test("ActionExecutor reban uses actionreban and skips norestored actions", async () => {
  const { runner, exec } = setup();
  await exec.startJail("sshd", [
    action("r", { actionban: "ban <ip>", actionreban: "reban <ip> <restored>" }),
    action("mail", { actionban: "mail <ip>" }, { norestored: "true" }),
  ]);
  assert.equal(await exec.reban(ticket("192.0.2.1")), true);
  assert.deepEqual(runner.commands(), ["reban 192.0.2.1 1"]);
});

Deno.test("ActionExecutor batches waiting bans per action and family, falling back on failure", async () => {
  const { runner, exec } = setup();
  const batched = action("nft", {
    actionban: "nft add element f2b { <ip> }",
    actionban_batch: "nft add element f2b { <ips> } <family>",
    actionunban: "nft delete element f2b { <ip> }",
    actionunban_batch: "nft delete element f2b { <ips> }",
  });
  const single = action("log", { actionban: "log <ip>" });
  await exec.startJail("sshd", [batched, single]);
  const tickets = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "user;x", "2001:db8::1"].map((f) =>
    ticket(f, { family: f.includes(".") ? "inet4" : f.includes(":") ? "inet6" : null })
  );
  const results = await Promise.all(tickets.map((t) => exec.ban(t)));
  assert.deepEqual(results, [true, true, true, true, true]);
  const cmds = runner.commands();
  // The first ban started the queue alone; the rest waited and were grouped.
  assert.deepEqual(cmds.slice(0, 2), ["nft add element f2b { 192.0.2.1 }", "log 192.0.2.1"]);
  assert.ok(cmds.includes("nft add element f2b { 192.0.2.2,192.0.2.3 } inet4"));
  assert.ok(cmds.includes('nft add element f2b { "${F2B_IP}" }'), "a non-address is not batched");
  assert.ok(cmds.includes("nft add element f2b { 2001:db8::1 }"), "a family of one is not batched");
  const batchCall = runner.calls.find((c) => c.command.includes("192.0.2.2,"));
  assert.equal(batchCall?.env.F2B_IPS, "192.0.2.2\n192.0.2.3");

  runner.calls.length = 0;
  runner.failWhen("nft delete element f2b { 192.0.2.2,192.0.2.3 }");
  const unbans = await Promise.all(tickets.slice(0, 3).map((t) => exec.unban(t)));
  assert.deepEqual(unbans, [true, true, true]);
  assert.deepEqual(runner.commands(), [
    "nft delete element f2b { 192.0.2.1 }",
    "nft delete element f2b { 192.0.2.2,192.0.2.3 }",
    "nft delete element f2b { 192.0.2.2 }",
    "nft delete element f2b { 192.0.2.3 }",
  ]);
});

Deno.test("ActionExecutor passes log text by environment and refuses unknown jails", async () => {
  const { runner, logger, exec } = setup();
  await exec.startJail("sshd", [action("m", { actionban: "mail '<F-USER>' <matches>" })]);
  const t = ticket("192.0.2.1", { matches: ["$(reboot)"], data: { user: "`id`" } });
  assert.equal(await exec.ban(t), true);
  assert.deepEqual(runner.calls[0], {
    command: `mail ''"\${F2B_F_USER}"'' "\${F2B_MATCHES}"`,
    env: { F2B_F_USER: "`id`", F2B_MATCHES: "$(reboot)" },
    timeout: 5,
  });
  assert.equal(await exec.ban(ticket("192.0.2.1", { jail: "nope" })), false);
  assert.match(logger.messages("ERROR")[0]!, /^\[nope\] Cannot ban "192.0.2.1"/);
});

Deno.test("ActionExecutor fills merged ban info for ipmatches from the callback", async () => {
  const runner = new FakeCommandRunner();
  const exec = new ActionExecutor({
    runner,
    logger: new MemoryLogger(),
    clock: new ManualClock(0),
    mergedBans: (_fid, jail) =>
      jail ? { matches: ["j"], failures: 2 } : { matches: ["a", "b"], failures: 7 },
  });
  await exec.startJail("sshd", [
    action("m", { actionban: "x <ipfailures> <ipjailfailures> <ipmatches>" }),
  ]);
  await exec.ban(ticket("192.0.2.1"));
  assert.equal(runner.calls[0]?.command, 'x 7 2 "${F2B_IPMATCHES}"');
  assert.equal(runner.calls[0]?.env.F2B_IPMATCHES, "a\nb");
});
