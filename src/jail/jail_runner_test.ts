import assert from "node:assert/strict";
import type { JailSpec } from "../config/types.ts";
import type { LineResult } from "../filter/types.ts";
import type { FromWorker, LogPosition } from "../ipc/messages.ts";
import { foundEvents } from "../ipc/messages.ts";
import type { IPAddress } from "../net/ip_address.ts";
import { ManualClock } from "../util/clock.ts";
import { testFilterSpec, testJailSpec } from "../../tests/_jail_spec.ts";
import { regexBounded } from "../filter/bounded_regex.ts";
import { createJailMatcher } from "./jail_matcher.ts";
import {
  type JailMatcher,
  JailRunner,
  type JailRunnerOptions,
  type Tailer,
} from "./jail_runner.ts";
import { LINE_PROGRESS_BYTES, type LineInProgress, LineProgress } from "./line_progress.ts";
import type { LogTailerOptions, TailerSink } from "./log_tailer.ts";

const NOW = 1_700_000_000;

function spec(over: Partial<JailSpec> = {}): JailSpec {
  return testJailSpec("sshd", {
    logpath: ["/var/log/auth.log"],
    filter: testFilterSpec({
      name: "test",
      failregex: [{ pattern: "^Failed from <HOST>", origin: "test" }],
    }),
    ...over,
  });
}

/** Lines look like `@<epoch> Failed from <host>`; `@-` means no date. */
class FakeMatcher implements JailMatcher {
  processLine(line: string, _now: number): LineResult {
    const m = /^@(\d+|-) (?:Failed from (\S+)|(\S+) id (\S+)|.*)$/.exec(line);
    const time = m && m[1] !== "-" ? Number(m[1]) : null;
    const failures = [];
    if (m?.[2]) {
      failures.push({
        fid: m[2],
        host: m[2],
        time: time ?? 0,
        lines: [line],
        data: {},
        regexIndex: 0,
      });
    } else if (m?.[4]) {
      failures.push({
        fid: m[4],
        host: null,
        time: time ?? 0,
        lines: [line],
        data: { user: m[3]! },
        regexIndex: 0,
      });
    }
    return {
      time,
      dateTemplate: null,
      failures,
      ignored: false,
      matchedRegexes: failures.length ? [0] : [],
    };
  }
  lineTime(line: string): number | null {
    return this.processLine(line, 0).time;
  }
}

class FakeTailer implements Tailer {
  started = false;
  stoppedWith: LogPosition[] = [];
  updates: LogTailerOptions[] = [];
  constructor(readonly options: LogTailerOptions, readonly sink: TailerSink) {}
  get files() {
    return this.options.logpath;
  }
  start() {
    this.started = true;
    return Promise.resolve();
  }
  update(o: LogTailerOptions) {
    this.updates.push(o);
    return Promise.resolve();
  }
  stop() {
    return Promise.resolve([{ path: "/var/log/auth.log", offset: 42, firstLineHash: "h" }]);
  }
  positions() {
    return [{ path: "/var/log/auth.log", offset: 0, firstLineHash: "h" }];
  }
  feed(lines: string[], live = true) {
    let end = 0;
    for (const l of lines) this.sink.line(l, "/var/log/auth.log", live, end += l.length + 1);
  }
}

async function harness(over: Partial<JailRunnerOptions> = {}, jail: Partial<JailSpec> = {}) {
  const sent: FromWorker[] = [];
  const clock = new ManualClock(NOW);
  let tailer: FakeTailer | null = null;
  const runner = new JailRunner({
    clock,
    post: (m) => sent.push(m),
    createMatcher: () => new FakeMatcher(),
    createTailer: (o, s) => (tailer = new FakeTailer(o, s)),
    statsInterval: 60_000,
    ...over,
  });
  await runner.handle({ type: "start", spec: spec(jail), positions: [], skipLineAt: null });
  const of = <T extends FromWorker["type"]>(t: T) =>
    sent.filter((m): m is Extract<FromWorker, { type: T }> => m.type === t);
  const found = () => foundEvents(sent);
  return { runner, sent, clock, tailer: tailer! as FakeTailer, of, found };
}

