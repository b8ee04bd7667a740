/**
 * SECURITY.md item 16 in the real server: an action that hangs and ignores
 * SIGTERM (its whole process group is killed at the timeout, the ban stays
 * recorded as pending and the retry applies it), and a missing command (its
 * stderr logged); other jails ban meanwhile.
 */

import assert from "node:assert/strict";
import {
  append,
  bans,
  fail,
  lines,
  read,
  row,
  Server,
  waitFor,
  withDir,
  writeConfig,
} from "./security_harness.ts";

/** Command lines of live processes whose argv contains `needle`. */
function processesWith(needle: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).replaceAll("\0", " ");
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      // Zombies have been killed already; only their parent has not reaped them.
      if (cmd.includes(needle) && !/\) Z /.test(stat)) out.push(`${e.name}: ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

Deno.test("an action hanging and ignoring SIGTERM is killed with its group; the ban stays pending, is retried, and other jails go on", async () => {
  await withDir(async (dir) => {
    const tag = `${Date.now() % 100000 + 7000}`;
    await writeConfig(dir, [
      { name: "stuck", action: "stubborn" },
      { name: "missing", action: "missing" },
      { name: "calm" },
    ]);
    // First attempt: ignore SIGTERM (inherited by the child sleep too) and hang with a child;
    // later attempts succeed.
    await Deno.writeTextFile(
      `${dir}/action.d/stubborn.conf`,
      `[Definition]
actionban = if [ -e ${dir}/tried ]; then echo "ban <name> <ip>" >> ${dir}/actions.txt; else touch ${dir}/tried; trap '' TERM; echo "stubborn on <ip>" >&2; sleep ${tag} & sleep ${tag}; fi
actionunban = echo "unban <name> <ip>" >> ${dir}/actions.txt

[Init]
timeout = 1
`,
    );
    await Deno.writeTextFile(
      `${dir}/action.d/missing.conf`,
      `[Definition]
actionban = /nonexistent/f2b-firewall-tool add <ip>
actionunban =
`,
    );
    const server = new Server(dir);
    try {
      await server.ready(["stuck", "missing", "calm"]);
      await append(`${dir}/stuck.log`, fail("192.0.2.1").repeat(2));
      await append(`${dir}/missing.log`, fail("192.0.2.2").repeat(2));
      await waitFor(
        () => read(`${dir}/tried`) === "" && processesWith(`sleep ${tag}`).length > 0,
        "the hang",
        () => server.log(),
      );
      // While it hangs, the other jail bans.
      await append(`${dir}/calm.log`, fail("192.0.2.3").repeat(2));
      await waitFor(
        () => bans(dir).includes("ban calm 192.0.2.3"),
        "ban in calm",
        () => server.log(),
      );
      // The stubborn group is killed at its timeout, then the retry bans.
      await waitFor(
        () => bans(dir).includes("ban stuck 192.0.2.1"),
        "retried ban",
        () => server.log(),
      );
      assert.match(server.log(), /\[stuck\].*timed out after 1 seconds, process group killed/);
      assert.match(server.log(), /\[stuck\] Ban of 192\.0\.2\.1 is pending/);
      // What the command wrote to stderr before it hung is in the error.
      assert.match(server.log(), /timed out[^\n]*stubborn on 192\.0\.2\.1/);
      await waitFor(
        () => processesWith(`sleep ${tag}`).length === 0,
        "no sleep left",
        () => processesWith(`sleep ${tag}`).join("\n"),
      );
      // The missing command: its shell's complaint is logged, the ban kept as pending.
      await waitFor(
        () =>
          /\[missing\][^\n]*nonexistent\/f2b-firewall-tool[^\n]*(not found|No such file)/.test(
            server.log(),
          ),
        "the missing command's stderr logged",
        () => server.log(),
      );
      assert.deepEqual(row(await server.command("status", "missing"), "Banned IP list"), [
        "192.0.2.2",
      ]);
      assert.deepEqual(row(await server.command("status", "stuck"), "Banned IP list"), [
        "192.0.2.1",
      ]);
      // One ban each: the retry did not run twice once it succeeded.
      assert.equal(bans(dir).filter((b) => b.startsWith("ban stuck")).length, 1);
      assert.equal(await server.stop(), 0);
      assert.ok(
        lines(`${dir}/actions.txt`).includes("unban stuck 192.0.2.1"),
        "stop removes the ban",
      );
    } finally {
      await server.stop();
    }
  });
});
