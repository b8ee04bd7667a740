import assert from "node:assert/strict";
import * as node from "node:path";
import { dirname, isAbsolute, normalize, resolve } from "./posix_path.ts";

const CASES = [
  "",
  "/",
  "//",
  "a",
  "a/",
  "/a",
  "/a/",
  "/a/b",
  "/a/b/",
  "/a//b//",
  "a/b",
  "./a",
  "../a",
  "/a/../b",
  "/a/./b/../../c",
  "/../a",
  "a/../..",
  "/var/log/auth.log",
  "/var/log/*.log",
  "é/ü.log",
  "//a",
  "//a/b",
  "a//b",
  "///",
];

Deno.test("posix_path agrees with node:path", () => {
  for (const p of CASES) {
    assert.equal(dirname(p), node.dirname(p), `dirname(${JSON.stringify(p)})`);
    assert.equal(isAbsolute(p), node.isAbsolute(p), `isAbsolute(${JSON.stringify(p)})`);
    assert.equal(resolve(p), node.resolve(p), `resolve(${JSON.stringify(p)})`);
    if (p === "") continue;
    // node keeps a trailing slash; normalize drops it.
    const n = node.normalize(p);
    assert.equal(normalize(p), n.length > 1 ? n.replace(/\/$/, "") : n, `normalize(${p})`);
  }
});
