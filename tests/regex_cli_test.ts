/**
 * `f2b regex` as a process: fail2ban's sample logs through the shipped
 * Debian filters, compared line for line with fail2ban-regex's summary when
 * fail2ban-regex is installed (the time taken and the expanded prefregex
 * text excepted), and a few runs on their own.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");
const SAMPLES = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs";
const V8_FLAGS =
  "--v8-flags=--enable-experimental-regexp-engine-on-excessive-backtracks,--allow-natives-syntax";

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[], stdin?: string) {
  const p = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { TZ: "Europe/Zurich" },
  }).spawn();
  if (stdin !== undefined) {
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const o = await p.output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

function f2b(args: string[]) {
  return run(Deno.execPath(), ["run", "-A", V8_FLAGS, join(REPO, "mod.ts"), "regex", ...args]);
}

async function hasFail2banRegex(): Promise<boolean> {
  try {
    return (await run("sh", ["-c", "command -v fail2ban-regex"])).code === 0;
  } catch {
    return false;
  }
}

/** Output without the lines that legitimately differ: elapsed time and the expanded prefregex. */
function comparable(out: string): string[] {
  const lines = out.split("\n");
  const keep: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.startsWith("[processed in ")) continue;
    if (lines[i - 1]?.startsWith("Prefregex: ")) continue;
    keep.push(l);
  }
  return keep;
}

const samplesPresent = await exists(SAMPLES) && await exists("/etc/fail2ban/filter.d/sshd.conf");
const reference = samplesPresent && await hasFail2banRegex();

Deno.test({
  name: "f2b regex prints the same summary as fail2ban-regex for fail2ban's sample logs",
  ignore: !reference,
  async fn() {
    const names = [
      "sshd",
      "apache-auth",
      "nginx-http-auth",
      "postfix",
      "dovecot",
      "guacamole",
      "pam-generic",
      "nsd",
    ];
    for (const name of names) {
      const log = join(SAMPLES, name);
      if (!(await exists(log)) || !(await exists(`/etc/fail2ban/filter.d/${name}.conf`))) continue;
      const [ours, theirs] = await Promise.all([
        f2b([log, name]),
        run("fail2ban-regex", [log, name]),
      ]);
      assert.equal(ours.code, 0, ours.err);
      assert.deepEqual(comparable(ours.out), comparable(theirs.out), `filter ${name}`);
    }
  },
});

Deno.test({
  name: "f2b regex --print-all-missed lists the same lines as fail2ban-regex",
  ignore: !reference,
  async fn() {
    const log = join(SAMPLES, "sshd");
    const args = ["--print-all-missed", "--print-all-matched", log, "sshd[mode=aggressive]"];
    const [ours, theirs] = await Promise.all([f2b(args), run("fail2ban-regex", args)]);
    assert.deepEqual(comparable(ours.out), comparable(theirs.out));
  },
});

Deno.test({
  name: "f2b regex -o id prints one id per failure as fail2ban-regex does",
  ignore: !reference,
  async fn() {
    const log = join(SAMPLES, "sshd");
    const args = ["-o", "id", log, "sshd"];
    const [ours, theirs] = await Promise.all([f2b(args), run("fail2ban-regex", args)]);
    assert.equal(ours.out, theirs.out);
  },
});

Deno.test({
  name: "f2b regex --json reports failures of a sample log with fail2ban's times",
  ignore: !samplesPresent,
  async fn() {
    const r = await f2b([
      "--json",
      "--now",
      "2005-08-14T12:00:00+02:00",
      join(SAMPLES, "sshd"),
      "sshd",
    ]);
    assert.equal(r.code, 0, r.err);
    const recs = r.out.trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(recs.length > 50);
    const first = recs[0];
    assert.equal(typeof first.line, "number");
    assert.equal(typeof first.time, "number");
    assert.ok(recs.every((x: { fid: string }) => typeof x.fid === "string" && x.fid.length > 0));
  },
});

