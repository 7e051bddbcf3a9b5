/**
 * The balancing interface (pure: no sockets, timers or files; clock and randomness are injected).
 * Modelled on Pingora's small selection interface and Envoy's named LB policies: one file per
 * algorithm registers an `AlgorithmFactory`; a pool builds a `Balancer` from an immutable endpoint
 * list and rebuilds it when membership or weights change.
 */
import type { LoadCounters } from './load.ts';

/** One endpoint of a pool as the balancer sees it. `index` is its slot in the pool's LoadCounters. */
export interface EndpointInfo {
  readonly index: number;
  /** The address as written in the config (`host:port`); hashing algorithms hash this string. */
  readonly address: string;
  /** Configured weight (integer ≥ 0; 0 = never chosen). Default 1, as nginx. */
  readonly weight: number;
}

/** What a pick may look at. Reuse one object per connection on the hot path. */
export interface PickContext {
  /** Hash key for hashing algorithms (undefined when the key is missing or unused). */
  key: string | undefined;
  /**
   * The key as bytes instead of a string: keyBytes[keyStart, keyEnd). The HTTP/1.1 data path hands
   * the request buffer the head was parsed from, so no string is cut out and hashing reads bytes
   * (half the cost of a sliced string's characters). When non-null it takes precedence over `key`;
   * an empty range is a missing key. Valid only during the pick: the caller clears it after.
   * Optional so that tests and the admin API can keep passing `{ key, excluded }`.
   */
  keyBytes?: Uint8Array | null;
  keyStart?: number;
  keyEnd?: number;
  /**
   * Endpoints that must not be chosen (down, draining, already tried). `excluded[i] !== 0` means
   * excluded. null = none excluded.
   */
  excluded: Uint8Array | null;
}

/**
 * Effective weights per endpoint slot, shared by the pool and its balancer. Equal to the configured
 * weights unless slow start (or, later, gray-failure soft drain) lowers some; `version` increases on
 * every change so an algorithm can cache what it derives from the weights (cumulative sums, …).
 */
export class Weights {
  readonly values: Float64Array;
  version = 0;
  constructor(weights: ArrayLike<number>) {
    this.values = Float64Array.from(weights);
  }
  set(i: number, w: number): void {
    if (this.values[i] !== w) {
      this.values[i] = w;
      this.version++;
    }
  }
}

/** Injected environment: time in milliseconds and uniform randomness in [0, 1). */
export interface BalancerEnv {
  readonly load: LoadCounters;
  readonly now: () => number;
  readonly random: () => number;
  /**
   * Current effective weights by endpoint slot. Weighted algorithms (factory.weighted) read these at
   * pick time rather than EndpointInfo.weight, so slow start ramps take effect without a rebuild.
   */
  readonly weights: Weights;
}

export interface Balancer {
  /** Returns the chosen endpoint index, or -1 when no endpoint may be chosen. */
  pick(ctx: PickContext): number;
  /**
   * Side-effect-free view for the admin API (hashing algorithms): the share of the key space each
   * endpoint owns (ring arcs, Maglev table entries, expected rendezvous share), by endpoint slot.
   * Not on the data path.
   */
  shares?(): { slot: number; share: number }[];
  /**
   * Side-effect-free: where `key` lands before any exclusion — the key's hash, the algorithm's
   * position for it (ring point, table slot …) and the endpoint owning it; rendezvous lists every
   * endpoint's score. Not on the data path.
   */
  locate?(key: string): KeyLocation;
  /**
   * Side-effect-free, positional algorithms (ring, lookup table): the endpoint slot owning the
   * position `fraction` ∈ [0, 1) of the key space (−1: none). Lets the dashboard draw the ring or
   * the table. Not on the data path.
   */
  ownerAt?(fraction: number): number;
}

/** Where a key lands in a hashing algorithm (admin API's explain). */
export interface KeyLocation {
  /** The key's hash as the algorithm computes it (unsigned 32 bits). */
  readonly hash: number;
  /** Human-readable position: `ring point 1234 of 480 (hash 0x…)`, `table slot 8191 of 65537`. */
  readonly position: string;
  /** Endpoint slot owning that position (−1: none). */
  readonly owner: number;
  /** Per-endpoint scores when the algorithm ranks them all (rendezvous: ln(u)/w, highest wins). */
  readonly scores?: { slot: number; score: number }[];
}

/** What a bounded-load (or other) decorator asks of each candidate a hashing balancer walks to. */
export interface CandidateFilter {
  accept(i: number): boolean;
}

/**
 * A hashing balancer also exposes its walk: candidates in the order the algorithm prefers them for
 * ctx.key (ring order, Maglev's table order, rendezvous score order), skipping excluded ones and
 * those `filter` refuses. Bounded loads wrap any hashing balancer this way (as Envoy does).
 */
export interface HashingBalancer extends Balancer {
  pickFiltered(ctx: PickContext, filter: CandidateFilter): number;
}

export interface AlgorithmFactory {
  /** kebab-case config name, e.g. `round-robin`. */
  readonly name: string;
  readonly summary: string;
  /** Uses the pool's hash key; create() returns a HashingBalancer; `boundedLoad` applies. */
  readonly hashing?: boolean;
  /** Honours weights dynamically through env.weights; `slowStart` applies. */
  readonly weighted?: boolean;
  /**
   * Name of the pool config section holding this algorithm's own options (e.g. `maglev`), if any.
   * create() then receives that section, defaults applied.
   */
  readonly optionsKey?: string;
  /**
   * What "would be chosen" means for this algorithm in the admin API's explain (side-effect-free
   * pick on a copy): e.g. "the next in rotation" for round robin, "one random draw" for random.
   */
  readonly explainNote?: string;
  /** What shares() describes, for the dashboard: `ring` (arcs of a hash ring), `table` (lookup-table entries), `scores` (expected share of keys). */
  readonly view?: 'ring' | 'table' | 'scores';
  create(endpoints: readonly EndpointInfo[], env: BalancerEnv, options?: unknown): Balancer;
}
