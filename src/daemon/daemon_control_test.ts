/**
 * The Daemon's control-plane members added for fail2ban-client's full
 * command set (`add`, `idle`, `attempt`, `banip --with-time`, `set db*`),
 * with fake workers, executor, ban managers and database.
 */

import assert from "node:assert/strict";
import type { JailSpec, ServerSpec } from "../config/types.ts";
import type { BanRequest, BanTicket, FromWorker, LogPosition, ToWorker } from "../ipc/messages.ts";
import { MemoryLogger } from "../log/types.ts";
import { newJailSpec } from "../server/setting_commands.ts";
import { ManualClock } from "../util/clock.ts";
import { Daemon } from "./daemon.ts";
import type { BanDatabasePort, BanManagerPort } from "./ports.ts";
import type { WorkerHandle } from "./supervisor.ts";

const T0 = 1_700_000_000;

class Bans implements BanManagerPort {
  readonly map = new Map<string, BanTicket>();
  totalBanned = 0;
  constructor(readonly banTime: number) {}
  createTicket(r: BanRequest): BanTicket {
    return { ...r, banTime: this.banTime, banCount: 0 };
  }
  addBan(t: BanTicket): boolean {
    if (this.map.has(t.fid)) return false;
    this.map.set(t.fid, t);
    this.totalBanned++;
    return true;
  }
  removeBan(fid: string) {
    return this.map.delete(fid);
  }
  isBanned(fid: string) {
    return this.map.has(fid);
  }
  getBan(fid: string) {
    return this.map.get(fid);
  }
  bans() {
    return this.map.values();
  }
  get currentlyBanned() {
    return this.map.size;
  }
  nextUnbanTime(): number | null {
    return null;
  }
  popExpired(): BanTicket[] {
    return [];
  }
}

class Db implements BanDatabasePort {
  added: BanTicket[] = [];
  closed = false;
  constructor(readonly file: string) {}
  addBan(t: BanTicket) {
    this.added.push(t);
  }
  removeBan() {}
  currentBans() {
    return [];
  }
  banHistory() {
    return [];
  }
  savePositions() {}
  loadPositions(): LogPosition[] {
    return [];
  }
  purge() {}
  close() {
    this.closed = true;
  }
}

