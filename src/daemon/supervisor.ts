/**
 * The supervisor: one Web Worker per jail, watched by a heartbeat. A worker
 * that crashes, or that stops answering pings (a regex stuck on a hostile
 * line), is terminated and started again from its last reported positions,
 * skipping the line it was stuck on. Each worker publishes the line it is
 * processing in shared memory ({@link LineProgress}), so the skipped line is
 * exactly the one it hung on, and the lines before it in the same chunk are
 * read again by the new worker.
 *
 * @module
 */

import type { JailSpec } from "../config/types.ts";
import type { FromWorker, LogPosition, ToWorker } from "../ipc/messages.ts";
import type { Logger } from "../log/types.ts";
import { isJournalBackend } from "../jail/journal_source.ts";
import { LINE_PROGRESS_BYTES, LineProgress } from "../jail/line_progress.ts";

/** A timer handle. */
type Timer = ReturnType<typeof setTimeout>;

/** The part of a Web Worker the supervisor uses (a fake in tests). */
export interface WorkerHandle {
  /** Sends a message to the worker. */
  postMessage(message: ToWorker): void;
  /** Kills the worker at once. */
  terminate(): void;
  /** Called with each message from the worker. */
  onmessage: ((event: MessageEvent<FromWorker>) => void) | null;
  /** Called when the worker throws an uncaught error. */
  onerror: ((event: ErrorEvent) => void) | null;
}

/** Makes the worker of one jail. */
export type WorkerFactory = (jail: string) => WorkerHandle;

/** Size of a file, to find which file has unread lines; null when it cannot be read. */
export type FileSizer = (path: string) => number | null;

/** The real worker: workers/jail_worker.ts as a module worker. */
export const DENO_WORKER_FACTORY: WorkerFactory = (jail): WorkerHandle =>
  new Worker(new URL("../../workers/jail_worker.ts", import.meta.url).href, {
    type: "module",
    name: `f2b-jail-${jail}`,
  }) as unknown as WorkerHandle;

function statSize(path: string): number | null {
  try {
    return Deno.statSync(path).size;
  } catch {
    return null;
  }
}

/** Options of {@link Supervisor}. */
export interface SupervisorOptions {
  /** Where the supervisor logs restarts. */
  logger: Logger;
  /** Receives every message from every worker (except `pong`). */
  onMessage: (jail: string, message: FromWorker) => void;
  /** Makes workers. @default DENO_WORKER_FACTORY */
  workerFactory?: WorkerFactory;
  /** Milliseconds between pings. @default 1000 */
  heartbeatInterval?: number;
  /** Milliseconds without a pong after which a worker is stuck. @default 5000 */
  heartbeatTimeout?: number;
  /** First restart delay in milliseconds after a crash, doubled each time. @default 500 */
  restartBackoff?: number;
  /** Longest restart delay in milliseconds. @default 30000 */
  maxRestartBackoff?: number;
  /** Milliseconds `stop` waits for a worker's `stopped`. @default 5000 */
  stopTimeout?: number;
  /** Sizes files to find the one with unread lines after a hang. @default Deno.statSync */
  fileSize?: FileSizer;
}

/** The line a restarted worker skips: the first at `at`, or the one of that file ending at `end`. */
interface Skip {
  at: LogPosition;
  end?: number;
}

interface Slot {
  spec: JailSpec;
  worker: WorkerHandle | null;
  /** Last positions the worker reported (or the database's at first start), by path. */
  positions: Map<string, LogPosition>;
  seq: number;
  lastPong: number;
  crashes: number;
  restartTimer: Timer | null;
  /** Where the current worker publishes the line it is processing. */
  progress: LineProgress | null;
  /** Last skip, to move to another file if the worker hangs again at the same place. */
  lastSkip: LogPosition | null;
  skipTried: Set<string>;
  stopping: boolean;
  stopped: PromiseWithResolvers<void> | null;
  /** The positions came from the database; true until a worker is ready (`start` message). */
  fromDatabase: boolean;
  /** `backend = systemd`: cursor of the last journal entry the worker reported (or the database's). */
  cursor: string | null;
  /** `backend = systemd`: the next worker skips the entry after `cursor` (it hung the last one). */
  skipEntry: boolean;
  /** {@link Supervisor.sync} calls waiting for the pong of their ping. */
  waiters: { seq: number; done: () => void }[];
}

