import assert from "node:assert/strict";
import { LINE_PROGRESS_BYTES, LineProgress } from "./line_progress.ts";

Deno.test("LineProgress publishes the line in progress, its path and 64-bit offsets", () => {
  const buffer = new SharedArrayBuffer(LINE_PROGRESS_BYTES);
  const worker = new LineProgress(buffer);
  const reader = new LineProgress(buffer);
  assert.equal(reader.current(), null);
  worker.begin("/var/log/auth.log", 120);
  assert.deepEqual(reader.current(), { path: "/var/log/auth.log", end: 120 });
  worker.done();
  assert.equal(reader.current(), null);
  worker.begin("/var/log/é.log", 5 * 2 ** 32 + 7);
  assert.deepEqual(reader.current(), { path: "/var/log/é.log", end: 5 * 2 ** 32 + 7 });
  worker.begin("/var/log/é.log", 2 ** 31 + 1);
  assert.deepEqual(reader.current(), { path: "/var/log/é.log", end: 2 ** 31 + 1 });
  worker.begin("/a", 1);
  assert.deepEqual(reader.current(), { path: "/a", end: 1 });
});

Deno.test("LineProgress reports no path that did not fit, and rejects a small buffer", () => {
  const buffer = new SharedArrayBuffer(LINE_PROGRESS_BYTES);
  const worker = new LineProgress(buffer);
  worker.begin(`/${"x".repeat(LINE_PROGRESS_BYTES)}`, 10);
  assert.equal(new LineProgress(buffer).current(), null);
  assert.throws(() => new LineProgress(new SharedArrayBuffer(64)), RangeError);
});

Deno.test("LineProgress is read from another thread while the writer is stuck", async () => {
  const buffer = new SharedArrayBuffer(LINE_PROGRESS_BYTES);
  const url = new URL("./line_progress.ts", import.meta.url).href;
  const src = `import { LineProgress } from "${url}";
self.onmessage = (e) => {
  const p = new LineProgress(e.data);
  for (let i = 1; i <= 1000; i++) { p.begin("/log/" + (i % 3), i * 100); p.done(); }
  p.begin("/log/stuck", 123456789012);
  self.postMessage("stuck");
  for (;;) {}
};`;
  const worker = new Worker(`data:application/javascript,${encodeURIComponent(src)}`, {
    type: "module",
  });
  try {
    const stuck = new Promise((r) => (worker.onmessage = r));
    worker.postMessage(buffer);
    await stuck;
    assert.deepEqual(new LineProgress(buffer).current(), {
      path: "/log/stuck",
      end: 123456789012,
    });
  } finally {
    worker.terminate();
  }
});
