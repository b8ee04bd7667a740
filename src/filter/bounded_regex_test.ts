import assert from "node:assert/strict";
import { BACKTRACK_LIMIT, boundedRegExp, ranIntoLimit, regexBounded } from "./bounded_regex.ts";
import { Filter } from "./filter.ts";
import { emptyFilter } from "../config/jail_reader.ts";

// `deno task test` runs with --allow-natives-syntax, as every f2b process does.
const bounded = regexBounded();

Deno.test("the test task runs with the flag that bounds regexes", () => {
  assert.ok(bounded, "run the tests with --v8-flags=--allow-natives-syntax (deno task test)");
  assert.equal(BACKTRACK_LIMIT, 500_000);
});

Deno.test({
  name: "a bounded regex matches as RegExp does and gives up on a catastrophic case in ms",
  ignore: !bounded,
  fn() {
    const re = boundedRegExp("^x (a+)+$", "u");
    assert.deepEqual([...re.exec("x aaa")!], ["x aaa", "aaa"]);
    assert.equal(re.exec("x b"), null);
    const t0 = performance.now();
    // without the limit: about 2 minutes here (2^40 ways to split the a's)
    assert.equal(re.exec(`x ${"a".repeat(40)}!`), null);
    assert.ok(performance.now() - t0 < 2000, `${performance.now() - t0} ms`);
    assert.throws(() => boundedRegExp("(", "u"), SyntaxError);
  },
});

Deno.test({
  name: "a filter with a catastrophic failregex finishes a hostile line and goes on matching",
  ignore: !bounded,
  fn() {
    const f = new Filter({
      ...emptyFilter("hostile"),
      failregex: [{ pattern: "^user (\\w+\\s?)+ from <HOST>$", origin: "test" }],
    }, { dateDetector: null });
    const t0 = performance.now();
    // \w+ can split 30 letters in 2^29 ways before the "!" fails them all
    const hostile = f.processLine(`user ${"a".repeat(30)}! from 192.0.2.1`, 1124013600);
    assert.ok(performance.now() - t0 < 2000, `${performance.now() - t0} ms`);
    assert.equal(hostile.failures.length, 0);
    assert.deepEqual(f.regexesGivenUp(), [{ kind: "failregex", index: 0, origin: "test" }]);
    const ok = f.processLine("user bob from 192.0.2.2", 1124013600);
    assert.equal(ok.failures[0]?.fid, "192.0.2.2");
    assert.deepEqual(f.regexesGivenUp(), []);
  },
});

Deno.test({
  name: "bounded regexes of equal source and flags are one compiled regex, shared",
  ignore: !bounded,
  fn() {
    const a = boundedRegExp("^shared (\\d+)$", "u");
    assert.equal(boundedRegExp("^shared (\\d+)$", "u"), a);
    assert.notEqual(boundedRegExp("^shared (\\d+)$", "uy"), a);
    assert.notEqual(boundedRegExp("^shared (\\d+)$", ""), a);
    // a sticky user sets lastIndex before each exec: sharing cannot mix up positions
    const s = boundedRegExp("\\d+", "uy");
    s.lastIndex = 2;
    assert.equal(s.exec("ab12")?.[0], "12");
    s.lastIndex = 0;
    assert.equal(s.exec("ab12"), null);
  },
});

Deno.test({
  name: "ranIntoLimit tells a regex cut short at the limit from a slow one that finished",
  ignore: !bounded,
  fn() {
    const catastrophic = boundedRegExp("^x (a+)+$", "u");
    assert.equal(ranIntoLimit(catastrophic, `x ${"a".repeat(40)}!`), true);
    assert.equal(ranIntoLimit(catastrophic, "x aaa"), false); // matches
    // 300,000 backtracks (under the limit): milliseconds, and no match on its own
    const slow = boundedRegExp("^(?:a|b)*$", "u");
    const long = "a".repeat(300_000) + "!";
    slow.exec("warm up");
    const t0 = performance.now();
    assert.equal(slow.exec(long), null);
    const ms = performance.now() - t0;
    assert.equal(ranIntoLimit(slow, long), false, `${ms} ms`);
    assert.equal(ranIntoLimit(boundedRegExp("^b", "u"), "abc"), false); // fast
  },
});

Deno.test({
  name: "regexesGivenUp names the prefregex, and the ignoreregex, that gave up",
  ignore: !bounded,
  fn() {
    const f = new Filter({
      ...emptyFilter("hostile"),
      prefregex: { pattern: "^(\\w+\\s?)+: <F-CONTENT>.+</F-CONTENT>$", origin: "pref" },
      failregex: [{ pattern: "^fail from <HOST>$", origin: "fail" }],
      ignoreregex: [{ pattern: "^(b+)+$", origin: "ignore" }],
    }, { dateDetector: null });
    f.processLine(`${"w".repeat(30)}!: fail from 192.0.2.9`, 1124013600);
    assert.deepEqual(f.regexesGivenUp(), [{ kind: "prefregex", index: 0, origin: "pref" }]);
    f.processLine(`${"b".repeat(40)}!`, 1124013600);
    assert.deepEqual(f.regexesGivenUp(), [{ kind: "ignoreregex", index: 0, origin: "ignore" }]);
    assert.equal(
      f.processLine("sshd: fail from 192.0.2.3", 1124013600).failures[0]?.fid,
      "192.0.2.3",
    );
    assert.deepEqual(f.regexesGivenUp(), []);
  },
});
