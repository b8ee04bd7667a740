import assert from "node:assert/strict";
import {
  fileAccess,
  findStart,
  firstLineHash,
  type RandomAccess,
  tailStart,
} from "./start_position.ts";

const enc = new TextEncoder();

/** Times are `YYYY-MM-DDTHH:MM:SS` at the line start, UTC. */
function isoDate(line: string): number | null {
  if (line.length < 19 || line[4] !== "-" || line[10] !== "T") return null;
  const t = Date.parse(line.slice(0, 19) + "Z");
  return Number.isNaN(t) ? null : t / 1000;
}

function iso(t: number): string {
  return new Date(t * 1000).toISOString().slice(0, 19);
}

function memory(text: string | Uint8Array): RandomAccess & { bytes: Uint8Array } {
  const bytes = typeof text === "string" ? enc.encode(text) : text;
  return {
    bytes,
    readAt(buf, offset) {
      const part = bytes.subarray(offset, offset + buf.length);
      buf.set(part);
      return part.length;
    },
  };
}

function logOf(times: (number | null)[]): string {
  return times.map((
    t,
    i,
  ) => (t === null ? `  continuation ${i}\n` : `${iso(t)} host sshd[${i}]: line ${i}\n`))
    .join("");
}

const T0 = 1_700_000_000;

Deno.test("findStart resumes at a saved position when the first line hash matches", () => {
  const f = memory(logOf([T0, T0 + 1, T0 + 2]));
  const hash = firstLineHash(f, f.bytes.length);
  assert.match(hash, /^[0-9a-f]{32}$/);
  const r = findStart(f, {
    size: f.bytes.length,
    hash,
    saved: { path: "/x", offset: 41, firstLineHash: hash },
    since: T0 + 100,
    dateOf: isoDate,
  });
  assert.deepEqual(r, { offset: 41, reason: "saved", bytesRead: 1 });
});

Deno.test("findStart does not resume at a saved offset that is no longer a line start", () => {
  const f = memory(logOf(Array.from({ length: 100 }, (_, i) => T0 + i)));
  const hash = firstLineHash(f, f.bytes.length);
  const r = findStart(f, {
    size: f.bytes.length,
    hash,
    saved: { path: "/x", offset: 40, firstLineHash: hash },
    since: T0 + 50,
    dateOf: isoDate,
  });
  assert.equal(r.reason, "seek");
  assert.equal(new TextDecoder().decode(f.bytes.subarray(r.offset, r.offset + 19)), iso(T0 + 50));
});

Deno.test("findStart ignores a saved position of another file and seeks by time", () => {
  const text = logOf(Array.from({ length: 1000 }, (_, i) => T0 + i));
  const f = memory(text);
  const r = findStart(f, {
    size: f.bytes.length,
    hash: firstLineHash(f, f.bytes.length),
    saved: { path: "/x", offset: 5, firstLineHash: "0".repeat(32) },
    since: T0 + 700,
    dateOf: isoDate,
    window: 256,
  });
  assert.equal(r.reason, "seek");
  assert.equal(text.slice(r.offset, r.offset + 19), iso(T0 + 700));
});

Deno.test("findStart finds the first line at or after since, with undated lines around", () => {
  const times: (number | null)[] = [];
  for (let i = 0; i < 3000; i++) times.push(i % 7 === 3 ? null : T0 + Math.floor(i / 3));
  const text = logOf(times);
  const f = memory(text);
  for (const since of [T0 - 5, T0, T0 + 1, T0 + 333, T0 + 500, T0 + 998, T0 + 999]) {
    const r = findStart(f, {
      size: f.bytes.length,
      hash: "",
      saved: null,
      since,
      dateOf: isoDate,
      window: 200,
    });
    const expect = times.findIndex((t) => t !== null && t >= since);
    const offset = enc.encode(logOf(times.slice(0, expect))).length;
    assert.equal(r.offset, offset, `since ${since - T0}`);
  }
});

Deno.test("findStart starts at the end when every line is older than since", () => {
  const text = logOf(Array.from({ length: 500 }, (_, i) => T0 + i)) + "partial";
  const f = memory(text);
  const r = findStart(f, {
    size: f.bytes.length,
    hash: "",
    saved: null,
    since: T0 + 9999,
    dateOf: isoDate,
  });
  assert.deepEqual([r.reason, r.offset], ["end", text.length - "partial".length]);
});

Deno.test("findStart starts at the end of a file without dates", () => {
  const text = "no date here\n".repeat(100_000);
  const f = memory(text);
  const r = findStart(f, {
    size: f.bytes.length,
    hash: "",
    saved: null,
    since: T0,
    dateOf: isoDate,
  });
  assert.deepEqual([r.reason, r.offset], ["end", text.length]);
  assert.ok(r.bytesRead < 64 * 1024, `read ${r.bytesRead}`);
});

Deno.test("findStart on an empty file", () => {
  const r = findStart(memory(""), { size: 0, hash: "", saved: null, since: T0, dateOf: isoDate });
  assert.deepEqual(r, { offset: 0, reason: "empty", bytesRead: 0 });
});

Deno.test("firstLineHash is empty until the first line is complete", () => {
  assert.equal(firstLineHash(memory("abc"), 3), "");
  // md5("abc\n")
  assert.equal(firstLineHash(memory("abc\ndef"), 7), "0bee89b07a248e27c83fc3d5951213c1");
});

Deno.test("findStart reads only a few KiB of a 260 MB log on disk", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/big.log`;
    const file = Deno.openSync(path, { write: true, create: true });
    const lineLen = 80;
    const perChunk = 16384;
    const chunks = 200;
    let t = T0;
    for (let c = 0; c < chunks; c++) {
      let s = "";
      for (let i = 0; i < perChunk; i++, t++) {
        s += `${iso(t)} srv sshd[1]: Failed password for x from 10.0.0.1`.padEnd(lineLen - 1) +
          "\n";
      }
      const bytes = enc.encode(s);
      let off = 0;
      while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
    }
    file.close();
    const size = Deno.statSync(path).size;
    assert.equal(size, lineLen * perChunk * chunks);
    const since = t - 600;
    const f = Deno.openSync(path);
    try {
      const access = fileAccess(f);
      const r = findStart(access, {
        size,
        hash: firstLineHash(access, size),
        saved: null,
        since,
        dateOf: isoDate,
      });
      assert.equal(r.reason, "seek");
      assert.equal(r.offset, size - 600 * lineLen);
      assert.ok(r.bytesRead < 256 * 1024, `read ${r.bytesRead} bytes`);
      if (Deno.env.get("F2B_SHOW")) console.log(`bytesRead ${r.bytesRead}`);
    } finally {
      f.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("tailStart is the end, or the start of a last line still being written", () => {
  assert.equal(tailStart(memory(""), 0), 0);
  assert.equal(tailStart(memory("a\nb\n"), 4), 4);
  assert.equal(tailStart(memory("a\nb\npart"), 8), 4);
  assert.equal(tailStart(memory("no line feed yet"), 16), 0);
  // A last line longer than the probe window is found across several reads.
  const long = "x\n" + "y".repeat(10_000);
  assert.equal(tailStart(memory(long), long.length), 2);
  // One longer than 1 MiB is skipped: the end.
  const huge = "x\n" + "y".repeat(1024 * 1024 + 10);
  assert.equal(tailStart(memory(huge), huge.length), huge.length);
});
