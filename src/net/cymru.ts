/**
 * Team Cymru's IP-to-ASN mapping over DNS, for `status <JAIL> cymru`: the
 * AS number, country and regional registry of each banned address, asked as
 * fail2ban asks them (a TXT query of the reversed address under
 * `origin.asn.cymru.com`, or `origin6.asn.cymru.com` for IPv6; answers are
 * `"ASN | prefix | country | registry | date"`).
 *
 * @module
 */

import type { IPAddress } from "./ip_address.ts";

/** The TXT records of a name (each record as its strings); throws `Deno.errors.NotFound` when there is none. */
export type TxtLookup = (name: string) => Promise<string[][]>;

/** What the three status rows show: one entry per address asked, in order (shorter after an error). */
export interface CymruInfo {
  /** AS numbers ("Banned ASN list"). */
  asn: string[];
  /** Country codes ("Banned Country list"). */
  country: string[];
  /** Regional internet registries ("Banned RIR list"). */
  rir: string[];
  /** The DNS error that ended the queries, if one did. */
  error?: string;
}

/** The name to ask for an address: its reversed octets (IPv4) or nibbles (IPv6) under Cymru's zone. */
export function cymruQuestion(ip: IPAddress): string {
  if (ip.isIPv4) {
    return `${ip.canonical.split(".").reverse().join(".")}.origin.asn.cymru.com`;
  }
  const nibbles = ip.words().map((w) => w.toString(16).padStart(8, "0")).join("");
  return `${[...nibbles].reverse().join(".")}.origin6.asn.cymru.com`;
}

/** An empty field reads "unknown", as fail2ban shows it. */
function orUnknown(value: string | undefined): string {
  return value === undefined || value === "" ? "unknown" : value;
}

/** Asks Cymru with a timeout per query (a few seconds): the DNS resolver of the system. */
export function systemTxtLookup(timeoutMs = 5_000): TxtLookup {
  return (name) => Deno.resolveDns(name, "TXT", { signal: AbortSignal.timeout(timeoutMs) });
}

/**
 * The AS numbers, countries and registries of `ips`, one entry each (a
 * banned id that is no address, null here, reads `unknown`): the
 * values of all its records, sorted and joined with ", "; `nxdomain` when
 * Cymru has none. Another DNS error (a timeout, no answer) ends the queries:
 * the lists stay shorter and `error` says why, as in fail2ban. (Deno's
 * resolver reports a server failure as "no records": it reads `nxdomain`.)
 */
export async function cymruInfo(
  ips: (IPAddress | null)[],
  lookup: TxtLookup,
): Promise<CymruInfo> {
  const info: CymruInfo = { asn: [], country: [], rir: [] };
  for (const ip of ips) {
    if (ip === null) {
      info.asn.push("unknown");
      info.country.push("unknown");
      info.rir.push("unknown");
      continue;
    }
    let records: string[][];
    try {
      records = await lookup(cymruQuestion(ip));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        info.asn.push("nxdomain");
        info.country.push("nxdomain");
        info.rir.push("nxdomain");
        continue;
      }
      info.error = e instanceof Error ? e.message : String(e);
      break;
    }
    if (records.length === 0) {
      info.error = "No data retrieved";
      break;
    }
    const asns = new Set<string>();
    const countries = new Set<string>();
    const rirs = new Set<string>();
    for (const record of records) {
      const fields = record.join("").split("|").map((f) =>
        f.trim().replace(/^['" ]+|['" ]+$/g, "")
      );
      asns.add(orUnknown(fields[0]));
      countries.add(orUnknown(fields[2]));
      rirs.add(orUnknown(fields[3]));
    }
    info.asn.push([...asns].sort().join(", "));
    info.country.push([...countries].sort().join(", "));
    info.rir.push([...rirs].sort().join(", "));
  }
  return info;
}
