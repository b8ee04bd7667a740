/**
 * The shipped firewall actions on real firewalls, each test in network namespaces of its own:
 * a "server" namespace where the firewall runs and TCP ports 22 and 2222 are served, and an
 * "attacker" namespace joined to it by a veth pair. For each action, through the real
 * ActionExecutor and ShellCommandRunner (commands run inside the server namespace):
 * a connection from the attacker works before the ban, fails after it, works after the unban,
 * and after the jail stops no rule, chain, set, table or route of f2b remains.
 *
 * Needs root and iptables, nftables, ipset, iproute2, python3, bash; skips with a message
 * otherwise. hostsdeny is checked on a temporary file and runs anywhere.
 */

import assert from "node:assert/strict";
import { ActionExecutor } from "../src/actions/action_executor.ts";
import { ShellCommandRunner } from "../src/actions/command_runner.ts";
import { MemoryLogger } from "../src/log/types.ts";
import { ManualClock } from "../src/util/clock.ts";
import type { BanTicket } from "../src/ipc/messages.ts";
import { CONFIG_DIR, firewallSkipReason, loadAction, NetnsPair, ticket } from "./_netns.ts";

const SKIP = await firewallSkipReason();
if (SKIP) console.warn(`firewall_netns_test: real firewall tests skipped: ${SKIP}`);

const JAIL = "fwtest";

/** What is left of f2b in the server namespace's firewall, as text (empty when clean). */
async function leftovers(pair: NetnsPair): Promise<string> {
  const parts: string[] = [];
  for (
    const [what, cmd] of [
      ["iptables", "iptables-save"],
      ["ip6tables", "ip6tables-save"],
      ["nft", "nft list ruleset"],
      ["ipset", "ipset list -n"],
    ] as const
  ) {
    const r = await pair.exec(cmd);
    const hits = r.stdout.split("\n").filter((l) => /f2b/i.test(l));
    if (hits.length) parts.push(`${what}: ${hits.join(" | ")}`);
  }
  for (const fam of ["-4", "-6"]) {
    const r = await pair.exec(
      `ip ${fam} route show table all type unreachable; ip ${fam} route show table all type blackhole`,
    );
    if (r.stdout.trim()) parts.push(`routes ${fam}: ${r.stdout.trim()}`);
  }
  return parts.join("\n");
}

interface Case {
  /** Action reference as a jail would write it. */
  action: string;
  /** Address family tested. */
  v6?: boolean;
  /** Whether port 2222 (not in the jail's ports) is blocked by the ban too. */
  allPorts: boolean;
  /** Extra addresses banned together with the attacker (exercises the batch form). */
  batch?: boolean;
}

