import assert from "node:assert/strict";
import { ManualClock } from "../util/clock.ts";
import { MemoryLogger } from "../log/types.ts";
import {
  DnsResolver,
  type HostResolver,
  hostToFailureIds,
  parseHostsFile,
  parseUseDns,
  textToIp,
} from "./dns.ts";

function fakeLookup(records: Record<string, { A?: string[]; AAAA?: string[] }>) {
  const calls: string[] = [];
  const lookup = (name: string, type: "A" | "AAAA") => {
    calls.push(`${name} ${type}`);
    const r = records[name];
    if (!r) return Promise.reject(new Error("no such name"));
    return Promise.resolve(r[type] ?? []);
  };
  return { calls, lookup };
}

Deno.test("parseUseDns accepts fail2ban's values only", () => {
  assert.equal(parseUseDns("WARN"), "warn");
  assert.equal(parseUseDns("raw"), "raw");
  assert.equal(parseUseDns("true"), "yes");
  assert.equal(parseUseDns("false"), "no");
  assert.equal(parseUseDns("maybe"), null);
});

Deno.test("DnsResolver returns A and AAAA records and caches them until cacheTime", async () => {
  const clock = new ManualClock(1000);
  const { calls, lookup } = fakeLookup({
    "host.example": { A: ["192.0.2.1", "192.0.2.1"], AAAA: ["2001:DB8::1"] },
  });
  const r = new DnsResolver({ clock, lookup, hostsFile: null, cacheTime: 60 });
  assert.deepEqual(await r.resolve("host.example"), ["192.0.2.1", "2001:db8::1"]);
  assert.deepEqual(await r.resolve("HOST.example"), ["192.0.2.1", "2001:db8::1"]);
  assert.equal(calls.length, 2);
  assert.deepEqual(r.cached("host.example"), ["192.0.2.1", "2001:db8::1"]);
  clock.advance(61);
  assert.equal(r.cached("host.example"), undefined);
  await r.resolve("host.example");
  assert.equal(calls.length, 4);
});

Deno.test("DnsResolver shares one lookup between concurrent calls and logs a failed name", async () => {
  const logger = new MemoryLogger();
  const { calls, lookup } = fakeLookup({});
  const r = new DnsResolver({ clock: new ManualClock(0), lookup, hostsFile: null, logger });
  const [a, b] = await Promise.all([r.resolve("nowhere.invalid"), r.resolve("nowhere.invalid")]);
  assert.deepEqual(a, []);
  assert.deepEqual(b, []);
  assert.equal(calls.length, 2);
  assert.deepEqual(logger.messages("WARNING"), [
    "Unable to find a corresponding IP address for nowhere.invalid: no such name",
  ]);
});

Deno.test("DnsResolver evicts the oldest name when full", async () => {
  const { lookup } = fakeLookup({
    a: { A: ["10.0.0.1"] },
    b: { A: ["10.0.0.2"] },
    c: { A: ["10.0.0.3"] },
  });
  const r = new DnsResolver({ clock: new ManualClock(0), lookup, hostsFile: null, maxEntries: 2 });
  await r.resolve("a");
  await r.resolve("b");
  await r.resolve("c");
  assert.equal(r.size, 2);
  assert.equal(r.cached("a"), undefined);
  assert.deepEqual(r.cached("c"), ["10.0.0.3"]);
});

Deno.test("DnsResolver consults the hosts file first", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const hosts = `${dir}/hosts`;
    await Deno.writeTextFile(
      hosts,
      "127.0.0.1 localhost # loop\n::1 localhost ip6-localhost\n# x\n",
    );
    const { calls, lookup } = fakeLookup({});
    const r = new DnsResolver({ clock: new ManualClock(0), lookup, hostsFile: hosts });
    assert.deepEqual(await r.resolve("LocalHost"), ["127.0.0.1", "::1"]);
    assert.equal(calls.length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const table = new Map<string, string[]>();
  parseHostsFile("10.0.0.1 a b\nbad line\n10.0.0.2 A\n", table);
  assert.deepEqual(table.get("a"), ["10.0.0.1", "10.0.0.2"]);
  assert.deepEqual(table.get("b"), ["10.0.0.1"]);
});

const resolver: HostResolver = {
  resolve: (name) => Promise.resolve(name === "bad.example" ? ["198.51.100.7", "2001:db8::7"] : []),
};

Deno.test("textToIp follows usedns: addresses always, names only with yes or warn", async () => {
  const direct = textToIp("::ffff:198.51.100.7", "no", resolver);
  assert.ok(Array.isArray(direct));
  assert.deepEqual(direct.map(String), ["198.51.100.7"]);
  assert.deepEqual(textToIp("bad.example", "no", resolver), []);
  assert.deepEqual(textToIp("bad.example", "raw", resolver), []);
  assert.deepEqual(textToIp("192.030.0.6", "no", resolver), []);
  assert.deepEqual((await textToIp("bad.example", "yes", resolver)).map(String), [
    "198.51.100.7",
    "2001:db8::7",
  ]);
  const logger = new MemoryLogger();
  await textToIp("bad.example", "warn", resolver, logger);
  assert.deepEqual(logger.messages("WARNING"), [
    "Determined IP using DNS Lookup: bad.example = [198.51.100.7, 2001:db8::7]",
  ]);
});

Deno.test("hostToFailureIds keeps raw text with raw and drops names with no", async () => {
  assert.deepEqual(hostToFailureIds("bad.example", "raw", resolver), ["bad.example"]);
  assert.deepEqual(hostToFailureIds("bad.example", "no", resolver), []);
  assert.deepEqual(hostToFailureIds("2001:DB8::1", "no", resolver), ["2001:db8::1"]);
  assert.deepEqual(await hostToFailureIds("bad.example", "yes", resolver), [
    "198.51.100.7",
    "2001:db8::7",
  ]);
});
