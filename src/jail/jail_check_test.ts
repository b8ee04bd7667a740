import assert from "node:assert/strict";
import { JailConfigError } from "../config/jail_reader.ts";
import { checkJail, checkJailSpec, loadCheckedJails } from "./jail_check.ts";

function withConfig(files: Record<string, string>, fn: (dir: string) => void): void {
  const dir = Deno.makeTempDirSync({ prefix: "f2b_check_" });
  try {
    Deno.mkdirSync(`${dir}/filter.d`);
    Deno.mkdirSync(`${dir}/action.d`);
    for (const [name, text] of Object.entries(files)) {
      Deno.writeTextFileSync(`${dir}/${name}`, text);
    }
    fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

const GOOD = "[Definition]\nfailregex = ^fail <HOST>$\n";

Deno.test("loadCheckedJails returns the enabled jails when every filter compiles", () => {
  withConfig({
    "jail.conf": "[DEFAULT]\nlogpath = /dev/null\n[a]\nenabled = true\nfilter = good\n" +
      "ignoreip = 127.0.0.1/8 ::1 host.example\n[off]\nfilter = broken\n",
    "filter.d/good.conf": GOOD,
    "filter.d/broken.conf": "[Definition]\nfailregex = ^(x <HOST>\n",
  }, (dir) => {
    assert.deepEqual(loadCheckedJails(dir).map((j) => j.name), ["a"]);
  });
});

Deno.test("loadCheckedJails reports every broken jail, naming file, section and key", () => {
  withConfig({
    "jail.conf": "[DEFAULT]\nlogpath = /dev/null\n" +
      "[a]\nenabled = true\nfilter = broken\n" +
      "[b]\nenabled = true\nfilter = nohost\n" +
      "[c]\nenabled = true\nfilter = good\nignoreip = 192.0.2.0/33\n" +
      "[d]\nenabled = true\nfilter = good\ndatepattern = %Q\n" +
      "[e]\nenabled = true\nfilter = good\n",
    "filter.d/good.conf": GOOD,
    "filter.d/broken.conf": "[Definition]\nfailregex = ^(unclosed <HOST>\n",
    "filter.d/nohost.conf": "[Definition]\nfailregex = ^no host$\n",
  }, (dir) => {
    assert.throws(() => loadCheckedJails(dir), (e: unknown) => {
      assert.ok(e instanceof AggregateError);
      const errors = e.errors as JailConfigError[];
      const by = new Map(errors.map((x) => [x.jail, x]));
      assert.deepEqual([...by.keys()].sort(), ["a", "b", "c", "d"]);
      assert.equal(by.get("a")!.file, `${dir}/filter.d/broken.conf`);
      assert.equal(by.get("a")!.option, "failregex");
      assert.match(
        by.get("a")!.message,
        /^Cannot start jail "a": .*broken\.conf \[Definition\] failregex line 2/,
      );
      assert.equal(by.get("b")!.option, "failregex");
      assert.match(by.get("b")!.message, /nohost\.conf .*no host or id group/);
      assert.equal(by.get("c")!.option, "ignoreip");
      assert.equal(by.get("c")!.file, `${dir}/jail.conf`);
      assert.match(by.get("c")!.message, /"192\.0\.2\.0\/33"/);
      assert.equal(by.get("d")!.section, "d");
      assert.match(e.message, /^4 jails cannot start: /);
      return true;
    });
  });
});

Deno.test("checkJail refuses an ignoreip entry set outside the configuration files", () => {
  withConfig({
    "jail.conf": "[DEFAULT]\nlogpath = /dev/null\n[a]\nenabled = true\nfilter = good\n",
    "filter.d/good.conf": GOOD,
  }, (dir) => {
    const [spec] = loadCheckedJails(dir);
    assert.ok(spec);
    checkJail(spec);
    assert.throws(
      () => checkJail({ ...spec, ignoreip: ["300.1.2.3"] }),
      /^JailConfigError: Cannot start jail "a": ignoreip: invalid ignoreip entry "300\.1\.2\.3"/,
    );
  });
});

Deno.test("checkJailSpec throws the filter's own error, for commands that change a running jail", () => {
  withConfig({
    "jail.conf": "[DEFAULT]\nlogpath = /dev/null\n[a]\nenabled = true\nfilter = good\n",
    "filter.d/good.conf": GOOD,
  }, (dir) => {
    const [spec] = loadCheckedJails(dir);
    assert.ok(spec);
    const bad = {
      ...spec,
      filter: { ...spec.filter, failregex: [{ pattern: "^bad(", origin: "set addfailregex" }] },
    };
    assert.throws(
      () => checkJailSpec(bad),
      /^SyntaxError: Cannot translate regex of set addfailregex/,
    );
  });
});
