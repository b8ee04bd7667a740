/**
 * SECURITY.md items 12 and 13 with real parts: the jail's own runner with the
 * shipped sshd filter read from a configuration, the real date detector and
 * the real tailer on a real file; only the clock is a ManualClock, so that it
 * can cross New Year, DST changes and step back. Each failure is counted once,
 * at the right time; a failure line without a date warns once per pattern.
 */

import assert from "node:assert/strict";
import { readJails } from "../src/config/jail_reader.ts";
import type { FromWorker } from "../src/ipc/messages.ts";
import { foundEvents } from "../src/ipc/messages.ts";
import { createJailMatcher } from "../src/jail/jail_matcher.ts";
import { JailRunner } from "../src/jail/jail_runner.ts";
import { ManualClock } from "../src/util/clock.ts";
import { append, waitFor, withDir, writeConfig } from "./security_harness.ts";

/** Runs `fn` with TZ set (the date detector reads it on each conversion). */
async function withTz<T>(tz: string, fn: () => Promise<T>): Promise<T> {
  const old = Deno.env.get("TZ");
  Deno.env.set("TZ", tz);
  try {
    return await fn();
  } finally {
    if (old === undefined) Deno.env.delete("TZ");
    else Deno.env.set("TZ", old);
  }
}

/** A jail runner on `<dir>/sshd.log` with the shipped sshd filter and the given extra options. */
async function sshdRunner(dir: string, start: number, extra = "") {
  await writeConfig(dir, [{ name: "sshd", filter: "sshd", extra }], {
    shippedFilters: true,
    defaults: { maxretry: "3", findtime: "1d" },
  });
  const [spec] = readJails(dir);
  assert.ok(spec);
  const clock = new ManualClock(start);
  const sent: FromWorker[] = [];
  const runner = new JailRunner({
    clock,
    post: (m) => sent.push(m),
    createMatcher: createJailMatcher,
    pollInterval: 20,
    statsInterval: 60_000,
  });
  await runner.handle({ type: "start", spec, positions: [], skipLineAt: null });
  const found = () => foundEvents(sent);
  const bans = () =>
    sent.filter((m): m is Extract<FromWorker, { type: "ban" }> => m.type === "ban");
  const warnings = () =>
    sent.filter((m): m is Extract<FromWorker, { type: "log" }> =>
      m.type === "log" && m.level === "WARNING"
    ).map((m) => m.message);
  /** Appends one line and waits until the runner has read it (its position moved). */
  let read = 0;
  const feed = async (line: string) => {
    await append(`${dir}/sshd.log`, line + "\n");
    read += new TextEncoder().encode(line + "\n").length;
    await waitFor(
      () => sent.some((m) => m.type === "positions" && m.positions.some((p) => p.offset >= read)),
      `line read: ${line}`,
      () => JSON.stringify(sent.slice(-5)),
    );
  };
  return { runner, clock, found, bans, warnings, feed };
}

const fail = (date: string, ip: string) =>
  `${date} srv sshd[42]: Failed password for root from ${ip} port 22 ssh2`;

Deno.test("year-less dates across New Year: each failure counted once at its own year's time", async () => {
  await withTz("UTC", () =>
    withDir(async (dir) => {
      const t = (s: string) => Date.parse(s) / 1000;
      const r = await sshdRunner(dir, t("2025-12-31T23:59:40Z"));
      try {
        await r.feed(fail("Dec 31 23:59:30", "192.0.2.1"));
        r.clock.set(t("2026-01-01T00:00:20Z"));
        await r.feed(fail("Jan  1 00:00:10", "192.0.2.1"));
        // A line of the old year written late, after midnight.
        r.clock.set(t("2026-01-01T00:00:40Z"));
        await r.feed(fail("Dec 31 23:59:59", "192.0.2.1"));
        assert.deepEqual(r.found().map((f) => [f.fid, f.time]), [
          ["192.0.2.1", t("2025-12-31T23:59:30Z")],
          ["192.0.2.1", t("2026-01-01T00:00:10Z")],
          ["192.0.2.1", t("2025-12-31T23:59:59Z")],
        ]);
        assert.equal(r.bans().length, 1);
        assert.equal(r.bans()[0]!.request.failures, 3);
      } finally {
        await r.runner.handle({ type: "stop" });
      }
    }));
});

