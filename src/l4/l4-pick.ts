/**
 * Picking a server for an L4 connection: the hash-key source (client address and five-tuple) and
 * the exclusion mask for `maxConnectionsPerServer`. Used by ./tcp-conn.ts.
 */
import type { KeySource } from '../balancing/keys.ts';
import type { PoolRuntime } from '../runtime/pool.ts';
import type { ProxyAddress } from './proxy-protocol.ts';

/**
 * Key source of an L4 connection: `source-ip` is the client address, `five-tuple` is
 * `tcp SRCIP SRCPORT DSTIP DSTPORT` (built only when a pool hashes on it); HTTP keys are missing.
 * One instance is reused: filled just before a pick (single-threaded, no await in between).
 */
class L4KeySource implements KeySource {
  sourceIp = '';
  readonly path = '';
  readonly uri = '';
  conn: Addressed | null = null;
  header(): undefined {
    return undefined;
  }
  cookie(): undefined {
    return undefined;
  }
  queryParam(): undefined {
    return undefined;
  }
  get fiveTuple(): string | undefined {
    const a = this.conn?.address();
    if (a === undefined || a.family === 'unknown') return undefined;
    return `tcp ${a.srcAddr} ${a.srcPort} ${a.dstAddr} ${a.dstPort}`;
  }
}
const KEY_SOURCE = new L4KeySource();

/** A connection whose address pair gives the five-tuple. */
export interface Addressed {
  address(): ProxyAddress;
}

/** The pool's hash key for `conn` from `sourceIp` (the five-tuple asked of `conn` on demand); '' counts as missing. */
export function l4Key(pool: PoolRuntime, sourceIp: string, conn: Addressed): string | undefined {
  if (pool.key === null) return undefined;
  const src = KEY_SOURCE;
  src.sourceIp = sourceIp;
  src.conn = conn;
  const key = pool.key.extract(src);
  src.conn = null;
  return key === '' ? undefined : key;
}

/** Exclusion mask scratch (pick() copies what it is given). */
let fullScratch = new Uint8Array(16);

/**
 * The exclusion mask for a pick: `tried` (may be null) plus, with `maxConnectionsPerServer`, every
 * server with that many connections open (a full server is skipped like a tried one). null = none.
 */
export function exclusions(pool: PoolRuntime, tried: Uint8Array | null): Uint8Array | null {
  const max = pool.config.maxConnectionsPerServer;
  if (max === 0) return tried;
  const eps = pool.endpoints;
  if (fullScratch.length < eps.length) fullScratch = new Uint8Array(eps.length * 2);
  const m = fullScratch.length === eps.length ? fullScratch : fullScratch.subarray(0, eps.length);
  let any = false;
  for (let i = 0; i < eps.length; i++) {
    const x = (tried !== null && tried[i] !== 0) || eps[i].open >= max ? 1 : 0;
    m[i] = x;
    if (x !== 0) any = true;
  }
  return any ? m : null;
}
