/**
 * SECURITY.md items 7 to 10 through the real server: copytruncate, rename
 * rotation with an unread tail, a log rewritten in place with the same first
 * line (a log that cycles), and log paths that are missing, broken symlinks
 * or deleted, while another jail goes on. Counts are exact: every failure
 * read once.
 */

import assert from "node:assert/strict";
import {
  append,
  bans,
  fail,
  row,
  Server,
  sleep,
  waitFor,
  withDir,
  writeConfig,
} from "./security_harness.ts";

const HEADER = "--- log opened by the test ---\n";

async function totalFailed(server: Server, jail: string): Promise<number> {
  return Number(row(await server.command("status", jail), "Total failed"));
}

async function waitTotal(server: Server, jail: string, n: number, what: string): Promise<void> {
  let got = -1;
  await waitFor(
    async () => (got = await totalFailed(server, jail)) >= n,
    what,
    () => `Total failed ${got}, want ${n}\n${server.log()}`,
  );
  // Settle for a few polls: a line read twice would show now.
  await sleep(1500);
  assert.equal(await totalFailed(server, jail), n, what);
}

const many = (ip: string, n: number) => fail(ip).repeat(n);

Deno.test("copytruncate, rename with an unread tail, and a log rewritten in place with the same first line: each failure counted once", async () => {
  await withDir(async (dir) => {
    const log = `${dir}/rot.log`;
    await writeConfig(dir, [{ name: "rot" }, { name: "other" }], {
      defaults: { maxretry: "1000" },
    });
    await Deno.writeTextFile(log, HEADER);
    const server = new Server(dir);
    try {
      await server.ready(["rot", "other"]);
      await waitFor(() => server.log().includes("[rot] Added logfile"), "tailing");
      await append(log, many("192.0.2.1", 3));
      await waitTotal(server, "rot", 3, "first lines");

      // copytruncate: copy, truncate in place, new lines.
      await Deno.copyFile(log, `${log}.1`);
      await Deno.truncate(log, 0);
      await append(log, HEADER + many("192.0.2.2", 2));
      await waitTotal(server, "rot", 5, "after copytruncate");

      // Rename rotation with lines written just before the rename.
      await append(log, many("192.0.2.3", 2));
      await Deno.rename(log, `${log}.2`);
      await Deno.writeTextFile(log, HEADER + many("192.0.2.4", 2));
      await waitTotal(server, "rot", 9, "after rename rotation");

      // The log cycles: rewritten in place from its start, same first line, longer than before.
      const f = await Deno.open(log, { write: true, truncate: true });
      await f.write(new TextEncoder().encode(HEADER + many("192.0.2.5", 5)));
      f.close();
      await waitTotal(server, "rot", 14, "after the log cycled");

      // The other jail was never disturbed.
      await append(`${dir}/other.log`, many("192.0.2.9", 2));
      await waitTotal(server, "other", 2, "other jail");
      assert.equal(await server.stop(), 0);
    } finally {
      await server.stop();
    }
  });
});

Deno.test("log paths missing, a broken symlink, or deleted: the jails start and wait, warn once, and read the files when they appear", async () => {
  await withDir(async (dir) => {
    await writeConfig(dir, [
      { name: "later", logpath: `${dir}/later.log` },
      { name: "linked", logpath: `${dir}/link.log` },
      { name: "gone" },
      { name: "calm" },
    ], { defaults: { maxretry: "2" } });
    await Deno.symlink(`${dir}/target.log`, `${dir}/link.log`);
    const server = new Server(dir);
    try {
      await server.ready(["later", "linked", "gone", "calm"]);
      await append(`${dir}/calm.log`, many("192.0.2.1", 2));
      await waitFor(
        () => bans(dir).includes("ban calm 192.0.2.1"),
        "calm bans",
        () => server.log(),
      );
      await sleep(1500);
      // Missing files: a warning each, once.
      for (const p of ["later.log", "link.log"]) {
        const n = server.log().split("\n").filter((l) => l.includes("WARNING") && l.includes(p))
          .length;
        assert.equal(n, 1, `one warning for ${p}:\n${server.log()}`);
      }
      await Deno.writeTextFile(`${dir}/later.log`, many("192.0.2.2", 2));
      await Deno.writeTextFile(`${dir}/target.log`, many("192.0.2.3", 2));
      await Deno.remove(`${dir}/gone.log`);
      await waitFor(
        () =>
          bans(dir).includes("ban later 192.0.2.2") && bans(dir).includes("ban linked 192.0.2.3"),
        "bans from the files that appeared",
        () => server.log(),
      );
      await sleep(1500);
      await Deno.writeTextFile(`${dir}/gone.log`, many("192.0.2.4", 2));
      await waitFor(
        () => bans(dir).includes("ban gone 192.0.2.4"),
        "ban from the re-created file",
        () => server.log(),
      );
      assert.equal(bans(dir).length, 4);
      assert.equal(await server.stop(), 0);
    } finally {
      await server.stop();
    }
  });
});
