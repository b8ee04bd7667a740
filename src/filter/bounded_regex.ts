/**
 * Regexes whose every match attempt ends in bounded time.
 *
 * V8 falls back to its linear-time engine on excessive backtracking
 * (`--enable-experimental-regexp-engine-on-excessive-backtracks`) only for
 * patterns that engine can run, and it cannot run patterns with the `u`/`v`
 * flag, `i` or lookaheads: every translated fail2ban regex has at least one
 * of those, so a catastrophic pattern on a hostile line would backtrack for
 * minutes. V8 can also give a regex a backtrack limit, after which the
 * attempt ends as "no match"; it is reachable through the V8 intrinsic
 * `%NewRegExpWithBacktrackLimit`, which needs the V8 flag
 * `--allow-natives-syntax` (the deno.json tasks and the compiled executable
 * set it; without it regexes are built unbounded, as `regexBounded()` says).
 * The intrinsic is only ever called from the fixed source below: regex text
 * from configuration reaches it as a string argument, never as code.
 *
 * @module
 */

/**
 * Backtracks one match attempt may take before it ends as "no match": about
 * 12 ms here. Ordinary log lines need a few hundred; only a hostile line
 * (or a badly written regex) comes near it.
 */
export const BACKTRACK_LIMIT = 500_000;

type Maker = (source: string, flags: string, limit: number) => RegExp;

let maker: Maker | null | undefined;

function boundedMaker(): Maker | null {
  if (maker === undefined) {
    try {
      const make = new Function(
        "source",
        "flags",
        "limit",
        "return %NewRegExpWithBacktrackLimit(source, flags, limit);",
      ) as Maker;
      maker = make("a", "", 1).test("a") ? make : null;
    } catch {
      // a SyntaxError without --allow-natives-syntax
      maker = null;
    }
  }
  return maker;
}

/** Whether {@link boundedRegExp} gives bounded regexes in this process (`--allow-natives-syntax` set). */
export function regexBounded(): boolean {
  return boundedMaker() !== null;
}

/**
 * Bounded regexes by flags and source, while some caller holds them. V8
 * shares the compiled code of `new RegExp` objects of equal source and flags
 * (its compilation cache), but not of regexes made by the intrinsic: without
 * this, every new date detector compiled its ~60 templates again (40–70 ms
 * on its first long line) and every reloaded filter its regexes.
 */
const shared = new Map<string, WeakRef<RegExp>>();
const forget = new FinalizationRegistry<string>((key) => {
  if (shared.get(key)?.deref() === undefined) shared.delete(key);
});

/**
 * `new RegExp(source, flags)`, with a backtrack limit when the process can
 * set one: a match attempt past {@link BACKTRACK_LIMIT} backtracks finds no match.
 * A bounded regex is shared by every caller asking for the same source and
 * flags, so a caller of a global or sticky one sets `lastIndex` before each
 * `exec`, never reads it after.
 * @throws {SyntaxError} for an invalid pattern, as `new RegExp` does.
 */
export function boundedRegExp(source: string, flags: string): RegExp {
  const make = boundedMaker();
  if (make === null) return new RegExp(source, flags);
  const key = `${flags}/${source}`;
  let re = shared.get(key)?.deref();
  if (re === undefined) {
    re = make(source, flags, BACKTRACK_LIMIT);
    shared.set(key, new WeakRef(re));
    forget.register(re, key);
  }
  return re;
}

/** How many times the backtrack limit a second look may take (see {@link ranIntoLimit}). */
const WIDER = 4;

/**
 * A regex that gave up took at least this long (ms): the limit is reached in
 * 0.15 ms by a simple nested quantifier, in 40 ms by fail2ban's grafana
 * failregex, whose every backtrack rescans text.
 */
const MIN_MS = 0.05;

/** More than compiling a regex takes (ms). */
const COMPILE_MS = 20;

/**
 * Whether `re.exec(text)` ends at the backtrack limit rather than on its own:
 * it finds no match in 0.05 ms or more, and the same regex with a 4 times
 * higher limit matches or takes more than 2.5 times as long. V8 gives no other
 * sign of the limit (the attempt just finds nothing), so this runs the regex
 * again (twice at its limit, twice at up to 4 times its limit): call it
 * only for a line that was slow, for a report. False without bounded regexes.
 */
export function ranIntoLimit(re: RegExp, text: string): boolean {
  const make = boundedMaker();
  if (make === null) return false;
  let own = Infinity;
  // twice: the first run may compile the regex (one that never ran before)
  for (let attempt = 0; attempt < 2 && own >= MIN_MS; attempt++) {
    const t0 = performance.now();
    if (re.exec(text) !== null) return false;
    own = Math.min(own, performance.now() - t0);
  }
  if (own < MIN_MS) return false;
  const wider = make(re.source, re.flags, BACKTRACK_LIMIT * WIDER);
  for (let attempt = 0; attempt < 2; attempt++) {
    const t1 = performance.now();
    if (wider.exec(text) !== null) return true;
    const ms = performance.now() - t1;
    if (ms <= 2.5 * own) return false;
    // the first attempt also compiled the regex (a few ms): a slow one tells
    // only when compiling cannot explain it, else a second one decides
    if (ms > 2.5 * own + COMPILE_MS) return true;
  }
  return true;
}
