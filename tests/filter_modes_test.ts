/**
 * A filter without failure data (the lean form `f2b regex`'s summary runs:
 * one object shape, only the groups that decide a failure) finds exactly
 * what the full form finds: the same failures (id, host, time, regex, nofail),
 * ignored flags, matched regexes and prefregex answers, line by line, over
 * every fail2ban sample log with its /etc/fail2ban filter, in the regex
 * command's way (every regex tried, `<F-NOFAIL>` kept) and a jail's.
 *
 * @module
 */

import assert from "node:assert/strict";
import { readFilter } from "../src/config/filter_reader.ts";
import { DateDetector } from "../src/filter/date_detector.ts";
import { Filter, type FilterOptions } from "../src/filter/filter.ts";
import type { LineResult } from "../src/filter/types.ts";
import { exists, F2B_CONFIG_DIR, F2B_SAMPLE_DIR } from "./_failjson_check.ts";

const NOW = 1124013600;

/** What the lean form keeps of a line's result. */
function essence(r: LineResult): unknown {
  return {
    time: r.time,
    dateTemplate: r.dateTemplate,
    ignored: r.ignored,
    matched: [...r.matchedRegexes],
    failures: r.failures.map((f) => [f.fid, f.host, f.time, f.regexIndex, f.data.nofail ?? null]),
  };
}

const present = exists(F2B_SAMPLE_DIR) && exists(`${F2B_CONFIG_DIR}/filter.d/sshd.conf`);

Deno.test({
  name: "filter without failure data: the same results as with it, on every sample log",
  ignore: !present,
  fn() {
    const names = [...Deno.readDirSync(F2B_SAMPLE_DIR)]
      .filter((e) => e.isFile && exists(`${F2B_CONFIG_DIR}/filter.d/${e.name}.conf`))
      .map((e) => e.name)
      .sort();
    const ways: Omit<FilterOptions, "dateDetector" | "failureData">[] = [
      { checkAllRegex: true, keepNoFail: true },
      {},
    ];
    let lines = 0;
    for (const name of names) {
      const spec = readFilter(F2B_CONFIG_DIR, name);
      const text = Deno.readTextFileSync(`${F2B_SAMPLE_DIR}/${name}`).split("\n");
      for (const way of ways) {
        const make = (failureData: boolean) => {
          const dateDetector = new DateDetector({
            datepattern: spec.datepattern,
            logtimezone: spec.logtimezone,
          });
          return new Filter(spec, { ...way, dateDetector, failureData });
        };
        const full = make(true);
        const lean = make(false);
        for (const line of text) {
          if (line === "" || line.startsWith("#")) continue;
          const a = essence(full.processLine(line, NOW));
          const b = essence(lean.processLine(line, NOW));
          assert.deepEqual(b, a, `${name} ${JSON.stringify(way)}: ${line}`);
          assert.equal(lean.prefRegexMatches(), full.prefRegexMatches(), `${name}: ${line}`);
          lines++;
        }
      }
    }
    assert.ok(lines > 1000, `${lines} lines compared`);
  },
});