async function runCase(c: Case): Promise<void> {
  const pair = await NetnsPair.create();
  try {
    await pair.serve([22, 2222]);
    const srv = c.v6 ? pair.srv6 : pair.srv4;
    const att = c.v6 ? pair.att6 : pair.att4;
    const spec = loadAction(c.action, JAIL);
    const runner = pair.runner();
    const logger = new MemoryLogger();
    const ex = new ActionExecutor({
      runner,
      logger,
      clock: new ManualClock(1_700_000_000),
      resolveHost: () => Promise.resolve(""),
    });
    const errors = () => logger.messages("ERROR").join("\n");

    await ex.startJail(JAIL, [spec]);
    assert.ok(await pair.canConnect(srv, 22), "before the ban: port 22 reachable");
    assert.ok(await pair.canConnect(srv, 2222), "before the ban: port 2222 reachable");

    const others: BanTicket[] = c.batch
      ? (c.v6 ? ["2001:db8::10", "2001:db8::11", "2001:db8::12"] : [
        "192.0.2.10",
        "192.0.2.11",
        "192.0.2.12",
      ]).map((ip) => ticket(JAIL, ip))
      : [];
    const banned = [ticket(JAIL, att), ...others];
    const before = runner.commands.length;
    const oks = await Promise.all(banned.map((t) => ex.ban(t)));
    assert.deepEqual(oks, banned.map(() => true), `bans applied: ${errors()}`);
    if (c.batch) {
      assert.ok(spec.commands["actionban_batch"], `${c.action} has a batch form`);
      // The first ban runs alone (with the on-demand start); the three queued behind it go in
      // one batch command instead of three.
      const phase = runner.commands.slice(before);
      const starts = spec.commands["actionstart"] ? 1 : 0;
      assert.equal(phase.length, starts + 2, `start, one ban, one batch: ${phase.join("\n---\n")}`);
      const state = (await pair.exec(
        "iptables-save; ip6tables-save; nft list ruleset; ipset list; ip route show table all; ip -6 route show table all",
      )).stdout;
      for (const t of others) assert.ok(state.includes(t.fid), `${t.fid} in the firewall`);
    }
    assert.ok(!(await pair.canConnect(srv, 22)), "after the ban: port 22 blocked");
    assert.equal(
      await pair.canConnect(srv, 2222),
      !c.allPorts,
      c.allPorts ? "after the ban: port 2222 blocked" : "after the ban: port 2222 still open",
    );

    assert.ok(await ex.unban(banned[0]!), `unban applied: ${errors()}`);
    assert.ok(await pair.canConnect(srv, 22), "after the unban: port 22 reachable");
    assert.ok(await pair.canConnect(srv, 2222), "after the unban: port 2222 reachable");

    // Ban again so that stop has to remove a live ban too.
    assert.ok(await ex.ban(banned[0]!), `second ban applied: ${errors()}`);
    assert.ok(!(await pair.canConnect(srv, 22)), "after the second ban: port 22 blocked");
    await ex.stopJail(JAIL, banned);
    assert.equal(errors(), "", "no action errors");
    assert.equal(await leftovers(pair), "", "nothing of f2b left after stop");
    assert.ok(await pair.canConnect(srv, 22), "after stop: port 22 reachable");
  } finally {
    await pair.destroy();
  }
}

const CASES: Array<Case & { name: string }> = [
  {
    name: "iptables-multiport blocks the jail's ports (IPv4)",
    action: "iptables-multiport[port=ssh]",
    allPorts: false,
    batch: true,
  },
  {
    name: "iptables-multiport blocks the jail's ports (IPv6)",
    action: "iptables-multiport[port=ssh]",
    v6: true,
    allPorts: false,
    batch: true,
  },
  { name: "iptables blocks one port (IPv4)", action: "iptables[port=22]", allPorts: false },
  {
    name: "iptables-allports blocks every port (IPv4)",
    action: "iptables-allports",
    allPorts: true,
  },
  {
    name: "iptables-allports blocks every port (IPv6)",
    action: "iptables-allports",
    v6: true,
    allPorts: true,
  },
  {
    name: "nftables blocks the jail's ports (IPv4)",
    action: "nftables[port=ssh]",
    allPorts: false,
    batch: true,
  },
  {
    name: "nftables blocks the jail's ports (IPv6)",
    action: "nftables[port=ssh]",
    v6: true,
    allPorts: false,
    batch: true,
  },
  {
    name: "nftables-multiport takes port lists and ranges",
    action: 'nftables-multiport[port="ssh,20:21"]',
    allPorts: false,
  },
  {
    name: "nftables-allports blocks every port (IPv4)",
    action: "nftables-allports",
    allPorts: true,
  },
  {
    name: "nftables-allports blocks every port (IPv6)",
    action: "nftables-allports",
    v6: true,
    allPorts: true,
    batch: true,
  },
  {
    name: "iptables-ipset blocks the jail's ports (IPv4)",
    action: "iptables-ipset[port=ssh]",
    allPorts: false,
    batch: true,
  },
  {
    name: "iptables-ipset blocks the jail's ports (IPv6)",
    action: "iptables-ipset[port=ssh]",
    v6: true,
    allPorts: false,
    batch: true,
  },
  {
    name: "iptables-ipset-allports blocks every port (IPv4)",
    action: "iptables-ipset-allports",
    allPorts: true,
    batch: true,
  },
  {
    name: "route (unreachable) cuts the address off (IPv4)",
    action: "route",
    allPorts: true,
    batch: true,
  },
  {
    name: "route (blackhole) cuts the address off (IPv6)",
    action: "route[blocktype=blackhole]",
    v6: true,
    allPorts: true,
    batch: true,
  },
];

