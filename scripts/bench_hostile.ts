/**
 * Hostile input benchmark (SECURITY.md #3): 64 KiB lines made of repeated
 * separators and address fragments, in several shapes, after several line
 * heads (syslog tags of the services, Apache/nginx prefixes), through every
 * shipped filter of config/filter.d in each of its modes. Reports the time
 * per line of the worst filter and shape.
 *
 * Run: deno run -A --v8-flags=--enable-experimental-regexp-engine-on-excessive-backtracks,--allow-natives-syntax scripts/bench_hostile.ts [--json]
 *
 * @module
 */

import { readFilter } from "../src/config/filter_reader.ts";
import type { FilterSpec } from "../src/config/types.ts";
import { DateDetector } from "../src/filter/date_detector.ts";
import { Filter } from "../src/filter/filter.ts";

const CONFIG_DIR = new URL("../config", import.meta.url).pathname;
const SIZE = 64 * 1024;
const NOW = 1124013600;
const MODES: Record<string, string[]> = {
  sshd: ["normal", "aggressive"],
  postfix: ["more", "aggressive"],
  "apache-auth": ["normal", "aggressive"],
  dovecot: ["normal", "aggressive"],
  exim: ["normal", "aggressive"],
  "nginx-http-auth": ["normal", "aggressive"],
};

/** Bodies repeated to fill a line: separators mixed with address fragments. */
const SHAPES: Record<string, string> = {
  "ipv4 ": "192.0.2.1 ",
  "from-port": "from 192.0.2.1 port 22 ssh2 ",
  "client-bracket": "[client 192.0.2.1] ",
  "rhost": "ruser=x rhost=192.0.2.1 ",
  "rip": "user=<x>, method=PLAIN, rip=192.0.2.1, ",
  "nginx-client": '", client: 192.0.2.1, server: x, request: "',
  "colons": ":::::",
  "ipv6-frag": "2001:db8::1:",
  "dots-digits": "1.2.3.4.5.6.7.8.9.",
  "brackets": "[[[[]]]]((((",
  "quotes": "'\"'\"' ",
  "spaces": "                ",
  "kv": 'a="b" remote_addr=',
  "name-addr": "unknown[192.0.2.1]:",
};

/** Line heads that lead into the filters' regexes. */
const HEADS = [
  "",
  "Mar  1 10:00:00 host sshd[1]: Failed password for ",
  "Mar  1 10:00:00 host sshd-session[1]: Connection closed by authenticating user ",
  "Mar  1 10:00:00 host postfix/smtpd[1]: NOQUEUE: reject: RCPT from ",
  "Mar  1 10:00:00 host dovecot: imap-login: Disconnected (auth failed, 1 attempts): user=<",
  "Mar  1 10:00:00 host vsftpd: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=",
  "[Thu May 02 10:11:12 2013] [error] [client 192.0.2.1] user ",
  '2016/04/01 10:00:01 [error] 900#900: *17 user "',
  '192.0.2.1 - - [05/Mar/2010:14:39:21 +0100] "GET /',
  '[2012-02-13 17:21:54] SECURITY[1] res_security_log.c: SecurityEvent="InvalidPassword",',
  't=2020-10-19T17:44:33+0200 lvl=eror msg="Invalid username or password" ',
];

function fill(head: string, body: string): string {
  const n = Math.max(1, Math.ceil((SIZE - head.length) / body.length));
  return (head + body.repeat(n)).slice(0, SIZE);
}

function specs(): { label: string; spec: FilterSpec }[] {
  const out: { label: string; spec: FilterSpec }[] = [];
  const names = [...Deno.readDirSync(`${CONFIG_DIR}/filter.d`)]
    .filter((e) => e.isFile && e.name.endsWith(".conf"))
    .map((e) => e.name.slice(0, -5))
    .filter((n) => !/^common$|-common$/.test(n))
    .sort();
  for (const name of names) {
    for (const mode of MODES[name] ?? [null]) {
      const spec = mode === null
        ? readFilter(CONFIG_DIR, name)
        : readFilter(CONFIG_DIR, { name, options: { mode } });
      out.push({ label: mode === null ? name : `${name}[mode=${mode}]`, spec });
    }
  }
  return out;
}

/** One measured combination. */
interface Row {
  filter: string;
  shape: string;
  head: string;
  ms: number;
}

function main(): void {
  const lines: { shape: string; head: string; line: string }[] = [];
  for (const head of HEADS) {
    for (const [shape, body] of Object.entries(SHAPES)) {
      lines.push({ shape, head: head.slice(0, 40), line: fill(head, body) });
    }
  }
  const rows: Row[] = [];
  const perFilter: { filter: string; worstMs: number; totalMs: number }[] = [];
  for (const { label, spec } of specs()) {
    const flt = new Filter(spec, {
      dateDetector: new DateDetector({ datepattern: spec.datepattern }),
      checkAllRegex: true,
    });
    let worst = 0;
    let total = 0;
    for (const l of lines) {
      const t0 = performance.now();
      flt.processLine(l.line, NOW);
      const ms = performance.now() - t0;
      total += ms;
      if (ms > worst) worst = ms;
      rows.push({ filter: label, shape: l.shape, head: l.head, ms });
    }
    perFilter.push({ filter: label, worstMs: worst, totalMs: total });
  }
  rows.sort((a, b) => b.ms - a.ms);
  perFilter.sort((a, b) => b.worstMs - a.worstMs);
  const worst = rows[0]!;
  if (Deno.args.includes("--json")) {
    console.log(JSON.stringify({ lineBytes: SIZE, lines: lines.length, worst, perFilter }));
    return;
  }
  console.log(
    `${perFilter.length} filter variants x ${lines.length} hostile lines of ${SIZE} bytes`,
  );
  console.log("slowest filters (worst line, all lines):");
  for (const f of perFilter.slice(0, 10)) {
    console.log(
      `  ${f.filter.padEnd(32)} ${f.worstMs.toFixed(2).padStart(9)} ms  ${
        f.totalMs.toFixed(1).padStart(9)
      } ms`,
    );
  }
  console.log(
    `worst: ${worst.filter}, shape "${worst.shape}", head "${worst.head}": ${
      worst.ms.toFixed(2)
    } ms per line`,
  );
}

if (import.meta.main) main();
