import assert from "node:assert/strict";
import { join } from "node:path";
import {
  debuggexUrl,
  forEachFileLine,
  parseNow,
  parseRegexArgs,
  pprintList,
  RegexUsageError,
  resolveFilter,
  runRegexCommand,
  shortstr,
} from "./regex.ts";
import { ManualClock } from "../util/clock.ts";
import { readFilter } from "../config/filter_reader.ts";
import { DateDetector } from "../filter/date_detector.ts";
import { Filter } from "../filter/filter.ts";

const NOW = 1124013600; // 2005-08-14 10:00:00 UTC

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "f2b_regex_test_" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function withUtc<T>(fn: () => Promise<T>): Promise<T> {
  const old = Deno.env.get("TZ");
  Deno.env.set("TZ", "UTC");
  try {
    return await fn();
  } finally {
    if (old === undefined) Deno.env.delete("TZ");
    else Deno.env.set("TZ", old);
  }
}

async function runCaptured(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runRegexCommand(args, {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    clock: new ManualClock(NOW),
  });
  return { code, out, err };
}

Deno.test("parseRegexArgs reads fail2ban-regex's options and arguments", () => {
  const o = parseRegexArgs([
    "-c",
    "/etc/f2b",
    "-d",
    "%Y",
    "--TZ=UTC",
    "-L5",
    "-r",
    "--print-all-missed",
    "-vv",
    "log",
    "re",
    "ign",
  ]);
  assert.ok(typeof o === "object");
  assert.equal(o.config, "/etc/f2b");
  assert.equal(o.datepattern, "%Y");
  assert.equal(o.timezone, "UTC");
  assert.equal(o.maxlines, 5);
  assert.equal(o.raw, true);
  assert.equal(o.printAllMissed, true);
  assert.equal(o.verbose, 2);
  assert.deepEqual([o.log, o.regex, o.ignoreregex], ["log", "re", "ign"]);
  assert.equal(parseRegexArgs(["-h"]), "help");
  assert.equal(parseRegexArgs(["-V"]), "version-short");
  assert.equal(parseRegexArgs(["--version"]), "version");
});

Deno.test("parseRegexArgs rejects missing arguments, bad numbers and unknown options", () => {
  assert.throws(() => parseRegexArgs(["only-log"]), /provide both <LOG> and <REGEX>/);
  assert.throws(() => parseRegexArgs(["-L", "x", "a", "b"]), /invalid integer value: 'x'/);
  assert.throws(() => parseRegexArgs(["--bogus", "a", "b"]), RegexUsageError);
  assert.throws(
    () => parseRegexArgs(["--print-no-missed", "--print-all-missed", "a", "b"]),
    /mutually exclusive/,
  );
  assert.throws(() => parseRegexArgs(["--now", "soon", "a", "b"]), /Invalid --now "soon"/);
});

Deno.test("parseNow reads epoch seconds and ISO dates", () => {
  assert.equal(parseNow("1124013600"), NOW);
  assert.equal(parseNow("2005-08-14T10:00:00Z"), NOW);
  assert.equal(parseNow("2005-08-14T12:00:00+02:00"), NOW);
});

Deno.test("shortstr and pprintList format like fail2ban-regex", () => {
  assert.equal(shortstr("x".repeat(60)), "x".repeat(50) + "...");
  assert.equal(shortstr("short"), "short");
  assert.equal(pprintList(["a", "b"], "head"), "|- head\n|  a\n|  b\n`-");
  assert.equal(pprintList([]), null);
});

Deno.test("resolveFilter reads a filter by name with options, a path, or takes a regex", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "filter.d"));
    await Deno.writeTextFile(
      join(dir, "filter.d", "demo.conf"),
      "[Definition]\nfailregex = ^<mode> from <HOST>$\nmode = bad\n",
    );
    const byName = resolveFilter("demo[mode=worse]", dir);
    assert.equal(byName.fromFile, true);
    assert.equal(byName.spec.failregex[0]!.pattern, "^worse from <HOST>$");
    assert.deepEqual(byName.header, [
      `Use   failregex filter file : demo, basedir: ${dir}`,
      "Use   filter options : {'mode': 'worse'}",
    ]);
    const byPath = resolveFilter(join(dir, "filter.d", "demo.conf"), "/nonexistent");
    assert.equal(byPath.spec.failregex[0]!.pattern, "^bad from <HOST>$");
    const raw = resolveFilter("^auth failed from <HOST>$", dir);
    assert.equal(raw.fromFile, false);
    assert.deepEqual(raw.header, ["Use   failregex line : ^auth failed from <HOST>$"]);
  });
});

