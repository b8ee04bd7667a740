import assert from "node:assert/strict";
import { parseIni } from "./ini_parser.ts";

Deno.test("parseIni reads sections, DEFAULT, both delimiters and lower-cases option names", () => {
  const ini = parseIni("[DEFAULT]\nA = 1\n[Definition]\nFailRegex: x = y\nempty =\n", "f.conf");
  assert.equal(ini.defaults.get("a")?.value, "1");
  const def = ini.sections.get("Definition")!;
  assert.equal(def.options.get("failregex")?.value, "x = y");
  assert.equal(def.options.get("empty")?.value, "");
  assert.equal(def.options.get("failregex")?.line, 4);
});

Deno.test("parseIni joins continuation lines, keeps inner blank lines, skips comments", () => {
  const text = [
    "[s]",
    "v = one",
    "    two ; inline comment",
    "# full comment inside",
    "",
    "    three # not a comment",
    "",
    "",
    "w = ;only comment",
    "x = a;b",
  ].join("\n");
  const s = parseIni(text, "f").sections.get("s")!;
  assert.equal(s.options.get("v")?.value, "one\ntwo\n\nthree # not a comment");
  assert.deepEqual(s.options.get("v")?.lines, [2, 3, 5, 6]);
  assert.equal(s.options.get("w")?.value, "");
  assert.equal(s.options.get("x")?.value, "a;b");
});

Deno.test("parseIni reports syntax errors with file and line", () => {
  assert.throws(() => parseIni("key = 1\n", "a.conf"), /a\.conf:1: file contains no section/);
  assert.throws(() => parseIni("[s]\njunk line\n", "b.conf"), /b\.conf:2: cannot parse line/);
  assert.throws(() => parseIni("[s]\na=1\nA=2\n", "c.conf"), /c\.conf:3: option "a"/);
  assert.throws(() => parseIni("[s]\n[s]\n", "d.conf"), /d\.conf:2: section "s"/);
  assert.throws(() => parseIni("[s]\njunk\n", "e.conf"), SyntaxError);
});
