/**
 * `bantime.formula` and the rest of `bantime.increment`: how long a repeat
 * offender is banned.
 *
 * fail2ban writes the formula as a Python expression, e.g.
 * `ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)`.
 * It is never run as code here: a small parser accepts the arithmetic subset
 * of Python such formulas use and evaluates it over numbers:
 *
 * - numbers (`600`, `1.5`, `1e3`, `0x10`, `1_000`), `True`, `False`;
 * - the names fail2ban offers: `ban.Time` (the configured ban time),
 *   `ban.Count` (earlier bans of the address), `banFactor` (`bantime.factor`),
 *   and `math.e`, `math.pi`, `math.inf`;
 * - `+ - * / // % **`, unary `+ - ~`, `<< >> & | ^`, comparisons (chained as
 *   in Python), `and`, `or`, `not`, `x if cond else y`, parentheses;
 * - `min`, `max`, `abs`, `float`, `int`, `round`, `pow`, `math.exp`,
 *   `math.log`, `math.log2`, `math.log10`, `math.pow`, `math.sqrt`,
 *   `math.floor`, `math.ceil`, `math.trunc`.
 *
 * Anything else is a SyntaxError naming the option when the formula is
 * compiled (at configuration time), not when a ban happens.
 *
 * @module
 */

import type { BanTimeIncrement } from "../config/types.ts";

/** fail2ban's default `bantime.formula`: the ban time doubles with each earlier ban (at most 2^20 times). */
export const DEFAULT_BANTIME_FORMULA =
  "ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor";

/** The values a formula can read. */
export interface FormulaVariables {
  /** `ban.Time`: the jail's configured ban time, seconds. */
  banTime: number;
  /** `ban.Count`: how many times the address was banned before. */
  banCount: number;
  /** `banFactor`: `bantime.factor`. */
  banFactor: number;
}

/** A compiled formula; throws an Error (RangeError, TypeError) where Python would raise. */
export type CompiledFormula = (vars: FormulaVariables) => number;

type Node = (v: FormulaVariables) => number;

interface Token {
  kind: "num" | "name" | "op" | "end";
  text: string;
  value: number;
  pos: number;
}

const KEYWORDS = new Set(["if", "else", "and", "or", "not", "True", "False"]);
const OPERATORS = [
  "**",
  "//",
  "<<",
  ">>",
  "<=",
  ">=",
  "==",
  "!=",
  "+",
  "-",
  "*",
  "/",
  "%",
  "&",
  "|",
  "^",
  "~",
  "<",
  ">",
  "(",
  ")",
  ",",
  ".",
];

function tokenize(text: string, fail: (pos: number, detail: string) => never): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
      continue;
    }
    const start = i;
    if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(text[i + 1] ?? ""))) {
      const m =
        /^(?:0[xX][0-9a-fA-F](?:_?[0-9a-fA-F])*|(?:[0-9](?:_?[0-9])*)?(?:\.(?:[0-9](?:_?[0-9])*)?)?(?:[eE][+-]?[0-9](?:_?[0-9])*)?)/
          .exec(text.slice(i));
      const lit = m?.[0] ?? "";
      if (lit === "" || /[A-Za-z_0-9]/.test(text[i + lit.length] ?? "")) {
        fail(start, "invalid number");
      }
      const clean = lit.replaceAll("_", "");
      if (/^0[0-9]+$/.test(clean) && !/^0+$/.test(clean)) {
        fail(start, `leading zeros in "${lit}" are not allowed`);
      }
      tokens.push({ kind: "num", text: lit, value: Number(clean), pos: start });
      i += lit.length;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < text.length && /[A-Za-z0-9_]/.test(text[j]!)) j++;
      tokens.push({ kind: "name", text: text.slice(i, j), value: 0, pos: start });
      i = j;
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (!op) fail(start, `unexpected "${c}"`);
    tokens.push({ kind: "op", text: op, value: 0, pos: start });
    i += op.length;
  }
  tokens.push({ kind: "end", text: "", value: 0, pos: text.length });
  return tokens;
}

const CONSTANTS: Record<string, number> = {
  "math.e": Math.E,
  "math.pi": Math.PI,
  "math.inf": Infinity,
  "math.tau": 2 * Math.PI,
};

const VARIABLES: Record<string, Node> = {
  "ban.Time": (v) => v.banTime,
  "ban.Count": (v) => v.banCount,
  "banFactor": (v) => v.banFactor,
};

function finite(name: string, x: number): number {
  if (!Number.isFinite(x)) throw new RangeError(`${name}: result out of range`);
  return x;
}

