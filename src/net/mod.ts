/**
 * Addresses, networks and host names: parsing IPv4/IPv6 text into one
 * canonical key per address, CIDR networks, and `usedns`-governed name
 * resolution with a cache.
 *
 * @module
 */

export * from "./ip_address.ts";
export * from "./dns.ts";
export * from "./ignore_entry.ts";
export * from "./cymru.ts";
