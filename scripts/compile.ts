/**
 * `deno task compile`: builds the single executable `dist/f2b` with
 * `deno compile`, with the jail worker module and the shipped configuration
 * (`config/`) embedded, the V8 regex flag set and the permissions f2b needs.
 *
 * `deno compile` puts the program into a copy of Deno's runtime binary
 * (denort), which it downloads from Deno's servers unless `DENORT_BIN` names
 * a local one. When neither works this fails with a message that says so.
 * The built executable is run once (`f2b -h`) before it replaces the output,
 * so a runtime that is not denort never leaves a broken `dist/f2b` behind.
 *
 * Usage:
 *
 *     deno task compile [--output PATH]
 *     DENORT_BIN=/path/to/denort deno task compile
 *     deno run scripts/compile.ts --print-flags   # the runtime flags, for wrappers
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";

/**
 * The V8 flags every f2b process runs with: a backtrack limit for every filter regex
 * (`--allow-natives-syntax`, see src/filter/bounded_regex.ts), a linear-time fallback for runaway
 * regexes that engine can run, and an old
 * generation grown by 50% over the live data between full collections (not up to 4x), which keeps
 * the server's RSS near its data (see V8_FLAGS in src/cli/server.ts). Not the server's small
 * nursery (`--max-semi-space-size=1`): the executable runs the regex command too, 30% slower with it.
 */
export const V8_FLAG =
  "--enable-experimental-regexp-engine-on-excessive-backtracks,--allow-natives-syntax,--heap-growing-percent=50";

/**
 * The permissions f2b runs with, compiled or through a `deno run` wrapper.
 *
 * - read, write: log files, the database, the socket, the pid file and the
 *   log target are paths from the configuration, so they cannot be listed
 *   here; the systemd unit confines writes (ProtectSystem=strict).
 * - run: actions are shell commands (`setsid /bin/sh -c …`), and `-b` starts
 *   the executable itself again, whose installed path is not known here.
 * - net: `Deno.resolveDns` (usedns, host names in ignoreip) checks the name
 *   servers of resolv.conf, which are not known here either.
 * - ffi: syslog's /dev/log is a unix datagram socket, reached through libc.
 * - sys: the host name (`<fq-hostname>`), the network interfaces
 *   (`ignoreself`) and `Deno.umask` (the control socket is created 0600),
 *   which no `--allow-sys=<name>` list can grant.
 * - env, import: none.
 */
export const RUNTIME_PERMISSIONS: readonly string[] = [
  "--allow-read",
  "--allow-write",
  "--allow-run",
  "--allow-net",
  "--allow-ffi",
  "--allow-sys",
  "--no-prompt",
];

/** Permissions and the V8 flag: what `deno run` or `deno compile` needs to run f2b. */
export const RUNTIME_FLAGS: readonly string[] = [...RUNTIME_PERMISSIONS, `--v8-flags=${V8_FLAG}`];

/** Files that no static import reaches, embedded with `--include`. */
export const INCLUDES: readonly string[] = [
  "workers/jail_worker.ts",
  "workers/regex_worker.ts",
  "config",
];

/** The repository root (the folder of deno.json and mod.ts). */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url));

/** Why a build failed. */
export type CompileFailure = "runtime-unavailable" | "denort-invalid" | "failed";

/** A build that failed; `reason` tells a missing runtime from a real error. */
export class CompileError extends Error {
  /** What went wrong. */
  readonly reason: CompileFailure;

  /** Builds the error. */
  constructor(reason: CompileFailure, message: string) {
    super(message);
    this.name = "CompileError";
    this.reason = reason;
  }
}

/** Options of {@linkcode compile}. */
export interface CompileOptions {
  /** The executable to write. @default `dist/f2b` in the repository */
  output?: string;
  /** A local denort binary. @default the `DENORT_BIN` environment variable */
  denortBin?: string | undefined;
  /** The deno that compiles. @default `Deno.execPath()` */
  deno?: string;
}

/** The arguments of `deno compile` for an output file. */
export function compileArgs(output: string): string[] {
  return [
    "compile",
    "--output",
    output,
    ...INCLUDES.flatMap((path) => ["--include", path]),
    ...RUNTIME_FLAGS,
    "mod.ts",
  ];
}

