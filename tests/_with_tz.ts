/**
 * Runs test code under another process time zone.
 *
 * @module
 */

/** Runs `fn` with the process time zone set to `tz`, restoring it after. */
export function withTz<T>(tz: string, fn: () => T): T {
  const old = Deno.env.get("TZ");
  Deno.env.set("TZ", tz);
  try {
    return fn();
  } finally {
    if (old === undefined) Deno.env.delete("TZ");
    else Deno.env.set("TZ", old);
  }
}
