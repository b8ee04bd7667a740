/**
 * `backend = systemd` on a real journal file, without journald: systemd-journal-remote writes the
 * file from export-format input, `journalctl --file` reads it (through
 * `backend = systemd[journalfiles=…]`). Skipped, with a message, when journalctl or
 * systemd-journal-remote is missing (Debian: `apt-get install systemd-journal-remote`).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFilter } from "../src/config/filter_reader.ts";
import type { JailSpec } from "../src/config/types.ts";
import type { FromWorker, ToWorker } from "../src/ipc/messages.ts";
import { foundEvents } from "../src/ipc/messages.ts";
import { Daemon } from "../src/daemon/daemon.ts";
import { BanDatabase } from "../src/db/ban_database.ts";
import { BanManager } from "../src/jail/ban_manager.ts";
import { createJailMatcher } from "../src/jail/jail_matcher.ts";
import { JailRunner } from "../src/jail/jail_runner.ts";
import { JournalSource } from "../src/jail/journal_source.ts";
import { MemoryLogger } from "../src/log/types.ts";
import { SYSTEM_CLOCK } from "../src/util/clock.ts";
import { testJailSpec } from "./_jail_spec.ts";

const REMOTE = ["/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"]
  .find((p) => existsSync(p));

function hasJournalctl(): boolean {
  try {
    return new Deno.Command("journalctl", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const skip = !REMOTE
  ? "systemd-journal-remote is not installed"
  : !hasJournalctl()
  ? "journalctl is not installed"
  : !existsSync("/etc/fail2ban/filter.d/sshd.conf")
  ? "fail2ban's /etc/fail2ban is not installed"
  : null;
if (skip) console.log(`journal_backend_test skipped: ${skip}`);

interface Entry {
  /** Epoch seconds. */
  time: number;
  message: string | Uint8Array;
  unit?: string;
  comm?: string;
  /** SYSLOG_IDENTIFIER. @default "sshd" */
  ident?: string;
  pid?: number;
}

const BOOT = "0123456789abcdef0123456789abcdef";
const enc = new TextEncoder();

