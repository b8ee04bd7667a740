/**
 * The control plane through a real unix socket: a ControlServer with a fake
 * ServerControl in this process, raw socket clients, sendCommand, and the
 * real `f2b client` in a subprocess.
 */

import assert from "node:assert/strict";
import { sendCommand, ServerUnreachableError } from "../src/client/control_client.ts";
import { MemoryLogger } from "../src/log/types.ts";
import type { JailStatus, ReloadOptions, ServerControl } from "../src/server/control.ts";
import { UnknownJailError } from "../src/server/control.ts";
import {
  AlreadyRunningError,
  type ControlServerOptions,
  startControlServer,
} from "../src/server/control_server.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** A ServerControl whose reload can be held open, to overlap requests. */
class FakeControl implements ServerControl {
  stopped = 0;
  reloads: ReloadOptions[] = [];
  /** When set, reload waits for this promise. */
  hold: Promise<void> | null = null;
  /** Resolves when a reload has started. */
  reloadStarted!: Promise<void>;
  #markStarted!: () => void;
  constructor() {
    this.reloadStarted = new Promise((r) => (this.#markStarted = r));
  }
  jailNames(): string[] {
    return ["sshd", "nginx-http-auth"];
  }
  jailStatus(name: string): JailStatus {
    if (name !== "sshd") throw new UnknownJailError(name);
    return {
      name,
      currentlyFailed: 1,
      totalFailed: 12,
      files: ["/var/log/auth.log", "/var/log/secure"],
      currentlyBanned: 2,
      totalBanned: 5,
      bannedIps: ["192.0.2.10", "2001:db8::1"],
    };
  }
  stop(): Promise<void> {
    this.stopped++;
    return Promise.resolve();
  }
  async reload(options: ReloadOptions): Promise<void> {
    this.#markStarted();
    if (this.hold) await this.hold;
    this.reloads.push(options);
  }
}

async function withServer(
  fn: (ctx: {
    dir: string;
    socketPath: string;
    control: FakeControl;
    logger: MemoryLogger;
  }) => Promise<void>,
  extra: Partial<ControlServerOptions> = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "f2b_sock_" });
  const socketPath = `${dir}/run/f2b.sock`;
  const control = new FakeControl();
  const logger = new MemoryLogger();
  const server = await startControlServer({
    socketPath,
    control,
    logger,
    force: false,
    ...extra,
  });
  try {
    await fn({ dir, socketPath, control, logger });
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const enc = new TextEncoder();

/** Reads everything until the server closes the connection. */
async function readAll(conn: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(64 * 1024);
  while (true) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch {
      break;
    }
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  return new TextDecoder().decode(
    chunks.reduce((a, b) => {
      const c = new Uint8Array(a.length + b.length);
      c.set(a);
      c.set(b, a.length);
      return c;
    }, new Uint8Array()),
  );
}

/** Reads one newline-terminated frame. */
async function readLine(conn: Deno.Conn): Promise<string> {
  let text = "";
  const buf = new Uint8Array(1);
  while (!text.endsWith("\n")) {
    const n = await conn.read(buf);
    if (n === null) throw new Error(`connection closed after ${JSON.stringify(text)}`);
    text += String.fromCharCode(buf[0]!);
  }
  return text;
}

Deno.test("control socket is 0600 inside a directory created 0700", async () => {
  await withServer(async ({ dir, socketPath }) => {
    const dirInfo = await Deno.stat(`${dir}/run`);
    assert.equal(dirInfo.mode! & 0o777, 0o700);
    const sockInfo = await Deno.lstat(socketPath);
    assert.ok(sockInfo.isSocket);
    assert.equal(sockInfo.mode! & 0o777, 0o600);
  });
});

Deno.test("a stale socket file with no listener is removed and start goes on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "f2b_sock_" });
  const socketPath = `${dir}/f2b.sock`;
  try {
    // A server killed with SIGKILL leaves its socket file behind.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `Deno.listen({ transport: "unix", path: ${
          JSON.stringify(socketPath)
        } }); console.log("ready"); setInterval(() => {}, 1000);`,
      ],
      stdout: "piped",
    }).spawn();
    const reader = child.stdout.getReader();
    await reader.read();
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel();
    assert.ok((await Deno.lstat(socketPath)).isSocket, "the killed server left its socket");

    const logger = new MemoryLogger();
    const server = await startControlServer({
      socketPath,
      control: new FakeControl(),
      logger,
      force: false,
    });
    try {
      assert.match(logger.messages("WARNING").join("\n"), /Removing stale socket/);
      const reply = await sendCommand(socketPath, ["ping"]);
      assert.deepEqual(reply, { ok: true, value: "pong" });
    } finally {
      await server.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a live socket refuses a second server unless forced", async () => {
  await withServer(async ({ socketPath }) => {
    await assert.rejects(
      startControlServer({
        socketPath,
        control: new FakeControl(),
        logger: new MemoryLogger(),
        force: false,
      }),
      (e: unknown) => e instanceof AlreadyRunningError && /Server already running/.test(e.message),
    );
    // The first server still answers.
    assert.deepEqual(await sendCommand(socketPath, ["ping"]), { ok: true, value: "pong" });

    const second = new FakeControl();
    const forced = await startControlServer({
      socketPath,
      control: second,
      logger: new MemoryLogger(),
      force: true,
    });
    try {
      await sendCommand(socketPath, ["stop"]);
      assert.equal(second.stopped, 1, "the forced server owns the socket now");
    } finally {
      await forced.close();
    }
  });
});

Deno.test("a file that is not a socket in the way is not deleted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "f2b_sock_" });
  try {
    await Deno.writeTextFile(`${dir}/f2b.sock`, "precious");
    await assert.rejects(
      startControlServer({
        socketPath: `${dir}/f2b.sock`,
        control: new FakeControl(),
        logger: new MemoryLogger(),
        force: false,
      }),
      /not a socket/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/f2b.sock`), "precious");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an oversized frame gets an error reply, then the connection is closed", async () => {
  await withServer(async ({ socketPath }) => {
    const conn = await Deno.connect({ transport: "unix", path: socketPath });
    try {
      // Without a newline: the server must not buffer it forever.
      await conn.write(enc.encode("[" + '"x",'.repeat(1000)));
      const text = await readAll(conn);
      const reply = JSON.parse(text.trim());
      assert.equal(reply.ok, false);
      assert.match(reply.error.message, /Frame larger than 1024 bytes/);
    } finally {
      conn.close();
    }
    assert.deepEqual(await sendCommand(socketPath, ["ping"]), { ok: true, value: "pong" });
  }, { maxFrameBytes: 1024 });
});

