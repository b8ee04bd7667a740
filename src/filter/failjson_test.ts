import assert from "node:assert/strict";
import { evalCondition, readFailJson } from "./failjson.ts";

Deno.test("readFailJson follows filterOptions, constraints, fileOptions and addFILE", () => {
  const files: Record<string, string> = {
    demo: [
      '# failJSON: { "time": "2005-01-01T00:00:01", "match": true, "host": "192.0.2.1" }',
      "Jan  1 00:00:01 a failed from 192.0.2.1",
      "plain line must not match",
      '# filterOptions: [{}, {"mode": "aggressive"}]',
      '# failJSON: { "match": true, "constraint": "opts.get(\'mode\') == \'aggressive\'" }',
      "x",
      '# addFILE: "demo-journal"',
    ].join("\n"),
    "demo-journal": [
      '# fileOptions: {"logtype": "journal"}',
      '# filterOptions: [{"test.prefix-line": "host sshd[1]: "}]',
      '# failJSON: { "match": false }',
      "y",
    ].join("\n"),
  };
  const cases = readFailJson("demo", (n) => files[n]!);
  assert.deepEqual(
    cases.map((c) => [c.filterName, c.line, c.expect.match ?? null, c.journal]),
    [
      ["demo", "Jan  1 00:00:01 a failed from 192.0.2.1", true, false],
      ["demo", "plain line must not match", null, false],
      ["demo{'mode': 'aggressive'}", "x", true, false],
      ["demo{'logtype': 'journal'}", "host sshd[1]: y", false, true],
    ],
  );
  assert.deepEqual(cases[2]!.filterOptions, { mode: "aggressive" });
});

Deno.test("evalCondition understands the sample conditions and refuses others", () => {
  assert.equal(evalCondition("name == 'sshd'", "sshd", {}), true);
  assert.equal(evalCondition("name=='sshd'", "sshd-journal", {}), false);
  assert.equal(evalCondition("opts.get('mode') != 'aggressive'", "x", { mode: "ddos" }), true);
  assert.throws(() => evalCondition("__import__('os')", "x", {}), SyntaxError);
});
