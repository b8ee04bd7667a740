import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import type { AddressInfo } from "node:net";
import { cymruInfo, cymruQuestion, type TxtLookup } from "./cymru.ts";
import { parseAddress } from "./ip_address.ts";

const ip = (text: string) => parseAddress(text)!;

Deno.test("cymruQuestion: reversed octets or nibbles under Cymru's zones", () => {
  assert.equal(cymruQuestion(ip("192.0.2.10")), "10.2.0.192.origin.asn.cymru.com");
  assert.equal(
    cymruQuestion(ip("2001:db8::1")),
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.origin6.asn.cymru.com",
  );
});

/**
 * A DNS server on localhost (UDP) answering TXT questions from `zone`: a name
 * missing from it is NXDOMAIN; one whose value is `SILENT` gets no answer.
 */
async function dnsServer(zone: Record<string, string[] | "SILENT">) {
  const socket = createSocket("udp4");
  const asked: string[] = [];
  socket.on("message", (query: Uint8Array, from) => {
    const labels: string[] = [];
    let at = 12;
    while (query[at]! !== 0) {
      const len = query[at]!;
      labels.push(new TextDecoder().decode(query.subarray(at + 1, at + 1 + len)));
      at += len + 1;
    }
    const questionEnd = at + 5; // the root label, type and class
    const name = labels.join(".");
    asked.push(name);
    const records = zone[name];
    if (records === "SILENT") return;
    const rcode = records === undefined ? 3 : 0;
    const answers: number[] = [];
    for (const text of Array.isArray(records) ? records : []) {
      const bytes = new TextEncoder().encode(text);
      const rdlen = bytes.length + 1;
      // name (pointer to the question), TXT, IN, TTL 60, rdata: one string
      answers.push(
        0xc0,
        12,
        0,
        16,
        0,
        1,
        0,
        0,
        0,
        60,
        rdlen >> 8,
        rdlen & 255,
        bytes.length,
        ...bytes,
      );
    }
    const count = Array.isArray(records) ? records.length : 0;
    const header = [query[0]!, query[1]!, 0x81, 0x80 | rcode, 0, 1, 0, count, 0, 0, 0, 0];
    const reply = new Uint8Array([...header, ...query.subarray(12, questionEnd), ...answers]);
    socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const port = (socket.address() as AddressInfo).port;
  const lookup: TxtLookup = (name) =>
    Deno.resolveDns(name, "TXT", {
      nameServer: { ipAddr: "127.0.0.1", port },
      signal: AbortSignal.timeout(500),
    });
  return { lookup, asked, close: () => new Promise<void>((r) => socket.close(() => r())) };
}

Deno.test("cymruInfo asks a real DNS server: ASN, country and registry; nxdomain; an error ends the queries", async () => {
  const dns = await dnsServer({
    "10.2.0.192.origin.asn.cymru.com": ["64500 | 192.0.2.0/24 | ZZ | ripencc | 2001-01-01"],
    "11.2.0.192.origin.asn.cymru.com": [
      "64501 | 192.0.2.0/24 | ZY | arin | 2002-01-01",
      "64500 | 192.0.2.0/25 |  | arin | 2002-01-01",
    ],
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.origin6.asn.cymru.com": [
      "64502 | 2001:db8::/32 | ZX | apnic | 2003-01-01",
    ],
    "13.2.0.192.origin.asn.cymru.com": "SILENT",
  });
  try {
    const found = await cymruInfo(
      [ip("192.0.2.10"), ip("192.0.2.11"), ip("192.0.2.12"), null, ip("2001:db8::1")],
      dns.lookup,
    );
    assert.deepEqual(found, {
      asn: ["64500", "64500, 64501", "nxdomain", "unknown", "64502"],
      country: ["ZZ", "ZY, unknown", "nxdomain", "unknown", "ZX"],
      rir: ["ripencc", "arin", "nxdomain", "unknown", "apnic"],
    });
    const failed = await cymruInfo(
      [ip("192.0.2.10"), ip("192.0.2.13"), ip("192.0.2.10")],
      dns.lookup,
    );
    assert.deepEqual([failed.asn, failed.country, failed.rir], [["64500"], ["ZZ"], ["ripencc"]]);
    assert.ok(failed.error, "the DNS error is kept");
    assert.equal(dns.asked.filter((n) => n.startsWith("13.")).length >= 1, true);
  } finally {
    await dns.close();
  }
});
