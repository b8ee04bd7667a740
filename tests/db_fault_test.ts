/**
 * SECURITY.md item 18: a database file that is truncated, corrupt, not a
 * database, locked or read-only is detected at open, one backup is kept, a
 * fresh database is made with a loud error, and when no file can be used the
 * daemon keeps banning in memory. Real files, real SQLite.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { BanDatabase } from "../src/db/ban_database.ts";
import type { BanTicket } from "../src/ipc/messages.ts";
import { MemoryLogger } from "../src/log/types.ts";
import { ManualClock } from "../src/util/clock.ts";

const NOW = 1124013600;

function ticket(fid: string): BanTicket {
  return {
    jail: "sshd",
    fid,
    family: "inet4",
    time: NOW,
    banTime: 600,
    banCount: 0,
    failures: 5,
    matches: ["x".repeat(500)],
    data: {},
  };
}

/** A real database with enough bans to span many pages. */
function makeDatabase(path: string): void {
  const db = BanDatabase.open(path, { logger: new MemoryLogger(), clock: new ManualClock(NOW) });
  for (let i = 0; i < 200; i++) db.addBan(ticket(`10.0.${i >> 8}.${i & 255}`));
  db.close();
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Opens `path`, asserts it was replaced by a fresh, working database with a backup. */
async function assertReplaced(dir: string, path: string, clockAt = NOW + 5): Promise<void> {
  const logger = new MemoryLogger();
  const db = BanDatabase.open(path, { logger, clock: new ManualClock(clockAt), busyTimeout: 100 });
  try {
    assert.equal(db.inMemory, false);
    assert.equal(db.backupPath, `${path}.bad-${clockAt}`);
    const errors = logger.messages("ERROR");
    assert.equal(errors.length, 1, JSON.stringify(logger.records));
    assert.match(errors[0]!, new RegExp(`Database "${path}" was unusable`));
    assert.match(errors[0]!, /moved it to ".*\.bad-\d+" and started a fresh database/);
    await Deno.stat(`${path}.bad-${clockAt}`);
    // The fresh database works.
    assert.deepEqual(db.currentBans(NOW), []);
    assert.ok(db.addBan(ticket("192.0.2.1")));
    assert.deepEqual(db.currentBans(NOW).map((b) => b.fid), ["192.0.2.1"]);
    const backups = [...Deno.readDirSync(dir)].filter((e) =>
      e.name.includes(".bad-") && !/-wal$|-journal$/.test(e.name)
    );
    assert.equal(backups.length, 1, "one backup kept");
  } finally {
    db.close();
  }
}

Deno.test("a truncated database file is moved aside and replaced", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/f2b.sqlite3`;
    makeDatabase(path);
    const size = (await Deno.stat(path)).size;
    assert.ok(size > 16384);
    await Deno.truncate(path, Math.floor(size / 3));
    await assertReplaced(dir, path);
  });
});

Deno.test("a corrupt database file is moved aside and replaced", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/f2b.sqlite3`;
    makeDatabase(path);
    const bytes = await Deno.readFile(path);
    // Trash every page after the schema page.
    for (let i = 4096; i < bytes.length; i++) bytes[i] = (i * 7) & 255;
    await Deno.writeFile(path, bytes);
    await assertReplaced(dir, path);
  });
});

Deno.test("a file that is not a database is moved aside and replaced; only one backup is kept", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/f2b.sqlite3`;
    await Deno.writeTextFile(`${path}.bad-1`, "an older backup");
    await Deno.writeTextFile(path, "this is a text file, not SQLite\n".repeat(100));
    await assertReplaced(dir, path);
    await assert.rejects(Deno.stat(`${path}.bad-1`), Deno.errors.NotFound);
    assert.equal((await Deno.readTextFile(`${path}.bad-${NOW + 5}`)).slice(0, 9), "this is a");
  });
});

Deno.test("a database locked by another connection is moved aside and replaced", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/f2b.sqlite3`;
    makeDatabase(path);
    const holder = new DatabaseSync(path);
    holder.exec("PRAGMA locking_mode = EXCLUSIVE");
    holder.exec("BEGIN EXCLUSIVE");
    try {
      await assertReplaced(dir, path);
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
    }
  });
});

