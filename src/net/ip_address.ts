/**
 * IPv4 and IPv6 addresses and networks, parsed the way fail2ban's IPAddr
 * accepts them (the C library's `inet_pton`), with one canonical text per
 * address so that failures and bans are keyed consistently.
 *
 * - IPv4: strict dotted quad; a part with a leading zero (`192.030.0.6`) is
 *   not an address (fail2ban keeps such text as a raw id, never reinterprets
 *   it as octal).
 * - IPv6: full, compressed and mixed (`::1.2.3.4`) forms, case-insensitive,
 *   in brackets (`[2001:db8::1]`), with a zone id (`fe80::1%eth0`, the zone is
 *   kept apart and is not part of the key). IPv4-mapped addresses
 *   (`::ffff:1.2.3.4`) are the IPv4 address, as in fail2ban.
 * - Canonical text: IPv4 dotted decimal; IPv6 lowercase with the longest run
 *   of two or more zero groups compressed (RFC 5952), the same text Linux's
 *   `inet_ntop` prints and fail2ban stores.
 *
 * @module
 */

/** Address family, in fail2ban's words (`<family>` action tag). */
export type AddressFamily = "inet4" | "inet6";

const MAPPED_PREFIX_WORD = 0x0000ffff; // third 32-bit word of ::ffff:0:0/96

/** One IPv4 or IPv6 address. Create with {@link parseAddress}. */
export class IPAddress {
  /** `inet4` or `inet6`. */
  readonly family: AddressFamily;
  /** The one text for this address: `192.0.2.1`, `2001:db8::1`. */
  readonly canonical: string;
  /** IPv6 zone id (`eth0` of `fe80::1%eth0`), or null. Not part of {@link canonical}. */
  readonly zone: string | null;
  // Address as four 32-bit words, most significant first; IPv4 uses only #w3.
  readonly #w0: number;
  readonly #w1: number;
  readonly #w2: number;
  readonly #w3: number;