Deno.test("JailRunner posts a ban request at the maxretry-th failure, right after its line", async () => {
  const { runner, tailer, of, found, sent } = await harness();
  try {
    assert.equal(of("ready").length, 1);
    tailer.feed([`@${NOW - 5} Failed from 192.0.2.1`, `@${NOW - 4} Failed from 192.0.2.1`]);
    assert.equal(of("ban").length, 0);
    // Found failures are posted in a batch when the task that read them ends.
    await Promise.resolve();
    assert.deepEqual(found().map((m) => m.fid), ["192.0.2.1", "192.0.2.1"]);
    tailer.feed([`@${NOW - 3} Failed from ::ffff:192.0.2.1`]);
    const bans = of("ban");
    assert.equal(bans.length, 1);
    assert.deepEqual(bans[0]!.request, {
      jail: "sshd",
      fid: "192.0.2.1",
      family: "inet4",
      failures: 3,
      time: NOW - 3,
      matches: [
        `@${NOW - 5} Failed from 192.0.2.1`,
        `@${NOW - 4} Failed from 192.0.2.1`,
        `@${NOW - 3} Failed from ::ffff:192.0.2.1`,
      ],
      data: {},
    });
    assert.equal(sent.at(-1)?.type, "ban");
  } finally {
    await runner.handle({ type: "stop" });
  }
});

Deno.test("JailRunner counts attempts with the log's failures: 2 log failures + attempt x3 reach maxretry 5", async () => {
  const { runner, tailer, of, found } = await harness({}, { maxretry: 5 });
  try {
    tailer.feed([`@${NOW - 5} Failed from 192.0.2.1`, `@${NOW - 4} Failed from 192.0.2.1`]);
    // The attempt's address is read as the log's are: the mapped form is the same id.
    const attempt = (matches: string[], attempts: number) =>
      runner.handle({
        type: "attempt",
        fid: "::ffff:192.0.2.1",
        family: "inet6",
        time: NOW,
        matches,
        attempts,
      });
    await attempt([], 1);
    assert.equal(of("ban").length, 0);
    await attempt(["by hand a", "by hand b"], 2);
    const bans = of("ban");
    assert.equal(bans.length, 1);
    assert.deepEqual(bans[0]!.request, {
      jail: "sshd",
      fid: "192.0.2.1",
      family: "inet4",
      failures: 5,
      time: NOW,
      matches: [`@${NOW - 4} Failed from 192.0.2.1`, "by hand a", "by hand b"],
      data: {},
    });
    // Attempts are not log lines: no `Found`.
    assert.equal(found().length, 2);
  } finally {
    await runner.handle({ type: "stop" });
  }
});

Deno.test("JailRunner counts an attempt that arrives before its start once it has started", async () => {
  const sent: FromWorker[] = [];
  const runner = new JailRunner({
    clock: new ManualClock(NOW),
    post: (m) => sent.push(m),
    createMatcher: () => new FakeMatcher(),
    createTailer: (o, s) => new FakeTailer(o, s),
    statsInterval: 60_000,
  });
  const started = runner.handle({
    type: "start",
    spec: spec({ maxretry: 2 }),
    positions: [],
    skipLineAt: null,
  });
  const attempted = runner.handle({
    type: "attempt",
    fid: "192.0.2.8",
    family: "inet4",
    time: NOW,
    matches: [],
    attempts: 2,
  });
  await Promise.all([started, attempted]);
  assert.deepEqual(sent.filter((m) => m.type === "ban").length, 1);
  await runner.handle({ type: "stop" });
});

Deno.test("JailRunner answers ping, forgets ids and stops with positions", async () => {
  const { runner, tailer, of, sent } = await harness();
  await runner.handle({ type: "ping", seq: 7 });
  assert.deepEqual(of("pong"), [{ type: "pong", seq: 7 }]);
  tailer.feed([`@${NOW} Failed from 192.0.2.1`, `@${NOW} Failed from 192.0.2.1`]);
  await runner.handle({ type: "forget", fid: "192.0.2.1" });
  tailer.feed([`@${NOW} Failed from 192.0.2.1`]);
  assert.equal(of("ban").length, 0);
  await runner.handle({ type: "stop" });
  assert.deepEqual(sent.at(-1), { type: "stopped", jail: "sshd" });
  assert.deepEqual(of("positions").at(-1)?.positions, [{
    path: "/var/log/auth.log",
    offset: 42,
    firstLineHash: "h",
  }]);
  const stats = of("stats").at(-1)!;
  assert.deepEqual([stats.currentlyFailed, stats.totalFailed], [1, 3]);
});

