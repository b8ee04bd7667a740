/**
 * Running action commands. {@link ShellCommandRunner} runs `/bin/sh -c` in a
 * process group of its own (through `setsid`), stdin closed, output captured
 * up to a cap; on timeout the whole group gets SIGTERM, then SIGKILL after a
 * grace period, so a child that ignores SIGTERM or was left in the
 * background dies too. {@link FakeCommandRunner} records commands for tests.
 *
 * @module
 */

/** The outcome of one command. */
export interface CommandResult {
  /** Exit code, or null when the command could not start or was killed by a signal. */
  code: number | null;
  /** Captured standard output (capped). */
  stdout: string;
  /** Captured standard error (capped); the reason when the command could not start. */
  stderr: string;
  /** True when the command ran out of time and its process group was killed. */
  timedOut: boolean;
}

/** How to run one command. */
export interface CommandRunOptions {
  /** Variables added to the daemon's environment for this command. */
  env: Record<string, string>;
  /** Seconds before the command's process group is killed. */
  timeout: number;
}

/** Something that runs shell commands. */
export interface CommandRunner {
  /** Runs `command` with `/bin/sh -c`; never throws for a failing command. */
  run(command: string, options: CommandRunOptions): Promise<CommandResult>;
}

/** Options of {@link ShellCommandRunner}. */
export interface ShellCommandRunnerOptions {
  /** Seconds between SIGTERM and SIGKILL after a timeout. @default 1 */
  killGrace?: number;
  /** Bytes of stdout and of stderr kept; the rest is read and dropped. @default 65536 */
  outputLimit?: number;
  /** The shell. @default "/bin/sh" */
  shell?: string;
}

/** Reads a stream to its end keeping at most `limit` bytes. */
async function readCapped(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  signal: AbortSignal,
): Promise<string> {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let dropped = false;
  const reader = stream.getReader();
  const onAbort = () => reader.cancel().catch(() => {});
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (kept < limit) {
        const part = value.subarray(0, limit - kept);
        chunks.push(part);
        kept += part.length;
        if (part.length < value.length) dropped = true;
      } else dropped = true;
    }
  } catch {
    // Cancelled after the process group was killed: keep what was read.
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  const bytes = new Uint8Array(kept);
  let off = 0;
  for (const c of chunks) {
    bytes.set(c, off);
    off += c.length;
  }
  const text = new TextDecoder().decode(bytes);
  return dropped ? text + "\n[output truncated]" : text;
}

/** Sends `signal` to the process group `pgid`, ignoring a group already gone. */
function killGroup(pgid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pgid, signal);
  } catch {
    // The group has no members left.
  }
}

/** True while a live (not zombie) process of group `pgid` exists; Linux reads /proc, elsewhere a signal probe. */
function groupAlive(pgid: number): boolean {
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync("/proc");
  } catch {
    try {
      Deno.kill(-pgid, "SIGCONT");
      return true;
    } catch {
      return false;
    }
  }
  for (const e of entries) {
    const c = e.name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      // After "(comm) ": state ppid pgrp …
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ", 3);
      if (fields[0] !== "Z" && Number(fields[2]) === pgid) return true;
    } catch {
      // Gone while reading.
    }
  }
  return false;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs commands with `setsid /bin/sh -c` and kills the whole group on timeout. */
export class ShellCommandRunner implements CommandRunner {
  readonly #killGrace: number;
  readonly #outputLimit: number;
  readonly #shell: string;

  /** Builds a runner. */
  constructor(options: ShellCommandRunnerOptions = {}) {
    this.#killGrace = options.killGrace ?? 1;
    this.#outputLimit = options.outputLimit ?? 65536;
    this.#shell = options.shell ?? "/bin/sh";
  }

  /** Runs `command`; resolves when the command ended or its group was killed. */
  async run(command: string, options: CommandRunOptions): Promise<CommandResult> {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command("setsid", {
        args: [this.#shell, "-c", command],
        env: options.env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (e) {
      return {
        code: null,
        stdout: "",
        stderr: `Cannot run "${this.#shell}": ${(e as Error).message}`,
        timedOut: false,
      };
    }
    // setsid execs in place (the child is no group leader), so pid = pgid.
    const pgid = child.pid;
    const cancelReads = new AbortController();
    const stdout = readCapped(child.stdout, this.#outputLimit, cancelReads.signal);
    const stderr = readCapped(child.stderr, this.#outputLimit, cancelReads.signal);
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), Math.max(0, options.timeout) * 1000);
    });
    const outputDone = Promise.all([stdout, stderr]);
    try {
      // The command is over when the shell exits and every holder of its pipes closed them.
      const first = await Promise.race([
        Promise.all([child.status, outputDone]).then(() => "done" as const),
        expired,
      ]);
      if (first === "timeout") {
        timedOut = true;
        killGroup(pgid, "SIGTERM");
        const graceEnd = Date.now() + this.#killGrace * 1000;
        while (Date.now() < graceEnd && groupAlive(pgid)) await delay(20);
        killGroup(pgid, "SIGKILL");
        // Members killed: the pipes close; cancel in case something else holds them.
        const settle = await Promise.race([outputDone.then(() => true), delay(500)]);
        if (!settle) cancelReads.abort();
      }
    } finally {
      clearTimeout(timer);
    }
    const status = await child.status;
    const [out, err] = await outputDone;
    return {
      code: timedOut ? null : status.signal ? null : status.code,
      stdout: out,
      stderr: err,
      timedOut,
    };
  }
}

/** One command seen by {@link FakeCommandRunner}. */
export interface FakeCall {
  command: string;
  env: Record<string, string>;
  timeout: number;
}

/** A scripted answer of {@link FakeCommandRunner}. */
export type FakeResponder = (call: FakeCall) => Partial<CommandResult> | undefined;

/** Records commands and answers success unless a responder says otherwise. */
export class FakeCommandRunner implements CommandRunner {
  /** Every command run, in order. */
  readonly calls: FakeCall[] = [];
  #responders: FakeResponder[] = [];

  /** Adds a responder; the first one returning a result wins. */
  respond(responder: FakeResponder): void {
    this.#responders.push(responder);
  }

  /** Makes every command containing `fragment` fail with `stderr`. */
  failWhen(fragment: string, stderr = "failed", code = 1): void {
    this.respond((c) => c.command.includes(fragment) ? { code, stderr } : undefined);
  }

  /** Records the call and answers. */
  run(command: string, options: CommandRunOptions): Promise<CommandResult> {
    const call = { command, env: { ...options.env }, timeout: options.timeout };
    this.calls.push(call);
    for (const r of this.#responders) {
      const res = r(call);
      if (res) {
        return Promise.resolve({ code: 0, stdout: "", stderr: "", timedOut: false, ...res });
      }
    }
    return Promise.resolve({ code: 0, stdout: "", stderr: "", timedOut: false });
  }

  /** The commands run so far. */
  commands(): string[] {
    return this.calls.map((c) => c.command);
  }
}
