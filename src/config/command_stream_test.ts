import assert from "node:assert/strict";
import {
  configToCommands,
  dumpConfig,
  formatCommand,
  formatCommandPretty,
  jailToCommands,
  pythonGlob,
  pythonRepr,
  shlexSplit,
} from "./command_stream.ts";
import type { JailSpec } from "./types.ts";
import { testFilterSpec, testJailSpec } from "../../tests/_jail_spec.ts";

Deno.test("pythonRepr quotes and escapes strings as Python's repr", () => {
  assert.equal(pythonRepr("it's"), `"it's"`);
  assert.equal(pythonRepr('say "hi"'), `'say "hi"'`);
  assert.equal(pythonRepr("both ' and \""), `'both \\' and "'`);
  assert.equal(pythonRepr("tab\there\nnl\\"), "'tab\\there\\nnl\\\\'");
  assert.equal(
    pythonRepr("é☃\u200b\x85\xa0\x7f\x01"),
    "'é☃\\u200b\\x85\\xa0\\x7f\\x01'",
  );
  assert.equal(pythonRepr("\u{1F600}\u{E0001}"), "'\u{1F600}\\U000e0001'");
  assert.equal(
    formatCommand(["set", "j", "x", true, null, 5, false, { stacksize: 64 }]),
    "['set', 'j', 'x', True, None, 5, False, {'stacksize': 64}]",
  );
});

Deno.test("formatCommandPretty splits long commands as pprint(width=1000, indent=2)", () => {
  assert.equal(formatCommandPretty(["start", "sshd"]), "['start', 'sshd']");
  const a = "a".repeat(600);
  const b = "b".repeat(500);
  assert.equal(
    formatCommandPretty(["multi-set", "j", "addfailregex", [a, b]]),
    `[ 'multi-set',\n  'j',\n  'addfailregex',\n  [ '${a}',\n    '${b}']]`,
  );
  const long = "word ".repeat(250) + "x\nline two ".repeat(3);
  const text = formatCommandPretty(["set", "j", "action", "a", "actionban", long]);
  const lines = text.split("\n");
  assert.equal(lines[0], "[ 'set',");
  assert.equal(lines[5], `  '${"word ".repeat(199)}'`);
  assert.equal(lines[6], `  '${"word ".repeat(51)}x\\n'`);
  assert.equal(lines[7], "  'line two x\\n'");
  assert.equal(lines[8], "  'line two x\\n'");
  assert.equal(lines[9], "  'line two ']");
});

Deno.test("shlexSplit follows Python's shlex.split", () => {
  assert.deepEqual(shlexSplit(String.raw`a\ b "c \" d" 'e f'g h\x`), [
    "a b",
    'c " d',
    "e fg",
    "hx",
  ]);
  assert.deepEqual(shlexSplit("_SYSTEMD_UNIT=sshd.service + _COMM=sshd"), [
    "_SYSTEMD_UNIT=sshd.service",
    "+",
    "_COMM=sshd",
  ]);
  assert.throws(() => shlexSplit("'open"), SyntaxError);
});

