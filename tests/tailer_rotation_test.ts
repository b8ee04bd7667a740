/**
 * The tailer against real files rotated for real: rename, copytruncate, copies, deletion,
 * files that appear later, globs.
 */
import assert from "node:assert/strict";
import type { LogPosition } from "../src/ipc/messages.ts";
import { LogTailer, type LogTailerOptions } from "../src/jail/log_tailer.ts";

class Recorder {
  lines: string[] = [];
  paths: string[] = [];
  positions = new Map<string, LogPosition>();
  logs: string[] = [];
  line(text: string, path: string) {
    this.lines.push(text);
    this.paths.push(path);
  }
  position(p: LogPosition) {
    this.positions.set(p.path, p);
  }
  log(level: string, message: string) {
    this.logs.push(`${level} ${message}`);
  }
  warnings(): string[] {
    return this.logs.filter((l) => l.startsWith("WARNING"));
  }
}

async function withTailer(
  options: (dir: string) => Partial<LogTailerOptions> & { logpath: string[] },
  fn: (dir: string, tailer: LogTailer, rec: Recorder) => Promise<void>,
) {
  const dir = await Deno.makeTempDir();
  const rec = new Recorder();
  let tailer: LogTailer | null = null;
  try {
    tailer = new LogTailer(
      { backend: "polling", pollInterval: 60_000, globInterval: 0, ...options(dir) },
      rec,
    );
    await fn(dir, tailer, rec);
  } finally {
    await tailer?.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

function append(path: string, text: string) {
  Deno.writeFileSync(path, new TextEncoder().encode(text), { append: true, create: true });
}

Deno.test("rename rotation drains the old file's unread tail, then reads the new file from its start", async () => {
  await withTailer((dir) => ({ logpath: [`${dir}/auth.log`] }), async (dir, tailer, rec) => {
    const path = `${dir}/auth.log`;
    append(path, "before start\n");
    await tailer.start();
    append(path, "a1\n");
    await tailer.poll();
    // Written after the last read, then the file is renamed away (logrotate's create mode).
    append(path, "a2\na3 partial");
    await Deno.rename(path, `${path}.1`);
    append(path, "b1\nb2\n");
    await tailer.poll();
    assert.deepEqual(rec.lines, ["a1", "a2", "a3 partial", "b1", "b2"]);
    assert.equal(rec.positions.get(path)?.offset, 6);
    append(path, "b3\n");
    await tailer.poll();
    assert.deepEqual(rec.lines.slice(5), ["b3"]);
  });
});

Deno.test("copytruncate resets the position and reads each new line once", async () => {
  await withTailer((dir) => ({ logpath: [`${dir}/auth.log`] }), async (dir, tailer, rec) => {
    const path = `${dir}/auth.log`;
    append(path, "");
    await tailer.start();
    append(path, "line one is long enough\nline two\n");
    await tailer.poll();
    await Deno.copyFile(path, `${path}.1`);
    await Deno.truncate(path, 0);
    append(path, "c1\n");
    await tailer.poll();
    assert.deepEqual(rec.lines, ["line one is long enough", "line two", "c1"]);
    append(path, "c2\n");
    await tailer.poll();
    assert.deepEqual(rec.lines.slice(2), ["c1", "c2"]);
  });
});

Deno.test("copytruncate noticed only after the file grew past the old position", async () => {
  await withTailer((dir) => ({ logpath: [`${dir}/auth.log`] }), async (dir, tailer, rec) => {
    const path = `${dir}/auth.log`;
    append(path, "");
    await tailer.start();
    append(path, "Nov 25 10:00:00 x1\n");
    await tailer.poll();
    await Deno.truncate(path, 0);
    append(path, "Nov 25 10:05:00 y1\nNov 25 10:05:01 y2\n");
    await tailer.poll();
    assert.deepEqual(rec.lines, ["Nov 25 10:00:00 x1", "Nov 25 10:05:00 y1", "Nov 25 10:05:01 y2"]);
  });
});

Deno.test("a replacement that is a copy of the same log is not read twice", async () => {
  await withTailer((dir) => ({ logpath: [`${dir}/auth.log`] }), async (dir, tailer, rec) => {
    const path = `${dir}/auth.log`;
    append(path, "");
    await tailer.start();
    append(path, "same first line\nsecond\n");
    await tailer.poll();
    // New inode, same content plus one line.
    await Deno.copyFile(path, `${path}.tmp`);
    append(`${path}.tmp`, "third\n");
    await Deno.rename(`${path}.tmp`, path);
    await tailer.poll();
    assert.deepEqual(rec.lines, ["same first line", "second", "third"]);
  });
});

Deno.test("a rotated file whose first line is unchanged but content differs is read from its start", async () => {
  await withTailer((dir) => ({ logpath: [`${dir}/auth.log`] }), async (dir, tailer, rec) => {
    const path = `${dir}/auth.log`;
    append(path, "");
    await tailer.start();
    append(path, "# header\nold line\n");
    await tailer.poll();
    await Deno.rename(path, `${path}.1`);
    append(path, "# header\nnew line A\nnew line B\n");
    await tailer.poll();
    assert.deepEqual(rec.lines, ["# header", "old line", "# header", "new line A", "new line B"]);
  });
});

Deno.test("a file appearing later is read from its start, with one warning while missing", async () => {
  await withTailer((dir) => ({ logpath: [`${dir}/late.log`] }), async (dir, tailer, rec) => {
    const path = `${dir}/late.log`;
    await tailer.start();
    await tailer.poll();
    await tailer.poll();
    assert.equal(rec.warnings().length, 1);
    assert.match(rec.warnings()[0]!, /late\.log.*waiting for it/);
    append(path, "first\nsecond\n");
    await tailer.poll();
    assert.deepEqual(rec.lines, ["first", "second"]);
    assert.ok(rec.logs.some((l) => l.includes("is readable now")));
  });
});

Deno.test("a deleted and re-created file is drained, then read from its start", async () => {
  await withTailer((dir) => ({ logpath: [`${dir}/auth.log`] }), async (dir, tailer, rec) => {
    const path = `${dir}/auth.log`;
    append(path, "");
    await tailer.start();
    append(path, "x1\n");
    await tailer.poll();
    append(path, "x2\n");
    await Deno.remove(path);
    await tailer.poll();
    assert.deepEqual(rec.lines, ["x1", "x2"]);
    assert.equal(rec.warnings().length, 1);
    append(path, "y1\n");
    await tailer.poll();
    assert.deepEqual(rec.lines, ["x1", "x2", "y1"]);
  });
});

Deno.test("a broken symlink is awaited and followed once its target appears", async () => {
  await withTailer((dir) => ({ logpath: [`${dir}/link.log`] }), async (dir, tailer, rec) => {
    await Deno.symlink(`${dir}/target.log`, `${dir}/link.log`);
    await tailer.start();
    assert.equal(rec.warnings().length, 1);
    append(`${dir}/target.log`, "t1\n");
    await tailer.poll();
    assert.deepEqual(rec.lines, ["t1"]);
  });
});

Deno.test({
  name: "an unreadable file is warned about once and read when it becomes readable",
  ignore: Deno.uid() === 0, // root reads everything
}, async () => {
  await withTailer((dir) => ({ logpath: [`${dir}/secret.log`] }), async (dir, tailer, rec) => {
    const path = `${dir}/secret.log`;
    append(path, "s1\n");
    await Deno.chmod(path, 0o000);
    await tailer.start();
    await tailer.poll();
    assert.equal(rec.warnings().length, 1);
    await Deno.chmod(path, 0o644);
    append(path, "s2\n");
    await tailer.poll();
    assert.deepEqual(rec.lines, ["s2"]);
  });
});

Deno.test("a glob picks up a file created later", async () => {
  await withTailer((dir) => ({ logpath: [`${dir}/*.log`] }), async (dir, tailer, rec) => {
    append(`${dir}/one.log`, "o0\n");
    await tailer.start();
    assert.deepEqual(tailer.files, [`${dir}/one.log`]);
    append(`${dir}/one.log`, "o1\n");
    append(`${dir}/two.log`, "t1\n");
    append(`${dir}/other.txt`, "no\n");
    await tailer.poll();
    assert.deepEqual(tailer.files.sort(), [`${dir}/one.log`, `${dir}/two.log`]);
    assert.deepEqual(rec.lines.sort(), ["o1", "t1"]);
  });
});

Deno.test("with file-system events a glob match and a rename rotation are seen without a poll", async () => {
  await withTailer(
    (dir) => ({
      logpath: [`${dir}/*.log`],
      backend: "auto",
      pollInterval: 600_000,
      globInterval: 600_000,
    }),
    async (dir, tailer, rec) => {
      append(`${dir}/one.log`, "");
      await tailer.start();
      assert.equal(tailer.watching, true);
      append(`${dir}/two.log`, "t1\n");
      await waitFor("the new file's line", () => rec.lines.includes("t1"));
      append(`${dir}/one.log`, "o1\n");
      await waitFor("o1", () => rec.lines.includes("o1"));
      await Deno.rename(`${dir}/one.log`, `${dir}/one.log.1`);
      append(`${dir}/one.log`, "o2\n");
      await waitFor("o2", () => rec.lines.includes("o2"));
      assert.deepEqual(rec.lines.sort(), ["o1", "o2", "t1"]);
    },
  );
});

Deno.test("a 1 MB partial line is dropped once complete, with one warning", async () => {
  await withTailer((dir) => ({ logpath: [`${dir}/auth.log`] }), async (dir, tailer, rec) => {
    const path = `${dir}/auth.log`;
    append(path, "");
    await tailer.start();
    append(path, "x".repeat(1 << 20));
    await tailer.poll();
    append(path, " from 10.0.0.1\nok\n");
    await tailer.poll();
    assert.deepEqual(rec.lines, ["ok"]);
    assert.equal(rec.warnings().length, 1);
    assert.equal(rec.positions.get(path)?.offset, (1 << 20) + 18);
  });
});

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000) {
  const until = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > until) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

Deno.test("with file-system events a symlinked log in another directory is followed", async () => {
  await withTailer(
    (dir) => ({ logpath: [`${dir}/links/auth.log`], backend: "auto", pollInterval: 600_000 }),
    async (dir, tailer, rec) => {
      await Deno.mkdir(`${dir}/links`);
      await Deno.mkdir(`${dir}/real`);
      append(`${dir}/real/auth.log`, "");
      await Deno.symlink(`${dir}/real/auth.log`, `${dir}/links/auth.log`);
      await tailer.start();
      append(`${dir}/real/auth.log`, "via link\n");
      await waitFor("the line written to the link target", () => rec.lines.length === 1);
      assert.deepEqual(rec.lines, ["via link"]);
      assert.deepEqual(rec.paths, [`${dir}/links/auth.log`]);
    },
  );
});

Deno.test("a path that is a directory is warned about once and read once it is a file", async () => {
  await withTailer((dir) => ({ logpath: [`${dir}/odd.log`] }), async (dir, tailer, rec) => {
    const path = `${dir}/odd.log`;
    await Deno.mkdir(path);
    await tailer.start();
    await tailer.poll();
    assert.equal(rec.warnings().length, 1);
    assert.match(rec.warnings()[0]!, /not a regular file/);
    await Deno.remove(path);
    append(path, "d1\n");
    await tailer.poll();
    assert.deepEqual(rec.lines, ["d1"]);
  });
});

Deno.test("a glob match that is deleted is dropped quietly and picked up again when re-created", async () => {
  await withTailer((dir) => ({ logpath: [`${dir}/*.log`] }), async (dir, tailer, rec) => {
    append(`${dir}/a.log`, "");
    await tailer.start();
    append(`${dir}/a.log`, "a1\n");
    await Deno.remove(`${dir}/a.log`);
    await tailer.poll();
    assert.deepEqual(tailer.files, []);
    assert.deepEqual(rec.lines, ["a1"]);
    assert.deepEqual(rec.warnings(), []);
    append(`${dir}/a.log`, "a2\n");
    await tailer.poll();
    assert.deepEqual(rec.lines, ["a1", "a2"]);
  });
});
