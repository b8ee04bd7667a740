import assert from "node:assert/strict";
import type { BanTicket } from "../ipc/messages.ts";
import { MemoryLogger } from "../log/types.ts";
import { ManualClock } from "../util/clock.ts";
import { BanDatabase } from "./ban_database.ts";

const NOW = 1124013600;

function ticket(over: Partial<BanTicket> = {}): BanTicket {
  return {
    jail: "sshd",
    fid: "192.0.2.1",
    family: "inet4",
    time: NOW,
    banTime: 600,
    banCount: 0,
    failures: 5,
    matches: ["line 1", "line `2`"],
    data: { user: "root" },
    ...over,
  };
}

function open(path = ":memory:"): { db: BanDatabase; logger: MemoryLogger } {
  const logger = new MemoryLogger();
  return { db: BanDatabase.open(path, { logger, clock: new ManualClock(NOW) }), logger };
}

Deno.test("BanDatabase keeps bans in force and drops expired and removed ones", () => {
  const { db, logger } = open();
  try {
    assert.ok(db.addBan(ticket()));
    assert.ok(
      db.addBan(ticket({ fid: "2001:db8::1", family: "inet6", time: NOW + 1, banTime: -1 })),
    );
    assert.ok(db.addBan(ticket({ fid: "198.51.100.1", time: NOW - 1000, banTime: 600 })));
    assert.ok(db.addBan(ticket({ jail: "apache", fid: "user-x", family: null })));
    const bans = db.currentBans(NOW + 10);
    assert.deepEqual(bans.map((b) => b.fid), ["192.0.2.1", "user-x", "2001:db8::1"]);
    assert.deepEqual(bans[0], ticket());
    assert.equal(bans[2]?.banTime, -1);
    assert.deepEqual(db.currentBans(NOW + 700).map((b) => b.fid), ["2001:db8::1"]);
    assert.deepEqual(db.currentBans(NOW, "apache").map((b) => b.fid), ["user-x"]);
    assert.ok(db.removeBan("sshd", "192.0.2.1"));
    assert.deepEqual(db.currentBans(NOW).map((b) => b.fid), ["user-x", "2001:db8::1"]);
    assert.deepEqual(logger.messages("ERROR"), []);
  } finally {
    db.close();
  }
});

Deno.test("BanDatabase ban history counts bans per jail and over all jails, and survives purge", () => {
  const { db } = open();
  try {
    assert.deepEqual(db.banHistory("192.0.2.1", null), {
      banCount: 0,
      lastBanTime: null,
      lastBanDuration: null,
    });
    db.addBan(ticket({ time: NOW, banTime: 600, banCount: 0 }));
    db.removeBan("sshd", "192.0.2.1");
    db.addBan(ticket({ time: NOW + 1000, banTime: 1200, banCount: 1 }));
    db.addBan(ticket({ jail: "postfix", time: NOW + 2000, banTime: 300, banCount: 0 }));
    assert.deepEqual(db.banHistory("192.0.2.1", "sshd"), {
      banCount: 2,
      lastBanTime: NOW + 1000,
      lastBanDuration: 1200,
    });
    assert.deepEqual(db.banHistory("192.0.2.1", null), {
      banCount: 3,
      lastBanTime: NOW + 2000,
      lastBanDuration: 300,
    });
    assert.deepEqual(db.bansMerged("192.0.2.1", "postfix").failures, 5);
    assert.equal(db.bansMerged("192.0.2.1", null).matches.length, 6);
    // The first ban is older than the purge age: its history row goes, the count carries on.
    assert.ok(db.purge(NOW + 1500, 1000) >= 1);
    assert.equal(db.banHistory("192.0.2.1", "sshd").banCount, 2);
  } finally {
    db.close();
  }
});

Deno.test("BanDatabase saves log positions and journal cursors per jail", () => {
  const { db } = open();
  try {
    const pos = [{ path: "/var/log/auth.log", offset: 1234, firstLineHash: "abc" }];
    assert.ok(db.savePositions("sshd", pos));
    assert.deepEqual(db.loadPositions("sshd"), pos);
    assert.ok(db.savePositions("sshd", [{ path: "/var/log/b", offset: 1, firstLineHash: "x" }]));
    assert.deepEqual(db.loadPositions("sshd").map((p) => p.path), ["/var/log/b"]);
    assert.deepEqual(db.loadPositions("other"), []);
    assert.equal(db.loadCursor("sshd"), null);
    assert.ok(db.saveCursor("sshd", "s=1;i=2"));
    assert.equal(db.loadCursor("sshd"), "s=1;i=2");
  } finally {
    db.close();
  }
});

Deno.test("BanDatabase on disk: WAL, mode 0600, parent dir 0700, bans survive reopening", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/sub/dir/f2b.sqlite3`;
    const first = open(path);
    first.db.addBan(ticket());
    // No close: as after kill -9, the WAL holds the commit.
    const second = open(path);
    assert.deepEqual(second.db.currentBans(NOW).map((b) => b.fid), ["192.0.2.1"]);
    second.db.close();
    first.db.close();
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/sub/dir`)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(`${dir}/sub`)).mode! & 0o777, 0o700);
    const header = new Uint8Array(20);
    const f = await Deno.open(path);
    await f.read(header);
    f.close();
    assert.equal(header[18], 2, "WAL mode is recorded in the file header");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
