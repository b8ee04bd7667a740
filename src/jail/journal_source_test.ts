import assert from "node:assert/strict";
import type { LogLevel } from "../ipc/messages.ts";
import { ManualClock } from "../util/clock.ts";
import {
  cursorTime,
  FieldDecoder,
  formatJournalEntry,
  isJournalBackend,
  type JournalSink,
  JournalSource,
  journalSourceArgs,
  journalTimeText,
  parseJournalBackend,
} from "./journal_source.ts";

const fields = new FieldDecoder();

function fmt(entry: Record<string, unknown>): string | undefined {
  return formatJournalEntry({ __REALTIME_TIMESTAMP: "1700000000000000", ...entry }, fields)
    ?.line;
}

Deno.test("formatJournalEntry builds fail2ban's host ident[pid]: message line", () => {
  assert.equal(
    fmt({ _HOSTNAME: "h", SYSLOG_IDENTIFIER: "sshd", _PID: "42", MESSAGE: "Failed" }),
    "h sshd[42]: Failed",
  );
  // SYSLOG_PID wins over _PID, _COMM stands in for a missing identifier.
  assert.equal(fmt({ _COMM: "su", _PID: "1", SYSLOG_PID: "7", MESSAGE: "m" }), "su[7]: m");
  assert.equal(fmt({ SYSLOG_IDENTIFIER: "", _COMM: "cron", MESSAGE: "m" }), "cron: m");
  assert.equal(fmt({ _HOSTNAME: "h", MESSAGE: "only" }), "h only");
  assert.equal(fmt({ MESSAGE: "bare" }), "bare");
  assert.equal(fmt({ _HOSTNAME: "h", SYSLOG_IDENTIFIER: "x" }), "h x: ");
  // PIDs as Python's int() reads them; anything else as written.
  assert.equal(fmt({ SYSLOG_IDENTIFIER: "a", SYSLOG_PID: "0123", MESSAGE: "m" }), "a[123]: m");
  assert.equal(fmt({ SYSLOG_IDENTIFIER: "a", SYSLOG_PID: "0x1f", MESSAGE: "m" }), "a[31]: m");
  assert.equal(fmt({ SYSLOG_IDENTIFIER: "a", SYSLOG_PID: "12ab", MESSAGE: "m" }), "a[12ab]: m");
  // The kernel gets its monotonic time, %12.6f.
  assert.equal(
    fmt({
      _HOSTNAME: "h",
      SYSLOG_IDENTIFIER: "kernel",
      __MONOTONIC_TIMESTAMP: "42139351",
      MESSAGE: "k",
    }),
    "h kernel: [   42.139351] k",
  );
  assert.equal(
    fmt({
      SYSLOG_IDENTIFIER: "kernel",
      _SOURCE_MONOTONIC_TIMESTAMP: "1000000",
      __MONOTONIC_TIMESTAMP: "5",
      MESSAGE: "k",
    }),
    "kernel: [    1.000000] k",
  );
});

Deno.test("formatJournalEntry decodes byte arrays, joins multiple values, escapes new lines", () => {
  const bin = [...new TextEncoder().encode("bin")].concat([0xff, 0, 0x0a, 0x41]);
  assert.equal(fmt({ SYSLOG_IDENTIFIER: "s", MESSAGE: bin }), "s: bin\ufffd\0\\nA");
  assert.equal(fmt({ MESSAGE: ["a", "b"] }), "a b");
  assert.equal(fmt({ MESSAGE: ["a", [0x62, 0xff]] }), "a b\ufffd");
  assert.equal(fmt({ MESSAGE: null }), "");
  assert.equal(fmt({ MESSAGE: [] }), "");
  assert.equal(fmt({ MESSAGE: "one\ntwo\n" }), "one\\ntwo\\n");
  const latin = new FieldDecoder("latin-1");
  assert.equal(
    formatJournalEntry({ __REALTIME_TIMESTAMP: "1", MESSAGE: [0x72, 0xe9] }, latin)?.line,
    "r\u00e9",
  );
});

