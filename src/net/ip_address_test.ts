import assert from "node:assert/strict";
import {
  addressFamily,
  canonicalAddress,
  isValidHostText,
  parseAddress,
  parseNetwork,
  parseNetworkOrThrow,
} from "./ip_address.ts";

Deno.test("parseAddress gives one canonical key per IPv4 address", () => {
  assert.equal(canonicalAddress("192.0.2.1"), "192.0.2.1");
  assert.equal(canonicalAddress("0.0.0.0"), "0.0.0.0");
  assert.equal(canonicalAddress("255.255.255.255"), "255.255.255.255");
  assert.equal(canonicalAddress("[192.0.2.1]"), "192.0.2.1");
  assert.equal(addressFamily("192.0.2.1"), "inet4");
});

Deno.test("parseAddress rejects what inet_pton rejects, like fail2ban's IPAddr", () => {
  // Leading zeros are not an address (fail2ban keeps such text raw, never octal).
  for (
    const text of [
      "192.030.0.6",
      "01.2.3.4",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "1.2.3.256",
      " 1.2.3.4",
      "1.2.3.4 ",
      "+1.2.3.4",
      "1..2.3",
      "",
      "example.com",
      "1:",
      ":1::",
      "1:::2",
      "1::2::3",
      "00001::",
      "1:2:3:4:5:6:7:8:9",
      "1::2:3:4:5:6:7:8",
      "1:2:3:4:5:6:7:1.2.3.4",
      "::1.2.3",
      "::1.2.03.4",
      "fe80::1%",
      "fe80::1%a b",
      "[]",
      "[1.2.3.4",
      "g::1",
    ]
  ) {
    assert.equal(parseAddress(text), null, text);
  }
});

