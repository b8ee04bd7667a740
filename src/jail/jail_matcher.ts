/**
 * The filter engine as a jail uses it: the compiled filter for lines, and a
 * date detector of its own for the start-position bisection.
 *
 * @module
 */

import type { JailSpec } from "../config/types.ts";
import { DateDetector } from "../filter/date_detector.ts";
import { Filter } from "../filter/filter.ts";
import type { JailMatcher } from "./jail_runner.ts";

/** Compiles the jail's filter; throws a SyntaxError naming a bad regex, datepattern or zone. */
export function createJailMatcher(spec: JailSpec): JailMatcher {
  const dateOptions = {
    datepattern: spec.filter.datepattern,
    logtimezone: spec.filter.logtimezone,
  };
  const detector = new DateDetector(dateOptions);
  const filter = new Filter(spec.filter, { dateDetector: detector, useDns: spec.usedns });
  // A separate detector, so probing far into a file does not disturb the filter's state.
  const probe = new DateDetector(dateOptions);
  // Templates compile on first use (~90 ms): pay that now, not on the first failure.
  detector.match("", 0);
  probe.match("", 0);
  return {
    processLine: (line, now, time) => filter.processLine(line, now, time),
    lineTime: (line, now) => probe.match(line, now)?.time ?? null,
    regexesGivenUp: () => filter.regexesGivenUp(),
  };
}
