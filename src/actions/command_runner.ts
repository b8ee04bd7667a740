/**
 * Running action commands. {@link ShellCommandRunner} runs `/bin/sh -c` in a
 * process group of its own (through `setsid`), stdin closed, output captured
 * up to a cap; on timeout the whole group gets SIGTERM, then SIGKILL after a
 * grace period, so a child that ignores SIGTERM or was left in the
 * background dies too. {@link FakeCommandRunner} records commands for tests.
 *
 * Starting `setsid` and the shell costs two program starts (1.5 to 10 ms on a
 * busy host) before a ban command does anything, and bans queue behind each
 * other in the serialized executor. With `spares`, the runner keeps that many
 * shells already started (each `setsid /bin/sh` in its own session, waiting
 * on its stdin) and hands a command to one of them: the command's environment
 * as `export NAME='value'` lines (single-quoted, so log text stays literal)
 * and the command itself, then end of input; the shell reads it all, points
 * its stdin at /dev/null and runs it with `eval`. A replacement is started
 * once a spare is taken.
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
  /**
   * Shells kept started and waiting for a command; 0 starts every command anew. A runner with
   * spares must be {@link ShellCommandRunner.close}d. @default 0
   */
  spares?: number;
}

/**
 * What a spare shell runs: read the script from stdin up to a line equal to `$1` (a random token
 * of the runner), then run it with stdin at /dev/null; input that ends without the token runs
 * nothing. Fixed text: nothing of a command or its values is ever part of it. `read` takes a pipe
 * byte by byte, so scripts are kept small ({@link MAX_SPARE_SCRIPT}).
 */
const SPARE_LOADER = `__f2b_s= __f2b_ok=
while IFS= read -r __f2b_l; do
  if [ "$__f2b_l" = "$1" ]; then __f2b_ok=1; break; fi
  __f2b_s="$__f2b_s$__f2b_l
"
done
unset __f2b_l
exec </dev/null
[ "$__f2b_ok" = 1 ] || exit 0
unset __f2b_ok
shift
eval "$__f2b_s"`;

/**
 * Largest script handed to a spare, in bytes: well below a pipe's 64 KiB, so it is written in one
 * go into the empty pipe whether or not the shell reads yet. A write that fails then means the
 * shell was gone before reading anything, and the command can safely run in a new shell.
 */
const MAX_SPARE_SCRIPT = 16 * 1024;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Below this many spares, a replacement starts even while a command runs. */
const LOW_SPARES = 2;

/** `value` as one single-quoted shell word: every byte literal. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * The script a spare runs for `command`, ended by the `token` line; null when it cannot take it
 * (odd names, NUL, the token inside, too big).
 */
function spareScript(
  command: string,
  env: Record<string, string>,
  token: string,
): Uint8Array | null {
  if (command.includes("\0") || command.includes(token)) return null;
  let script = "unset __f2b_s\n";
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name) || value.includes("\0") || value.includes(token)) return null;
    script += `export ${name}=${shellQuote(value)}\n`;
  }
  script += command;
  script += `\n${token}\n`;
  if (script.length > MAX_SPARE_SCRIPT) return null;
  const bytes = new TextEncoder().encode(script);
  return bytes.length > MAX_SPARE_SCRIPT ? null : bytes;
}

interface Spare {
  child: Deno.ChildProcess;
  exited: boolean;
  /** Inode of the pipe on its stdin (Linux /proc), to write the script without an async op. */
  pipe: number | null;
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
  readonly #spareCount: number;
  #spares: Spare[] = [];
  #closed = false;
  /** Commands running now (a refill waits until none is, unless spares run low). */
  #running = 0;
  #refillTimer: ReturnType<typeof setTimeout> | undefined;
  /** Ends a script for the spares (random, so no log text can contain it). */
  readonly #token = `__f2b_end_${crypto.randomUUID().replaceAll("-", "")}`;