Deno.test("f2b regex survives hostile input files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "f2b_regex_cli_" });
  try {
    const log = join(dir, "bad.log");
    const enc = new TextEncoder();
    const parts = [
      enc.encode("Aug 14 11:00:00 host x: fail from 192.0.2.1\r\n"),
      new Uint8Array([0xc3, 0x28, 0xa0, 0xa1, 0x00, 0x0a]),
      enc.encode(
        "Aug 14 11:00:01 host x: fail from 192.0.2.2 " + "A".repeat(10 * 1024 * 1024) + "\n",
      ),
      enc.encode("Aug 14 11:00:02 host x: fail from 192.0.2.3"),
    ];
    await Deno.writeFile(log, new Uint8Array(parts.flatMap((p) => [...p])));
    const r = await f2b(["--json", log, "fail from <HOST>"]);
    assert.equal(r.code, 0, r.err);
    const recs = r.out.trim().split("\n").map((l) =>
      JSON.parse(l) as { line: number; fid: string }
    );
    // the unterminated last line is left out, as fail2ban-regex does
    assert.deepEqual(recs.map((x) => [x.line, x.fid]), [[1, "192.0.2.1"], [3, "192.0.2.2"]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("f2b regex prints usage errors with exit code 255", async () => {
  const r = await f2b(["just-one-argument"]);
  assert.equal(r.code, 255);
  assert.match(r.err, /ERROR: provide both <LOG> and <REGEX>\./);
  assert.match(r.out, /^Usage: f2b regex/);
});

/** Runs `f2b regex LINE FILTER` on a hostile line: it must end soon, the line missed. */
async function hostileLine(line: string, filter: string) {
  const t0 = performance.now();
  const r = await f2b([line, filter]);
  const secs = (performance.now() - t0) / 1000;
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /Lines: 1 lines, 0 ignored, 0 matched, 1 missed/);
  assert.ok(secs < 30, `took ${secs} s`);
  return r;
}

Deno.test("f2b regex: a catastrophic regex on a hostile line ends in milliseconds (backtrack limit)", async () => {
  // without the limit this takes minutes: (a+)+ tries 2^40 ways before the "!"
  const r = await hostileLine(`x ${"a".repeat(40)}!`, "^x (a+)+<HOST>$");
  // and says so, on stderr (stdout stays what fail2ban-regex prints)
  assert.match(
    r.err,
    /^Line 1: failregex #1 \(failregex given on the command line\) gave up after 500000 backtracks, so the line counts as not matched: "x a+!"\n$/,
  );
});

Deno.test("f2b regex: a line of a log on which a regex gave up is named by its number; ordinary lines are not", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ok = Array.from(
      { length: 3000 },
      (_, i) =>
        `Mar  1 10:00:${String(i % 60).padStart(2, "0")} host x: user bob${i} from 192.0.2.${
          i % 250
        }`,
    );
    const log = join(dir, "mixed.log");
    await Deno.writeTextFile(
      log,
      [...ok, `Mar  1 10:01:00 host x: user ${"a".repeat(40)}! from 192.0.2.1`, ...ok].join("\n") +
        "\n",
    );
    const r = await f2b([log, "user (\\w+)+ from <HOST>$"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Lines: 6001 lines, 0 ignored, 6000 matched, 1 missed/);
    const reports = r.err.trim().split("\n");
    assert.equal(reports.length, 1, r.err);
    assert.match(reports[0]!, /^Line 3001: failregex #1 .* gave up after 500000 backtracks/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "f2b regex: fail2ban's own grafana filter on a hostile 1 KiB line ends in milliseconds",
  ignore: !await exists("/etc/fail2ban/filter.d/grafana.conf"),
  async fn() {
    // key=value pairs the failregex can split in exponentially many ways before
    // the line fails to end in an address: fail2ban-regex 1.0.2 was still
    // working on this one line after 60 s here
    const head = 't=2020-10-19T17:44:33+0200 lvl=eror msg="Invalid username or password" ';
    const line = (head + 'a="b" remote_addr='.repeat(60)).slice(0, 1024);
    const r = await hostileLine(line, "/etc/fail2ban/filter.d/grafana.conf");
    assert.match(
      r.err,
      /^Line 1: failregex #1 \(\/etc\/fail2ban\/filter.d\/grafana.conf \[Definition\] failregex line \d+\) gave up/,
    );
    // and the filter still matches a real line after it
    const ok = await f2b([
      head + "uname=bob remote_addr=192.0.2.7",
      "/etc/fail2ban/filter.d/grafana.conf",
    ]);
    assert.match(ok.out, /Lines: 1 lines, 0 ignored, 1 matched, 0 missed/);
  },
});
