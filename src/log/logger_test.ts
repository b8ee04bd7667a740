import assert from "node:assert/strict";
import { ManualClock } from "../util/clock.ts";
import {
  createLogger,
  escapeLogText,
  formatLogTime,
  parseLogLevel,
  splitTargetOptions,
} from "./logger.ts";

// 2026-11-25 15:00:00.123 in the local zone.
const T = new Date(2026, 10, 25, 15, 0, 0, 123).getTime() / 1000;

async function withTempDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "f2b_log_" });
  try {
    await fn(dir);
  } finally {
    await Deno.chmod(dir, 0o700).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("parseLogLevel takes fail2ban's names and numbers", () => {
  assert.equal(parseLogLevel("CRITICAL"), 50);
  assert.equal(parseLogLevel("notice"), 25);
  assert.equal(parseLogLevel("TRACEDEBUG"), 7);
  assert.equal(parseLogLevel("HEAVYDEBUG"), 5);
  assert.equal(parseLogLevel("17"), 17);
  assert.throws(() => parseLogLevel("LOUD"), /Invalid log level "LOUD"/);
});

Deno.test("formatLogTime prints local time with milliseconds after a comma", () => {
  assert.equal(formatLogTime(T), "2026-11-25 15:00:00,123");
});

Deno.test("escapeLogText keeps one record on one line", () => {
  assert.equal(escapeLogText("plain [sshd] text\twith tab"), "plain [sshd] text\twith tab");
  assert.equal(
    escapeLogText("user\n2026-11-25 fail2ban.actions: NOTICE Unban 1.2.3.4\r\x1b[2J\u2028"),
    "user\\n2026-11-25 fail2ban.actions: NOTICE Unban 1.2.3.4\\r\\x1b[2J\\u2028",
  );
});

Deno.test("splitTargetOptions reads SYSLOG[facility=AUTH]", () => {
  assert.deepEqual(splitTargetOptions('SYSLOG[facility=AUTH, padding="1"]'), {
    name: "SYSLOG",
    options: { facility: "AUTH", padding: "1" },
  });
  assert.deepEqual(splitTargetOptions("/var/log/f2b.log"), {
    name: "/var/log/f2b.log",
    options: {},
  });
});

Deno.test("file target: fail2ban's line format, mode 0600, level filter", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/f2b.log`;
    const logger = createLogger({
      target: path,
      level: "NOTICE",
      clock: new ManualClock(T),
      pid: 42,
    });
    logger.child("actions").log("NOTICE", "[sshd] Ban 192.0.2.1");
    logger.child("filter").log("INFO", "not shown");
    logger.log("ERROR", "root\nforged line");
    logger.close();
    assert.equal(
      await Deno.readTextFile(path),
      "2026-11-25 15:00:00,123 fail2ban.actions        [42]: NOTICE  [sshd] Ban 192.0.2.1\n" +
        "2026-11-25 15:00:00,123 fail2ban                [42]: ERROR   root\\nforged line\n",
    );
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  });
});

Deno.test("logMany writes many records like log does, in order, escaped, level filtered", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/f2b.log`;
    const logger = createLogger({
      target: path,
      level: "INFO",
      clock: new ManualClock(T),
      pid: 42,
    });
    const filter = logger.child("filter");
    filter.logMany!("INFO", ["[j] Found 192.0.2.1 - x", "[j] Found 192.0.2.2\nforged"]);
    filter.logMany!("DEBUG", ["not shown"]);
    filter.logMany!("INFO", []);
    logger.logMany("WARNING", ["root"]);
    logger.close();
    assert.equal(
      await Deno.readTextFile(path),
      "2026-11-25 15:00:00,123 fail2ban.filter         [42]: INFO    [j] Found 192.0.2.1 - x\n" +
        "2026-11-25 15:00:00,123 fail2ban.filter         [42]: INFO    [j] Found 192.0.2.2\\nforged\n" +
        "2026-11-25 15:00:00,123 fail2ban                [42]: WARNING root\n",
    );
  });
});

Deno.test("setLevel and setTarget change the logger at run time", async () => {
  await withTempDir(async (dir) => {
    const a = `${dir}/a.log`;
    const b = `${dir}/b.log`;
    const logger = createLogger({ target: a, level: "INFO", clock: new ManualClock(T), pid: 1 });
    assert.equal(logger.level, "INFO");
    logger.log("DEBUG", "hidden");
    logger.setLevel("debug");
    assert.equal(logger.level, "DEBUG");
    assert.ok(logger.isEnabled("DEBUG"));
    logger.log("DEBUG", "shown in a");
    logger.setTarget(b);
    assert.equal(logger.target, b);
    logger.log("WARNING", "shown in b");
    assert.throws(() => logger.setLevel("LOUD"), RangeError);
    assert.throws(() => logger.setTarget(`${dir}/missing/dir/c.log`), /Unable to log to/);
    assert.equal(logger.target, b, "a failed setTarget keeps the previous target");
    logger.log("INFO", "still b");
    logger.close();
    assert.match(await Deno.readTextFile(a), /^[^\n]*DEBUG {3}shown in a\n$/);
    assert.match(await Deno.readTextFile(b), /WARNING shown in b\n.*INFO {4}still b\n$/);
  });
});

