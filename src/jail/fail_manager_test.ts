import assert from "node:assert/strict";
import { FailManager } from "./fail_manager.ts";

const T0 = 1124013600;

Deno.test("FailManager bans after maxretry within findtime", () => {
  const fm = new FailManager({ maxRetry: 3, findTime: 600, maxMatches: 3 });
  assert.equal(fm.addFailure("192.0.2.1", T0, ["l1"], { user: "root" }), null);
  assert.equal(fm.addFailure("192.0.2.1", T0 + 10, ["l2"], { user: "admin" }), null);
  assert.equal(fm.size, 1);
  const ticket = fm.addFailure("192.0.2.1", T0 + 20, ["l3"], {});
  assert.deepEqual(ticket, {
    fid: "192.0.2.1",
    failures: 3,
    retry: 3,
    firstTime: T0,
    lastTime: T0 + 20,
    matches: ["l1", "l2", "l3"],
    data: { user: "root" }, // the first failure's values, as fail2ban keeps them
  });
  // The id is forgotten: counting starts from zero.
  assert.equal(fm.size, 0);
  assert.equal(fm.addFailure("192.0.2.1", T0 + 30, ["l4"], {}), null);
  assert.equal(fm.get("192.0.2.1")?.retry, 1);
  assert.equal(fm.totalFailed, 4);
});

Deno.test("FailManager counts ids separately", () => {
  const fm = new FailManager({ maxRetry: 2, findTime: 600, maxMatches: 2 });
  assert.equal(fm.addFailure("a", T0, [], {}), null);
  assert.equal(fm.addFailure("b", T0, [], {}), null);
  assert.equal(fm.size, 2);
  assert.equal(fm.addFailure("a", T0 + 1, [], {})?.fid, "a");
  assert.ok(fm.has("b"));
  assert.ok(!fm.has("a"));
});

Deno.test("FailManager re-estimates the count from the rate once findtime is exceeded", () => {
  // Same sequence run through fail2ban 1.0.2's FailManager: retry 1 2 3 3 3 4.
  const fm = new FailManager({ maxRetry: 5, findTime: 600, maxMatches: 2 });
  const seen: [number, number, number, string[]][] = [];
  for (
    const [t, line] of [[0, "a"], [300, "b"], [700, "c"], [1000, "d"], [1290, "e"], [
      1295,
      "f",
    ]] as const
  ) {
    assert.equal(fm.addFailure("1.2.3.4", T0 + t, [line], { user: line }), null);
    const s = fm.get("1.2.3.4")!;
    seen.push([s.retry, s.failures, s.firstTime - T0, s.matches]);
  }
  assert.deepEqual(seen, [
    [1, 1, 0, ["a"]],
    [2, 2, 0, ["a", "b"]],
    [3, 3, 100, ["b", "c"]],
    [3, 4, 400, ["c", "d"]],
    [3, 5, 690, ["d", "e"]],
    [4, 6, 695, ["e", "f"]],
  ]);
  assert.deepEqual(fm.get("1.2.3.4")?.data, { user: "a" });
});

Deno.test("FailManager cleanup forgets ids whose last failure is findtime old", () => {
  const fm = new FailManager({ maxRetry: 3, findTime: 600, maxMatches: 3 });
  fm.addFailure("old", T0, ["x"], {});
  fm.addFailure("new", T0 + 100, ["y"], {});
  assert.equal(fm.cleanup(T0 + 599), 0);
  assert.equal(fm.cleanup(T0 + 600), 1);
  assert.ok(!fm.has("old"));
  assert.ok(fm.has("new"));
  // After the reset the old id starts from zero again.
  assert.equal(fm.addFailure("old", T0 + 650, [], {}), null);
  assert.equal(fm.get("old")?.retry, 1);
  assert.equal(fm.cleanup(T0 + 10_000), 2);
  assert.equal(fm.size, 0);
});

Deno.test("FailManager keeps an out-of-order failure's time from moving the entry back", () => {
  const fm = new FailManager({ maxRetry: 5, findTime: 600, maxMatches: 5 });
  fm.addFailure("x", T0 + 100, ["b"], {});
  fm.addFailure("x", T0, ["a"], {});
  const s = fm.get("x")!;
  assert.equal(s.lastTime, T0 + 100);
  assert.equal(s.retry, 2);
  assert.deepEqual(s.matches, ["b", "a"]);
});

