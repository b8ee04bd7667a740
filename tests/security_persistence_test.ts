/**
 * SECURITY.md items 17 and 18 with the real server and real SQLite: kill -9
 * at pseudo-random moments over several runs (bans restored, manual unbans
 * kept, no ban applied twice within a run), and a corrupt or unusable
 * database at start (a loud error, one backup, banning goes on).
 */

import assert from "node:assert/strict";
import {
  append,
  bans,
  fail,
  lines,
  row,
  Server,
  sleep,
  waitFor,
  withDir,
  writeConfig,
} from "./security_harness.ts";

/** A small deterministic generator, so a failure can be replayed. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** The first ban applied twice in one run without an unban between, or null. */
function duplicateBan(actions: string[]): string | null {
  const on = new Set<string>();
  for (const a of actions) {
    const [verb, jail, ip] = a.split(" ");
    const key = `${jail} ${ip}`;
    if (verb === "ban") {
      if (on.has(key)) return a;
      on.add(key);
    } else if (verb === "unban") on.delete(key);
    else if (verb === "stop") on.clear();
  }
  return null;
}

Deno.test("kill -9 at random moments over six runs: bans restored, manual unbans kept, no ban applied twice in a run", async () => {
  await withDir(async (dir) => {
    const seed = Number(Deno.env.get("F2B_SEED") ?? 20261125);
    const random = lcg(seed);
    await writeConfig(dir, [{ name: "long", extra: "bantime = 1h" }]);
    const attacked: string[] = [];
    const unbanned: string[] = [];
    const runs: string[][] = [];
    const ROUNDS = 6;
    for (let r = 0; r < ROUNDS; r++) {
      const server = new Server(dir);
      try {
        await server.ready(["long"]);
        const fresh = [1, 2, 3, 4].map((i) => `192.0.2.${r * 10 + i}`);
        await append(`${dir}/long.log`, fresh.map((ip) => fail(ip).repeat(2)).join(""));
        attacked.push(...fresh);
        if (r > 0) {
          // Unban one address of the round before, once it is banned.
          const victim = `192.0.2.${(r - 1) * 10 + 1}`;
          await waitFor(
            async () =>
              (row(await server.command("status", "long"), "Banned IP list") as string[])
                .includes(victim),
            `${victim} banned`,
            () => server.log(),
          );
          await server.command("set", "long", "unbanip", victim);
          unbanned.push(victim);
        }
        // Then kill -9 at some moment: before, during or after the new bans.
        await sleep(Math.floor(random() * 700));
      } finally {
        await server.kill9();
      }
      runs.push(lines(`${dir}/actions.txt`));
      await Deno.remove(`${dir}/actions.txt`).catch(() => {});
    }
    const server = new Server(dir);
    try {
      await server.ready(["long"]);
      const want = attacked.filter((ip) => !unbanned.includes(ip)).sort();
      let banned: string[] = [];
      await waitFor(
        async () => {
          banned = (row(await server.command("status", "long"), "Banned IP list") as string[])
            .slice().sort();
          return JSON.stringify(banned) === JSON.stringify(want);
        },
        "every attacked address banned but the unbanned ones",
        () => `seed ${seed}\nbanned ${banned.join(" ")}\nwant   ${want.join(" ")}\n${server.log()}`,
      );
      // The rules the final run applied: each once.
      await waitFor(() => bans(dir).length >= want.length, "final bans applied");
      runs.push(lines(`${dir}/actions.txt`));
      for (const [i, run] of runs.entries()) {
        assert.equal(duplicateBan(run), null, `seed ${seed}, run ${i}:\n${run.join("\n")}`);
      }
      assert.deepEqual(bans(dir).map((b) => b.split(" ")[2]).sort(), want);
      assert.equal(await server.stop(), 0);
    } finally {
      await server.stop();
    }
  });
});

Deno.test("a corrupt database at start of the real server: a loud error, one backup, a fresh database, banning goes on", async () => {
  await withDir(async (dir) => {
    await writeConfig(dir, [{ name: "web" }]);
    // A page-sized header of garbage after SQLite's magic string.
    const junk = new Uint8Array(8192).map((_, i) => (i * 7919) & 255);
    junk.set(new TextEncoder().encode("SQLite format 3\0"));
    await Deno.writeFile(`${dir}/f2b.sqlite3`, junk);
    let server = new Server(dir);
    try {
      await server.ready(["web"]);
      assert.match(server.log(), /ERROR[^\n]*f2b\.sqlite3[^\n]*(unusable|corrupt)/i);
      const backups = [...Deno.readDirSync(dir)].filter((e) =>
        e.name.startsWith("f2b.sqlite3.") && !/-(wal|shm|journal)$/.test(e.name)
      );
      assert.equal(backups.length, 1, backups.map((b) => b.name).join(" "));
      await append(`${dir}/web.log`, fail("192.0.2.1").repeat(2));
      await waitFor(() => bans(dir).includes("ban web 192.0.2.1"), "ban", () => server.log());
      assert.equal(await server.stop(), 0);
      // The fresh database kept the ban.
      server = new Server(dir);
      await server.ready(["web"]);
      assert.deepEqual(row(await server.command("status", "web"), "Banned IP list"), [
        "192.0.2.1",
      ]);
      assert.doesNotMatch(server.log().split("Starting f2b").at(-1)!, /ERROR/);
      assert.equal(await server.stop(), 0);
    } finally {
      await server.stop();
    }
  });
});

Deno.test("a database path that cannot be created: the real server logs an error and keeps banning in memory", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/not-a-dir`, "");
    await writeConfig(dir, [{ name: "web" }], { dbfile: `${dir}/not-a-dir/f2b.sqlite3` });
    const server = new Server(dir);
    try {
      await server.ready(["web"]);
      assert.match(server.log(), /ERROR[^\n]*not-a-dir\/f2b\.sqlite3/);
      await append(`${dir}/web.log`, fail("192.0.2.1").repeat(2));
      await waitFor(() => bans(dir).includes("ban web 192.0.2.1"), "ban", () => server.log());
      assert.deepEqual(row(await server.command("status", "web"), "Banned IP list"), [
        "192.0.2.1",
      ]);
      assert.equal(await server.stop(), 0);
    } finally {
      await server.stop();
    }
  });
});