Deno.test("malformed JSON and bad requests get error replies; the connection goes on", async () => {
  await withServer(async ({ socketPath }) => {
    const conn = await Deno.connect({ transport: "unix", path: socketPath });
    try {
      await conn.write(enc.encode("this is not json\n"));
      const r1 = JSON.parse(await readLine(conn));
      assert.equal(r1.ok, false);
      assert.match(r1.error.message, /Malformed frame/);
      await conn.write(enc.encode('{"type":"command","command":"ping"}\n'));
      const r2 = JSON.parse(await readLine(conn));
      assert.match(r2.error.message, /array of strings/);
      await conn.write(enc.encode('{"type":"command","command":["ping"]}\n'));
      assert.deepEqual(JSON.parse(await readLine(conn)), { ok: true, value: "pong" });
    } finally {
      conn.close();
    }
  });
});

Deno.test("handler errors become { ok: false, error: { name, message } }", async () => {
  await withServer(async ({ socketPath }) => {
    assert.deepEqual(await sendCommand(socketPath, ["status", "nojail"]), {
      ok: false,
      error: { name: "UnknownJailError", message: "Sorry but the jail 'nojail' does not exist" },
    });
    const r = await sendCommand(socketPath, ["frobnicate"]);
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.error.name === "InvalidCommandError");
  });
});

Deno.test("a client disconnecting mid-frame leaves the server serving", async () => {
  await withServer(async ({ socketPath, logger }) => {
    for (let i = 0; i < 5; i++) {
      const conn = await Deno.connect({ transport: "unix", path: socketPath });
      await conn.write(enc.encode('{"type":"command","comm'));
      conn.close();
    }
    // One that sends a whole request and leaves before the reply.
    const gone = await Deno.connect({ transport: "unix", path: socketPath });
    await gone.write(enc.encode('{"type":"command","command":["status"]}\n'));
    gone.close();
    assert.deepEqual(await sendCommand(socketPath, ["ping"]), { ok: true, value: "pong" });
    assert.deepEqual(logger.messages("ERROR"), []);
  });
});

Deno.test("a slow client that never finishes a frame is disconnected", async () => {
  await withServer(async ({ socketPath }) => {
    const conn = await Deno.connect({ transport: "unix", path: socketPath });
    try {
      await conn.write(enc.encode('{"type":"command",'));
      const text = await readAll(conn);
      assert.match(text, /No complete frame received/);
    } finally {
      conn.close();
    }
    assert.deepEqual(await sendCommand(socketPath, ["ping"]), { ok: true, value: "pong" });
  }, { requestTimeout: 100 });
});

