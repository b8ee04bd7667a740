/**
 * SECURITY.md items 4 and 16 with real processes: a hanging action that
 * ignores SIGTERM is killed with its children; a failing action's stderr is
 * logged and the ban reported as failed; other jails go on; log text reaches
 * commands literally.
 */
import assert from "node:assert/strict";
import { groupMembers } from "./_process_group.ts";
import { testTicket } from "./_jail_spec.ts";
import { ActionExecutor } from "../src/actions/action_executor.ts";
import { ShellCommandRunner } from "../src/actions/command_runner.ts";
import type { ActionSpec } from "../src/config/types.ts";
import type { BanTicket } from "../src/ipc/messages.ts";
import { MemoryLogger } from "../src/log/types.ts";
import { ManualClock } from "../src/util/clock.ts";

function action(
  name: string,
  commands: Record<string, string>,
  properties: Record<string, string> = {},
  timeout = 10,
): ActionSpec {
  return { name, kind: name, file: null, commands, properties, familyProperties: {}, timeout };
}

function ticket(jail: string, fid: string, over: Partial<BanTicket> = {}): BanTicket {
  return testTicket({ jail, fid, ...over });
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a hanging action that ignores SIGTERM is killed with its children; the next jail goes on", async () => {
  await withDir(async (dir) => {
    const logger = new MemoryLogger();
    const exec = new ActionExecutor({
      runner: new ShellCommandRunner({ killGrace: 0.5 }),
      logger,
      clock: new ManualClock(0),
    });
    const hang = action(
      "hang",
      {
        // The shell and a background child both ignore SIGTERM.
        actionban:
          `echo $$ > ${dir}/pgid; trap '' TERM; (trap '' TERM; sleep 1000; echo child-survived > ${dir}/child) & sleep 1000; echo shell-survived > ${dir}/shell`,
      },
      {},
      1,
    );
    const ok = action("ok", { actionban: `echo <ip> > ${dir}/other` });
    await exec.startJail("slow", [hang]);
    await exec.startJail("fast", [ok]);
    const started = performance.now();
    const [slow, fast] = await Promise.all([
      exec.ban(ticket("slow", "192.0.2.1")),
      exec.ban(ticket("fast", "192.0.2.2")),
    ]);
    const elapsed = (performance.now() - started) / 1000;
    assert.equal(slow, false);
    assert.equal(fast, true, "the other jail's ban ran after the timeout");
    assert.equal((await Deno.readTextFile(`${dir}/other`)).trim(), "192.0.2.2");
    // Bounded by timeout + grace (1 + 0.5 s) plus process start-up, far below the 1000 s sleeps.
    assert.ok(elapsed < 10, `took ${elapsed} s`);
    const pgid = Number((await Deno.readTextFile(`${dir}/pgid`)).trim());
    assert.ok(pgid > 1);
    assert.deepEqual(groupMembers(pgid), [], "no process of the action's group is left");
    await assert.rejects(Deno.stat(`${dir}/child`), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(`${dir}/shell`), Deno.errors.NotFound);
    const errors = logger.messages("ERROR");
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.match(
      errors[0]!,
      /^\[slow\] Error executing action "hang" actionban for "192\.0\.2\.1": timed out after 1 seconds, process group killed -- command: /,
    );
  });
});

Deno.test("a failing action's stderr is logged and the ban is reported failed", async () => {
  const logger = new MemoryLogger();
  const exec = new ActionExecutor({
    runner: new ShellCommandRunner(),
    logger,
    clock: new ManualClock(0),
  });
  await exec.startJail("sshd", [
    action("iptables-multiport", {
      actionban: "echo 'iptables v1.8.9: chain f2b-sshd does not exist' >&2; exit 1",
    }),
  ]);
  assert.equal(await exec.ban(ticket("sshd", "192.0.2.1")), false);
  const errors = logger.messages("ERROR");
  // No actioncheck: fail2ban retries the command once.
  assert.equal(errors.length, 2);
  assert.equal(
    errors[0],
    `[sshd] Error executing action "iptables-multiport" actionban for "192.0.2.1": exit code 1 -- command: "echo 'iptables v1.8.9: chain f2b-sshd does not exist' >&2; exit 1" -- stderr: "iptables v1.8.9: chain f2b-sshd does not exist"`,
  );
});

Deno.test("a missing command is logged with the shell's complaint", async () => {
  const logger = new MemoryLogger();
  const exec = new ActionExecutor({
    runner: new ShellCommandRunner(),
    logger,
    clock: new ManualClock(0),
  });
  await exec.startJail("sshd", [action("gone", { actionstart: "/nonexistent/f2b-tool start" })]);
  assert.match(
    logger.messages("ERROR")[0]!,
    /exit code 127 .*stderr: ".*nonexistent\/f2b-tool.*not found/,
  );
});

Deno.test("hostile log text in matches and captures is echoed literally by a real action", async () => {
  await withDir(async (dir) => {
    const hostile = [
      "`touch CANARY`",
      "$(touch CANARY)",
      "x; touch CANARY",
      "x | touch CANARY",
      "x && touch CANARY &",
      `'"; touch CANARY; echo "'`,
      "a\nb\n; touch CANARY",
      "~!$HOME ${PATH}",
    ];
    const exec = new ActionExecutor({
      runner: new ShellCommandRunner(),
      logger: new MemoryLogger(),
      clock: new ManualClock(0),
    });
    await exec.startJail("sshd", [
      action("echo", {
        actionban:
          `cd <dir> && printf '%s' "<matches>" > <dir>/matches && printf '%s' '<F-USER>' > <dir>/user && printf '%s' <ip> > <dir>/ip`,
      }, { dir }),
    ]);
    for (const value of hostile) {
      const t = ticket("sshd", value, {
        family: null,
        matches: [value, value],
        data: { user: value },
      });
      assert.equal(await exec.ban(t), true, value);
      assert.equal(await Deno.readTextFile(`${dir}/matches`), `${value}\n${value}`);
      assert.equal(await Deno.readTextFile(`${dir}/user`), value);
      assert.equal(await Deno.readTextFile(`${dir}/ip`), value);
      await assert.rejects(Deno.stat(`${dir}/CANARY`), Deno.errors.NotFound, value);
    }
  });
});