Deno.test("JailRunner skips ignored addresses with fail2ban's log line", async () => {
  const ignore = { ignoredBy: (a: IPAddress) => (a.canonical === "192.0.2.9" ? "ip" : null) };
  const { runner, tailer, of, found } = await harness({ createIgnoreList: () => ignore });
  try {
    tailer.feed([`@${NOW} Failed from 192.0.2.9`]);
    assert.equal(found().length, 0);
    assert.ok(of("log").some((m) => m.message === "[sshd] Ignore 192.0.2.9 by ip"));
  } finally {
    await runner.handle({ type: "stop" });
  }
});

Deno.test("JailRunner counts <F-ID> failures without address and drops names with usedns=no", async () => {
  const { runner, tailer, of } = await harness({}, { usedns: "no", maxretry: 1 });
  try {
    tailer.feed([
      `@${NOW} alice id session-7`,
      `@${NOW} Failed from evil.example`,
      `@${NOW} Failed from gw.example`,
    ]);
    assert.deepEqual(of("ban").map((m) => [m.request.fid, m.request.family, m.request.data]), [
      ["session-7", null, { user: "alice" }],
    ]);
    assert.equal(of("log").filter((m) => m.message.includes('usedns is "no"')).length, 1);
  } finally {
    await runner.handle({ type: "stop" });
  }
});

Deno.test("JailRunner resolves host names with usedns=yes", async () => {
  const resolver = {
    resolve: (n: string) => Promise.resolve(n === "bad.example" ? ["2001:db8::1"] : []),
  };
  const { runner, tailer, of } = await harness({ resolver }, { usedns: "yes", maxretry: 1 });
  try {
    tailer.feed([`@${NOW} Failed from bad.example`]);
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(of("ban").map((m) => [m.request.fid, m.request.family]), [[
      "2001:db8::1",
      "inet6",
    ]]);
  } finally {
    await runner.handle({ type: "stop" });
  }
});

Deno.test("JailRunner time rules: backlog drops old lines and undated failures, live uses now", async () => {
  const { runner, tailer, of, found, clock } = await harness({}, { maxretry: 100 });
  try {
    tailer.feed([
      `@${NOW - 700} Failed from 192.0.2.1`,
      `@${NOW - 100} Failed from 192.0.2.2`,
      `@- Failed from 192.0.2.3`,
    ], false);
    await Promise.resolve();
    assert.deepEqual(found().map((m) => [m.fid, m.time]), [["192.0.2.2", NOW - 100]]);
    clock.advance(120);
    tailer.feed([
      `@- Failed from 192.0.2.4`,
      `@${NOW - 3600} Failed from 192.0.2.5`,
      `@${NOW + 100} Failed from 192.0.2.6`,
    ]);
    await Promise.resolve();
    assert.deepEqual(found().slice(1).map((m) => [m.fid, m.time]), [
      ["192.0.2.4", NOW + 120],
      ["192.0.2.5", NOW + 120],
      ["192.0.2.6", NOW + 100],
    ]);
    const warnings = of("log").filter((m) => m.level === "WARNING").map((m) => m.message);
    assert.equal(
      warnings.filter((w) => w.startsWith("[sshd] Found a match but no valid date/time")).length,
      1,
    );
    assert.equal(
      warnings.filter((w) => w.startsWith("[sshd] Ignoring all log entries older than 600s"))
        .length,
      1,
    );
    assert.equal(
      warnings.filter((w) => w.startsWith("[sshd] Detected a log entry 3720s before")).length,
      1,
    );
  } finally {
    await runner.handle({ type: "stop" });
  }
});

Deno.test("JailRunner update applies maxretry and logpaths without a restart", async () => {
  const { runner, tailer, of } = await harness();
  try {
    tailer.feed([`@${NOW} Failed from 192.0.2.1`]);
    await runner.handle({
      type: "update",
      spec: spec({ maxretry: 2, logpath: ["/var/log/other.log"] }),
    });
    tailer.feed([`@${NOW} Failed from 192.0.2.1`]);
    assert.equal(of("ban").length, 1);
    assert.deepEqual(tailer.updates.map((u) => u.logpath), [["/var/log/other.log"]]);
  } finally {
    await runner.handle({ type: "stop" });
  }
});

