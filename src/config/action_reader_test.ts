import assert from "node:assert/strict";
import { withFiles } from "../../tests/_config_files.ts";
import { readAction, UnsupportedActionError } from "./action_reader.ts";
import { ConfigError } from "./config_reader.ts";

function withDir(files: Record<string, string>, fn: (dir: string) => void): void {
  withFiles(files, fn, "f2b_ar_");
}

const COMMON = `[Definition]
_chain = f2b-<name>

[Init]
chain = INPUT
blocktype = REJECT
fw = iptables

[Init?family=inet6]
blocktype = REJECT6
fw = ip6tables
`;

const ACTION = `[INCLUDES]
before = fw-common.conf

[Definition]
actionstart = <fw> -N <_chain> && <fw> -I <chain> -p <protocol> --dport <port> -j <_chain>
actionban = <fw> -I <_chain> 1 -s <ip> -j <blocktype>
actionunban = <fw> -D <_chain> -s <ip> -j <blocktype>
norestored = true

[Init]
port = ssh
protocol = tcp
timeout = 2m
`;

Deno.test("readAction resolves <tags> from [Init] and arguments, keeps runtime tags", () => {
  withDir({ "action.d/fw-common.conf": COMMON, "action.d/fw.conf": ACTION }, (dir) => {
    const a = readAction(dir, "fw[port=http, chain=FORWARD]", {}, { jailName: "web" });
    assert.equal(a.name, "fw");
    assert.equal(a.kind, "fw");
    assert.equal(a.file, `${dir}/action.d/fw.conf`);
    assert.equal(
      a.commands.actionstart,
      "<fw> -N f2b-web && <fw> -I FORWARD -p tcp --dport http -j f2b-web",
    );
    // blocktype and fw have per-family variants: left for run time.
    assert.equal(a.commands.actionban, "<fw> -I f2b-web 1 -s <ip> -j <blocktype>");
    assert.equal(a.properties.blocktype, "REJECT");
    assert.equal(a.properties.port, "http");
    assert.equal(a.properties.name, "web");
    assert.equal(a.properties.norestored, "true");
    assert.deepEqual(a.familyProperties, { inet6: { blocktype: "REJECT6", fw: "ip6tables" } });
    assert.equal(a.timeout, 120);
  });
});

Deno.test("readAction names instances after actname or a differing name argument", () => {
  withDir({ "action.d/fw-common.conf": COMMON, "action.d/fw.conf": ACTION }, (dir) => {
    assert.equal(readAction(dir, "fw[actname=second]", {}, { jailName: "j" }).name, "second");
    assert.equal(readAction(dir, "fw[name=j-v6]", {}, { jailName: "j" }).name, "fw-v6");
    assert.equal(readAction(dir, "fw[name=other]", {}, { jailName: "j" }).name, "fw-other");
    assert.equal(readAction(dir, "fw", {}, { jailName: "j" }).timeout, 120);
  });
});

Deno.test("readAction reports missing and Python actions clearly", () => {
  withDir({ "action.d/fw-common.conf": COMMON }, (dir) => {
    assert.throws(() => readAction(dir, "nope", {}, { jailName: "j" }), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /^Action "nope" not found in .*action\.d \(looked in .*nope\.conf/);
      return true;
    });
    assert.throws(
      () => readAction(dir, "smtp.py[dest=root]", {}, { jailName: "j" }),
      (e: Error) => {
        assert.ok(e instanceof UnsupportedActionError);
        assert.match(e.message, /Python actions are not supported/);
        return true;
      },
    );
  });
});