for (const c of CASES) {
  Deno.test({
    name: `Real firewall: ${c.name}; unban and stop leave nothing`,
    ignore: SKIP !== null,
    sanitizeResources: false,
    fn: () => runCase(c),
  });
}

Deno.test({
  name:
    "Real firewall: a restart over a crashed run's leftovers starts clean (iptables, nftables, ipset)",
  ignore: SKIP !== null,
  sanitizeResources: false,
  async fn() {
    const pair = await NetnsPair.create();
    try {
      await pair.serve([22]);
      for (
        const action of [
          "iptables-multiport[port=ssh]",
          "nftables[port=ssh]",
          "iptables-ipset[port=ssh]",
        ]
      ) {
        const logger = new MemoryLogger();
        const mk = () =>
          new ActionExecutor({
            runner: pair.runner(),
            logger,
            clock: new ManualClock(0),
            resolveHost: () => Promise.resolve(""),
          });
        const spec = loadAction(action, JAIL);
        // First run: ban, then "crash" (no stop).
        const first = mk();
        await first.startJail(JAIL, [spec]);
        assert.ok(await first.ban(ticket(JAIL, pair.att4)), action);
        // Second run: start and the same ban again (restored), then stop.
        const second = mk();
        await second.startJail(JAIL, [spec]);
        assert.ok(
          await second.reban(ticket(JAIL, pair.att4)),
          `${action}: ${logger.messages().join("\n")}`,
        );
        assert.ok(!(await pair.canConnect(pair.srv4, 22)), `${action}: banned after restart`);
        await second.stopJail(JAIL, [ticket(JAIL, pair.att4)]);
        assert.equal(logger.messages("ERROR").join("\n"), "", action);
        assert.equal(await leftovers(pair), "", `${action}: clean after stop`);
        assert.ok(await pair.canConnect(pair.srv4, 22), `${action}: reachable after stop`);
      }
    } finally {
      await pair.destroy();
    }
  },
});

Deno.test("hostsdeny writes and removes exact lines in a temporary hosts.deny", async () => {
  const dir = await Deno.makeTempDir({ prefix: "f2b_hostsdeny_" });
  try {
    const file = `${dir}/hosts.deny`;
    const original = "# existing\nsshd: 192.0.2.99\nALL: 192.0.2.10\n";
    await Deno.writeTextFile(file, original);
    await Deno.chmod(file, 0o640);
    const spec = loadAction(`hostsdeny[file="${file}"]`, JAIL);
    const logger = new MemoryLogger();
    const ex = new ActionExecutor({
      runner: new ShellCommandRunner(),
      logger,
      clock: new ManualClock(0),
      resolveHost: () => Promise.resolve(""),
    });
    await ex.startJail(JAIL, [spec]);
    const t4 = ticket(JAIL, "192.0.2.1");
    const t6 = ticket(JAIL, "2001:db8::1");
    assert.ok(await ex.ban(t4));
    assert.ok(await ex.ban(t6));
    assert.ok(await ex.reban(t4), "a restored ban adds no second line");
    assert.equal(
      await Deno.readTextFile(file),
      original + "ALL: 192.0.2.1\nALL: [2001:db8::1]\n",
    );
    assert.ok(await ex.unban(t4));
    // 192.0.2.1 must not take 192.0.2.10 with it.
    assert.equal(await Deno.readTextFile(file), original + "ALL: [2001:db8::1]\n");
    assert.ok(await ex.unban(t6));
    assert.equal(await Deno.readTextFile(file), original);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o640, "mode kept");
    await ex.stopJail(JAIL, []);
    assert.equal(logger.messages("ERROR").join("\n"), "");
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name),
      ["hosts.deny"],
      "no temp files left",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A syslog time stamp ("Nov  5 14:03:09") of the local time now. */
function syslogNow(): string {
  const d = new Date();
  const mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][
    d.getMonth()
  ]!;
  const p = (n: number) => String(n).padStart(2, "0");
  return `${mon} ${String(d.getDate()).padStart(2, " ")} ${p(d.getHours())}:${p(d.getMinutes())}:${
    p(d.getSeconds())
  }`;
}

