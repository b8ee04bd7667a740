import assert from "node:assert/strict";
import {
  encodeFrame,
  FrameError,
  FrameReader,
  FrameTimeoutError,
  FrameTruncatedError,
  parseReply,
  parseRequest,
} from "./frames.ts";

/** A ByteSource that hands out the given chunks, then ends (or hangs when `hang`). */
function source(chunks: (string | Uint8Array)[], hang = false) {
  const queue = chunks.map((c) => typeof c === "string" ? new TextEncoder().encode(c) : c);
  return {
    read(p: Uint8Array): Promise<number | null> {
      const next = queue.shift();
      if (!next) return hang ? new Promise<never>(() => {}) : Promise.resolve(null);
      const n = Math.min(p.length, next.length);
      p.set(next.subarray(0, n));
      if (n < next.length) queue.unshift(next.subarray(n));
      return Promise.resolve(n);
    },
  };
}

Deno.test("FrameReader splits newline-delimited JSON across chunk boundaries", async () => {
  const r = new FrameReader(source(['{"a":', '1}\n{"b"', ":2}\n\n", '"x"\n']));
  assert.deepEqual(await r.next(), { a: 1 });
  assert.deepEqual(await r.next(), { b: 2 });
  assert.equal(await r.next(), "x");
  assert.equal(await r.next(), undefined);
});

Deno.test("FrameReader reports malformed JSON and goes on with the next frame", async () => {
  const r = new FrameReader(source(["{nope\n", "[1]\n"]));
  await assert.rejects(r.next(), (e: unknown) => e instanceof FrameError && !e.fatal);
  assert.deepEqual(await r.next(), [1]);
});

Deno.test("FrameReader rejects a frame over the limit as fatal, with or without newline", async () => {
  const big = "x".repeat(100);
  const r1 = new FrameReader(source([`"${big}"\n`]), { maxBytes: 50 });
  await assert.rejects(
    r1.next(),
    (e: unknown) => e instanceof FrameError && e.fatal && /larger than 50 bytes/.test(e.message),
  );
  const r2 = new FrameReader(source([big, big, big], true), { maxBytes: 50 });
  await assert.rejects(r2.next(), (e: unknown) => e instanceof FrameError && e.fatal);
});

Deno.test("FrameReader accepts a frame of exactly the limit", async () => {
  const text = `"${"y".repeat(48)}"`;
  const r = new FrameReader(source([text + "\n"]), { maxBytes: 50 });
  assert.equal(await r.next(), "y".repeat(48));
});

Deno.test("FrameReader reports a stream ending mid-frame", async () => {
  const r = new FrameReader(source(['{"a":1']));
  await assert.rejects(r.next(), FrameTruncatedError);
});

Deno.test("FrameReader times out on a frame that never completes", async () => {
  const r = new FrameReader(source(['{"a":'], true), { timeout: 20 });
  await assert.rejects(r.next(), FrameTimeoutError);
});

Deno.test("FrameReader reads a frame larger than its initial buffer", async () => {
  const value = { s: "z".repeat(100_000) };
  const r = new FrameReader(source([encodeFrame(value)]));
  assert.deepEqual(await r.next(), value);
});

Deno.test("parseRequest accepts commands and rejects other shapes", () => {
  assert.deepEqual(parseRequest({ type: "command", command: ["ping"] }), {
    type: "command",
    command: ["ping"],
  });
  assert.throws(() => parseRequest([1]), /expected a JSON object/);
  assert.throws(() => parseRequest({ type: "other" }), /unknown type "other"/);
  assert.throws(() => parseRequest({ type: "command", command: [1] }), /array of strings/);
});

Deno.test("parseReply accepts both reply shapes", () => {
  assert.deepEqual(parseReply({ ok: true, value: 1 }), { ok: true, value: 1 });
  assert.deepEqual(parseReply({ ok: true }), { ok: true, value: null });
  assert.deepEqual(parseReply({ ok: false, error: { name: "E", message: "m" } }), {
    ok: false,
    error: { name: "E", message: "m" },
  });
  assert.throws(() => parseReply({ ok: "yes" }), TypeError);
});
