/**
 * Conformance with fail2ban's own sample corpus: every sample-bearing filter
 * of /etc/fail2ban runs over fail2ban's annotated sample logs (failJSON),
 * checked as fail2ban's tests/samplestestcase.py checks them (every regex
 * tried, match, host/id, time, captured fields, attempts) by the shared
 * check in tests/_failjson_check.ts.
 *
 * The samples assume TZ Europe/Zurich and now = 1124013600. The check runs
 * in a child process started with TZ=Europe/Zurich (V8 reads TZ at start);
 * run directly (`deno run -A tests/conformance_test.ts`) it prints the report.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  exists,
  F2B_CONFIG_DIR,
  F2B_SAMPLE_DIR,
  runInSampleZone,
  runSamples,
} from "./_failjson_check.ts";

/** Agreement reached so far (samples); the test fails if it drops below. */
const REACHED = 1381;

/** Result of the conformance run. */
interface Report {
  total: number;
  agree: number;
  filters: number;
  disagreements: string[];
}

/** Runs every sample; needs TZ=Europe/Zurich in this process. */
function runConformance(): Report {
  const names = [...Deno.readDirSync(F2B_SAMPLE_DIR)]
    .filter((e) => e.isFile && exists(`${F2B_CONFIG_DIR}/filter.d/${e.name}.conf`))
    .map((e) => e.name)
    .sort();
  const report: Report = { total: 0, agree: 0, filters: names.length, disagreements: [] };
  const options = { configDir: F2B_CONFIG_DIR, sampleDir: F2B_SAMPLE_DIR };
  for (const name of names) {
    try {
      const tally = runSamples(name, options, report.disagreements);
      report.total += tally.total;
      report.agree += tally.agree;
    } catch (e) {
      report.disagreements.push(`${name}: cannot read samples: ${(e as Error).message}`);
    }
  }
  return report;
}

function summary(r: Report): string {
  return `Agreement: ${r.agree}/${r.total} samples (${
    (100 * r.agree / r.total).toFixed(2)
  }%) in ${r.filters} filters`;
}

if (import.meta.main) {
  const r = runConformance();
  if (Deno.args.includes("--json")) console.log(JSON.stringify(r));
  else {
    for (const d of r.disagreements) console.log(d);
    console.log(summary(r));
  }
}

Deno.test({
  name: "fail2ban's sample corpus agrees with the filter engine (>= 99%)",
  ignore: !exists(F2B_SAMPLE_DIR) || !exists(`${F2B_CONFIG_DIR}/filter.d`),
  async fn() {
    const r = await runInSampleZone<Report>(import.meta.url);
    const pct = 100 * r.agree / r.total;
    console.log(summary(r));
    for (const d of r.disagreements) console.log(`  disagrees: ${d}`);
    assert.ok(pct >= 99, `agreement ${pct.toFixed(2)}% is below 99%`);
    assert.ok(
      r.agree >= REACHED,
      `agreement ${r.agree} dropped below the ${REACHED} samples reached`,
    );
  },
});

if (!exists(F2B_SAMPLE_DIR)) {
  console.log(`conformance: fail2ban sample corpus not found at ${F2B_SAMPLE_DIR}; skipped`);
}
