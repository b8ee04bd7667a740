/**
 * scripts/install.sh into temporary directories: the tree it writes, that a
 * second run changes nothing, that a user's configuration and fail2ban's own
 * programs are never overwritten, the compiled-executable layout, and the
 * systemd unit checked by systemd-analyze where it is installed.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const INSTALL = `${ROOT}scripts/install.sh`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function install(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const out = await new Deno.Command("sh", {
    args: [INSTALL, ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Every path under `dir` with its kind, mode and content (or link target). */
async function tree(dir: string, base = dir): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    const rel = path.slice(base.length + 1);
    const info = await Deno.lstat(path);
    if (info.isSymlink) out.set(rel, `link -> ${await Deno.readLink(path)}`);
    else if (info.isDirectory) {
      out.set(rel, "dir");
      for (const [k, v] of await tree(path, base)) out.set(k, v);
    } else {
      out.set(rel, `file ${(info.mode ?? 0) & 0o777} ${await Deno.readTextFile(path)}`);
    }
  }
  return out;
}

async function configFiles(): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string, rel: string) => {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) await walk(`${dir}/${e.name}`, `${rel}${e.name}/`);
      else files.push(`${rel}${e.name}`);
    }
  };
  await walk(`${ROOT}config`, "");
  return files.sort();
}

Deno.test("install.sh installs a deno run wrapper, config, unit and logrotate; a second run changes nothing", async () => {
  const dest = await Deno.makeTempDir({ prefix: "f2b_install_" });
  try {
    const first = await install(["--destdir", dest, "--mode", "wrapper"]);
    assert.equal(first.code, 0, first.stderr);
    // A user's edits and .local files, between the runs.
    await Deno.writeTextFile(`${dest}/etc/fail2ban/jail.conf`, "[DEFAULT]\n# mine\n");
    await Deno.writeTextFile(`${dest}/etc/fail2ban/jail.local`, "[sshd]\nenabled = true\n");
    await Deno.remove(`${dest}/etc/fail2ban/fail2ban.conf`);
    const before = await tree(dest);
    const second = await install(["--destdir", dest, "--mode", "wrapper"]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /1 files added/);
    const after = await tree(dest);
    for (const f of await configFiles()) assert.ok(after.has(`etc/fail2ban/${f}`), f);
    // Only the removed fail2ban.conf came back; everything else is as it was.
    assert.equal(after.get("etc/fail2ban/fail2ban.conf")?.startsWith("file 420 "), true);
    after.delete("etc/fail2ban/fail2ban.conf");
    before.delete("etc/fail2ban/fail2ban.conf");
    assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
    for (const [k, v] of before) assert.equal(after.get(k), v, k);
    assert.equal(after.get("etc/fail2ban/jail.conf"), "file 420 [DEFAULT]\n# mine\n");
    assert.equal(after.get("etc/fail2ban/jail.local"), "file 420 [sshd]\nenabled = true\n");

    const lib = "usr/local/lib/f2b";
    for (const f of ["mod.ts", "workers/jail_worker.ts", "src/cli/main.ts", "config/jail.conf"]) {
      assert.ok(after.get(`${lib}/${f}`)?.startsWith("file "), f);
    }
    assert.ok(![...after.keys()].some((k) => k.endsWith("_test.ts")), "tests are not installed");

    const wrapper = after.get("usr/local/bin/fail2ban-client") ?? "";
    assert.match(wrapper, /^file 493 #!\/bin\/sh\n/);
    assert.match(wrapper, /run --no-config --allow-read .*--v8-flags=--enable-experimental-regexp/);
    assert.match(wrapper, /"\/usr\/local\/lib\/f2b\/mod\.ts" client "\$@"/);
    assert.match(after.get("usr/local/bin/f2b") ?? "", /"\/usr\/local\/lib\/f2b\/mod\.ts" "\$@"/);
    for (const p of ["server", "regex"]) {
      assert.match(after.get(`usr/local/bin/fail2ban-${p}`) ?? "", new RegExp(`mod\\.ts" ${p} `));
    }

    const unit = after.get("etc/systemd/system/f2b.service") ?? "";
    assert.match(unit, /^ExecStart=\/usr\/local\/bin\/f2b server -xf -c \/etc\/fail2ban$/m);
    assert.match(unit, /^ExecReload=\/usr\/local\/bin\/f2b client -c \/etc\/fail2ban reload$/m);
    assert.match(unit, /^ExecStop=\/usr\/local\/bin\/f2b client -c \/etc\/fail2ban stop$/m);
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW/m);
    assert.doesNotMatch(unit, /@[A-Z]+@/);
    const logrotate = after.get("etc/logrotate.d/f2b") ?? "";
    assert.match(logrotate, /\/usr\/local\/bin\/f2b client -c \/etc\/fail2ban flushlogs/);
    assert.doesNotMatch(logrotate, /@[A-Z]+@/);
  } finally {
    await Deno.remove(dest, { recursive: true });
  }
});