Deno.test("forEachFileLine decodes bad bytes, strips CR, and handles the last line as asked", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "log");
    const bytes = new Uint8Array([
      ...new TextEncoder().encode("one\r\n"),
      0xff,
      0xfe,
      0x41,
      0x0a, // invalid UTF-8
      0x63,
      0x61,
      0x66,
      0xe9,
      0x0a, // Latin-1 é
      0x61,
      0x00,
      0x62,
      0x0a, // NUL
      ...new TextEncoder().encode("last"),
    ]);
    await Deno.writeFile(path, bytes);
    const got: [string, number][] = [];
    await forEachFileLine(path, "utf-8", (l, n) => void got.push([l, n]));
    assert.deepEqual(got, [["one", 1], ["\ufffd\ufffdA", 2], ["caf\ufffd", 3], ["a\0b", 4], [
      "last",
      5,
    ]]);
    const held: string[] = [];
    await forEachFileLine(path, "utf-8", (l) => void held.push(l), false);
    assert.equal(held.length, 4);
    const latin: string[] = [];
    await forEachFileLine(path, "latin1", (l) => void latin.push(l));
    assert.equal(latin[2], "café");
  });
});

Deno.test("forEachFileLine with keepLf passes LF lines with their LF, CR LF and empty lines without", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "log");
    await Deno.writeTextFile(path, "one\n\ntwo\r\nthree\nlast");
    const got: [string, number][] = [];
    await forEachFileLine(path, "utf-8", (l, n) => void got.push([l, n]), true, true);
    assert.deepEqual(got, [["one\n", 1], ["", 2], ["two", 3], ["three\n", 4], ["last", 5]]);
  });
});

const HAVE_SSHD = (() => {
  try {
    return Deno.statSync("/etc/fail2ban/filter.d/sshd.conf").isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "a filter finds the same in a line given with its LF as without it",
  ignore: !HAVE_SSHD,
}, () => {
  const spec = readFilter("/etc/fail2ban", { name: "sshd", options: {} });
  const lines = [
    "Nov  1 00:00:00 host sshd[51193]: Failed password for invalid user oracle from 98.107.48.125 port 40833 ssh2",
    "Nov  1 00:00:01 host sshd[51193]: Accepted publickey for root from 197.1.228.69 port 60099 ssh2: RSA SHA256:abc",
    "Nov  1 00:00:02 host sshd[2916]: pam_unix(sshd:session): session opened for user oracle by (uid=0)",
    "host sshd[1]: Invalid user test from 72.127.137.29 port 5579",
    "Nov  1 00:00:03 host sshd[3]: Connection closed by authenticating user test 141.118.207.132 port 31113 [preauth]\r",
  ];
  for (const failureData of [true, false]) {
    const make = () =>
      new Filter(spec, {
        dateDetector: new DateDetector({}),
        checkAllRegex: true,
        keepNoFail: true,
        failureData,
      });
    const plain = make();
    const withLf = make();
    for (const l of lines) {
      const a = plain.processLine(l, NOW);
      const b = withLf.processLine(l + "\n", NOW);
      assert.deepEqual(b, a, l);
      assert.equal(withLf.prefRegexMatches(), plain.prefRegexMatches(), l);
    }
  }
});

Deno.test("forEachFileLine streams a 10 MB line and multi-byte characters across chunk ends", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "big");
    const big = "é".repeat(5 * 1024 * 1024); // 10 MB of two-byte characters, crossing read chunks
    await Deno.writeTextFile(path, `start\n${big}\nend\n`);
    const got: string[] = [];
    await forEachFileLine(
      path,
      "utf-8",
      (l) => void got.push(l.length > 100 ? `len ${l.length} ok ${l === big}` : l),
    );
    assert.deepEqual(got, ["start", `len ${big.length} ok true`, "end"]);
  });
});

