import assert from "node:assert/strict";
import {
  applyBounds,
  defaultTemplates,
  PatternTemplate,
  TemplateFlag,
  templateFromPattern,
  translatePythonRegex,
  unboundPattern,
} from "./date_templates.ts";
import { LocalTime } from "./strptime.ts";

Deno.test("translatePythonRegex turns named groups and back-references into numbered ones", () => {
  const t = translatePythonRegex("(?iu)(?P<d>\\d+)(?P<_sep>[-/])x(?P=_sep)(a)\\:{,2}(?#note)[]a]");
  assert.equal(t.flags, "i");
  assert.deepEqual(t.groupNames, ["d", "_sep", null]);
  assert.equal(t.source, "(\\d+)([-/])x(?:\\2)(a):{0,2}[\\]a]");
  assert.ok(new RegExp(t.source, t.flags + "u").test("12/x/a:]"));
});

Deno.test("translatePythonRegex keeps Python's Unicode word rules", () => {
  const t = translatePythonRegex("\\bab\\W");
  const re = new RegExp(t.source, "u");
  assert.ok(re.test("ab."));
  assert.ok(!re.test("éab."), "é is a word character, so no boundary before a");
  assert.ok(!re.test("abé"));
});

Deno.test("applyBounds adds word bounds, line anchors and a date group as fail2ban does", () => {
  assert.deepEqual(applyBounds("%H", "H", true, true), {
    regex: "(?=^|\\b|\\W)(%H)(?=\\b|\\W|$)",
    name: "H",
    flags: TemplateFlag.WORD_BEGIN | TemplateFlag.WORD_END,
    wrapped: true,
  });
  const start = applyBounds("x", "X", "start", true);
  assert.equal(start.regex, "^(?:\\W{0,2})?(x)(?=\\b|\\W|$)");
  assert.equal(start.name, "{^LN-BEG}X");
  assert.equal(start.flags, TemplateFlag.LINE_BEGIN | TemplateFlag.WORD_END);
  const marks = applyBounds("^I\\(()**", "I", true, true);
  assert.equal(marks.regex, "^I\\(()");
  assert.equal(marks.flags, TemplateFlag.LINE_BEGIN);
  assert.equal(
    applyBounds("a$", "a", true, true).flags & TemplateFlag.LINE_END,
    TemplateFlag.LINE_END,
  );
});

Deno.test("unboundPattern strips bound markers for use inside {DATE}", () => {
  assert.equal(unboundPattern("{^LN-BEG}%H:%M"), "%H:%M");
  assert.equal(unboundPattern("{UNB}%H"), "%H");
  assert.equal(unboundPattern("x(?=\\b|\\W|$)"), "x");
});

Deno.test("defaultTemplates lists fail2ban's 31 templates, anchored copies first", () => {
  const all = defaultTemplates();
  assert.equal(all.length, 31);
  assert.equal(all[0]!.name.startsWith("{^LN-BEG}"), true);
  assert.equal(all[0]!.weight, 100);
  assert.equal(all.at(-1)!.name, "TAI64N");
  assert.equal(new Set(all.map((t) => t.name)).size, 31);
});

Deno.test("PatternTemplate names directives as fail2ban shows them", () => {
  assert.equal(
    new PatternTemplate("%d/%b/%Y %H:%M:%S %z").name,
    "Day/MON/Year 24hour:Minute:Second Zone offset",
  );
  assert.equal(new PatternTemplate("{^LN-BEG}%ExY-%Exm").name, "{^LN-BEG}ExYear-ExMonth");
  assert.throws(() => new PatternTemplate("%Q"), /unknown directive "%Q"/);
});

Deno.test("templateFromPattern recognises EPOCH, LEPOCH and TAI64N keywords", () => {
  assert.equal(templateFromPattern("epoch").name, "Epoch");
  assert.equal(templateFromPattern("^LEPOCH").name, "{^LN-BEG}LongEpoch");
  assert.equal(templateFromPattern("{^LN-BEG}TAI64N").name, "{^LN-BEG}TAI64N");
  assert.equal(templateFromPattern("^\\[{EPOCH}\\]").name, "^\\[{EPOCH}\\]");
});

Deno.test("the syslog template's fast path reads exactly what its regex matches", () => {
  const t = templateFromPattern("{^LN-BEG}(?:%a )?%b %d %k:%M:%S(?:\\.%f)?(?: %ExY)?");
  assert.equal(t.hasFastMatch, true);
  assert.equal(
    templateFromPattern("(?:%a )?%b %d %k:%M:%S(?:\\.%f)?(?: %ExY)?").hasFastMatch,
    false,
  );
  const now = 1735689600;
  const fastLocal = new LocalTime();
  const regexLocal = new LocalTime();
  let fast = 0;
  for (const month of ["Nov", "nov", "DEC", "Feb", "Foo", "Mon"]) {
    for (
      const day of ["01", " 1", "1 ", "09", "10", "29", "30", "31", "32", "00", " 0", "3 ", "4 "]
    ) {
      for (const hms of ["00:00:00", "23:59:59", "24:00:00", "29:00:00", "12:60:00", "1:02:03"]) {
        for (const tail of ["", " host x", " 2024", " 2024 x", " 2x", ".5", "x", "_", ":", "\t"]) {
          const line = `${month} ${day} ${hms}${tail}`;
          const end = t.fastMatch(line, now, null, fastLocal);
          if (end < 0) continue;
          fast++;
          const m = t.search(line);
          assert.ok(m !== null, line);
          assert.deepEqual([t.dateStart(m), t.dateEnd(m)], [0, end], line);
          const want = t.toTime(m, now, null, regexLocal);
          assert.ok(Object.is(t.fastTime, want), `${line}: ${t.fastTime} != ${want}`);
        }
      }
    }
  }
  assert.ok(fast > 200);
});
