import assert from "node:assert/strict";
import type { HostResolver } from "../net/dns.ts";
import { parseAddress } from "../net/ip_address.ts";
import { ManualClock } from "../util/clock.ts";
import { IgnoreList } from "./ignore_list.ts";

function fakeResolver(table: Record<string, string[]>) {
  const calls: string[] = [];
  const resolver: HostResolver = {
    resolve(name) {
      calls.push(name);
      return Promise.resolve(table[name] ?? []);
    },
  };
  return { calls, resolver, table };
}

const noSelf = () => [] as string[];

Deno.test("IgnoreList matches single addresses in any spelling", () => {
  const list = new IgnoreList({
    ignoreip: ["192.0.2.1", "2001:DB8::1"],
    ignoreself: false,
    selfAddresses: noSelf,
  });
  assert.ok(list.isIgnored("192.0.2.1"));
  assert.ok(list.isIgnored("::ffff:192.0.2.1"));
  assert.ok(list.isIgnored("2001:db8:0::1"));
  assert.ok(list.isIgnored(parseAddress("2001:db8::1")!));
  assert.ok(!list.isIgnored("192.0.2.2"));
  assert.equal(list.ignoredBy("192.0.2.1"), "ip");
  assert.ok(!list.isIgnored("not-an-address"));
});

Deno.test("IgnoreList matches CIDR networks and masks", () => {
  const list = new IgnoreList({
    ignoreip: ["10.0.0.0/8", "172.16.5.9/255.255.0.0", "2001:db8::/32", "192.168.1.7/32"],
    ignoreself: false,
    selfAddresses: noSelf,
  });
  assert.ok(list.isIgnored("10.200.3.4"));
  assert.ok(list.isIgnored("172.16.200.1"));
  assert.ok(!list.isIgnored("172.17.0.1"));
  assert.ok(list.isIgnored("2001:db8:ffff::1"));
  assert.ok(!list.isIgnored("2001:db9::1"));
  assert.ok(list.isIgnored("192.168.1.7"));
  assert.ok(!list.isIgnored("11.0.0.1"));
  assert.deepEqual(list.list(), ["10.0.0.0/8", "172.16.0.0/16", "2001:db8::/32", "192.168.1.7"]);
});

Deno.test("IgnoreList rejects an invalid entry with a SyntaxError naming it", () => {
  assert.throws(() => new IgnoreList({ ignoreip: ["10.0.0.0/33"], ignoreself: false }), {
    name: "SyntaxError",
    message: 'Invalid ignoreip entry "10.0.0.0/33": prefix length 33 is more than 32',
  });
  assert.throws(() => new IgnoreList({ ignoreip: ["$(reboot)"], ignoreself: false }), {
    name: "SyntaxError",
    message: 'Invalid ignoreip entry "$(reboot)": not an IP address, network or host name',
  });
});

Deno.test("IgnoreList add, remove and list at runtime", () => {
  const list = new IgnoreList({ ignoreip: [], ignoreself: false, selfAddresses: noSelf });
  assert.ok(list.add("10.1.0.0/16"));
  assert.ok(!list.add("10.1.2.3/16")); // the same network
  assert.ok(list.add("198.51.100.1"));
  assert.ok(!list.add(""));
  assert.ok(list.isIgnored("10.1.9.9"));
  assert.ok(list.remove("10.1.0.0/16"));
  assert.ok(!list.remove("10.1.0.0/16"));
  assert.ok(!list.isIgnored("10.1.9.9"));
  assert.ok(list.remove("::ffff:198.51.100.1"));
  assert.deepEqual(list.list(), []);
  list.add("10.0.0.1");
  list.clear();
  assert.ok(!list.isIgnored("10.0.0.1"));
});

Deno.test("IgnoreList resolves host names in the background and never blocks", async () => {
  const { calls, resolver } = fakeResolver({ "trusted.example": ["203.0.113.5", "2001:DB8::5"] });
  const list = new IgnoreList({
    ignoreip: ["Trusted.Example."],
    ignoreself: false,
    resolver,
    selfAddresses: noSelf,
  });
  // Not resolved yet: nothing matches, and the check does not wait.
  assert.ok(!list.isIgnored("203.0.113.5"));
  await list.settled();
  assert.ok(list.isIgnored("203.0.113.5"));
  assert.equal(list.ignoredBy("2001:db8::5"), "dns");
  assert.equal(list.ignoredBy("trusted.example"), "dns"); // a raw id equal to the name
  assert.deepEqual(list.list(), ["trusted.example"]);
  assert.deepEqual(calls, ["trusted.example"]);
  assert.ok(list.remove("trusted.example"));
  assert.ok(!list.isIgnored("203.0.113.5"));
});

Deno.test("IgnoreList re-resolves names after refreshInterval and keeps the last addresses on failure", async () => {
  const clock = new ManualClock(1000);
  const { calls, resolver, table } = fakeResolver({ "dyn.example": ["203.0.113.1"] });
  const list = new IgnoreList({
    ignoreip: ["dyn.example"],
    ignoreself: false,
    resolver,
    clock,
    refreshInterval: 60,
    selfAddresses: noSelf,
  });
  await list.settled();
  assert.ok(list.isIgnored("203.0.113.1"));
  table["dyn.example"] = ["203.0.113.2"];
  clock.advance(30);
  list.isIgnored("198.51.100.1");
  await list.settled();
  assert.equal(calls.length, 1); // not yet due
  clock.advance(31);
  assert.ok(list.isIgnored("203.0.113.1")); // the check starts the refresh, answers from the old data
  await list.settled();
  assert.ok(!list.isIgnored("203.0.113.1"));
  assert.ok(list.isIgnored("203.0.113.2"));
  delete table["dyn.example"]; // the name stops resolving
  await list.refresh();
  assert.ok(list.isIgnored("203.0.113.2"));
  assert.equal(calls.length, 3);
});

Deno.test("IgnoreList ignoreself covers own addresses, 127.0.0.0/8 and ::1", () => {
  let own = ["192.0.2.44", "fe80::1%eth0"];
  const clock = new ManualClock(0);
  const list = new IgnoreList({
    ignoreip: [],
    ignoreself: true,
    selfAddresses: () => own,
    clock,
    refreshInterval: 10,
  });
  assert.equal(list.ignoredBy("192.0.2.44"), "ignoreself rule");
  assert.ok(list.isIgnored("fe80::1"));
  assert.ok(list.isIgnored("127.0.1.1"));
  assert.ok(list.isIgnored("::1"));
  assert.ok(list.isIgnored("::ffff:127.0.0.1"));
  assert.ok(!list.isIgnored("192.0.2.45"));
  own = ["192.0.2.45"];
  clock.advance(11);
  assert.ok(list.isIgnored("192.0.2.45"));
  assert.ok(!list.isIgnored("192.0.2.44"));
  list.ignoreSelf = false;
  assert.ok(!list.isIgnored("127.0.0.1"));
  assert.ok(!list.isIgnored("192.0.2.45"));
});

Deno.test("IgnoreList reads the real network interfaces by default", () => {
  const list = new IgnoreList({ ignoreip: [], ignoreself: true });
  assert.ok(list.isIgnored("127.0.0.1"));
  for (const i of Deno.networkInterfaces()) assert.ok(list.isIgnored(i.address), i.address);
});
