/**
 * What the control plane asks of the running daemon. The command handler is a
 * function of (control, command words), so tests can call it without a
 * socket; the daemon implements this interface.
 *
 * @module
 */

/** State of one jail as `status <jail>` prints it. */
export interface JailStatus {
  name: string;
  currentlyFailed: number;
  totalFailed: number;
  files: string[];
  currentlyBanned: number;
  totalBanned: number;
  bannedIps: string[];
}

/** Options of the `reload` command. */
export interface ReloadOptions {
  /** Reload only this jail. */
  jail?: string;
  /** Restart jails (actionstop/actionstart) instead of updating them in place. */
  restart?: boolean;
  /** Unban every address while reloading. */
  unban?: boolean;
  /** Also reload jails not changed. */
  all?: boolean;
  /** Do not fail when the jail does not exist. */
  ifExists?: boolean;
}

/** The running daemon as the command handler sees it. */
export interface ServerControl {
  /** Names of the running jails, in start order. */
  jailNames(): string[];
  /** Status of one jail; throws `UnknownJailError` for a jail not running. */
  jailStatus(name: string): JailStatus;
  /** Stops every jail (actionstop), flushes state and ends the server. */
  stop(): Promise<void>;
  /** Re-reads the configuration; bans are kept. */
  reload(options: ReloadOptions): Promise<void>;
}

/** A command named a jail that is not running. */
export class UnknownJailError extends Error {
  /** The jail name asked for. */
  readonly jail: string;
  /** Builds the error for `jail`. */
  constructor(jail: string) {
    super(`Sorry but the jail '${jail}' does not exist`);
    this.name = "UnknownJailError";
    this.jail = jail;
  }
}
