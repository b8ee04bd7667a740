import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { md5Hex } from "./md5.ts";

Deno.test("md5Hex matches RFC 1321's test suite", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  assert.equal(md5Hex(enc("")), "d41d8cd98f00b204e9800998ecf8427e");
  assert.equal(md5Hex(enc("a")), "0cc175b9c0f1b6a831c399e269772661");
  assert.equal(md5Hex(enc("abc")), "900150983cd24fb0d6963f7d28e17f72");
  assert.equal(md5Hex(enc("message digest")), "f96b697d7cb7938d525a2f31aaf161d0");
  assert.equal(
    md5Hex(enc("12345678901234567890123456789012345678901234567890123456789012345678901234567890")),
    "57edf4a22be3c955ac49da2e2107b67a",
  );
});

Deno.test("md5Hex agrees with node:crypto at every padding boundary and on random bytes", () => {
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) & 0xff;
  for (
    const len of [0, 1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 65536, 70001]
  ) {
    const bytes = Uint8Array.from({ length: len }, rand);
    assert.equal(md5Hex(bytes), createHash("md5").update(bytes).digest("hex"), `length ${len}`);
  }
});