Deno.test("reopen follows logrotate: new records go to the new file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/f2b.log`;
    const logger = createLogger({ target: path, level: "INFO", clock: new ManualClock(T) });
    logger.log("INFO", "before rotation");
    await Deno.rename(path, `${path}.1`);
    logger.log("INFO", "after rename, before reopen");
    assert.equal(logger.reopen(), "rolled over");
    logger.log("INFO", "after reopen");
    logger.close();
    const old = await Deno.readTextFile(`${path}.1`);
    assert.match(old, /before rotation\n.*after rename, before reopen\n$/);
    const fresh = await Deno.readTextFile(path);
    assert.match(fresh, /after reopen\n$/);
    assert.doesNotMatch(fresh, /before/);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  });
});

Deno.test("an unwritable file target falls back to stderr with one error line", async () => {
  await withTempDir(async (dir) => {
    // A subprocess, so its stderr can be read.
    const code = `
      import { createLogger } from ${JSON.stringify(new URL("./logger.ts", import.meta.url).href)};
      const logger = createLogger({ target: ${
      JSON.stringify(`${dir}/no/such/dir/f.log`)
    }, level: "INFO" });
      logger.log("NOTICE", "[sshd] Ban 192.0.2.7");
      logger.log("NOTICE", "[sshd] Ban 192.0.2.8");
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0);
    const lines = new TextDecoder().decode(out.stderr).trimEnd().split("\n");
    assert.equal(lines.length, 3, lines.join("\n"));
    assert.match(
      lines[0]!,
      /ERROR {3}Cannot log to .*f\.log: Unable to log to .*logging to STDERR/,
    );
    assert.match(lines[1]!, /NOTICE {2}\[sshd\] Ban 192\.0\.2\.7$/);
    assert.match(lines[2]!, /NOTICE {2}\[sshd\] Ban 192\.0\.2\.8$/);
  });
});

Deno.test("SYSOUT writes to stdout without time stamp; STDOUT with it", async () => {
  const code = `
    import { createLogger } from ${JSON.stringify(new URL("./logger.ts", import.meta.url).href)};
    const a = createLogger({ target: "SYSOUT", level: "INFO", pid: 7 });
    a.child("server").log("INFO", "sysout line");
    const b = createLogger({ target: "STDOUT", level: "INFO", pid: 7 });
    b.child("server").log("INFO", "stdout line");
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(out.stdout).trimEnd().split("\n");
  assert.equal(lines[0], "fail2ban.server         [7]: INFO    sysout line");
  assert.match(
    lines[1]!,
    /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} fail2ban\.server {9}\[7\]: INFO {4}stdout line$/,
  );
});

Deno.test("SYSLOG target sends <PRI>-prefixed datagrams to the syslog socket", async () => {
  await withTempDir(async (dir) => {
    const sock = `${dir}/log.sock`;
    // Receiver in a subprocess: receiving unix datagrams needs --unstable-net.
    const receiver = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        "--unstable-net",
        `const l = Deno.listenDatagram({ transport: "unixpacket", path: ${JSON.stringify(sock)} });
         console.log("ready");
         for (let i = 0; i < 2; i++) {
           const [d] = await l.receive();
           console.log(JSON.stringify(new TextDecoder().decode(d)));
         }
         l.close();`,
      ],
      stdout: "piped",
    }).spawn();
    const reader = receiver.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("ready\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const logger = createLogger({
      target: "SYSLOG[facility=AUTH]",
      level: "INFO",
      syslogSocket: sock,
      pid: 9,
    });
    logger.child("actions").log("NOTICE", "[sshd] Ban 192.0.2.1");
    logger.log("ERROR", "bad\nthing");
    logger.close();
    while (text.split("\n").length < 4) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    await receiver.status;
    const got = text.trimEnd().split("\n").slice(1).map((l) => JSON.parse(l));
    // AUTH = 4: 4 * 8 + notice (5) = 37, + err (3) = 35.
    assert.deepEqual(got, [
      "<37>fail2ban.actions[9]: NOTICE [sshd] Ban 192.0.2.1\0",
      "<35>fail2ban[9]: ERROR bad\\nthing\0",
    ]);
  });
});

Deno.test("SYSLOG with no socket falls back to stderr instead of failing", async () => {
  await withTempDir(async (dir) => {
    const code = `
      import { createLogger } from ${JSON.stringify(new URL("./logger.ts", import.meta.url).href)};
      const l = createLogger({ target: "SYSLOG", level: "INFO", syslogSocket: ${
      JSON.stringify(`${dir}/none.sock`)
    } });
      l.log("WARNING", "still logged");
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert.match(err, /Syslog socket file: .*none\.sock does not exist or is not a socket/);
    assert.match(err, /WARNING still logged/);
  });
});