Deno.test("formatJournalEntry takes the source time, then the journal's, in seconds", () => {
  const e = formatJournalEntry({
    __REALTIME_TIMESTAMP: "1700000000500000",
    _SOURCE_REALTIME_TIMESTAMP: "1700000000250000",
    __CURSOR: "s=1;i=2",
    MESSAGE: "m",
  }, fields);
  assert.equal(e?.time, 1_700_000_000.25);
  assert.equal(e?.cursor, "s=1;i=2");
  assert.equal(
    formatJournalEntry({ __REALTIME_TIMESTAMP: "1700000000500000" }, fields)?.time,
    1_700_000_000.5,
  );
  assert.equal(formatJournalEntry({ MESSAGE: "no time" }, fields), null);
  assert.equal(formatJournalEntry({ __REALTIME_TIMESTAMP: "x1" }, fields), null);
});

Deno.test("parseJournalBackend reads fail2ban's systemd[…] options", () => {
  assert.deepEqual(parseJournalBackend("systemd"), {
    journalflags: null,
    journalfiles: [],
    journalpath: null,
    namespace: null,
    unknown: [],
  });
  const o = parseJournalBackend(
    'systemd[journalflags=1, journalfiles="/a/x.journal, /b/*.journal", other=1]',
  );
  assert.equal(o.journalflags, 1);
  assert.deepEqual(o.journalfiles, ["/a/x.journal", "/b/*.journal"]);
  assert.deepEqual(o.unknown, ["other"]);
  assert.equal(
    parseJournalBackend("systemd[journalpath=/var/log/journal]").journalpath,
    "/var/log/journal",
  );
  assert.throws(() => parseJournalBackend("systemd[journalflags=x]"), /journalflags "x"/);
  assert.throws(() => parseJournalBackend("polling"), SyntaxError);
  assert.ok(isJournalBackend("systemd") && isJournalBackend("SystemD[journalflags=4]"));
  assert.ok(!isJournalBackend("auto") && !isJournalBackend("systemdx"));
});

Deno.test("journalSourceArgs maps flags, files, path and namespace to journalctl options", () => {
  const none = { journalflags: null, journalfiles: [], journalpath: null, namespace: null };
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  // fail2ban's default: system journals, not only the local machine's.
  assert.deepEqual(journalSourceArgs(none, 4, warn), ["--merge", "--system"]);
  assert.deepEqual(journalSourceArgs({ ...none, journalflags: 1 }, 4, warn), []);
  assert.deepEqual(journalSourceArgs({ ...none, journalflags: 9 }, 4, warn), ["--user"]);
  assert.deepEqual(journalSourceArgs({ ...none, journalpath: "/j" }, 4, warn), ["--directory=/j"]);
  assert.deepEqual(journalSourceArgs({ ...none, journalflags: 1, namespace: "n" }, 4, warn), [
    "--namespace=n",
  ]);
  assert.equal(warnings.length, 0);
  journalSourceArgs({ ...none, journalflags: 3 }, 4, warn);
  assert.match(warnings[0]!, /runtime only/);
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/b.journal`, "");
    Deno.writeTextFileSync(`${dir}/a.journal`, "");
    assert.deepEqual(
      journalSourceArgs(
        { ...none, journalfiles: [`${dir}/*.journal`, `${dir}/a.journal`] },
        4,
        warn,
      ),
      [`--file=${dir}/a.journal`, `--file=${dir}/b.journal`],
    );
    assert.deepEqual(journalSourceArgs({ ...none, journalfiles: [`${dir}/*.x`] }, 4, warn), []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("cursorTime and journalTimeText", () => {
  assert.equal(cursorTime("s=ab;i=1;b=cd;m=2;t=6611b767c6657;x=1"), 0x6611b767c6657 / 1e6);
  assert.equal(cursorTime("garbage"), null);
  const t = 1_700_000_000.25;
  const d = new Date(t * 1000);
  const text = journalTimeText(t);
  assert.match(text, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.250000[+-]\d\d:\d\d$/);
  assert.equal(Number(text.slice(11, 13)), d.getHours());
  assert.doesNotMatch(journalTimeText(1_700_000_000), /\./);
});

/** A fake journalctl: logs its arguments, prints `backlog.out` or `follow.out`, then waits or exits. */
function fakeJournalctl(dir: string): string {
  const path = `${dir}/journalctl`;
  Deno.writeTextFileSync(
    path,
    `#!/bin/sh
printf '%s\\n' "$*" >> '${dir}/args.log'
mode=backlog
for a in "$@"; do [ "$a" = --follow ] && mode=follow; done
[ -f '${dir}/'$mode.sh ] && . '${dir}/'$mode.sh
[ -f '${dir}/'$mode.out ] && cat '${dir}/'$mode.out
[ $mode = follow ] && [ ! -f '${dir}/exit' ] && exec sleep 600
exit 0
`,
  );
  Deno.chmodSync(path, 0o755);
  return path;
}

function entryJson(i: number, message: unknown): string {
  return JSON.stringify({
    __CURSOR: `s=x;i=${i};t=${(1_700_000_000_000_000 + i).toString(16)}`,
    __REALTIME_TIMESTAMP: String(1_700_000_000_000_000 + i * 1_000_000),
    SYSLOG_IDENTIFIER: "sshd",
    MESSAGE: message,
  });
}

class Sink implements JournalSink {
  entries: { line: string; time: number; live: boolean; cursor: string }[] = [];
  cursors: string[] = [];
  logs: { level: LogLevel; message: string }[] = [];
  #waiters: { test: () => boolean; resolve: () => void }[] = [];
  entry(line: string, time: number, live: boolean, cursor: string) {
    this.entries.push({ line, time, live, cursor });
    this.#check();
  }
  cursor(cursor: string) {
    this.cursors.push(cursor);
    this.#check();
  }
  log(level: LogLevel, message: string) {
    this.logs.push({ level, message });
    this.#check();
  }
  /** Resolves when `test` holds, checked on each event and every 10 ms. */
  async until(test: () => boolean): Promise<void> {
    while (!test()) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 10);
        this.#waiters.push({ test, resolve: () => (clearTimeout(t), resolve()) });
      });
      this.#waiters = [];
    }
  }
  #check() {
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.test()) return true;
      w.resolve();
      return false;
    });
  }
}

