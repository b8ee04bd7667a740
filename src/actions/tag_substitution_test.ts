import assert from "node:assert/strict";
import { testTicket as ticket } from "../../tests/_jail_spec.ts";
import type { ActionSpec } from "../config/types.ts";
import { ShellCommandRunner } from "./command_runner.ts";
import {
  buildCommand,
  dynamicValuesFor,
  replaceDynamicTags,
  replaceStaticTags,
  reverseAddress,
} from "./tag_substitution.ts";

/** SECURITY.md item 4: log text that a shell would act on. */
const HOSTILE = [
  "`touch CANARY`",
  "$(touch CANARY)",
  "a; touch CANARY",
  "a | touch CANARY",
  "a & touch CANARY &",
  `it's "quoted" 'twice'`,
  "line1\nline2; touch CANARY\n",
  "~!$HOME ${HOME} $((1+1)) \\n \\ back\\slash",
  "'\"'\"; touch CANARY; echo '",
  "* ? [a-z] <ip> <F-USER> %s %b \\0",
  "EOF\ntouch CANARY\nEOF",
];

function spec(
  commands: Record<string, string>,
  properties: Record<string, string> = {},
): ActionSpec {
  return {
    name: "test",
    kind: "test",
    file: null,
    commands,
    properties,
    familyProperties: {},
    timeout: 10,
  };
}

Deno.test("replaceStaticTags substitutes recursively with family overrides left to the caller", () => {
  const props = {
    iptables: "iptables <lockingopt>",
    lockingopt: "-w",
    name: "sshd",
    type: "multiport",
    "ipt_multiport/_chain_rule": "-p $proto -m multiport --dports <port>",
    port: "22",
    _rule: "<ipt_<type>/_chain_rule>",
  };
  assert.equal(
    replaceStaticTags("<iptables> -I f2b-<name> 1 -s <ip> -j X<br><_rule>", props),
    "iptables -w -I f2b-sshd 1 -s <ip> -j X\n-p $proto -m multiport --dports 22",
  );
  assert.equal(replaceStaticTags("a<sp>b <unknown>", {}), "a b <unknown>");
  assert.throws(() => replaceStaticTags("<a>", { a: "x<a>" }), SyntaxError);
});

Deno.test("buildCommand uses [Init?family=inet6] properties for inet6 tickets", () => {
  const s: ActionSpec = {
    ...spec({ actionban: "<iptables> -I f2b-<name> -s <ip> -j <blocktype>" }, {
      iptables: "iptables",
      name: "sshd",
      blocktype: "REJECT",
    }),
    familyProperties: { inet6: { iptables: "ip6tables", blocktype: "REJECT6" } },
  };
  const t6 = ticket({ fid: "2001:db8::1", family: "inet6" });
  const p6 = buildCommand(
    s,
    "actionban",
    dynamicValuesFor(t6, { family: "inet6", now: 0 }),
    "inet6",
  );
  assert.equal(p6?.command, "ip6tables -I f2b-sshd -s 2001:db8::1 -j REJECT6");
  const p4 = buildCommand(
    s,
    "actionban",
    dynamicValuesFor(ticket(), { family: "inet4", now: 0 }),
    "inet4",
  );
  assert.equal(p4?.command, "iptables -I f2b-sshd -s 192.0.2.1 -j REJECT");
  assert.equal(
    buildCommand(s, "actionflush", dynamicValuesFor(null, { family: "", now: 0 }), ""),
    null,
  );
});

Deno.test("dynamic tags: numbers and valid addresses inline, log text by environment", () => {
  const t = ticket({ matches: ["m1", "m2"], data: { user: "root", fport: "22" }, banCount: 2 });
  const p = replaceDynamicTags(
    "x <ip> <fid> <family> <failures> <time> <bantime> <bancount> <ip-rev> <restored> <F-USER> <F-PORT> <F-NONE> <matches> <other>",
    dynamicValuesFor(t, { family: "inet4", now: 5 }),
  );
  assert.equal(
    p.command,
    'x 192.0.2.1 192.0.2.1 inet4 3 1124013600 600 2 1.2.0.192. 0 "${F2B_F_USER}" "${F2B_F_PORT}" "${F2B_F_NONE}" "${F2B_MATCHES}" <other>',
  );
  assert.deepEqual(p.env, {
    F2B_F_USER: "root",
    F2B_F_PORT: "22",
    F2B_F_NONE: "",
    F2B_MATCHES: "m1\nm2",
  });
  const bad = replaceDynamicTags(
    "ban <ip>",
    dynamicValuesFor(ticket({ fid: "x;reboot", family: null }), { family: "", now: 0 }),
  );
  assert.equal(bad.command, 'ban "${F2B_IP}"');
  assert.equal(bad.env.F2B_IP, "x;reboot");
});