Deno.test("runRegexCommand prints fail2ban-regex's summary for a log file and a regex", async () => {
  await withUtc(async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, "auth.log");
      await Deno.writeTextFile(
        log,
        [
          "# comment",
          "Aug 14 09:00:00 host app: auth failed for bob from 192.0.2.1",
          "Aug 14 09:00:01 host app: auth failed for eve from 192.0.2.2",
          "",
          "Aug 14 09:00:02 host app: all good",
          "Aug 14 09:00:03 host app: auth failed for root from 192.0.2.3",
          "",
        ].join("\n"),
      );
      const r = await runCaptured([
        log,
        "auth failed for <F-USER>\\S+</F-USER> from <HOST>$",
        "for root",
      ]);
      assert.equal(r.code, 0, r.err);
      const expected = [
        "",
        "Running tests",
        "=============",
        "",
        "Use   failregex line : auth failed for <F-USER>\\S+</F-USER> from <HOST>$",
        "Use ignoreregex line : for root",
        `Use         log file : ${log}`,
        "Use         encoding : UTF-8",
        "",
        "",
        "Results",
        "=======",
        "",
        "Failregex: 2 total",
        "|-  #) [# of hits] regular expression",
        "|   1) [2] auth failed for <F-USER>\\S+</F-USER> from <HOST>$",
        "`-",
        "",
        "Ignoreregex: 1 total",
        "|-  #) [# of hits] regular expression",
        "|   1) [1] for root",
        "`-",
        "",
        "Date template hits:",
        "|- [# of hits] date format",
        "|  [4] {^LN-BEG}(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?",
        "`-",
        "",
        "Lines: 4 lines, 1 ignored, 2 matched, 1 missed",
      ];
      const lines = r.out.split("\n");
      assert.deepEqual(lines.slice(0, expected.length), expected);
      assert.match(lines[expected.length]!, /^\[processed in \d+\.\d\d sec\]$/);
      assert.deepEqual(lines.slice(expected.length + 1), [
        "",
        "|- Ignored line(s):",
        "|  Aug 14 09:00:03 host app: auth failed for root from 192.0.2.3",
        "`-",
        "|- Missed line(s):",
        "|  Aug 14 09:00:02 host app: all good",
        "`-",
        "",
      ]);
    });
  });
});

Deno.test("runRegexCommand --json prints one record per failure with line numbers and times", async () => {
  await withUtc(async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, "auth.log");
      await Deno.writeTextFile(
        log,
        "Aug 14 09:00:00 auth failed for bob from 192.0.2.1\nnoise\nAug 15 09:00:00 auth failed for al from 192.0.2.2\n",
      );
      const r = await runCaptured([
        "--json",
        "--now",
        "2005-08-14T10:00:00Z",
        log,
        "auth failed for <F-USER>\\S+</F-USER> from <HOST>$",
      ]);
      assert.equal(r.code, 0, r.err);
      const recs = r.out.trim().split("\n").map((l) => JSON.parse(l));
      assert.deepEqual(recs, [
        {
          line: 1,
          fid: "192.0.2.1",
          host: "192.0.2.1",
          time: NOW - 3600,
          user: "bob",
          ip4: "192.0.2.1",
        },
        // a day ahead of now stays in this year: fail2ban moves only dates more than a day ahead
        {
          line: 3,
          fid: "192.0.2.2",
          host: "192.0.2.2",
          time: NOW - 3600 + 86400,
          user: "al",
          ip4: "192.0.2.2",
        },
      ]);
    });
  });
});

Deno.test("runRegexCommand -o prints only the asked value per failure", async () => {
  const line = "Aug 14 09:00:00 auth failed for bob from 192.0.2.1";
  const ip = await runCaptured([
    "-o",
    "ip",
    line,
    "auth failed for <F-USER>\\S+</F-USER> from <HOST>$",
  ]);
  assert.equal(ip.out, "192.0.2.1\n");
  const user = await runCaptured([
    "-o",
    "user",
    line,
    "auth failed for <F-USER>\\S+</F-USER> from <HOST>$",
  ]);
  assert.equal(user.out, "bob\n");
  const tpl = await runCaptured([
    "-o",
    "<ip> <F-USER>",
    line,
    "auth failed for <F-USER>\\S+</F-USER> from <HOST>$",
  ]);
  assert.equal(tpl.out, "192.0.2.1 bob\n");
});

Deno.test("runRegexCommand reports a single line given as the argument", async () => {
  const r = await runCaptured(["Aug 14 09:00:00 login from 192.0.2.9", "login from <HOST>"]);
  assert.equal(r.code, 0);
  assert.ok(r.out.includes("Use      single line : Aug 14 09:00:00 login from 192.0.2.9\n"));
  assert.ok(r.out.includes("Lines: 1 lines, 0 ignored, 1 matched, 0 missed\n"));
});

