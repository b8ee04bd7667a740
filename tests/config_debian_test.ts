/**
 * Compares the config reader with fail2ban itself on Debian's /etc/fail2ban: for every filter
 * (and some filter modes) the regexes, prefregex, datepattern and maxlines must equal what
 * `fail2ban-client -d` sends. Skips with a message when fail2ban is not installed.
 */

import assert from "node:assert/strict";
import { readFilter } from "../src/config/filter_reader.ts";
import { readJails } from "../src/config/jail_reader.ts";
import { readAction, UnsupportedActionError } from "../src/config/action_reader.ts";
import { parseDuration } from "../src/config/duration.ts";
import { asBool } from "../src/config/_definition_init.ts";
import type { ActionSpec, JailSpec } from "../src/config/types.ts";

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

const BOOL_ACTION_OPTIONS = ["actionstart_on_demand", "actionrepair_on_unban", "norestored"];

/** What fail2ban sent for one jail, normalised for comparison. */
function jailFromDump(commands: unknown[][], jail: string): Record<string, unknown> {
  const out: Record<string, unknown> = { logpath: [], actions: [], ignoreip: [] };
  const actions = new Map<string, Record<string, unknown>>();
  for (const c of commands) {
    if (c[1] !== jail) continue;
    const [kind, , what] = c as [string, string, string];
    if (kind === "add") out.backend = c[2];
    else if (kind === "set" && what === "addlogpath") {
      (out.logpath as unknown[]).push([c[3], c[4] === "tail"]);
    } else if (kind === "set" && what === "addignoreip") {
      (out.ignoreip as unknown[]).push(...c.slice(3));
    } else if (kind === "set" && what === "addaction") {
      actions.set(c[3] as string, {});
    } else if (kind === "multi-set" && what === "action") {
      for (const [k, v] of c[4] as [string, unknown][]) {
        if (v !== null) actions.get(c[3] as string)![k] = v;
      }
    } else if (kind === "set" && what === "action") {
      if (c[5] !== null) actions.get(c[3] as string)![c[4] as string] = c[5];
    } else if (
      kind === "set" &&
      ["maxretry", "maxmatches", "findtime", "bantime", "usedns", "logencoding"].includes(what)
    ) {
      out[what] = c[3];
    }
  }
  out.actions = [...actions].map(([name, props]) => ({ name, props }));
  Object.assign(out, filterCommands(commands, jail));
  return out;
}

/** An ActionSpec in the shape fail2ban sends it: its name and every property sent. */
function actionFromSpec(a: ActionSpec): { name: string; props: Record<string, unknown> } {
  const props: Record<string, unknown> = { ...a.commands };
  for (const [k, v] of Object.entries(a.properties)) {
    props[k] = BOOL_ACTION_OPTIONS.includes(k) ? asBool(v) : v;
  }
  for (const [fam, p] of Object.entries(a.familyProperties)) {
    for (const [k, v] of Object.entries(p)) props[`${k}?family=${fam}`] = v;
  }
  return { name: a.name, props };
}

/** A JailSpec in the shape of {@link jailFromDump}. */
function jailFromSpec(j: JailSpec): Record<string, unknown> {
  return {
    logpath: j.logpath.map((p, i) => [p, j.logpathTail?.[i] ?? false]),
    actions: j.actions.map(actionFromSpec),
    ignoreip: j.ignoreip,
    backend: j.backend,
    maxretry: j.maxretry,
    maxmatches: j.maxmatches,
    findtime: j.findtime,
    bantime: j.bantime,
    usedns: j.usedns,
    logencoding: j.logencoding,
    failregex: j.filter.failregex.map((x) => x.pattern),
    ignoreregex: j.filter.ignoreregex.map((x) => x.pattern),
    prefregex: j.filter.prefregex?.pattern ?? null,
    datepattern: j.filter.datepattern,
    maxlines: j.filter.maxlines,
  };
}