function domain(name: string, ok: boolean): void {
  if (!ok) throw new RangeError(`${name}: math domain error`);
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

interface FunctionSpec {
  min: number;
  max: number;
  fn: (args: number[]) => number;
}

const FUNCTIONS: Record<string, FunctionSpec> = {
  min: { min: 2, max: Infinity, fn: (a) => Math.min(...a) },
  max: { min: 2, max: Infinity, fn: (a) => Math.max(...a) },
  abs: { min: 1, max: 1, fn: (a) => Math.abs(a[0]!) },
  float: { min: 1, max: 1, fn: (a) => a[0]! },
  int: {
    min: 1,
    max: 1,
    fn: (a) => {
      if (!Number.isFinite(a[0]!)) throw new RangeError("int: cannot convert infinity");
      return Math.trunc(a[0]!);
    },
  },
  round: {
    min: 1,
    max: 2,
    fn: (a) => {
      const digits = a[1] ?? 0;
      const scale = 10 ** digits;
      return roundHalfEven(a[0]! * scale) / scale;
    },
  },
  pow: { min: 2, max: 2, fn: (a) => power(a[0]!, a[1]!) },
  "math.pow": { min: 2, max: 2, fn: (a) => power(a[0]!, a[1]!) },
  "math.exp": { min: 1, max: 1, fn: (a) => finite("math.exp", Math.exp(a[0]!)) },
  "math.log": {
    min: 1,
    max: 2,
    fn: (a) => {
      domain("math.log", a[0]! > 0 && (a[1] === undefined || (a[1] > 0 && a[1] !== 1)));
      return a[1] === undefined ? Math.log(a[0]!) : Math.log(a[0]!) / Math.log(a[1]);
    },
  },
  "math.log2": {
    min: 1,
    max: 1,
    fn: (a) => {
      domain("math.log2", a[0]! > 0);
      return Math.log2(a[0]!);
    },
  },
  "math.log10": {
    min: 1,
    max: 1,
    fn: (a) => {
      domain("math.log10", a[0]! > 0);
      return Math.log10(a[0]!);
    },
  },
  "math.sqrt": {
    min: 1,
    max: 1,
    fn: (a) => {
      domain("math.sqrt", a[0]! >= 0);
      return Math.sqrt(a[0]!);
    },
  },
  "math.floor": { min: 1, max: 1, fn: (a) => Math.floor(a[0]!) },
  "math.ceil": { min: 1, max: 1, fn: (a) => Math.ceil(a[0]!) },
  "math.trunc": { min: 1, max: 1, fn: (a) => Math.trunc(a[0]!) },
};

function power(x: number, y: number): number {
  if (x === 0 && y < 0) throw new RangeError("0.0 cannot be raised to a negative power");
  const r = x ** y;
  if (Number.isNaN(r)) throw new RangeError("math domain error");
  return finite("pow", r);
}

function integer(op: string, x: number): number {
  if (!Number.isInteger(x)) {
    throw new TypeError(`unsupported operand for ${op}: "${x}" is not an integer`);
  }
  return x;
}

function floorDiv(a: number, b: number): number {
  if (b === 0) throw new RangeError("division by zero");
  return Math.floor(a / b);
}

function modulo(a: number, b: number): number {
  if (b === 0) throw new RangeError("modulo by zero");
  const r = a % b;
  return r !== 0 && (r < 0) !== (b < 0) ? r + b : r;
}

/** Bitwise operations on integers of any size up to 2^53, as Python ints. */
function bitwise(op: string, a: number, b: number): number {
  const x = BigInt(integer(op, a));
  const y = BigInt(integer(op, b));
  let r: bigint;
  switch (op) {
    case "&":
      r = x & y;
      break;
    case "|":
      r = x | y;
      break;
    case "^":
      r = x ^ y;
      break;
    case "<<":
      if (y < 0n) throw new RangeError("negative shift count");
      if (y > 1023n) throw new RangeError("shift result out of range");
      r = x << y;
      break;
    default:
      if (y < 0n) throw new RangeError("negative shift count");
      r = x >> (y > 1100n ? 1100n : y);
  }
  return Number(r);
}

class Parser {
  #tokens: Token[];
  #index = 0;
  readonly #fail: (pos: number, detail: string) => never;
  readonly #allowVariables: boolean;

  constructor(
    tokens: Token[],
    fail: (pos: number, detail: string) => never,
    allowVariables: boolean,
  ) {
    this.#tokens = tokens;
    this.#fail = fail;
    this.#allowVariables = allowVariables;
  }

  get #peek(): Token {
    return this.#tokens[this.#index]!;
  }

  #isOp(text: string): boolean {
    const t = this.#peek;
    return t.kind === "op" && t.text === text;
  }

  #isKeyword(text: string): boolean {
    const t = this.#peek;
    return t.kind === "name" && t.text === text;
  }

  #next(): Token {
    return this.#tokens[this.#index++]!;
  }

  #expectOp(text: string): void {
    if (!this.#isOp(text)) this.#unexpected(`expected "${text}"`);
    this.#index++;
  }

  #unexpected(detail?: string): never {
    const t = this.#peek;
    const what = t.kind === "end" ? "unexpected end of formula" : `unexpected "${t.text}"`;
    return this.#fail(t.pos, detail ? `${what}, ${detail}` : what);
  }

  parseAll(): Node {
    const node = this.#ternary();
    if (this.#peek.kind !== "end") this.#unexpected();
    return node;
  }

  #ternary(): Node {
    const body = this.#or();
    if (!this.#isKeyword("if")) return body;
    this.#index++;
    const cond = this.#or();
    if (!this.#isKeyword("else")) this.#unexpected('expected "else"');
    this.#index++;
    const other = this.#ternary();
    return (v) => (cond(v) ? body(v) : other(v));
  }

  #or(): Node {
    let left = this.#and();
    while (this.#isKeyword("or")) {
      this.#index++;
      const a = left;
      const b = this.#and();
      left = (v) => a(v) || b(v);
    }
    return left;
  }

  #and(): Node {
    let left = this.#not();
    while (this.#isKeyword("and")) {
      this.#index++;
      const a = left;
      const b = this.#not();
      left = (v) => a(v) && b(v);
    }
    return left;
  }

  #not(): Node {
    if (this.#isKeyword("not")) {
      this.#index++;
      const a = this.#not();
      return (v) => (a(v) ? 0 : 1);
    }
    return this.#comparison();
  }

  #comparison(): Node {
    const first = this.#bitOr();
    const ops: string[] = [];
    const operands: Node[] = [first];
    while (
      this.#peek.kind === "op" && ["<", ">", "<=", ">=", "==", "!="].includes(this.#peek.text)
    ) {
      ops.push(this.#next().text);
      operands.push(this.#bitOr());
    }
    if (ops.length === 0) return first;
    return (v) => {
      let left = operands[0]!(v);
      for (let i = 0; i < ops.length; i++) {
        const right = operands[i + 1]!(v);
        if (!compare(ops[i]!, left, right)) return 0;
        left = right;
      }
      return 1;
    };
  }

  #binaryLevel(
    ops: string[],
    next: () => Node,
    apply: (op: string, a: number, b: number) => number,
  ): Node {
    let left = next();
    while (this.#peek.kind === "op" && ops.includes(this.#peek.text)) {
      const op = this.#next().text;
      const a = left;
      const b = next();
      left = (v) => apply(op, a(v), b(v));
    }
    return left;
  }

  #bitOr(): Node {
    return this.#binaryLevel(["|"], () => this.#bitXor(), bitwise);
  }

  #bitXor(): Node {
    return this.#binaryLevel(["^"], () => this.#bitAnd(), bitwise);
  }

  #bitAnd(): Node {
    return this.#binaryLevel(["&"], () => this.#shift(), bitwise);
  }

  #shift(): Node {
    return this.#binaryLevel(["<<", ">>"], () => this.#arith(), bitwise);
  }

  #arith(): Node {
    return this.#binaryLevel(
      ["+", "-"],
      () => this.#term(),
      (op, a, b) => (op === "+" ? a + b : a - b),
    );
  }

  #term(): Node {
    return this.#binaryLevel(["*", "/", "//", "%"], () => this.#factor(), (op, a, b) => {
      switch (op) {
        case "*":
          return a * b;
        case "/":
          if (b === 0) throw new RangeError("division by zero");
          return a / b;
        case "//":
          return floorDiv(a, b);
        default:
          return modulo(a, b);
      }
    });
  }

  #factor(): Node {
    if (this.#isOp("-") || this.#isOp("+") || this.#isOp("~")) {
      const op = this.#next().text;
      const a = this.#factor();
      if (op === "-") return (v) => -a(v);
      if (op === "+") return a;
      return (v) => -integer("~", a(v)) - 1;
    }
    return this.#power();
  }

  #power(): Node {
    const base = this.#primary();
    if (!this.#isOp("**")) return base;
    this.#index++;
    const exponent = this.#factor(); // right-associative, binds a unary minus on its right
    return (v) => power(base(v), exponent(v));
  }

  #primary(): Node {
    const t = this.#peek;
    if (t.kind === "num") {
      this.#index++;
      const value = t.value;
      return () => value;
    }
    if (this.#isOp("(")) {
      this.#index++;
      const inner = this.#ternary();
      this.#expectOp(")");
      return inner;
    }
    if (t.kind !== "name") this.#unexpected();
    if (t.text === "True" || t.text === "False") {
      this.#index++;
      const value = t.text === "True" ? 1 : 0;
      return () => value;
    }
    if (KEYWORDS.has(t.text)) this.#unexpected();
    this.#index++;
    let path = t.text;
    while (this.#isOp(".")) {
      this.#index++;
      const part = this.#next();
      if (part.kind !== "name") {
        this.#index--;
        this.#unexpected('expected a name after "."');
      }
      path += `.${part.text}`;
    }
    if (this.#isOp("(")) {
      const spec = FUNCTIONS[path];
      if (!spec) this.#fail(t.pos, `unknown function "${path}"`);
      this.#index++;
      const args: Node[] = [];
      if (!this.#isOp(")")) {
        for (;;) {
          args.push(this.#ternary());
          if (!this.#isOp(",")) break;
          this.#index++;
          if (this.#isOp(")")) break;
        }
      }
      this.#expectOp(")");
      if (args.length < spec.min || args.length > spec.max) {
        this.#fail(
          t.pos,
          `"${path}" takes ${
            spec.min === spec.max ? spec.min : `${spec.min} or more`
          } arguments, not ${args.length}`,
        );
      }
      const fn = spec.fn;
      return (v) => fn(args.map((a) => a(v)));
    }
    const constant = CONSTANTS[path];
    if (constant !== undefined) return () => constant;
    const variable = this.#allowVariables ? VARIABLES[path] : undefined;
    if (!variable) this.#fail(t.pos, `unknown name "${path}"`);
    return variable;
  }
}

