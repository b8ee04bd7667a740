/**
 * The filter engine: fail2ban filters (Python regexes with fail2ban's tags)
 * compiled for JavaScript and applied to log lines ({@link Filter}), the date
 * detector that finds and parses each line's time ({@link DateDetector}), and
 * the failJSON sample reader.
 *
 * @module
 */

export type { DateMatch, FailureMatch, GaveUpRegex, LineResult } from "./types.ts";
export {
  type FirstChars,
  type NumberedRegex,
  type TranslatedRegex,
  type TranslateOptions,
  translatePythonRegex,
} from "./python_regex.ts";
export { expandTags, FAILURE_ID_GROUPS, FAILURE_ID_PRESENT, localizeFlags } from "./filter_tags.ts";
export { type DateDetectorLike, Filter, type FilterOptions } from "./filter.ts";
export { DateDetector, type DateDetectorOptions, type TemplateHits } from "./date_detector.ts";
export { BACKTRACK_LIMIT, boundedRegExp, regexBounded } from "./bounded_regex.ts";
export {
  evalCondition,
  type FailExpectation,
  type FailJsonCase,
  readFailJson,
  type SampleFileReader,
} from "./failjson.ts";
