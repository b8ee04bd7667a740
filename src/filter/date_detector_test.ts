import assert from "node:assert/strict";
import { DateDetector } from "./date_detector.ts";
import { withTz } from "../../tests/_with_tz.ts";

const NOW = 1124013600; // 2005-08-14 10:00:00 UTC

Deno.test("DateDetector {NONE} gives now and an empty date span", () => {
  const dd = new DateDetector({ datepattern: "{NONE}" });
  assert.deepEqual(dd.match("Aug 14 11:59:59 host sshd[1]: x", NOW), {
    time: NOW,
    start: 0,
    end: 0,
    template: "^",
  });
});

Deno.test("DateDetector uses the default templates without a datepattern", () => {
  withTz("UTC", () => {
    const dd = new DateDetector({});
    assert.equal(dd.templateNames.length, 31);
    const m = dd.match("Aug 14 09:59:59 host sshd[1]: Failed password", NOW);
    assert.equal(m?.time, NOW - 1);
    assert.equal(m?.start, 0);
    assert.equal(m?.end, 15);
  });
});

Deno.test("DateDetector returns null for a line without a date", () => {
  const dd = new DateDetector({});
  assert.equal(dd.match("no date in this line", NOW), null);
  assert.equal(dd.match("", NOW), null);
});

Deno.test("DateDetector moves the winning template forward and counts its hits", () => {
  withTz("UTC", () => {
    const dd = new DateDetector({});
    for (let i = 0; i < 5; i++) {
      assert.ok(dd.match(`[14/Aug/2005:09:00:0${i} +0000] GET /`, NOW));
    }
    const hits = dd.templateHits();
    const winner = hits.findIndex((h) => h.hits > 0);
    assert.equal(hits[winner]!.hits, 5);
    assert.equal(
      hits[winner]!.name,
      "{^LN-BEG}Day(?P<_sep>[-/])MON(?P=_sep)ExYear[ :]?24hour:Minute:Second(?:\\.Microseconds)?(?: Zone offset)?",
    );
    assert.equal(winner, 0, "a template that keeps winning moves to the front");
  });
});

Deno.test("DateDetector keeps finding dates when the log switches format", () => {
  withTz("UTC", () => {
    const dd = new DateDetector({});
    assert.equal(dd.match("Aug 14 09:00:00 host x", NOW)?.time, NOW - 3600);
    assert.equal(dd.match("2005-08-14 09:00:01 host x", NOW)?.time, NOW - 3599);
    assert.equal(dd.match("Aug 14 09:00:02 host x", NOW)?.time, NOW - 3598);
    assert.equal(dd.match("1124013600 host x", NOW)?.time, NOW);
  });
});

Deno.test("DateDetector prefers a date closer to the line start over one in the message", () => {
  withTz("UTC", () => {
    const dd = new DateDetector({});
    const m = dd.match("x 2005-08-14 09:00:00 user Aug 13 10:00:00 y", NOW);
    assert.equal(m?.start, 2);
    assert.equal(m?.time, NOW - 3600);
    // the same layout again: the remembered template at the remembered place
    const m2 = dd.match("x 2005-08-14 09:00:05 user Aug 13 10:00:00 y", NOW);
    assert.equal(m2?.time, NOW - 3595);
  });
});

Deno.test("DateDetector year-less dates take the year of now and roll back after a day ahead", () => {
  withTz("UTC", () => {
    const dd = new DateDetector({});
    const newYear = Date.UTC(2005, 0, 1, 12) / 1000;
    assert.equal(
      dd.match("Dec 31 23:59:59 x", newYear)?.time,
      Date.UTC(2004, 11, 31, 23, 59, 59) / 1000,
    );
    assert.equal(
      dd.match("Jan  2 11:59:59 x", newYear)?.time,
      Date.UTC(2005, 0, 2, 11, 59, 59) / 1000,
    );
    assert.equal(
      dd.match("Jan  2 12:00:01 x", newYear)?.time,
      Date.UTC(2004, 0, 2, 12, 0, 1) / 1000,
    );
  });
});

Deno.test("DateDetector time-only dates are today, or yesterday when ahead of now", () => {
  withTz("UTC", () => {
    const dd = new DateDetector({ datepattern: "{^LN-BEG}%H:%M:%S" });
    assert.equal(dd.match("09:00:00 x", NOW)?.time, NOW - 3600);
    assert.equal(dd.match("11:00:00 x", NOW)?.time, NOW + 3600 - 86400);
  });
});

