/**
 * Lint of the shipped filters (config/filter.d): every filter loads and
 * compiles in each of its modes; no greedy catch-all (`.*`, `.+`, `.{n,}`)
 * stands before the host group unless the regex is anchored at its end
 * (SECURITY.md #2); every failregex is exercised by a line of the filter's
 * sample file (tests/testdata/logs).
 *
 * @module
 */

import assert from "node:assert/strict";
import { readFilter } from "../src/config/filter_reader.ts";
import type { FilterSpec } from "../src/config/types.ts";
import { DateDetector } from "../src/filter/date_detector.ts";
import { readFailJson } from "../src/filter/failjson.ts";
import { Filter } from "../src/filter/filter.ts";

const CONFIG_DIR = new URL("../config", import.meta.url).pathname;
const SAMPLE_DIR = new URL("./testdata/logs", import.meta.url).pathname;
const NOW = 1124013600;

/** The modes each filter offers ([Init] mode); other filters have none. */
const MODES: Record<string, string[]> = {
  sshd: ["normal", "ddos", "extra", "aggressive"],
  postfix: ["more", "normal", "rbl", "auth", "errors", "ddos", "aggressive"],
  "apache-auth": ["normal", "aggressive"],
  dovecot: ["normal", "aggressive"],
  exim: ["normal", "aggressive"],
  "nginx-http-auth": ["normal", "auth", "fallback", "aggressive"],
};

const HOST_TAGS = /<(?:HOST|ADDR|IP4|IP6|DNS|CIDR|SUBNET)>/;

function filterNames(): string[] {
  return [...Deno.readDirSync(`${CONFIG_DIR}/filter.d`)]
    .filter((e) => e.isFile && e.name.endsWith(".conf"))
    .map((e) => e.name.slice(0, -5))
    .filter((n) => !/^common$|-common$/.test(n))
    .sort();
}

function specsOf(name: string): FilterSpec[] {
  const modes = MODES[name];
  if (!modes) return [readFilter(CONFIG_DIR, name)];
  return modes.map((mode) => readFilter(CONFIG_DIR, { name, options: { mode } }));
}

/**
 * True when `pattern` has a greedy catch-all before its first host tag and
 * is not anchored at its end. Escapes and character classes are skipped, so
 * `\.*` or `[.]*` are not catch-alls; `.*?` and `.+?` are lazy.
 */
export function greedyBeforeHost(pattern: string): boolean {
  const host = pattern.search(HOST_TAGS);
  if (host < 0) return false;
  if (/(?<!\\)\$$/.test(pattern)) return false;
  let inClass = false;
  for (let i = 0; i < host; i++) {
    const ch = pattern[i];
    if (ch === "\\") {
      i++;
      continue;
    }
    if (inClass) {
      if (ch === "]") inClass = false;
      continue;
    }
    if (ch === "[") {
      inClass = true;
      if (pattern[i + 1] === "]") i++;
      continue;
    }
    if (ch !== ".") continue;
    const q = pattern[i + 1];
    const lazyAt = (j: number) => pattern[j] === "?";
    if ((q === "*" || q === "+") && !lazyAt(i + 2)) return true;
    if (q === "{") {
      const m = /^\{\d*,\d*\}/.exec(pattern.slice(i + 1));
      if (m && /,\}$/.test(m[0]) && !lazyAt(i + 1 + m[0].length)) return true;
    }
  }
  return false;
}

Deno.test("lint helper flags greedy catch-alls before the host only when not end-anchored", () => {
  assert.equal(greedyBeforeHost("^x .* from <HOST> port"), true);
  assert.equal(greedyBeforeHost("^x .+ from <HOST> port \\d+$"), false);
  assert.equal(greedyBeforeHost("^x .*? from <HOST> port"), false);
  assert.equal(greedyBeforeHost("^x \\.* [.]* from <HOST>"), false);
  assert.equal(greedyBeforeHost("^x .{2,} from <HOST>"), true);
  assert.equal(greedyBeforeHost("^<HOST> .*"), false);
});

Deno.test("every shipped filter loads and compiles in each mode", () => {
  const names = filterNames();
  assert.ok(names.length >= 30, `only ${names.length} filters`);
  for (const name of names) {
    for (const spec of specsOf(name)) {
      assert.ok(spec.failregex.length > 0, `${name}: no failregex`);
      new Filter(spec, { dateDetector: new DateDetector({ datepattern: spec.datepattern }) });
    }
  }
});

Deno.test("no shipped failregex has a greedy catch-all before the host unless end-anchored", () => {
  const bad: string[] = [];
  for (const name of filterNames()) {
    for (const spec of specsOf(name)) {
      const sources = [...spec.failregex];
      if (spec.prefregex) sources.push(spec.prefregex);
      for (const r of sources) {
        if (greedyBeforeHost(r.pattern)) bad.push(`${name}: ${r.origin}: ${r.pattern}`);
      }
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("every shipped failregex is exercised by a sample line", () => {
  const missing: string[] = [];
  for (const name of filterNames()) {
    const cases = readFailJson(name, (n) => Deno.readTextFileSync(`${SAMPLE_DIR}/${n}`));
    const used = new Set<string>();
    const filters = new Map<string, { flt: Filter; spec: FilterSpec }>();
    for (const c of cases) {
      let entry = filters.get(c.filterName);
      if (!entry) {
        const spec = readFilter(CONFIG_DIR, { name, options: c.filterOptions });
        const flt = new Filter(spec, {
          dateDetector: new DateDetector({ datepattern: spec.datepattern }),
          checkAllRegex: true,
        });
        entry = { flt, spec };
        filters.set(c.filterName, entry);
      }
      const r = c.journal
        ? entry.flt.processLine(c.line, NOW, NOW)
        : entry.flt.processLine(c.line, NOW);
      for (const i of r.matchedRegexes) used.add(entry.spec.failregex[i]!.pattern);
    }
    for (const spec of specsOf(name)) {
      for (const r of spec.failregex) {
        if (!used.has(r.pattern)) missing.push(`${name} (${r.origin}): ${r.pattern}`);
      }
    }
  }
  assert.deepEqual(missing, [], "failregexes without a sample line");
});