class Worker implements WorkerHandle {
  onmessage: ((event: MessageEvent<FromWorker>) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  posted: ToWorker[] = [];
  terminated = false;
  constructor(readonly jail: string) {}
  postMessage(m: ToWorker) {
    this.posted.push(m);
    if (m.type === "stop") queueMicrotask(() => this.emit({ type: "stopped", jail: this.jail }));
    if (m.type === "ping") queueMicrotask(() => this.emit({ type: "pong", seq: m.seq }));
  }
  emit(m: FromWorker) {
    this.onmessage?.({ data: m } as MessageEvent<FromWorker>);
  }
  terminate() {
    this.terminated = true;
  }
}

const SERVER: ServerSpec = {
  loglevel: "INFO",
  logtarget: "STDERR",
  syslogsocket: "auto",
  socket: "/run/f2b.sock",
  pidfile: "/run/f2b.pid",
  dbfile: "/var/lib/f2b/first.sqlite3",
  dbpurgeage: 86400,
  dbmaxmatches: 2,
  allowipv6: "auto",
};

function setup(specs: JailSpec[]) {
  const clock = new ManualClock(T0);
  const calls: string[] = [];
  const workers: Worker[] = [];
  const opened: Db[] = [];
  const db = new Db(SERVER.dbfile);
  const daemon = new Daemon({
    loadJails: () => specs,
    newBanManager: (s) => new Bans(s.bantime),
    executor: {
      startJail: (j) => void calls.push(`start ${j}`),
      stopJail: (j) => void calls.push(`stop ${j}`),
      ban: (t) => Promise.resolve(calls.push(`ban ${t.jail} ${t.fid}`) > 0),
      unban: (t) => Promise.resolve(calls.push(`unban ${t.jail} ${t.fid}`) > 0),
    },
    db,
    logger: new MemoryLogger(),
    clock,
    exec: () => Promise.resolve({ code: 1, stderr: "" }),
    serverSpec: SERVER,
    openDatabase: (file) => {
      const d = new Db(file);
      opened.push(d);
      return d;
    },
    workerFactory: (j) => {
      const w = new Worker(j);
      workers.push(w);
      return w;
    },
    heartbeatInterval: 3_600_000,
  });
  const worker = (j: string) => workers.filter((w) => w.jail === j).at(-1);
  return { clock, calls, workers, worker, db, opened, daemon };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("Daemon.addJail registers a jail that set changes and start runs", async () => {
  const t = setup([]);
  try {
    await t.daemon.start();
    t.daemon.addJail(newJailSpec("gamma", "polling"));
    assert.deepEqual(t.daemon.jailNames(), ["gamma"]);
    assert.throws(() => t.daemon.addJail(newJailSpec("gamma", "polling")), /already exists/);
    assert.equal(t.daemon.jailStatus("gamma").currentlyBanned, 0);
    assert.equal(t.workers.length, 0, "no worker before start");
    await t.daemon.updateJail("gamma", { ...t.daemon.jailSpec("gamma"), maxretry: 1, bantime: 60 });
    assert.equal(t.workers.length, 0);
    await t.daemon.startJail("gamma");
    assert.deepEqual(t.calls, ["start gamma"]);
    const start = t.worker("gamma")!.posted[0];
    assert.equal(start?.type === "start" && start.spec.maxretry, 1);
    await assert.rejects(t.daemon.startJail("gamma"), /already running/);
    assert.equal(t.daemon.banIp("gamma", "192.0.2.1"), true);
    assert.equal(t.daemon.banTickets("gamma")[0]!.banTime, 60);
    await t.daemon.stopJail("gamma");
    assert.deepEqual(t.daemon.jailNames(), []);
    // A jail added and stopped before it started runs nothing.
    t.daemon.addJail(newJailSpec("delta", "auto"));
    await t.daemon.stopJail("delta");
    assert.ok(!t.calls.includes("stop delta"));
  } finally {
    await t.daemon.stop();
  }
});

Deno.test("Daemon.setIdle stops the worker and resumes it with the latest spec", async () => {
  const t = setup([newJailSpec("alpha", "polling")]);
  try {
    await t.daemon.start();
    const first = t.worker("alpha")!;
    await t.daemon.setIdle("alpha", true);
    assert.equal(first.terminated, true);
    await t.daemon.updateJail("alpha", { ...t.daemon.jailSpec("alpha"), maxretry: 9 });
    assert.equal(t.workers.length, 1, "no worker while idle");
    assert.equal(t.daemon.banIp("alpha", "192.0.2.7"), true, "banip works while idle");
    await t.daemon.setIdle("alpha", false);
    const second = t.worker("alpha")!;
    assert.notEqual(second, first);
    const start = second.posted[0];
    assert.equal(start?.type === "start" && start.spec.maxretry, 9);
  } finally {
    await t.daemon.stop();
  }
});

Deno.test("Daemon.addAttempt hands attempts to the worker, which counts them with the log's", async () => {
  const t = setup([{ ...newJailSpec("alpha", "polling"), maxretry: 3 }]);
  try {
    await t.daemon.start();
    const w = t.worker("alpha")!;
    // The worker (a fake here) answers: its ban request is in when addAttempt resolves.
    const onAttempt = w.postMessage.bind(w);
    w.postMessage = (m: ToWorker) => {
      onAttempt(m);
      if (m.type === "attempt" && m.attempts === 2) {
        w.emit({
          type: "ban",
          request: {
            jail: "alpha",
            fid: m.fid,
            family: m.family,
            failures: 3,
            time: m.time,
            matches: m.matches,
            data: {},
          },
        });
      }
    };
    await t.daemon.addAttempt("alpha", "192.0.2.50", []);
    await t.daemon.addAttempt("alpha", "192.0.2.50", ["line one", "line two"]);
    assert.deepEqual(
      w.posted.filter((m) => m.type === "attempt"),
      [
        { type: "attempt", fid: "192.0.2.50", family: "inet4", time: T0, matches: [], attempts: 1 },
        {
          type: "attempt",
          fid: "192.0.2.50",
          family: "inet4",
          time: T0,
          matches: ["line one", "line two"],
          attempts: 2,
        },
      ],
    );
    assert.deepEqual(t.daemon.bannedIps("alpha"), ["192.0.2.50"]);
    await tick();
    assert.ok(t.calls.includes("ban alpha 192.0.2.50"));
  } finally {
    await t.daemon.stop();
  }
});

Deno.test("Daemon.addAttempt counts on the main thread while the jail has no worker (idle)", async () => {
  const t = setup([{ ...newJailSpec("alpha", "polling"), maxretry: 3 }]);
  try {
    await t.daemon.start();
    await t.daemon.setIdle("alpha", true);
    await t.daemon.addAttempt("alpha", "192.0.2.50", []);
    assert.deepEqual(t.daemon.bannedIps("alpha"), []);
    await t.daemon.addAttempt("alpha", "192.0.2.50", ["line one", "line two"]);
    await tick();
    assert.deepEqual(t.daemon.bannedIps("alpha"), ["192.0.2.50"]);
    assert.ok(t.calls.includes("ban alpha 192.0.2.50"));
    // dbmaxmatches (2) caps the matches stored.
    assert.deepEqual(t.db.added[0]!.matches, ["line one", "line two"]);
    t.daemon.setDatabaseOption("dbmaxmatches", 1);
    t.daemon.banIp("alpha", "192.0.2.51");
    await t.daemon.addAttempt("alpha", "192.0.2.52", ["a", "b", "c"]);
    await tick();
    assert.deepEqual(t.db.added.at(-1)!.matches, ["c"]);
  } finally {
    await t.daemon.stop();
  }
});

Deno.test("Daemon.setDatabaseOption changes purge age and matches; the file only without jails", async () => {
  const t = setup([newJailSpec("alpha", "polling")]);
  try {
    await t.daemon.start();
    t.daemon.setDatabaseOption("dbpurgeage", 3600);
    assert.equal(t.daemon.serverSpec().dbpurgeage, 3600);
    t.daemon.setDatabaseOption("dbmaxmatches", 7);
    assert.equal(t.daemon.serverSpec().dbmaxmatches, 7);
    assert.throws(
      () => t.daemon.setDatabaseOption("dbfile", "/tmp/other.sqlite3"),
      /Cannot change database when there are jails present/,
    );
    await t.daemon.stopJail("alpha");
    t.daemon.setDatabaseOption("dbfile", "/tmp/other.sqlite3");
    assert.equal(t.db.closed, true);
    assert.equal(t.opened[0]?.file, "/tmp/other.sqlite3");
    assert.equal(t.daemon.serverSpec().dbfile, "/tmp/other.sqlite3");
    t.daemon.setDatabaseOption("dbfile", "None");
    assert.equal(t.opened[0]!.closed, true);
    assert.equal(t.daemon.serverSpec().dbfile, "None");
  } finally {
    await t.daemon.stop();
  }
});
