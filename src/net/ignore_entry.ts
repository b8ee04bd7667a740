/**
 * One `ignoreip` entry: a single address, a network or a host name. Shared by
 * the configuration reader (which rejects a bad entry naming file, section
 * and key) and the jail's ignore list (which uses the parsed form).
 *
 * @module
 */

import {
  type IPNetwork,
  isValidHostText,
  parseAddress,
  parseNetworkOrThrow,
} from "./ip_address.ts";

/** A parsed `ignoreip` entry; `text` is its canonical form (the key of the entry). */
export type IgnoreEntry =
  | { kind: "address"; text: string }
  | { kind: "network"; text: string; network: IPNetwork }
  | { kind: "name"; text: string };

/**
 * Parses an `ignoreip` entry (already trimmed, not empty).
 *
 * A text whose last label is all digits (`300.1.2.3`, `10.1.2`) is refused
 * rather than taken as a host name: no top-level domain is numeric, so it can
 * only be a mistyped address.
 *
 * @throws {SyntaxError} `Invalid ignoreip entry "TEXT": WHY` for text that is
 *   no address, network or host name
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseIgnoreEntry } from "./ignore_entry.ts";
 *
 * assert.deepEqual(parseIgnoreEntry("192.0.2.7/32"), { kind: "address", text: "192.0.2.7" });
 * assert.equal(parseIgnoreEntry("Host.Example.").text, "host.example");
 * assert.throws(() => parseIgnoreEntry("300.1.2.3"), SyntaxError);
 * ```
 */
export function parseIgnoreEntry(text: string): IgnoreEntry {
  if (text.includes("/")) {
    const network = parseNetworkOrThrow(text, "ignoreip entry");
    return network.isSingle
      ? { kind: "address", text: network.canonical }
      : { kind: "network", text: network.canonical, network };
  }
  const address = parseAddress(text);
  if (address) return { kind: "address", text: address.canonical };
  if (/(?:^|\.)\d+\.?$/.test(text)) {
    throw new SyntaxError(
      `Invalid ignoreip entry "${text}": not an IP address (and a host name never ends in a numeric label)`,
    );
  }
  if (isValidHostText(text)) return { kind: "name", text: text.toLowerCase().replace(/\.$/, "") };
  throw new SyntaxError(
    `Invalid ignoreip entry "${text}": not an IP address, network or host name`,
  );
}
