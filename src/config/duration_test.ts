import assert from "node:assert/strict";
import { parseDuration } from "./duration.ts";

Deno.test("parseDuration converts fail2ban durations like MyTime.str2seconds", () => {
  const cases: Array<[string, number]> = [
    ["600", 600],
    ["10m", 600],
    ["1h30m", 5400],
    ["1d", 86400],
    ["1w", 604800],
    ["1mo", 2629800],
    ["1y", 31557600],
    ["-1", -1],
    ["3600.5", 3600.5],
    ["1 hour", 3600],
    ["30 minutes", 1800],
    ["1year-6mo", 15778800],
    ["2*1h", 7200],
    ["1h 30m", 5400],
    ["5 s", 5],
    ["1d12h", 129600],
    ["0.5d", 43200],
    ["2 weeks", 1209600],
  ];
  for (const [text, seconds] of cases) assert.equal(parseDuration(text), seconds, text);
});

Deno.test("parseDuration rejects a bad value naming it", () => {
  for (const bad of ["", "abc", "10 parsecs", "1h+", "1 2 3"]) {
    assert.throws(() => parseDuration(bad), (e: Error) => {
      assert.ok(e instanceof SyntaxError);
      assert.ok(e.message.startsWith(`Invalid duration ${JSON.stringify(bad)}:`), e.message);
      return true;
    });
  }
});
