/**
 * SECURITY.md items 23 and 24 with the real program: configuration errors
 * named by file, section and key under `server -t`; a broken configuration
 * on `reload` or SIGHUP leaves the running one whole; an unwritable log
 * target falls back to stderr and banning goes on.
 */

import assert from "node:assert/strict";
import { sendCommand } from "../src/client/control_client.ts";
import {
  append,
  bans,
  fail,
  lines,
  row,
  Server,
  serverTest,
  sleep,
  waitFor,
  withDir,
  writeConfig,
} from "./security_harness.ts";

interface BadCase {
  what: string;
  /** Extra lines of jail [bad], or a filter / action name for it. */
  extra?: string;
  filter?: string;
  action?: string;
  /** What the message must name besides jail.conf's section "bad". */
  key: RegExp;
}

const DETECTED: BadCase[] = [
  { what: "a bad duration", extra: "bantime = 10 parsecs", key: /bantime[^\n]*parsecs/ },
  { what: "a negative findtime", extra: "findtime = -5x", key: /findtime/ },
  { what: "a missing filter file", filter: "nosuchfilter", key: /filter[^\n]*nosuchfilter/ },
  { what: "a missing action file", action: "nosuchaction", key: /action[^\n]*nosuchaction/ },
];

async function writeBroken(dir: string, c: BadCase): Promise<void> {
  await writeConfig(dir, [{ name: "web" }, {
    name: "bad",
    ...(c.extra ? { extra: c.extra } : {}),
    ...(c.filter ? { filter: c.filter } : {}),
    ...(c.action ? { action: c.action } : {}),
  }]);
  await Deno.writeTextFile(
    `${dir}/filter.d/broken.conf`,
    "[Definition]\nfailregex = ^(unclosed <HOST>\n",
  );
  await Deno.writeTextFile(`${dir}/filter.d/nohost.conf`, "[Definition]\nfailregex = ^no host$\n");
}

for (const c of DETECTED) {
  Deno.test(`server -t rejects ${c.what}, naming file, section and key`, async () => {
    await withDir(async (dir) => {
      await writeBroken(dir, c);
      const r = await serverTest(dir);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /"bad"/, "the section");
      assert.match(r.stderr, c.key, "the key and value");
      assert.match(r.stderr, new RegExp(`${dir}/(jail\\.conf|filter\\.d|action\\.d)`), "the file");
      assert.doesNotMatch(r.stdout, /OK: configuration test is successful/);
    });
  });
}

// Were bug B2: each of these passed `f2b server -t` with "OK: configuration test is
// successful"; a failregex that did not compile was only found when the jail started, after
// "Jail 'bad' started". The filter is now compiled and ignoreip parsed by the check shared by
// -t, the start and reload.
const MISSED: BadCase[] = [
  { what: "a failregex that does not compile", filter: "broken", key: /failregex/ },
  { what: "a failregex without <HOST>", filter: "nohost", key: /failregex/ },
  { what: "a bad CIDR in ignoreip", extra: "ignoreip = 192.0.2.0/33", key: /ignoreip/ },
  { what: "an address out of range in ignoreip", extra: "ignoreip = 300.1.2.3", key: /ignoreip/ },
];
const FILE_OF: Record<string, RegExp> = {
  broken: /filter\.d\/broken\.conf/,
  nohost: /filter\.d\/nohost\.conf/,
};
for (const c of MISSED) {
  Deno.test({
    name: `server -t rejects ${c.what}, naming file, section and key`,
    fn: async () => {
      await withDir(async (dir) => {
        await writeBroken(dir, c);
        const r = await serverTest(dir);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(r.stderr, /"bad"|\[bad\]/, "the section");
        assert.match(r.stderr, c.key, "the key");
        const file = c.filter ? FILE_OF[c.filter]! : /jail\.conf/;
        assert.match(r.stderr, new RegExp(`${dir}/${file.source}`), "the file");
        assert.doesNotMatch(r.stdout, /OK: configuration test is successful/);
      });
    },
  });
}

