/**
 * A log file read by two threads (regex_parallel.ts) gives exactly the output
 * of one thread: on a generated sshd log (whose `<F-MLFID>` state crosses the
 * split), with the worker's state matching at once, only at a later
 * checkpoint, or never, and on fail2ban's sample logs when installed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { exists } from "../config/config_reader.ts";
import { runRegexCommand, type SplitTuning } from "./regex.ts";

const NOW = 1795627000; // 2026-11-25: the generated "Nov" dates lie in the past
const SAMPLES = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs";
const FILTERS = "/etc/fail2ban/filter.d";

/** A deterministic sshd auth log: the kinds of lines of ../shared/bench/gen_authlog.py, few pids (so ids repeat). */
function authLog(lines: number): string {
  let seed = 7;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const users = ["root", "admin", "test", "oracle"];
  const kinds = [
    (u: string, ip: string, p: number) =>
      `Failed password for invalid user ${u} from ${ip} port ${p} ssh2`,
    (u: string, ip: string, p: number) => `Failed password for ${u} from ${ip} port ${p} ssh2`,
    (u: string, ip: string, p: number) => `Invalid user ${u} from ${ip} port ${p}`,
    (u: string, ip: string, p: number) =>
      `Accepted publickey for ${u} from ${ip} port ${p} ssh2: RSA SHA256:abc`,
    (u: string) => `pam_unix(sshd:session): session opened for user ${u} by (uid=0)`,
    (u: string, ip: string, p: number) =>
      `Connection closed by authenticating user ${u} ${ip} port ${p} [preauth]`,
  ];
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const s = Math.floor(i / 3);
    const time = `Nov  1 ${String(Math.floor(s / 3600) % 24).padStart(2, "0")}:${
      String(Math.floor(s / 60) % 60).padStart(2, "0")
    }:${String(s % 60).padStart(2, "0")}`;
    const ip = `${1 + rnd(223)}.${rnd(256)}.${rnd(256)}.${1 + rnd(254)}`;
    const line = kinds[rnd(kinds.length)]!(users[rnd(users.length)]!, ip, 1024 + rnd(60000));
    out.push(`${time} host sshd[${100 + rnd(150)}]: ${line}`);
    if (i % 97 === 0) {
      out.push(`${time} host CRON[${rnd(9999)}]: pam_unix(cron:session): session closed`);
    }
  }
  return out.join("\n") + "\n";
}

async function regex(args: string[], split: SplitTuning): Promise<string> {
  let out = "";
  const code = await runRegexCommand(args, {
    stdout: (s) => (out += s),
    stderr: () => {},
    clock: { now: () => NOW },
    split,
  });
  assert.equal(code, 0, out);
  return out.replace(/\[processed in [\d.]+ sec\]/, "[processed in …]");
}

const haveSshd = exists(join(FILTERS, "sshd.conf"));

Deno.test({
  name: "regex split read: same output as one thread, whichever checkpoint matches",
  ignore: !haveSshd,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const log = join(dir, "auth.log");
      await Deno.writeTextFile(log, authLog(30000));
      const args = [log, join(FILTERS, "sshd.conf")];
      const alone = await regex(args, { off: true });
      assert.match(alone, /Lines: \d+ lines, [1-9]\d* ignored, [1-9]\d* matched, [1-9]\d* missed/);
      const cases: [SplitTuning, (cp: number) => boolean][] = [
        // enough uncounted lines: the worker's state is right at its first line
        [{ warmBytes: 256 << 10 }, (cp) => cp === 0],
        // none: the <F-MLFID> cache differs at first, then the oldest entries are gone
        [{ warmBytes: 0, checkpointBytes: 64 << 10 }, (cp) => cp > 0],
        // checkpoints too close to the start for the state to catch up: this thread reads on
        [{ warmBytes: 0, checkpointBytes: 1 }, (cp) => cp === -1],
      ];
      for (const [tuning, expect] of cases) {
        let used = -2;
        const split = await regex(args, {
          minBytes: 0,
          share: 0.5,
          checkpointBytes: 16 << 10,
          ...tuning,
          onSplit: (cp) => (used = cp),
        });
        assert.ok(expect(used), `${JSON.stringify(tuning)}: matched at checkpoint ${used}`);
        assert.equal(split, alone, JSON.stringify(tuning));
      }
      // the printed lists too
      const all = [...args, "--print-all-missed", "--print-all-ignored"];
      assert.equal(
        await regex(all, { minBytes: 0, share: 0.3, checkpointBytes: 16 << 10 }),
        await regex(all, { off: true }),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "regex split read: fail2ban's sample logs give the same output as one thread",
  ignore: !exists(SAMPLES),
  async fn() {
    let compared = 0;
    for await (const e of Deno.readDir(SAMPLES)) {
      const filter = join(FILTERS, `${e.name}.conf`);
      if (!e.isFile || !(exists(filter))) continue;
      const args = [join(SAMPLES, e.name), filter];
      const alone = await regex(args, { off: true });
      const split = await regex(args, { minBytes: 0, share: 0.5, checkpointBytes: 512 });
      assert.equal(split, alone, e.name);
      compared++;
    }
    assert.ok(compared > 50, `${compared} sample logs compared`);
  },
});

Deno.test("regex split read: lines on which a regex gave up are reported by their line number in the whole file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines = authLog(20000).trimEnd().split("\n");
    const hostile = `Nov  1 10:00:00 host sshd[1]: user ${"a".repeat(40)}! from 192.0.2.1`;
    lines.splice(Math.floor(lines.length * 0.8), 0, hostile);
    lines.splice(Math.floor(lines.length * 0.2), 0, hostile);
    const log = join(dir, "auth.log");
    await Deno.writeTextFile(log, lines.join("\n") + "\n");
    const expected = lines.flatMap((l, i) => (l === hostile ? [i + 1] : []));
    const run = async (split: SplitTuning) => {
      let err = "";
      let used = -2;
      const code = await runRegexCommand([log, "user (\\w+)+ from <HOST>"], {
        stdout: () => {},
        stderr: (s) => (err += s),
        clock: { now: () => NOW },
        split: { ...split, onSplit: (cp) => (used = cp) },
      });
      assert.equal(code, 0, err);
      return {
        used,
        numbers: [...err.matchAll(/^Line (\d+): failregex #1 /gm)].map((m) => +m[1]!),
      };
    };
    assert.deepEqual((await run({ off: true })).numbers, expected);
    const split = await run({ minBytes: 0, share: 0.5, checkpointBytes: 64 << 10 });
    assert.equal(split.used, 0, "the worker's counts were used");
    assert.deepEqual(split.numbers, expected);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
