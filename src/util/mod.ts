/**
 * Small utilities shared by every part: the injected {@link Clock}.
 *
 * @module
 */

export * from "./clock.ts";