/** Polls `cond` every 100 ms until it holds or `limit` ms passed. */
async function waitFor(cond: () => Promise<boolean>, limit: number): Promise<boolean> {
  for (let waited = 0; waited < limit; waited += 100) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return await cond();
}

Deno.test({
  name:
    "Real firewall: the shipped sshd jail, run by the server, bans an attacker and cleans up at exit",
  ignore: SKIP !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const pair = await NetnsPair.create();
    const dir = await Deno.makeTempDir({ prefix: "f2b_e2e_" });
    let server: Deno.ChildProcess | null = null;
    try {
      await pair.serve([22]);
      await Deno.mkdir(`${dir}/cfg`);
      for (const e of Deno.readDirSync(CONFIG_DIR)) {
        if (!e.name.endsWith(".local")) {
          Deno.symlinkSync(`${CONFIG_DIR}/${e.name}`, `${dir}/cfg/${e.name}`);
        }
      }
      await Deno.writeTextFile(
        `${dir}/cfg/fail2ban.local`,
        `[Definition]\ndbfile = :memory:\nsocket = ${dir}/f2b.sock\npidfile = ${dir}/f2b.pid\nlogtarget = ${dir}/f2b.log\n`,
      );
      await Deno.writeTextFile(`${dir}/cfg/jail.local`, `[sshd]\nlogpath = ${dir}/auth.log\n`);
      await Deno.writeTextFile(`${dir}/auth.log`, "");
      server = new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          pair.srv,
          Deno.execPath(),
          "run",
          "-A",
          "--v8-flags=--enable-experimental-regexp-engine-on-excessive-backtracks,--allow-natives-syntax",
          new URL("../mod.ts", import.meta.url).pathname,
          "server",
          "-f",
          "-c",
          `${dir}/cfg`,
        ],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      const log = () => Deno.readTextFile(`${dir}/f2b.log`).catch(() => "");
      assert.ok(
        await waitFor(async () => (await log()).includes("Added logfile"), 30_000),
        `server did not start watching the log: ${await log()}`,
      );
      assert.ok(await pair.canConnect(pair.srv4, 22), "before the failures: reachable");
      const lines = [1, 2, 3, 4, 5].map((i) =>
        `${syslogNow()} gw sshd[${100 + i}]: Failed password for root from ${pair.att4} port ${
          40000 + i
        } ssh2\n`
      );
      await Deno.writeTextFile(`${dir}/auth.log`, lines.join(""), { append: true });
      assert.ok(
        await waitFor(async () => !(await pair.canConnect(pair.srv4, 22)), 30_000),
        `attacker not blocked: ${await log()}`,
      );
      assert.match(await log(), new RegExp(`\\[sshd\\] Ban ${pair.att4.replaceAll(".", "\\.")}`));
      server.kill("SIGTERM");
      const status = await server.status;
      server = null;
      assert.equal(status.code, 0, await log());
      assert.equal(await leftovers(pair), "", "nothing of f2b left after the server exited");
      assert.ok(await pair.canConnect(pair.srv4, 22), "after exit: reachable");
    } finally {
      if (server) {
        server.kill("SIGKILL");
        await server.status;
      }
      await pair.destroy();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
