/**
 * The control plane's client side: {@link sendCommand} sends one command to
 * the server's socket and returns the reply; the formatters print replies the
 * way fail2ban-client does.
 *
 * @module
 */

export * from "./control_client.ts";
export * from "./format.ts";
