/**
 * Sending datagrams to a unix socket (syslog's /dev/log, journald's socket).
 *
 * Deno's stable API has no unix datagram client (`Deno.listenDatagram` with
 * `unixpacket` needs `--unstable-net`) and `node:dgram` knows only UDP, so
 * this calls libc's `socket(2)`/`sendto(2)` through `Deno.dlopen` (FFI,
 * covered by `--allow-ffi` / `-A`).
 *
 * @module
 */

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = Deno.build.os === "linux" ? 0o2000000 : 0;
/** Size of `sun_path` in `struct sockaddr_un`. */
const SUN_PATH_LEN = Deno.build.os === "linux" ? 108 : 104;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  sendto: {
    parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"],
    result: "isize",
  },
  close: { parameters: ["i32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>;

let libc: Libc | null = null;

function loadLibc(): Libc {
  if (libc) return libc;
  const names = Deno.build.os === "darwin"
    ? ["libSystem.dylib"]
    : Deno.build.os === "linux"
    ? ["libc.so.6", "libc.so"]
    : ["libc.so.7", "libc.so"];
  let lastError: unknown = null;
  for (const name of names) {
    try {
      libc = Deno.dlopen(name, SYMBOLS);
      return libc;
    } catch (e) {
      lastError = e;
    }
  }
  throw new Error(
    `Cannot load the C library for unix datagram sockets: ${
      lastError instanceof Error ? lastError.message : String(lastError)
    }`,
  );
}

function sockaddrUn(path: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(path);
  if (bytes.length >= SUN_PATH_LEN) {
    throw new RangeError(`Socket path "${path}" is too long for a unix socket`);
  }
  const addr = new Uint8Array(2 + SUN_PATH_LEN);
  if (Deno.build.os === "linux") {
    new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  } else {
    // BSD layout: sun_len, sun_family.
    addr[0] = 2 + bytes.length + 1;
    addr[1] = AF_UNIX;
  }
  addr.set(bytes, 2);
  return addr;
}

/** An unconnected unix datagram socket that sends to one path. */
export class UnixDatagramSender {
  readonly #path: string;
  readonly #addr: Uint8Array<ArrayBuffer>;
  #fd: number;

  /** Opens a datagram socket that sends to `path`; throws when the socket cannot be made. */
  constructor(path: string) {
    this.#path = path;
    this.#addr = sockaddrUn(path);
    const lib = loadLibc();
    this.#fd = lib.symbols.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (this.#fd < 0) throw new Error(`Cannot create a unix datagram socket for "${path}"`);
  }

  /** The destination path. */
  get path(): string {
    return this.#path;
  }

  /** Sends one datagram; throws when the receiver is gone or refuses it. */
  send(data: Uint8Array<ArrayBuffer>): void {
    if (this.#fd < 0) throw new Error(`Datagram socket for "${this.#path}" is closed`);
    const sent = loadLibc().symbols.sendto(
      this.#fd,
      data,
      BigInt(data.byteLength),
      0,
      this.#addr,
      this.#addr.byteLength,
    );
    if (Number(sent) < 0) throw new Error(`Cannot send to unix socket "${this.#path}"`);
  }

  /** Closes the socket. */
  close(): void {
    if (this.#fd >= 0) {
      loadLibc().symbols.close(this.#fd);
      this.#fd = -1;
    }
  }
}
