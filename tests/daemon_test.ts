import assert from "node:assert/strict";
import type { ActionSpec, JailSpec } from "../src/config/types.ts";
import { Daemon, type DaemonOptions } from "../src/daemon/daemon.ts";
import type { ActionExecutorPort, BanDatabasePort, BanManagerPort } from "../src/daemon/ports.ts";
import type { WorkerHandle } from "../src/daemon/supervisor.ts";
import type {
  BanRequest,
  BanTicket,
  FromWorker,
  LogPosition,
  ToWorker,
} from "../src/ipc/messages.ts";
import { LineProgress } from "../src/jail/line_progress.ts";
import { MemoryLogger } from "../src/log/types.ts";
import { ManualClock } from "../src/util/clock.ts";
import { testJailSpec } from "./_jail_spec.ts";

const T0 = 1_700_000_000;

function jail(name: string, extra: Partial<JailSpec> = {}): JailSpec {
  return testJailSpec(name, { logpath: [`/tmp/${name}.log`], ...extra });
}

/** A minimal ban manager: fixed ban time, end times scanned (fine for a fake). */
class FakeBanManager implements BanManagerPort {
  readonly #bans = new Map<string, BanTicket>();
  readonly #banTime: number;
  totalBanned = 0;
  constructor(banTime: number) {
    this.#banTime = banTime;
  }
  createTicket(r: BanRequest): BanTicket {
    return { ...r, banTime: this.#banTime, banCount: 0 };
  }
  addBan(t: BanTicket): boolean {
    if (this.#bans.has(t.fid)) return false;
    this.#bans.set(t.fid, t);
    this.totalBanned++;
    return true;
  }
  removeBan(fid: string) {
    return this.#bans.delete(fid);
  }
  isBanned(fid: string) {
    return this.#bans.has(fid);
  }
  getBan(fid: string) {
    return this.#bans.get(fid);
  }
  bans() {
    return this.#bans.values();
  }
  get currentlyBanned() {
    return this.#bans.size;
  }
  nextUnbanTime(): number | null {
    let n: number | null = null;
    for (const t of this.#bans.values()) {
      if (t.banTime >= 0 && (n === null || t.time + t.banTime < n)) n = t.time + t.banTime;
    }
    return n;
  }
  popExpired(now: number): BanTicket[] {
    const out = [...this.#bans.values()].filter((t) => t.banTime >= 0 && t.time + t.banTime <= now);
    for (const t of out) this.#bans.delete(t.fid);
    return out;
  }
}

class FakeExecutor implements ActionExecutorPort {
  calls: string[] = [];
  failBans = 0;
  startJail(jail: string, _actions: ActionSpec[]) {
    this.calls.push(`start ${jail}`);
  }
  stopJail(jail: string) {
    this.calls.push(`stop ${jail}`);
  }
  ban(t: BanTicket): Promise<boolean> {
    if (this.failBans > 0) {
      this.failBans--;
      this.calls.push(`ban-failed ${t.jail} ${t.fid}`);
      return Promise.resolve(false);
    }
    this.calls.push(`ban ${t.jail} ${t.fid}`);
    return Promise.resolve(true);
  }
  unban(t: BanTicket): Promise<boolean> {
    this.calls.push(`unban ${t.jail} ${t.fid}`);
    return Promise.resolve(true);
  }
}

class FakeDb implements BanDatabasePort {
  bans = new Map<string, BanTicket>();
  positions = new Map<string, LogPosition[]>();
  log: string[] = [];
  closed = false;
  addBan(t: BanTicket) {
    this.log.push(`add ${t.jail} ${t.fid}`);
    this.bans.set(`${t.jail} ${t.fid}`, t);
  }
  removeBan(jail: string, fid: string) {
    this.log.push(`remove ${jail} ${fid}`);
    this.bans.delete(`${jail} ${fid}`);
  }
  currentBans(now: number) {
    return [...this.bans.values()].filter((t) => t.banTime < 0 || t.time + t.banTime > now);
  }
  banHistory() {
    return [];
  }
  savePositions(jail: string, p: LogPosition[]) {
    this.positions.set(jail, p);
  }
  loadPositions(jail: string) {
    return this.positions.get(jail) ?? [];
  }
  cursors = new Map<string, string>();
  saveCursor(jail: string, cursor: string) {
    this.cursors.set(jail, cursor);
  }
  loadCursor(jail: string) {
    return this.cursors.get(jail) ?? null;
  }
  purge() {}
  close() {
    this.closed = true;
  }
}

class FakeWorker implements WorkerHandle {
  onmessage: ((event: MessageEvent<FromWorker>) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  posted: ToWorker[] = [];
  terminated = false;
  /** Answer heartbeats, as a live worker does (by default the fake stays silent, as a hung one). */
  answerPings = false;
  constructor(readonly jail: string) {}
  postMessage(m: ToWorker) {
    this.posted.push(m);
    if (m.type === "ping" && this.answerPings) {
      queueMicrotask(() => this.emit({ type: "pong", seq: m.seq }));
    }
    if (m.type === "stop") queueMicrotask(() => this.emit({ type: "stopped", jail: this.jail }));
  }
  terminate() {
    this.terminated = true;
  }
  emit(m: FromWorker) {
    this.onmessage?.({ data: m } as MessageEvent<FromWorker>);
  }
}

function setup(specs: JailSpec[], extra: Partial<DaemonOptions> = {}) {
  const clock = new ManualClock(T0);
  const logger = new MemoryLogger();
  const executor = new FakeExecutor();
  const db = new FakeDb();
  const workers: FakeWorker[] = [];
  // Workers made from now on answer heartbeats (set it once a test has seen the hang it wanted).
  const live = { answerPings: false };
  let current = specs;
  const daemon = new Daemon({
    loadJails: () => current,
    newBanManager: (s) => new FakeBanManager(s.bantime),
    executor,
    db,
    logger,
    clock,
    exec: () => Promise.resolve({ code: 1, stderr: "" }),
    workerFactory: (j) => {
      const w = new FakeWorker(j);
      w.answerPings = live.answerPings;
      workers.push(w);
      return w;
    },
    heartbeatInterval: 3_600_000,
    ...extra,
  });
  const worker = (j: string) => workers.filter((w) => w.jail === j).at(-1)!;
  const setSpecs = (s: JailSpec[]) => current = s;
  return { clock, logger, executor, db, daemon, workers, worker, setSpecs, live };
}

function request(jail: string, fid: string, time = T0): BanRequest {
  return {
    jail,
    fid,
    family: fid.includes(":") ? "inet6" : "inet4",
    failures: 3,
    time,
    matches: [],
    data: {},
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("Daemon bans on a worker's request, records it first, and tells the worker to forget", async () => {
  const t = setup([jail("sshd")]);
  try {
    await t.daemon.start();
    assert.deepEqual(t.executor.calls, ["start sshd"]);
    const start = t.worker("sshd").posted[0];
    assert.equal(start?.type, "start");
    t.worker("sshd").emit({ type: "found", jail: "sshd", fid: "192.0.2.1", time: T0 });
    t.worker("sshd").emit({ type: "ban", request: request("sshd", "192.0.2.1") });
    await tick();
    assert.deepEqual(t.db.log, ["add sshd 192.0.2.1"]);
    assert.deepEqual(t.executor.calls, ["start sshd", "ban sshd 192.0.2.1"]);
    assert.ok(t.worker("sshd").posted.some((m) => m.type === "forget" && m.fid === "192.0.2.1"));
    assert.ok(t.logger.messages("NOTICE").includes("[sshd] Ban 192.0.2.1"));
    assert.ok(t.logger.messages("INFO").some((m) => m.startsWith("[sshd] Found 192.0.2.1 - ")));
    t.worker("sshd").emit({ type: "ban", request: request("sshd", "192.0.2.1") });
    assert.ok(t.logger.messages("NOTICE").includes("[sshd] 192.0.2.1 already banned"));
    assert.equal(t.daemon.jailStatus("sshd").currentlyBanned, 1);
    assert.deepEqual(t.daemon.jailStatus("sshd").bannedIps, ["192.0.2.1"]);
  } finally {
    await t.daemon.stop();
  }
});

Deno.test("Daemon unbans when the ban time is over and removes the ban from the database", async () => {
  const t = setup([jail("sshd")]);
  try {
    await t.daemon.start();
    t.worker("sshd").emit({ type: "ban", request: request("sshd", "192.0.2.1") });
    t.clock.advance(300);
    t.worker("sshd").emit({ type: "ban", request: request("sshd", "192.0.2.2", T0 + 300) });
    t.clock.advance(300);
    t.daemon.checkUnbans();
    await tick();
    assert.deepEqual(t.daemon.bannedIps("sshd"), ["192.0.2.2"]);
    assert.ok(t.executor.calls.includes("unban sshd 192.0.2.1"));
    assert.ok(t.db.log.includes("remove sshd 192.0.2.1"));
    assert.ok(t.logger.messages("NOTICE").includes("[sshd] Unban 192.0.2.1"));
  } finally {
    await t.daemon.stop();
  }
});

Deno.test("Daemon restores bans in force at start with their remaining time, not expired ones", async () => {
  const t = setup([jail("sshd"), jail("other")]);
  const b = (fid: string, time: number, jailName = "sshd"): BanTicket => ({
    ...request(jailName, fid, time),
    banTime: 600,
    banCount: 0,
  });
  t.db.bans.set("sshd 192.0.2.1", b("192.0.2.1", T0 - 100));
  t.db.bans.set("sshd 192.0.2.2", b("192.0.2.2", T0 - 700));
  t.db.bans.set("gone 192.0.2.3", b("192.0.2.3", T0 - 100, "gone"));
  try {
    await t.daemon.start();
    await tick();
    assert.deepEqual(t.daemon.bannedIps("sshd"), ["192.0.2.1"]);
    assert.deepEqual(t.daemon.bannedIps("other"), []);
    assert.deepEqual(
      t.executor.calls.filter((c) => c.startsWith("ban")),
      ["ban sshd 192.0.2.1"],
    );
    assert.ok(
      t.executor.calls.indexOf("start sshd") < t.executor.calls.indexOf("ban sshd 192.0.2.1"),
    );
    t.clock.advance(500);
    t.daemon.checkUnbans();
    assert.deepEqual(t.daemon.bannedIps("sshd"), []);
  } finally {
    await t.daemon.stop();
  }
});

Deno.test("Daemon keeps a ban whose action failed as pending and retries it", async () => {
  const t = setup([jail("sshd")], { retryBackoff: 1 });
  try {
    await t.daemon.start();
    t.executor.failBans = 2;
    t.worker("sshd").emit({ type: "ban", request: request("sshd", "192.0.2.1") });
    for (let i = 0; i < 50 && !t.executor.calls.includes("ban sshd 192.0.2.1"); i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.deepEqual(t.executor.calls.filter((c) => c.includes("192.0.2.1")), [
      "ban-failed sshd 192.0.2.1",
      "ban-failed sshd 192.0.2.1",
      "ban sshd 192.0.2.1",
    ]);
    assert.ok(t.db.bans.has("sshd 192.0.2.1"));
    assert.ok(t.logger.messages("WARNING").some((m) => m.includes("pending")));
    assert.deepEqual(t.daemon.pendingBans(), []);
  } finally {
    await t.daemon.stop();
  }
});

Deno.test("Daemon asks ignorecommand before banning, with the address in an environment variable", async () => {
  const runs: { command: string; env: Record<string, string> }[] = [];
  const t = setup([jail("sshd", { ignorecommand: "check <ip>", ignorecache: 'key="<ip>"' })], {
    exec: (command, env) => {
      runs.push({ command, env });
      return Promise.resolve({ code: env.F2B_TAG_0 === "192.0.2.9" ? 0 : 1, stderr: "" });
    },
  });
  try {
    await t.daemon.start();
    t.worker("sshd").emit({ type: "ban", request: request("sshd", "192.0.2.9") });
    t.worker("sshd").emit({ type: "ban", request: request("sshd", "192.0.2.1") });
    await tick();
    await tick();
    assert.deepEqual(t.daemon.bannedIps("sshd"), ["192.0.2.1"]);
    assert.equal(runs[0]?.command, 'check "${F2B_TAG_0}"');
    assert.ok(t.logger.messages("NOTICE").includes("[sshd] Ignore 192.0.2.9 by command"));
    t.worker("sshd").emit({ type: "ban", request: request("sshd", "192.0.2.9") });
    await tick();
    assert.equal(runs.length, 2, "second request answered from the cache");
  } finally {
    await t.daemon.stop();
  }
});

Deno.test("Daemon stop runs actionstop for every jail, saves positions and closes the database", async () => {
  const t = setup([jail("a"), jail("b")]);
  await t.daemon.start();
  const pos: LogPosition = { path: "/tmp/a.log", offset: 42, firstLineHash: "h" };
  t.worker("a").emit({ type: "positions", jail: "a", positions: [pos] });
  await t.daemon.stop();
  await t.daemon.finished;
  assert.deepEqual(t.executor.calls.filter((c) => c.startsWith("stop")).sort(), [
    "stop a",
    "stop b",
  ]);
  assert.deepEqual(t.db.positions.get("a"), [pos]);
  assert.ok(t.db.closed);
  assert.ok(t.workers.every((w) => w.terminated));
});

Deno.test("Daemon reload adds, removes and updates jails and keeps bans", async () => {
  const t = setup([jail("a"), jail("b")]);
  try {
    await t.daemon.start();
    t.worker("a").emit({ type: "ban", request: request("a", "192.0.2.1") });
    t.setSpecs([jail("a", { maxretry: 7 }), jail("c")]);
    await t.daemon.reload({});
    assert.deepEqual(t.daemon.jailNames(), ["a", "c"]);
    assert.deepEqual(t.daemon.bannedIps("a"), ["192.0.2.1"]);
    const update = t.worker("a").posted.find((m) => m.type === "update");
    assert.equal(update?.type === "update" && update.spec.maxretry, 7);
    assert.ok(t.executor.calls.includes("stop b"));
    assert.ok(t.executor.calls.includes("start c"));
    assert.equal(t.executor.calls.filter((c) => c === "start a").length, 1);
  } finally {
    await t.daemon.stop();
  }
});

Deno.test("Daemon manual unban removes the ban from the database so a restart does not restore it", async () => {
  const t = setup([jail("sshd")]);
  try {
    await t.daemon.start();
    t.worker("sshd").emit({ type: "ban", request: request("sshd", "192.0.2.1") });
    assert.equal(t.daemon.unbanIp(null, "192.0.2.1"), 1);
    await tick();
    assert.equal(t.db.bans.size, 0);
    assert.ok(t.executor.calls.includes("unban sshd 192.0.2.1"));
  } finally {
    await t.daemon.stop();
  }
});

Deno.test("Supervisor restarts a worker that stops answering, skipping the unread line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = `${dir}/a.log`;
    await Deno.writeTextFile(log, "first\nstuck line\n");
    const t = setup([jail("a", { logpath: [log] })], {
      heartbeatInterval: 5,
      heartbeatTimeout: 30,
      restartBackoff: 1,
    });
    try {
      await t.daemon.start();
      // The worker reads the first line and then never answers.
      t.worker("a").emit({
        type: "positions",
        jail: "a",
        positions: [{ path: log, offset: 6, firstLineHash: "x" }],
      });
      for (let i = 0; i < 200 && t.workers.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(t.workers.length >= 2, true);
      assert.ok(t.workers[0]!.terminated);
      const start = t.workers[1]!.posted[0];
      assert.equal(start?.type, "start");
      if (start?.type === "start") {
        assert.deepEqual(start.skipLineAt, { path: log, offset: 6, firstLineHash: "x" });
        assert.deepEqual(start.positions, [{ path: log, offset: 6, firstLineHash: "x" }]);
      }
      assert.ok(t.logger.messages("ERROR").some((m) => m.includes("did not answer")));
    } finally {
      await t.daemon.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Supervisor skips exactly the line a stuck worker published, resuming at its chunk", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = `${dir}/a.log`;
    await Deno.writeTextFile(log, "first\nsecond\nstuck line\nafter\n");
    const t = setup([jail("a", { logpath: [log] })], {
      heartbeatInterval: 5,
      heartbeatTimeout: 30,
      restartBackoff: 1,
    });
    try {
      await t.daemon.start();
      const start0 = t.worker("a").posted[0];
      assert.equal(start0?.type, "start");
      if (start0?.type !== "start") return;
      assert.ok(start0.progress instanceof SharedArrayBuffer);
      // The worker reported the chunk start, then hung on "stuck line" (ending at 25) after
      // processing two lines of the same chunk.
      t.worker("a").emit({
        type: "positions",
        jail: "a",
        positions: [{ path: log, offset: 0, firstLineHash: "x" }],
      });
      const progress = new LineProgress(start0.progress!);
      progress.begin(log, 6);
      progress.done();
      progress.begin(log, 13);
      progress.done();
      progress.begin(log, 25);
      for (let i = 0; i < 200 && t.workers.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(t.workers.length >= 2, true);
      const start = t.workers[1]!.posted[0];
      assert.equal(start?.type, "start");
      if (start?.type === "start") {
        assert.deepEqual(start.skipLineAt, { path: log, offset: 0, firstLineHash: "x" });
        assert.equal(start.skipLineEnd, 25);
        // A fresh record for the new worker.
        assert.notEqual(start.progress, start0.progress);
      }
      assert.ok(
        t.logger.messages("ERROR").some((m) =>
          m.includes(`skipping the line ending at offset 25 of ${log}`)
        ),
      );
    } finally {
      await t.daemon.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Supervisor restarts a worker that crashed", async () => {
  const t = setup([jail("a")], { restartBackoff: 1 });
  try {
    await t.daemon.start();
    const first = t.worker("a");
    first.onerror?.({ message: "boom", preventDefault() {} } as ErrorEvent);
    for (let i = 0; i < 100 && t.workers.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(t.workers.length, 2);
    assert.ok(first.terminated);
    assert.ok(t.logger.messages("ERROR").some((m) => m.includes("crashed: boom")));
  } finally {
    await t.daemon.stop();
  }
});

/** Polls `cond` every 10 ms for up to 10 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

Deno.test("set attempt through the real worker: 2 log failures + 3 attempts reach maxretry 5", async () => {
  const dir = await Deno.makeTempDir();
  const now = Math.floor(Date.now() / 1000);
  const stamp = new Date(now * 1000).toISOString().replace("T", " ").slice(0, 19);
  const log = `${dir}/auth.log`;
  await Deno.writeTextFile(
    log,
    `${stamp} Failed password for root from 192.0.2.9 port 22\n`.repeat(2),
  );
  const base = jail("sshd", { logpath: [log], maxretry: 5, usedns: "no" });
  const spec: JailSpec = {
    ...base,
    filter: {
      ...base.filter,
      logtimezone: "UTC",
      failregex: [{ pattern: "^\\s*Failed password for \\S+ from <HOST>", origin: "test" }],
    },
  };
  // The real worker (default factory), with the daemon's clock at the real time.
  const t = setup([spec], { workerFactory: undefined, clock: new ManualClock(now) });
  try {
    await t.daemon.start();
    await until(() => t.daemon.jailStatus("sshd").totalFailed === 2, "the 2 log failures");
    await t.daemon.addAttempt("sshd", "192.0.2.9", []);
    await t.daemon.addAttempt("sshd", "::ffff:192.0.2.9", []);
    assert.deepEqual(t.daemon.bannedIps("sshd"), []);
    await t.daemon.addAttempt("sshd", "192.0.2.9", ["by hand"]);
    assert.deepEqual(t.daemon.bannedIps("sshd"), ["192.0.2.9"]);
    const ticket = t.daemon.banTickets("sshd")[0]!;
    assert.equal(ticket.failures, 5);
    assert.equal(ticket.matches.at(-1), "by hand");
    await until(() => t.executor.calls.includes("ban sshd 192.0.2.9"), "the ban action");
  } finally {
    await t.daemon.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Daemon starts workers with the database's positions marked as such; restarts after ready are not", async () => {
  const t = setup([jail("a")], { restartBackoff: 1 });
  try {
    t.db.positions.set("a", [{ path: "/tmp/a.log", offset: 7, firstLineHash: "h" }]);
    await t.daemon.start();
    const first = t.worker("a");
    const start = first.posted[0];
    assert.ok(start?.type === "start" && start.fromDatabase === true);
    assert.deepEqual(start.positions, [{ path: "/tmp/a.log", offset: 7, firstLineHash: "h" }]);
    first.emit({ type: "ready", jail: "a" });
    first.emit({
      type: "positions",
      jail: "a",
      positions: [{ path: "/tmp/a.log", offset: 9, firstLineHash: "h" }],
    });
    first.onerror?.({ message: "boom", preventDefault() {} } as ErrorEvent);
    await until(() => t.workers.length === 2, "the restart");
    const again = t.worker("a").posted[0];
    assert.ok(again?.type === "start" && again.fromDatabase === undefined);
    assert.deepEqual(again.positions, [{ path: "/tmp/a.log", offset: 9, firstLineHash: "h" }]);
  } finally {
    await t.daemon.stop();
  }
});

Deno.test("Daemon keeps a systemd jail's journal cursor: database at start, saved at stop, resumed after a hang", async () => {
  const spec = jail("j", {
    backend: "systemd",
    logpath: [],
    filter: { ...jail("j").filter, journalmatch: "_SYSTEMD_UNIT=sshd.service + _COMM=sshd" },
  });
  const t = setup([spec], { heartbeatInterval: 5, heartbeatTimeout: 30, restartBackoff: 1 });
  try {
    t.db.cursors.set("j", "s=saved;i=1");
    await t.daemon.start();
    const first = t.worker("j");
    const start = first.posted[0];
    assert.ok(start?.type === "start" && start.cursor === "s=saved;i=1" && !start.skipEntry);
    // fail2ban's status line for a journal jail.
    const status = t.daemon.jailStatus("j");
    assert.equal(status.journalMatches, "_SYSTEMD_UNIT=sshd.service + _COMM=sshd");
    first.emit({ type: "ready", jail: "j" });
    first.emit({ type: "cursor", jail: "j", cursor: "s=next;i=2" });
    // A ban saves soon after, as positions.
    first.emit({ type: "ban", request: request("j", "192.0.2.1") });
    first.emit({ type: "cursor", jail: "j", cursor: "s=next;i=3" });
    await until(() => t.db.cursors.get("j") === "s=next;i=3", "the cursor saved after the ban");
    // The worker stops answering: the next one skips the entry after the last cursor.
    await until(() => t.workers.filter((w) => w.jail === "j").length >= 2, "the restart");
    // Restarted workers are alive: none may be declared hung in turn on a loaded machine.
    t.live.answerPings = true;
    t.worker("j").answerPings = true;
    const again = t.worker("j").posted[0];
    assert.ok(again?.type === "start");
    assert.equal(again.cursor, "s=next;i=3");
    assert.equal(again.skipEntry, true);
    assert.ok(
      t.logger.messages("ERROR").some((m) => m.includes("skipping the journal entry after")),
    );
    // A restart already scheduled may still come: report the cursor from the worker in charge.
    await tick();
    await until(() => !t.worker("j").terminated, "a live worker");
    t.worker("j").emit({ type: "cursor", jail: "j", cursor: "s=last;i=4" });
  } finally {
    await t.daemon.stop();
  }
  assert.equal(t.db.cursors.get("j"), "s=last;i=4");
});
