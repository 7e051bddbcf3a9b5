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
   * Endpoints that must not be chosen (down, draining, already tried). `excluded[i] !== 0` means
   * excluded. null = none excluded.
   */
  excluded: Uint8Array | null;
}

/** Injected environment: time in milliseconds and uniform randomness in [0, 1). */
export interface BalancerEnv {
  readonly load: LoadCounters;
  readonly now: () => number;
  readonly random: () => number;
}

export interface Balancer {
  /** Returns the chosen endpoint index, or -1 when no endpoint may be chosen. */
  pick(ctx: PickContext): number;
}

export interface AlgorithmFactory {
  /** kebab-case config name, e.g. `round-robin`. */
  readonly name: string;
  readonly summary: string;
  create(endpoints: readonly EndpointInfo[], env: BalancerEnv): Balancer;
}