/** Starts, watches and restarts one worker per jail. */
export class Supervisor {
  readonly #logger: Logger;
  readonly #onMessage: (jail: string, message: FromWorker) => void;
  readonly #factory: WorkerFactory;
  readonly #interval: number;
  readonly #timeout: number;
  readonly #backoff: number;
  readonly #maxBackoff: number;
  readonly #stopTimeout: number;
  readonly #fileSize: FileSizer;
  readonly #slots = new Map<string, Slot>();
  /** Final positions of jails stopped, until they start again. */
  readonly #final = new Map<string, LogPosition[]>();
  /** Final journal cursors of jails stopped, until they start again. */
  readonly #finalCursor = new Map<string, string | null>();
  #heartbeat: Timer | null = null;
  /** Restarts done so far (crash or hang), for tests and status. */
  restarts = 0;

  /** Builds a supervisor; no worker runs until {@link startJail}. */
  constructor(options: SupervisorOptions) {
    this.#logger = options.logger;
    this.#onMessage = options.onMessage;
    this.#factory = options.workerFactory ?? DENO_WORKER_FACTORY;
    this.#timeout = options.heartbeatTimeout ?? 5000;
    // Several pings per timeout, so one late pong is not taken for a hang.
    this.#interval = Math.min(options.heartbeatInterval ?? 1000, this.#timeout / 4);
    this.#backoff = options.restartBackoff ?? 500;
    this.#maxBackoff = options.maxRestartBackoff ?? 30000;
    this.#stopTimeout = options.stopTimeout ?? 5000;
    this.#fileSize = options.fileSize ?? statSize;
  }

