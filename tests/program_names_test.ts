/**
 * f2b called by fail2ban's program names, without compiling: the dispatch
 * by name, the name a compiled executable goes by (argv0 for a symlink), the
 * built-in configuration, and the wrappers scripts/install.sh generates.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  BUILTIN_CONFIG_DIR,
  dispatch,
  programName,
  PROGRAMS,
  withDefaultConfig,
} from "../src/cli/main.ts";

const INSTALL = fileURLToPath(new URL("../scripts/install.sh", import.meta.url));
const LINE = "Nov 25 10:00:00 host sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2";

Deno.test("dispatch picks the command from fail2ban's and f2b's program names", () => {
  for (const [name, command] of Object.entries(PROGRAMS)) {
    assert.deepEqual(dispatch(`/usr/bin/${name}`, ["-h"]), { command, rest: ["-h"] });
    assert.deepEqual(dispatch(name, ["status", "sshd"]), { command, rest: ["status", "sshd"] });
  }
  assert.deepEqual(dispatch("fail2ban-client.exe", ["ping"]), {
    command: "client",
    rest: ["ping"],
  });
  // Called by its own name, the first argument is the command.
  assert.deepEqual(dispatch("/usr/local/bin/f2b", ["server", "-xf"]), {
    command: "server",
    rest: ["-xf"],
  });
  assert.deepEqual(dispatch("f2b", ["regex"]), { command: "regex", rest: [] });
  assert.deepEqual(dispatch("f2b", ["bogus"]), { command: null, rest: ["bogus"] });
  assert.deepEqual(dispatch("f2b", []), { command: null, rest: [] });
  // A program name is only an own entry of the table.
  assert.deepEqual(dispatch("constructor", ["x"]), { command: null, rest: ["x"] });
  // The name wins over a first argument that is also a command.
  assert.deepEqual(dispatch("fail2ban-regex", ["client"]), { command: "regex", rest: ["client"] });
});

Deno.test("programName uses argv0 for a symlink and the executable's own name for a copy", () => {
  const exe = "/usr/local/bin/f2b";
  assert.equal(programName({ standalone: false, argv0: "deno", execPath: "/usr/bin/deno" }), "f2b");
  assert.equal(
    programName({ standalone: true, argv0: "/usr/local/bin/fail2ban-client", execPath: exe }),
    "/usr/local/bin/fail2ban-client",
  );
  assert.equal(programName({ standalone: true, argv0: "f2b-regex", execPath: exe }), "f2b-regex");
  assert.equal(programName({ standalone: true, argv0: "f2b", execPath: exe }), exe);
  assert.equal(
    programName({ standalone: true, argv0: "./f2b", execPath: "/opt/fail2ban-server" }),
    "/opt/fail2ban-server",
  );
  assert.equal(
    dispatch(programName({ standalone: true, argv0: "fail2ban-server", execPath: exe }), ["-xf"])
      .command,
    "server",
  );
});

Deno.test("Deno keeps a symlink's name in process.argv0 while execPath resolves it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "f2b_argv0_" });
  try {
    const link = `${dir}/fail2ban-client`;
    await Deno.symlink(Deno.execPath(), link);
    const out = await new Deno.Command(link, {
      args: [
        "eval",
        'import p from "node:process"; console.log(JSON.stringify([p.argv0, Deno.execPath()]))',
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const [argv0, execPath] = JSON.parse(new TextDecoder().decode(out.stdout)) as string[];
    assert.equal(argv0, link);
    assert.equal(execPath, await Deno.realPath(Deno.execPath()));
    assert.equal(dispatch(argv0 as string, []).command, "client");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without -c and without /etc/fail2ban the built-in configuration is used", async () => {
  const missing = () => false;
  const present = () => true;
  for (const command of ["server", "client", "regex"]) {
    assert.deepEqual(withDefaultConfig(command, ["-xf"], missing), [
      "-c",
      BUILTIN_CONFIG_DIR,
      "-xf",
    ]);
    assert.deepEqual(withDefaultConfig(command, ["-xf"], present), ["-xf"]);
    for (
      const given of [["-c", "/x"], ["--conf", "/x"], ["--conf=/x"], ["--config=/x"], ["-xc", "/x"]]
    ) {
      assert.deepEqual(withDefaultConfig(command, given, missing), given);
    }
  }
  assert.deepEqual(withDefaultConfig("bogus", [], missing), []);
  // An argument after "--" is no option.
  assert.deepEqual(withDefaultConfig("regex", ["--", "-c"], missing), [
    "-c",
    BUILTIN_CONFIG_DIR,
    "--",
    "-c",
  ]);
  assert.ok((await Deno.stat(`${BUILTIN_CONFIG_DIR}/jail.conf`)).isFile);
  assert.ok((await Deno.stat(`${BUILTIN_CONFIG_DIR}/fail2ban.conf`)).isFile);
});

Deno.test("a generated wrapper named fail2ban-regex runs f2b regex on a line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "f2b_wrapper_" });
  try {
    const install = await new Deno.Command("sh", {
      args: [
        INSTALL,
        "--prefix",
        dir,
        "--confdir",
        `${dir}/etc`,
        "--names",
        "fail2ban",
        "--no-service",
      ],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(install.code, 0, new TextDecoder().decode(install.stderr));
    const run = async (program: string, ...args: string[]) => {
      const out = await new Deno.Command(`${dir}/bin/${program}`, {
        args,
        cwd: dir,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
    };
    const regex = await run("fail2ban-regex", LINE, "Failed password for .* from <HOST>");
    assert.equal(regex.code, 0, regex.stderr);
    assert.match(regex.stdout, /Lines: 1 lines, 0 ignored, 1 matched, 0 missed/);
    const missed = await run("fail2ban-regex", LINE, "Accepted .* from <HOST>");
    assert.match(missed.stdout, /Lines: 1 lines, 0 ignored, 0 matched, 1 missed/);
    // A filter by name comes from the configuration directory given with -c.
    const sshd = await run("fail2ban-regex", "-c", `${dir}/etc`, LINE, "sshd");
    assert.equal(sshd.code, 0, sshd.stderr);
    assert.match(sshd.stdout, /1 matched/);
    const client = await run("fail2ban-client", "-h");
    assert.equal(client.code, 0, client.stderr);
    assert.match(client.stdout, /Usage: f2b client/);
    const server = await run("fail2ban-server", "-h");
    assert.match(server.stdout, /Usage: f2b server/);
    const f2b = await run("f2b", "-h");
    assert.match(f2b.stdout, /Usage: f2b <command>/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