Deno.test("JournalSource reads split, oversized, broken and binary output lines", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const program = fakeJournalctl(dir);
    // An entry split over two writes, an oversized one, a broken one, a binary one.
    const half = entryJson(1, "Failed one");
    Deno.writeTextFileSync(
      `${dir}/backlog.sh`,
      `printf '%s' '${half.slice(0, 20)}'; sleep 0.2; printf '%s\\n' '${half.slice(20)}'
printf '%s\\n' '${entryJson(2, "x".repeat(5000))}'
printf '%s\\n' '{"__CURSOR": "broken'
printf '%s\\n' '${entryJson(3, [0x62, 0xff, 0x0a])}'
`,
    );
    Deno.writeTextFileSync(`${dir}/follow.out`, entryJson(4, "live one") + "\n");
    const sink = new Sink();
    const source = new JournalSource({
      backend: "systemd[journalflags=1]",
      matches: [["_COMM=sshd"], ["_SYSTEMD_UNIT=ssh.service"]],
      findtime: 600,
      clock: new ManualClock(1_700_000_100),
      journalctl: program,
      maxEntryBytes: 1000,
    }, sink);
    await source.start();
    await sink.until(() => sink.entries.length >= 3);
    assert.deepEqual(sink.entries.map((e) => [e.line, e.live]), [
      ["sshd: Failed one", false],
      ["sshd: b\ufffd\\n", false],
      ["sshd: live one", true],
    ]);
    assert.equal(sink.entries[0]!.time, 1_700_000_001);
    assert.ok(sink.logs.some((l) => /Dropped a journal entry of \d+ bytes/.test(l.message)));
    assert.ok(sink.logs.some((l) => /Unreadable journalctl output line/.test(l.message)));
    assert.equal(source.cursor, `s=x;i=4;t=${(1_700_000_000_000_000 + 4).toString(16)}`);
    assert.equal(sink.cursors.at(-1), source.cursor);
    await source.stop();
    assert.equal(source.pid, null);
    const args = Deno.readTextFileSync(`${dir}/args.log`).trim().split("\n");
    assert.equal(args.length, 2);
    // No cursor: the backlog starts at now - findtime; matches come last, after "--".
    assert.match(
      args[0]!,
      /--since=@1699999500\.000000 -- _COMM=sshd \+ _SYSTEMD_UNIT=ssh\.service$/,
    );
    assert.doesNotMatch(args[0]!, /--follow/);
    // Following resumes after the last backlog entry.
    assert.match(args[1]!, /--follow --no-tail --after-cursor=s=x;i=3;/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("JournalSource restarts a journalctl that exits, after its last cursor", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const program = fakeJournalctl(dir);
    Deno.writeTextFileSync(`${dir}/backlog.out`, entryJson(1, "one") + "\n");
    Deno.writeTextFileSync(`${dir}/exit`, "");
    Deno.writeTextFileSync(`${dir}/follow.sh`, "echo 'journal went away' >&2; exit 3\n");
    const sink = new Sink();
    const source = new JournalSource({
      backend: "systemd",
      matches: [],
      findtime: 600,
      clock: new ManualClock(1_700_000_100),
      journalctl: program,
      restartDelay: 10,
      cursor: `s=x;i=0;t=${(1_700_000_000_000_000).toString(16)}`,
    }, sink);
    await source.start();
    await sink.until(() => sink.logs.filter((l) => l.level === "ERROR").length >= 2);
    await source.stop();
    const errors = sink.logs.filter((l) => l.level === "ERROR").map((l) => l.message);
    assert.match(
      errors[0]!,
      /journalctl --follow exited \(code 3\): journal went away; restarting/,
    );
    const args = Deno.readTextFileSync(`${dir}/args.log`).trim().split("\n");
    // Saved cursor within findtime: used; after a restart, resumed after the entry read.
    assert.match(args[0]!, /--after-cursor=s=x;i=0;/);
    assert.match(args[0]!, /--merge --system/);
    assert.match(args[2]!, /--after-cursor=s=x;i=1;/);
    assert.doesNotMatch(args[2]!, /--follow/);
    assert.equal(sink.entries.filter((e) => e.line === "sshd: one").length >= 1, true);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("JournalSource drops a cursor journalctl rejects and one older than findtime", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const program = fakeJournalctl(dir);
    Deno.writeTextFileSync(
      `${dir}/backlog.sh`,
      `case "$*" in *--after-cursor=bad*) echo 'Failed to seek to cursor: Invalid argument' >&2; exit 1;; esac\n`,
    );
    const sink = new Sink();
    const source = new JournalSource({
      backend: "systemd[journalflags=1]",
      matches: [],
      findtime: 600,
      clock: new ManualClock(1_700_000_100),
      journalctl: program,
      restartDelay: 10,
      cursor: "bad",
    }, sink);
    await source.start();
    await sink.until(() => Deno.readTextFileSync(`${dir}/args.log`).trim().split("\n").length >= 3);
    await source.stop();
    assert.ok(sink.logs.some((l) => /rejected the saved cursor/.test(l.message)));
    const args = Deno.readTextFileSync(`${dir}/args.log`).trim().split("\n");
    assert.match(args[1]!, /--since=@/);
    // A cursor older than now - findtime: start at now - findtime.
    const old = new JournalSource({
      backend: "systemd[journalflags=1]",
      matches: [],
      findtime: 600,
      clock: new ManualClock(1_700_001_000),
      journalctl: program,
      cursor: `s=x;i=0;t=${(1_700_000_000_000_000).toString(16)}`,
    }, new Sink());
    Deno.writeTextFileSync(`${dir}/args.log`, "");
    await old.start();
    await old.stop();
    assert.match(Deno.readTextFileSync(`${dir}/args.log`).split("\n")[0]!, /--since=@1700000400\./);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("JournalSource reports a missing journalctl and journalfiles that match nothing", async () => {
  const sink = new Sink();
  const source = new JournalSource({
    backend: "systemd[journalfiles=/nonexistent/*.journal]",
    matches: [],
    findtime: 600,
    clock: new ManualClock(1_700_000_100),
    restartDelay: 10,
  }, sink);
  await source.start();
  await source.stop();
  assert.match(sink.logs[0]!.message, /No journal file matches journalfiles/);
  const missing = new Sink();
  const s2 = new JournalSource({
    backend: "systemd[journalflags=1]",
    matches: [],
    findtime: 600,
    clock: new ManualClock(1_700_000_100),
    journalctl: "/nonexistent/journalctl",
    restartDelay: 10,
  }, missing);
  await s2.start();
  await s2.stop();
  assert.match(missing.logs[0]!.message, /Cannot run "\/nonexistent\/journalctl"/);
  assert.throws(
    () =>
      new JournalSource({
        ...{ backend: "systemd[journalflags=z]" },
        matches: [],
        findtime: 1,
        clock: new ManualClock(0),
      }, sink),
    SyntaxError,
  );
});