Deno.test("install.sh never overwrites fail2ban's own programs", async () => {
  const dest = await Deno.makeTempDir({ prefix: "f2b_install_f2b_" });
  try {
    const bin = `${dest}/usr/local/bin`;
    await Deno.mkdir(bin, { recursive: true });
    const theirs = "#!/usr/bin/python3\n# fail2ban's client\n";
    await Deno.writeTextFile(`${bin}/fail2ban-client`, theirs);
    const auto = await install(["--destdir", dest, "--mode", "wrapper", "--no-service"]);
    assert.equal(auto.code, 0, auto.stderr);
    assert.match(auto.stdout, /f2b's are named f2b-client, f2b-server, f2b-regex/);
    for (const p of ["client", "server", "regex"]) {
      assert.match(await Deno.readTextFile(`${bin}/f2b-${p}`), new RegExp(`mod\\.ts" ${p} `));
    }
    assert.equal(await Deno.readTextFile(`${bin}/fail2ban-client`), theirs);
    await assert.rejects(Deno.lstat(`${bin}/fail2ban-regex`), Deno.errors.NotFound);

    const forced = await install([
      "--destdir",
      dest,
      "--mode",
      "wrapper",
      "--names",
      "fail2ban",
      "--no-service",
    ]);
    assert.notEqual(forced.code, 0);
    assert.match(forced.stderr, /fail2ban-client" exists and is not f2b's/);
    assert.equal(await Deno.readTextFile(`${bin}/fail2ban-client`), theirs);
    await assert.rejects(Deno.lstat(`${bin}/fail2ban-regex`), Deno.errors.NotFound);

    const bad = await install(["--destdir", dest, "--names", "both"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /bad --names "both"/);
  } finally {
    await Deno.remove(dest, { recursive: true });
  }
});

Deno.test("install.sh installs a compiled executable with links named after fail2ban's programs", async () => {
  const dest = await Deno.makeTempDir({ prefix: "f2b_install_bin_" });
  try {
    const exe = `${dest}/built-f2b`;
    await Deno.writeTextFile(exe, "#!/bin/sh\necho compiled f2b\n");
    // A wrapper installation before, whose sources the executable replaces.
    const wrapper = await install(["--destdir", dest, "--mode", "wrapper", "--no-service"]);
    assert.equal(wrapper.code, 0, wrapper.stderr);
    for (let i = 0; i < 2; i++) {
      const r = await install(["--destdir", dest, "--binary", exe, "--no-service"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Installed the executable/);
    }
    const bin = `${dest}/usr/local/bin`;
    assert.equal(await Deno.readTextFile(`${bin}/f2b`), "#!/bin/sh\necho compiled f2b\n");
    assert.equal((await Deno.stat(`${bin}/f2b`)).mode! & 0o777, 0o755);
    for (const p of ["client", "server", "regex"]) {
      assert.equal(await Deno.readLink(`${bin}/fail2ban-${p}`), "f2b");
    }
    await assert.rejects(Deno.stat(`${dest}/usr/local/lib/f2b`), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(`${dest}/etc/systemd`), Deno.errors.NotFound);

    const missing = await install([
      "--destdir",
      dest,
      "--mode",
      "binary",
      "--binary",
      `${dest}/no`,
    ]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /no executable at ".*\/no": run "deno task compile" first/);
  } finally {
    await Deno.remove(dest, { recursive: true });
  }
});

const analyze = await new Deno.Command("systemd-analyze", { args: ["--version"], stdout: "null" })
  .output().then((o) => o.success).catch(() => false);
if (!analyze) {
  console.log("install_test: systemd-analyze is not installed: the unit check is skipped");
}

Deno.test({
  name: "the installed unit passes systemd-analyze verify",
  ignore: !analyze,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "f2b_unit_" });
    try {
      const r = await install([
        "--prefix",
        `${dir}/usr`,
        "--confdir",
        `${dir}/etc`,
        "--unitdir",
        `${dir}/unit`,
        "--logrotatedir",
        `${dir}/logrotate`,
        "--mode",
        "wrapper",
        "--names",
        "f2b",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const out = await new Deno.Command("systemd-analyze", {
        args: ["verify", `${dir}/unit/f2b.service`],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      const about = text.split("\n").filter((l) => l.includes("f2b.service"));
      assert.deepEqual(about, []);
      assert.equal(out.code, 0, text);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