function compare(op: string, a: number, b: number): boolean {
  switch (op) {
    case "<":
      return a < b;
    case ">":
      return a > b;
    case "<=":
      return a <= b;
    case ">=":
      return a >= b;
    case "==":
      return a === b;
    default:
      return a !== b;
  }
}

function parse(text: string, option: string, allowVariables: boolean): Node {
  const fail = (pos: number, detail: string): never => {
    throw new SyntaxError(`Invalid ${option} "${text}": ${detail} at column ${pos + 1}`);
  };
  if (text.trim() === "") fail(0, "empty expression");
  return new Parser(tokenize(text, fail), fail, allowVariables).parseAll();
}

/**
 * Compiles a `bantime.formula`. Throws a SyntaxError naming `option` (for
 * example `jail.local [sshd] bantime.formula`) when it is not a formula this
 * evaluator understands.
 *
 * @example
 * ```ts
 * import { compileFormula } from "./bantime_formula.ts";
 * import assert from "node:assert/strict";
 * const f = compileFormula("ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor");
 * assert.equal(f({ banTime: 600, banCount: 3, banFactor: 1 }), 4800);
 * ```
 */
export function compileFormula(text: string, option = "bantime.formula"): CompiledFormula {
  const node = parse(text, option, true);
  return (vars) => {
    const r = node(vars);
    if (Number.isNaN(r)) throw new RangeError(`${option}: result is not a number`);
    return r;
  };
}

