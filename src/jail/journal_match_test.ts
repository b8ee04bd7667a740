import assert from "node:assert/strict";
import {
  formatJournalMatch,
  journalMatchArgs,
  parseJournalMatch,
  shlexSplit,
} from "./journal_match.ts";

Deno.test("shlexSplit splits words as Python's shlex.split does", () => {
  assert.deepEqual(shlexSplit("  a  b\tc "), ["a", "b", "c"]);
  assert.deepEqual(shlexSplit(`"MESSAGE=a b" 'X=c d'`), ["MESSAGE=a b", "X=c d"]);
  assert.deepEqual(shlexSplit(`A="x\\"y" B='x\\y' C=x\\ y`), ['A=x"y', "B=x\\y", "C=x y"]);
  assert.deepEqual(shlexSplit(`A="\\x"`), ["A=\\x"]);
  assert.deepEqual(shlexSplit(`A= '' B`), ["A=", "", "B"]);
  assert.deepEqual(shlexSplit(`A=a"b c"d`), ["A=ab cd"]);
  assert.throws(() => shlexSplit(`A="x`), SyntaxError);
  assert.throws(() => shlexSplit(`A=x\\`), SyntaxError);
});

Deno.test("parseJournalMatch makes OR groups at + and on each line", () => {
  assert.deepEqual(parseJournalMatch(null), []);
  assert.deepEqual(parseJournalMatch("  \n"), []);
  assert.deepEqual(
    parseJournalMatch("_SYSTEMD_UNIT=sshd.service + _COMM=sshd"),
    [["_SYSTEMD_UNIT=sshd.service"], ["_COMM=sshd"]],
  );
  assert.deepEqual(
    parseJournalMatch('_SYSTEMD_UNIT=a.service _COMM=a\n\n_COMM=b + + "MESSAGE=x y" +'),
    [["_SYSTEMD_UNIT=a.service", "_COMM=a"], ["_COMM=b"], ["MESSAGE=x y"]],
  );
  // The Debian sshd filter's journalmatch.
  assert.deepEqual(
    parseJournalMatch("_SYSTEMD_UNIT=sshd.service + _COMM=sshd"),
    [["_SYSTEMD_UNIT=sshd.service"], ["_COMM=sshd"]],
  );
});

Deno.test("parseJournalMatch rejects words that are not FIELD=value", () => {
  for (const bad of ["sshd", "--output=cat", "/usr/bin/sshd", "__CURSOR=x", "_comm=x", "=x"]) {
    assert.throws(
      () => parseJournalMatch(`_COMM=a ${bad}`, 'jail "sshd" journalmatch'),
      (e: Error) => e instanceof SyntaxError && e.message.includes('jail "sshd" journalmatch'),
      bad,
    );
  }
  assert.throws(() => parseJournalMatch(`"_COMM=a`), /No closing quotation/);
});

Deno.test("journalMatchArgs joins groups with + and formatJournalMatch shows them", () => {
  const g = parseJournalMatch("A=1 B=2 + C=3");
  assert.deepEqual(journalMatchArgs(g), ["A=1", "B=2", "+", "C=3"]);
  assert.deepEqual(journalMatchArgs([]), []);
  assert.equal(formatJournalMatch(g), "A=1 B=2 + C=3");
});
