/**
 * SECURITY.md item 1 through the whole daemon: the real server runs the
 * shipped sshd, pam-generic, dovecot and apache-auth filters on real log
 * files whose user names and URLs carry `from <addr>`, `rhost=<addr>` and
 * `[client <addr>]`. Only the real source may be banned, never the injected
 * address (203.0.113.0/24 here; real sources are in 192.0.2.0/24).
 */

import assert from "node:assert/strict";
import { append, bans, row, Server, waitFor, withDir, writeConfig } from "./security_harness.ts";

const MON = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAY = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const p2 = (n: number) => String(n).padStart(2, "0");
const hms = (d: Date) => `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;

/** `Nov 25 15:44:01` (syslog, local time). */
function syslog(d = new Date()): string {
  return `${MON[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${hms(d)}`;
}

/** `Wed Nov 25 15:44:01 2026` (apache error log, local time). */
function apache(d = new Date()): string {
  return `${DAY[d.getDay()]} ${MON[d.getMonth()]} ${p2(d.getDate())} ${hms(d)} ${d.getFullYear()}`;
}

interface Case {
  jail: string;
  /** Hostile lines, each with one real source (192.0.2.x) and injected 203.0.113.x. */
  lines: () => string[];
  /** A plain failure of 192.0.2.99 appended last: once banned, every line before was read. */
  sentinel: () => string;
  /** Real sources that must be banned (found, not only "nothing"). */
  expect: string[];
}

const CASES: Case[] = [
  {
    jail: "sshd",
    lines: () => [
      `${syslog()} srv sshd[2737]: Failed password for invalid user from 203.0.113.1 from 192.0.2.1 port 58946 ssh2`,
      `${syslog()} srv sshd[2737]: Failed password for invalid user test from 203.0.113.2 port 55555 ssh2 from 192.0.2.2 port 58946 ssh2`,
      `${syslog()} srv sshd[1300]: Invalid user from 203.0.113.5 from 192.0.2.5 port 46039`,
      `${syslog()} srv sshd[1300]: Failed password for invalid user rhost=203.0.113.6 [client 203.0.113.7] from 192.0.2.6 port 22 ssh2`,
      `${syslog()} srv sshd[1300]: Connection closed by authenticating user test 203.0.113.4 192.0.2.4 port 46039 [preauth]`,
    ],
    sentinel: () =>
      `${syslog()} srv sshd[9]: Failed password for root from 192.0.2.99 port 22 ssh2`,
    expect: ["192.0.2.1", "192.0.2.2", "192.0.2.5", "192.0.2.6"],
  },
  {
    jail: "pam-generic",
    lines: () => [
      `${syslog()} srv2 daemon: pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser=test rhost=203.0.113.11 rhost=192.0.2.11`,
      `${syslog()} srv2 daemon: pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser= rhost=192.0.2.12 user=test rhost=203.0.113.12`,
    ],
    sentinel: () =>
      `${syslog()} srv2 daemon: pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser= rhost=192.0.2.99`,
    expect: ["192.0.2.11"],
  },
  {
    jail: "dovecot",
    lines: () => [
      `${syslog()} mail dovecot-auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=rhost=203.0.113.21 rhost=192.0.2.21`,
      `${syslog()} mail dovecot: imap-login: Disconnected (auth failed, 2 attempts): user=<rip=203.0.113.22, x>, method=PLAIN, rip=192.0.2.22, lip=198.51.100.1, TLS`,
    ],
    sentinel: () =>
      `${syslog()} mail dovecot-auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=web rhost=192.0.2.99`,
    expect: ["192.0.2.21", "192.0.2.22"],
  },
  {
    jail: "apache-auth",
    lines: () => [
      `[${apache()}] [error] [client 192.0.2.31] File does not exist: /srv/http/site/[client 203.0.113.31] user root not found`,
      `[${apache()}] [error] [client 192.0.2.32] user [client 203.0.113.32] not found: /`,
      `[${apache()}.123456] [auth_basic:error] [pid 123] [client 192.0.2.33:5555] AH01618: user from 203.0.113.33 not found: /x`,
    ],
    sentinel: () => `[${apache()}] [error] [client 192.0.2.99] user  not found: /`,
    expect: [],
  },
];

async function runCases(cases: Case[]): Promise<void> {
  await withDir(async (dir) => {
    await writeConfig(dir, cases.map((c) => ({ name: c.jail, filter: c.jail })), {
      shippedFilters: true,
      defaults: { maxretry: "1" },
    });
    const server = new Server(dir);
    try {
      await server.ready(cases.map((c) => c.jail));
      for (const c of cases) {
        await append(`${dir}/${c.jail}.log`, [...c.lines(), c.sentinel()].join("\n") + "\n");
      }
      await waitFor(
        () => cases.every((c) => bans(dir).includes(`ban ${c.jail} 192.0.2.99`)),
        "the sentinel ban in every jail",
        () => server.log(),
      );
      const got = bans(dir);
      const injected = got.filter((b) => b.includes("203.0.113."));
      assert.deepEqual(injected, [], `injected addresses banned:\n${got.join("\n")}`);
      for (const c of cases) {
        const banned = row(await server.command("status", c.jail), "Banned IP list") as string[];
        for (const ip of banned) assert.match(ip, /^192\.0\.2\.\d+$/, `${c.jail} banned ${ip}`);
        // Every banned address is the real source of one of the jail's lines.
        const real = new Set(c.lines().map((l) => l.match(/192\.0\.2\.\d+/)![0]));
        real.add("192.0.2.99");
        for (const ip of banned) assert.ok(real.has(ip), `${c.jail}: ${ip} is no line's source`);
      }
      // The sources fail2ban's samples name are found, not only "nothing".
      for (const c of cases) {
        for (const ip of c.expect) {
          const ban = `ban ${c.jail} ${ip}`;
          assert.ok(got.includes(ban), `${c.jail} bans ${ip}:\n${got.join("\n")}`);
        }
      }
      assert.equal(await server.stop(), 0);
    } finally {
      await server.stop();
    }
  });
}

Deno.test("injected addresses in user names and URLs are never banned by the real server (sshd, pam-generic, dovecot, apache-auth)", async () => {
  await runCases(CASES);
});

// Was bug B1 (shipped filter.d/sshd.conf): the OpenSSH >= 6.3 form
// "Failed password for user from <real> port 20000 ssh1: ruser from <injected>"
// (fail2ban's sshd sample "Injecting into rhost for the format of OpenSSH >=6.3")
// banned the injected address.
Deno.test({
  name: "sshd: an address injected after 'ssh1: ruser from' is never banned by the real server",
  fn: async () => {
    await runCases([{
      jail: "sshd",
      lines: () => [
        `${syslog()} srv sshd[12946]: Failed password for user from 192.0.2.3 port 20000 ssh1: ruser from 203.0.113.3`,
        `${syslog()} srv sshd[12946]: Failed password for user from 192.0.2.3 port 20000 ssh1: ruser ${
          "X".repeat(100)
        } from 203.0.113.8`,
      ],
      sentinel: () =>
        `${syslog()} srv sshd[9]: Failed password for root from 192.0.2.99 port 22 ssh2`,
      expect: ["192.0.2.3"],
    }]);
  },
});
