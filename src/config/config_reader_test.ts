import assert from "node:assert/strict";
import { withFiles } from "../../tests/_config_files.ts";
import { ConfigError, ConfigReader, NoOptionError } from "./config_reader.ts";

function withDir(files: Record<string, string>, fn: (dir: string) => void): void {
  withFiles(files, fn, "f2b_cr_");
}

Deno.test("ConfigReader layers .conf, .d/*.conf, .local, .d/*.local in order", () => {
  withDir({
    "x.conf": "[s]\na = conf\nb = conf\nc = conf\nd = conf\n",
    "x.d/1.conf": "[s]\nb = d-conf\nc = d-conf\nd = d-conf\n",
    "x.local": "[s]\nc = local\nd = local\n",
    "x.d/2.local": "[s]\nd = d-local\n",
    "x.d/1.local": "[s]\nd = d-local-1\n",
  }, (dir) => {
    const cfg = new ConfigReader(dir);
    const files = cfg.read("x");
    assert.deepEqual(files.map((f) => f.slice(dir.length + 1)), [
      "x.conf",
      "x.d/1.conf",
      "x.local",
      "x.d/1.local",
      "x.d/2.local",
    ]);
    assert.deepEqual(["a", "b", "c", "d"].map((k) => cfg.get("s", k)), [
      "conf",
      "d-conf",
      "local",
      "d-local",
    ]);
    assert.equal(cfg.source("s", "c")?.file, `${dir}/x.local`);
  });
});

Deno.test("ConfigReader follows [INCLUDES] before/after with their .local files", () => {
  withDir({
    "filter.d/common.conf": "[DEFAULT]\np = common\nq = common\n",
    "filter.d/common.local": "[DEFAULT]\nq = common-local\n",
    "filter.d/late.conf": "[Definition]\nz = late\n",
    "filter.d/f.conf":
      "[INCLUDES]\nbefore = common.conf\nafter = late.conf\n[Definition]\nv = %(p)s/%(q)s\nz = own\n",
  }, (dir) => {
    const cfg = new ConfigReader(dir);
    const files = cfg.read("filter.d/f");
    assert.deepEqual(files.map((f) => f.slice(dir.length + 1)), [
      "filter.d/common.conf",
      "filter.d/common.local",
      "filter.d/f.conf",
      "filter.d/late.conf",
    ]);
    assert.equal(cfg.get("Definition", "v"), "common/common-local");
    assert.equal(cfg.get("Definition", "z"), "late");
  });
});

Deno.test("ConfigReader interpolates %(name)s, __name__, section/name and known/name", () => {
  withDir({
    "j.conf": "[DEFAULT]\nd = dflt\n[a]\nx = A-x\n[b]\nv = base\nn = %(__name__)s\n" +
      "s = %(a/x)s\nt = %(default/d)s\npct = 100%%\n",
    "j.local": "[b]\nv = %(known/v)s+more\n",
  }, (dir) => {
    const cfg = new ConfigReader(dir);
    cfg.read("j");
    assert.equal(cfg.get("b", "n"), "b");
    assert.equal(cfg.get("b", "s"), "A-x");
    assert.equal(cfg.get("b", "t"), "dflt");
    assert.equal(cfg.get("b", "pct"), "100%");
    assert.equal(cfg.get("b", "v"), "base+more");
    assert.equal(cfg.get("b", "d"), "dflt");
    assert.equal(cfg.get("b", "v", { vars: { v: "given" } }), "given");
    assert.deepEqual(cfg.sections(), ["a", "b"]);
  });
});

Deno.test("ConfigReader errors name file, section and option", () => {
  withDir({ "e.conf": "[s]\nbad = %(missing)s\nloop = %(loop)s\nsyntax = 5%\n" }, (dir) => {
    const cfg = new ConfigReader(dir);
    cfg.read("e");
    assert.throws(() => cfg.get("s", "bad"), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.section, "s");
      assert.equal(e.option, "bad");
      assert.match(e.message, /e\.conf:2\).*%\(missing\)s/);
      return true;
    });
    assert.throws(() => cfg.get("s", "loop"), /nested deeper/);
    assert.throws(() => cfg.get("s", "syntax"), /must be followed/);
    assert.throws(() => cfg.get("s", "nope"), NoOptionError);
  });
});
