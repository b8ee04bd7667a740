/**
 * SECURITY.md item 6 through the real server: IPv4-mapped, compressed,
 * expanded and upper-case IPv6 forms of one address count as one key and
 * reach the action in canonical form; an IPv4 address with leading zeros is
 * never handed to an action as written (iptables would read it as octal);
 * a host name is resolved only as `usedns` allows (only `localhost` here, from
 * /etc/hosts: no traffic leaves loopback).
 */

import assert from "node:assert/strict";
import {
  append,
  bans,
  fail,
  row,
  Server,
  waitFor,
  withDir,
  writeConfig,
} from "./security_harness.ts";

Deno.test("one canonical key per address: IPv4-mapped, compressed, expanded and upper-case forms make one ban each", async () => {
  await withDir(async (dir) => {
    await writeConfig(dir, [{ name: "v6" }]);
    const server = new Server(dir);
    try {
      await server.ready(["v6"]);
      await append(
        `${dir}/v6.log`,
        fail("::ffff:192.0.2.1") + fail("192.0.2.1") +
          fail("2001:0db8:0000::0001") + fail("2001:db8::1") +
          fail("2001:DB8::2") + fail("2001:db8:0:0:0:0:0:2") +
          fail("192.0.2.99") + fail("192.0.2.99"),
      );
      await waitFor(() => bans(dir).includes("ban v6 192.0.2.99"), "sentinel", () => server.log());
      await waitFor(() => bans(dir).length >= 4, "four bans", () => bans(dir).join("\n"));
      assert.deepEqual(bans(dir).sort(), [
        "ban v6 192.0.2.1",
        "ban v6 192.0.2.99",
        "ban v6 2001:db8::1",
        "ban v6 2001:db8::2",
      ]);
      assert.equal(await server.stop(), 0);
    } finally {
      await server.stop();
    }
  });
});

Deno.test("an IPv4 address with leading zeros never reaches an action as written", async () => {
  await withDir(async (dir) => {
    await writeConfig(dir, [{ name: "zeros" }]);
    const server = new Server(dir);
    try {
      await server.ready(["zeros"]);
      await append(
        `${dir}/zeros.log`,
        fail("192.030.0.6").repeat(2) + fail("192.0.2.99").repeat(2),
      );
      await waitFor(
        () => bans(dir).includes("ban zeros 192.0.2.99"),
        "sentinel",
        () => server.log(),
      );
      const got = bans(dir);
      // Banned as the decimal address, or not at all; never the ambiguous text, never octal.
      assert.ok(!got.includes("ban zeros 192.030.0.6"), got.join("\n"));
      assert.ok(!got.includes("ban zeros 192.24.0.6"), got.join("\n"));
      assert.ok(got.every((b) => ["ban zeros 192.0.2.99", "ban zeros 192.30.0.6"].includes(b)));
      assert.equal(await server.stop(), 0);
    } finally {
      await server.stop();
    }
  });
});

Deno.test("a host name in the host group is resolved only as usedns allows", async () => {
  await withDir(async (dir) => {
    await writeConfig(dir, [
      { name: "nodns", extra: "usedns = no" },
      { name: "dns", extra: "usedns = yes" },
    ]);
    const server = new Server(dir);
    try {
      await server.ready(["nodns", "dns"]);
      const lines = fail("localhost").repeat(2) + fail("192.0.2.99").repeat(2);
      await append(`${dir}/nodns.log`, lines);
      await append(`${dir}/dns.log`, lines);
      await waitFor(
        () =>
          bans(dir).includes("ban nodns 192.0.2.99") && bans(dir).includes("ban dns 192.0.2.99"),
        "sentinels",
        () => server.log(),
      );
      await waitFor(
        () => bans(dir).some((b) => b.startsWith("ban dns 127.")),
        "the resolved ban",
        () => server.log(),
      );
      assert.ok(
        !bans(dir).some((b) => /^ban nodns (127\.|::1|localhost)/.test(b)),
        bans(dir).join("\n"),
      );
      assert.deepEqual(row(await server.command("status", "nodns"), "Banned IP list"), [
        "192.0.2.99",
      ]);
      assert.equal(await server.stop(), 0);
    } finally {
      await server.stop();
    }
  });
});
