import assert from "node:assert/strict";
import type { BanTimeIncrement } from "../config/types.ts";
import type { BanRequest, BanTicket } from "../ipc/messages.ts";
import { MemoryLogger } from "../log/types.ts";
import { ManualClock } from "../util/clock.ts";
import { badAddressRetry, BanManager } from "./ban_manager.ts";

const T0 = 1124013600;

const OFF: BanTimeIncrement = {
  enabled: false,
  factor: 1,
  formula: null,
  multipliers: [],
  maxtime: null,
  rndtime: null,
  overalljails: false,
};

function request(fid: string, time = T0): BanRequest {
  return {
    jail: "sshd",
    fid,
    family: "inet4",
    failures: 3,
    time,
    matches: ["m"],
    data: { user: "root" },
  };
}

function ticket(fid: string, time: number, banTime: number): BanTicket {
  return {
    jail: "sshd",
    fid,
    family: "inet4",
    time,
    banTime,
    banCount: 0,
    failures: 1,
    matches: [],
    data: {},
  };
}

function manager(
  increment: Partial<BanTimeIncrement> = {},
  banTime = 600,
  clock = new ManualClock(T0),
) {
  return new BanManager({
    jail: "sshd",
    banTime,
    increment: { ...OFF, ...increment },
    clock,
    random: () => 0.5,
  });
}

Deno.test("BanManager.createTicket uses bantime when increment is off", () => {
  const bm = manager();
  const t = bm.createTicket(request("192.0.2.1"), { banCount: 4, lastBanTime: 600 });
  assert.deepEqual(t, {
    jail: "sshd",
    fid: "192.0.2.1",
    family: "inet4",
    time: T0,
    banTime: 600,
    banCount: 4,
    failures: 3,
    matches: ["m"],
    data: { user: "root" },
  });
});

Deno.test("BanManager increment: first ban keeps bantime, later ones follow the default formula", () => {
  const bm = manager({ enabled: true });
  const times = [0, 1, 2, 3, 25].map((n) =>
    bm.createTicket(request("x"), { banCount: n, lastBanTime: null }).banTime
  );
  assert.deepEqual(times, [600, 1200, 2400, 4800, 600 * 2 ** 20]);
});

Deno.test("BanManager increment modes: factor, formula, multipliers, maxtime, rndtime", () => {
  const h = (n: number) => ({ banCount: n, lastBanTime: null });
  assert.equal(
    manager({ enabled: true, factor: 3 }).createTicket(request("x"), h(1)).banTime,
    3600,
  );
  assert.equal(
    manager({
      enabled: true,
      formula: "ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)",
    })
      .createTicket(request("x"), h(1)).banTime,
    600 * Math.exp(2) / Math.exp(1),
  );
  const multi = manager({ enabled: true, multipliers: [1, 5, 30] });
  assert.deepEqual([1, 2, 7].map((n) => multi.createTicket(request("x"), h(n)).banTime), [
    3000,
    18000,
    18000,
  ]);
  assert.equal(
    manager({ enabled: true, maxtime: 2000 }).createTicket(request("x"), h(3)).banTime,
    2000,
  );
  // rndtime is added after the cap: 2000 + 0.5 * 100.
  assert.equal(
    manager({ enabled: true, maxtime: 2000, rndtime: 100 }).createTicket(request("x"), h(3))
      .banTime,
    2050,
  );
  // Not applied to the first ban, nor to permanent bans.
  assert.equal(
    manager({ enabled: true, rndtime: 100 }).createTicket(request("x"), h(0)).banTime,
    600,
  );
  assert.equal(manager({ enabled: true }, -1).createTicket(request("x"), h(5)).banTime, -1);
});

Deno.test("BanManager keeps bantime when the formula fails at runtime, and logs it", () => {
  const logger = new MemoryLogger();
  const bm = new BanManager({
    jail: "sshd",
    banTime: 600,
    increment: { ...OFF, enabled: true, formula: "ban.Time / (ban.Count - 1)" },
    clock: new ManualClock(T0),
    logger,
  });
  assert.equal(bm.createTicket(request("x"), { banCount: 1, lastBanTime: null }).banTime, 600);
  assert.deepEqual(logger.messages("ERROR"), [
    "[sshd] Cannot compute bantime.formula for ban count 1: division by zero",
  ]);
});

Deno.test("BanManager rejects a bad formula at construction with a SyntaxError naming the jail", () => {
  assert.throws(() => manager({ enabled: true, formula: "ban.Time +" }), {
    name: "SyntaxError",
    message: 'Invalid [sshd] bantime.formula "ban.Time +": unexpected end of formula at column 11',
  });
});