const RUNTIME_HINT =
  `Set DENORT_BIN to a local denort binary of Deno ${Deno.version.deno} for ${Deno.build.target} ` +
  `(the "denort" executable from denort-${Deno.build.target}.zip, not the deno executable) ` +
  `and run again: DENORT_BIN=/path/to/denort deno task compile`;

/** The first line of deno's error that names the cause. */
function errorDetail(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  const cause = lines.filter((l) => /^\d+: /.test(l)).map((l) => l.replace(/^\d+: /, ""));
  const error = lines.find((l) => l.startsWith("error:"));
  return [error, ...cause.slice(0, 2)].filter(Boolean).join(": ") || lines.slice(-1)[0] || "";
}

/**
 * Builds the executable. Throws a {@linkcode CompileError}: `runtime-unavailable`
 * when deno could not get its runtime binary and no `DENORT_BIN` is set,
 * `denort-invalid` when `DENORT_BIN` is missing or the result does not run f2b,
 * `failed` for anything else (a type error, a full disk).
 */
export async function compile(options: CompileOptions = {}): Promise<string> {
  const output = resolve(options.output ?? `${ROOT}dist/f2b`);
  const denortBin = "denortBin" in options ? options.denortBin : Deno.env.get("DENORT_BIN");
  if (denortBin) {
    let info: Deno.FileInfo | null = null;
    try {
      info = await Deno.stat(denortBin);
    } catch {
      // Reported below.
    }
    if (!info?.isFile) {
      throw new CompileError(
        "denort-invalid",
        `DENORT_BIN="${denortBin}" is not a file. ${RUNTIME_HINT}`,
      );
    }
  }
  await Deno.mkdir(dirname(output), { recursive: true });
  const temp = `${output}.tmp-${Deno.pid}`;
  const env: Record<string, string> = { NO_COLOR: "1" };
  if (denortBin) env.DENORT_BIN = resolve(denortBin);
  try {
    const result = await new Deno.Command(options.deno ?? Deno.execPath(), {
      args: compileArgs(temp),
      cwd: ROOT,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(result.stderr);
    if (!result.success) {
      const detail = errorDetail(stderr);
      if (!denortBin && /base binary|denort|dl\.deno\.land|error sending request/i.test(stderr)) {
        throw new CompileError(
          "runtime-unavailable",
          `deno compile could not get the Deno runtime binary (denort): it downloads it from ` +
            `Deno's servers, which cannot be reached from here (${detail}). ${RUNTIME_HINT}`,
        );
      }
      throw new CompileError(
        "failed",
        `deno compile failed${denortBin ? ` with DENORT_BIN="${denortBin}"` : ""}: ${detail}`,
      );
    }
    await checkExecutable(temp, denortBin);
    await Deno.rename(temp, output);
    return output;
  } finally {
    await Deno.remove(temp).catch(() => {});
  }
}

/** Runs `f2b -h`: a runtime that is not denort runs deno's own command line instead. */
async function checkExecutable(path: string, denortBin: string | undefined): Promise<void> {
  const run = await new Deno.Command(path, {
    args: ["-h"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output().catch((e) => ({ success: false, stdout: new Uint8Array(), error: e }));
  const out = new TextDecoder().decode(run.stdout);
  if (run.success && out.includes("Usage: f2b")) return;
  const what = denortBin ? `DENORT_BIN="${denortBin}" is not a denort binary` : "the runtime";
  throw new CompileError(
    denortBin ? "denort-invalid" : "failed",
    `The built executable does not run f2b (its "-h" printed ${
      JSON.stringify(out.slice(0, 80))
    }): ${what}. ${RUNTIME_HINT}`,
  );
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      output: { type: "string", short: "o" },
      "print-flags": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "Usage: deno task compile [--output PATH] | --print-flags\n\n" +
        "Builds dist/f2b. DENORT_BIN names a local denort binary when Deno's servers are out of reach.",
    );
    Deno.exit(0);
  }
  if (values["print-flags"]) {
    console.log(RUNTIME_FLAGS.join(" "));
    Deno.exit(0);
  }
  try {
    const output = await compile(values.output ? { output: values.output } : {});
    console.log(`Built ${output}`);
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(e instanceof CompileError && e.reason === "runtime-unavailable" ? 3 : 1);
  }
}
