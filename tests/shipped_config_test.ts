/**
 * The configuration shipped in config/: every jail loads with its filter and actions (all
 * enabled in a temporary overlay whose jail.local points logpaths at temp files), only sshd is
 * on as shipped, every filter has a jail, every action builds complete commands for IPv4 and
 * IPv6, `server -t` passes, and a dump of it all matches the reviewed snapshot
 * tests/testdata/shipped_config_dump.json (rewrite it with UPDATE_SNAPSHOT=1 and review the diff).
 */

import assert from "node:assert/strict";
import { readJails, readServerConfig } from "../src/config/jail_reader.ts";
import { readAction } from "../src/config/action_reader.ts";
import { buildCommand, dynamicValuesFor } from "../src/actions/tag_substitution.ts";
import type { ActionSpec, JailSpec } from "../src/config/types.ts";
import type { BanTicket } from "../src/ipc/messages.ts";
import { CONFIG_DIR } from "./_netns.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const SNAPSHOT = new URL("./testdata/shipped_config_dump.json", import.meta.url).pathname;

/** Names of the jail sections of the shipped jail.conf, in order. */
function jailSections(): string[] {
  const text = Deno.readTextFileSync(`${CONFIG_DIR}/jail.conf`);
  return [...text.matchAll(/^\[([^\]]+)\]\s*$/gm)].map((m) => m[1]!).filter((s) =>
    s !== "INCLUDES" && s !== "DEFAULT"
  );
}

/** Names of files of `dir` ending in `.conf`, without it, except shared pieces (`*common`). */
function confNames(dir: string): string[] {
  return [...Deno.readDirSync(`${CONFIG_DIR}/${dir}`)]
    .map((e) => e.name)
    .filter((n) => n.endsWith(".conf"))
    .map((n) => n.slice(0, -5))
    .filter((n) => !/(^|-)common$/.test(n))
    .sort();
}

/** A temp config dir linking to config/'s files, with a jail.local enabling every jail. */
function overlay(extra: Record<string, string[]> = {}): { dir: string; jails: string[] } {
  const dir = Deno.makeTempDirSync({ prefix: "f2b_shipped_" });
  for (const e of Deno.readDirSync(CONFIG_DIR)) {
    if (e.name.endsWith(".local")) continue;
    Deno.symlinkSync(`${CONFIG_DIR}/${e.name}`, `${dir}/${e.name}`);
  }
  Deno.mkdirSync(`${dir}/logs`);
  const jails = jailSections();
  const local = [
    "[DEFAULT]",
    "banaction = nftables-multiport",
    "banaction_allports = nftables-allports",
    "",
  ];
  for (const j of jails) {
    Deno.writeTextFileSync(`${dir}/logs/${j}.log`, "");
    local.push(`[${j}]`, "enabled = true", `logpath = ${dir}/logs/${j}.log`, ...extra[j] ?? [], "");
  }
  Deno.writeTextFileSync(`${dir}/jail.local`, local.join("\n"));
  return { dir, jails };
}

function sampleTicket(fid: string): BanTicket {
  return {
    jail: "sshd",
    fid,
    family: fid.includes(":") ? "inet6" : "inet4",
    time: 1_700_000_000,
    banTime: 600,
    banCount: 1,
    failures: 5,
    matches: ["Nov 14 22:10:01 gw sshd[42]: Invalid user `reboot` from 192.0.2.7 port 4242"],
    data: { user: "$(reboot)" },
  };
}

/** Every command of `spec` built for a sample ban of each family (static and dynamic tags done). */
function builtCommands(spec: ActionSpec): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [family, fid] of [["inet4", "192.0.2.7"], ["inet6", "2001:db8::7"]] as const) {
    const cmds: Record<string, string> = {};
    for (const name of Object.keys(spec.commands).sort()) {
      const values = dynamicValuesFor(
        /ban|unban/.test(name) && !name.endsWith("_batch") ? sampleTicket(fid) : null,
        { family, now: 1_700_000_000 },
      );
      const built = buildCommand(spec, name, values, family);
      if (!built) continue;
      // The executor puts the addresses of a batch in place of <ips>.
      const ips = family === "inet4" ? "192.0.2.7,192.0.2.8" : "2001:db8::7,2001:db8::8";
      cmds[name] = name.endsWith("_batch") ? built.command.replaceAll("<ips>", ips) : built.command;
    }
    out[family] = cmds;
  }
  return out;
}

