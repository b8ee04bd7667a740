/**
 * The worker's side of a split `f2b regex` read (see regex_parallel.ts):
 * builds the filter as the main thread did, brings its date detector and
 * filter state up to the start of its part, and counts each stretch between
 * checkpoints separately.
 *
 * @module
 */

import { DateDetector } from "../filter/date_detector.ts";
import { Filter } from "../filter/filter.ts";
import {
  forEachFileLine,
  isSkippedLine,
  lineCounter,
  newStats,
  Output,
  regexFilterOptions,
  type Stats,
} from "./regex.ts";
import type { RegexWorkerMessage, RegexWorkerStart } from "./regex_parallel.ts";

/** Reads the worker's part of the log and posts fingerprints, then the counts. */
export async function runRegexPart(
  s: RegexWorkerStart,
  post: (m: RegexWorkerMessage) => void,
): Promise<void> {
  const { opts, spec, now, path } = s;
  const enc = opts.encoding;
  const detector = new DateDetector(s.detector);
  const filter = new Filter(spec, regexFilterOptions(opts, spec, detector, s.useDns, true));
  // 1. the date detector alone over the lines before the uncounted ones: the filter
  //    hands it each line without its line end, as these are read
  await forEachFileLine(
    path,
    enc,
    (line) => {
      if (!isSkippedLine(line)) detector.match(line, now);
    },
    false,
    false,
    { start: 0, end: s.warmStart },
  );
  // 2. uncounted lines: the filter's own state
  const counter = (stats: Stats) =>
    lineCounter({
      opts,
      spec,
      filter,
      now,
      useDns: s.useDns,
      summary: true,
      fmt: null,
      out: new Output(() => {}),
      needPref: spec.prefregex !== null,
      prefRe: null,
      found: null,
      stats,
      maxPrint: s.maxPrint,
      probe: () => filter.twin(new DateDetector(s.detector)),
    });
  const keepLf = counter(newStats(spec)).keepLf;
  await forEachFileLine(
    path,
    enc,
    (line) => {
      if (!isSkippedLine(line)) filter.processLine(line, now);
    },
    false,
    keepLf,
    { start: s.warmStart, end: s.checkpoints[0]! },
  );
  // 3. the counted part, stretch by stretch
  const segments: Stats[] = [];
  for (let i = 0; i < s.checkpoints.length; i++) {
    post({ type: "fingerprint", index: i, fingerprint: filter.stateFingerprint() });
    const stats = newStats(spec);
    const end = s.checkpoints[i + 1] ?? Infinity;
    const segment = counter(stats);
    await forEachFileLine(path, enc, segment.onLine, false, keepLf, {
      start: s.checkpoints[i]!,
      end,
    });
    segment.finish();
    segments.push(stats);
  }
  post({ type: "done", segments, templateHits: detector.templateHits() });
}