Deno.test("JailRunner keeps the old filter when an update's filter does not compile", async () => {
  let calls = 0;
  const { runner, tailer, of } = await harness({
    createMatcher: () => {
      if (calls++ > 0) throw new SyntaxError('Bad failregex in "test"');
      return new FakeMatcher();
    },
  }, { maxretry: 1 });
  try {
    await runner.handle({ type: "update", spec: spec({ maxretry: 1 }) });
    assert.ok(of("log").some((m) => m.level === "ERROR" && m.message.includes("Bad failregex")));
    tailer.feed([`@${NOW} Failed from 192.0.2.1`]);
    assert.equal(of("ban").length, 1);
  } finally {
    await runner.handle({ type: "stop" });
  }
});

Deno.test("JailRunner start position: skipLineAt, saved position, findtime seek", async () => {
  const { runner, tailer } = await harness();
  try {
    const text = Array.from({ length: 50 }, (_, i) => `@${NOW - 1000 + i * 20} noise ${i}\n`).join(
      "",
    );
    const bytes = new TextEncoder().encode(text);
    const file = {
      readAt(buf: Uint8Array, offset: number) {
        const part = bytes.subarray(offset, offset + buf.length);
        buf.set(part);
        return part.length;
      },
    };
    const d = tailer.options.startAt!("/var/log/auth.log", file, bytes.length, "hash");
    // First line at or after NOW - 600: i = 20.
    assert.equal(d.offset, text.indexOf(`@${NOW - 600} `));
  } finally {
    await runner.handle({ type: "stop" });
  }
  const sent: FromWorker[] = [];
  let t: FakeTailer | null = null;
  const r2 = new JailRunner({
    clock: new ManualClock(NOW),
    post: (m) => sent.push(m),
    createMatcher: () => new FakeMatcher(),
    createTailer: (o, s) => (t = new FakeTailer(o, s)),
  });
  const skip = { path: "/var/log/auth.log", offset: 10, firstLineHash: "hash" };
  await r2.handle({ type: "start", spec: spec(), positions: [], skipLineAt: skip });
  const ft = t! as FakeTailer;
  const none = { readAt: () => 0 };
  assert.deepEqual(ft.options.startAt!("/var/log/auth.log", none, 100, "hash"), {
    offset: 10,
    skipLine: true,
  });
  // Lines of the backlog after a skip report their positions one by one.
  ft.feed(["@1 a", "@2 b"], false);
  assert.deepEqual(
    sent.filter((m) => m.type === "positions").map((m) =>
      m.type === "positions" && m.positions[0]!.offset
    ),
    [5, 10],
  );
  await r2.handle({ type: "stop" });
});

Deno.test("JailRunner with the real tailer and filter: first start counts only lines within findtime", async () => {
  const { createJailMatcher } = await import("./jail_matcher.ts");
  const dir = await Deno.makeTempDir();
  const path = `${dir}/auth.log`;
  const at = (t: number, ip: string) =>
    `${
      new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19)
    } Failed password for root from ${ip}\n`;
  let text = "";
  for (let t = NOW - 7200; t < NOW - 600; t += 10) text += at(t, "192.0.2.1");
  text += at(NOW - 300, "192.0.2.2") + at(NOW - 200, "192.0.2.3");
  await Deno.writeTextFile(path, text);
  const sent: FromWorker[] = [];
  const runner = new JailRunner({
    clock: new ManualClock(NOW),
    post: (m) => sent.push(m),
    createMatcher: createJailMatcher,
    statsInterval: 60_000,
    pollInterval: 60_000,
  });
  const base = spec({ logpath: [path], backend: "polling" });
  const jail: JailSpec = {
    ...base,
    filter: {
      ...base.filter,
      logtimezone: "UTC",
      failregex: [{ pattern: "^\\s*Failed password for \\S+ from <HOST>$", origin: "test" }],
    },
  };
  try {
    await runner.handle({ type: "start", spec: jail, positions: [], skipLineAt: null });
    const found = foundEvents(sent).map((m) => m.fid);
    assert.deepEqual(found, ["192.0.2.2", "192.0.2.3"]);
    assert.ok(sent.some((m) => m.type === "log" && m.message.includes("pos = ")));
  } finally {
    await runner.handle({ type: "stop" });
    await Deno.remove(dir, { recursive: true });
  }
  const last = sent.filter((m) => m.type === "positions").at(-1);
  assert.equal(
    last?.type === "positions" && last.positions[0]?.offset,
    new TextEncoder().encode(text).length,
  );
});

