/**
 * Prints server answers exactly as fail2ban-client does (its "beautifier"):
 * monitoring scripts parse these texts, tabs included.
 *
 * @module
 */

/**
 * Renders a value the way Python's `repr` shows it, as fail2ban-client
 * prints answers it has no special text for (`banned`, `get … banned`).
 *
 * @example
 * ```ts
 * import { pythonRepr } from "./format.ts";
 * if (pythonRepr([{ sshd: ["192.0.2.1"] }]) !== "[{'sshd': ['192.0.2.1']}]") throw new Error();
 * ```
 */
export function pythonRepr(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    if (Number.isNaN(value)) return "nan";
    if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
    return String(value);
  }
  if (typeof value === "string") return pythonStringRepr(value);
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(", ")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>);
    return `{${entries.map(([k, v]) => `${pythonStringRepr(k)}: ${pythonRepr(v)}`).join(", ")}}`;
  }
  return String(value);
}

function pythonStringRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === quote || ch === "\\") out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out + quote;
}

/** A `[label, value]` row of a status answer, as the client receives it. */
export type ReplyRow = [string, unknown];

function isRows(value: unknown): value is ReplyRow[] {
  return Array.isArray(value) &&
    value.every((r) => Array.isArray(r) && r.length === 2 && typeof r[0] === "string");
}

function rowValue(value: unknown): string {
  return Array.isArray(value) ? value.map((v) => String(v)).join(" ") : String(value);
}

