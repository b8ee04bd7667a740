import assert from "node:assert/strict";
import { groupMembers } from "../../tests/_process_group.ts";
import { ShellCommandRunner } from "./command_runner.ts";

const HOSTILE = [
  'it\'s `reboot` $(reboot) ; | & ~! "q" \\ $HOME',
  "line 1\nline 2\n",
  "'",
  "'\\''",
  "",
  "trailing backslash \\",
  "\r\n\t é \u{1F600}",
];

/** Process group of `pid` (Linux /proc), or null when it is gone. */
function groupOf(pid: number): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
  } catch {
    return null;
  }
}

Deno.test("ShellCommandRunner with spares runs a command in a shell started before it", async () => {
  const runner = new ShellCommandRunner({ spares: 2 });
  try {
    const waiting = runner.sparePids;
    assert.equal(waiting.length, 2);
    // Each spare leads its own process group (once setsid ran).
    for (const pid of waiting) {
      for (let i = 0; i < 1000 && groupOf(pid) !== pid; i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(groupOf(pid), pid);
    }
    const r = await runner.run("echo $$", { env: {}, timeout: 10 });
    assert.equal(r.code, 0);
    assert.ok(waiting.includes(Number(r.stdout.trim())), `${r.stdout} not in ${waiting}`);
    // A replacement is started.
    for (let i = 0; i < 1000 && runner.sparePids.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(runner.sparePids.length, 2);
    assert.ok(!runner.sparePids.includes(Number(r.stdout.trim())));
  } finally {
    await runner.close();
  }
});

Deno.test("ShellCommandRunner with spares passes hostile environment values literally", async () => {
  const runner = new ShellCommandRunner({ spares: 1 });
  try {
    for (const value of HOSTILE) {
      const r = await runner.run(`printf '%s' "$F2B_VALUE"; printf '|%s' "$F2B_OTHER"`, {
        env: { F2B_VALUE: value, F2B_OTHER: "x" },
        timeout: 10,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${value}|x`);
      assert.equal(r.stderr, "");
    }
  } finally {
    await runner.close();
  }
});

Deno.test("ShellCommandRunner with spares: exit codes, stderr, stdin at /dev/null, multi-line commands", async () => {
  const runner = new ShellCommandRunner({ spares: 1 });
  try {
    const fail = await runner.run("echo out; echo err >&2; exit 3", { env: {}, timeout: 10 });
    assert.deepEqual(fail, { code: 3, stdout: "out\n", stderr: "err\n", timedOut: false });
    const stdin = await runner.run("cat; echo done", { env: {}, timeout: 10 });
    assert.equal(stdin.stdout, "done\n");
    const multi = await runner.run("a=1\nif [ $a = 1 ]; then\n  echo yes\nfi # comment", {
      env: {},
      timeout: 10,
    });
    assert.equal(multi.stdout, "yes\n");
    const here = await runner.run("cat <<EOF\nhere $((1 + 1))\nEOF", { env: {}, timeout: 10 });
    assert.equal(here.stdout, "here 2\n");
    const bad = await runner.run("echo before; if then", { env: {}, timeout: 10 });
    assert.notEqual(bad.code, 0);
    // The same $0 and no positional parameters, as with `sh -c`.
    const cold = await new ShellCommandRunner().run('echo "$0 $# [$1]"', { env: {}, timeout: 10 });
    const warm = await runner.run('echo "$0 $# [$1]"', { env: {}, timeout: 10 });
    assert.equal(warm.stdout, cold.stdout);
    assert.equal(warm.stdout, "/bin/sh 0 []\n");
    // The loader's variables are not visible to the command.
    const clean = await runner.run(
      'echo "[${__f2b_s-unset}][${__f2b_l-unset}][${__f2b_ok-unset}]"',
      {
        env: {},
        timeout: 10,
      },
    );
    assert.equal(clean.stdout, "[unset][unset][unset]\n");
  } finally {
    await runner.close();
  }
});

Deno.test("ShellCommandRunner with spares kills the whole group of a spare that times out", async () => {
  const dir = await Deno.makeTempDir();
  const runner = new ShellCommandRunner({ spares: 1, killGrace: 0.3 });
  try {
    const r = await runner.run(
      `echo $$ > ${dir}/pgid; trap '' TERM; (trap '' TERM; sleep 1000) & sleep 1000`,
      { env: {}, timeout: 0.5 },
    );
    assert.equal(r.timedOut, true);
    assert.equal(r.code, null);
    const pgid = Number(Deno.readTextFileSync(`${dir}/pgid`).trim());
    assert.ok(pgid > 1);
    assert.deepEqual(groupMembers(pgid), []);
  } finally {
    await runner.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ShellCommandRunner with spares starts a fresh shell for big or odd environments and dead spares", async () => {
  const runner = new ShellCommandRunner({ spares: 1 });
  try {
    const big = "x".repeat(20_000);
    const waiting = runner.sparePids;
    const r = await runner.run('echo $$; printf %s "$F2B_BIG" | wc -c', {
      env: { F2B_BIG: big },
      timeout: 10,
    });
    const [pid, size] = r.stdout.trim().split("\n");
    assert.ok(!waiting.includes(Number(pid)));
    assert.equal(Number(size), 20_000);
    // The spare is still there, unused.
    assert.deepEqual(runner.sparePids, waiting);
    // A spare killed while it waits is replaced by a fresh shell.
    Deno.kill(waiting[0]!, "SIGKILL");
    while (groupMembers(waiting[0]!).length > 0) await new Promise((r) => setTimeout(r, 5));
    const after = await runner.run("echo ok", { env: {}, timeout: 10 });
    assert.equal(after.code, 0);
    assert.equal(after.stdout, "ok\n");
  } finally {
    await runner.close();
  }
});

Deno.test("ShellCommandRunner.close ends the spares; later commands still run", async () => {
  const runner = new ShellCommandRunner({ spares: 2 });
  const pids = runner.sparePids;
  await runner.close();
  for (const pid of pids) assert.equal(groupMembers(pid).length, 0);
  assert.deepEqual(runner.sparePids, []);
  const r = await runner.run("echo still", { env: {}, timeout: 10 });
  assert.equal(r.stdout, "still\n");
});

Deno.test("ShellCommandRunner with spares refills the pool after a burst", async () => {
  const runner = new ShellCommandRunner({ spares: 4 });
  try {
    const first = runner.sparePids;
    const pids: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await runner.run("echo $$", { env: {}, timeout: 10 });
      pids.push(Number(r.stdout.trim()));
    }
    // The first commands ran in the shells started up front.
    assert.deepEqual(pids.slice(0, 2), first.slice(0, 2));
    for (let i = 0; i < 1000 && runner.sparePids.length < 4; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(runner.sparePids.length, 4);
    for (const pid of pids) assert.ok(!runner.sparePids.includes(pid));
  } finally {
    await runner.close();
  }
});
