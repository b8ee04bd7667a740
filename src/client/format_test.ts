import assert from "node:assert/strict";
import { formatError, formatReply, pythonRepr } from "./format.ts";

Deno.test("formatReply prints status like fail2ban-client", () => {
  assert.equal(
    formatReply(["status"], [["Number of jail", 2], ["Jail list", "other, sshd"]]),
    "Status\n|- Number of jail:\t2\n`- Jail list:\tother, sshd",
  );
});

Deno.test("formatReply prints a jail status like fail2ban-client", () => {
  const value = [
    ["Filter", [["Currently failed", 0], ["Total failed", 0], ["File list", [
      "/var/log/auth.log",
    ]]]],
    ["Actions", [["Currently banned", 2], ["Total banned", 2], ["Banned IP list", [
      "192.0.2.10",
      "2001:db8::1",
    ]]]],
  ];
  assert.equal(
    formatReply(["status", "sshd"], value),
    [
      "Status for the jail: sshd",
      "|- Filter",
      "|  |- Currently failed:\t0",
      "|  |- Total failed:\t0",
      "|  `- File list:\t/var/log/auth.log",
      "`- Actions",
      "   |- Currently banned:\t2",
      "   |- Total banned:\t2",
      "   `- Banned IP list:\t192.0.2.10 2001:db8::1",
    ].join("\n"),
  );
});

Deno.test("formatReply prints an empty banned list with the tab kept", () => {
  const out = formatReply(["status", "sshd"], [
    ["Filter", [["File list", []]]],
    ["Actions", [["Banned IP list", []]]],
  ]);
  assert.ok(out.endsWith("   `- Banned IP list:\t"));
});

Deno.test("formatReply prints ping, version, stop, reload and echo as fail2ban-client", () => {
  assert.equal(formatReply(["ping"], "pong"), "Server replied: pong");
  assert.equal(formatReply(["version"], "0.1.0"), "0.1.0");
  assert.equal(formatReply(["stop"], null), "Shutdown successful");
  assert.equal(formatReply(["reload"], null), "OK");
  assert.equal(formatReply(["reload", "--restart", "sshd"], null), "OK");
  assert.equal(formatReply(["echo", "hello", "world"], ["hello", "world"]), "hello world");
  assert.equal(formatReply(["flushlogs"], "rolled over"), "logs: rolled over");
});

Deno.test("formatReply prints other answers as Python repr", () => {
  assert.equal(
    formatReply(["banned"], [{ sshd: ["192.0.2.1", "192.0.2.2"] }, { other: [] }]),
    "[{'sshd': ['192.0.2.1', '192.0.2.2']}, {'other': []}]",
  );
  assert.equal(formatReply(["banned", "192.0.2.1"], [["sshd"]]), "[['sshd']]");
  assert.equal(formatReply(["set", "sshd", "banip", "192.0.2.1"], 1), "1");
});

Deno.test("formatReply prints get answers with fail2ban-client's texts", () => {
  assert.equal(formatReply(["get", "loglevel"], "INFO"), "Current logging level is 'INFO'");
  assert.equal(
    formatReply(["get", "logtarget"], "/var/log/f2b.log"),
    "Current logging target is:\n`- /var/log/f2b.log",
  );
  assert.equal(
    formatReply(["get", "dbpurgeage"], 86400),
    "Current database purge age is:\n`- 86400seconds",
  );
  assert.equal(formatReply(["get", "dbfile"], null), "Database currently disabled");
  assert.equal(
    formatReply(["get", "sshd", "logpath"], ["/a", "/b"]),
    "Current monitored log file(s):\n|- /a\n`- /b",
  );
  assert.equal(formatReply(["get", "sshd", "ignoreip"], []), "No IP address/network is ignored");
  assert.equal(
    formatReply(["get", "sshd", "failregex"], ["^a$", "^b$"]),
    "The following regular expression are defined:\n|- [0]: ^a$\n`- [1]: ^b$",
  );
  assert.equal(
    formatReply(["get", "sshd", "actions"], ["dummy", "mail"]),
    "The jail sshd has the following actions:\ndummy, mail",
  );
  assert.equal(formatReply(["get", "sshd", "banip", ","], ["a", "b"]), "a,b");
  assert.equal(formatReply(["get", "sshd", "maxretry"], 3), "3");
});

Deno.test("pythonRepr quotes like Python", () => {
  assert.equal(pythonRepr("it's"), `"it's"`);
  assert.equal(pythonRepr("a\nb"), `'a\\nb'`);
  assert.equal(pythonRepr([null, true, 1.5]), "[None, True, 1.5]");
});

Deno.test("formatError prints the server's message", () => {
  assert.equal(
    formatError({ name: "UnknownJailError", message: "Sorry but the jail 'x' does not exist" }),
    "Sorry but the jail 'x' does not exist",
  );
});

Deno.test("status --all prints each jail's status block", () => {
  const rows = (banned: number) => [
    ["Filter", [["Currently failed", 0], ["Total failed", 1], ["File list", ["/var/log/x"]]]],
    ["Actions", [["Currently banned", banned], ["Total banned", banned]]],
  ];
  assert.equal(
    formatReply(["status", "--all", "short"], [{ a: rows(1) }, { b: rows(0) }]),
    [
      "Status for the jail: a",
      "|- Filter",
      "|  |- Currently failed:\t0",
      "|  |- Total failed:\t1",
      "|  `- File list:\t/var/log/x",
      "`- Actions",
      "   |- Currently banned:\t1",
      "   `- Total banned:\t1",
      "Status for the jail: b",
      "|- Filter",
      "|  |- Currently failed:\t0",
      "|  |- Total failed:\t1",
      "|  `- File list:\t/var/log/x",
      "`- Actions",
      "   |- Currently banned:\t0",
      "   `- Total banned:\t0",
    ].join("\n"),
  );
});
