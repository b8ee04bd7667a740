/**
 * SECURITY.md items 3 and 5 through the real server: 64 KiB hostile lines
 * against a jail per shipped filter (the workers keep answering their
 * heartbeat and go on reading), and raw bytes (invalid UTF-8, Latin-1, NUL,
 * CRLF, a last line written in two parts) decoded as the spec says.
 */

import assert from "node:assert/strict";
import { readFailJson } from "../src/filter/failjson.ts";
import {
  append,
  fail,
  lines,
  row,
  Server,
  SHIPPED,
  sleep,
  stamp,
  waitFor,
  withDir,
  writeConfig,
} from "./security_harness.ts";

const SAMPLES = new URL("./testdata/logs/", import.meta.url).pathname;

/** A sample line of `filter` that its default options match (from our failJSON samples). */
function sampleLine(filter: string): string | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(`${SAMPLES}${filter}`);
  } catch {
    return null;
  }
  const cases = readFailJson(filter, () => text);
  const c = cases.find((c) =>
    c.expect.match === true && c.expect.host !== undefined && c.expect.constraint === undefined &&
    !c.journal && c.filterName === filter && Object.keys(c.filterOptions).length === 0
  );
  return c ? c.line : null;
}

/** 64 KiB of separators and address fragments. */
function payload(unit: string, room = 65000): string {
  return unit.repeat(Math.ceil(room / unit.length)).slice(0, room);
}

const UNITS = [
  "from 1.2.3.",
  " rhost=1.2.3.4 user=",
  "[client 1.2.3.4:] ",
  "::ffff:1.2.3.4%eth0 ",
  ": : ; , [ ] ( ) < > = ",
  "user=<a@b.c>, rip=1.2.3.4, ",
  " port 22 ssh2 from ",
  "aaaa:bbbb:cccc:",
  "\t \t ",
];

Deno.test("64 KiB hostile lines against every shipped filter: the real server's workers keep answering and read on", async () => {
  await withDir(async (dir) => {
    const filters: Array<{ name: string; sample: string }> = [];
    for (const e of Deno.readDirSync(`${SHIPPED}filter.d`)) {
      const name = e.name.replace(/\.conf$/, "");
      const sample = sampleLine(name);
      if (sample) filters.push({ name, sample });
    }
    filters.sort((a, b) => a.name.localeCompare(b.name));
    assert.ok(filters.length >= 25, `shipped filters with samples: ${filters.length}`);
    await writeConfig(dir, filters.map((f) => ({ name: f.name, filter: f.name })), {
      shippedFilters: true,
      // Old sample lines still count; nothing is banned.
      defaults: { findtime: "9000d", maxretry: "1000000" },
    });
    const server = new Server(dir, ["--heartbeat-timeout", "2"]);
    try {
      await server.ready(filters.map((f) => f.name));
      await waitFor(
        () => filters.every((f) => server.log().includes(`[${f.name}] Added logfile`)),
        "every jail tailing its log",
        () => server.log(),
      );
      for (const f of filters) {
        const host = /\d+\.\d+\.\d+\.\d+|[0-9a-f]*:[0-9a-f:]+/i.exec(f.sample);
        const cut = host ? host.index : Math.min(40, f.sample.length);
        const hostile = UNITS.flatMap((u) => [
          // The payload where the host would be, after the real prefix …
          f.sample.slice(0, cut) + payload(u) + f.sample.slice(cut),
          // … after the date and prefix only, and on its own.
          f.sample.slice(0, Math.min(40, f.sample.length)) + payload(u),
          payload(u),
        ]);
        await append(`${dir}/${f.name}.log`, hostile.join("\n") + "\n" + f.sample + "\n");
      }
      // The sample line after the hostile ones is counted in every jail.
      const failed = async (name: string) =>
        Number(row(await server.command("status", name), "Total failed"));
      let missing: string[] = [];
      await waitFor(
        async () => {
          missing = [];
          for (const f of filters) if (await failed(f.name) < 1) missing.push(f.name);
          return missing.length === 0;
        },
        "the sample line after the hostile ones counted in every jail",
        () => `not counted in ${missing.join(", ")}\n${server.log()}`,
        60,
      );
      assert.doesNotMatch(server.log(), /did not answer|worker (crashed|exited|failed)/i);
      assert.equal(await server.stop(), 0);
    } finally {
      await server.stop();
    }
  });
});

Deno.test("invalid UTF-8, Latin-1, NUL and CRLF lines, and a last line written in two parts, through the real server", async () => {
  await withDir(async (dir) => {
    await writeConfig(dir, [{ name: "raw", action: "users", extra: "maxretry = 1" }]);
    await Deno.writeTextFile(
      `${dir}/action.d/users.conf`,
      `[Definition]
actionban = printf '%%s=%%s\\n' <ip> <F-USER> >> ${dir}/users.txt
actionunban =
`,
    );
    const server = new Server(dir);
    try {
      await server.ready(["raw"]);
      const enc = new TextEncoder();
      const bytes = (...parts: Array<string | number[]>) =>
        new Uint8Array(parts.flatMap((p) => typeof p === "string" ? [...enc.encode(p)] : p));
      const head = `${stamp()} auth failure for user `;
      await append(
        `${dir}/raw.log`,
        bytes(
          head,
          [0x63, 0x61, 0x66, 0xe9], // Latin-1 "café"
          " from 192.0.2.1\r\n",
          head,
          [0xff, 0xfe, 0xc3], // invalid UTF-8, a truncated sequence last
          " from 192.0.2.2\r\n",
          head,
          "nul",
          [0x00],
          "x from 192.0.2.3\n",
          head,
          "crlf from 192.0.2.5\r\n",
          // The last line without its end: "from 192.0.2." must not be read as an address.
          head,
          "part from 192.0.2.",
        ),
      );
      await waitFor(() => lines(`${dir}/users.txt`).length >= 4, "four bans", () => server.log());
      // Give the tailer a few polls over the partial line before it is completed.
      await sleep(2500);
      await append(`${dir}/raw.log`, "4\n");
      await append(`${dir}/raw.log`, fail("192.0.2.99", "end"));
      await waitFor(
        () => lines(`${dir}/users.txt`).some((l) => l.startsWith("192.0.2.99=")),
        "the last ban",
        () => server.log(),
      );
      const got = lines(`${dir}/users.txt`).sort();
      assert.deepEqual(got, [
        "192.0.2.1=caf\uFFFD",
        "192.0.2.2=\uFFFD\uFFFD\uFFFD",
        "192.0.2.3=nul\uFFFDx",
        "192.0.2.4=part",
        "192.0.2.5=crlf",
        "192.0.2.99=end",
      ]);
      assert.equal(await server.stop(), 0);
    } finally {
      await server.stop();
    }
  });
});