Deno.test("runRegexCommand exits 255 with a message for bad input", async () => {
  const missing = await runCaptured(["only-one"]);
  assert.equal(missing.code, 255);
  assert.match(missing.err, /provide both <LOG> and <REGEX>/);
  const noHost = await runCaptured(["some line", "no host group here"]);
  assert.equal(noHost.code, 255);
  assert.match(noHost.out, /ERROR: .*no host or id group/);
  const badDate = await runCaptured(["-d", "%Q", "some line", "from <HOST>"]);
  assert.equal(badDate.code, 255);
  assert.match(badDate.out, /unknown directive "%Q"/);
});

Deno.test("debuggexUrl encodes as Python's urlencode, with tags expanded", () => {
  const url = debuggexUrl("a b~c*é", "^x <F-USER>\\S+</F-USER> y$", false, "warn");
  assert.equal(
    url,
    "https://www.debuggex.com/?re=%5Ex+%28%3FP%3Cuser%3E%5CS%2B%29+y%24&str=a+b~c%2A%C3%A9&flavor=python",
  );
  assert.ok(debuggexUrl("x", "x", true, "warn").endsWith("&flavor=python&flags=m"));
  assert.ok(debuggexUrl("é", "x", false, "warn", "latin1").includes("&str=%E9&"));
});

Deno.test("regex -D prints each missed line with each failregex and its debuggex link", async () => {
  await withTempDir(async (dir) => {
    const log = join(dir, "a.log");
    await Deno.writeTextFile(log, "2005-08-14 10:00:00 nothing here\n");
    const { code, out } = await runCaptured([
      "-D",
      "--now",
      String(NOW),
      log,
      "fail from <HOST>",
    ]);
    assert.equal(code, 0);
    assert.match(
      out,
      /\|- Missed line\(s\):\n\| {2}2005-08-14 10:00:00 nothing here \| fail from <HOST> \| {2}https:\/\/www\.debuggex\.com\/\?re=fail\+from\+%28%3F%3A.*&str=2005-08-14\+10%3A00%3A00\+nothing\+here&flavor=python\n`-/,
    );
  });
});

Deno.test("regex -l: info lists the filter files, debug the set-up, tracedebug each failure", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "filter.d"));
    const conf = join(dir, "filter.d", "demo.conf");
    await Deno.writeTextFile(conf, "[Definition]\nfailregex = <mode> from <HOST>$\nmode = bad\n");
    const log = join(dir, "a.log");
    await Deno.writeTextFile(log, "2005-08-14 10:00:00 worse from 192.0.2.7\n");
    const base = ["--now", String(NOW), "-c", dir, log, "demo[mode=worse]"];
    const quiet = await runCaptured(base);
    assert.doesNotMatch(quiet.out, /fail2ban\.|Real {2}filter options/);
    const info = await runCaptured(["-l", "info", ...base]);
    assert.match(
      info.out,
      /fail2ban\.configreader +\[\d+\]: INFO +I: Loading configs for filter\.d\/demo/,
    );
    assert.ok(info.out.includes(`  Loading files: ['${conf}']`));
    assert.doesNotMatch(info.out, /DEBUG|Real {2}filter options/);
    const debug = await runCaptured(["-l", "DEBUG", ...base]);
    assert.match(debug.out, /DEBUG +D: Created Filter\(demo\)/);
    assert.ok(debug.out.includes("Real  filter options : {'logtype': 'file', 'mode': 'worse'}"));
    const trace = await runCaptured(["-l", "tracedebug", ...base]);
    assert.match(trace.out, /TRACEDEBUG T: {3}Matched failregex 1: id '192\.0\.2\.7'/);
    assert.doesNotMatch(trace.out, /Working on line/);
    const heavy = await runCaptured(["-l", "5", ...base]);
    assert.match(heavy.out, /HEAVYDEBUG H: Working on line '2005-08-14 10:00:00 worse from/);
    const bad = await runCaptured(["-l", "loud", ...base]);
    assert.equal(bad.code, 255);
    assert.match(bad.out + bad.err, /Invalid log level "loud" \(one of critical, .*heavydebug/);
  });
});