/** The host name substituted for `<fq-hostname>`, replaced in dumps so they do not depend on the machine. */
const HOST = (() => {
  try {
    return Deno.hostname();
  } catch {
    return "localhost";
  }
})();

function scrub(text: string): string {
  return text.split(HOST).join("HOSTNAME").split(CONFIG_DIR).join("CONFIG");
}

function jailDump(j: JailSpec) {
  return {
    enabled: j.enabled,
    filter: j.filter.name + (j.filter.options.mode ? `[mode=${j.filter.options.mode}]` : ""),
    logpath: j.logpath,
    backend: j.backend,
    maxretry: j.maxretry,
    findtime: j.findtime,
    bantime: j.bantime,
    ignoreip: j.ignoreip,
    usedns: j.usedns,
    actions: j.actions.map((a) => {
      const p = a.properties;
      const args = ["port", "protocol", "chain", "dest", "sender"]
        .filter((k) => p[k] !== undefined)
        .map((k) => `${k}=${p[k]}`);
      return `${a.name} (${a.kind}) ${args.join(" ")}`.trim();
    }),
  };
}

Deno.test("Shipped config: only sshd is enabled, and every jail has a shipped filter", () => {
  const enabled = readJails(CONFIG_DIR).map((j) => j.name);
  assert.deepEqual(enabled, ["sshd"]);
  const all = readJails(CONFIG_DIR, { onlyEnabled: false });
  assert.deepEqual(all.map((j) => j.name), jailSections());
  const filters = new Set(confNames("filter.d"));
  for (const j of all) assert.ok(filters.has(j.filter.name), `filter of jail "${j.name}"`);
});

Deno.test("Shipped config: every shipped filter is used by a jail", () => {
  const used = new Set(readJails(CONFIG_DIR, { onlyEnabled: false }).map((j) => j.filter.name));
  const unused = confNames("filter.d").filter((f) => !used.has(f));
  assert.deepEqual(unused, [], "filters without a jail in jail.conf");
});

