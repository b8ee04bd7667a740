/**
 * Ban storm benchmark: 100,000 bans into the kernel with the shipped nftables action, through
 * the real ActionExecutor, which runs the action's batch form (one `nft -f -` transaction per
 * batch of queued bans), beside the per-address form (one `nft add element` process per ban)
 * timed on 2,000 addresses and extrapolated, in the same run.
 *
 * Runs in a network namespace of its own (root needed); nothing outside it is touched. The
 * script re-runs itself inside the namespace, so commands run exactly as the daemon runs them
 * (ShellCommandRunner, no wrapper).
 *
 *   deno run -A scripts/bench_nft_bulk.ts [--bans 100000] [--single 2000] [--batch 1000]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ActionExecutor } from "../src/actions/action_executor.ts";
import { type CommandRunner, ShellCommandRunner } from "../src/actions/command_runner.ts";
import { MemoryLogger } from "../src/log/types.ts";
import { SYSTEM_CLOCK } from "../src/util/clock.ts";
import { firewallSkipReason, loadAction, must, sh, ticket } from "../tests/_netns.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    bans: { type: "string", default: "100000" },
    single: { type: "string", default: "2000" },
    batch: { type: "string", default: "1000" },
    inner: { type: "boolean", default: false },
  },
});
const BANS = Number(values.bans);
const SINGLE = Number(values.single);
const MAX_BATCH = Number(values.batch);

const skip = await firewallSkipReason(["ip", "nft"]);
if (skip) {
  console.error(`bench_nft_bulk: cannot run: ${skip}`);
  Deno.exit(2);
}

/** The n-th address of 10.0.0.0/8 (n < 2^24), never a network or broadcast look-alike. */
function address(n: number): string {
  const v = n + 1;
  return `10.${(v >> 16) & 255}.${(v >> 8) & 255}.${v & 255}`;
}

/** Elements in the jail's set, counted in the kernel's answer. */
async function elementsInKernel(jail: string): Promise<number> {
  const out = await must(`nft -j list set ip f2b-${jail} banned`);
  const doc = JSON.parse(out) as { nftables: Array<{ set?: { elem?: unknown[] } }> };
  return doc.nftables.reduce((n, o) => n + (o.set?.elem?.length ?? 0), 0);
}

interface Result {
  seconds: number;
  inKernel: number;
  commands: number;
}

/** Bans `count` addresses in jail `jail` the way a ban storm does; `together` queues them all at once. */
async function run(jail: string, count: number, together: boolean): Promise<Result> {
  let commands = 0;
  const shell = new ShellCommandRunner();
  const runner: CommandRunner = {
    run(command, options) {
      commands++;
      return shell.run(command, options);
    },
  };
  const logger = new MemoryLogger();
  const ex = new ActionExecutor({
    runner,
    logger,
    clock: SYSTEM_CLOCK,
    maxBatch: MAX_BATCH,
    resolveHost: () => Promise.resolve(""),
  });
  await ex.startJail(jail, [loadAction("nftables[port=ssh]", jail)]);
  const tickets = Array.from({ length: count }, (_, i) => ticket(jail, address(i)));
  const started = performance.now();
  let ok = 0;
  if (together) {
    const results = await Promise.all(tickets.map((t) => ex.ban(t)));
    ok = results.filter((r) => r).length;
  } else {
    for (const t of tickets) if (await ex.ban(t)) ok++;
  }
  const seconds = (performance.now() - started) / 1000;
  const errors = logger.messages("ERROR");
  if (ok !== count || errors.length) {
    throw new Error(`${count - ok} bans failed: ${errors.slice(0, 3).join("\n")}`);
  }
  const result = {
    seconds,
    inKernel: await elementsInKernel(jail),
    commands: commands - 1,
  };
  await ex.stopJail(jail, []);
  return result;
}

if (!values.inner) {
  const ns = `f2bbench${Deno.pid}`;
  await must(`ip netns add ${ns} && ip -n ${ns} link set lo up`);
  try {
    const self = new URL(import.meta.url).pathname;
    const st = await new Deno.Command("ip", {
      args: ["netns", "exec", ns, Deno.execPath(), "run", "-A", self, "--inner", ...Deno.args],
    }).spawn().status;
    Deno.exitCode = st.code;
  } finally {
    await sh(`ip netns del ${ns}`);
  }
} else {
  const bulk = await run("bulk", BANS, true);
  const single = await run("single", SINGLE, false);
  const perBan = single.seconds / SINGLE;
  const nftVersion = (await sh("nft --version")).stdout.trim();
  console.log(
    `nftables ban storm (${nftVersion}, Deno ${Deno.version.deno}, batches of ${MAX_BATCH})`,
  );
  console.log(
    `  batch form:       ${BANS} bans in ${bulk.seconds.toFixed(2)} s ` +
      `(${
        Math.round(BANS / bulk.seconds)
      } bans/s, ${bulk.commands} commands, ${bulk.inKernel} in the kernel set)`,
  );
  console.log(
    `  per-address form: ${SINGLE} bans in ${single.seconds.toFixed(2)} s ` +
      `(${(perBan * 1000).toFixed(2)} ms each, ${single.inKernel} in the kernel set)`,
  );
  console.log(
    `  per-address form extrapolated: ${BANS} bans in ${(perBan * BANS).toFixed(0)} s ` +
      `(${((perBan * BANS) / bulk.seconds).toFixed(0)}x the batch form)`,
  );
  console.log(`  target: ${BANS} bans within 2 s: ${bulk.seconds <= 2 ? "met" : "NOT met"}`);
  if (bulk.inKernel !== BANS || single.inKernel !== SINGLE) {
    console.error("bench_nft_bulk: the kernel set does not hold every ban");
    Deno.exitCode = 1;
  }
}
