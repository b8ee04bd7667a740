import assert from "node:assert/strict";
import { type NumberedRegex, translatePythonRegex } from "./python_regex.ts";

function re(p: string, multiline = false): RegExp {
  const t = translatePythonRegex(p, "test", { multiline });
  return new RegExp(t.source, t.flags);
}

Deno.test("translatePythonRegex maps named groups and back-references", () => {
  const m = re("(?P<u>\\w+)-(?P=u)").exec("ab-ab");
  assert.equal(m?.groups?.u, "ab");
  assert.equal(re("(?P<u>\\w+)-(?P=u)$").test("ab-ac"), false);
  assert.equal(re("(a)(b)\\2\\1").test("abba"), true);
});

Deno.test("translatePythonRegex turns a leading (?i) into a flag and keeps scoped flags", () => {
  const t = translatePythonRegex("(?i)failed");
  assert.ok(t.flags.includes("i"));
  assert.equal(re("(?i)failed").test("FAILED"), true);
  assert.equal(re("a(?i:b)c").test("aBc"), true);
  assert.equal(re("a(?i:b)c").test("aBC"), false);
});

Deno.test("translatePythonRegex keeps Python's $, \\A, \\Z and dot semantics", () => {
  assert.equal(re("x$").test("x\n"), true);
  assert.equal(re("x$").test("x\ny"), false);
  assert.equal(re("x\\Z").test("x\n"), false);
  assert.equal(re("\\Ax").test("x"), true);
  assert.equal(re("a.b").test("a\rb"), true);
  assert.equal(re("a.b").test("a\nb"), false);
  assert.equal(re("^b$", true).test("a\nb\nc"), true);
  assert.equal(re("^b$").test("a\nb\nc"), false);
});

Deno.test("translatePythonRegex handles {,n}, []…], comments and Python escapes", () => {
  assert.equal(re("^a{,2}$").test("aa"), true);
  assert.equal(re("^a{,2}$").test("aaa"), false);
  assert.equal(re("^[]x]+$").test("]x]"), true);
  assert.equal(re("a(?#comment)b").test("ab"), true);
  assert.equal(re("\\x41\\101\\u0042").test("AAB"), true);
  assert.equal(re("a{x").test("a{x"), true);
});

Deno.test("translatePythonRegex makes \\d, \\w, \\s Unicode-aware like Python", () => {
  assert.equal(re("^\\d$").test("\u0663"), true); // Arabic-Indic three
  assert.equal(re("^\\w+$").test("Zürich"), true);
  assert.equal(re("^\\s$").test("\x1c"), true); // Python whitespace, not JS
  assert.equal(re("^\\s$").test("\ufeff"), false); // JS whitespace, not Python
  assert.equal(re("(?a)^\\w+$").test("Zürich"), false);
  assert.equal(re("\\bü").test(" ü"), true);
  assert.equal(re("[^\\W\\d]+").exec("12ab")?.[0], "ab");
});

Deno.test("translatePythonRegex expands conditionals exactly", () => {
  const r = re('^(?P<q>")?\\w+(?(q)"|!)$');
  assert.equal(r.test('"abc"'), true);
  assert.equal(r.test("abc!"), true);
  assert.equal(r.test('"abc!'), false);
  assert.equal(r.test('abc"'), false);
  // sshd.conf style: the group sits in an alternation inside another group
  const s = re("^for (?P<user>(?P<c>\\S+)|.*?) from (?P<h>\\S+)(?(c): |$)");
  assert.deepEqual({ ...s.exec("for bob from h1: x")?.groups }, { user: "bob", c: "bob", h: "h1" });
  assert.equal(s.exec("for a b from h2")?.groups?.user, "a b");
  assert.equal(s.test("for bob from h1 x"), false);
});

Deno.test("translatePythonRegex reports untranslatable patterns as SyntaxError naming the origin", () => {
  for (
    const p of ["(?>a)", "a++", "x(?i)y", "(?P<a>x)*(?(a)y)", "\\q", "(a", "a{3,1}", "\\N{DASH}"]
  ) {
    assert.throws(
      () => translatePythonRegex(p, "filter.d/x.conf failregex line 2"),
      (e: unknown) => {
        assert.ok(e instanceof SyntaxError);
        assert.match(e.message, /filter\.d\/x\.conf failregex line 2/);
        return true;
      },
    );
  }
});

Deno.test("translatePythonRegex finds a required literal and first characters", () => {
  const t = translatePythonRegex("^Failed (?:password|key) for (?P<u>\\S+) from ");
  assert.equal(t.required, "Failed ");
  assert.equal(t.firstChars?.ascii["F".charCodeAt(0)], 1);
  assert.equal(t.firstChars?.ascii["f".charCodeAt(0)], 0);
  assert.equal(translatePythonRegex("(?i)^Failed").required, "");
  assert.equal(translatePythonRegex("Failed").firstChars, null);
});

Deno.test("numbered and pruned forms find what the named pattern finds", () => {
  // sshd's conditional failregex, shortened: the branches needing ": " die on lines without it
  const p =
    "^Failed \\S+ for (?P<inv>invalid user )?(?P<user>(?P<cu>\\S+)|(?(inv)(?:(?! from ).)*?|[^:]+)) from (?P<ip>[\\d.]+)(?: port \\d+)?(?(cu): |(?:(?! from ).)*$)";
  const t = translatePythonRegex(p, "test");
  assert.ok(t.numbered !== null && t.pruned !== null);
  assert.ok(t.guards.includes(": "));
  const named = new RegExp(t.source, t.flags);
  const value = (m: RegExpExecArray, nums: number[] | undefined) => {
    for (const n of nums ?? []) if (m[n] !== undefined) return m[n];
    return undefined;
  };
  const lines = [
    "Failed password for invalid user bob from 192.0.2.1 port 22 ssh2\n",
    "Failed password for root from 192.0.2.1 port 22 ssh2\n",
    "Failed publickey for root from 192.0.2.1 port 22 ssh2: RSA x\n",
    "Failed password for invalid user a b from 192.0.2.1 port 22\n",
    "Failed none for from from 192.0.2.1\n",
  ];
  for (const line of lines) {
    let absent = 0;
    t.guards.forEach((g, i) => {
      if (!line.includes(g)) absent |= 1 << i;
    });
    const forms: NumberedRegex[] = [t.numbered!, t.pruned!(absent)];
    const want = named.exec(line);
    for (const f of forms) {
      const m: RegExpExecArray | null = new RegExp(f.source, t.flags).exec(line);
      assert.equal(m?.[0], want?.[0], line);
      if (m === null || want === null) continue;
      for (const name of ["inv", "user", "cu", "ip"]) {
        assert.equal(value(m, f.groups[name]), want.groups?.[name], `${name} in ${line}`);
      }
    }
  }
});
