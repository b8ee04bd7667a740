import assert from "node:assert/strict";
import { actionNotes, backendNote, logEncodingProblem, serverNotes } from "./migration.ts";
import type { ActionSpec, ServerSpec } from "./types.ts";

Deno.test("backendNote accepts fail2ban's backends and notes the ones f2b treats differently", () => {
  assert.equal(backendNote("auto"), null);
  assert.equal(backendNote("polling"), null);
  assert.equal(backendNote("Systemd"), null);
  assert.equal(backendNote("systemd[journalflags=1, journalfiles=/x.journal]"), null);
  assert.match(
    backendNote("pyinotify")!,
    /"pyinotify" is not implemented by f2b: treated as "auto"/,
  );
  assert.match(backendNote("gamin")!, /"gamin" is not implemented/);
  assert.match(backendNote("polling[interval=5]")!, /options "interval" ignored/);
  assert.match(backendNote("systemd[journalpath=/j, bogus=1]")!, /option "bogus" ignored/);
});

Deno.test("backendNote refuses a backend fail2ban does not know either", () => {
  assert.throws(() => backendNote("inotify"), /unknown backend "inotify": must be one of "auto"/);
  assert.throws(() => backendNote("polling[x"), SyntaxError);
});

Deno.test("logEncodingProblem accepts Python codec names with a decoder, refuses others", () => {
  for (const ok of ["auto", "utf-8", "UTF_8", "latin-1", "iso8859-15", "cp1252", "ascii"]) {
    assert.equal(logEncodingProblem(ok), null, ok);
  }
  assert.match(logEncodingProblem("utf-16")!, /not supported/);
  assert.match(logEncodingProblem("utf-16le")!, /not supported/);
  assert.match(logEncodingProblem("klingon")!, /not an encoding f2b can decode/);
});

const SERVER: ServerSpec = {
  loglevel: "INFO",
  logtarget: "/var/log/fail2ban.log",
  syslogsocket: "auto",
  socket: "/run/f2b.sock",
  pidfile: "/run/f2b.pid",
  dbfile: ":memory:",
  dbpurgeage: 86400,
  dbmaxmatches: 10,
  allowipv6: "auto",
};

Deno.test("serverNotes names ignored fail2ban.conf options", () => {
  assert.deepEqual(serverNotes(SERVER, undefined), []);
  assert.deepEqual(serverNotes({ ...SERVER, allowipv6: "yes" }, ""), []);
  assert.deepEqual(
    serverNotes({ ...SERVER, logtarget: "SYSLOG[facility=AUTH, padding=0]" }, undefined),
    [],
  );
  const notes = serverNotes(
    { ...SERVER, allowipv6: "no", logtarget: "STDERR[format=x, maxsize=1]" },
    "0",
    (section, option) => ` (at ${section}/${option})`,
  );
  assert.equal(notes.length, 3);
  assert.match(notes[0]!, /\[Thread\] stacksize \(at Thread\/stacksize\): ignored/);
  assert.match(notes[1]!, /allowipv6 \(at Definition\/allowipv6\): "no" ignored/);
  assert.match(notes[2]!, /options "format", "maxsize" ignored/);
});

Deno.test("actionNotes names actions with an actionreload", () => {
  const action = (name: string, actionreload?: string): ActionSpec => ({
    name,
    kind: name,
    file: `/etc/fail2ban/action.d/${name}.conf`,
    commands: actionreload === undefined ? {} : { actionreload },
    properties: {},
    familyProperties: {},
    timeout: 60,
  });
  assert.deepEqual(actionNotes({ name: "sshd", actions: [action("a"), action("b", " ")] }), []);
  const notes = actionNotes({ name: "sshd", actions: [action("c", "reload-it")] });
  assert.equal(notes.length, 1);
  assert.match(
    notes[0]!,
    /Action "c" of jail "sshd" \(\/etc\/fail2ban\/action\.d\/c\.conf\): actionreload is not run/,
  );
});
