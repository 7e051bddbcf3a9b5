/**
 * Opening a user-supplied MaxMind database (GeoIP2/GeoLite2 Country or City, the MMDB format) for
 * the `geo` policy, with the maxmind package — the edge: it reads the file, the policy only calls
 * the lookup. A lookup gives the record's country and continent codes and the prefix length of the
 * database block the address is in (its ECS scope).
 */
import { readFileSync } from 'node:fs';
import { Reader, type CountryResponse } from 'maxmind';
import { formatAddr, type Addr } from './cidr.ts';
import type { GeoLookup } from './policies/types.ts';

/** Opens `path`; throws an Error naming the file and what is wrong with it. */
export function openMmdb(path: string): GeoLookup {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${JSON.stringify(path)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let reader: Reader<CountryResponse>;
  try {
    reader = new Reader<CountryResponse>(buf);
  } catch (err) {
    throw new Error(`${JSON.stringify(path)} is not a MaxMind database: ${(err as Error).message}`);
  }
  const v4in6 = reader.metadata.ipVersion === 6;
  return (addr: Addr) => {
    const [rec, prefix] = reader.getWithPrefixLength(formatAddr(addr));
    const country = rec?.country?.iso_code ?? rec?.registered_country?.iso_code ?? null;
    const continent = rec?.continent?.code ?? null;
    // In an IPv6 database, IPv4 addresses live under ::/96: the package reports their prefix in IPv6 bits.
    const p = addr.length === 4 && v4in6 && prefix > 32 ? prefix - 96 : prefix;
    return { country, continent, prefix: Math.max(0, p) };
  };
}