// An unknown option is kept, as fail2ban keeps it (a value for interpolation), but one that
// looks like a misspelled jail option is warned about, naming file, section and key.
Deno.test("server -t accepts an unknown option but warns when it looks like a misspelled jail option", async () => {
  await withDir(async (dir) => {
    await writeBroken(dir, { what: "", extra: "maxretyr = 3", key: /maxretyr/ });
    const r = await serverTest(dir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = r.stdout + r.stderr;
    const warning = out.split("\n").find((l) => /WARNING/.test(l) && /maxretyr/.test(l));
    assert.ok(warning, out);
    assert.match(warning, /"bad"|\[bad\]/, "the section");
    assert.match(warning, new RegExp(`${dir}/jail\\.conf:\\d+`), "the file and line");
    assert.match(warning, /"maxretry"/, "the option it looks like");
    assert.match(r.stdout, /OK: configuration test is successful/);
  });
});

Deno.test("a broken configuration on reload or SIGHUP is refused whole: the running jails keep their settings and bans", async () => {
  await withDir(async (dir) => {
    await writeConfig(dir, [{ name: "web" }, { name: "mail" }]);
    const server = new Server(dir);
    try {
      await server.ready(["web", "mail"]);
      await append(`${dir}/web.log`, fail("192.0.2.1").repeat(2));
      await waitFor(() => bans(dir).includes("ban web 192.0.2.1"), "ban", () => server.log());
      // A valid change to web, a jail removed, and a broken new jail, all at once.
      await writeBroken(dir, { what: "", extra: "bantime = 10 parsecs", key: /x/ });
      await Deno.writeTextFile(
        `${dir}/jail.conf`,
        (await Deno.readTextFile(`${dir}/jail.conf`)).replace(
          "[web]\n",
          "[web]\nmaxretry = 7\n",
        ),
      );
      const reply = await sendCommand(server.socket, ["reload"], { timeout: 10_000 });
      assert.equal(reply.ok, false, JSON.stringify(reply));
      if (!reply.ok) assert.match(reply.error.message, /bad[^\n]*bantime|bantime[^\n]*parsecs/);
      server.child.kill("SIGHUP");
      await waitFor(
        () => /parsecs/.test(server.log()),
        "the SIGHUP's error logged",
        () => server.log(),
      );
      await sleep(300);
      assert.equal(server.exited, false, "the server still runs");
      assert.equal(String(await server.command("get", "web", "maxretry")), "2");
      const status = await server.command("status");
      assert.equal(row(status, "Number of jail"), 2);
      assert.match(String(row(status, "Jail list")), /mail/);
      assert.doesNotMatch(String(row(status, "Jail list")), /bad/);
      assert.deepEqual(row(await server.command("status", "web"), "Banned IP list"), [
        "192.0.2.1",
      ]);
      assert.ok(!lines(`${dir}/actions.txt`).some((l) => /^(stop|unban) /.test(l)));
      // Still banning with the old settings.
      await append(`${dir}/mail.log`, fail("192.0.2.2").repeat(2));
      await waitFor(() => bans(dir).includes("ban mail 192.0.2.2"), "ban in mail");
      assert.equal(await server.stop(), 0);
    } finally {
      await server.stop();
    }
  });
});

Deno.test("a log target that cannot be created: the real server falls back to stderr and keeps banning", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/not-a-dir`, "");
    const target = `${dir}/not-a-dir/f2b.log`;
    await writeConfig(dir, [{ name: "web" }], { logtarget: target });
    const server = new Server(dir, [], target);
    try {
      await server.ready(["web"]);
      await append(`${dir}/web.log`, fail("192.0.2.1").repeat(2));
      await waitFor(() => bans(dir).includes("ban web 192.0.2.1"), "ban");
      assert.equal(await server.stop(), 0);
      const out = await server.output;
      assert.match(out, /not-a-dir\/f2b\.log/, "the failure to open the target is reported");
      assert.match(out, /Ban 192\.0\.2\.1/, "log records go to stderr instead");
    } finally {
      await server.stop();
    }
  });
});

Deno.test({
  name:
    "a log target that becomes unwritable while running: the real server goes to stderr and keeps banning",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    await withDir(async (dir) => {
      await writeConfig(dir, [{ name: "web" }]);
      const server = new Server(dir);
      const log = `${dir}/f2b.log`;
      let immutable = false;
      try {
        await server.ready(["web"]);
        // Root ignores modes: an immutable file refuses even root's writes (EPERM).
        const r = await new Deno.Command("chattr", { args: ["+i", log], stderr: "piped" })
          .output();
        assert.ok(r.success, new TextDecoder().decode(r.stderr));
        immutable = true;
        await append(`${dir}/web.log`, fail("192.0.2.1").repeat(2));
        await waitFor(() => bans(dir).includes("ban web 192.0.2.1"), "ban");
        assert.deepEqual(row(await server.command("status", "web"), "Banned IP list"), [
          "192.0.2.1",
        ]);
        await new Deno.Command("chattr", { args: ["-i", log] }).output();
        immutable = false;
        assert.equal(await server.stop(), 0);
        assert.match(await server.output, /Ban 192\.0\.2\.1/, "log records on stderr");
      } finally {
        if (immutable) await new Deno.Command("chattr", { args: ["-i", log] }).output();
        await server.stop();
      }
    });
  },
});