Deno.test("FailManager keeps only the last maxmatches lines", () => {
  const fm = new FailManager({ maxRetry: 10, findTime: 600, maxMatches: 2 });
  fm.addFailure("x", T0, ["1", "2", "3"], {});
  assert.deepEqual(fm.get("x")?.matches, ["2", "3"]);
  fm.addFailure("x", T0 + 1, ["4"], {});
  assert.deepEqual(fm.get("x")?.matches, ["3", "4"]);
  fm.setOptions({ maxMatches: 1 });
  assert.deepEqual(fm.get("x")?.matches, ["4"]);
  fm.setOptions({ maxMatches: 0 });
  assert.deepEqual(fm.get("x")?.matches, []);
  fm.addFailure("x", T0 + 2, ["5"], {});
  assert.deepEqual(fm.get("x")?.matches, []);
  const none = new FailManager({ maxRetry: 2, findTime: 600, maxMatches: 0 });
  none.addFailure("y", T0, ["a"], {});
  assert.deepEqual(none.addFailure("y", T0, ["b"], {})?.matches, []);
});

Deno.test("FailManager evicts the least recently updated id under the cap", () => {
  const fm = new FailManager({ maxRetry: 5, findTime: 600, maxMatches: 1, maxEntries: 3 });
  fm.addFailure("a", T0, [], {});
  fm.addFailure("b", T0 + 1, [], {});
  fm.addFailure("c", T0 + 2, [], {});
  fm.addFailure("a", T0 + 3, [], {}); // a is now the most recent
  fm.addFailure("d", T0 + 4, [], {});
  assert.equal(fm.size, 3);
  assert.equal(fm.evicted, 1);
  assert.deepEqual([...fm.ids()], ["c", "a", "d"]);
  fm.setOptions({ maxEntries: 1 });
  assert.deepEqual([...fm.ids()], ["d"]);
  assert.equal(fm.evicted, 3);
  assert.equal(fm.totalFailed, 5);
});

Deno.test("FailManager attempts and addRetry raise the count", () => {
  const fm = new FailManager({ maxRetry: 5, findTime: 600, maxMatches: 5 });
  assert.equal(fm.addFailure("x", T0, ["a"], {}, 3), null);
  assert.equal(fm.get("x")?.retry, 3);
  assert.equal(fm.get("x")?.failures, 1);
  assert.equal(fm.addRetry("unknown", 10), null);
  const t = fm.addRetry("x", 2);
  assert.equal(t?.retry, 5);
  assert.equal(t?.failures, 1);
  assert.equal(fm.size, 0);
});

Deno.test("FailManager setOptions changes maxretry and findtime, forget drops an id", () => {
  const fm = new FailManager({ maxRetry: 5, findTime: 600, maxMatches: 5 });
  fm.addFailure("x", T0, [], {});
  fm.setOptions({ maxRetry: 2, findTime: 60 });
  assert.equal(fm.maxRetry, 2);
  assert.equal(fm.findTime, 60);
  assert.equal(fm.addFailure("x", T0 + 1, [], {})?.retry, 2);
  fm.addFailure("y", T0, [], {});
  assert.ok(fm.forget("y"));
  assert.ok(!fm.forget("y"));
  fm.addFailure("z", T0, [], {});
  fm.clear();
  assert.equal(fm.size, 0);
});

Deno.test("FailManager keys IPv4 ids compactly without mixing them with other ids", () => {
  const fm = new FailManager({ maxRetry: 2, findTime: 600, maxMatches: 1 });
  fm.addFailure("1.2.3.4", T0, [], {});
  fm.addFailure("01.2.3.4", T0, [], {}); // not canonical: a different (raw) id
  fm.addFailure("255.255.255.255", T0, [], {});
  fm.addFailure("0.0.0.0", T0, [], {});
  fm.addFailure("user-42", T0, [], {});
  assert.deepEqual([...fm.ids()], ["1.2.3.4", "01.2.3.4", "255.255.255.255", "0.0.0.0", "user-42"]);
  assert.equal(fm.addFailure("1.2.3.4", T0 + 1, [], {})?.fid, "1.2.3.4");
  assert.equal(fm.addFailure("255.255.255.255", T0 + 1, [], {})?.fid, "255.255.255.255");
  assert.ok(fm.has("01.2.3.4"));
  assert.ok(!fm.has("1.2.3.4"));
});

