/**
 * SECURITY.md item 11 through the real server: a 256 MiB log of old failures
 * with a few recent ones at its end. The jail starts reading near now -
 * findtime (its logged start position is past the old part), counts only the
 * recent failures, and the server process reads a small part of the file
 * (its read count, /proc/PID/io rchar, stays far below the file's size).
 *
 * 256 MiB is plenty to tell a bisection (a few KiB per probe) from a full
 * read; the test is skipped, saying so, when the temporary directory has
 * less free space than the file needs.
 */

import assert from "node:assert/strict";
import { append, fail, row, Server, waitFor, withDir, writeConfig } from "./security_harness.ts";

const MIB = 1024 * 1024;
/** Size of the old part of the log. */
const OLD_MIB = 256;
/** Free space wanted in the temporary directory: the log plus room for the server's files. */
const NEEDED_MIB = OLD_MIB + 64;

/** Free space in MiB of the file system holding `dir` (POSIX `df -Pk`), or null when unknown. */
function freeMiB(dir: string): number | null {
  try {
    const out = new Deno.Command("df", { args: ["-Pk", dir], stdout: "piped", stderr: "null" })
      .outputSync();
    if (!out.success) return null;
    const last = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
    const available = Number(last.split(/\s+/)[3]);
    return Number.isFinite(available) ? available / 1024 : null;
  } catch {
    return null;
  }
}

const TMP = Deno.env.get("TMPDIR") || "/tmp";
const FREE = freeMiB(TMP);
const SKIP = FREE !== null && FREE < NEEDED_MIB;
if (SKIP) {
  console.warn(
    `security_big_log_test: skipped: ${TMP} has ${
      Math.floor(FREE!)
    } MiB free, the test needs ${NEEDED_MIB} MiB (set TMPDIR to a roomier file system)`,
  );
}

/** Bytes the process has read through read(2) and the like, from /proc/PID/io. */
function bytesReadBy(pid: number): number {
  const m = /^rchar: (\d+)$/m.exec(Deno.readTextFileSync(`/proc/${pid}/io`));
  assert.ok(m, `no rchar in /proc/${pid}/io`);
  return Number(m[1]);
}

Deno.test({
  name:
    `a ${OLD_MIB} MiB log at first start: the real server seeks to now - findtime instead of reading it all`,
  ignore: SKIP,
  fn: async () => {
    await withDir(async (dir) => {
      await writeConfig(dir, [{ name: "big" }], { defaults: { maxretry: "1000" } });
      const log = `${dir}/big.log`;
      // 1 MiB of failures from two days ago, written OLD_MIB times.
      const old = new Date(Date.now() - 2 * 86400_000);
      let chunk = "";
      for (let i = 0; chunk.length < MIB; i++) {
        chunk += fail(`10.1.${(i >> 8) & 255}.${i & 255}`, "u", old);
      }
      const bytes = new TextEncoder().encode(chunk);
      const f = await Deno.open(log, { write: true, create: true, truncate: true });
      try {
        for (let i = 0; i < OLD_MIB; i++) await f.write(bytes);
      } finally {
        f.close();
      }
      const oldSize = (await Deno.stat(log)).size;
      assert.ok(oldSize >= OLD_MIB * MIB);
      await append(log, fail("192.0.2.1").repeat(3) + fail("192.0.2.2").repeat(2));
      const server = new Server(dir);
      try {
        await server.ready(["big"]);
        await waitFor(
          async () => row(await server.command("status", "big"), "Total failed") === 5,
          "the five recent failures",
          () => server.log(),
        );
        const m = /\[big\] Added logfile: "[^"]*" \(pos = (\d+)/.exec(server.log());
        assert.ok(m, server.log());
        assert.ok(Number(m[1]) >= oldSize, `started at ${m[1]} of ${oldSize}`);
        assert.equal(row(await server.command("status", "big"), "Currently failed"), 2);
        // Everything the server read (its modules, configuration, socket traffic and the log's
        // probes) stays far below the old part: it was not read through.
        const read = bytesReadBy(server.child.pid);
        assert.ok(read < oldSize / 4, `the server read ${read} bytes of a ${oldSize}-byte log`);
        assert.equal(await server.stop(), 0);
      } finally {
        await server.stop();
      }
    });
  },
});
