import assert from "node:assert/strict";
import { expandTags, localizeFlags } from "./filter_tags.ts";
import { translatePythonRegex } from "./python_regex.ts";

function groups(p: string, s: string, useDns = "yes"): Record<string, string | undefined> | null {
  const t = translatePythonRegex(localizeFlags(expandTags(p, useDns)));
  const m = new RegExp(t.source, t.flags).exec(s);
  return m ? { ...m.groups } : null;
}

Deno.test("expandTags <HOST> captures IPv4, IPv6 or a host name in separate groups", () => {
  assert.equal(groups("from <HOST>$", "from 192.0.2.1")?.ip4, "192.0.2.1");
  assert.equal(groups("from <HOST>$", "from ::ffff:192.0.2.1")?.ip4, "192.0.2.1");
  assert.equal(groups("from <HOST>$", "from [2001:db8::1]")?.ip6, "2001:db8::1");
  assert.equal(groups("from <HOST>$", "from mail.example.com")?.dns, "mail.example.com");
  assert.equal(groups("from <HOST>$", "from mail.example.com", "no"), null);
});

Deno.test("expandTags maps <F-…> tags to groups and leaves unknown tags alone", () => {
  const g = groups(
    "user <F-USER>\\S+</F-USER> id <F-ID/> <ADDR>/<CIDR> <NOSRV>",
    "user bob id x7 10.0.0.1/24 <NOSRV>",
  );
  assert.equal(g?.user, "bob");
  assert.equal(g?.fid, "x7");
  assert.equal(g?.cidr, "24");
  assert.equal(groups("<F-ALT_USER1>\\w+</F-ALT_USER1> <IP4>", "al 1.2.3.4")?.alt_user1, "al");
  assert.equal(expandTags("a</F-USER>"), "a</F-USER>");
});

Deno.test("expandTags numbers <SKIPLINES> groups", () => {
  const e = expandTags("a<SKIPLINES>b<SKIPLINES>c");
  assert.ok(e.includes("(?P<skiplines0>") && e.includes("(?P<skiplines1>"));
});

Deno.test("localizeFlags turns ((?i)x|y) into a scoped flag group", () => {
  assert.equal(localizeFlags("SASL ((?i)LOGIN|PLAIN) x"), "SASL (?i:LOGIN|PLAIN) x");
  assert.equal(localizeFlags("(?:(?i)expn|vrfy)"), "(?i:expn|vrfy)");
  assert.equal(localizeFlags("(?i)start"), "(?i)start");
});