/** Evaluates a constant expression without ban variables (fail2ban evaluates `bantime.factor` this way). */
export function evaluateConstant(text: string, option = "bantime.factor"): number {
  const node = parse(text, option, false);
  try {
    return node({ banTime: 0, banCount: 0, banFactor: 0 });
  } catch (e) {
    throw new SyntaxError(`Invalid ${option} "${text}": ${(e as Error).message}`);
  }
}

/** Computes the ban time of an address from its ban history: fail2ban's `evformula`. */
export type BanTimeCalculator = (banTime: number, banCount: number) => number;

/**
 * Builds the ban time calculator of `bantime.increment` options, as fail2ban
 * composes it: with `bantime.multipliers`, `banTime * factor *
 * multipliers[min(count, last)]`; otherwise `max(banTime, formula)` with the
 * formula (default {@link DEFAULT_BANTIME_FORMULA}); then capped at
 * `bantime.maxtime`, then plus `random() * bantime.rndtime`.
 * Compiling the formula can throw a SyntaxError naming `option`.
 */
export function makeBanTimeCalculator(
  increment: BanTimeIncrement,
  random: () => number = Math.random,
  option = "bantime.formula",
): BanTimeCalculator {
  const factor = increment.factor;
  const multipliers = increment.multipliers;
  let calc: BanTimeCalculator;
  if (multipliers.length > 0) {
    calc = (banTime, banCount) =>
      banTime * factor *
      multipliers[banCount < multipliers.length ? banCount : multipliers.length - 1]!;
  } else {
    const formula = compileFormula(increment.formula ?? DEFAULT_BANTIME_FORMULA, option);
    calc = (banTime, banCount) =>
      Math.max(banTime, formula({ banTime, banCount, banFactor: factor }));
  }
  const maxtime = increment.maxtime;
  if (maxtime !== null) {
    const inner = calc;
    calc = (banTime, banCount) => Math.min(inner(banTime, banCount), maxtime);
  }
  const rndtime = increment.rndtime;
  if (rndtime !== null) {
    const inner = calc;
    calc = (banTime, banCount) => inner(banTime, banCount) + random() * rndtime;
  }
  return calc;
}