Deno.test("DST changes in Europe/Zurich: local times across both switches counted once at the right instant", async () => {
  await withTz("Europe/Zurich", () =>
    withDir(async (dir) => {
      const t = (s: string) => Date.parse(s) / 1000;
      const r = await sshdRunner(dir, t("2026-03-29T01:00:30Z"));
      try {
        // Spring: 02:00 CET becomes 03:00 CEST; these two lines are 15 s apart.
        await r.feed(fail("Mar 29 01:59:50", "192.0.2.2"));
        await r.feed(fail("Mar 29 03:00:05", "192.0.2.2"));
        // Autumn: 03:00 CEST becomes 02:00 CET; the clock follows the log.
        r.clock.set(t("2026-10-25T00:00:05Z"));
        await r.feed(fail("Oct 25 01:59:59", "192.0.2.3"));
        r.clock.set(t("2026-10-25T02:00:05Z"));
        await r.feed(fail("Oct 25 03:00:01", "192.0.2.3"));
        assert.deepEqual(r.found().map((f) => [f.fid, f.time]), [
          ["192.0.2.2", t("2026-03-29T00:59:50Z")],
          ["192.0.2.2", t("2026-03-29T01:00:05Z")],
          ["192.0.2.3", t("2026-10-24T23:59:59Z")],
          ["192.0.2.3", t("2026-10-25T02:00:01Z")],
        ]);
      } finally {
        await r.runner.handle({ type: "stop" });
      }
    }));
});

Deno.test("a clock stepping back one hour: failures before and after the step are each counted once", async () => {
  await withTz("UTC", () =>
    withDir(async (dir) => {
      const t = (s: string) => Date.parse(s) / 1000;
      const r = await sshdRunner(dir, t("2026-06-01T12:00:10Z"));
      try {
        await r.feed(fail("Jun  1 12:00:05", "192.0.2.4"));
        await r.feed(fail("Jun  1 12:00:08", "192.0.2.4"));
        // NTP steps the clock back; the logger's stamps follow it.
        r.clock.set(t("2026-06-01T11:00:10Z"));
        await r.feed(fail("Jun  1 11:00:09", "192.0.2.4"));
        assert.deepEqual(r.found().map((f) => f.time), [
          t("2026-06-01T12:00:05Z"),
          t("2026-06-01T12:00:08Z"),
          t("2026-06-01T11:00:09Z"),
        ]);
        assert.equal(r.bans().length, 1, "three failures within findtime make a ban");
      } finally {
        await r.runner.handle({ type: "stop" });
      }
    }));
});

Deno.test("a log in another time zone (logtimezone = UTC+0500): failures at the right instant, no time-zone warning", async () => {
  await withTz("Europe/Zurich", () =>
    withDir(async (dir) => {
      const t = (s: string) => Date.parse(s) / 1000;
      const r = await sshdRunner(dir, t("2026-06-01T07:00:10Z"), "logtimezone = UTC+0500");
      try {
        await r.feed(fail("Jun  1 12:00:05", "192.0.2.5"));
        assert.deepEqual(r.found().map((f) => f.time), [t("2026-06-01T07:00:05Z")]);
        assert.ok(!r.warnings().some((w) => /timezone problem/.test(w)), r.warnings().join("\n"));
      } finally {
        await r.runner.handle({ type: "stop" });
      }
    }));
});

Deno.test("failure lines without a date: a warning once, not per line, and each counted at now", async () => {
  await withTz("UTC", () =>
    withDir(async (dir) => {
      const now = Date.parse("2026-06-01T12:00:00Z") / 1000;
      const r = await sshdRunner(dir, now);
      try {
        for (let i = 0; i < 3; i++) {
          await r.feed(`srv sshd[42]: Failed password for root from 192.0.2.6 port 22 ssh2`);
        }
        for (let i = 0; i < 3; i++) {
          await r.feed(`srv sshd[42]: Invalid user x${i} from 192.0.2.7 port 22`);
        }
        // Never one per line: one per failregex that matched (two kinds of lines here).
        const undated = r.warnings().filter((w) => /no valid date/.test(w));
        assert.equal(undated.length, 2, undated.join("\n"));
        assert.notEqual(
          undated[0]!.match(/failregex \d+/)?.[0],
          undated[1]!.match(/failregex \d+/)?.[0],
        );
        assert.deepEqual(r.found().map((f) => [f.fid, f.time]), [
          ["192.0.2.6", now],
          ["192.0.2.6", now],
          ["192.0.2.6", now],
          ["192.0.2.7", now],
          ["192.0.2.7", now],
          ["192.0.2.7", now],
        ]);
      } finally {
        await r.runner.handle({ type: "stop" });
      }
    }));
});
