/**
 * The real jail worker (workers/jail_worker.ts) in a real Worker, tailing a real file.
 * Set F2B_LATENCY=1 to print append-to-ban latency figures (never asserted).
 */
import assert from "node:assert/strict";
import type { JailSpec } from "../src/config/types.ts";
import type { FromWorker, LogPosition, ToWorker } from "../src/ipc/messages.ts";
import { foundEvents } from "../src/ipc/messages.ts";
import { testFilterSpec, testJailSpec } from "./_jail_spec.ts";

function jailSpec(path: string, over: Partial<JailSpec> = {}): JailSpec {
  return testJailSpec("sshd", {
    backend: "auto",
    logpath: [path],
    filter: testFilterSpec({
      name: "inline",
      failregex: [{
        pattern: "^\\s*Failed password for \\S+ from <HOST>(?: port \\d+)?(?: ssh\\d*)?$",
        origin: "worker_test failregex",
      }],
      logtimezone: "UTC",
    }),
    ignoreip: ["192.0.2.200"],
    ignoreself: false,
    usedns: "no",
    ...over,
  });
}

/** `YYYY-MM-DD HH:MM:SS` in UTC, as the jail's logtimezone says. */
function stamp(): string {
  return new Date().toISOString().replace("T", " ").slice(0, 19);
}

class JailWorker {
  readonly worker: Worker;
  readonly messages: FromWorker[] = [];
  #waiters: { pred: (m: FromWorker) => boolean; resolve: (m: FromWorker) => void }[] = [];

  constructor() {
    this.worker = new Worker(new URL("../workers/jail_worker.ts", import.meta.url).href, {
      type: "module",
    });
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      this.messages.push(m);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.pred(m)) return true;
        w.resolve(m);
        return false;
      });
    };
  }

  post(m: ToWorker) {
    this.worker.postMessage(m);
  }

  /** The next message (from now on) satisfying `pred`, or a rejection after `ms`. */
  next<T extends FromWorker>(pred: (m: FromWorker) => m is T, ms = 10_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error("Timed out waiting for a worker message")),
        ms,
      );
      this.#waiters.push({
        pred,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as T);
        },
      });
    });
  }

  async stop(): Promise<void> {
    const stopped = this.next((m): m is FromWorker => m.type === "stopped");
    this.post({ type: "stop" });
    try {
      await stopped;
    } finally {
      this.worker.terminate();
    }
  }
}

const isType =
  <K extends FromWorker["type"]>(t: K) => (m: FromWorker): m is Extract<FromWorker, { type: K }> =>
    m.type === t;

function append(file: Deno.FsFile, text: string) {
  const bytes = new TextEncoder().encode(text);
  let off = 0;
  while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
}