Deno.test({
  name: "readJails loads Debian's config with every jail enabled, matching fail2ban-client -d",
  ignore: !HAVE,
  async fn() {
    const tmp = Deno.makeTempDirSync({ prefix: "f2b_logs_" });
    try {
      for (const f of ["auth.log", "apache-error.log", "fail2ban.log", "mail.log", "rot.log.1"]) {
        Deno.writeTextFileSync(`${tmp}/${f}`, "");
      }
      const jailLocal = `[DEFAULT]\nenabled = true\n\n` +
        `[sshd]\nlogpath = ${tmp}/auth.log\n    ${tmp}/rot.log.* tail\n\n` +
        `[apache-auth]\nlogpath = ${tmp}/apache-*.log\n\n` +
        `[recidive]\nlogpath = ${tmp}/fail2ban.log\n\n` +
        `[postfix]\nmode = aggressive\nlogpath = ${tmp}/mail.log\n`;
      const dump = await dumpConfig(jailLocal);
      assert.ok(dump.ok, dump.ok ? "" : dump.error);
      const dir = makeConfigDir(jailLocal);
      let jails: JailSpec[];
      const errors: string[] = [];
      try {
        jails = readJails(dir, { onError: (e) => errors.push(e.message) });
      } finally {
        Deno.removeSync(dir, { recursive: true });
      }
      assert.deepEqual(errors, []);
      const started = dump.commands.filter((c) => c[0] === "start").map((c) => c[1]);
      assert.deepEqual(jails.map((j) => j.name), started);
      const failures: string[] = [];
      let matched = 0;
      for (const spec of jails) {
        const exp = jailFromDump(dump.commands, spec.name);
        const got = jailFromSpec(spec);
        // fail2ban sends durations as written; the server converts them as parseDuration does.
        exp.findtime = parseDuration(exp.findtime as string);
        exp.bantime = parseDuration(exp.bantime as string);
        // fail2ban expands logpath globs at this point; the spec keeps them for the jail to expand.
        got.logpath = (got.logpath as [string, boolean][]).flatMap(([p, tail]) =>
          [...expandGlob(p)].map((f) => [f, tail])
        );
        try {
          assert.deepEqual(got, exp);
          matched++;
        } catch (e) {
          failures.push(`${spec.name}: ${(e as Error).message.slice(0, 3000)}`);
        }
      }
      console.log(`readJails: ${matched}/${jails.length} jails match fail2ban -d`);
      assert.deepEqual(failures, []);
      const sshd = jails.find((j) => j.name === "sshd")!;
      assert.deepEqual(sshd.logpath, [`${tmp}/auth.log`, `${tmp}/rot.log.*`]);
      assert.deepEqual(sshd.logpathTail, [false, true]);
      assert.match(
        sshd.actions[0]!.commands.actionban!,
        /<iptables> -I f2b-sshd 1 -s <ip> -j <blocktype>/,
      );
    } finally {
      Deno.removeSync(tmp, { recursive: true });
    }
  },
});

/** Files matching a simple glob (`*` in the last path component), sorted like Python's glob. */
function* expandGlob(pattern: string): Generator<string> {
  const slash = pattern.lastIndexOf("/");
  const dir = pattern.slice(0, slash);
  const base = pattern.slice(slash + 1);
  if (!base.includes("*")) {
    try {
      Deno.statSync(pattern);
      yield pattern;
    } catch { /* missing */ }
    return;
  }
  const re = new RegExp(`^${base.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*")}$`);
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => re.test(n));
  } catch { /* missing dir */ }
  for (const n of names) yield `${dir}/${n}`;
}

Deno.test({
  name: "readAction matches fail2ban-client -d for every Debian action",
  ignore: !HAVE,
  async fn() {
    const names = [...Deno.readDirSync(`${ETC}/action.d`)].map((e) => e.name).sort();
    assert.ok(names.length >= 60, `only ${names.length} actions in ${ETC}/action.d`);
    const refs = [
      ...names.filter((n) => n.endsWith(".conf")).map((n) => n.slice(0, -5)),
      'iptables-multiport[name=SSH, port="ssh,http", protocol=tcp]',
      "iptables[actname=foo, blocktype=DROP]",
      "nftables[type=allports, name=x]",
    ];
    const jailLocal = refs.map((r, i) =>
      `[t${i}]\nenabled = true\nfilter =\naction = ${r}\nlogpath = /dev/null\n`
    ).join("\n");
    const dump = await dumpConfig(jailLocal);
    assert.ok(dump.ok, dump.ok ? "" : dump.error);
    const failures: string[] = [];
    let matched = 0;
    refs.forEach((ref, i) => {
      const jail = `t${i}`;
      const exp = jailFromDump(dump.commands, jail).actions;
      try {
        const spec = readAction(ETC, ref, {}, { jailName: jail });
        const got = [actionFromSpec(spec)];
        assert.deepEqual(got, exp);
        matched++;
      } catch (e) {
        failures.push(`${ref}: ${(e as Error).message.slice(0, 2000)}`);
      }
    });
    // Python actions are refused with a clear error.
    for (const py of names.filter((n) => n.endsWith(".py"))) {
      assert.throws(() => readAction(ETC, py, {}, { jailName: "j" }), UnsupportedActionError);
    }
    console.log(
      `readAction: ${matched}/${refs.length} references match fail2ban -d (${names.length} files in action.d)`,
    );
    assert.deepEqual(failures, []);
  },
});