/** Journal export format for the entries (binary-safe field form for non-text values). */
function exportFormat(entries: Entry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const usec = Math.round(e.time * 1e6);
    const fields: [string, string | Uint8Array][] = [
      ["__REALTIME_TIMESTAMP", String(usec)],
      ["__MONOTONIC_TIMESTAMP", String(usec % 1e9)],
      ["_BOOT_ID", BOOT],
      ["_HOSTNAME", "host1"],
      ["SYSLOG_IDENTIFIER", e.ident ?? "sshd"],
      ["_COMM", e.comm ?? "sshd"],
      ["_PID", String(e.pid ?? 4242)],
      ["_SYSTEMD_UNIT", e.unit ?? "sshd.service"],
      ["MESSAGE", e.message],
    ];
    for (const [k, v] of fields) {
      if (typeof v === "string") parts.push(enc.encode(`${k}=${v}\n`));
      else {
        const len = new Uint8Array(8);
        new DataView(len.buffer).setBigUint64(0, BigInt(v.length), true);
        parts.push(enc.encode(`${k}\n`), len, v, enc.encode("\n"));
      }
    }
    parts.push(enc.encode("\n"));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Appends entries to a journal file with systemd-journal-remote. */
async function writeJournal(file: string, entries: Entry[]): Promise<void> {
  const child = new Deno.Command(REMOTE!, {
    args: [`--output=${file}`, "-"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(exportFormat(entries));
  await w.close();
  const out = await child.output();
  if (!out.success) {
    throw new Error(`systemd-journal-remote failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

function jailSpec(file: string, over: Partial<JailSpec> = {}): JailSpec {
  return testJailSpec("sshd", {
    backend: `systemd[journalfiles="${file}"]`,
    // fail2ban's own sshd filter, read as for a systemd jail (logtype journal, its journalmatch).
    filter: readFilter("/etc/fail2ban", "sshd", { backend: "systemd" }),
    ignoreself: false,
    usedns: "no",
    ...over,
  });
}

/** A JailRunner with the real filter and journal source, collecting what it posts. */
class Jail {
  readonly messages: FromWorker[] = [];
  source: JournalSource | null = null;
  readonly runner: JailRunner;
  constructor() {
    this.runner = new JailRunner({
      clock: SYSTEM_CLOCK,
      post: (m) => this.messages.push(m),
      createMatcher: createJailMatcher,
      createJournal: (o, s) => (this.source = new JournalSource(o, s)),
      journalOptions: { restartDelay: 20 },
      statsInterval: 50,
    });
  }
  start(spec: JailSpec, cursor: string | null = null): Promise<void> {
    const m: ToWorker = { type: "start", spec, positions: [], skipLineAt: null, cursor };
    return this.runner.handle(m);
  }
  stop(): Promise<void> {
    return this.runner.handle({ type: "stop" });
  }
  found(): { fid: string; time: number }[] {
    return foundEvents(this.messages);
  }
  bans() {
    return this.messages.flatMap((m) => (m.type === "ban" ? [m.request] : []));
  }
  lastCursor(): string | null {
    const c = this.messages.flatMap((m) => (m.type === "cursor" ? [m.cursor] : []));
    return c.at(-1) ?? null;
  }
  logs(): string[] {
    return this.messages.flatMap((m) => (m.type === "log" ? [m.message] : []));
  }
  /** Resolves when `test` holds (checked every 10 ms); fails after 20 s. */
  async until(test: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 2000; i++) {
      if (test()) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.fail(`Timed out waiting for ${what}; messages: ${JSON.stringify(this.messages)}`);
  }
}

function failed(ip: string, port = 22): string {
  return `Failed password for root from ${ip} port ${port} ssh2`;
}

Deno.test({
  name: "systemd backend: journalmatch selects entries, failures lead to a ban request",
  ignore: skip !== null,
  async fn() {
    const dir = Deno.makeTempDirSync();
    const jail = new Jail();
    try {
      const file = `${dir}/test.journal`;
      const now = Date.now() / 1000;
      await writeJournal(file, [
        // Same text, but from another unit and program: not in sshd's journalmatch.
        ...[1, 2, 3].map((i) => ({
          time: now - 30 + i,
          message: failed("192.0.2.2"),
          unit: "other.service",
          comm: "other",
        })),
        ...[1, 2, 3].map((i) => ({ time: now - 20 + i, message: failed("192.0.2.1", 1000 + i) })),
        // Too old for findtime: not counted.
        { time: now - 700, message: failed("192.0.2.3") },
        // Binary message and a line break: read, not matched.
        { time: now - 5, message: new Uint8Array([0x66, 0xff, 0x00, 0x0a, 0x41]) },
      ]);
      await jail.start(jailSpec(file));
      assert.ok(jail.messages.some((m) => m.type === "ready"), "ready after the backlog");
      assert.deepEqual(jail.found().map((f) => f.fid), ["192.0.2.1", "192.0.2.1", "192.0.2.1"]);
      // The journal's own time, to the microsecond.
      assert.equal(jail.found()[0]!.time, Math.round((now - 19) * 1e6) / 1e6);
      const [ban] = jail.bans();
      assert.equal(ban?.fid, "192.0.2.1");
      assert.equal(ban?.failures, 3);
      // fail2ban's match text: ISO local time, then "host ident[pid]: message".
      assert.match(
        ban!.matches[2]!,
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d host1 sshd\[4242\]: Failed password for root from 192\.0\.2\.1 port 1003 ssh2$/,
      );
      assert.ok(
        jail.logs().some((l) =>
          l.includes("Added journal match for: _SYSTEMD_UNIT=sshd.service + _COMM=sshd")
        ),
      );
      assert.notEqual(jail.lastCursor(), null);
      // A new entry while following is live.
      await writeJournal(file, [{ time: Date.now() / 1000, message: failed("192.0.2.9") }]);
      await jail.until(() => jail.found().some((f) => f.fid === "192.0.2.9"), "the live entry");
    } finally {
      await jail.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "systemd backend: the cursor saved at stop resumes without repeats or gaps",
  ignore: skip !== null,
  async fn() {
    const dir = Deno.makeTempDirSync();
    const first = new Jail();
    const second = new Jail();
    try {
      const file = `${dir}/test.journal`;
      const now = Date.now() / 1000;
      await writeJournal(file, [
        { time: now - 10, message: failed("198.51.100.1") },
        { time: now - 9, message: failed("198.51.100.2") },
      ]);
      await first.start(jailSpec(file));
      assert.deepEqual(first.found().map((f) => f.fid), ["198.51.100.1", "198.51.100.2"]);
      await first.stop();
      const cursor = first.lastCursor();
      assert.ok(cursor, "a cursor is posted at stop");
      assert.equal(first.messages.at(-1)?.type, "stopped");
      // Written while the jail was stopped.
      await writeJournal(file, [{ time: now - 5, message: failed("198.51.100.3") }]);
      await second.start(jailSpec(file), cursor);
      assert.deepEqual(second.found().map((f) => f.fid), ["198.51.100.3"]);
      await writeJournal(file, [{ time: Date.now() / 1000, message: failed("198.51.100.4") }]);
      await second.until(() => second.found().length === 2, "the live entry");
      assert.deepEqual(second.found().map((f) => f.fid), ["198.51.100.3", "198.51.100.4"]);
    } finally {
      await first.stop();
      await second.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "systemd backend: a killed journalctl is restarted after the last entry read",
  ignore: skip !== null,
  async fn() {
    const dir = Deno.makeTempDirSync();
    const jail = new Jail();
    try {
      const file = `${dir}/test.journal`;
      const now = Date.now() / 1000;
      await writeJournal(file, [{ time: now - 3, message: failed("203.0.113.1") }]);
      await jail.start(jailSpec(file));
      await jail.until(() => jail.source?.pid != null, "journalctl --follow");
      const pid = jail.source!.pid!;
      const spawns = jail.source!.spawns;
      Deno.kill(pid, "SIGKILL");
      await jail.until(
        () => jail.logs().some((l) => /exited \(signal SIGKILL\).*restarting journalctl/.test(l)),
        "the restart message",
      );
      await jail.until(
        () => jail.source!.spawns >= spawns + 2 && jail.source!.pid !== null,
        "the restarted journalctl",
      );
      await writeJournal(file, [{ time: Date.now() / 1000, message: failed("203.0.113.2") }]);
      await jail.until(() => jail.found().length === 2, "the entry after the restart");
      // Nothing read twice.
      assert.deepEqual(jail.found().map((f) => f.fid), ["203.0.113.1", "203.0.113.2"]);
    } finally {
      await jail.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "systemd backend: the real jail worker bans from the journal and reports its cursor",
  ignore: skip !== null,
  async fn() {
    const dir = Deno.makeTempDirSync();
    const worker = new Worker(new URL("../workers/jail_worker.ts", import.meta.url).href, {
      type: "module",
    });
    const messages: FromWorker[] = [];
    worker.onmessage = (e: MessageEvent<FromWorker>) => messages.push(e.data);
    const until = async (test: () => boolean, what: string) => {
      for (let i = 0; i < 2000 && !test(); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(test(), `Timed out waiting for ${what}: ${JSON.stringify(messages)}`);
    };
    try {
      const file = `${dir}/w.journal`;
      const now = Date.now() / 1000;
      await writeJournal(
        file,
        [1, 2, 3].map((i) => ({ time: now - 10 + i, message: failed("192.0.2.77") })),
      );
      worker.postMessage(
        {
          type: "start",
          spec: jailSpec(file),
          positions: [],
          skipLineAt: null,
          cursor: null,
        } satisfies ToWorker,
      );
      await until(() => messages.some((m) => m.type === "ban"), "the ban request");
      await until(() => messages.some((m) => m.type === "cursor"), "a cursor");
      worker.postMessage({ type: "stop" } satisfies ToWorker);
      await until(() => messages.some((m) => m.type === "stopped"), "stopped");
    } finally {
      worker.terminate();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "systemd backend through the daemon: the cursor is kept in the database and a restart resumes",
  ignore: skip !== null,
  async fn() {
    const dir = Deno.makeTempDirSync();
    const file = `${dir}/d.journal`;
    const dbfile = `${dir}/f2b.sqlite3`;
    /** A daemon with the real worker and database; its `Found` addresses from its log. */
    const startDaemon = async () => {
      const logger = new MemoryLogger();
      const db = BanDatabase.open(dbfile, { logger, clock: SYSTEM_CLOCK });
      const daemon = new Daemon({
        loadJails: () => [jailSpec(file)],
        newBanManager: (j) =>
          new BanManager({
            jail: j.name,
            banTime: j.bantime,
            increment: j.bantimeIncrement,
            clock: SYSTEM_CLOCK,
          }),
        executor: {
          startJail: () => {},
          stopJail: () => {},
          ban: () => Promise.resolve(true),
          unban: () => Promise.resolve(true),
        },
        db,
        logger,
        clock: SYSTEM_CLOCK,
        exec: () => Promise.resolve({ code: 1, stderr: "" }),
      });
      await daemon.start();
      const found = () =>
        logger.messages("INFO").flatMap((m) => {
          const f = /^\[sshd\] Found (\S+) - /.exec(m);
          return f ? [f[1]!] : [];
        });
      const until = async (n: number, what: string) => {
        for (let i = 0; i < 2000 && found().length < n; i++) {
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.ok(found().length >= n, `Timed out waiting for ${what}: ${logger.messages()}`);
      };
      return { daemon, found, until };
    };
    try {
      const now = Date.now() / 1000;
      await writeJournal(file, [
        { time: now - 10, message: failed("198.51.100.1") },
        { time: now - 9, message: failed("198.51.100.2") },
      ]);
      const first = await startDaemon();
      try {
        await first.until(2, "the backlog");
        // fail2ban's status line for a journal jail.
        assert.equal(
          first.daemon.jailStatus("sshd").journalMatches,
          "_SYSTEMD_UNIT=sshd.service + _COMM=sshd",
        );
      } finally {
        await first.daemon.stop();
      }
      assert.deepEqual(first.found(), ["198.51.100.1", "198.51.100.2"]);
      const db = BanDatabase.open(dbfile, { logger: new MemoryLogger(), clock: SYSTEM_CLOCK });
      const saved = db.loadCursor("sshd");
      db.close();
      assert.ok(saved, "the cursor is in the database");
      // Written while the daemon was stopped, then one while it runs.
      await writeJournal(file, [{ time: now - 5, message: failed("198.51.100.3") }]);
      const second = await startDaemon();
      try {
        await second.until(1, "the entry written while stopped");
        await writeJournal(file, [{ time: Date.now() / 1000, message: failed("198.51.100.4") }]);
        await second.until(2, "the live entry");
      } finally {
        await second.daemon.stop();
      }
      assert.deepEqual(second.found(), ["198.51.100.3", "198.51.100.4"]);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