Deno.test("JailRunner with a real file marked tail: starts at its end, a restart resumes", async () => {
  const { createJailMatcher } = await import("./jail_matcher.ts");
  const dir = await Deno.makeTempDir();
  const path = `${dir}/auth.log`;
  const other = `${dir}/other.log`;
  const at = (t: number, ip: string) =>
    `${
      new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19)
    } Failed password for root from ${ip}\n`;
  // Recent failures: a file not marked tail counts them from its backlog.
  const backlog = at(NOW - 60, "192.0.2.1") + at(NOW - 50, "192.0.2.2");
  await Deno.writeTextFile(path, backlog + "2023-11-14 22:13:20 partial line being wri");
  await Deno.writeTextFile(other, backlog);
  const base = spec({ logpath: [path, other], logpathTail: [true, false], backend: "polling" });
  const jail: JailSpec = {
    ...base,
    filter: {
      ...base.filter,
      logtimezone: "UTC",
      failregex: [{ pattern: "^\\s*Failed password for \\S+ from <HOST>$", origin: "test" }],
    },
  };
  const run = async (
    positions: LogPosition[],
    fromDatabase: boolean,
    more: () => Promise<void>,
  ) => {
    const sent: FromWorker[] = [];
    const runner = new JailRunner({
      clock: new ManualClock(NOW),
      post: (m) => sent.push(m),
      createMatcher: createJailMatcher,
      statsInterval: 60_000,
      pollInterval: 60_000,
    });
    try {
      await runner.handle({ type: "start", spec: jail, positions, skipLineAt: null, fromDatabase });
      await more();
    } finally {
      await runner.handle({ type: "stop" });
    }
    const found = foundEvents(sent).map((m) => m.fid);
    const last = sent.filter((m) => m.type === "positions").at(-1);
    return { found, positions: last?.type === "positions" ? last.positions : [], sent };
  };
  try {
    // The database's position (0) of the tail file is ignored, as fail2ban does; the partial last
    // line is not cut.
    const first = await run(
      [{ path, offset: 0, firstLineHash: "" }],
      true,
      () => Promise.resolve(),
    );
    assert.deepEqual(first.found, ["192.0.2.1", "192.0.2.2"], "only the other file's backlog");
    const tailAt = new TextEncoder().encode(backlog).length;
    assert.equal(first.positions.find((p) => p.path === path)?.offset, tailAt);
    assert.ok(
      first.sent.some((m) => m.type === "log" && m.message.includes(`"${path}" (pos = ${tailAt},`)),
    );
    // Lines written while the worker was away are read by a restart in the same run.
    await Deno.writeTextFile(path, "ting\n" + at(NOW - 5, "192.0.2.3"), { append: true });
    const again = await run(first.positions, false, () => Promise.resolve());
    assert.deepEqual(again.found, ["192.0.2.3"]);
    // Without a saved position it starts at its end too (a glob entry marked tail as well).
    const globbed: JailSpec = { ...jail, logpath: [`${dir}/auth.*`, other] };
    const sent: FromWorker[] = [];
    const runner = new JailRunner({
      clock: new ManualClock(NOW),
      post: (m) => sent.push(m),
      createMatcher: createJailMatcher,
      statsInterval: 60_000,
      pollInterval: 60_000,
    });
    await runner.handle({ type: "start", spec: globbed, positions: [], skipLineAt: null });
    await runner.handle({ type: "stop" });
    const found = foundEvents(sent).map((m) => m.fid);
    assert.deepEqual(found, ["192.0.2.1", "192.0.2.2"], "only the other file's backlog");
    const last = sent.filter((m) => m.type === "positions").at(-1);
    assert.equal(
      last?.type === "positions" && last.positions.find((p) => p.path === path)?.offset,
      (await Deno.stat(path)).size,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("JailRunner reports a jail that cannot start and still answers", async () => {
  const sent: FromWorker[] = [];
  const runner = new JailRunner({
    clock: new ManualClock(NOW),
    post: (m) => sent.push(m),
    createMatcher: () => new FakeMatcher(),
  });
  await runner.handle({
    type: "start",
    spec: spec({ logencoding: "klingon" }),
    positions: [],
    skipLineAt: null,
  });
  assert.ok(
    sent.some((m) =>
      m.type === "log" && m.level === "ERROR" &&
      m.message === '[sshd] Cannot start the jail: Unknown logencoding: "klingon"'
    ),
  );
  assert.equal(sent.some((m) => m.type === "ready"), false);
  await runner.handle({ type: "ping", seq: 1 });
  await runner.handle({ type: "stop" });
  assert.ok(sent.some((m) => m.type === "pong"));
  assert.equal(sent.at(-1)?.type, "stopped");
});

Deno.test("JailRunner publishes the line in progress and skips exactly skipLineEnd after a hang", async () => {
  const buffer = new SharedArrayBuffer(LINE_PROGRESS_BYTES);
  const seen: (LineInProgress | null)[] = [];
  class SpyMatcher extends FakeMatcher {
    override processLine(line: string, now: number): LineResult {
      seen.push(new LineProgress(buffer).current());
      return super.processLine(line, now);
    }
  }
  const sent: FromWorker[] = [];
  let t: FakeTailer | null = null;
  const runner = new JailRunner({
    clock: new ManualClock(NOW),
    post: (m) => sent.push(m),
    createMatcher: () => new SpyMatcher(),
    createTailer: (o, s) => (t = new FakeTailer(o, s)),
  });
  const at = { path: "/var/log/auth.log", offset: 0, firstLineHash: "hash" };
  await runner.handle({
    type: "start",
    spec: spec(),
    positions: [at],
    skipLineAt: at,
    skipLineEnd: 25,
    progress: buffer,
  });
  const ft = t! as FakeTailer;
  const none = { readAt: () => 0 };
  assert.deepEqual(ft.options.startAt!("/var/log/auth.log", none, 100, "hash"), {
    offset: 0,
    skipLineEnd: 25,
  });
  ft.feed(["@1 a", "@2 b"]);
  assert.deepEqual(seen, [
    { path: "/var/log/auth.log", end: 5 },
    { path: "/var/log/auth.log", end: 10 },
  ]);
  // Done with the line: nothing in progress.
  assert.equal(new LineProgress(buffer).current(), null);
  // No line-by-line positions: the skip was exact.
  assert.equal(sent.filter((m) => m.type === "positions").length, 0);
  await runner.handle({ type: "stop" });

  // A position already past the stuck line (reported after it): resume there, skip nothing.
  let t2: FakeTailer | null = null;
  const r2 = new JailRunner({
    clock: new ManualClock(NOW),
    post: () => {},
    createMatcher: () => new FakeMatcher(),
    createTailer: (o, s) => (t2 = new FakeTailer(o, s)),
  });
  const past = { path: "/var/log/auth.log", offset: 30, firstLineHash: "hash" };
  await r2.handle({
    type: "start",
    spec: spec(),
    positions: [past],
    skipLineAt: past,
    skipLineEnd: 25,
  });
  assert.deepEqual((t2! as FakeTailer).options.startAt!("/var/log/auth.log", none, 100, "hash"), {
    offset: 30,
  });
  await r2.handle({ type: "stop" });
});

Deno.test({
  name:
    "JailRunner logs a line on which a failregex gave up at the backtrack limit, naming file and regex",
  ignore: !regexBounded(),
  async fn() {
    const pattern = "^user (\\w+)+ from <HOST>$";
    const { runner, tailer, of } = await harness(
      { createMatcher: createJailMatcher },
      {
        filter: testFilterSpec({
          name: "hostile",
          failregex: [{ pattern, origin: "filter.d/hostile.conf [Definition] failregex line 1" }],
        }),
      },
    );
    try {
      tailer.feed(["user bob from 192.0.2.1", "user alice from 192.0.2.2"]);
      const before = of("log").filter((m) => m.level === "WARNING").length;
      // \w+ can split 40 letters in 2^39 ways before the "!" fails them all
      tailer.feed([`user ${"a".repeat(40)}! from 192.0.2.3`, "user carol from 192.0.2.4"]);
      const warnings = of("log").filter((m) => m.level === "WARNING").slice(before);
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.match(
        warnings[0]!.message,
        /^\[sshd\] A line of "\/var\/log\/auth\.log": failregex #1 \(filter\.d\/hostile\.conf \[Definition\] failregex line 1\) gave up after 500000 backtracks, so the line counts as not matched: "user a{40}! from 192\.0\.2\.3"$/,
      );
    } finally {
      await runner.handle({ type: "stop" });
    }
  },
});
