/**
 * The jail worker: one per enabled jail. Message wiring only; the logic is
 * {@link JailRunner} in src/jail/.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import type { FromWorker, ToWorker } from "../src/ipc/messages.ts";
import { IgnoreList } from "../src/jail/ignore_list.ts";
import { createJailMatcher } from "../src/jail/jail_matcher.ts";
import { JailRunner } from "../src/jail/jail_runner.ts";
import { SYSTEM_CLOCK } from "../src/util/clock.ts";

const runner = new JailRunner({
  clock: SYSTEM_CLOCK,
  post: (message: FromWorker) => self.postMessage(message),
  createMatcher: createJailMatcher,
  createIgnoreList: (spec, logger) =>
    new IgnoreList({ ignoreip: spec.ignoreip, ignoreself: spec.ignoreself, logger }),
});

self.onmessage = (event: MessageEvent<ToWorker>) => {
  runner.handle(event.data);
};