Deno.test("pythonGlob matches like Python's glob (hidden files need a dot pattern)", () => {
  const dir = Deno.makeTempDirSync({ prefix: "f2b_glob_" });
  try {
    for (const f of ["a.log", "b.log", ".h.log", "a.log.1", "c.txt"]) {
      Deno.writeTextFileSync(`${dir}/${f}`, "");
    }
    Deno.mkdirSync(`${dir}/sub1`);
    Deno.writeTextFileSync(`${dir}/sub1/x.log`, "");
    assert.deepEqual(pythonGlob(`${dir}/*.log`).sort(), [`${dir}/a.log`, `${dir}/b.log`]);
    assert.deepEqual(pythonGlob(`${dir}/.*.log`), [`${dir}/.h.log`]);
    assert.deepEqual(pythonGlob(`${dir}/[ab].log`).sort(), [`${dir}/a.log`, `${dir}/b.log`]);
    assert.deepEqual(pythonGlob(`${dir}/[!a].log`), [`${dir}/b.log`]);
    assert.deepEqual(pythonGlob(`${dir}/a.log.?`), [`${dir}/a.log.1`]);
    assert.deepEqual(pythonGlob(`${dir}/sub*/x.log`), [`${dir}/sub1/x.log`]);
    assert.deepEqual(pythonGlob(`${dir}/c.txt`), [`${dir}/c.txt`]);
    assert.deepEqual(pythonGlob(`${dir}/missing`), []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** A small configuration directory of our own, independent of an installed fail2ban. */
function writeConfig(dir: string): void {
  Deno.mkdirSync(`${dir}/filter.d`);
  Deno.mkdirSync(`${dir}/action.d`);
  Deno.writeTextFileSync(
    `${dir}/fail2ban.conf`,
    "[Definition]\nloglevel = INFO\nlogtarget = STDOUT\ndbfile = :memory:\ndbmaxmatches = 7\n",
  );
  Deno.writeTextFileSync(
    `${dir}/filter.d/demo.conf`,
    "[Definition]\nprefregex = ^pre <F-CONTENT>.+</F-CONTENT>$\n" +
      "failregex = ^bad login from <HOST>$\n    ^it's <HOST>\n" +
      "datepattern = {^LN-BEG}\njournalmatch = _COMM=demo\n",
  );
  Deno.writeTextFileSync(
    `${dir}/action.d/note.conf`,
    "[Definition]\nactionstart_on_demand = yes\nactionban = echo <ip> >> <file>\n" +
      "actionunban = true\n[Init]\nfile = /tmp/<name>.bans\n[Init?family=inet6]\nfile = /tmp/<name>6\n",
  );
  Deno.writeTextFileSync(
    `${dir}/jail.conf`,
    "[DEFAULT]\nbantime = 1h\nfindtime = 10m\nmaxretry = 4\nusedns = no\n\n" +
      `[demo]\nenabled = true\nfilter = demo\nlogpath = ${dir}/demo.log\n  ${dir}/none-*.log tail\n` +
      "ignoreip = 127.0.0.1/8, ::1\naction = note[name=D]\n  helper.py[actname=h, x=1]\n\n" +
      "[off]\nfilter = demo\n\n[bad]\nenabled = true\nfilter = nosuch\n",
  );
  Deno.writeTextFileSync(`${dir}/demo.log`, "");
}

Deno.test("configToCommands streams server settings, jails, errors and starts in order", () => {
  const dir = Deno.makeTempDirSync({ prefix: "f2b_stream_" });
  try {
    writeConfig(dir);
    const warnings: string[] = [];
    const cmds = configToCommands(dir, { onWarning: (w) => warnings.push(w), loglevel: "DEBUG" });
    const note = [
      ["actionstart_on_demand", true],
      ["actionban", "echo <ip> >> <file>"],
      ["actionunban", "true"],
      ["name", "D"],
      ["actname", "note-D"],
      ["file", "/tmp/<name>.bans"],
      ["file?family=inet6", "/tmp/<name>6"],
    ];
    assert.deepEqual(cmds, [
      ["set", "syslogsocket", "auto"],
      ["set", "loglevel", "DEBUG"],
      ["set", "logtarget", "STDOUT"],
      ["set", "allowipv6", "auto"],
      ["set", "dbfile", ":memory:"],
      ["set", "dbmaxmatches", 7],
      ["set", "dbpurgeage", "1d"],
      ["add", "demo", "auto"],
      ["set", "demo", "usedns", "no"],
      ["set", "demo", "prefregex", "^pre <F-CONTENT>.+</F-CONTENT>$"],
      ["multi-set", "demo", "addfailregex", ["^bad login from <HOST>$", "^it's <HOST>"]],
      ["set", "demo", "datepattern", "{^LN-BEG}"],
      ["set", "demo", "addjournalmatch", "_COMM=demo"],
      ["set", "demo", "maxretry", 4],
      ["set", "demo", "findtime", "10m"],
      ["set", "demo", "bantime", "1h"],
      ["set", "demo", "addignoreip", "127.0.0.1/8", "::1"],
      ["set", "demo", "addlogpath", `${dir}/demo.log`, "head"],
      ["set", "demo", "addaction", "note-D"],
      ["multi-set", "demo", "action", "note-D", note],
      ["set", "demo", "addaction", "h", `${dir}/action.d/helper.py`, '{"x": "1"}'],
      [
        "config-error",
        "Jail 'bad' skipped, because of wrong configuration: Unable to read the filter 'nosuch'",
      ],
      ["start", "demo"],
    ]);
    assert.ok(warnings.includes(`No file(s) found for glob ${dir}/none-*.log`), warnings.join());
    const dump = dumpConfig(dir);
    assert.equal(dump.ok, true);
    assert.equal(dump.errors.length, 1);
    assert.equal(dump.lines[5], "['set', 'dbmaxmatches', 7]");
    assert.equal(
      dump.lines[10],
      `['multi-set', 'demo', 'addfailregex', ['^bad login from <HOST>$', "^it's <HOST>"]]`,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("jailToCommands works from a spec without the reader's stream record", () => {
  const spec: JailSpec = testJailSpec("j", {
    filter: testFilterSpec(),
    actions: [{
      name: "a",
      kind: "a",
      file: null,
      commands: { actionban: "x <ip>" },
      properties: {},
      familyProperties: {},
      timeout: 60,
    }],
    bantime: 60,
  });
  const warnings: string[] = [];
  const cmds = jailToCommands(spec, (w) => warnings.push(w));
  assert.deepEqual(cmds[0], ["add", "j", "polling"]);
  assert.deepEqual(cmds.at(-1), ["set", "j", "action", "a", "actionban", "x <ip>"]);
  assert.ok(cmds.some((c) => c[2] === "maxretry" && c[3] === 3));
  assert.deepEqual(warnings, []);
});
