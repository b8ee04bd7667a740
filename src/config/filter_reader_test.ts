import assert from "node:assert/strict";
import { withFiles } from "../../tests/_config_files.ts";
import { readFilter } from "./filter_reader.ts";
import { ConfigError } from "./config_reader.ts";

function withDir(files: Record<string, string>, fn: (dir: string) => void): void {
  withFiles(files, fn, "f2b_fr_");
}

const COMMON = "[DEFAULT]\n__prefix = (?:\\S+ )?\n";
const FILTER = `[INCLUDES]
before = common.conf

[Definition]
_daemon = sshd
prefregex = ^%(__prefix)s<F-CONTENT>.+</F-CONTENT>$
cmnfailre = ^Failed for <F-USER>\\S+</F-USER> from <HOST>
mdre-normal =
mdre-aggressive = ^Bad thing from <HOST>
failregex = <cmnfailre>
            <mdre-<mode>>

ignoreregex = ^ignored <HOST>
datepattern = {^LN-BEG}
maxlines = 2
journalmatch = _SYSTEMD_UNIT=%(_daemon)s.service

[Init]
mode = normal
`;

Deno.test("readFilter resolves %()s, [Init] options and nested <tag> references", () => {
  withDir({ "filter.d/common.conf": COMMON, "filter.d/f.conf": FILTER }, (dir) => {
    const normal = readFilter(dir, "f");
    assert.equal(normal.name, "f");
    assert.equal(normal.file, `${dir}/filter.d/f.conf`);
    assert.deepEqual(normal.failregex.map((r) => r.pattern), [
      "^Failed for <F-USER>\\S+</F-USER> from <HOST>",
    ]);
    assert.equal(normal.prefregex?.pattern, "^(?:\\S+ )?<F-CONTENT>.+</F-CONTENT>$");
    assert.deepEqual(normal.ignoreregex.map((r) => r.pattern), ["^ignored <HOST>"]);
    assert.equal(normal.datepattern, "{^LN-BEG}");
    assert.equal(normal.maxlines, 2);
    assert.equal(normal.journalmatch, "_SYSTEMD_UNIT=sshd.service");
    assert.equal(
      normal.failregex[0]?.origin,
      `${dir}/filter.d/f.conf [Definition] failregex line 10`,
    );

    const aggressive = readFilter(dir, "f[mode=aggressive]");
    assert.deepEqual(aggressive.failregex.map((r) => r.pattern), [
      "^Failed for <F-USER>\\S+</F-USER> from <HOST>",
      "^Bad thing from <HOST>",
    ]);
    assert.equal(aggressive.options.mode, "aggressive");
  });
});

Deno.test("readFilter applies the .local layer and a jail's own regexes", () => {
  withDir({
    "filter.d/common.conf": COMMON,
    "filter.d/f.conf": FILTER,
    "filter.d/f.local": "[Definition]\nignoreregex = %(known/ignoreregex)s\n    ^also <HOST>\n",
  }, (dir) => {
    const spec = readFilter(dir, "f", { failregex: "^jail <HOST>", maxlines: "5" });
    assert.deepEqual(spec.ignoreregex.map((r) => r.pattern), ["^ignored <HOST>", "^also <HOST>"]);
    assert.deepEqual(spec.failregex.map((r) => r.pattern), ["^jail <HOST>"]);
    assert.equal(spec.maxlines, 5);
  });
});

Deno.test("readFilter on an unknown filter lists where it looked", () => {
  withDir({ "filter.d/common.conf": COMMON }, (dir) => {
    assert.throws(() => readFilter(dir, "nope"), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(
        e.message,
        /^Filter "nope" not found in .*filter\.d \(looked in .*nope\.conf, .*nope\.local\)$/,
      );
      return true;
    });
  });
});

Deno.test("readFilter accepts a path to a filter file", () => {
  withDir({
    "filter.d/common.conf": COMMON,
    "elsewhere/my.conf": FILTER.replace("common.conf", "../filter.d/common.conf"),
  }, (dir) => {
    const spec = readFilter(dir, `${dir}/elsewhere/my.conf`);
    assert.equal(spec.name, "my");
    assert.equal(spec.failregex.length, 1);
  });
});
