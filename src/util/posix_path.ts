/**
 * The few POSIX path operations the jail workers need (`node:path` semantics), so a worker does
 * not load Deno's Node compatibility layer for them (several MiB of memory per worker).
 *
 * @module
 */

/** True for a path starting with `/`. */
export function isAbsolute(path: string): boolean {
  return path.startsWith("/");
}

/** `path` without `.`, empty and `..` segments (an absolute path) or as far as they resolve. */
export function normalize(path: string): string {
  const abs = isAbsolute(path);
  const out: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!abs) out.push("..");
      continue;
    }
    out.push(seg);
  }
  const joined = out.join("/");
  return abs ? `/${joined}` : joined || ".";
}

/** The absolute, normalized form of `path`, relative ones taken from the working directory. */
export function resolve(path: string): string {
  return normalize(isAbsolute(path) ? path : `${Deno.cwd()}/${path}`);
}

/**
 * The directory part of `path`, as `node:path`'s dirname: trailing slashes ignored, `.` for a
 * bare name, `/` for a child of the root.
 *
 * @example
 * ```ts
 * import { dirname } from "./posix_path.ts";
 * if (dirname("/var/log/auth.log") !== "/var/log" || dirname("/var/") !== "/") throw new Error();
 * ```
 */
export function dirname(path: string): string {
  if (path === "") return ".";
  const root = path.startsWith("/");
  // The slash before the last segment, trailing slashes ignored.
  let end = -1;
  let inTrailing = true;
  for (let i = path.length - 1; i >= 1; i--) {
    if (path[i] === "/") {
      if (!inTrailing) {
        end = i;
        break;
      }
    } else inTrailing = false;
  }
  if (end === -1) return root ? "/" : ".";
  if (root && end === 1) return "//";
  return path.slice(0, end);
}
