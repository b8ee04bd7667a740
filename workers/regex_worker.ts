/**
 * The worker of a split `f2b regex` read: message wiring only; the logic is
 * {@link runRegexPart} in src/cli/regex_part.ts.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import { runRegexPart } from "../src/cli/regex_part.ts";
import type { RegexWorkerMessage, RegexWorkerStart } from "../src/cli/regex_parallel.ts";

const post = (m: RegexWorkerMessage) => self.postMessage(m);

self.onmessage = (event: MessageEvent<RegexWorkerStart>) => {
  runRegexPart(event.data, post).catch((e) => {
    post({ type: "error", message: e instanceof Error ? e.message : String(e) });
  }).finally(() => self.close());
};