Deno.test("DateDetector logtimezone applies to dates without a zone only", () => {
  withTz("Europe/Zurich", () => {
    const dd = new DateDetector({ logtimezone: "UTC" });
    assert.equal(dd.match("2005-08-14 10:00:00 x", NOW)?.time, NOW);
    assert.equal(dd.match("2005-08-14 12:00:00+02:00 x", NOW)?.time, NOW);
    const local = new DateDetector({});
    assert.equal(local.match("2005-08-14 12:00:00 x", NOW)?.time, NOW);
    const plus = new DateDetector({ logtimezone: "UTC+0300" });
    assert.equal(plus.match("2005-08-14 13:00:00 x", NOW)?.time, NOW);
  });
});

Deno.test("DateDetector resolves DST gaps and repeated hours like mktime", () => {
  withTz("Europe/Zurich", () => {
    const dd = new DateDetector({});
    const ref = 1130000000;
    // 02:30 does not exist on 2005-03-27: read with the winter offset
    assert.equal(dd.match("2005-03-27 02:30:00 x", ref)?.time, 1111887000);
    // 02:30 happens twice on 2005-10-30: the offset of the previous date decides
    dd.match("2005-07-01 12:00:00 x", ref);
    assert.equal(dd.match("2005-10-30 02:30:00 x", ref)?.time, 1130632200);
    dd.match("2005-01-01 12:00:00 x", ref);
    assert.equal(dd.match("2005-10-30 02:30:00 x", ref)?.time, 1130635800);
  });
});

Deno.test("DateDetector datepattern with several lines tries each", () => {
  withTz("UTC", () => {
    const dd = new DateDetector({ datepattern: "^%%Y %Y-%m-%d %H:%M:%S\n{^LN-BEG}Epoch\n" });
    assert.deepEqual(dd.templateNames, [
      "^%Y Year-Month-Day 24hour:Minute:Second",
      "{^LN-BEG}Epoch",
    ]);
    assert.equal(dd.match("%Y 2005-08-14 10:00:00 x", NOW)?.time, NOW);
    assert.equal(dd.match("1124013600 x", NOW)?.time, NOW);
    assert.equal(dd.match("Aug 14 10:00:00 x", NOW), null);
  });
});

Deno.test("DateDetector {^LN-BEG} keeps only the line-anchored default templates", () => {
  const dd = new DateDetector({ datepattern: "{^LN-BEG}" });
  assert.equal(dd.templateNames.length, 17);
  assert.ok(dd.templateNames.every((n) => n.startsWith("{^LN-BEG}") || n.startsWith("^")));
  assert.equal(dd.match("x Aug 14 10:00:00", NOW), null);
});

Deno.test("DateDetector {DATE} places every default format in the pattern", () => {
  withTz("UTC", () => {
    const dd = new DateDetector({ datepattern: "^[^\\[]*\\[({DATE})" });
    assert.equal(dd.templateNames.length, 17);
    const line = 'host - - [14/Aug/2005:12:00:00 +0200] "GET /"';
    const m = dd.match(line, NOW);
    assert.equal(m?.time, NOW);
    assert.equal(line.slice(m!.start, m!.end), "14/Aug/2005:12:00:00 +0200");
  });
});

Deno.test("DateDetector {UNB} finds dates inside words, the default bounds do not", () => {
  withTz("UTC", () => {
    assert.equal(new DateDetector({ datepattern: "%H:%M:%S" }).match("abc09:00:00def", NOW), null);
    const m = new DateDetector({ datepattern: "{UNB}%H:%M:%S" }).match("abc09:00:00def", NOW);
    assert.deepEqual([m?.start, m?.end, m?.time], [3, 11, NOW - 3600]);
  });
});

Deno.test("DateDetector rejects bad datepatterns and time zones with a clear error", () => {
  assert.throws(() => new DateDetector({ datepattern: "%Y-%q" }), SyntaxError);
  assert.throws(() => new DateDetector({ datepattern: "%H:%M\n%H:%M" }), /already a template/);
  assert.throws(() => new DateDetector({ logtimezone: "Mars/Olympus" }), /Mars\/Olympus/);
  assert.throws(() => new DateDetector({ datepattern: "(?P<x>a)(?(x)b|c) %H" }), /conditional/);
});

Deno.test("DateDetector gives null for a matched text that is no valid date", () => {
  const dd = new DateDetector({});
  assert.equal(dd.match("Sep 31 10:00:00 x", NOW), null);
  assert.equal(dd.match("Aug 14 24:00:00 x", NOW), null);
});
