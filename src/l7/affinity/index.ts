/**
 * Session affinity of a pool (`sticky`): which server a request of a known session should go to,
 * and what the response teaches or must tell the client. Two modes, one file each:
 * - insert (sticky-cookie.ts): Fulcrum sets an opaque cookie naming the server (HAProxy `cookie
 *   NAME insert`);
 * - learn (learned.ts): Fulcrum learns the session cookie the application sets (HAProxy
 *   `stick store-response` / nginx `sticky learn`).
 * The engine asks `pin()` before balancing and calls `onResponse()` with the server that answered.
 * Hash-based affinity (`hashKey` with a hashing algorithm) needs neither: see docs/affinity.md.
 */
import type { StickyConfig } from '../../config/schema.ts';
import type { Exchange } from '../middlewares/exchange.ts';
import { InsertAffinity } from './sticky-cookie.ts';
import { LearnAffinity } from './learned.ts';

/** The endpoints of the pool as affinity sees them (slots and stable addresses). */
export interface AffinityPool {
  readonly name: string;
  readonly addresses: readonly string[];
}

export interface Affinity {
  /** Sessions remembered (learn mode), or -1 when the mode remembers nothing (insert). */
  readonly sessions: number;
  /**
   * Request phase: the slot the request is pinned to (whatever its availability), or -1 when it
   * carries no valid pin. May edit the request (insert mode removes its cookie).
   */
  pin(x: Exchange, now: number): number;
  /**
   * Response phase: `slot` answered; `pinned` is what pin() returned (-1: none) and `honored`
   * whether the request went to it. May add response fields (Set-Cookie) or learn from them.
   */
  onResponse(x: Exchange, slot: number, pinned: number, honored: boolean, now: number): void;
}

/** Builds the pool's affinity; `prev` is the affinity of the pool this one replaces at a reload. */
export function createAffinity(config: StickyConfig, pool: AffinityPool, prev: Affinity | null): Affinity {
  if (config.learn !== undefined) return new LearnAffinity(config, pool, prev instanceof LearnAffinity ? prev : null);
  return new InsertAffinity(config, pool);
}
