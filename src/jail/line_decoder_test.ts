import assert from "node:assert/strict";
import { LineDecoder } from "./line_decoder.ts";

const enc = new TextEncoder();

function collect(d: LineDecoder, ...chunks: (string | Uint8Array)[]) {
  const lines: [string, number][] = [];
  const dropped: [number, number][] = [];
  for (const c of chunks) {
    d.push(typeof c === "string" ? enc.encode(c) : c, {
      line: (t, end) => lines.push([t, end]),
      oversize: (b, end) => dropped.push([b, end]),
    });
  }
  return { lines, dropped };
}

Deno.test("LineDecoder splits lines with exact end offsets and strips CR", () => {
  const d = new LineDecoder({}, 100);
  const { lines } = collect(d, "ab\r\ncd\n\nx\ry\n");
  assert.deepEqual(lines, [["ab", 104], ["cd", 107], ["", 108], ["x\ry", 112]]);
  assert.equal(d.lineOffset, 112);
});

Deno.test("LineDecoder holds a partial last line until its line feed", () => {
  const d = new LineDecoder();
  const first = collect(d, "one\ntw");
  assert.deepEqual(first.lines, [["one", 4]]);
  assert.equal(d.lineOffset, 4);
  assert.equal(d.offset, 6);
  assert.equal(d.pendingBytes, 2);
  const second = collect(d, "o", "\r", "\nthree");
  assert.deepEqual(second.lines, [["two", 9]]);
  assert.equal(d.lineOffset, 9);
});

Deno.test("LineDecoder replaces invalid UTF-8 and keeps NUL bytes", () => {
  const d = new LineDecoder();
  const bytes = new Uint8Array([0x61, 0xff, 0xc3, 0x62, 0x00, 0x63, 0x0a]);
  const { lines } = collect(d, bytes);
  assert.deepEqual(lines, [["a\uFFFD\uFFFDb\u0000c", 7]]);
});

Deno.test("LineDecoder splits a multi-byte character across chunks correctly", () => {
  const d = new LineDecoder();
  const bytes = enc.encode("Zürich\n");
  const { lines } = collect(d, bytes.subarray(0, 2), bytes.subarray(2));
  assert.deepEqual(lines, [["Zürich", 8]]);
});

Deno.test("LineDecoder decodes latin-1 with logencoding", () => {
  const d = new LineDecoder({ encoding: "latin-1" });
  const { lines } = collect(d, new Uint8Array([0x5a, 0xfc, 0x72, 0x0a]));
  assert.deepEqual(lines, [["Zür", 4]]);
});

Deno.test("LineDecoder accepts Python codec names", () => {
  for (const name of ["latin_1", "ISO8859-15", "utf8", "UTF-8", "auto", "cp1252", "ascii"]) {
    new LineDecoder({ encoding: name });
  }
});

Deno.test("LineDecoder rejects unknown and UTF-16 encodings", () => {
  assert.throws(() => new LineDecoder({ encoding: "nope" }), /Unknown logencoding: "nope"/);
  assert.throws(() => new LineDecoder({ encoding: "utf-16le" }), /UTF-16/);
});

Deno.test("LineDecoder drops an over-long line whole and keeps offsets exact", () => {
  const d = new LineDecoder({ maxLineBytes: 8 });
  const { lines, dropped } = collect(
    d,
    "12345678\r\n",
    "1234",
    "56789",
    "abc from 10.0.0.1",
    "\nok\n123456789\n",
  );
  assert.deepEqual(lines, [["12345678", 10], ["ok", 40]]);
  assert.deepEqual(dropped, [[26, 37], [9, 50]]);
  assert.equal(d.lineOffset, 50);
});

Deno.test("LineDecoder keeps memory bounded for a 10 MB line", () => {
  const d = new LineDecoder();
  const chunk = new Uint8Array(1 << 20).fill(0x41);
  const dropped: number[] = [];
  const sink = {
    line: () => assert.fail("no line expected"),
    oversize: (b: number) => dropped.push(b),
  };
  for (let i = 0; i < 10; i++) d.push(chunk, sink);
  d.push(enc.encode("\n"), sink);
  assert.deepEqual(dropped, [10 << 20]);
  assert.equal(d.lineOffset, (10 << 20) + 1);
});

Deno.test("LineDecoder flush emits a held last line, reset forgets it", () => {
  const d = new LineDecoder();
  collect(d, "tail");
  const got: string[] = [];
  assert.equal(d.flush({ line: (t) => got.push(t) }), true);
  assert.deepEqual(got, ["tail"]);
  assert.equal(d.lineOffset, 4);
  collect(d, "xx");
  d.reset(0);
  assert.equal(d.pendingBytes, 0);
  assert.deepEqual(collect(d, "y\n").lines, [["y", 2]]);
});