Deno.test("parseAddress writes IPv6 as inet_ntop does (RFC 5952)", () => {
  const cases: [string, string][] = [
    ["2001:DB8::1", "2001:db8::1"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["[2001:db8::1]", "2001:db8::1"],
    ["::", "::"],
    ["::0:0:0:0:0:0:0", "::"],
    ["::1", "::1"],
    ["::2", "::2"],
    ["1::", "1::"],
    ["1:0:0:1:0:0:0:1", "1:0:0:1::1"],
    ["1:0:0:2:0:0:3:4", "1::2:0:0:3:4"],
    ["0:0:1:0:0:0:0:0", "0:0:1::"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"],
    ["64:ff9b::1.2.3.4", "64:ff9b::102:304"],
    ["::1.2.3.4", "::1.2.3.4"],
    ["::1:0", "::0.1.0.0"],
    ["::0.0.1.0", "::100"],
    ["::fffe:1.2.3.4", "::fffe:102:304"],
    ["::ffff:0:1.2.3.4", "::ffff:0:102:304"],
  ];
  for (const [input, expected] of cases) {
    const a = parseAddress(input);
    assert.equal(a?.canonical, expected, input);
    assert.equal(a?.family, "inet6", input);
  }
});

Deno.test("IPv4-mapped IPv6 addresses are the IPv4 address", () => {
  for (
    const text of ["::ffff:1.2.3.4", "::FFFF:102:304", "[::ffff:1.2.3.4]", "0:0:0:0:0:ffff:1.2.3.4"]
  ) {
    const a = parseAddress(text);
    assert.equal(a?.canonical, "1.2.3.4", text);
    assert.equal(a?.family, "inet4", text);
    assert.ok(a?.equals(parseAddress("1.2.3.4")!));
  }
});

Deno.test("a zone id is kept apart from the canonical key", () => {
  const a = parseAddress("fe80::1%eth0")!;
  assert.equal(a.canonical, "fe80::1");
  assert.equal(a.zone, "eth0");
  assert.ok(a.equals(parseAddress("FE80::1")!));
});

Deno.test("parseNetwork reads prefixes and masks and clears host bits", () => {
  const cases: [string, string][] = [
    ["10.0.0.0/8", "10.0.0.0/8"],
    ["10.1.2.3/8", "10.0.0.0/8"],
    ["127.0.0.1/8", "127.0.0.0/8"],
    ["1.2.3.4/255.255.0.0", "1.2.0.0/16"],
    ["1.2.3.4/08", "1.0.0.0/8"],
    ["1.2.3.4/32", "1.2.3.4"],
    ["1.2.3.4", "1.2.3.4"],
    ["0.0.0.0/0", "0.0.0.0/0"],
    ["2001:db8::/32", "2001:db8::/32"],
    ["2001:db8::1/64", "2001:db8::/64"],
    ["[2001:db8::1]/64", "2001:db8::/64"],
    ["::1/ffff:ffff::", "::/32"],
    ["::1", "::1"],
    ["::/0", "::/0"],
    ["::ffff:1.2.3.4/120", "1.2.3.0/24"],
  ];
  for (const [input, expected] of cases) {
    assert.equal(parseNetwork(input)?.canonical, expected, input);
  }
  for (
    const bad of [
      "1.2.3.4/33",
      "1.2.3.4/",
      "1.2.3.4/-1",
      "1.2.3.4/255.0.255.0",
      "2001:db8::/129",
      "a/8",
      "1.2.3.4/ffff::",
    ]
  ) {
    assert.equal(parseNetwork(bad), null, bad);
  }
  assert.throws(() => parseNetworkOrThrow("1.2.3.4/33", "ignoreip entry"), {
    name: "SyntaxError",
    message: 'Invalid ignoreip entry "1.2.3.4/33": prefix length 33 is more than 32',
  });
});

Deno.test("IPNetwork.contains checks family and prefix bits", () => {
  const net4 = parseNetwork("192.168.0.0/16")!;
  assert.ok(net4.contains(parseAddress("192.168.255.1")!));
  assert.ok(net4.contains(parseAddress("::ffff:192.168.1.1")!));
  assert.ok(!net4.contains(parseAddress("192.169.0.1")!));
  assert.ok(!net4.contains(parseAddress("::1")!));
  const all4 = parseNetwork("0.0.0.0/0")!;
  assert.ok(all4.contains(parseAddress("255.255.255.255")!));
  assert.ok(!all4.contains(parseAddress("2001:db8::1")!));
  const net6 = parseNetwork("2001:db8:1234::/47")!;
  assert.ok(net6.contains(parseAddress("2001:db8:1235:ffff::1")!));
  assert.ok(!net6.contains(parseAddress("2001:db8:1236::1")!));
  const odd = parseNetwork("2001:db8::/33")!;
  assert.ok(odd.contains(parseAddress("2001:db8:7fff::1")!));
  assert.ok(!odd.contains(parseAddress("2001:db8:8000::1")!));
  const single = parseNetwork("10.0.0.1")!;
  assert.ok(single.isSingle);
  assert.ok(single.contains(parseAddress("10.0.0.1")!));
  assert.ok(!single.contains(parseAddress("10.0.0.2")!));
  assert.ok(parseAddress("10.9.8.7")!.isInNetwork(parseNetwork("10.0.0.0/8")!));
});

Deno.test("reversePointer gives the PTR name", () => {
  assert.equal(parseAddress("192.0.2.1")!.reversePointer(), "1.2.0.192.in-addr.arpa.");
  assert.equal(
    parseAddress("2001:db8::1")!.reversePointer(),
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
  );
});

Deno.test("isValidHostText accepts addresses and host names only", () => {
  for (
    const ok of [
      "1.2.3.4",
      "2001:db8::1",
      "example.com",
      "mail-1.example.org.",
      "a_b.c",
      "localhost",
    ]
  ) {
    assert.ok(isValidHostText(ok), ok);
  }
  for (
    const bad of [
      "",
      "-a.com",
      "a-.com",
      "a..com",
      "a b",
      "a;rm -rf",
      "$(id)",
      "`x`",
      "a".repeat(64) + ".com",
      ".",
    ]
  ) {
    assert.ok(!isValidHostText(bad), bad);
  }
});