Deno.test("a read-only database file that cannot be replaced falls back to memory and keeps banning", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/f2b.sqlite3`;
    makeDatabase(path);
    // Root ignores file modes: make the file immutable instead (ext4 and most local file systems).
    const root = Deno.uid() === 0;
    if (root) {
      const r = await new Deno.Command("chattr", { args: ["+i", path], stderr: "piped" }).output();
      assert.ok(r.success, `chattr +i failed: ${new TextDecoder().decode(r.stderr)}`);
    } else {
      await Deno.chmod(path, 0o400);
      await Deno.chmod(dir, 0o500);
    }
    const logger = new MemoryLogger();
    try {
      const db = BanDatabase.open(path, { logger, clock: new ManualClock(NOW), busyTimeout: 100 });
      try {
        assert.equal(db.inMemory, true);
        const errors = logger.messages("ERROR");
        assert.equal(errors.length, 1);
        assert.match(errors[0]!, new RegExp(`Database "${path}" is unusable`));
        assert.match(errors[0]!, /keeping bans in memory only/);
        assert.ok(db.addBan(ticket("192.0.2.1")));
        assert.deepEqual(db.currentBans(NOW).map((b) => b.fid), ["192.0.2.1"]);
      } finally {
        db.close();
      }
    } finally {
      if (root) await new Deno.Command("chattr", { args: ["-i", path] }).output();
      else await Deno.chmod(dir, 0o700);
    }
    // The file itself was left untouched.
    const again = BanDatabase.open(path, {
      logger: new MemoryLogger(),
      clock: new ManualClock(NOW),
    });
    assert.equal(again.currentBans(NOW).length, 200);
    again.close();
  });
});

Deno.test("a database in a directory that cannot be created falls back to memory", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "");
    const logger = new MemoryLogger();
    const db = BanDatabase.open(`${dir}/file/sub/f2b.sqlite3`, {
      logger,
      clock: new ManualClock(NOW),
    });
    try {
      assert.equal(db.inMemory, true);
      assert.equal(logger.messages("ERROR").length, 1);
      assert.ok(db.addBan(ticket("192.0.2.1")));
    } finally {
      db.close();
    }
  });
});

Deno.test("bans committed before kill -9 are restored with their remaining time; manual unbans stay unbanned", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/f2b.sqlite3`;
    // A child process records bans, unbans one, and is killed -9 without closing.
    const script = `
      import { BanDatabase } from ${
      JSON.stringify(new URL("../src/db/ban_database.ts", import.meta.url).href)
    };
      const db = BanDatabase.open(${
      JSON.stringify(path)
    }, { logger: { log() {} }, clock: { now: () => ${NOW} } });
      const t = (fid, time, banTime) => ({ jail: "sshd", fid, family: "inet4", time, banTime, banCount: 0, failures: 3, matches: [], data: {} });
      db.addBan(t("192.0.2.1", ${NOW}, 600));
      db.addBan(t("192.0.2.2", ${NOW - 900}, 600));
      db.addBan(t("192.0.2.3", ${NOW}, -1));
      db.addBan(t("192.0.2.4", ${NOW}, 600));
      db.removeBan("sshd", "192.0.2.4");
      console.log("committed");
      setInterval(() => {}, 1000);
    `;
    await Deno.writeTextFile(`${dir}/child.mjs`, script);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${dir}/child.mjs`],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.getReader();
    const { value } = await reader.read();
    assert.match(new TextDecoder().decode(value), /committed/);
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel();
    const logger = new MemoryLogger();
    const db = BanDatabase.open(path, { logger, clock: new ManualClock(NOW + 100) });
    try {
      assert.deepEqual(logger.messages("ERROR"), []);
      const bans = db.currentBans(NOW + 100);
      assert.deepEqual(bans.map((b) => [b.fid, b.time + b.banTime - (NOW + 100)]), [
        ["192.0.2.1", 500],
        ["192.0.2.3", -101], // permanent: banTime -1
      ]);
    } finally {
      db.close();
    }
  });
});
