import assert from "node:assert/strict";
import { parseReference, splitWithOptions } from "./reference.ts";

Deno.test("parseReference reads quoted values with commas and brackets", () => {
  assert.deepEqual(parseReference('iptables[name=SSH, port="ssh,http", protocol=tcp]'), {
    name: "iptables",
    options: { name: "SSH", port: "ssh,http", protocol: "tcp" },
  });
  assert.deepEqual(parseReference("a[x='1]2', y=3 ][z=\"q\"]"), {
    name: "a",
    options: { x: "1]2", y: "3", z: "q" },
  });
  assert.deepEqual(parseReference("sshd"), { name: "sshd", options: {} });
  assert.deepEqual(parseReference("a[x=1 y=2]"), { name: "a", options: { x: "1 y=2" } });
});

Deno.test("parseReference rejects malformed references as fail2ban does", () => {
  for (const bad of ["a[x]", "a[x=1] b", "a[=1]"]) {
    assert.throws(() => parseReference(bad), SyntaxError, bad);
  }
});

Deno.test("splitWithOptions keeps bracketed options together across lines", () => {
  assert.deepEqual(
    splitWithOptions('iptables[name=SSH, port="ssh, http"]\n  sendmail-whois[dest="a b"]   c'),
    ['iptables[name=SSH, port="ssh, http"]\n ', 'sendmail-whois[dest="a b"]  ', "c"],
  );
});