Deno.test("the jail worker bans after maxretry lines appended to a real log", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/auth.log`;
  await Deno.writeTextFile(
    path,
    `${stamp()} Failed password for root from 192.0.2.1 port 22 ssh2\n`,
  );
  const w = new JailWorker();
  const file = await Deno.open(path, { append: true });
  try {
    const ready = w.next(isType("ready"));
    // Posted right after construction: the worker listens before any await.
    w.post({ type: "start", spec: jailSpec(path), positions: [], skipLineAt: null });
    await ready;
    const pong = w.next(isType("pong"));
    w.post({ type: "ping", seq: 1 });
    assert.equal((await pong).seq, 1);
    // The line already in the file is within findtime: counted from the backlog.
    assert.deepEqual(foundEvents(w.messages).map((m) => m.fid), ["192.0.2.1"]);
    const ban = w.next(isType("ban"));
    append(file, `${stamp()} Failed password for root from 192.0.2.200 port 22 ssh2\n`);
    append(file, `${stamp()} Failed password for root from 192.0.2.1 port 22 ssh2\n`);
    append(file, `${stamp()} Failed password for admin from ::ffff:192.0.2.1 port 22\n`);
    const request = (await ban).request;
    assert.equal(request.jail, "sshd");
    assert.equal(request.fid, "192.0.2.1");
    assert.equal(request.family, "inet4");
    assert.equal(request.failures, 3);
    assert.equal(request.matches.length, 3);
    assert.ok(
      w.messages.some((m) => m.type === "log" && m.message === "[sshd] Ignore 192.0.2.200 by ip"),
    );
    // Messages are ordered: by the pong, the positions of the chunk that banned are in.
    const pong2 = w.next(isType("pong"));
    w.post({ type: "ping", seq: 2 });
    await pong2;
    const positions = w.messages.filter(isType("positions")).at(-1)!.positions;
    assert.equal(positions[0]?.offset, (await Deno.stat(path)).size);
  } finally {
    file.close();
    await w.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the jail worker resumes at a saved position and stops with its positions", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/auth.log`;
  const line = (ip: string) => `${stamp()} Failed password for root from ${ip} port 22 ssh2\n`;
  const first = line("192.0.2.7");
  await Deno.writeTextFile(path, first + line("192.0.2.8") + line("192.0.2.9"));
  const w1 = new JailWorker();
  let saved: LogPosition[] = [];
  try {
    const ready = w1.next(isType("ready"));
    w1.post({ type: "start", spec: jailSpec(path), positions: [], skipLineAt: null });
    await ready;
  } finally {
    await w1.stop();
    saved = w1.messages.filter(isType("positions")).at(-1)!.positions;
  }
  assert.equal(saved[0]?.offset, (await Deno.stat(path)).size);
  await Deno.writeTextFile(path, line("192.0.2.10"), { append: true });
  const w2 = new JailWorker();
  try {
    const ready = w2.next(isType("ready"));
    w2.post({ type: "start", spec: jailSpec(path), positions: saved, skipLineAt: null });
    await ready;
    assert.deepEqual(foundEvents(w2.messages).map((m) => m.fid), ["192.0.2.10"]);
  } finally {
    await w2.stop();
  }
  // skipLineAt: the line at the position is not processed.
  const w3 = new JailWorker();
  try {
    const ready = w3.next(isType("ready"));
    const at = { ...saved[0]!, offset: new TextEncoder().encode(first).length };
    w3.post({ type: "start", spec: jailSpec(path), positions: [], skipLineAt: at });
    await ready;
    assert.deepEqual(foundEvents(w3.messages).map((m) => m.fid), [
      "192.0.2.9",
      "192.0.2.10",
    ]);
  } finally {
    await w3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the jail worker applies an update without a restart", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/auth.log`;
  await Deno.writeTextFile(path, "");
  const w = new JailWorker();
  const file = await Deno.open(path, { append: true });
  try {
    const ready = w.next(isType("ready"));
    w.post({ type: "start", spec: jailSpec(path), positions: [], skipLineAt: null });
    await ready;
    w.post({ type: "update", spec: jailSpec(path, { maxretry: 1 }) });
    const pong = w.next(isType("pong"));
    w.post({ type: "ping", seq: 2 });
    await pong;
    const ban = w.next(isType("ban"));
    append(file, `${stamp()} Failed password for root from 2001:DB8:0::5 port 22 ssh2\n`);
    const r = (await ban).request;
    assert.deepEqual([r.fid, r.family, r.failures], ["2001:db8::5", "inet6", 1]);
  } finally {
    file.close();
    await w.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("append-to-ban latency through the real worker (figures printed with F2B_LATENCY=1)", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/auth.log`;
  await Deno.writeTextFile(path, "");
  const w = new JailWorker();
  const file = await Deno.open(path, { append: true });
  const trials = 50;
  const latencies: number[] = [];
  try {
    const ready = w.next(isType("ready"));
    w.post({
      type: "start",
      spec: jailSpec(path, { maxretry: 1 }),
      positions: [],
      skipLineAt: null,
    });
    await ready;
    for (let i = 0; i < trials; i++) {
      const ban = w.next(isType("ban"));
      const text = `${stamp()} Failed password for root from 198.51.100.${i} port 22 ssh2\n`;
      const t0 = performance.now();
      append(file, text);
      const r = await ban;
      latencies.push(performance.now() - t0);
      assert.equal(r.request.fid, `198.51.100.${i}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    file.close();
    await w.stop();
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(latencies.length, trials);
  if (Deno.env.get("F2B_LATENCY")) {
    const s = [...latencies].sort((a, b) => a - b);
    const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(3);
    console.log(
      `append→ban over ${trials}: p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${q(1)} ms, first ${
        latencies[0]!.toFixed(3)
      } ms`,
    );
  }
});
