/**
 * SECURITY.md items 19 to 22 against the real server process: the socket's
 * mode, directory and owner; a stale socket file; malformed, oversized,
 * deeply nested and slow frames; SIGINT and SIGTERM (actionstop, bans and
 * positions flushed, exit 0) and SIGHUP (bans kept).
 */

import assert from "node:assert/strict";
import { sendCommand } from "../src/client/control_client.ts";
import {
  append,
  bans,
  fail,
  lines,
  read,
  row,
  Server,
  sleep,
  waitFor,
  withDir,
  writeConfig,
} from "./security_harness.ts";

Deno.test("the real server's socket is 0600 in a 0700 directory it created, owned by its user", async () => {
  await withDir(async (dir) => {
    await writeConfig(dir, [{ name: "web" }]);
    const server = new Server(dir);
    try {
      await server.ready(["web"]);
      const sock = Deno.lstatSync(server.socket);
      const run = Deno.statSync(`${dir}/run`);
      assert.ok(sock.isSocket);
      assert.equal(sock.mode! & 0o777, 0o600, `socket mode ${(sock.mode! & 0o777).toString(8)}`);
      assert.equal(run.mode! & 0o777, 0o700, `directory mode ${(run.mode! & 0o777).toString(8)}`);
      assert.equal(sock.uid, Deno.uid());
      assert.equal(run.uid, Deno.uid());
      assert.equal(await server.stop(), 0);
      await assert.rejects(Deno.lstat(server.socket), Deno.errors.NotFound);
    } finally {
      await server.stop();
    }
  });
});

Deno.test("a stale socket file left by a killed server is removed and the next start goes on", async () => {
  await withDir(async (dir) => {
    await writeConfig(dir, [{ name: "web" }]);
    let server = new Server(dir);
    try {
      await server.ready(["web"]);
      await server.kill9();
      // kill -9 leaves the socket file and the pidfile behind, with no listener.
      assert.ok(Deno.lstatSync(server.socket).isSocket);
      server = new Server(dir);
      await server.ready(["web"]);
      assert.equal(await server.command("ping"), "pong");
      assert.equal(await server.stop(), 0);
    } finally {
      await server.stop();
    }
  });
});

