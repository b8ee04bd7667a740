/**
 * The shipped filters (config/filter.d) against their samples: one table
 * test runs every filter that has a sample file in tests/testdata/logs
 * (failJSON, checked like fail2ban's sample test: match, host, captured
 * fields, attempts, time; the shared check in tests/_failjson_check.ts),
 * and, for each shipped filter named like one of fail2ban's, measures
 * agreement on match and host with fail2ban 1.0.2's own sample file of that
 * name (target: at least 95% per filter).
 *
 * The samples assume TZ Europe/Zurich and now = 1124013600; the check runs
 * in a child process started with TZ=Europe/Zurich (V8 reads TZ at start).
 * Run directly (`deno run -A tests/shipped_filters_test.ts`) it prints the
 * report.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  exists,
  F2B_SAMPLE_DIR,
  runInSampleZone,
  runSamples,
  type SampleTally,
} from "./_failjson_check.ts";

const CONFIG_DIR = new URL("../config", import.meta.url).pathname;
const SAMPLE_DIR = new URL("./testdata/logs", import.meta.url).pathname;
const TARGET = 95;

/**
 * Filters allowed below the target, with the figure they must keep and why.
 * pam-generic: fail2ban's sample "ruser= rhost=A user=test rhost=B" expects
 * A (a forged rhost in user=), but a vsftpd client that types the name
 * " rhost=A user=test" from B writes the same line, and fail2ban 1.0.2 then
 * bans A (see tests/testdata/logs/pam-generic); f2b bans neither
 * (SECURITY.md #1: the real source or nothing).
 */
const BELOW_TARGET: Record<string, { min: number; why: string }> = {
  "pam-generic": {
    min: 88.8,
    why: "two rhost= that could each be the real field: ambiguous, nothing banned",
  },
};

/** Per-filter outcome. */
interface FilterRow {
  name: string;
  own: SampleTally;
  f2b: SampleTally | null;
}

/** Result of the whole run. */
interface Report {
  rows: FilterRow[];
  problems: string[];
  f2bProblems: string[];
}

/** Names of the shipped filters (config/filter.d/*.conf that are not include files). */
export function shippedFilterNames(): string[] {
  return [...Deno.readDirSync(`${CONFIG_DIR}/filter.d`)]
    .filter((e) => e.isFile && e.name.endsWith(".conf"))
    .map((e) => e.name.slice(0, -5))
    .filter((n) => !/^common$|-common$/.test(n))
    .sort();
}

function run(): Report {
  const report: Report = { rows: [], problems: [], f2bProblems: [] };
  for (const name of shippedFilterNames()) {
    const row: FilterRow = { name, own: { total: 0, agree: 0 }, f2b: null };
    if (exists(`${SAMPLE_DIR}/${name}`)) {
      row.own = runSamples(name, { configDir: CONFIG_DIR, sampleDir: SAMPLE_DIR }, report.problems);
    } else report.problems.push(`${name}: no sample file tests/testdata/logs/${name}`);
    if (exists(`${F2B_SAMPLE_DIR}/${name}`)) {
      row.f2b = runSamples(
        name,
        { configDir: CONFIG_DIR, sampleDir: F2B_SAMPLE_DIR, depth: "host" },
        report.f2bProblems,
      );
    }
    report.rows.push(row);
  }
  return report;
}

function pct(x: SampleTally): number {
  return x.total === 0 ? 100 : 100 * x.agree / x.total;
}

function table(r: Report): string {
  const lines = ["filter                own samples    fail2ban 1.0.2 samples (match+host)"];
  for (const row of r.rows) {
    const own = `${row.own.agree}/${row.own.total}`.padEnd(14);
    const f2b = row.f2b
      ? `${row.f2b.agree}/${row.f2b.total} (${pct(row.f2b).toFixed(1)}%)`
      : "(no fail2ban sample)";
    lines.push(`${row.name.padEnd(22)}${own} ${f2b}`);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const r = run();
  if (Deno.args.includes("--json")) console.log(JSON.stringify(r));
  else {
    for (const p of r.problems) console.log(`own sample: ${p}`);
    for (const p of r.f2bProblems) console.log(`fail2ban sample: ${p}`);
    console.log(table(r));
  }
}

Deno.test({
  name: "shipped filters pass their own samples and agree with fail2ban's samples (>= 95%)",
  async fn() {
    const r = await runInSampleZone<Report>(import.meta.url);
    console.log(table(r));
    for (const p of r.f2bProblems) console.log(`  disagrees with fail2ban's sample: ${p}`);
    assert.ok(r.rows.length >= 30, `only ${r.rows.length} shipped filters`);
    assert.deepEqual(r.problems, [], "own samples must all pass");
    for (const row of r.rows) {
      if (!row.f2b) continue;
      const p = pct(row.f2b);
      const allowed = BELOW_TARGET[row.name];
      const min = allowed ? allowed.min : TARGET;
      assert.ok(p >= min, `${row.name}: ${p.toFixed(1)}% of fail2ban's samples agree (< ${min}%)`);
    }
  },
});