  /** Use {@link parseAddress}; this builds from 32-bit words (IPv4: `w3` only). */
  constructor(
    family: AddressFamily,
    w0: number,
    w1: number,
    w2: number,
    w3: number,
    zone: string | null = null,
    canonical?: string,
  ) {
    this.family = family;
    this.#w0 = w0 >>> 0;
    this.#w1 = w1 >>> 0;
    this.#w2 = w2 >>> 0;
    this.#w3 = w3 >>> 0;
    this.zone = zone;
    this.canonical = canonical ??
      (family === "inet4"
        ? formatIPv4(this.#w3)
        : formatIPv6(this.#w0, this.#w1, this.#w2, this.#w3));
  }

  /** True for IPv4. */
  get isIPv4(): boolean {
    return this.family === "inet4";
  }

  /** True for IPv6. */
  get isIPv6(): boolean {
    return this.family === "inet6";
  }

  /** Address bits: 32 for IPv4, 128 for IPv6. */
  get bits(): number {
    return this.family === "inet4" ? 32 : 128;
  }

  /** The address as 32-bit words, most significant first (one word for IPv4, four for IPv6). */
  words(): number[] {
    return this.family === "inet4" ? [this.#w3] : [this.#w0, this.#w1, this.#w2, this.#w3];
  }

  /** Whether `other` is the same address (zone ids ignored). */
  equals(other: IPAddress): boolean {
    return this.family === other.family && this.#w3 === other.#w3 && this.#w2 === other.#w2 &&
      this.#w1 === other.#w1 && this.#w0 === other.#w0;
  }

  /** Whether this address lies in `network` (same family, same prefix bits). */
  isInNetwork(network: IPNetwork): boolean {
    return network.contains(this);
  }

  /**
   * The reverse DNS name (fail2ban's `<ip-rev>` without the suffix when
   * `suffix` is empty): `4.3.2.1.in-addr.arpa.`.
   */
  reversePointer(suffix?: string): string {
    if (this.family === "inet4") {
      const w = this.#w3;
      return `${w & 0xff}.${(w >>> 8) & 0xff}.${(w >>> 16) & 0xff}.${w >>> 24}.${
        suffix ?? "in-addr.arpa."
      }`;
    }
    const nibbles: string[] = [];
    for (const w of [this.#w3, this.#w2, this.#w1, this.#w0]) {
      for (let shift = 0; shift < 32; shift += 4) nibbles.push(((w >>> shift) & 0xf).toString(16));
    }
    return `${nibbles.join(".")}.${suffix ?? "ip6.arpa."}`;
  }

  /** The canonical text. */
  toString(): string {
    return this.canonical;
  }

  /** @internal word access for {@link IPNetwork}. */
  static word(address: IPAddress, index: number): number {
    switch (index) {
      case 0:
        return address.#w0;
      case 1:
        return address.#w1;
      case 2:
        return address.#w2;
      default:
        return address.#w3;
    }
  }
}

/** A network: an address prefix (`10.0.0.0/8`, `2001:db8::/32`); a single address has the full prefix. */
export class IPNetwork {
  /** `inet4` or `inet6`. */
  readonly family: AddressFamily;
  /** Prefix length in bits. */
  readonly prefix: number;
  /** The network's first address (host bits cleared). */
  readonly address: IPAddress;
  /** `10.0.0.0/8`; the bare address when the prefix is full, as fail2ban prints it. */
  readonly canonical: string;
  readonly #m0: number;
  readonly #m1: number;
  readonly #m2: number;
  readonly #m3: number;
  readonly #n0: number;
  readonly #n1: number;
  readonly #n2: number;
  readonly #n3: number;

  /** Builds the network of `address` with `prefix` bits (host bits are cleared). */
  constructor(address: IPAddress, prefix: number) {
    const bits = address.bits;
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) {
      throw new RangeError(`Invalid prefix length "${prefix}" for ${address.family}`);
    }
    this.family = address.family;
    this.prefix = prefix;
    const offset = bits === 32 ? 96 : 0; // IPv4 lives in the last word
    const masks = [0, 0, 0, 0];
    for (let i = 0; i < 4; i++) {
      const used = Math.min(32, Math.max(0, prefix + offset - i * 32));
      masks[i] = used === 0 ? 0 : (0xffffffff << (32 - used)) >>> 0;
    }
    if (bits === 32) masks[0] = masks[1] = masks[2] = 0;
    this.#m0 = masks[0]!;
    this.#m1 = masks[1]!;
    this.#m2 = masks[2]!;
    this.#m3 = masks[3]!;
    this.#n0 = (IPAddress.word(address, 0) & this.#m0) >>> 0;
    this.#n1 = (IPAddress.word(address, 1) & this.#m1) >>> 0;
    this.#n2 = (IPAddress.word(address, 2) & this.#m2) >>> 0;
    this.#n3 = (IPAddress.word(address, 3) & this.#m3) >>> 0;
    this.address = prefix === bits && address.zone === null
      ? address
      : new IPAddress(address.family, this.#n0, this.#n1, this.#n2, this.#n3);
    this.canonical = prefix === bits
      ? this.address.canonical
      : `${this.address.canonical}/${prefix}`;
  }

  /** Whether this network is one address (full prefix). */
  get isSingle(): boolean {
    return this.prefix === this.address.bits;
  }

  /** Whether `address` lies in this network. */
  contains(address: IPAddress): boolean {
    if (address.family !== this.family) return false;
    return ((IPAddress.word(address, 3) & this.#m3) >>> 0) === this.#n3 &&
      ((IPAddress.word(address, 2) & this.#m2) >>> 0) === this.#n2 &&
      ((IPAddress.word(address, 1) & this.#m1) >>> 0) === this.#n1 &&
      ((IPAddress.word(address, 0) & this.#m0) >>> 0) === this.#n0;
  }

  /** The canonical text. */
  toString(): string {
    return this.canonical;
  }
}

/**
 * Parses an IPv4 or IPv6 address, or returns null when `text` is not one
 * (host names, `192.030.0.6`, surrounding spaces, prefixes).
 *
 * @example
 * ```ts
 * import { parseAddress } from "./ip_address.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseAddress("::FFFF:1.2.3.4")?.canonical, "1.2.3.4");
 * assert.equal(parseAddress("2001:0db8:0:0::0001")?.canonical, "2001:db8::1");
 * assert.equal(parseAddress("192.030.0.6"), null);
 * ```
 */
export function parseAddress(text: string): IPAddress | null {
  let start = 0;
  let end = text.length;
  if (end > 2 && text.charCodeAt(0) === 0x5b /* [ */ && text.charCodeAt(end - 1) === 0x5d) {
    start = 1;
    end--;
  }
  if (end - start < 2) return null;
  // IPv4 if a dot comes before any colon.
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e /* . */) {
      const v = parseIPv4(text, start, end);
      if (v < 0) return null;
      return new IPAddress(
        "inet4",
        0,
        0,
        0,
        v,
        null,
        start === 0 && end === text.length ? text : text.slice(start, end),
      );
    }
    if (c === 0x3a /* : */) return parseIPv6(text, start, end, true);
  }
  return null;
}

/** Text of an address or network for messages: parse or throw a SyntaxError naming `what`. */
function invalid(what: string, text: string, detail: string): SyntaxError {
  return new SyntaxError(`Invalid ${what} "${text}": ${detail}`);
}

/**
 * Parses a network: `10.0.0.0/8`, `2001:db8::/32`, `1.2.3.4/255.255.0.0`,
 * or a single address (full prefix). Host bits are cleared
 * (`10.1.2.3/8` is `10.0.0.0/8`). Returns null when `text` is not a network.
 * IPv6 networks inside `::ffff:0:0/96` become the IPv4 network, since mapped
 * addresses are IPv4 addresses here.
 */
export function parseNetwork(text: string): IPNetwork | null {
  try {
    return parseNetworkOrThrow(text);
  } catch {
    return null;
  }
}

/** Like {@link parseNetwork} but throws a SyntaxError saying what is wrong. */
export function parseNetworkOrThrow(text: string, what = "network"): IPNetwork {
  let body = text;
  if (body.length > 2 && body.startsWith("[") && body.endsWith("]")) body = body.slice(1, -1);
  const slash = body.indexOf("/");
  if (slash < 0) {
    const single = parseAddress(body);
    if (!single) throw invalid(what, text, "not an IP address");
    return new IPNetwork(single, single.bits);
  }
  let addressText = body.slice(0, slash);
  if (addressText.length > 2 && addressText.startsWith("[") && addressText.endsWith("]")) {
    addressText = addressText.slice(1, -1);
  }
  const maskText = body.slice(slash + 1);
  // Parse without mapping ::ffff:a.b.c.d to IPv4 first; decided after the prefix is known.
  const address = addressText.includes(":")
    ? parseIPv6(addressText, 0, addressText.length, false)
    : parseAddress(addressText);
  if (!address) throw invalid(what, text, `"${addressText}" is not an IP address`);
  let prefix: number;
  if (/^[0-9]{1,3}$/.test(maskText)) {
    prefix = Number(maskText);
    if (prefix > address.bits) {
      throw invalid(what, text, `prefix length ${prefix} is more than ${address.bits}`);
    }
  } else if (maskText.includes(".") || maskText.includes(":")) {
    const mask = maskText.includes(":")
      ? parseIPv6(maskText, 0, maskText.length, false)
      : parseAddress(maskText);
    if (!mask || mask.family !== address.family) {
      throw invalid(what, text, `"${maskText}" is not a ${address.family} mask`);
    }
    const p = maskPrefix(mask);
    if (p < 0) throw invalid(what, text, `mask "${maskText}" is not contiguous`);
    prefix = p;
  } else {
    throw invalid(what, text, `"${maskText}" is not a prefix length or mask`);
  }
  if (
    address.family === "inet6" && prefix >= 96 && IPAddress.word(address, 0) === 0 &&
    IPAddress.word(address, 1) === 0 && IPAddress.word(address, 2) === MAPPED_PREFIX_WORD
  ) {
    return new IPNetwork(
      new IPAddress("inet4", 0, 0, 0, IPAddress.word(address, 3)),
      prefix - 96,
    );
  }
  return new IPNetwork(address, prefix);
}

/** Prefix length of a contiguous mask address, or -1. */
function maskPrefix(mask: IPAddress): number {
  let prefix = 0;
  let ended = false;
  for (const w of mask.words()) {
    for (let bit = 31; bit >= 0; bit--) {
      const set = ((w >>> bit) & 1) === 1;
      if (set) {
        if (ended) return -1;
        prefix++;
      } else ended = true;
    }
  }
  return prefix;
}

/** Canonical text of `text` if it is an address, else null. */
export function canonicalAddress(text: string): string | null {
  return parseAddress(text)?.canonical ?? null;
}

/** Address family of an address text, or null when it is not an address. */
export function addressFamily(text: string): AddressFamily | null {
  return parseAddress(text)?.family ?? null;
}

/**
 * Whether `text` is an IP address or a syntactically valid DNS host name
 * (labels of letters, digits, `-` and `_`, 1-63 characters, 253 in all, no
 * label starting or ending with `-`). Such text is safe to hand to an action.
 */
export function isValidHostText(text: string): boolean {
  if (parseAddress(text) !== null) return true;
  const n = text.length;
  if (n === 0 || n > 254) return false;
  let end = n;
  if (text.charCodeAt(n - 1) === 0x2e) end--; // a trailing root dot is allowed
  if (end === 0 || end > 253) return false;
  let labelLength = 0;
  let prev = 0x2e;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (labelLength === 0 || prev === 0x2d) return false;
      labelLength = 0;
    } else if (
      (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
      c === 0x5f || c === 0x2d
    ) {
      if (c === 0x2d && labelLength === 0) return false;
      if (++labelLength > 63) return false;
    } else return false;
    prev = c;
  }
  return labelLength > 0 && prev !== 0x2d;
}

/** Parses a strict dotted quad in text[start, end); the value, or -1. */
function parseIPv4(text: string, start: number, end: number): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  let leadingZero = false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (leadingZero) return -1;
      if (digits === 0 && c === 0x30) leadingZero = true;
      part = part * 10 + (c - 0x30);
      if (++digits > 3 || part > 255) return -1;
    } else if (c === 0x2e) {
      if (digits === 0 || parts === 3) return -1;
      value = value * 256 + part;
      parts++;
      part = 0;
      digits = 0;
      leadingZero = false;
    } else return -1;
  }
  if (digits === 0 || parts !== 3) return -1;
  return value * 256 + part;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

const ZONE_RE = /^[A-Za-z0-9_.\-]{1,64}$/;

/** Parses IPv6 in text[start, end) like inet_pton (plus a zone id); maps ::ffff:0:0/96 to IPv4 when `mapped`. */
function parseIPv6(text: string, start: number, end: number, mapped: boolean): IPAddress | null {
  let zone: string | null = null;
  const percent = text.indexOf("%", start);
  if (percent >= 0 && percent < end) {
    zone = text.slice(percent + 1, end);
    if (!ZONE_RE.test(zone)) return null;
    end = percent;
  }
  const groups = [0, 0, 0, 0, 0, 0, 0, 0];
  let count = 0; // groups written
  let gap = -1; // index in groups where "::" sits
  let i = start;
  if (text.charCodeAt(i) === 0x3a) {
    if (text.charCodeAt(i + 1) !== 0x3a) return null;
    gap = 0;
    i += 2;
    if (i === end) return finishIPv6(groups, count, gap, zone, mapped);
  }
  while (i < end) {
    if (count === 8) return null;
    // Read one group: hex digits, or an embedded IPv4 at the end.
    let value = 0;
    let digits = 0;
    const groupStart = i;
    while (i < end) {
      const h = hexValue(text.charCodeAt(i));
      if (h < 0) break;
      value = value * 16 + h;
      digits++;
      i++;
    }
    if (i < end && text.charCodeAt(i) === 0x2e) {
      if (count > 6) return null;
      const v4 = parseIPv4(text, groupStart, end);
      if (v4 < 0) return null;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      i = end;
      break;
    }
    if (digits === 0 || digits > 4) return null;
    groups[count++] = value;
    if (i === end) break;
    if (text.charCodeAt(i) !== 0x3a) return null;
    i++;
    if (i < end && text.charCodeAt(i) === 0x3a) {
      if (gap >= 0) return null;
      gap = count;
      i++;
      if (i === end) break;
    } else if (i === end) return null; // trailing single colon
  }
  return finishIPv6(groups, count, gap, zone, mapped);
}

function finishIPv6(
  groups: number[],
  count: number,
  gap: number,
  zone: string | null,
  mapped: boolean,
): IPAddress | null {
  if (gap < 0) {
    if (count !== 8) return null;
  } else {
    if (count > 7) return null; // "::" stands for at least one group
    const tail = count - gap;
    for (let k = 0; k < tail; k++) groups[7 - k] = groups[count - 1 - k]!;
    for (let k = gap; k < 8 - tail; k++) groups[k] = 0;
  }
  const w0 = groups[0]! * 65536 + groups[1]!;
  const w1 = groups[2]! * 65536 + groups[3]!;
  const w2 = groups[4]! * 65536 + groups[5]!;
  const w3 = groups[6]! * 65536 + groups[7]!;
  if (mapped && w0 === 0 && w1 === 0 && w2 === MAPPED_PREFIX_WORD) {
    return new IPAddress("inet4", 0, 0, 0, w3);
  }
  return new IPAddress("inet6", w0, w1, w2, w3, zone);
}

function formatIPv4(w: number): string {
  return `${w >>> 24}.${(w >>> 16) & 0xff}.${(w >>> 8) & 0xff}.${w & 0xff}`;
}

/** RFC 5952 text, with glibc's dotted tail for `::a.b.c.d` and `::ffff:a.b.c.d`. */
function formatIPv6(w0: number, w1: number, w2: number, w3: number): string {
  const g = [
    w0 >>> 16,
    w0 & 0xffff,
    w1 >>> 16,
    w1 & 0xffff,
    w2 >>> 16,
    w2 & 0xffff,
    w3 >>> 16,
    w3 & 0xffff,
  ];
  let bestBase = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestBase = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestBase = -1;
  if (bestBase === 0 && (bestLen === 6 || (bestLen === 5 && g[5] === 0xffff))) {
    return `::${bestLen === 5 ? "ffff:" : ""}${formatIPv4(w3)}`;
  }
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (i === bestBase) {
      out += "::";
      i += bestLen - 1;
      continue;
    }
    if (out.length > 0 && !out.endsWith(":")) out += ":";
    out += g[i]!.toString(16);
  }
  return out;
}
