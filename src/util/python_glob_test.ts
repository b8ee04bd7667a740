import assert from "node:assert/strict";
import { pythonGlob } from "./python_glob.ts";

Deno.test("pythonGlob expands logpath patterns like Python's glob.glob", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const f of ["a.log", "b.log", ".h.log", "a.log.1", "c.txt"]) {
      await Deno.writeTextFile(`${dir}/${f}`, "");
    }
    await Deno.mkdir(`${dir}/sub1`);
    await Deno.writeTextFile(`${dir}/sub1/x.log`, "");
    await Deno.symlink(`${dir}/missing-target`, `${dir}/dangling.log`);
    assert.deepEqual(pythonGlob(`${dir}/*.log`).sort(), [
      `${dir}/a.log`,
      `${dir}/b.log`,
      `${dir}/dangling.log`,
    ]);
    assert.deepEqual(pythonGlob(`${dir}/.*.log`), [`${dir}/.h.log`]);
    assert.deepEqual(pythonGlob(`${dir}/[!a].log`), [`${dir}/b.log`]);
    assert.deepEqual(pythonGlob(`${dir}/*/x.log`), [`${dir}/sub1/x.log`]);
    assert.deepEqual(pythonGlob(`${dir}/nothing-*`), []);
    assert.deepEqual(pythonGlob(`${dir}/no-dir-*/x.log`), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
