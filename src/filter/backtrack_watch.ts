/**
 * Finding the lines on which a regex ran into the backtrack limit.
 *
 * A regex that reaches {@link BACKTRACK_LIMIT} ends as "no match" and V8 says
 * nothing more, so a hostile line would go uncounted without a word. Such a
 * line is slow (from 0.15 ms for a simple nested quantifier to 40 ms for
 * fail2ban's grafana failregex) where ordinary lines take microseconds: the
 * callers notice it (the daemon times each line; the regex command, whose
 * speed is measured per line, times batches of {@link BATCH} lines and runs
 * a slow batch again, line by line, through a twin of its filter), then
 * `Filter.regexesGivenUp` names the regexes that gave up. Examining costs up
 * to a few times the limit per regex, so it has a time budget.
 *
 * @module
 */

import { BACKTRACK_LIMIT } from "./bounded_regex.ts";
import type { Filter } from "./filter.ts";
import type { GaveUpRegex } from "./types.ts";

/** A line slower than this (ms) is examined for regexes that gave up. */
export const SLOW_LINE_MS = 0.1;

/** Lines the regex command runs between two looks at the clock. */
const BATCH = 32;

/**
 * A batch this much slower than twice the usual (ms) is examined. Less would
 * catch the fastest limits reached (0.15 ms) too, but garbage collection
 * pauses a batch by as much dozens of times per 200,000 lines, and examining
 * them cost the regex command 4% of its time.
 */
const SLOW_BATCH_EXTRA_MS = 1;

/** Time the regex command spends examining slow lines at most (ms). */
const EXAMINE_BUDGET_MS = 2_000;

/** How a line and the regexes that gave up on it are reported. */
export function describeGaveUp(where: string, line: string, regexes: GaveUpRegex[]): string {
  const which = regexes.map((r) =>
    r.kind === "prefregex" ? `prefregex (${r.origin})` : `${r.kind} #${r.index + 1} (${r.origin})`
  ).join(", ");
  const text = line.endsWith("\n") ? line.slice(0, -1) : line;
  const shown = text.length > 120
    ? `${JSON.stringify(text.slice(0, 120))}… (${text.length} chars)`
    : JSON.stringify(text);
  return `${where}: ${which} gave up after ${BACKTRACK_LIMIT} backtracks, so the line counts as not matched: ${shown}`;
}

/**
 * Watches the regex command's lines for ones on which a regex gave up, at a
 * cost of one clock read per {@link BATCH} lines. A batch slower than the
 * usual by {@link SLOW_BATCH_EXTRA_MS} and more is run again, line by line and timed, through a twin of the
 * filter (`Filter.twin`: its own state, so the command's counts are
 * untouched), and its slow lines are examined. The first {@link BATCH} lines
 * have no usual time to compare with: they are timed one by one, and the slow
 * ones (a cold start makes some) are run through the twin at the end, warm.
 */
export class BacktrackWatch {
  readonly #makeProbe: () => Filter;
  readonly #now: number;
  readonly #report: (lineNo: number, line: string, regexes: GaveUpRegex[]) => void;
  readonly #lines: string[] = new Array(BATCH).fill("");
  readonly #numbers: number[] = new Array(BATCH).fill(0);
  #n = 0;
  #since = performance.now();
  /** Lines timed one by one so far (the first {@link BATCH}), and the slow ones. */
  #single = 0;
  readonly #earlyLines: string[] = [];
  readonly #earlyNumbers: number[] = [];
  /** Batches looked at so far (after the lines timed one by one). */
  #batches = 0;
  /** The usual time of a batch (ms), a moving average of the batches not examined. */
  #usual = 0;
  #probe: Filter | null = null;
  #spent = 0;
  /** Whether the time budget for examining was spent (later slow lines were not examined). */
  exhausted = false;

  /**
   * @param makeProbe builds the twin filter (only when some line was slow)
   * @param now the reference time the lines are processed with
   * @param report called for each line on which some regex gave up
   */
  constructor(
    makeProbe: () => Filter,
    now: number,
    report: (lineNo: number, line: string, regexes: GaveUpRegex[]) => void,
  ) {
    this.#makeProbe = makeProbe;
    this.#now = now;
    this.#report = report;
  }

  /** Notes a line the filter has just processed (timed from the last note, or from the start). */
  seen(line: string, lineNo: number): void {
    if (this.#single < BATCH) {
      this.#single++;
      const t = performance.now();
      if (t - this.#since >= SLOW_LINE_MS) {
        this.#earlyLines.push(line);
        this.#earlyNumbers.push(lineNo);
      }
      this.#since = t;
      return;
    }
    const i = this.#n;
    this.#lines[i] = line;
    this.#numbers[i] = lineNo;
    if (++this.#n === BATCH) this.#check();
  }

  /** Looks at the last lines and the slow first ones (call at the end of input). */
  finish(): void {
    if (this.#n > 0) this.#check();
    const early = this.#earlyLines.length;
    if (early > 0) this.#examine(this.#earlyLines, this.#earlyNumbers, early);
    this.#earlyLines.length = this.#earlyNumbers.length = 0;
  }

  #check(): void {
    const n = this.#n;
    this.#n = 0;
    const ms = performance.now() - this.#since;
    const usual = this.#usual;
    const batch = ++this.#batches;
    // the first batch sets the usual time; then a limit reached makes a batch
    // take twice the usual and more
    if (batch > 1 && ms > 2 * usual + SLOW_BATCH_EXTRA_MS) {
      this.#examine(this.#lines, this.#numbers, n);
    } else this.#usual = batch === 1 ? ms : usual * 0.9 + ms * 0.1;
    this.#since = performance.now();
  }

  /** Runs the first `n` lines through the twin, timed, and examines the slow ones. */
  #examine(lines: string[], numbers: number[], n: number): void {
    if (this.exhausted) return;
    const start = performance.now();
    const probe = this.#probe ??= this.#makeProbe();
    for (let i = 0; i < n; i++) {
      const line = lines[i]!;
      const t0 = performance.now();
      probe.processLine(line, this.#now);
      if (performance.now() - t0 < SLOW_LINE_MS) continue;
      if (this.#spent + (performance.now() - start) >= EXAMINE_BUDGET_MS) {
        this.exhausted = true;
        break;
      }
      const regexes = probe.regexesGivenUp();
      if (regexes.length > 0) this.#report(numbers[i]!, line, regexes);
    }
    this.#spent += performance.now() - start;
  }
}
