/**
 * The control plane's server side: the socket server, its length-prefixed
 * JSON frames, and the command handler that answers fail2ban-client's
 * commands against a {@link ServerControl} (a function of state and command,
 * testable without a socket).
 *
 * @module
 */

export * from "./control.ts";
export * from "./frames.ts";
export * from "./command_handler.ts";
export * from "./setting_commands.ts";
export * from "./control_server.ts";