Deno.test("Shipped config: every jail loads enabled, with its filter, actions and log file", () => {
  const { dir, jails } = overlay();
  try {
    const specs = readJails(dir);
    assert.deepEqual(specs.map((j) => j.name), jails);
    for (const j of specs) {
      assert.ok(j.enabled, j.name);
      assert.ok(j.filter.failregex.length > 0, `${j.name}: failregex`);
      assert.ok(j.actions.length > 0, `${j.name}: actions`);
      assert.deepEqual(j.logpath, [`${dir}/logs/${j.name}.log`], `${j.name}: logpath`);
      assert.deepEqual(j.warnings ?? [], [], `${j.name}: warnings`);
      for (const a of j.actions) assert.ok(a.kind.startsWith("nftables"), `${j.name}: banaction`);
    }
    assert.equal(readServerConfig(dir).socket, readServerConfig(CONFIG_DIR).socket);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("Shipped config: the action macros ban, ban and mail, ban and mail with lines", () => {
  const { dir } = overlay({
    sshd: ["action = %(action_mwl)s"],
    "apache-auth": ["action = %(action_mw)s"],
    dovecot: ["mta = mail", "action = %(action_mw)s"],
  });
  try {
    const byName = new Map(readJails(dir).map((j) => [j.name, j]));
    const kinds = (n: string) => byName.get(n)!.actions.map((a) => a.kind);
    assert.deepEqual(kinds("sshd"), ["nftables-multiport", "sendmail-whois-lines"]);
    assert.deepEqual(kinds("apache-auth"), ["nftables-multiport", "sendmail-whois"]);
    assert.deepEqual(kinds("dovecot"), ["nftables-multiport", "mail-whois"]);
    assert.deepEqual(kinds("nginx-http-auth"), ["nftables-multiport"]);
    const mail = byName.get("sshd")!.actions[1]!;
    assert.equal(mail.properties.dest, "root@localhost");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("Shipped config: paths-fedora.conf replaces the Debian log paths from jail.local", () => {
  const dir = Deno.makeTempDirSync({ prefix: "f2b_fedora_" });
  try {
    for (const e of Deno.readDirSync(CONFIG_DIR)) {
      Deno.symlinkSync(`${CONFIG_DIR}/${e.name}`, `${dir}/${e.name}`);
    }
    Deno.writeTextFileSync(`${dir}/jail.local`, "[INCLUDES]\nbefore = paths-fedora.conf\n");
    const byName = new Map(readJails(dir, { onlyEnabled: false }).map((j) => [j.name, j]));
    assert.deepEqual(byName.get("sshd")!.logpath, ["/var/log/secure"]);
    assert.deepEqual(byName.get("postfix")!.logpath, ["/var/log/maillog"]);
    assert.deepEqual(byName.get("apache-auth")!.logpath, ["/var/log/httpd/*error_log"]);
    const debian = new Map(readJails(CONFIG_DIR, { onlyEnabled: false }).map((j) => [j.name, j]));
    assert.deepEqual(debian.get("sshd")!.logpath, ["/var/log/auth.log"]);
    assert.deepEqual(debian.get("exim")!.logpath, ["/var/log/exim4/mainlog"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("Shipped actions: every command builds for IPv4 and IPv6 with no tag left over", () => {
  for (const name of confNames("action.d")) {
    const spec = readAction(CONFIG_DIR, name, {}, { jailName: "sshd" });
    assert.ok(spec.commands.actionban, `${name}: actionban`);
    for (const [family, cmds] of Object.entries(builtCommands(spec))) {
      for (const [cmd, text] of Object.entries(cmds)) {
        const left = text.match(/<[A-Za-z][\w-]*>/g)?.filter((t) =>
          // An e-mail address in angle brackets is not a tag.
          !t.includes("@")
        );
        assert.deepEqual(left ?? [], [], `${name} ${cmd} (${family}): unresolved tags in ${text}`);
      }
    }
  }
});

Deno.test({
  name: "Shipped config: server -t passes as shipped and with every jail enabled",
  sanitizeResources: false,
  async fn() {
    const { dir } = overlay();
    try {
      for (const conf of [CONFIG_DIR, dir]) {
        const r = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", `${ROOT}mod.ts`, "server", "-t", "-c", conf],
          stdin: "null",
        }).output();
        const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
        assert.equal(r.code, 0, `server -t -c ${conf}: ${out}`);
        assert.match(out, /OK/);
      }
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test("Shipped config: the dump matches the reviewed snapshot", () => {
  const jails: Record<string, unknown> = {};
  for (const j of readJails(CONFIG_DIR, { onlyEnabled: false })) jails[j.name] = jailDump(j);
  const actions: Record<string, unknown> = {};
  for (const name of confNames("action.d")) {
    actions[name] = builtCommands(readAction(CONFIG_DIR, name, {}, { jailName: "sshd" }));
  }
  const server = readServerConfig(CONFIG_DIR);
  const dump = scrub(JSON.stringify({ server, jails, actions }, null, 2)) + "\n";
  if (Deno.env.get("UPDATE_SNAPSHOT") === "1") {
    Deno.writeTextFileSync(SNAPSHOT, dump);
    return;
  }
  let expected: string;
  try {
    expected = Deno.readTextFileSync(SNAPSHOT);
  } catch {
    assert.fail(`No snapshot at ${SNAPSHOT}: run with UPDATE_SNAPSHOT=1 and review it`);
  }
  assert.equal(dump, expected, "dump differs from the snapshot (UPDATE_SNAPSHOT=1 rewrites it)");
});

/** Hostile log lines: shell syntax, a mailer escape, a lone dot, a fake header, quotes. */
const HOSTILE = [
  "sshd[1]: Invalid user `touch /tmp/f2b_pwned_1` from 192.0.2.7",
  "~! touch /tmp/f2b_pwned_2",
  ".",
  "Bcc: victim@example.org",
  `user "$(touch /tmp/f2b_pwned_3)" ; rm -rf / & 'q' \\ end`,
];

/** Runs `action`'s ban for a hostile ticket with fake tools first on PATH; returns the temp dir. */
async function banWithFakeTools(
  action: string,
  tools: Record<string, string>,
  check: (dir: string) => void | Promise<void>,
): Promise<void> {
  const { ActionExecutor } = await import("../src/actions/action_executor.ts");
  const { ShellCommandRunner } = await import("../src/actions/command_runner.ts");
  const { MemoryLogger } = await import("../src/log/types.ts");
  const { ManualClock } = await import("../src/util/clock.ts");
  const dir = Deno.makeTempDirSync({ prefix: "f2b_fake_tools_" });
  try {
    Deno.mkdirSync(`${dir}/bin`);
    for (const [name, body] of Object.entries(tools)) {
      Deno.writeTextFileSync(`${dir}/bin/${name}`, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    }
    const shell = new ShellCommandRunner();
    const path = `${dir}/bin:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`;
    const logger = new MemoryLogger();
    const ex = new ActionExecutor({
      runner: {
        run: (command, o) => shell.run(command, { ...o, env: { ...o.env, PATH: path, OUT: dir } }),
      },
      logger,
      clock: new ManualClock(1_700_000_000),
      resolveHost: () => Promise.resolve(""),
    });
    const spec = readAction(CONFIG_DIR, action, {}, { jailName: "sshd" });
    await ex.startJail("sshd", [spec]);
    const t = { ...sampleTicket("192.0.2.7"), matches: HOSTILE };
    assert.ok(await ex.ban(t), logger.messages().join("\n"));
    assert.ok(await ex.unban(t), logger.messages().join("\n"));
    await ex.stopJail("sshd", []);
    assert.deepEqual(logger.messages("ERROR"), []);
    for (const n of [1, 2, 3]) {
      assert.ok(!existsSync(`/tmp/f2b_pwned_${n}`), `log text ran as a command (${n})`);
    }
    await check(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

const WHOIS =
  `printf '%s\\n' 'NetName: TEST-NET' '~! touch /tmp/f2b_pwned_1' '.' 'Subject: spoofed'`;

Deno.test("sendmail-whois-lines: whois answer and log lines stay in the body, verbatim", async () => {
  await banWithFakeTools(
    "sendmail-whois-lines[dest=admin@example.org, sendmailcmd=sendmail]",
    { whois: WHOIS, sendmail: `{ echo "ARGS: $*"; cat; echo "<<END>>"; } >> "$OUT/mail"` },
    (dir) => {
      const text = Deno.readTextFileSync(`${dir}/mail`);
      const ban = text.split("<<END>>\n").find((m) => m.includes("banned 192.0.2.7"))!;
      assert.ok(ban, text);
      const [head, ...rest] = ban.split("\n\n");
      const body = rest.join("\n\n");
      assert.match(head!, /^ARGS: -t -oi -f root@/);
      assert.match(head!, /\nSubject: \[f2b\] sshd: banned 192\.0\.2\.7 from /);
      assert.match(head!, /\nTo: admin@example\.org\n/);
      assert.ok(!/Bcc|spoofed/.test(head!), "no header from log or whois text");
      for (const line of HOSTILE) assert.ok(body.split("\n").includes(line), `body has ${line}`);
      assert.ok(body.includes("NetName: TEST-NET\n~! touch /tmp/f2b_pwned_1\n.\n"), body);
    },
  );
});

Deno.test("mail-whois-lines: lines starting with ~ reach mail(1) escaped", async () => {
  await banWithFakeTools(
    "mail-whois-lines[dest=admin@example.org]",
    { whois: WHOIS, mail: `{ echo "ARGS: $*"; cat; echo "<<END>>"; } >> "$OUT/mail"` },
    (dir) => {
      const text = Deno.readTextFileSync(`${dir}/mail`);
      const ban = text.split("<<END>>\n").find((m) => m.includes("banned 192.0.2.7"))!;
      assert.match(
        ban,
        /^ARGS: -s \[f2b\] sshd: banned 192\.0\.2\.7 from \S+ admin@example\.org\n/,
      );
      const lines = ban.split("\n");
      assert.ok(!lines.some((l) => l.startsWith("~")), "no line starts with ~");
      assert.ok(lines.includes(" ~! touch /tmp/f2b_pwned_2"));
      assert.ok(lines.includes(HOSTILE[4]!));
    },
  );
});

Deno.test("webhook: the JSON event carries the log lines exactly, built without the shell", async () => {
  await banWithFakeTools(
    "webhook[url=http://hook.invalid/f2b]",
    { curl: `{ echo "ARGS: $*"; cat; } >> "$OUT/posts"` },
    (dir) => {
      const posts = Deno.readTextFileSync(`${dir}/posts`).split("ARGS: ").filter((p) => p);
      assert.equal(posts.length, 2, "ban and unban posted");
      const [args, json] = [posts[0]!.split("\n")[0]!, posts[0]!.split("\n").slice(1).join("\n")];
      assert.match(args, /--data-binary @- http:\/\/hook\.invalid\/f2b$/);
      const ev = JSON.parse(json);
      assert.deepEqual(ev, {
        event: "ban",
        jail: "sshd",
        ip: "192.0.2.7",
        family: "inet4",
        time: 1_700_000_000,
        bantime: 600,
        bancount: 1,
        failures: 5,
        host: HOST,
        matches: HOSTILE,
      });
      assert.equal(JSON.parse(posts[1]!.split("\n").slice(1).join("\n")).event, "unban");
    },
  );
});

Deno.test("ufw, firewalld and shorewall call their tools with complete rules", async () => {
  const log = `echo "$(basename "$0") $*" >> "$OUT/calls"`;
  const cases: Array<[string, string[]]> = [
    ['ufw[port="ssh,8080"]', [
      "ufw prepend reject from 192.0.2.7 to any port ssh,8080 proto tcp",
      "ufw delete reject from 192.0.2.7 to any port ssh,8080 proto tcp",
    ]],
    ['firewalld[port="ssh,6000:6010"]', [
      "firewall-cmd --quiet --add-rich-rule=rule family=ipv4 source address=192.0.2.7 port port=22 protocol=tcp reject",
      "firewall-cmd --quiet --add-rich-rule=rule family=ipv4 source address=192.0.2.7 port port=6000-6010 protocol=tcp reject",
      "firewall-cmd --quiet --remove-rich-rule=rule family=ipv4 source address=192.0.2.7 port port=22 protocol=tcp reject",
      "firewall-cmd --quiet --remove-rich-rule=rule family=ipv4 source address=192.0.2.7 port port=6000-6010 protocol=tcp reject",
    ]],
    ["firewalld-allports", [
      "firewall-cmd --quiet --add-rich-rule=rule family=ipv4 source address=192.0.2.7 reject",
      "firewall-cmd --quiet --remove-rich-rule=rule family=ipv4 source address=192.0.2.7 reject",
    ]],
    ["shorewall", ["shorewall reject 192.0.2.7", "shorewall allow 192.0.2.7"]],
  ];
  for (const [action, expected] of cases) {
    await banWithFakeTools(
      action,
      { ufw: log, "firewall-cmd": log, shorewall: log },
      (dir) => {
        const calls = Deno.readTextFileSync(`${dir}/calls`).trim().split("\n");
        assert.deepEqual(calls, expected, action);
      },
    );
  }
});

Deno.test("dummy writes bans to its target file, batches included", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "f2b_dummy_" });
  try {
    const { ActionExecutor } = await import("../src/actions/action_executor.ts");
    const { ShellCommandRunner } = await import("../src/actions/command_runner.ts");
    const { MemoryLogger } = await import("../src/log/types.ts");
    const { ManualClock } = await import("../src/util/clock.ts");
    const target = `${dir}/sub/dummy.txt`;
    const logger = new MemoryLogger();
    const ex = new ActionExecutor({
      runner: new ShellCommandRunner(),
      logger,
      clock: new ManualClock(0),
    });
    await ex.startJail("sshd", [
      readAction(CONFIG_DIR, `dummy[target="${target}"]`, {}, { jailName: "sshd" }),
    ]);
    const ts = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1"].map((ip) => sampleTicket(ip));
    assert.deepEqual(await Promise.all(ts.map((t) => ex.ban(t))), [true, true, true, true]);
    assert.deepEqual(
      Deno.readTextFileSync(target).trim().split("\n").sort(),
      ["+192.0.2.1", "+192.0.2.2", "+192.0.2.3", "+2001:db8::1"],
    );
    assert.ok(await ex.unban(ts[1]!));
    assert.deepEqual(
      Deno.readTextFileSync(target).trim().split("\n").sort(),
      ["+192.0.2.1", "+192.0.2.3", "+2001:db8::1"],
    );
    await ex.stopJail("sshd", []);
    assert.ok(!existsSync(target), "target removed at stop");
    assert.deepEqual(logger.messages("ERROR"), []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
