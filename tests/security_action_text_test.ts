/**
 * SECURITY.md item 4 through the real server: log text placed in an action
 * (`<matches>` spanning several lines, `<F-USER>`) bare, in single quotes and
 * in double quotes, carrying backticks, `$(…)`, `;`, `|`, `&`, quotes,
 * backslashes, `%` and `~!`, is written out literally and never run.
 */

import assert from "node:assert/strict";
import { append, fail, read, Server, waitFor, withDir, writeConfig } from "./security_harness.ts";

Deno.test("hostile <matches> and <F-USER> reach a real action literally, in every quoting context", async () => {
  await withDir(async (dir) => {
    await writeConfig(dir, [{ name: "hostile", action: "echoall", extra: "maxretry = 3" }]);
    await Deno.writeTextFile(
      `${dir}/action.d/echoall.conf`,
      `[Definition]
actionban = printf '%%s' '<matches>' > ${dir}/out/<ip>.single
            printf '%%s' "<matches>" > ${dir}/out/<ip>.double
            printf '%%s' <F-USER> > ${dir}/out/<ip>.user
actionunban =
`,
    );
    await Deno.mkdir(`${dir}/out`);
    const users = [
      `$(touch${"${IFS}"}${dir}/pwned1)`,
      "`touch${IFS}" + dir + "/pwned2`",
      `x;touch${"${IFS}"}${dir}/pwned3`,
      `a|touch${"${IFS}"}${dir}/pwned4`,
      `b&&touch${"${IFS}"}${dir}/pwned5&`,
      `'";touch${"${IFS}"}${dir}/pwned6;'"`,
      `\\'\\"\\\\$HOME%s%n%%`,
      `~!touch${"${IFS}"}${dir}/pwned7`,
      `}"'$(<${dir}/jail.conf)`,
    ];
    const server = new Server(dir);
    try {
      await server.ready(["hostile"]);
      const text: string[] = [];
      users.forEach((u, i) => {
        const ip = `198.51.100.${i + 1}`;
        for (let k = 0; k < 3; k++) text.push(fail(ip, u));
      });
      // Lines are written interleaved per address, so each address's matches are its own 3 lines.
      await append(`${dir}/hostile.log`, text.join(""));
      await waitFor(
        () => users.every((_, i) => read(`${dir}/out/198.51.100.${i + 1}.user`) !== ""),
        "every action",
        () => server.log(),
      );
      for (const [i, u] of users.entries()) {
        const ip = `198.51.100.${i + 1}`;
        const mine = text.slice(i * 3, i * 3 + 3).map((l) => l.replace(/\n$/, ""));
        assert.equal(read(`${dir}/out/${ip}.user`), u, `user of ${ip}`);
        assert.equal(read(`${dir}/out/${ip}.single`), mine.join("\n"), `single-quoted ${ip}`);
        assert.equal(read(`${dir}/out/${ip}.double`), mine.join("\n"), `double-quoted ${ip}`);
      }
      for (let n = 1; n <= 7; n++) {
        await assert.rejects(Deno.stat(`${dir}/pwned${n}`), Deno.errors.NotFound, `pwned${n}`);
      }
      assert.equal(await server.stop(), 0);
    } finally {
      await server.stop();
    }
  });
});
