/**
 * SECURITY.md item 11 through the real server: a 2 GiB log of old failures
 * with a few recent ones at its end. The jail starts reading near now -
 * findtime (its logged start position is past the old part) and counts only
 * the recent failures.
 */

import assert from "node:assert/strict";
import { append, fail, row, Server, waitFor, withDir, writeConfig } from "./security_harness.ts";

Deno.test("a 2 GiB log at first start: the real server seeks to now - findtime instead of reading it all", async () => {
  await withDir(async (dir) => {
    await writeConfig(dir, [{ name: "big" }], { defaults: { maxretry: "1000" } });
    const log = `${dir}/big.log`;
    // 1 MiB of failures from two days ago, written 2048 times.
    const old = new Date(Date.now() - 2 * 86400_000);
    let chunk = "";
    for (let i = 0; chunk.length < 1024 * 1024; i++) {
      chunk += fail(`10.1.${(i >> 8) & 255}.${i & 255}`, "u", old);
    }
    const bytes = new TextEncoder().encode(chunk);
    const f = await Deno.open(log, { write: true, create: true, truncate: true });
    try {
      for (let i = 0; i < 2048; i++) await f.write(bytes);
    } finally {
      f.close();
    }
    const oldSize = (await Deno.stat(log)).size;
    assert.ok(oldSize >= 2 ** 31);
    await append(log, fail("192.0.2.1").repeat(3) + fail("192.0.2.2").repeat(2));
    const server = new Server(dir);
    try {
      await server.ready(["big"]);
      await waitFor(
        async () => row(await server.command("status", "big"), "Total failed") === 5,
        "the five recent failures",
        () => server.log(),
      );
      const m = /\[big\] Added logfile: "[^"]*" \(pos = (\d+)/.exec(server.log());
      assert.ok(m, server.log());
      assert.ok(Number(m[1]) >= oldSize, `started at ${m[1]} of ${oldSize}`);
      assert.equal(row(await server.command("status", "big"), "Currently failed"), 2);
      assert.equal(await server.stop(), 0);
    } finally {
      await server.stop();
    }
  });
});
