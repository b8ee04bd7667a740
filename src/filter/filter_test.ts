import assert from "node:assert/strict";
import type { FilterSpec } from "../config/types.ts";
import { type DateDetectorLike, Filter } from "./filter.ts";
import { testFilterSpec } from "../../tests/_jail_spec.ts";

/** A fake date detector: `T<epoch> ` at the start of a line. */
const fakeDates: DateDetectorLike = {
  match(line) {
    const m = /^T(\d+) /.exec(line);
    return m ? { time: Number(m[1]), start: 0, end: m[0].length - 1, template: "T" } : null;
  },
};

function spec(parts: Partial<FilterSpec>): FilterSpec {
  return testFilterSpec({ name: "demo", ...parts });
}

const rx = (...p: string[]) => p.map((pattern, i) => ({ pattern, origin: `demo failregex ${i}` }));

Deno.test("Filter cuts the date out, matches failregex and reports host, user and time", () => {
  const f = new Filter(
    spec({ failregex: rx("^ auth failed for <F-USER>\\S+</F-USER> from <HOST>$") }),
    { dateDetector: fakeDates },
  );
  const r = f.processLine("T1000 auth failed for bob from 192.0.2.7\r", 2000);
  assert.equal(r.time, 1000);
  assert.equal(r.failures.length, 1);
  const x = r.failures[0]!;
  assert.deepEqual([x.fid, x.host, x.time, x.data.user, x.lines], [
    "192.0.2.7",
    "192.0.2.7",
    1000,
    "bob",
    ["T1000 auth failed for bob from 192.0.2.7"],
  ]);
  assert.deepEqual(r.matchedRegexes, [0]);
  assert.equal(f.processLine("T1000 auth ok for bob from 192.0.2.7", 2000).failures.length, 0);
});

Deno.test("Filter runs failregex on the prefregex content and honours ignoreregex", () => {
  const f = new Filter(
    spec({
      prefregex: { pattern: "^ \\w+\\[\\d+\\]: <F-CONTENT>.+</F-CONTENT>$", origin: "prefregex" },
      failregex: rx("^bad login from <ADDR>", "^denied <F-ID>\\w+</F-ID>"),
      ignoreregex: rx("from 10\\."),
    }),
    { dateDetector: fakeDates },
  );
  assert.equal(
    f.processLine("T5 app[1]: bad login from 192.0.2.1", 9).failures[0]?.host,
    "192.0.2.1",
  );
  const id = f.processLine("T5 app[1]: denied token42", 9).failures[0]!;
  assert.deepEqual([id.fid, id.host, id.regexIndex], ["token42", null, 1]);
  const ign = f.processLine("T5 app[1]: bad login from 10.0.0.1", 9);
  assert.deepEqual([ign.failures.length, ign.ignored], [0, true]);
  assert.equal(f.processLine("T5 bad login from 192.0.2.1", 9).failures.length, 0);
});

Deno.test("Filter ties lines by <F-MLFID> and drops <F-NOFAIL> matches", () => {
  const f = new Filter(
    spec({
      prefregex: {
        pattern: "^ s\\[<F-MLFID>\\d+</F-MLFID>\\]: <F-CONTENT>.+</F-CONTENT>$",
        origin: "p",
      },
      failregex: rx(
        "^connect from <HOST>$",
        "^<F-NOFAIL>try</F-NOFAIL> user <F-USER>\\S+</F-USER>$",
        "^fail user <F-USER>\\S+</F-USER>$",
      ),
    }),
    { dateDetector: fakeDates },
  );
  assert.equal(f.processLine("T1 s[7]: connect from 192.0.2.9", 10).failures[0]?.host, "192.0.2.9");
  const nofail = f.processLine("T2 s[7]: try user ann", 10);
  assert.deepEqual([nofail.failures.length, nofail.matchedRegexes], [0, [1]]);
  const r = f.processLine("T3 s[7]: fail user ann", 10).failures[0]!;
  assert.deepEqual([r.fid, r.data.user, r.time], ["192.0.2.9", "ann", 3]);
  assert.deepEqual(r.users, ["ann"]);
  // another connection id knows no host
  assert.equal(f.processLine("T4 s[8]: fail user ann", 10).failures.length, 0);
});

