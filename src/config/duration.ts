/**
 * Durations as fail2ban writes them (`bantime = 1h30m`), converted to seconds the way
 * fail2ban's `MyTime.str2seconds` does: unit words become multiplications, adjacent groups are
 * added, and the result is evaluated as an arithmetic expression (`1year-6mo`, `2*1h`).
 *
 * @module
 */

const PREP_RE = /(?<=[a-z])(\d)/gi;
const FINI_RE = /(\d)\s+(\d)/g;

function unit(alts: string): RegExp {
  return new RegExp(`(?<=[\\d\\s])(${alts})\\b`, "gi");
}

// Order matters: `m`/`mm` is minutes, so months are `mo`/`mon`/`month(s)`.
const UNITS: ReadonlyArray<[RegExp, string]> = [
  [unit("days?|da|dd?"), "*86400"],
  [unit("weeks?|wee?|ww?"), "*604800"],
  [unit("months?|mon?"), "*2629800.0"],
  [unit("years?|yea?|yy?"), "*31557600.0"],
  [unit("seconds?|sec?|ss?"), "*1"],
  [unit("minutes?|min?|mm?"), "*60"],
  [unit("hours?|hou?|hh?"), "*3600"],
];

/** A tiny evaluator for the arithmetic Python's eval would accept here. */
class Expr {
  readonly #s: string;
  #i = 0;
  constructor(s: string) {
    this.#s = s;
  }

  #ws(): void {
    while (this.#i < this.#s.length && /\s/.test(this.#s[this.#i]!)) this.#i++;
  }

  #peek(tok: string): boolean {
    this.#ws();
    return this.#s.startsWith(tok, this.#i);
  }

  #eat(tok: string): boolean {
    if (this.#peek(tok)) {
      this.#i += tok.length;
      return true;
    }
    return false;
  }

  parse(): number {
    const v = this.#sum();
    this.#ws();
    if (this.#i !== this.#s.length) throw new Error(`unexpected "${this.#s.slice(this.#i)}"`);
    return v;
  }

  #sum(): number {
    let v = this.#product();
    for (;;) {
      if (this.#eat("+")) v += this.#product();
      else if (this.#eat("-")) v -= this.#product();
      else return v;
    }
  }

  #product(): number {
    let v = this.#unary();
    for (;;) {
      if (this.#peek("**")) return v;
      if (this.#eat("*")) v *= this.#unary();
      else if (this.#eat("//")) v = Math.floor(v / this.#divisor(this.#unary()));
      else if (this.#eat("/")) v /= this.#divisor(this.#unary());
      else if (this.#eat("%")) {
        const d = this.#divisor(this.#unary());
        v = v - d * Math.floor(v / d);
      } else return v;
    }
  }

  #divisor(d: number): number {
    if (d === 0) throw new Error("division by zero");
    return d;
  }

  #unary(): number {
    if (this.#eat("-")) return -this.#unary();
    if (this.#eat("+")) return this.#unary();
    return this.#power();
  }

  #power(): number {
    const base = this.#atom();
    if (this.#eat("**")) return base ** this.#unary();
    return base;
  }

  #atom(): number {
    if (this.#eat("(")) {
      const v = this.#sum();
      if (!this.#eat(")")) throw new Error("missing )");
      return v;
    }
    this.#ws();
    const m = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(this.#s.slice(this.#i));
    if (!m) throw new Error(`unexpected "${this.#s.slice(this.#i) || "end"}"`);
    if (/^0\d/.test(m[0]) && /^\d+$/.test(m[0]) && !/^0+$/.test(m[0])) {
      throw new Error(`leading zeros in "${m[0]}"`);
    }
    this.#i += m[0].length;
    return Number(m[0]);
  }
}

/**
 * Converts a fail2ban duration to seconds, as `MyTime.str2seconds`.
 *
 * Accepts plain numbers (`600`, `-1`, `3600.5`), unit suffixes and words (`10m`, `1h30m`,
 * `1d`, `1w`, `1mo`, `1y`, `2 hours`, `30 minutes`), sums of space-separated groups
 * (`1h 30m`) and arithmetic (`1year-6mo`, `2*1h`). A month is a twelfth of 365.25 days.
 *
 * @throws {SyntaxError} naming the value when it is not a duration.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./duration.ts";
 * console.assert(parseDuration("1h30m") === 5400);
 * console.assert(parseDuration("1mo") === 2629800);
 * ```
 */
export function parseDuration(text: string): number {
  let v = text.replace(PREP_RE, " $1");
  for (const [re, rpl] of UNITS) v = v.replace(re, rpl);
  v = v.replace(FINI_RE, "$1+$2");
  let result: number;
  try {
    result = new Expr(v).parse();
  } catch (e) {
    throw new SyntaxError(
      `Invalid duration ${JSON.stringify(text)}: ${(e as Error).message} ` +
        `(use seconds or units like "10m", "1h30m", "1d", "1w", "1mo", "1y")`,
    );
  }
  if (!Number.isFinite(result)) {
    throw new SyntaxError(`Invalid duration ${JSON.stringify(text)}: not a finite number`);
  }
  return result;
}