  /** Names of the jails with a worker, in start order. */
  jails(): string[] {
    return [...this.#slots.keys()];
  }

  /** Last positions reported by the worker of `jail`. */
  positions(jail: string): LogPosition[] {
    const slot = this.#slots.get(jail);
    return slot ? [...slot.positions.values()] : this.#final.get(jail) ?? [];
  }

  /** Journal cursor last reported by the worker of `jail` (kept after it stopped), or null. */
  cursor(jail: string): string | null {
    const slot = this.#slots.get(jail);
    return slot ? slot.cursor : this.#finalCursor.get(jail) ?? null;
  }

  /**
   * Starts the worker of a jail, resuming at `positions` (and, for `backend = systemd`, after
   * `cursor`); `fromDatabase` when they were read from the database (files marked ` tail` then
   * start at their end), not kept from a worker of this run.
   */
  startJail(
    spec: JailSpec,
    positions: LogPosition[],
    options: { fromDatabase?: boolean; cursor?: string | null } = {},
  ): void {
    if (this.#slots.has(spec.name)) throw new Error(`Jail "${spec.name}" is already running`);
    this.#final.delete(spec.name);
    this.#finalCursor.delete(spec.name);
    const slot: Slot = {
      spec,
      worker: null,
      positions: new Map(positions.map((p) => [p.path, p])),
      seq: 0,
      lastPong: performance.now(),
      crashes: 0,
      restartTimer: null,
      progress: null,
      lastSkip: null,
      skipTried: new Set(),
      stopping: false,
      stopped: null,
      fromDatabase: options.fromDatabase ?? false,
      cursor: options.cursor ?? null,
      skipEntry: false,
      waiters: [],
    };
    this.#slots.set(spec.name, slot);
    this.#spawn(slot, null);
    this.#heartbeat ??= setInterval(() => this.#beat(), this.#interval);
  }

  /** Sends new settings to a running jail's worker. */
  updateJail(spec: JailSpec): void {
    const slot = this.#slots.get(spec.name);
    if (!slot) throw new Error(`Jail "${spec.name}" is not running`);
    slot.spec = spec;
    slot.worker?.postMessage({ type: "update", spec });
  }

  /** Sends a message to the worker of `jail`; false when no worker runs (stopped, restarting). */
  post(jail: string, message: ToWorker): boolean {
    const worker = this.#slots.get(jail)?.worker;
    if (!worker) return false;
    worker.postMessage(message);
    return true;
  }

  /**
   * Resolves once the worker of `jail` has handled the messages posted to it so far (the pong
   * of a ping sent now is back, so whatever the worker posted before it was received too), or
   * after `timeout` milliseconds, or when the worker goes away.
   */
  sync(jail: string, timeout = this.#stopTimeout): Promise<void> {
    const slot = this.#slots.get(jail);
    const worker = slot?.worker;
    if (!slot || !worker) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    const seq = ++slot.seq;
    const timer = setTimeout(() => done(), timeout);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    slot.waiters.push({ seq, done });
    worker.postMessage({ type: "ping", seq });
    return promise;
  }

  /** Releases every {@link sync} waiting on the slot's worker (it was terminated). */
  #release(slot: Slot): void {
    const waiters = slot.waiters;
    slot.waiters = [];
    for (const w of waiters) w.done();
  }

  /** Stops the worker of one jail, waiting for its `stopped` (then terminating it). */
  async stopJail(jail: string): Promise<void> {
    const slot = this.#slots.get(jail);
    if (!slot) return;
    slot.stopping = true;
    if (slot.restartTimer !== null) clearTimeout(slot.restartTimer);
    const worker = slot.worker;
    if (worker) {
      slot.stopped = Promise.withResolvers<void>();
      worker.postMessage({ type: "stop" });
      let timer: Timer | undefined;
      await Promise.race([
        slot.stopped.promise,
        new Promise<void>((resolve) => timer = setTimeout(resolve, this.#stopTimeout)),
      ]);
      clearTimeout(timer);
      worker.terminate();
      slot.worker = null;
    }
    this.#release(slot);
    this.#slots.delete(jail);
    this.#final.set(jail, [...slot.positions.values()]);
    this.#finalCursor.set(jail, slot.cursor);
    if (this.#slots.size === 0 && this.#heartbeat !== null) {
      clearInterval(this.#heartbeat);
      this.#heartbeat = null;
    }
  }

  /** Stops every worker. */
  async stopAll(): Promise<void> {
    await Promise.all(this.jails().map((j) => this.stopJail(j)));
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
  }

  #spawn(slot: Slot, skip: Skip | null): void {
    const jail = slot.spec.name;
    let worker: WorkerHandle;
    try {
      worker = this.#factory(jail);
    } catch (e) {
      this.#logger.log("ERROR", `[${jail}] Cannot start the jail worker: ${errorText(e)}`);
      this.#scheduleRestart(slot, null);
      return;
    }
    slot.worker = worker;
    slot.lastPong = performance.now();
    const progress = new SharedArrayBuffer(LINE_PROGRESS_BYTES);
    slot.progress = new LineProgress(progress);
    worker.onmessage = (event) => this.#receive(slot, worker, event.data);
    worker.onerror = (event) => {
      event.preventDefault?.();
      if (slot.worker !== worker || slot.stopping) return;
      const where = event.filename ? ` (${event.filename}:${event.lineno})` : "";
      this.#logger.log(
        "ERROR",
        `[${jail}] Jail worker crashed: ${
          event.message ?? errorText(event.error)
        }${where}; restarting it`,
      );
      worker.terminate();
      slot.worker = null;
      this.#release(slot);
      this.#scheduleRestart(slot, null);
    };
    worker.postMessage({
      type: "start",
      spec: slot.spec,
      positions: [...slot.positions.values()],
      skipLineAt: skip?.at ?? null,
      ...(skip?.end !== undefined ? { skipLineEnd: skip.end } : {}),
      ...(slot.fromDatabase ? { fromDatabase: true } : {}),
      ...(slot.cursor !== null ? { cursor: slot.cursor } : {}),
      ...(slot.skipEntry ? { skipEntry: true } : {}),
      progress,
    });
    slot.skipEntry = false;
  }

  #scheduleRestart(slot: Slot, skip: Skip | null): void {
    const delay = Math.min(this.#backoff * 2 ** slot.crashes, this.#maxBackoff);
    slot.crashes++;
    this.restarts++;
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null;
      if (slot.stopping || this.#slots.get(slot.spec.name) !== slot) return;
      this.#spawn(slot, skip);
    }, delay);
  }

  #receive(slot: Slot, worker: WorkerHandle, message: FromWorker): void {
    if (slot.worker !== worker) return;
    switch (message.type) {
      case "pong":
        slot.lastPong = performance.now();
        if (slot.waiters.length > 0) {
          const due = slot.waiters.filter((w) => w.seq <= message.seq);
          slot.waiters = slot.waiters.filter((w) => w.seq > message.seq);
          for (const w of due) w.done();
        }
        return;
      case "positions":
        for (const p of message.positions) {
          const old = slot.positions.get(p.path);
          // Progress past a skipped line: a later hang there is a new one.
          if (!old || old.offset !== p.offset || old.firstLineHash !== p.firstLineHash) {
            slot.skipTried.clear();
          }
          slot.positions.set(p.path, p);
        }
        break;
      case "cursor":
        // Progress past a skipped entry: a later hang is a new one.
        if (message.cursor !== slot.cursor) slot.skipTried.clear();
        slot.cursor = message.cursor;
        break;
      case "ready":
        slot.lastPong = performance.now();
        // Its files are open: a later restart resumes at the positions it reported.
        slot.fromDatabase = false;
        break;
      case "stats":
        // A worker that works normally again earns a fresh backoff.
        slot.crashes = 0;
        break;
      case "stopped":
        slot.stopped?.resolve();
        break;
    }
    this.#onMessage(slot.spec.name, message);
  }

