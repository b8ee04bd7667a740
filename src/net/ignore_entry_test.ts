import assert from "node:assert/strict";
import { parseIgnoreEntry } from "./ignore_entry.ts";

Deno.test("parseIgnoreEntry: addresses, networks and names in canonical form", () => {
  assert.deepEqual(parseIgnoreEntry("192.0.2.7"), { kind: "address", text: "192.0.2.7" });
  assert.deepEqual(parseIgnoreEntry("2001:DB8::1/128"), { kind: "address", text: "2001:db8::1" });
  const net = parseIgnoreEntry("10.1.2.3/8");
  assert.equal(net.kind, "network");
  assert.equal(net.text, "10.0.0.0/8");
  assert.deepEqual(parseIgnoreEntry("Mail.Example.org."), {
    kind: "name",
    text: "mail.example.org",
  });
  assert.deepEqual(parseIgnoreEntry("localhost"), { kind: "name", text: "localhost" });
  assert.deepEqual(parseIgnoreEntry("host-1.example"), { kind: "name", text: "host-1.example" });
});

Deno.test("parseIgnoreEntry refuses bad networks, mistyped addresses and non-names", () => {
  const bad: [string, RegExp][] = [
    ["192.0.2.0/33", /"192\.0\.2\.0\/33": prefix length 33 is more than 32/],
    ["300.1.2.3", /"300\.1\.2\.3": not an IP address/],
    ["10.1.2", /"10\.1\.2": not an IP address/],
    ["1.2.3.4.", /not an IP address/],
    ["example.123", /numeric label/],
    ["$(reboot)", /not an IP address, network or host name/],
    ["a b", /not an IP address, network or host name/],
  ];
  for (const [text, why] of bad) {
    assert.throws(() => parseIgnoreEntry(text), (e: unknown) => {
      assert.ok(e instanceof SyntaxError, text);
      assert.match(e.message, /^Invalid ignoreip entry /);
      assert.match(e.message, why);
      return true;
    });
  }
});
