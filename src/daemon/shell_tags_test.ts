import assert from "node:assert/strict";
import { substituteShellTags } from "./shell_tags.ts";
import { parseIgnoreCache } from "./ignore_command.ts";

const HOSTILE = [
  "$(touch /tmp/f2b-pwned)",
  "`touch /tmp/f2b-pwned`",
  "a; touch /tmp/f2b-pwned",
  "x' ; touch /tmp/f2b-pwned; '",
  'y" ; touch /tmp/f2b-pwned; "',
  "line1\nline2 | cat &",
  "~!*?[a]",
];

async function sh(command: string, env: Record<string, string>): Promise<string> {
  const out = await new Deno.Command("/bin/sh", { args: ["-c", command], env, stdout: "piped" })
    .output();
  return new TextDecoder().decode(out.stdout);
}

Deno.test("substituteShellTags passes hostile values literally in every quoting context", async () => {
  for (const value of HOSTILE) {
    for (const template of ["printf %s <v>", 'printf %s "<v>"', "printf %s '<v>'"]) {
      const { command, env } = substituteShellTags(template, { v: value });
      assert.equal(await sh(command, env), value, `${template} with ${JSON.stringify(value)}`);
    }
  }
  await assert.rejects(Deno.stat("/tmp/f2b-pwned"));
});

Deno.test("substituteShellTags leaves unknown tags and reuses one variable per tag", () => {
  const r = substituteShellTags("a <ip> <other> <ip>", { ip: "192.0.2.1" });
  assert.equal(r.command, 'a "${F2B_TAG_0}" <other> "${F2B_TAG_0}"');
  assert.deepEqual(r.env, { F2B_TAG_0: "192.0.2.1" });
});

Deno.test("parseIgnoreCache reads fail2ban's option syntax and names bad values", () => {
  assert.deepEqual(parseIgnoreCache('key="<ip>", max-count=5, max-time=1h', "x"), {
    key: "<ip>",
    maxCount: 5,
    maxTime: 3600,
  });
  assert.deepEqual(parseIgnoreCache("key=<F-USER>", "x"), {
    key: "<F-USER>",
    maxCount: 100,
    maxTime: 300,
  });
  assert.throws(() => parseIgnoreCache("max-count=0", "jail sshd ignorecache"), /max-count/);
  assert.throws(() => parseIgnoreCache("colour=red", "jail sshd ignorecache"), /"colour"/);
});
