/**
 * A temporary configuration directory for the config reader tests.
 *
 * @module
 */

/**
 * Writes `files` (paths relative to a fresh temporary directory, parent
 * directories created) and runs `fn` on the directory, removed afterwards.
 */
export function withFiles(
  files: Record<string, string>,
  fn: (dir: string) => void,
  prefix = "f2b_cfg_",
): void {
  const dir = Deno.makeTempDirSync({ prefix });
  try {
    for (const [name, text] of Object.entries(files)) {
      const path = `${dir}/${name}`;
      Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      Deno.writeTextFileSync(path, text);
    }
    fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
