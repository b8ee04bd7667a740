/**
 * Jail specs, filter specs and ban tickets for tests; the specs are built on
 * the server's own defaults (`newJailSpec`, `emptyFilter`) so every test
 * starts from one place.
 *
 * @module
 */
import { emptyFilter } from "../src/config/jail_reader.ts";
import type { FilterSpec, JailSpec } from "../src/config/types.ts";
import type { BanTicket } from "../src/ipc/messages.ts";
import { newJailSpec } from "../src/server/setting_commands.ts";

/**
 * A jail as `add <name> polling` makes it (fail2ban's defaults, no log path,
 * no action) but with maxmatches 3 and no tail flags, then `over` on top.
 */
export function testJailSpec(name: string, over: Partial<JailSpec> = {}): JailSpec {
  const { logpathTail: _tail, ...base } = newJailSpec(name, "polling");
  return { ...base, maxmatches: 3, ...over };
}

/** A filter with no regex and fail2ban's defaults, then `over` on top. */
export function testFilterSpec(over: Partial<FilterSpec> = {}): FilterSpec {
  return { ...emptyFilter(), ...over };
}

/** A ban ticket: 192.0.2.1 in sshd, 3 failures, banned 600 s at 1124013600; then `over`. */
export function testTicket(over: Partial<BanTicket> = {}): BanTicket {
  return {
    jail: "sshd",
    fid: "192.0.2.1",
    family: "inet4",
    time: 1124013600,
    banTime: 600,
    banCount: 0,
    failures: 3,
    matches: [],
    data: {},
    ...over,
  };
}
