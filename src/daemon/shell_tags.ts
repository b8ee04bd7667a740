/**
 * Tag substitution for commands the daemon itself runs (ignorecommand): each
 * `<tag>` becomes a reference to an environment variable, quoted for the
 * shell context it sits in, so log-derived text is never parsed by the shell.
 *
 * @module
 */

/** A command with its tags turned into variable references, and the variables' values. */
export interface ShellCommand {
  /** The command text for `sh -c`. */
  command: string;
  /** Environment variables holding the tag values. */
  env: Record<string, string>;
}

const TAG = /<([A-Za-z][\w-]*)>/g;

/**
 * Replaces `<name>` tags found in `values` by quoted references to environment
 * variables `F2B_TAG_<n>`; tags without a value are left as written.
 *
 * @example
 * ```ts
 * import { substituteShellTags } from "./shell_tags.ts";
 * const r = substituteShellTags("check <ip> '<F-USER>'", { ip: "192.0.2.1", "F-USER": "$(x)" });
 * if (r.command !== `check "\${F2B_TAG_0}" ''"\${F2B_TAG_1}"''`) throw new Error(r.command);
 * if (r.env.F2B_TAG_1 !== "$(x)") throw new Error();
 * ```
 */
export function substituteShellTags(
  template: string,
  values: Record<string, string>,
): ShellCommand {
  const env: Record<string, string> = {};
  const names = new Map<string, string>();
  let out = "";
  let state: "none" | "single" | "double" = "none";
  let i = 0;
  TAG.lastIndex = 0;
  for (let m = TAG.exec(template); m; m = TAG.exec(template)) {
    const name = m[1] as string;
    if (!Object.hasOwn(values, name)) continue;
    // Track the quoting state of the text before the tag.
    for (; i < m.index; i++) {
      const c = template[i];
      out += c;
      if (state === "single") {
        if (c === "'") state = "none";
      } else if (c === "\\") {
        if (i + 1 < m.index) out += template[++i];
      } else if (c === '"') {
        state = state === "double" ? "none" : "double";
      } else if (c === "'" && state === "none") {
        state = "single";
      }
    }
    let v = names.get(name);
    if (!v) {
      v = `F2B_TAG_${names.size}`;
      names.set(name, v);
      env[v] = values[name] as string;
    }
    out += state === "double" ? `\${${v}}` : state === "single" ? `'"\${${v}}"'` : `"\${${v}}"`;
    i = m.index + m[0].length;
  }
  out += template.slice(i);
  return { command: out, env };
}
