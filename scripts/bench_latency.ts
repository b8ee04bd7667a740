/**
 * Ban latency, f2b beside fail2ban-server, on one configuration directory
 * both run unchanged: fail2ban's own sshd filter (copied from
 * /etc/fail2ban/filter.d with the common.conf it includes), a recording
 * action that appends "ban <ip> <time>" to a file, backend auto. The moment
 * a ban line appears is taken by this script (file events and a 2 ms poll),
 * so the action spawns no extra process to stamp it.
 *
 * A live attack is appended to the watched log: a dozen IPv4 and IPv6
 * attackers at 20 attempts per second each, plus ignored hosts (ignoreip) and
 * hosts that stay below maxretry. For each daemon it reports who was banned,
 * how many attempts each attacker got in before its ban, and the latency from
 * the write of the maxretry-th line to the ban action (p50, max).
 *
 *     deno run -A scripts/bench_latency.ts [--only f2b|fail2ban] [--attempts N]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath as fromFileUrl } from "node:url";
import { sendCommand } from "../src/client/control_client.ts";

const MAXRETRY = 5;
const RATE = 20;
const ATTACKERS = [
  "192.0.2.10",
  "192.0.2.11",
  "198.51.100.12",
  "198.51.100.13",
  "203.0.113.14",
  "203.0.113.15",
  "2001:db8::10",
  "2001:db8::11",
  "2001:db8:1::12",
  "2001:db8:1::13",
  "2001:db8:2::14",
  "2001:db8:2::15",
];
const IGNORED = ["203.0.113.200", "2001:db8:ffff::200"];
const BELOW = ["192.0.2.250", "2001:db8:eeee::250", "198.51.100.250"];

const REPO = fromFileUrl(new URL("..", import.meta.url));
const V8 =
  "--v8-flags=--enable-experimental-regexp-engine-on-excessive-backtracks,--allow-natives-syntax";

const { values: opts } = parseArgs({
  args: Deno.args,
  options: {
    only: { type: "string" },
    attempts: { type: "string", default: "15" },
    keep: { type: "boolean" },
    trace: { type: "boolean" },
  },
});
const ATTEMPTS = Number(opts.attempts);

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function syslogDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())}`;
}

async function writeConfig(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/filter.d`, { recursive: true });
  await Deno.mkdir(`${dir}/action.d`, { recursive: true });
  for (const f of ["sshd.conf", "common.conf"]) {
    await Deno.copyFile(`/etc/fail2ban/filter.d/${f}`, `${dir}/filter.d/${f}`);
  }
  await Deno.writeTextFile(
    `${dir}/fail2ban.conf`,
    `[Definition]
loglevel = INFO
logtarget = ${dir}/daemon.log
syslogsocket = auto
socket = ${dir}/run/server.sock
pidfile = ${dir}/run/server.pid
allowipv6 = auto
dbfile = ${dir}/db.sqlite3
dbpurgeage = 1d
dbmaxmatches = 10
`,
  );
  await Deno.writeTextFile(
    `${dir}/action.d/record.conf`,
    `[Definition]
actionstart =
actionstop =
actioncheck =
actionban = echo "ban <ip> <time>" >> ${dir}/bans.txt
actionunban = echo "unban <ip> <time>" >> ${dir}/bans.txt
`,
  );
  await Deno.writeTextFile(
    `${dir}/jail.conf`,
    `[DEFAULT]
ignoreip = 127.0.0.1/8 ::1 ${IGNORED.join(" ")}
ignoreself = true
bantime = 1h
findtime = 10m
maxretry = ${MAXRETRY}
backend = auto
usedns = no

[sshd]
enabled = true
filter = sshd
port = ssh
logpath = ${dir}/auth.log
action = record
`,
  );
}

interface Daemon {
  name: string;
  start(dir: string): Deno.ChildProcess;
  ready(dir: string): Promise<boolean>;
  stop(dir: string, child: Deno.ChildProcess): Promise<void>;
}

async function exitsOk(cmd: string, args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
    return out.success;
  } catch {
    return false;
  }
}

const F2B: Daemon = {
  name: "f2b",
  start: (dir) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", V8, `${REPO}/mod.ts`, "server", "-f", "-x", "-c", dir],
      cwd: REPO,
      stdout: "null",
      stderr: "inherit",
    }).spawn(),
  ready: async (dir) => {
    try {
      const r = await sendCommand(`${dir}/run/server.sock`, ["status", "sshd"], { timeout: 2000 });
      return r.ok;
    } catch {
      return false;
    }
  },
  stop: async (_dir, child) => {
    child.kill("SIGTERM");
    await child.status;
  },
};

const FAIL2BAN: Daemon = {
  name: "fail2ban",
  start: (dir) =>
    new Deno.Command("fail2ban-server", {
      args: ["-f", "-x", "-c", dir, "-s", `${dir}/run/server.sock`, "-p", `${dir}/run/server.pid`],
      stdout: "null",
      stderr: "inherit",
    }).spawn(),
  ready: (dir) =>
    exitsOk("fail2ban-client", ["-c", dir, "-s", `${dir}/run/server.sock`, "status", "sshd"]),
  stop: async (dir, child) => {
    await exitsOk("fail2ban-client", ["-c", dir, "-s", `${dir}/run/server.sock`, "stop"]);
    const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await child.status;
    clearTimeout(t);
  },
};

interface Result {
  name: string;
  banned: string[];
  attempts: Map<string, number>;
  latencies: Map<string, number>;
  rss: number | null;
}

function rssOf(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

async function run(daemon: Daemon, dir: string): Promise<Result> {
  for (const f of ["auth.log", "bans.txt", "daemon.log", "db.sqlite3"]) {
    await Deno.remove(`${dir}/${f}`).catch(() => {});
  }
  await Deno.mkdir(`${dir}/run`, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(`${dir}/auth.log`, "");
  await Deno.writeTextFile(`${dir}/bans.txt`, "");
  const child = daemon.start(dir);
  try {
    let up = false;
    for (let i = 0; i < 300 && !up; i++) {
      up = await daemon.ready(dir);
      if (!up) await new Promise((r) => setTimeout(r, 100));
    }
    if (!up) throw new Error(`${daemon.name} did not come up: see ${dir}/daemon.log`);
    // Let the jail settle (first poll, watchers in place).
    await new Promise((r) => setTimeout(r, 1500));

    const hosts = [
      ...ATTACKERS.map((ip) => ({ ip, n: ATTEMPTS })),
      ...IGNORED.map((ip) => ({ ip, n: ATTEMPTS })),
      ...BELOW.map((ip) => ({ ip, n: MAXRETRY - 1 })),
    ];
    // writes[ip] = epoch ms of each attempt's write
    const writes = new Map<string, number[]>(hosts.map((h) => [h.ip, []]));
    const file = await Deno.open(`${dir}/auth.log`, { append: true });
    const enc = new TextEncoder();
    const period = 1000 / RATE;
    const t0 = performance.now();
    // Every host sends one attempt per period, staggered inside the period.
    const events: { at: number; ip: string; k: number }[] = [];
    hosts.forEach((h, i) => {
      for (let k = 0; k < h.n; k++) {
        events.push({ at: k * period + (i * period) / hosts.length, ip: h.ip, k });
      }
    });
    events.sort((a, b) => a.at - b.at);
    // The time a ban line appears in bans.txt, as this process sees it (file events, plus a
    // fast poll in case an event is late): no subprocess in the action to timestamp it.
    const bans = new Map<string, number>();
    let seen = 0;
    const scan = () => {
      const text = Deno.readTextFileSync(`${dir}/bans.txt`);
      if (text.length === seen) return;
      const now = performance.timeOrigin + performance.now();
      const end = text.lastIndexOf("\n") + 1;
      for (const line of text.slice(seen, end).split("\n")) {
        const m = /^ban (\S+) /.exec(line);
        if (m && !bans.has(m[1]!)) bans.set(m[1]!, now);
      }
      seen = end;
    };
    const watcher = Deno.watchFs(`${dir}/bans.txt`);
    (async () => {
      for await (const _ of watcher) scan();
    })().catch(() => {});
    const poll = setInterval(scan, 2);
    let pid = 4000;
    for (const e of events) {
      const wait = t0 + e.at - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const now = new Date();
      const line = `${
        syslogDate(now)
      } bench sshd[${pid++}]: Failed password for invalid user u${e.k} from ${e.ip} port ${
        40000 + e.k
      } ssh2\n`;
      await file.write(enc.encode(line));
      writes.get(e.ip)!.push(performance.timeOrigin + performance.now());
    }
    file.close();
    // Wait for the slowest daemon to catch up.
    await new Promise((r) => setTimeout(r, 3000));
    scan();
    clearInterval(poll);
    watcher.close();
    const attempts = new Map<string, number>();
    const latencies = new Map<string, number>();
    for (const [ip, at] of bans) {
      const w = writes.get(ip) ?? [];
      attempts.set(ip, w.filter((t) => t <= at).length);
      const nth = w[MAXRETRY - 1];
      if (nth !== undefined) latencies.set(ip, at - nth);
      if (opts.trace && nth !== undefined) {
        const iso = (t: number) => new Date(t).toISOString().slice(11, 23);
        console.log(`trace ${ip} line ${iso(nth)} ban seen ${iso(at)}`);
      }
    }
    const rss = child.pid ? rssOf(child.pid) : null;
    return { name: daemon.name, banned: [...bans.keys()], attempts, latencies, rss };
  } finally {
    await daemon.stop(dir, child).catch(() => {});
  }
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

function report(r: Result): boolean {
  const expected = new Set(ATTACKERS);
  const banned = new Set(r.banned);
  const missing = ATTACKERS.filter((ip) => !banned.has(ip));
  const wrong = r.banned.filter((ip) => !expected.has(ip));
  const lat = [...r.latencies.values()];
  const att = [...r.attempts.values()];
  console.log(`\n== ${r.name}`);
  console.log(
    `banned ${r.banned.length}/${ATTACKERS.length} attackers` +
      (missing.length ? `; NOT banned: ${missing.join(" ")}` : "") +
      (wrong.length ? `; WRONGLY banned: ${wrong.join(" ")}` : ""),
  );
  console.log(
    `attempts before ban: min ${Math.min(...att)} max ${Math.max(...att)} (maxretry ${MAXRETRY})`,
  );
  console.log(
    `latency maxretry-th line -> ban: p50 ${percentile(lat, 50).toFixed(1)} ms, max ${
      Math.max(...lat).toFixed(1)
    } ms`,
  );
  if (r.rss !== null) console.log(`RSS after the attack: ${(r.rss / 2 ** 20).toFixed(1)} MiB`);
  for (const ip of ATTACKERS) {
    const l = r.latencies.get(ip);
    console.log(
      `  ${ip.padEnd(18)} attempts ${String(r.attempts.get(ip) ?? "-").padStart(3)}  latency ${
        l === undefined ? "-" : `${l.toFixed(1)} ms`
      }`,
    );
  }
  return missing.length === 0 && wrong.length === 0;
}

const dir = await Deno.makeTempDir({ prefix: "f2b-bench-latency-" });
try {
  await writeConfig(dir);
  console.log(
    `config: ${dir}; ${ATTACKERS.length} attackers x ${ATTEMPTS} attempts at ${RATE}/s, ` +
      `${IGNORED.length} ignored, ${BELOW.length} below maxretry, maxretry ${MAXRETRY}`,
  );
  const daemons = [F2B, FAIL2BAN].filter((d) => !opts.only || d.name === opts.only);
  for (const d of daemons) report(await run(d, dir));
} finally {
  if (!opts.keep) await Deno.remove(dir, { recursive: true });
  else console.log(`kept ${dir}`);
}