Deno.test("malformed, deeply nested, oversized and many slow frames leave the real server answering", async () => {
  await withDir(async (dir) => {
    await writeConfig(dir, [{ name: "web" }]);
    const server = new Server(dir);
    const open: Deno.Conn[] = [];
    try {
      await server.ready(["web"]);
      const enc = new TextEncoder();
      /** Sends `bytes`, then reads what comes back until the server closes or 2 s pass. */
      const exchange = async (bytes: Uint8Array): Promise<string> => {
        const c = await Deno.connect({ transport: "unix", path: server.socket });
        try {
          await c.write(bytes).catch(() => 0);
          const chunks: Uint8Array[] = [];
          const buf = new Uint8Array(65536);
          const end = Date.now() + 2000;
          while (Date.now() < end) {
            const n = await Promise.race([
              c.read(buf).catch(() => null),
              sleep(Math.max(1, end - Date.now())).then(() => -1),
            ]);
            if (n === null || n === -1) break;
            chunks.push(buf.slice(0, n));
            if (buf.subarray(0, n).includes(0x0a)) break;
          }
          return new TextDecoder().decode(
            chunks.reduce((a, b) => new Uint8Array([...a, ...b]), new Uint8Array()),
          );
        } finally {
          c.close();
        }
      };
      const bad = [
        "not json\n",
        "{}\n",
        '{"type":"command","command":"status"}\n',
        '{"type":"command","command":[1,{"a":null},[2]]}\n',
        '{"type":"command","command":["status","web","\\u0000\\ud800"]}\n',
        "\u0000\u00ff\ufffd\n",
        "[".repeat(200_000) + "]".repeat(200_000) + "\n",
        '{"type":"command","command":[' + '"x",'.repeat(100_000) + '"x"]}\n',
      ];
      for (const frame of bad) {
        const reply = await exchange(enc.encode(frame));
        // An error reply, or the connection closed: never a success.
        if (reply) assert.match(reply, /"ok":\s*false/, `reply to ${frame.slice(0, 60)}`);
        assert.equal(await server.command("ping"), "pong");
      }
      // Oversized: 2 MiB without a newline.
      await exchange(new Uint8Array(2 * 1024 * 1024).fill(0x7b));
      assert.equal(await server.command("ping"), "pong");
      // 300 clients that each hold half a frame open.
      for (let i = 0; i < 300; i++) {
        const c = await Deno.connect({ transport: "unix", path: server.socket });
        await c.write(enc.encode('{"type":"command","comm'));
        open.push(c);
      }
      await append(`${dir}/web.log`, fail("192.0.2.7").repeat(2));
      await waitFor(() => bans(dir).includes("ban web 192.0.2.7"), "ban", () => server.log());
      const r = await sendCommand(server.socket, ["status", "web"], { timeout: 10_000 });
      assert.ok(r.ok);
      assert.deepEqual(row(r.value, "Banned IP list"), ["192.0.2.7"]);
      for (const c of open.splice(0)) c.close();
      assert.equal(await server.command("ping"), "pong");
      assert.equal(await server.stop(), 0);
    } finally {
      for (const c of open) c.close();
      await server.stop();
    }
  });
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`${signal}: actionstop for every jail, bans and positions flushed, exit 0; the restart restores without reading lines again`, async () => {
    await withDir(async (dir) => {
      await writeConfig(dir, [{ name: "web" }, { name: "mail" }]);
      let server = new Server(dir);
      try {
        await server.ready(["web", "mail"]);
        await waitFor(() => lines(`${dir}/actions.txt`).length >= 2, "actionstart");
        await append(`${dir}/web.log`, fail("192.0.2.1").repeat(2));
        // One failure in mail: counted, not banned; its line must not be read again.
        await append(`${dir}/mail.log`, fail("192.0.2.2"));
        await waitFor(() => bans(dir).includes("ban web 192.0.2.1"), "ban", () => server.log());
        await waitFor(
          async () => row(await server.command("status", "mail"), "Total failed") === 1,
          "the failure in mail",
        );
        assert.equal(await server.stop(signal), 0);
        const first = lines(`${dir}/actions.txt`);
        assert.ok(first.includes("stop web") && first.includes("stop mail"), first.join("\n"));
        assert.equal(read(`${dir}/run/f2b.pid`), "", "pidfile removed");

        await Deno.rename(`${dir}/actions.txt`, `${dir}/actions-1.txt`);
        server = new Server(dir);
        await server.ready(["web", "mail"]);
        await waitFor(() => bans(dir).includes("ban web 192.0.2.1"), "restored ban");
        // Had the old line of 192.0.2.2 been read again, "Total failed" would be 3, not 2.
        await append(`${dir}/mail.log`, fail("192.0.2.3").repeat(2));
        await waitFor(() => bans(dir).includes("ban mail 192.0.2.3"), "ban in mail");
        assert.equal(row(await server.command("status", "mail"), "Total failed"), 2);
        assert.ok(!bans(dir).includes("ban mail 192.0.2.2"));
        assert.equal(await server.stop(), 0);
      } finally {
        await server.stop();
      }
    });
  });
}

Deno.test("SIGHUP re-reads a changed configuration and keeps bans; a jail removed is stopped", async () => {
  await withDir(async (dir) => {
    await writeConfig(dir, [{ name: "web" }, { name: "mail" }]);
    const server = new Server(dir);
    try {
      await server.ready(["web", "mail"]);
      await append(`${dir}/web.log`, fail("192.0.2.1").repeat(2));
      await waitFor(() => bans(dir).includes("ban web 192.0.2.1"), "ban", () => server.log());
      // web gets maxretry 3; mail is removed.
      await writeConfig(dir, [{ name: "web", extra: "maxretry = 3" }]);
      server.child.kill("SIGHUP");
      await waitFor(() => lines(`${dir}/actions.txt`).includes("stop mail"), "mail stopped");
      await waitFor(async () => {
        try {
          return String(await server.command("get", "web", "maxretry")) === "3";
        } catch {
          return false;
        }
      }, "maxretry 3 in force");
      assert.deepEqual(row(await server.command("status", "web"), "Banned IP list"), [
        "192.0.2.1",
      ]);
      assert.equal(row(await server.command("status"), "Number of jail"), 1);
      // No ban was run twice, none undone.
      assert.deepEqual(bans(dir), ["ban web 192.0.2.1"]);
      assert.ok(!lines(`${dir}/actions.txt`).some((l) => l.startsWith("unban ")));
      assert.equal(await server.stop(), 0);
    } finally {
      await server.stop();
    }
  });
});
