import assert from "node:assert/strict";
import type { LogPosition } from "../ipc/messages.ts";
import { LogTailer, type LogTailerOptions } from "./log_tailer.ts";

/** Records what a tailer reports. */
class Recorder {
  lines: string[] = [];
  live: boolean[] = [];
  positions = new Map<string, LogPosition>();
  logs: string[] = [];
  line(text: string, _path: string, live: boolean) {
    this.lines.push(text);
    this.live.push(live);
  }
  position(p: LogPosition) {
    this.positions.set(p.path, p);
  }
  log(level: string, message: string) {
    this.logs.push(`${level} ${message}`);
  }
}

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function append(path: string, text: string | Uint8Array) {
  const data = typeof text === "string" ? new TextEncoder().encode(text) : text;
  Deno.writeFileSync(path, data, { append: true, create: true });
}

function polling(logpath: string[], extra: Partial<LogTailerOptions> = {}): LogTailerOptions {
  return { logpath, backend: "polling", pollInterval: 60_000, globInterval: 0, ...extra };
}

/** What {@link withTailer} hands its test. */
interface Tailing {
  tailer: LogTailer;
  rec: Recorder;
  path: string;
  dir: string;
}

/**
 * In a fresh directory: `a.log` holding `initial`, a polling tailer on it (with
 * `extra` options) reporting to a Recorder; runs `fn`, then stops the tailer.
 */
async function withTailer(
  initial: string | Uint8Array,
  extra: Partial<LogTailerOptions>,
  fn: (t: Tailing) => Promise<void>,
): Promise<void> {
  await withDir(async (dir) => {
    const path = `${dir}/a.log`;
    append(path, initial);
    const rec = new Recorder();
    const tailer = new LogTailer(polling([path], extra), rec);
    try {
      await fn({ tailer, rec, path, dir });
    } finally {
      await tailer.stop();
    }
  });
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000) {
  const until = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > until) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

Deno.test("LogTailer starts at the end by default and reads appended lines", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/a.log`;
    append(path, "old 1\nold 2\n");
    const rec = new Recorder();
    const tailer = new LogTailer(polling([path]), rec);
    try {
      await tailer.start();
      assert.deepEqual(rec.lines, []);
      append(path, "new 1\nnew 2\npart");
      await tailer.poll();
      assert.deepEqual(rec.lines, ["new 1", "new 2"]);
      assert.deepEqual(rec.live, [true, true]);
      assert.equal(rec.positions.get(path)?.offset, 24);
      assert.match(rec.positions.get(path)?.firstLineHash ?? "", /^[0-9a-f]{32}$/);
      append(path, "ial\r\n");
      await tailer.poll();
      assert.deepEqual(rec.lines, ["new 1", "new 2", "partial"]);
    } finally {
      const last = await tailer.stop();
      assert.deepEqual(last.map((p) => p.offset), [33]);
    }
  });
});

Deno.test("LogTailer uses startAt for configured files and marks the backlog not live", async () => {
  await withTailer(
    "one\ntwo\nthree\n",
    { startAt: () => ({ offset: 4 }) },
    async ({ tailer, rec, path }) => {
      await tailer.start();
      assert.deepEqual(rec.lines, ["two", "three"]);
      assert.deepEqual(rec.live, [false, false]);
      append(path, "four\n");
      await tailer.poll();
      assert.deepEqual(rec.live, [false, false, true]);
    },
  );
});

Deno.test("LogTailer skips the line at a skipLine start", async () => {
  await withTailer(
    "one\nhostile\nthree\n",
    { startAt: () => ({ offset: 4, skipLine: true }) },
    async ({ tailer, rec }) => {
      await tailer.start();
      assert.deepEqual(rec.lines, ["three"]);
      assert.ok(rec.logs.some((l) => l.includes("Skipped the line")));
    },
  );
});

Deno.test("LogTailer skips only the line ending at skipLineEnd and reads its neighbours", async () => {
  await withTailer("zero\none\nhostile\nthree\n", {
    startAt: () => ({ offset: 5, skipLineEnd: 17 }),
  }, async ({ tailer, rec, path }) => {
    await tailer.start();
    assert.deepEqual(rec.lines, ["one", "three"]);
    assert.ok(rec.logs.some((l) => l.includes(`Skipped the line of "${path}" ending at 17`)));
    // Only once: a later line is not skipped.
    append(path, "hostile\n");
    await tailer.poll();
    assert.deepEqual(rec.lines, ["one", "three", "hostile"]);
  });
});

Deno.test("LogTailer decodes CRLF, invalid UTF-8 and NUL bytes", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/a.log`;
    const rec = new Recorder();
    const tailer = new LogTailer(polling([path]), rec);
    try {
      append(path, "");
      await tailer.start();
      append(path, new Uint8Array([0x61, 0x0d, 0x0a, 0xfe, 0x00, 0x62, 0x0a]));
      await tailer.poll();
      assert.deepEqual(rec.lines, ["a", "\uFFFD\u0000b"]);
    } finally {
      await tailer.stop();
    }
  });
});