/** Formats `status`'s answer: `Status`, then `|-`/`` `- `` rows with a tab before each value. */
export function formatServerStatus(rows: ReplyRow[]): string {
  const lines = ["Status"];
  rows.forEach(([label, value], i) => {
    lines.push(`${i === rows.length - 1 ? "`-" : "|-"} ${label}:\t${rowValue(value)}`);
  });
  return lines.join("\n");
}

/** Formats `status <jail>`'s answer: two levels of rows under `Status for the jail: NAME`. */
export function formatJailStatus(jail: string, rows: ReplyRow[]): string {
  const lines = [`Status for the jail: ${jail}`];
  rows.forEach(([section, children], i) => {
    const last = i === rows.length - 1;
    lines.push(`${last ? "`-" : "|-"} ${section}`);
    const indent = last ? "   " : "|  ";
    const sub = isRows(children) ? children : [];
    sub.forEach(([label, value], j) => {
      lines.push(`${indent}${j === sub.length - 1 ? "`-" : "|-"} ${label}:\t${rowValue(value)}`);
    });
  });
  return lines.join("\n");
}

/** `|- a` … `` `- z `` lines, as fail2ban-client lists paths and addresses. */
function treeList(items: string[]): string {
  return items.map((item, i) => `${i === items.length - 1 ? "`-" : "|-"} ${item}`).join("\n");
}

function asText(value: unknown): string {
  return typeof value === "string" ? value : pythonRepr(value);
}

/**
 * Formats the answer `value` of `command` as fail2ban-client prints it.
 *
 * @example
 * ```ts
 * import { formatReply } from "./format.ts";
 * if (formatReply(["ping"], "pong") !== "Server replied: pong") throw new Error();
 * ```
 */
export function formatReply(command: string[], value: unknown): string {
  const [name, arg1] = command;
  switch (name) {
    case "ping":
      return `Server replied: ${asText(value)}`;
    case "version":
    case "help":
      return asText(value);
    case "stop":
      if (value === null || value === undefined) {
        return command.length === 1 ? "Shutdown successful" : "Jail stopped";
      }
      return asText(value);
    case "start":
      return command.length === 1 ? "Server ready" : "Jail started";
    case "reload":
    case "restart":
      return value === null || value === undefined ? "OK" : asText(value);
    case "add":
      return `Added jail ${asText(value)}`;
    case "flushlogs":
      return `logs: ${asText(value)}`;
    case "echo":
      return Array.isArray(value) ? value.map((v) => String(v)).join(" ") : asText(value);
    case "status":
      if (arg1 === "--all" && Array.isArray(value)) {
        const jails = value.flatMap((entry) =>
          Object.entries(entry as Record<string, unknown>).map(([jail, rows]) =>
            isRows(rows) ? formatJailStatus(jail, rows) : asText(rows)
          )
        );
        return jails.join("\n");
      }
      if (!isRows(value)) return asText(value);
      return command.length > 1 ? formatJailStatus(arg1 ?? "", value) : formatServerStatus(value);
  }
  if ((name === "get" || name === "set") && arg1 !== undefined) {
    const formatted = formatSetting(command, value);
    if (formatted !== null) return formatted;
  }
  return asText(value);
}

/** `get`/`set` answers with their own texts; null when printed as a plain value. */
function formatSetting(command: string[], value: unknown): string | null {
  const [name, arg1, arg2] = command;
  switch (arg1) {
    case "syslogsocket":
      return `Current syslog socket is:\n\`- ${asText(value)}`;
    case "logtarget":
      return `Current logging target is:\n\`- ${asText(value)}`;
    case "loglevel":
      return `Current logging level is ${pythonRepr(value)}`;
    case "dbfile":
      return value === null
        ? "Database currently disabled"
        : `Current database file is:\n\`- ${asText(value)}`;
    case "dbpurgeage":
      return value === null
        ? "Database currently disabled"
        : `Current database purge age is:\n\`- ${Math.trunc(Number(value))}seconds`;
  }
  if (arg2 === undefined) return null;
  const list = Array.isArray(value) ? value.map((v) => String(v)) : null;
  switch (arg2) {
    case "logpath":
    case "addlogpath":
    case "dellogpath":
      if (!list) return null;
      return list.length === 0
        ? "No file is currently monitored"
        : `Current monitored log file(s):\n${treeList(list)}`;
    case "logencoding":
      return `Current log encoding is set to:\n${asText(value)}`;
    case "journalmatch":
    case "addjournalmatch":
    case "deljournalmatch":
      if (!Array.isArray(value)) return null;
      return value.length === 0
        ? "No journal match filter set"
        : `Current match filter:\n${
          value.map((m) => (Array.isArray(m) ? m.join(" ") : String(m))).join(" + ")
        }`;
    case "datepattern":
      if (value === null) return "Current date pattern set to: Not set/required";
      if (Array.isArray(value)) {
        return value[0] === null || value[0] === undefined
          ? `Current date pattern set to: ${value[1]}`
          : `Current date pattern set to: ${value[0]} (${value[1]})`;
      }
      return `Current date pattern set to: ${asText(value)}`;
    case "ignoreip":
    case "addignoreip":
    case "delignoreip":
      if (!list) return null;
      return list.length === 0
        ? "No IP address/network is ignored"
        : `These IP addresses/networks are ignored:\n${treeList(list)}`;
    case "failregex":
    case "addfailregex":
    case "delfailregex":
    case "ignoreregex":
    case "addignoreregex":
    case "delignoreregex":
      if (!list) return null;
      return list.length === 0
        ? "No regular expression is defined"
        : `The following regular expression are defined:\n${
          treeList(list.map((r, i) => `[${i}]: ${r}`))
        }`;
    case "actions":
      if (!list) return null;
      return list.length === 0
        ? `No actions for jail ${arg1}`
        : `The jail ${arg1} has the following actions:\n${list.join(", ")}`;
    case "actionproperties":
    case "actionmethods": {
      if (!list) return null;
      const what = arg2 === "actionproperties" ? "properties" : "methods";
      const act = command[3] ?? "";
      return list.length === 0
        ? `No ${what} for jail ${arg1} action ${act}`
        : `The jail ${arg1} action ${act} has the following ${what}:\n${list.join(", ")}`;
    }
    case "banip":
      if (name !== "get" || !list) return null;
      {
        const sep = command[3] === undefined
          ? " "
          : command[3] === "--with-time"
          ? "\n"
          : command[3];
        return list.join(sep);
      }
  }
  return null;
}

/**
 * Formats an error reply as fail2ban-client prints it: the server's message
 * (`Sorry but the jail 'x' does not exist`, `Invalid command …`).
 */
export function formatError(error: { name: string; message: string }): string {
  return error.message || error.name;
}