  #beat(): void {
    const now = performance.now();
    for (const slot of this.#slots.values()) {
      const worker = slot.worker;
      if (!worker || slot.stopping) continue;
      if (now - slot.lastPong > this.#timeout) {
        this.#restartStuck(slot, worker, now);
        continue;
      }
      worker.postMessage({ type: "ping", seq: ++slot.seq });
    }
  }

  #restartStuck(slot: Slot, worker: WorkerHandle, now: number): void {
    worker.terminate();
    slot.worker = null;
    this.#release(slot);
    const line = slot.progress?.current() ?? null;
    slot.progress = null;
    let skip: Skip | null = null;
    let what: string;
    if (isJournalBackend(slot.spec.backend)) {
      // Journal entries have no file offsets: skip the entry after the last cursor reported.
      slot.skipEntry = true;
      what = slot.cursor === null
        ? "restarting it, skipping the first journal entry"
        : "restarting it, skipping the journal entry after its last cursor";
    } else if (line) {
      // Exactly the line it hung on. Its file's last position is a line start at or before it
      // (positions are reported per chunk); without one, resume just after the line.
      const known = slot.positions.get(line.path);
      const at = known && known.offset <= line.end
        ? known
        : { path: line.path, offset: line.end, firstLineHash: known?.firstLineHash ?? "" };
      skip = { at, end: line.end };
      what = `restarting it, skipping the line ending at offset ${line.end} of ${line.path}`;
    } else {
      const at = this.#stuckLine(slot);
      skip = at ? { at } : null;
      what = at
        ? `restarting it, skipping the line at offset ${at.offset} of ${at.path}`
        : "restarting it";
    }
    const seconds = ((now - slot.lastPong) / 1000).toFixed(1);
    this.#logger.log(
      "ERROR",
      `[${slot.spec.name}] Jail worker did not answer for ${seconds} s (stuck on a line?); ${what}`,
    );
    this.#scheduleRestart(slot, skip);
  }

  /** The line a hung worker was stuck on: the first unread line of a file with unread data. */
  #stuckLine(slot: Slot): LogPosition | null {
    const candidates: LogPosition[] = [];
    for (const p of slot.positions.values()) {
      const size = this.#fileSize(p.path);
      if (size !== null && size > p.offset) candidates.push(p);
    }
    const key = (p: LogPosition) => `${p.path}\0${p.offset}`;
    let pick = candidates.find((p) => !slot.skipTried.has(key(p))) ?? null;
    if (!pick && candidates.length > 0) {
      slot.skipTried.clear();
      pick = candidates[0] ?? null;
    }
    if (!pick) return null;
    slot.skipTried.add(key(pick));
    // The skipped line is read past; the next start resumes after it.
    slot.lastSkip = pick;
    return pick;
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
