/**
 * Compares the config reader with fail2ban itself on Debian's /etc/fail2ban: for every filter
 * (and some filter modes) the regexes, prefregex, datepattern and maxlines must equal what
 * `fail2ban-client -d` sends. Skips with a message when fail2ban is not installed.
 */

import assert from "node:assert/strict";
import { readFilter } from "../src/config/filter_reader.ts";

const ETC = "/etc/fail2ban";

function haveFail2ban(): boolean {
  try {
    const r = new Deno.Command("fail2ban-client", { args: ["-V"], stdout: "null", stderr: "null" })
      .outputSync();
    return r.success && Deno.statSync(`${ETC}/filter.d`).isDirectory;
  } catch {
    return false;
  }
}

const HAVE = haveFail2ban();
if (!HAVE) console.warn("config_debian_test: fail2ban not installed, comparisons skipped");

/** A temp config dir linking to /etc/fail2ban's files, with its own `jail.local`. */
function makeConfigDir(jailLocal: string): string {
  const dir = Deno.makeTempDirSync({ prefix: "f2b_cfg_" });
  for (const e of Deno.readDirSync(ETC)) {
    if (e.name === "jail.local") continue;
    Deno.symlinkSync(`${ETC}/${e.name}`, `${dir}/${e.name}`);
  }
  Deno.writeTextFileSync(`${dir}/jail.local`, jailLocal);
  return dir;
}

const PY_TO_JSON = "import sys,ast,json\nfor l in sys.stdin:\n l=l.strip()\n" +
  " if l.startswith('['): print(json.dumps(ast.literal_eval(l)))";

/** Result of `fail2ban-client -d`: the command stream, or the error it printed. */
type Dump = { ok: true; commands: unknown[][] } | { ok: false; error: string };

/** Runs `fail2ban-client -c DIR -d` on a temp dir with `jailLocal`; returns the command stream. */
async function dumpConfig(jailLocal: string): Promise<Dump> {
  const dir = makeConfigDir(jailLocal);
  try {
    const r = await new Deno.Command("sh", {
      args: [
        "-c",
        `fail2ban-client -c "$1" -d 2>"$1/err" | python3 -c "$2"`,
        "sh",
        dir,
        PY_TO_JSON,
      ],
    }).output();
    const err = Deno.readTextFileSync(`${dir}/err`);
    const commands = new TextDecoder().decode(r.stdout).split("\n").filter((l) => l).map((l) =>
      JSON.parse(l) as unknown[]
    );
    if (!commands.length) return { ok: false, error: err };
    return { ok: true, commands };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Runs `fn` over `items` with at most `n` at a time. */
async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: n }, worker));
  return out;
}

/** Filter-related commands fail2ban sent for jail `jail`. */
function filterCommands(commands: unknown[][], jail: string): Record<string, unknown> {
  const exp: Record<string, unknown> = {
    failregex: [],
    ignoreregex: [],
    prefregex: null,
    datepattern: null,
    maxlines: 1,
  };
  for (const c of commands) {
    if (c[1] !== jail) continue;
    const [kind, , what, value] = c as [string, string, string, unknown];
    if (what === "addfailregex" || what === "addignoreregex") {
      const list = exp[what.slice(3)] as unknown[];
      if (kind === "multi-set") list.push(...(value as unknown[]));
      else list.push(value);
    } else if (kind === "set" && ["prefregex", "datepattern", "maxlines"].includes(what)) {
      exp[what] = value;
    }
  }
  return exp;
}

const FILTER_VARIANTS = [
  "sshd[mode=aggressive]",
  "sshd[mode=ddos]",
  "sshd[mode=extra]",
  "postfix[mode=aggressive]",
  "postfix[mode=more]",
  "postfix[mode=rbl]",
  "dovecot[mode=aggressive]",
  "named-refused[mode=aggressive]",
];

Deno.test({
  name: "readFilter matches fail2ban-client -d for every Debian filter",
  ignore: !HAVE,
  async fn() {
    const filters = [...Deno.readDirSync(`${ETC}/filter.d`)]
      .filter((e) => e.name.endsWith(".conf"))
      .map((e) => e.name.slice(0, -5))
      .sort();
    assert.ok(filters.length >= 90, `only ${filters.length} filters in ${ETC}/filter.d`);
    const refs = [...filters, ...FILTER_VARIANTS];
    const failures: string[] = [];
    let matched = 0;
    let bothFailed = 0;
    await pool(refs, 8, async (ref) => {
      const dump = await dumpConfig(
        `[t]\nenabled = true\nfilter = ${ref}\naction =\nlogpath = /dev/null\n`,
      );
      let got: Record<string, unknown> | null = null;
      let error = "";
      try {
        const s = readFilter(ETC, ref);
        got = {
          failregex: s.failregex.map((x) => x.pattern),
          ignoreregex: s.ignoreregex.map((x) => x.pattern),
          prefregex: s.prefregex?.pattern ?? null,
          datepattern: s.datepattern,
          maxlines: s.maxlines,
        };
      } catch (e) {
        error = String(e);
      }
      if (!dump.ok) {
        // fail2ban refuses the whole configuration (e.g. selinux-common, an include-only file).
        if (got === null) bothFailed++;
        else failures.push(`${ref}: fail2ban fails (${dump.error.trim().slice(-200)}), we do not`);
        return;
      }
      if (got === null) {
        failures.push(`${ref}: ${error}`);
        return;
      }
      const exp = filterCommands(dump.commands, "t");
      try {
        assert.deepEqual(got, exp);
        matched++;
      } catch (e) {
        failures.push(`${ref}: ${(e as Error).message.slice(0, 2000)}`);
      }
    });
    console.log(
      `readFilter: ${matched}/${refs.length} match fail2ban -d, ${bothFailed} rejected by both`,
    );
    assert.deepEqual(failures, []);
  },
});
