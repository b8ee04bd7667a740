import assert from "node:assert/strict";
import type { BanTimeIncrement } from "../config/types.ts";
import {
  compileFormula,
  DEFAULT_BANTIME_FORMULA,
  evaluateConstant,
  makeBanTimeCalculator,
} from "./bantime_formula.ts";

function evalConst(text: string): number {
  return compileFormula(text)({ banTime: 0, banCount: 0, banFactor: 1 });
}

const NO_INCREMENT: BanTimeIncrement = {
  enabled: true,
  factor: 1,
  formula: null,
  multipliers: [],
  maxtime: null,
  rndtime: null,
  overalljails: false,
};

Deno.test("compileFormula follows Python's operators and precedence", () => {
  const cases: [string, number][] = [
    ["-2**2", -4],
    ["2**-1", 0.5],
    ["2**3**2", 512],
    ["7//-2", -4],
    ["-7%3", 2],
    ["7%-3", -2],
    ["1<2<3", 1],
    ["3>2>2", 0],
    ["1 if 0 else 2", 2],
    ["0 or 5", 5],
    ["3 and 4", 4],
    ["not 3", 0],
    ["~5", -6],
    ["1_000 + 0x10", 1016],
    ["round(2.5) + round(3.5)", 6],
    ["int(-2.7)", -2],
    ["10/4", 2.5],
    ["1e3 + .5", 1000.5],
    ["1 << 40", 2 ** 40],
    ["(5 & 3) | (8 ^ 1) >> 1", 5],
    ["max(1, 7, 3) - min(4, 2)", 5],
    ["math.log(math.e) + math.log(8, 2) + math.pow(2, 3) + math.sqrt(16)", 16],
    ["True + True", 2],
    ["abs(-3) + float(2) + pow(2, 2)", 9],
  ];
  for (const [text, expected] of cases) assert.equal(evalConst(text), expected, text);
});

Deno.test("compileFormula computes fail2ban's documented formulas like Python", () => {
  const def = compileFormula(DEFAULT_BANTIME_FORMULA);
  assert.equal(def({ banTime: 600, banCount: 1, banFactor: 1 }), 1200);
  assert.equal(def({ banTime: 600, banCount: 3, banFactor: 1 }), 4800);
  assert.equal(def({ banTime: 600, banCount: 25, banFactor: 1 }), 629145600);
  assert.equal(def({ banTime: 600, banCount: 2, banFactor: 2 }), 4800);
  const exp = compileFormula(
    "ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)",
  );
  // Values printed by Python 3 for the same inputs.
  assert.ok(Math.abs(exp({ banTime: 600, banCount: 1, banFactor: 1 }) - 1630.9690970754273) < 1e-9);
  assert.ok(Math.abs(exp({ banTime: 600, banCount: 3, banFactor: 1 }) - 12051.3221539126) < 1e-8);
});

Deno.test("a bad formula is a SyntaxError naming the option", () => {
  const bad: [string, string][] = [
    [
      "ban.Time *",
      'Invalid jail.local [sshd] bantime.formula "ban.Time *": unexpected end of formula at column 11',
    ],
    [
      "ban.Tim * 2",
      'Invalid jail.local [sshd] bantime.formula "ban.Tim * 2": unknown name "ban.Tim" at column 1',
    ],
    [
      "__import__('os')",
      `Invalid jail.local [sshd] bantime.formula "__import__('os')": unexpected "'" at column 12`,
    ],
    [
      "os.system(1)",
      'Invalid jail.local [sshd] bantime.formula "os.system(1)": unknown function "os.system" at column 1',
    ],
    [
      "ban.Time if 1",
      'Invalid jail.local [sshd] bantime.formula "ban.Time if 1": unexpected end of formula, expected "else" at column 14',
    ],
    [
      "min(1)",
      'Invalid jail.local [sshd] bantime.formula "min(1)": "min" takes 2 or more arguments, not 1 at column 1',
    ],
    [
      "010",
      'Invalid jail.local [sshd] bantime.formula "010": leading zeros in "010" are not allowed at column 1',
    ],
    ["", 'Invalid jail.local [sshd] bantime.formula "": empty expression at column 1'],
    [
      "(1",
      'Invalid jail.local [sshd] bantime.formula "(1": unexpected end of formula, expected ")" at column 3',
    ],
    ["1 2", 'Invalid jail.local [sshd] bantime.formula "1 2": unexpected "2" at column 3'],
  ];
  for (const [text, message] of bad) {
    assert.throws(() => compileFormula(text, "jail.local [sshd] bantime.formula"), {
      name: "SyntaxError",
      message,
    }, text);
  }
});

Deno.test("formula errors at evaluation are thrown like Python raises", () => {
  assert.throws(() => evalConst("1/0"), RangeError);
  assert.throws(() => evalConst("1//0"), RangeError);
  assert.throws(() => evalConst("math.log(0)"), RangeError);
  assert.throws(() => evalConst("math.exp(1000)"), RangeError);
  assert.throws(() => evalConst("1 << 1.5"), TypeError);
  assert.throws(() => evalConst("1 << -1"), RangeError);
});

Deno.test("evaluateConstant reads bantime.factor without ban variables", () => {
  assert.equal(evaluateConstant("1.5"), 1.5);
  assert.equal(evaluateConstant("2**3"), 8);
  assert.throws(() => evaluateConstant("ban.Count"), SyntaxError);
  assert.throws(() => evaluateConstant("1/0"), SyntaxError);
});

Deno.test("makeBanTimeCalculator: formula result never below bantime", () => {
  const calc = makeBanTimeCalculator({ ...NO_INCREMENT, formula: "ban.Time / 2" });
  assert.equal(calc(600, 3), 600);
  const def = makeBanTimeCalculator({ ...NO_INCREMENT, factor: 2 });
  assert.equal(def(600, 1), 2400);
});

Deno.test("makeBanTimeCalculator: multipliers indexed by ban count, last one repeats", () => {
  const calc = makeBanTimeCalculator({ ...NO_INCREMENT, multipliers: [1, 5, 30, 60], factor: 2 });
  assert.equal(calc(60, 0), 120);
  assert.equal(calc(60, 1), 600);
  assert.equal(calc(60, 3), 7200);
  assert.equal(calc(60, 10), 7200);
  // Multipliers are not raised to bantime (fail2ban applies max() only to formulas).
  const low = makeBanTimeCalculator({ ...NO_INCREMENT, multipliers: [0.5] });
  assert.equal(low(60, 1), 30);
});

Deno.test("makeBanTimeCalculator: maxtime caps, then rndtime adds random seconds", () => {
  const capped = makeBanTimeCalculator({ ...NO_INCREMENT, maxtime: 3600 });
  assert.equal(capped(600, 1), 1200);
  assert.equal(capped(600, 5), 3600);
  const rnd = makeBanTimeCalculator({ ...NO_INCREMENT, maxtime: 3600, rndtime: 100 }, () => 0.25);
  assert.equal(rnd(600, 5), 3625);
});