Deno.test("reverseAddress gives PTR names for IPv4 and IPv6", () => {
  assert.equal(reverseAddress("192.0.2.7"), "7.2.0.192.");
  assert.equal(
    reverseAddress("2001:db8::1"),
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.",
  );
  assert.equal(
    reverseAddress("::ffff:1.2.3.4"),
    [..."00000000000000000000ffff01020304"].reverse().join(".") + ".",
  );
  assert.equal(reverseAddress("nope"), "");
});

Deno.test("quoted here-document with a log-text tag is refused", () => {
  const values = dynamicValuesFor(ticket({ matches: ["x"] }), { family: "inet4", now: 0 });
  assert.throws(() => replaceDynamicTags("cat <<'EOF'\n<matches>\nEOF\n", values), SyntaxError);
  const ok = replaceDynamicTags("cat <<EOF\n<matches> <ip>\nEOF\necho <matches>", values);
  assert.equal(ok.command, 'cat <<EOF\n${F2B_MATCHES} 192.0.2.1\nEOF\necho "${F2B_MATCHES}"');
});

Deno.test("hostile log text reaches the output byte for byte through real sh, in every quoting context", async () => {
  const dir = await Deno.makeTempDir();
  const runner = new ShellCommandRunner();
  try {
    const out = `${dir}/out`;
    // Each template writes the value once; `expect` maps the value to what the file must hold.
    const templates: { cmd: string; expect: (v: string) => string }[] = [
      { cmd: "printf '%s' <F-USER> > <out>", expect: (v) => v },
      { cmd: `printf '%s' "<F-USER>" > <out>`, expect: (v) => v },
      { cmd: "printf '%s' '<F-USER>' > <out>", expect: (v) => v },
      { cmd: `printf '%s' 'pre <F-USER> post' > <out>`, expect: (v) => `pre ${v} post` },
      { cmd: `printf '%s' "a\\<F-USER>b" > <out>`, expect: (v) => `a\\${v}b` },
      { cmd: "printf '%s|%s' '<F-USER>' \"<matches>\" > <out>", expect: (v) => `${v}|${v}\n${v}` },
      { cmd: "x=$(printf '%s.' <F-USER>); printf '%s' \"$x\" > <out>", expect: (v) => `${v}.` },
      { cmd: "x=`printf '%s.' <F-USER>`; printf '%s' \"$x\" > <out>", expect: (v) => `${v}.` },
      { cmd: "cat > <out> <<EOF\n<F-USER>\nEOF", expect: (v) => `${v}\n` },
      {
        cmd: "lgm=$(printf '%.1000s\\n...' \"<matches>\"); printf '%s' \"$lgm\" > <out>",
        expect: (v) => `${v}\n${v}\n...`,
      },
    ];
    for (const value of HOSTILE) {
      for (const { cmd, expect } of templates) {
        const t = ticket({ matches: [value, value], data: { user: value } });
        const s = spec({ actionban: cmd }, { out });
        const prepared = buildCommand(
          s,
          "actionban",
          dynamicValuesFor(t, { family: "inet4", now: 0 }),
          "inet4",
        );
        assert.ok(prepared);
        const r = await runner.run(`cd ${dir} && ${prepared.command}`, {
          env: prepared.env,
          timeout: 10,
        });
        const label = `${JSON.stringify(cmd)} with ${JSON.stringify(value)}`;
        assert.equal(r.code, 0, `${label}: ${r.stderr}`);
        assert.equal(await Deno.readTextFile(out), expect(value), label);
        await assert.rejects(
          Deno.stat(`${dir}/CANARY`),
          Deno.errors.NotFound,
          `${label} ran a command`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