Deno.test("concurrent clients are served independently", async () => {
  await withServer(async ({ socketPath, control }) => {
    let release!: () => void;
    control.hold = new Promise((r) => (release = r));
    const slow = sendCommand(socketPath, ["reload", "--restart", "sshd"]);
    await control.reloadStarted;
    // While the reload is held, other clients get answers.
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => sendCommand(socketPath, ["echo", `n${i}`])),
    );
    answers.forEach((a, i) => assert.deepEqual(a, { ok: true, value: [`n${i}`] }));
    assert.deepEqual(control.reloads, []);
    release();
    assert.deepEqual(await slow, { ok: true, value: null });
    assert.deepEqual(control.reloads, [{ restart: true, jail: "sshd" }]);
  });
});

Deno.test("sendCommand with no server says to check that fail2ban runs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "f2b_sock_" });
  try {
    await assert.rejects(
      sendCommand(`${dir}/none.sock`, ["ping"]),
      (e: unknown) =>
        e instanceof ServerUnreachableError &&
        e.message === `Failed to access socket path: ${dir}/none.sock. Is fail2ban running?`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("close removes the socket file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "f2b_sock_" });
  try {
    const server = await startControlServer({
      socketPath: `${dir}/f2b.sock`,
      control: new FakeControl(),
      logger: new MemoryLogger(),
      force: false,
    });
    await server.close();
    await assert.rejects(Deno.lstat(`${dir}/f2b.sock`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function runClient(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}mod.ts`, "client", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("f2b client in a subprocess: ping, status and status <jail> print as fail2ban-client", async () => {
  await withServer(async ({ socketPath }) => {
    const ping = await runClient(["-s", socketPath, "ping"]);
    assert.equal(ping.code, 0, ping.stderr);
    assert.equal(ping.stdout, "Server replied: pong\n");

    const status = await runClient(["-s", socketPath, "status"]);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(
      status.stdout,
      "Status\n|- Number of jail:\t2\n`- Jail list:\tsshd, nginx-http-auth\n",
    );

    const jail = await runClient(["-s", socketPath, "status", "sshd"]);
    assert.equal(jail.code, 0, jail.stderr);
    assert.equal(
      jail.stdout,
      [
        "Status for the jail: sshd",
        "|- Filter",
        "|  |- Currently failed:\t1",
        "|  |- Total failed:\t12",
        "|  `- File list:\t/var/log/auth.log /var/log/secure",
        "`- Actions",
        "   |- Currently banned:\t2",
        "   |- Total banned:\t5",
        "   `- Banned IP list:\t192.0.2.10 2001:db8::1",
        "",
      ].join("\n"),
    );

    const missing = await runClient(["-s", socketPath, "status", "nojail"]);
    assert.equal(missing.code, 255);
    assert.equal(missing.stdout, "Sorry but the jail 'nojail' does not exist\n");
  });
});

Deno.test("f2b client in a subprocess: no server gives fail2ban-client's error and exit 255", async () => {
  const dir = await Deno.makeTempDir({ prefix: "f2b_sock_" });
  try {
    const r = await runClient(["-s", `${dir}/none.sock`, "ping"]);
    assert.equal(r.code, 255);
    assert.equal(r.stdout, "");
    assert.match(
      r.stderr,
      /ERROR {3}Failed to access socket path: .*none\.sock\. Is fail2ban running\?/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("f2b client reads the socket path from -c DIR's fail2ban.conf and .local", async () => {
  await withServer(async ({ dir, socketPath }) => {
    const conf = `${dir}/conf`;
    await Deno.mkdir(conf);
    await Deno.writeTextFile(
      `${conf}/fail2ban.conf`,
      "[Definition]\nsocket = /nonexistent/fail2ban.sock\n",
    );
    await Deno.writeTextFile(`${conf}/fail2ban.local`, `[Definition]\nsocket = ${socketPath}\n`);
    const r = await runClient(["-c", conf, "version"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
  });
});

Deno.test("f2b client start refuses when a server already answers", async () => {
  await withServer(async ({ socketPath }) => {
    const r = await runClient(["-s", socketPath, "start"]);
    assert.equal(r.code, 255);
    assert.match(r.stderr, /ERROR {3}Server already running/);
  });
});

Deno.test("f2b client prints get/set answers as fail2ban-client", async () => {
  await withServer(async ({ socketPath }) => {
    const echo = await runClient(["-s", socketPath, "echo", "a\tb", "c"]);
    assert.equal(echo.stdout, "a\tb c\n");
    const bad = await runClient(["-s", socketPath, "reload", "--bogus"]);
    assert.equal(bad.code, 255);
    assert.match(bad.stdout, /Unknown option "--bogus" of "reload": see "help"/);
  });
});
