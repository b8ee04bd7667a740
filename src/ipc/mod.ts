/**
 * Messages between the parts: the supervisor and its jail workers, and the
 * control client and server.
 *
 * @module
 */

export * from "./messages.ts";