Deno.test("LogTailer reacts to file-system events without polling", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/a.log`;
    append(path, "");
    const rec = new Recorder();
    const tailer = new LogTailer({ logpath: [path], backend: "auto", pollInterval: 600_000 }, rec);
    try {
      await tailer.start();
      assert.equal(tailer.watching, true);
      append(path, "hello\n");
      await waitFor("the line", () => rec.lines.length === 1);
      assert.deepEqual(rec.lines, ["hello"]);
    } finally {
      await tailer.stop();
    }
  });
});

Deno.test("LogTailer rejects an unknown logencoding", () => {
  assert.throws(
    () => new LogTailer({ logpath: ["/x"], encoding: "klingon" }, new Recorder()),
    /Unknown logencoding: "klingon"/,
  );
});

Deno.test("LogTailer update switches the encoding of open files", async () => {
  await withTailer("", {}, async ({ tailer, rec, path }) => {
    await tailer.start();
    append(path, new Uint8Array([0x5a, 0xfc, 0x0a]));
    await tailer.poll();
    await tailer.update(polling([path], { encoding: "latin-1" }));
    append(path, new Uint8Array([0x5a, 0xfc, 0x0a]));
    await tailer.poll();
    assert.deepEqual(rec.lines, ["Z\uFFFD", "Zü"]);
    await assert.rejects(
      () => tailer.update(polling([path], { encoding: "bogus" })),
      /Unknown logencoding/,
    );
  });
});

Deno.test("LogTailer reads each line once after taking the first-line hash of a file that started empty", async () => {
  await withTailer("", {}, async ({ tailer, rec, path }) => {
    await tailer.start();
    // More than the 1 KiB the first-line hash reads, so that read leaves the file pointer
    // inside what was already read.
    const first = Array.from({ length: 300 }, (_, i) => `line ${String(i).padStart(3, "0")}\n`);
    append(path, first.join(""));
    await tailer.poll();
    // No growth: nothing new to read.
    await tailer.poll();
    append(path, "line 300\n");
    await tailer.poll();
    await tailer.poll();
    assert.deepEqual(rec.lines, [...first.map((l) => l.slice(0, -1)), "line 300"]);
    assert.equal(rec.positions.get(path)?.offset, 300 * 9 + 9);
  });
});

Deno.test("LogTailer counts every line exactly once while events and polling race on a fast writer", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/a.log`;
    append(path, "");
    let count = 0;
    let sum = 0;
    let bad = 0;
    let expectNext = 0;
    const sink = {
      line(text: string) {
        const n = Number(text.slice(5, 12));
        if (n !== expectNext) bad++;
        expectNext = n + 1;
        count++;
        sum += n;
      },
      position() {},
      log() {},
    };
    const tailer = new LogTailer({ logpath: [path], backend: "auto", pollInterval: 1 }, sink);
    const lines = 200_000;
    try {
      await tailer.start();
      assert.equal(tailer.watching, true);
      const file = await Deno.open(path, { append: true });
      try {
        const enc = new TextEncoder();
        let batch = "";
        for (let i = 0; i < lines; i++) {
          batch += `line ${String(i).padStart(7, "0")} failure from 10.0.${i >> 8 & 255}.${
            i & 255
          }\n`;
          // Odd-sized writes, some ending inside a line, some large enough to make the reader yield.
          if (batch.length > (i % 7 === 0 ? 1_500_000 : 3_000)) {
            const bytes = enc.encode(batch);
            const cut = (i % 3) * 17;
            await file.write(bytes.subarray(0, bytes.length - cut));
            batch = batch.slice(batch.length - cut);
            // Now and then a pause, so polls also find nothing new.
            if (i % 5 === 0) await new Promise((r) => setTimeout(r, i % 11 === 0 ? 3 : 0));
          }
        }
        await file.write(enc.encode(batch));
      } finally {
        file.close();
      }
      await waitFor("all lines", () => count >= lines, 30_000);
      // Let the events and polls that are still due run.
      for (let i = 0; i < 20; i++) await tailer.poll();
      await new Promise((r) => setTimeout(r, 50));
      await tailer.idle();
      assert.equal(count, lines);
      assert.equal(bad, 0);
      assert.equal(sum, (lines - 1) * lines / 2);
    } finally {
      await tailer.stop();
    }
  });
});
