/**
 * Reader of fail2ban's annotated sample logs (the failJSON format): each
 * `# failJSON: {...}` comment describes the line after it, other lines must
 * not match; `# filterOptions: [...]` switches the option sets the following
 * lines run with, `# fileOptions: {...}` merges into every option set, and
 * `# addFILE: "name"` appends another sample file.
 *
 * @module
 */

/** Expected outcome of one sample line (the parsed failJSON object). */
export interface FailExpectation {
  /** Whether the line must produce a failure. */
  match?: boolean;
  /** Raw host text (or failure id). */
  host?: string;
  /** Local time `YYYY-MM-DDTHH:MM:SS[.ffffff]`. */
  time?: string;
  /** Free text. */
  desc?: string;
  /** Condition on the filter name and options, e.g. `opts.get('mode') == 'aggressive'`. */
  constraint?: string;
  /** Captured values (`user`, `users`, `attempts`, `dns` …). */
  [key: string]: unknown;
}

/** One sample line to run with one filter option set. */
export interface FailJsonCase {
  /** The filter under test, with options: `sshd` or `sshd{"mode":"aggressive"}`. */
  filterName: string;
  /** The filter's base name (sample file name it was started from). */
  filter: string;
  /** Filter options (the `test.*` harness keys removed). */
  filterOptions: Record<string, string>;
  /** The whole option set, `test.*` and `logtype` included. */
  options: Record<string, unknown>;
  /** Sample file and 1-based line number. */
  file: string;
  /** 1-based line number in `file`. */
  lineNo: number;
  /** The log line, line end removed (for `logtype: journal`, with `test.prefix-line` prepended). */
  line: string;
  /** The expectation; `{}` for a line without a failJSON comment. */
  expect: FailExpectation;
  /** True when the line has no date to parse (journal): its time is "now". */
  journal: boolean;
}

/** Reads a sample file by name (the caller decides the directory). */
export type SampleFileReader = (name: string) => string;

const DIRECTIVE_RE = /^#+ ?(failJSON|(?:file|filter)Options|addFILE):(.+)$/;

/** The filter name fail2ban's test derives from an option set (Python `str(dict)` of the options). */
function optionsName(opts: Record<string, unknown>): string {
  const keys = Object.keys(opts);
  if (keys.length === 0) return "";
  return "{" + keys.map((k) => `${pyRepr(k)}: ${pyRepr(opts[k])}`).join(", ") + "}";
}

function pyRepr(v: unknown): string {
  if (typeof v === "string") return `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  if (v === true) return "True";
  if (v === false) return "False";
  if (v === null) return "None";
  return String(v);
}

/**
 * Evaluates the small Python conditions used in samples (`name == 'sshd'`,
 * `opts.get('mode') != 'aggressive'`, joined by `and`/`or`).
 * @throws {SyntaxError} for any other expression
 */
export function evalCondition(
  expr: string,
  name: string,
  opts: Record<string, unknown>,
): boolean {
  const orParts = expr.split(/\s+or\s+/);
  return orParts.some((part) =>
    part.split(/\s+and\s+/).every((term) => {
      const m = /^\s*(name|opts\.get\(\s*'([^']*)'\s*\))\s*(==|!=)\s*'([^']*)'\s*$/.exec(term);
      if (!m) throw new SyntaxError(`Unsupported sample condition: "${expr}"`);
      const left = m[1] === "name" ? name : opts[m[2]!];
      return m[3] === "==" ? left === m[4] : left !== m[4];
    })
  );
}

/**
 * Reads the sample cases of filter `name`, starting from its sample file and
 * following `addFILE`, as fail2ban's own sample test walks them.
 *
 * @param name filter name (= first sample file name)
 * @param readFile reads a sample file by name
 * @throws {SyntaxError} on bad JSON, naming file and line
 */
export function readFailJson(name: string, readFile: SampleFileReader): FailJsonCase[] {
  const out: FailJsonCase[] = [];
  const files = [name];
  let common: Record<string, unknown> = {};
  let tests: { filterName: string; opts: Record<string, unknown> }[] | null = null;
  let ignoreBlock = false;
  for (let fi = 0; fi < files.length; fi++) {
    const file = files[fi]!;
    const lines = readFile(file).split("\n");
    if (lines.at(-1) === "") lines.pop();
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i]!;
      const lineNo0 = i + 1;
      let faildata: FailExpectation = {};
      const dm = DIRECTIVE_RE.exec(line.replace(/\r?$/, ""));
      if (dm) {
        let data: unknown;
        try {
          data = JSON.parse(dm[2]!);
        } catch (e) {
          throw new SyntaxError(`Bad JSON in sample ${file}:${lineNo0}: ${(e as Error).message}`);
        }
        if (dm[1] === "fileOptions") {
          common = data as Record<string, unknown>;
          continue;
        }
        if (dm[1] === "filterOptions") {
          tests = [];
          ignoreBlock = false;
          for (const fd of Array.isArray(data) ? data : [data]) {
            const opts = { ...common, ...(fd as Record<string, unknown>) };
            const cond = opts["test.condition"];
            if (typeof cond === "string" && cond) ignoreBlock = !evalCondition(cond, name, opts);
            if (!ignoreBlock) {
              const fltOpts = filterOptionsOf(opts);
              const fn = typeof opts["test.filter-name"] === "string"
                ? opts["test.filter-name"] as string
                : optionsName(fltOpts);
              tests.push({ filterName: name + fn, opts });
            }
          }
          continue;
        }
        if (dm[1] === "addFILE") {
          files.push(data as string);
          continue;
        }
        faildata = data as FailExpectation;
        i++;
        if (i >= lines.length) break;
        line = lines[i]!;
      } else if (ignoreBlock || line.startsWith("#") || line.trim() === "") {
        continue;
      }
      if (ignoreBlock) continue;
      if (tests === null) tests = [{ filterName: name, opts: {} }];
      line = line.replace(/[\r\n]+$/, "");
      for (const t of tests) {
        if (
          typeof faildata.constraint === "string" && faildata.constraint &&
          !evalCondition(faildata.constraint, name, t.opts)
        ) continue;
        const journal = t.opts.logtype === "journal";
        const prefix = journal && typeof t.opts["test.prefix-line"] === "string"
          ? t.opts["test.prefix-line"] as string
          : "";
        out.push({
          filterName: t.filterName,
          filter: name,
          filterOptions: filterOptionsOf(t.opts),
          options: t.opts,
          file,
          lineNo: i + 1,
          line: prefix + line,
          expect: faildata,
          journal,
        });
      }
    }
  }
  return out;
}

function filterOptionsOf(opts: Record<string, unknown>): Record<string, string> {
  const r: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts)) if (!k.startsWith("test.")) r[k] = String(v);
  return r;
}