Deno.test("Filter buffers maxlines lines for multi-line regexes with <SKIPLINES>", () => {
  const f = new Filter(
    spec({ maxlines: 3, failregex: rx("^ begin (?P<c>\\d+)<SKIPLINES>^ end (?P=c) from <HOST>$") }),
    { dateDetector: fakeDates },
  );
  assert.equal(f.processLine("T1 begin 5", 10).failures.length, 0);
  assert.equal(f.processLine("T2 noise", 10).failures.length, 0);
  const r = f.processLine("T3 end 5 from 192.0.2.3", 10).failures[0]!;
  assert.equal(r.host, "192.0.2.3");
  assert.deepEqual(r.lines, ["T1 begin 5", "T3 end 5 from 192.0.2.3"]);
});

Deno.test("Filter uses the given time for journal lines and rejects a failregex without id", () => {
  const f = new Filter(spec({ failregex: rx("^bad <HOST>$") }), { dateDetector: null });
  assert.equal(f.processLine("bad 192.0.2.4", 50, 40).failures[0]?.time, 40);
  assert.throws(
    () => new Filter(spec({ failregex: rx("^no host here$") }), { dateDetector: null }),
    (e: unknown) => e instanceof SyntaxError && /"demo"/.test(e.message),
  );
});

Deno.test("Filter skips the regexes of a line holding no text a failregex needs", () => {
  const f = new Filter(
    spec({
      prefregex: {
        pattern: "^\\s*<F-MLFID>\\S+ sshd: </F-MLFID><F-CONTENT>.+</F-CONTENT>$",
        origin: "p",
      },
      failregex: rx("^(?:Failed|Invalid) \\S+ from <HOST>$", "^Bad (?:a|b)c from <HOST>$"),
    }),
    { dateDetector: fakeDates },
  );
  const no = f.processLine("T100 host sshd: session opened for root", 200);
  assert.deepEqual([no.failures, no.matchedRegexes, f.prefRegexMatched], [[], [], null]);
  const near = f.processLine("T100 host sshd: Failed to open", 200);
  assert.deepEqual([near.failures, f.prefRegexMatched], [[], true]);
  const hit = f.processLine("T100 host sshd: Bad bc from 192.0.2.7", 200);
  assert.deepEqual([hit.failures[0]?.fid, hit.failures[0]?.lines, f.prefRegexMatched], [
    "192.0.2.7",
    ["T100 host sshd: Bad bc from 192.0.2.7"],
    true,
  ]);
  // a required text across the cut date is not seen: the check runs on the text without it
  const cut = new Filter(spec({ failregex: rx("ab <HOST>") }), {
    dateDetector: {
      match: (line) => {
        const i = line.indexOf("T1");
        return i < 0 ? null : { time: 1, start: i, end: i + 2, template: "T" };
      },
    },
  });
  assert.equal(cut.processLine("x aT1b 192.0.2.8", 5).failures[0]?.fid, "192.0.2.8");
});

Deno.test("Filter.twin matches as its original does, with state of its own", () => {
  const f = new Filter(
    spec({
      prefregex: {
        pattern: "^ <F-MLFID>\\S+ \\[\\d+\\]:</F-MLFID> <F-CONTENT>.+</F-CONTENT>$", // after the date: a space
        origin: "p",
      },
      failregex: rx(
        "^user <F-USER>\\S+</F-USER> unknown$",
        "^auth failed from <HOST>$",
      ),
    }),
    { dateDetector: fakeDates },
  );
  // the original has seen user bob in session 7; the twin has not
  assert.equal(f.processLine("T1000 sshd [7]: user bob unknown", 2000).failures.length, 0);
  const twin = f.twin(fakeDates);
  const line = "T1001 sshd [7]: auth failed from 192.0.2.7";
  const viaTwin = twin.processLine(line, 2000);
  assert.deepEqual(viaTwin.failures.map((x) => [x.fid, x.data.user ?? null]), [[
    "192.0.2.7",
    null,
  ]]);
  const viaOriginal = f.processLine(line, 2000);
  assert.deepEqual(viaOriginal.failures.map((x) => [x.fid, x.data.user]), [["192.0.2.7", "bob"]]);
});
