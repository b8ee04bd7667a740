/**
 * Migration from fail2ban: f2b pointed at a copy of Debian's /etc/fail2ban (with a jail.local
 * using a Python action and `backend = pyinotify`) says where it would differ, naming the file and
 * option, in the jail specs and in `server -t`. Skips when /etc/fail2ban is not there.
 */

import assert from "node:assert/strict";
import { JailConfigError, readJails, readServerConfig } from "../src/config/jail_reader.ts";
import type { JailSpec } from "../src/config/types.ts";

const ETC = "/etc/fail2ban";
const HAVE = (() => {
  try {
    return Deno.statSync(`${ETC}/jail.conf`).isFile;
  } catch {
    return false;
  }
})();
if (!HAVE) console.warn("migration_test: /etc/fail2ban not found, tests skipped");

const MAIN = new URL("../mod.ts", import.meta.url).pathname;

const JAIL_LOCAL = `[sshd]
enabled = true
backend = pyinotify
logpath = /var/log/auth.log
action = %(action_)s
         smtp.py[host=localhost]

[apache-auth]
enabled = true
backend = gamin
logpath = /var/log/apache2/error.log
`;

/** A temp copy of /etc/fail2ban with `files` written over it; removed by the caller. */
function copyEtc(files: Record<string, string>): string {
  const dir = Deno.makeTempDirSync({ prefix: "f2b_migration_" });
  const cp = new Deno.Command("cp", { args: ["-r", `${ETC}/.`, dir] }).outputSync();
  assert.ok(cp.success, new TextDecoder().decode(cp.stderr));
  try {
    Deno.removeSync(`${dir}/jail.local`);
  } catch { /* Debian ships none */ }
  for (const [name, text] of Object.entries(files)) Deno.writeTextFileSync(`${dir}/${name}`, text);
  return dir;
}

function byName(jails: JailSpec[], name: string): JailSpec {
  const j = jails.find((x) => x.name === name);
  assert.ok(j, `jail "${name}" loaded`);
  return j;
}

async function serverTest(dir: string): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "server", "-t", "-c", dir],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

Deno.test({
  name: "Migration: a Python action and backend pyinotify/gamin are warned with file and option",
  ignore: !HAVE,
  fn() {
    const dir = copyEtc({ "jail.local": JAIL_LOCAL });
    try {
      const jails = readJails(dir);
      const sshd = byName(jails, "sshd");
      assert.equal(sshd.backend, "pyinotify");
      // The Python action is left out, the other actions stay.
      assert.ok(sshd.actions.length > 0);
      assert.ok(sshd.actions.every((a) => !a.kind.endsWith(".py")));
      assert.deepEqual(sshd.pythonActions?.map((a) => a.name), ["smtp"]);
      const w = sshd.warnings ?? [];
      assert.equal(w.length, 2, w.join("\n"));
      assert.ok(
        w.some((m) =>
          m.includes(`${dir}/action.d/smtp.py`) && m.includes("Python action") &&
          m.includes(`${dir}/jail.local:5 [sshd] action`)
        ),
        w.join("\n"),
      );
      assert.ok(
        w.some((m) =>
          m.includes(`(${dir}/jail.local:3)`) && m.includes(`backend "pyinotify"`) &&
          m.includes(`treated as "auto"`)
        ),
        w.join("\n"),
      );
      const apache = byName(jails, "apache-auth");
      assert.deepEqual(apache.warnings?.length, 1);
      assert.match(apache.warnings![0]!, /jail\.local:10\).*backend "gamin".*treated as "auto"/);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "Migration: an unknown backend and an undecodable logencoding stop the jail, naming the file",
  ignore: !HAVE,
  fn() {
    const dir = copyEtc({
      "jail.local": `${JAIL_LOCAL}
[recidive]
enabled = true
backend = inotify

[postfix]
enabled = true
logencoding = utf-16
`,
    });
    try {
      const errors: JailConfigError[] = [];
      const jails = readJails(dir, { onError: (e) => errors.push(e) });
      assert.deepEqual(jails.map((j) => j.name).sort(), ["apache-auth", "sshd"]);
      const byJail = new Map(errors.map((e) => [e.jail, e]));
      const recidive = byJail.get("recidive");
      assert.ok(recidive);
      assert.match(
        recidive.message,
        /unknown backend "inotify": must be one of "auto", "pyinotify"/,
      );
      assert.equal(recidive.file, `${dir}/jail.local`);
      assert.equal(recidive.section, "recidive");
      assert.equal(recidive.option, "backend");
      const postfix = byJail.get("postfix");
      assert.ok(postfix);
      assert.match(postfix.message, /logencoding "utf-16" is not supported/);
      assert.equal(postfix.file, `${dir}/jail.local`);
      assert.equal(postfix.option, "logencoding");
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "Migration: fail2ban.conf options f2b ignores are warned with file and line",
  ignore: !HAVE,
  fn() {
    const dir = copyEtc({
      "fail2ban.local": `[Definition]
allowipv6 = no
logtarget = /var/log/fail2ban.log[format="%%(message)s", datetime=on]

[Thread]
stacksize = 64
`,
    });
    try {
      const w = readServerConfig(dir).warnings ?? [];
      assert.equal(w.length, 3, w.join("\n"));
      assert.match(w[0]!, /\[Thread\] stacksize \(.*fail2ban\.local:6\): ignored/);
      assert.match(w[1]!, /allowipv6 \(.*fail2ban\.local:2\): "no" ignored/);
      assert.match(w[2]!, /logtarget \(.*fail2ban\.local:3\): option "format" ignored/);
      // Debian's own fail2ban.conf needs no note.
      assert.equal(readServerConfig(ETC).warnings, undefined);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "Migration: server -t on /etc/fail2ban with sshd enabled prints the notes and succeeds",
  ignore: !HAVE,
  async fn() {
    const dir = copyEtc({
      "jail.local": JAIL_LOCAL,
      "fail2ban.local": "[Thread]\nstacksize = 64\n",
    });
    try {
      const r = await serverTest(dir);
      assert.equal(r.code, 0, r.out + r.err);
      const lines = r.out.trim().split("\n");
      assert.equal(lines.at(-1), "OK: configuration test is successful");
      const warnings = lines.filter((l) => l.startsWith("WARNING: "));
      assert.equal(warnings.length, 4, r.out);
      assert.ok(warnings.some((l) => l.includes(`stacksize (${dir}/fail2ban.local:2)`)), r.out);
      assert.ok(
        warnings.some((l) =>
          l.startsWith("WARNING: [sshd] ") && l.includes("smtp.py") &&
          l.includes(`${dir}/jail.local:5 [sshd] action`)
        ),
        r.out,
      );
      assert.ok(
        warnings.some((l) =>
          l.startsWith("WARNING: [sshd] ") && l.includes(`(${dir}/jail.local:3)`) &&
          l.includes(`backend "pyinotify"`)
        ),
        r.out,
      );
      assert.ok(warnings.some((l) => l.startsWith("WARNING: [apache-auth] ")), r.out);

      // A jail with an unknown backend fails the test, naming file and option.
      Deno.writeTextFileSync(`${dir}/jail.local`, "[sshd]\nenabled = true\nbackend = inotify\n");
      const bad = await serverTest(dir);
      assert.equal(bad.code, 1, bad.out + bad.err);
      assert.match(bad.err, /ERROR: Cannot start jail "sshd": unknown backend "inotify"/);
      assert.ok(bad.err.includes(`(${dir}/jail.local:3)`), bad.err);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
