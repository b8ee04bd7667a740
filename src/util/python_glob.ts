/**
 * Python's glob.glob (not recursive) and fnmatch, as fail2ban expands `logpath` and config
 * includes: `*`, `?` and `[…]` (`[!…]` negated) per path segment, names starting with a dot only
 * for patterns starting with one. Without `node:fs`, so jail workers can use it cheaply.
 *
 * @module
 */

/** Python's fnmatch pattern as an anchored RegExp. */
function fnmatchRegExp(pat: string): RegExp {
  let re = "";
  let i = 0;
  while (i < pat.length) {
    const c = pat[i++]!;
    if (c === "*") {
      if (!re.endsWith(".*")) re += ".*";
    } else if (c === "?") re += ".";
    else if (c === "[") {
      let j = i;
      if (j < pat.length && pat[j] === "!") j++;
      if (j < pat.length && pat[j] === "]") j++;
      while (j < pat.length && pat[j] !== "]") j++;
      if (j >= pat.length) re += "\\[";
      else {
        let stuff = pat.slice(i, j);
        i = j + 1;
        let neg = false;
        if (stuff.startsWith("!")) {
          neg = true;
          stuff = stuff.slice(1);
        }
        const body = [...stuff].map((ch) =>
          ch === "\\" || ch === "]" || ch === "[" || ch === "^" ? "\\" + ch : ch
        ).join("");
        re += `[${neg ? "^" : ""}${body}]`;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^(?:${re})$`, "s");
}

const MAGIC_RE = /[*?[]/;

function lexists(p: string): boolean {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return Deno.statSync(p).isDirectory;
  } catch {
    return false;
  }
}

/** Python's os.path.split. */
function splitPath(p: string): [string, string] {
  const i = p.lastIndexOf("/") + 1;
  let head = p.slice(0, i);
  const tail = p.slice(i);
  if (head && !/^\/+$/.test(head)) head = head.replace(/\/+$/, "");
  return [head, tail];
}

function joinPy(a: string, b: string): string {
  if (b.startsWith("/") || a === "") return b;
  return a.endsWith("/") ? a + b : `${a}/${b}`;
}

/** Python's glob.glob (not recursive), entries in directory order. */
export function pythonGlob(pattern: string, dirOnly = false): string[] {
  if (!MAGIC_RE.test(pattern)) {
    if (dirOnly ? isDir(pattern) : lexists(pattern)) return [pattern];
    return [];
  }
  const [dirname, basename] = splitPath(pattern);
  const dirs = !dirname
    ? [""]
    : dirname !== pattern && MAGIC_RE.test(dirname)
    ? pythonGlob(dirname, true)
    : [dirname];
  const out: string[] = [];
  for (const dir of dirs) {
    if (MAGIC_RE.test(basename)) {
      let names: string[];
      try {
        names = [...Deno.readDirSync(dir || ".")]
          .filter((e) => !dirOnly || e.isDirectory || (e.isSymlink && isDir(joinPy(dir, e.name))))
          .map((e) => e.name);
      } catch {
        names = [];
      }
      if (!basename.startsWith(".")) names = names.filter((n) => !n.startsWith("."));
      const re = fnmatchRegExp(basename);
      for (const n of names) if (re.test(n)) out.push(joinPy(dir, n));
    } else if (basename === "") {
      if (isDir(dir)) out.push(joinPy(dir, basename));
    } else if (dirOnly ? isDir(joinPy(dir, basename)) : lexists(joinPy(dir, basename))) {
      out.push(joinPy(dir, basename));
    }
  }
  return out;
}
