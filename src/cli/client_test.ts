import assert from "node:assert/strict";
import { DEFAULT_SOCKET, parseClientArgs, resolveSocketPath, UsageError } from "./client.ts";

Deno.test("parseClientArgs takes options before the command words", () => {
  const a = parseClientArgs(["-c", "/etc/f2b", "-vv", "--timeout", "1m", "status", "sshd"]);
  assert.equal(a.configDir, "/etc/f2b");
  assert.equal(a.verbose, 3);
  assert.equal(a.timeout, 60);
  assert.deepEqual(a.command, ["status", "sshd"]);
  assert.equal(a.action, "command");
});

Deno.test("parseClientArgs accepts getopt forms: -sPATH, --socket=PATH, grouped flags, --", () => {
  assert.equal(parseClientArgs(["-s/run/x.sock", "ping"]).socket, "/run/x.sock");
  assert.equal(parseClientArgs(["--socket=/run/y.sock", "ping"]).socket, "/run/y.sock");
  const a = parseClientArgs(["-qxf", "start"]);
  assert.equal(a.verbose, 0);
  assert.equal(a.force, true);
  assert.equal(a.foreground, true);
  assert.deepEqual(parseClientArgs(["--", "-x"]).command, ["-x"]);
});

Deno.test("command words after the command are not options", () => {
  assert.deepEqual(
    parseClientArgs(["set", "sshd", "addfailregex", "-x <HOST>"]).command,
    ["set", "sshd", "addfailregex", "-x <HOST>"],
  );
  assert.deepEqual(parseClientArgs(["reload", "--restart", "sshd"]).command, [
    "reload",
    "--restart",
    "sshd",
  ]);
});

Deno.test("parseClientArgs: -h, -V, --version, -t, --str2sec", () => {
  assert.equal(parseClientArgs(["-h"]).action, "help");
  assert.equal(parseClientArgs(["-V"]).action, "version-short");
  assert.equal(parseClientArgs(["--version"]).action, "version-long");
  assert.equal(parseClientArgs(["-t"]).action, "test");
  const s = parseClientArgs(["--str2sec", "1h"]);
  assert.equal(s.action, "str2sec");
  assert.equal(s.str2sec, "1h");
});

Deno.test("parseClientArgs rejects unknown options and missing values", () => {
  assert.throws(() => parseClientArgs(["-z", "ping"]), UsageError);
  assert.throws(() => parseClientArgs(["--bogus"]), /Unknown option "--bogus"/);
  assert.throws(() => parseClientArgs(["-s"]), /Option "-s" needs a value/);
  assert.throws(() => parseClientArgs(["--timeout", "soon", "ping"]), /Invalid --timeout/);
});

Deno.test("resolveSocketPath: -s, else the configuration, else the default", async () => {
  const dir = await Deno.makeTempDir({ prefix: "f2b_client_" });
  try {
    assert.equal(
      resolveSocketPath(parseClientArgs(["-c", dir, "-s", "/x.sock", "ping"])),
      "/x.sock",
    );
    assert.throws(
      () => resolveSocketPath(parseClientArgs(["-c", dir, "ping"])),
      /no fail2ban\.conf in/,
    );
    await Deno.writeTextFile(`${dir}/fail2ban.conf`, "[Definition]\nloglevel = INFO\n");
    assert.equal(resolveSocketPath(parseClientArgs(["-c", dir, "ping"])), DEFAULT_SOCKET);
    await Deno.writeTextFile(`${dir}/fail2ban.local`, "[Definition]\nsocket = /run/f2b/s.sock\n");
    assert.equal(resolveSocketPath(parseClientArgs(["-c", dir, "ping"])), "/run/f2b/s.sock");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseClientArgs: -d, --dp, -i, --json, --pname, --async", () => {
  const d = parseClientArgs(["-d"]);
  assert.equal(d.dump, 1);
  assert.equal(d.action, "command");
  assert.equal(parseClientArgs(["--dp"]).dump, 2);
  assert.equal(parseClientArgs(["--dump-pretty"]).dump, 2);
  const dt = parseClientArgs(["-dt"]);
  assert.equal(dt.dump, 1);
  assert.equal(dt.action, "test");
  const i = parseClientArgs(["-i", "status"]);
  assert.equal(i.interactive, true);
  assert.deepEqual(i.command, ["status"]);
  assert.equal(parseClientArgs(["--json", "banned"]).json, true);
  const p = parseClientArgs(["--pname", "fail2ban-server", "--async", "ping"]);
  assert.equal(p.pname, "fail2ban-server");
  assert.deepEqual(p.command, ["ping"]);
});

Deno.test("parseClientArgs: the first of -h, -V, --str2sec wins, as in fail2ban-client", () => {
  assert.equal(parseClientArgs(["-V", "-h"]).action, "version-short");
  const s = parseClientArgs(["--str2sec", "1h", "--str2sec", "2h", "-h"]);
  assert.equal(s.action, "str2sec");
  assert.equal(s.str2sec, "1h");
  assert.equal(parseClientArgs(["-t", "-h"]).action, "help");
});