Deno.test("BanManager.addBan refuses an id already banned and counts bans", () => {
  const bm = manager();
  assert.ok(bm.addBan(ticket("a", T0, 600)));
  assert.ok(!bm.addBan(ticket("a", T0, 600)));
  assert.equal(bm.add(ticket("a", T0, 100)), "already");
  assert.ok(bm.isBanned("a"));
  assert.equal(bm.getBan("b"), null);
  assert.equal(bm.currentlyBanned, 1);
  assert.equal(bm.totalBanned, 1);
  assert.equal(bm.removeBan("a")?.fid, "a");
  assert.equal(bm.removeBan("a"), null);
  assert.equal(bm.currentlyBanned, 0);
  assert.ok(bm.addBan(ticket("a", T0, 600)));
  assert.equal(bm.totalBanned, 2);
});

Deno.test("BanManager ignores a ban that has already ended", () => {
  const bm = manager();
  assert.equal(bm.add(ticket("old", T0 - 700, 600)), "expired");
  assert.equal(bm.currentlyBanned, 0);
});

Deno.test("BanManager prolongs a ban in force when the new one ends later", () => {
  const clock = new ManualClock(T0);
  const bm = manager({}, 600, clock);
  bm.addBan(ticket("a", T0, 600));
  assert.equal(bm.add(ticket("a", T0 + 100, 1200)), "prolonged");
  assert.equal(bm.getBan("a")?.banTime, 1300);
  assert.equal(bm.nextUnbanTime(), T0 + 1300);
  assert.deepEqual(bm.popExpired(T0 + 600), []);
  assert.deepEqual(bm.popExpired(T0 + 1300).map((t) => t.fid), ["a"]);
  bm.addBan(ticket("b", T0, 600));
  assert.equal(bm.add(ticket("b", T0, -1)), "prolonged");
  assert.equal(bm.endTime(bm.getBan("b")!), Infinity);
  assert.equal(bm.nextUnbanTime(), null);
});

Deno.test("BanManager pops expired bans in end-time order from its heap", () => {
  const bm = manager();
  const ends = [500, 100, 900, 300, 700, 200, 800, 600, 400];
  ends.forEach((e, i) => bm.addBan(ticket(`10.0.0.${i}`, T0, e)));
  bm.addBan(ticket("perm", T0, -1));
  assert.equal(bm.nextUnbanTime(), T0 + 100);
  assert.equal(bm.removeBan("10.0.0.1")?.banTime, 100); // the earliest, removed by hand
  assert.equal(bm.nextUnbanTime(), T0 + 200);
  const first = bm.popExpired(T0 + 450);
  assert.deepEqual(first.map((t) => t.banTime), [200, 300, 400]);
  assert.deepEqual(bm.popExpired(T0 + 10_000, 2).map((t) => t.banTime), [500, 600]);
  assert.deepEqual(bm.popExpired(T0 + 10_000).map((t) => t.banTime), [700, 800, 900]);
  assert.equal(bm.nextUnbanTime(), null);
  assert.deepEqual(bm.ids(), ["perm"]);
  assert.equal(bm.endTime(bm.getBan("perm")!), Infinity);
});

Deno.test("BanManager heap stays correct under many bans and removals", () => {
  const bm = manager();
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const kept = new Map<string, number>();
  for (let i = 0; i < 2000; i++) {
    const fid = `f${i}`;
    const bt = 1 + Math.floor(rand() * 10_000);
    bm.addBan(ticket(fid, T0, bt));
    kept.set(fid, bt);
    if (i % 3 === 0) {
      const victim = `f${Math.floor(rand() * i)}`;
      if (bm.removeBan(victim)) kept.delete(victim);
    }
  }
  const popped = bm.popExpired(T0 + 20_000);
  assert.equal(popped.length, kept.size);
  for (let i = 1; i < popped.length; i++) assert.ok(popped[i - 1]!.banTime <= popped[i]!.banTime);
  assert.equal(bm.currentlyBanned, 0);
});

Deno.test("BanManager flush removes every ban, setOptions affects later bans only", () => {
  const bm = manager();
  bm.addBan(ticket("a", T0, 600));
  bm.addBan(ticket("b", T0, -1));
  assert.deepEqual(bm.bans().map((t) => t.fid), ["a", "b"]);
  bm.setOptions({ banTime: 60, increment: { ...OFF, enabled: true } });
  assert.equal(bm.getBan("a")?.banTime, 600);
  assert.equal(bm.createTicket(request("c"), { banCount: 1, lastBanTime: null }).banTime, 120);
  assert.deepEqual(bm.flush().map((t) => t.fid), ["a", "b"]);
  assert.equal(bm.currentlyBanned, 0);
  assert.equal(bm.nextUnbanTime(), null);
});

Deno.test("badAddressRetry counts a known bad address's failure as 2, 3, 5, 9, capped", () => {
  assert.deepEqual([1, 2, 3, 4].map((n) => badAddressRetry(n, 100)), [2, 3, 5, 9]);
  assert.equal(badAddressRetry(10, 5), 5);
});
