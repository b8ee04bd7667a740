import assert from "node:assert/strict";
import { BACKTRACK_LIMIT, boundedRegExp, regexBounded } from "./bounded_regex.ts";
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
    const hostile = f.processLine(`user ${"a ".repeat(30)}a! from 192.0.2.1`, 1124013600);
    assert.ok(performance.now() - t0 < 2000, `${performance.now() - t0} ms`);
    assert.equal(hostile.failures.length, 0);
    const ok = f.processLine("user bob from 192.0.2.2", 1124013600);
    assert.equal(ok.failures[0]?.fid, "192.0.2.2");
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
