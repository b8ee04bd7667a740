/**
 * Memory of the f2b server: RSS with 5 jails idle, then after 1 million
 * distinct failing addresses in one jail (maxretry high, so nobody is
 * banned), beside fail2ban-server's idle RSS with one jail, measured in the
 * same run on the same filter (fail2ban's sshd, copied from /etc/fail2ban).
 *
 *     deno run -A scripts/bench_memory.ts [--addresses N] [--only f2b|fail2ban]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { sendCommand } from "../src/client/control_client.ts";
import { V8_FLAGS } from "../src/cli/server.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const V8 = V8_FLAGS; // the flags the server runs with
const JAILS = ["sshd", "sshd-b", "sshd-c", "sshd-d", "sshd-e"];

const { values: opts } = parseArgs({
  args: Deno.args,
  options: {
    addresses: { type: "string", default: "1000000" },
    only: { type: "string" },
  },
});
const ADDRESSES = Number(opts.addresses);

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return m ? Number(m[1]) * 1024 : NaN;
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function writeConfig(dir: string, jails: string[]): Promise<void> {
  await Deno.mkdir(`${dir}/filter.d`, { recursive: true });
  await Deno.mkdir(`${dir}/action.d`, { recursive: true });
  await Deno.mkdir(`${dir}/run`, { recursive: true, mode: 0o700 });
  for (const f of ["sshd.conf", "common.conf"]) {
    await Deno.copyFile(`/etc/fail2ban/filter.d/${f}`, `${dir}/filter.d/${f}`);
  }
  await Deno.writeTextFile(
    `${dir}/fail2ban.conf`,
    `[Definition]
loglevel = NOTICE
syslogsocket = auto
allowipv6 = auto
logtarget = ${dir}/daemon.log
socket = ${dir}/run/server.sock
pidfile = ${dir}/run/server.pid
dbfile = ${dir}/db.sqlite3
dbpurgeage = 1d
`,
  );
  await Deno.writeTextFile(
    `${dir}/action.d/record.conf`,
    `[Definition]\nactionban = echo "ban <ip>" >> ${dir}/bans.txt\nactionunban =\n`,
  );
  let jailConf = `[DEFAULT]
bantime = 1h
findtime = 1d
maxretry = ${ADDRESSES + 10}
backend = auto
usedns = no
action = record
`;
  for (const j of jails) {
    await Deno.writeTextFile(`${dir}/${j}.log`, "");
    jailConf += `\n[${j}]\nenabled = true\nfilter = sshd\nlogpath = ${dir}/${j}.log\n`;
  }
  await Deno.writeTextFile(`${dir}/jail.conf`, jailConf);
}

function findRow(rows: unknown, label: string): unknown {
  if (!Array.isArray(rows)) return undefined;
  for (const r of rows) {
    if (Array.isArray(r) && r[0] === label) return r[1];
    const inner = Array.isArray(r) ? findRow(r[1], label) : undefined;
    if (inner !== undefined) return inner;
  }
  return undefined;
}

async function waitUp(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`${what} did not come up`);
}

async function f2b(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "f2b-bench-memory-" });
  await writeConfig(dir, JAILS);
  const sock = `${dir}/run/server.sock`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", V8, `${REPO}/mod.ts`, "server", "-f", "-x", "-c", dir],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    await waitUp(async () => {
      try {
        return (await sendCommand(sock, ["status", JAILS[4]!], { timeout: 2000 })).ok;
      } catch {
        return false;
      }
    }, "f2b");
    await sleep(3000);
    const idle = rss(child.pid);
    console.log(`f2b, ${JAILS.length} jails idle:              RSS ${mib(idle)}`);

    // One million distinct failing addresses into the first jail.
    const file = await Deno.open(`${dir}/${JAILS[0]}.log`, { append: true });
    const enc = new TextEncoder();
    const d = new Date();
    const mon = d.toLocaleString("en-US", { month: "short" });
    const stamp = `${mon} ${String(d.getDate()).padStart(2, " ")} ${d.toTimeString().slice(0, 8)}`;
    const t0 = performance.now();
    let batch = "";
    for (let i = 0; i < ADDRESSES; i++) {
      const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      batch += `${stamp} bench sshd[${
        1000 + (i % 30000)
      }]: Failed password for root from ${ip} port 22 ssh2\n`;
      if (batch.length > 1 << 20) {
        await file.write(enc.encode(batch));
        batch = "";
      }
    }
    if (batch) await file.write(enc.encode(batch));
    file.close();
    let total = 0;
    let current = 0;
    let last = -1;
    let still = 0;
    let peak = idle;
    while (total < ADDRESSES && still < 20) {
      await sleep(500);
      peak = Math.max(peak, rss(child.pid));
      const r = await sendCommand(sock, ["status", JAILS[0]!], { timeout: 10_000 });
      if (!r.ok) continue;
      total = Number(findRow(r.value, "Total failed") ?? 0);
      current = Number(findRow(r.value, "Currently failed") ?? 0);
      still = total === last ? still + 1 : 0;
      last = total;
    }
    const secs = (performance.now() - t0) / 1000;
    await sleep(2000);
    const after = rss(child.pid);
    console.log(
      `f2b, after ${ADDRESSES} distinct addresses:  RSS ${mib(after)} (peak ${mib(peak)}); ` +
        `total failed ${total}, currently failed ${current} (cap evicts the oldest), ${
          secs.toFixed(1)
        } s to count them (${Math.round(total / secs)} lines/s)`,
    );
    const problems = Deno.readTextFileSync(`${dir}/daemon.log`).split("\n")
      .filter((l) => / (ERROR|WARNING|CRITICAL) /.test(l));
    for (const l of problems.slice(0, 10)) console.log(`  log: ${l}`);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

async function fail2ban(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "f2b-bench-memory-f2b-" });
  await writeConfig(dir, ["sshd"]);
  const sock = `${dir}/run/server.sock`;
  const child = new Deno.Command("fail2ban-server", {
    args: ["-f", "-x", "-c", dir, "-s", sock, "-p", `${dir}/run/server.pid`],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    await waitUp(async () => {
      const out = await new Deno.Command("fail2ban-client", {
        args: ["-s", sock, "status", "sshd"],
        stdout: "null",
        stderr: "null",
      }).output();
      return out.success;
    }, "fail2ban-server");
    await sleep(3000);
    console.log(`fail2ban-server, 1 jail idle:       RSS ${mib(rss(child.pid))}`);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

if (!opts.only || opts.only === "f2b") await f2b();
if (!opts.only || opts.only === "fail2ban") await fail2ban();