Deno.test("FailManager cleanup is exact when failures arrive out of time order", () => {
  const fm = new FailManager({ maxRetry: 10, findTime: 100, maxMatches: 1 });
  fm.addFailure("a", T0 + 50, [], {});
  fm.addFailure("b", T0, [], {}); // older than "a" but added after it
  fm.addFailure("c", T0 + 60, [], {});
  assert.equal(fm.cleanup(T0 + 100), 1);
  assert.deepEqual([...fm.ids()], ["a", "c"]);
  assert.equal(fm.cleanup(T0 + 155), 1);
  assert.deepEqual([...fm.ids()], ["c"]);
});

Deno.test("FailManager cleanup stops at the first live id when failures come in order", () => {
  const fm = new FailManager({ maxRetry: 10, findTime: 100, maxMatches: 1 });
  for (let i = 0; i < 10; i++) fm.addFailure(`10.0.0.${i}`, T0 + i, [], {});
  fm.addFailure("10.0.0.0", T0 + 20, [], {}); // moves to the end, order kept
  assert.equal(fm.cleanup(T0 + 105), 5);
  assert.deepEqual([...fm.ids()], ["10.0.0.6", "10.0.0.7", "10.0.0.8", "10.0.0.9", "10.0.0.0"]);
});

Deno.test("FailManager gives slots back after mass expiry and keeps counting right", () => {
  const fm = new FailManager({ maxRetry: 3, findTime: 100, maxMatches: 2 });
  for (let i = 0; i < 10_000; i++) fm.addFailure(`id${i}`, T0, [`line ${i}`], { n: String(i) });
  for (let i = 0; i < 10; i++) fm.addFailure(`keep${i}`, T0 + 50, [`k ${i}`], {});
  assert.equal(fm.cleanup(T0 + 100), 10_000);
  assert.equal(fm.size, 10);
  for (let i = 0; i < 10; i++) fm.addFailure(`keep${i}`, T0 + 60, [`k2 ${i}`], {});
  const t = fm.addFailure("keep3", T0 + 70, ["k3"], {});
  assert.deepEqual(t, {
    fid: "keep3",
    failures: 3,
    retry: 3,
    firstTime: T0 + 50,
    lastTime: T0 + 70,
    matches: ["k2 3", "k3"],
    data: {},
  });
  for (let i = 0; i < 5000; i++) fm.addFailure(`new${i}`, T0 + 80, [], {});
  assert.equal(fm.size, 5009);
  assert.equal(fm.get("new4999")?.lastTime, T0 + 80);
  assert.equal(fm.get("keep9")?.failures, 2);
});

Deno.test("FailManager keeps captured values exactly: order, the id itself, NUL, digits, empty", () => {
  const fm = new FailManager({ maxRetry: 5, findTime: 600, maxMatches: 1 });
  const hostile = { user: "a\0b\0\0", ip4: "192.0.2.9", n: "12", e: "", tail: "x\0" };
  fm.addFailure("192.0.2.9", T0, ["l"], hostile);
  const got = fm.get("192.0.2.9")?.data;
  assert.deepEqual(got, hostile);
  assert.deepEqual(Object.keys(got!), ["user", "ip4", "n", "e", "tail"]);
  // Equal values for different ids: each ticket gets its own id back.
  for (const id of ["2001:db8::1", "host.example", "10.0.0.1"]) {
    fm.addFailure(id, T0, [], { user: "root", ip: id });
  }
  assert.deepEqual(fm.get("2001:db8::1")?.data, { user: "root", ip: "2001:db8::1" });
  assert.deepEqual(fm.get("10.0.0.1")?.data, { user: "root", ip: "10.0.0.1" });
  assert.deepEqual(fm.get("host.example")?.data, { user: "root", ip: "host.example" });
  const t = fm.get("10.0.0.1")!;
  t.data.user = "changed"; // a copy
  assert.equal(fm.get("10.0.0.1")?.data.user, "root");
  for (let i = 0; i < 10_000; i++) fm.addFailure(`id${i}`, T0, [], { n: String(i) });
  assert.deepEqual(fm.get("id9999")?.data, { n: "9999" });
  assert.deepEqual(fm.get("id3")?.data, { n: "3" });
});