  /** Builds a runner; with `spares`, starts them. */
  constructor(options: ShellCommandRunnerOptions = {}) {
    this.#killGrace = options.killGrace ?? 1;
    this.#outputLimit = options.outputLimit ?? 65536;
    this.#shell = options.shell ?? "/bin/sh";
    this.#spareCount = Math.max(0, Math.trunc(options.spares ?? 0));
    while (this.#spares.length < this.#spareCount && this.#spawnSpare());
  }

  /** Process ids of the spare shells waiting for a command (each the leader of its group). */
  get sparePids(): number[] {
    return this.#spares.filter((s) => !s.exited).map((s) => s.child.pid);
  }

  /** Ends the spare shells (they read an empty script and exit); later commands start anew. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#refillTimer);
    this.#refillTimer = undefined;
    const spares = this.#spares;
    this.#spares = [];
    await Promise.all(spares.map(async ({ child }) => {
      child.ref();
      try {
        await child.stdin.close();
      } catch {
        // Already gone.
      }
      await Promise.all([
        child.status,
        child.stdout.cancel().catch(() => {}),
        child.stderr.cancel().catch(() => {}),
      ]);
    }));
  }

  /**
   * Starts one spare per timer turn until there are enough. Starting a process blocks this thread
   * until the child has exec'd (milliseconds on a busy host), which would delay noticing that a
   * running command ended: so spares are started while no command runs, unless fewer than
   * {@link LOW_SPARES} are left (a long ban storm), when they are started at once.
   */
  #scheduleRefill(): void {
    if (this.#closed || this.#refillTimer !== undefined) return;
    if (this.#spares.length >= this.#spareCount) return;
    const timer = setTimeout(() => {
      this.#refillTimer = undefined;
      if (this.#closed) return;
      // Busy: the end of the running command schedules again.
      if (this.#running > 0 && this.#spares.length >= LOW_SPARES) return;
      if (this.#spawnSpare()) this.#scheduleRefill();
    }, 0);
    Deno.unrefTimer(timer);
    this.#refillTimer = timer;
  }

  /** Starts one spare; false when it cannot be started. */
  #spawnSpare(): boolean {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command("setsid", {
        args: [this.#shell, "-c", SPARE_LOADER, this.#shell, this.#token],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch {
      return false;
    }
    // A waiting spare must not keep the process alive.
    child.unref();
    let pipe: number | null = null;
    try {
      pipe = Deno.statSync(`/proc/${child.pid}/fd/0`).ino;
    } catch {
      // No /proc: scripts go through the stream.
    }
    const spare: Spare = { child, exited: false, pipe };
    child.status.then(() => (spare.exited = true));
    this.#spares.push(spare);
    return true;
  }

  /** A live spare, or null; spares that died while waiting are dropped. */
  #takeSpare(): Spare | null {
    while (this.#spares.length > 0) {
      const spare = this.#spares.shift()!;
      if (!spare.exited) return spare;
      spare.child.stdout.cancel().catch(() => {});
      spare.child.stderr.cancel().catch(() => {});
    }
    return null;
  }

  /**
   * Writes the script to a spare; false when the shell was gone. On Linux the write is
   * synchronous, through the spare's own end of the pipe in /proc (checked to be the same pipe):
   * an async write would wait for this thread's event loop, behind worker messages.
   */
  async #handOver(spare: Spare, script: Uint8Array): Promise<boolean> {
    const { child, pipe } = spare;
    if (pipe !== null) {
      let file: Deno.FsFile | null = null;
      try {
        file = Deno.openSync(`/proc/${child.pid}/fd/0`, { write: true });
        // A pid reused after the spare died has another stdin.
        if (file.statSync().ino !== pipe) return false;
        let off = 0;
        while (off < script.length) off += file.writeSync(script.subarray(off));
        child.stdin.close().catch(() => {});
        return true;
      } catch {
        // Gone, or /proc refused: try the stream.
      } finally {
        file?.close();
      }
    }
    const writer = child.stdin.getWriter();
    try {
      await Promise.all([writer.write(script), writer.close()]);
      return true;
    } catch {
      return false;
    }
  }

  /** Runs `command`; resolves when the command ended or its group was killed. */
  async run(command: string, options: CommandRunOptions): Promise<CommandResult> {
    this.#running++;
    try {
      return await this.#run(command, options);
    } finally {
      this.#running--;
      if (this.#spareCount > 0) this.#scheduleRefill();
    }
  }

  async #run(command: string, options: CommandRunOptions): Promise<CommandResult> {
    const script = this.#spareCount > 0 ? spareScript(command, options.env, this.#token) : null;
    const spare = script ? this.#takeSpare() : null;
    if (spare && script) {
      const { child } = spare;
      child.ref();
      const handed = this.#handOver(spare, script);
      this.#scheduleRefill();
      const [ok, result] = await Promise.all([handed, this.#wait(child, options.timeout)]);
      if (ok) return result;
      // The write failed, so the shell was gone before reading anything: run the command anew.
    }
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
    return await this.#wait(child, options.timeout);
  }

  /** Collects the output and status of a started command; kills its group after `timeout` s. */
  async #wait(child: Deno.ChildProcess, timeout: number): Promise<CommandResult> {
    // setsid execs in place (the child is no group leader), so pid = pgid.
    const pgid = child.pid;
    const cancelReads = new AbortController();
    const stdout = readCapped(child.stdout, this.#outputLimit, cancelReads.signal);
    const stderr = readCapped(child.stderr, this.#outputLimit, cancelReads.signal);
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), Math.max(0, timeout) * 1000);
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
  /** The shell command. */
  command: string;
  /** The environment variables it was given (log-derived values). */
  env: Record<string, string>;
  /** Its timeout in seconds. */
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
