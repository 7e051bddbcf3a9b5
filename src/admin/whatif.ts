/**
 * "What if this endpoint were removed?" for the dashboard's hash view: the share of keys that would
 * move to another endpoint. The pool's algorithm is built again without that endpoint (same slots,
 * same weights, pure: no counter, rotation or state of the pool in service is touched) and a fixed
 * sample of keys is placed by both; a key moves when its endpoint differs. Consistent hashing moves
 * about the removed endpoint's own share (its keys, and nothing else); ip-hash (hash mod N) moves
 * about (N−1)/N of all keys. Availability (down, ejected, drained) and bounded loads are left out:
 * this describes the key→endpoint map itself.
 */
import type { PoolRuntime } from '../runtime/pool.ts';
import { getAlgorithm } from '../balancing/registry.ts';
import { LoadCounters } from '../balancing/load.ts';
import { Weights, type Balancer, type PickContext } from '../balancing/types.ts';
import { ALGORITHM_OPTION_SCHEMAS } from '../config/schema.ts';

/** Keys sampled (synthetic: `k0` … `k19999`); the answer is exact for this sample, within ~1% of the key space. */
export const WHATIF_KEYS = 20_000;

function build(pool: PoolRuntime, without: number): Balancer | null {
  const factory = getAlgorithm(pool.config.algorithm);
  if (factory === undefined) return null;
  const eps = pool.endpoints.filter((e) => e.index !== without).map((e) => ({ index: e.index, address: e.address, weight: e.weight }));
  const n = pool.endpoints.length;
  const env = { load: new LoadCounters(n), now: () => 0, random: () => 0.5, weights: new Weights(pool.endpoints.map((e) => e.weight)) };
  let options: unknown;
  if (factory.optionsKey !== undefined) {
    const given = (pool.config as unknown as Record<string, unknown>)[factory.optionsKey];
    const schemas = ALGORITHM_OPTION_SCHEMAS as Record<string, { parse(v: unknown): unknown }>;
    options = given ?? (Object.hasOwn(schemas, factory.optionsKey) ? schemas[factory.optionsKey].parse({}) : undefined);
  }
  return factory.create(eps, env, options);
}

export function whatIfRemoved(pool: PoolRuntime, address: string): { status: number; body: unknown } {
  const ep = pool.endpoints.find((e) => e.address === address);
  if (ep === undefined) return { status: 404, body: { error: `pool ${JSON.stringify(pool.name)} has no endpoint ${JSON.stringify(address)}` } };
  const factory = getAlgorithm(pool.config.algorithm);
  if (factory?.hashing !== true) {
    return { status: 200, body: { pool: pool.name, algorithm: pool.config.algorithm, removed: address, hashing: false, movedShare: null, note: 'no key affinity: new requests simply spread over the other endpoints' } };
  }
  const before = build(pool, -1);
  const after = build(pool, ep.index);
  if (before === null || after === null) return { status: 500, body: { error: 'algorithm not registered' } };
  if (pool.endpoints.length === 1) {
    return { status: 200, body: { pool: pool.name, algorithm: pool.config.algorithm, removed: address, hashing: true, keys: WHATIF_KEYS, ownShare: 1, movedShare: 1, movedFromOthers: 0, note: 'the only endpoint: every key would be lost' } };
  }
  const ctx: PickContext = { key: undefined, excluded: null };
  let own = 0;
  let moved = 0;
  let movedOthers = 0;
  for (let k = 0; k < WHATIF_KEYS; k++) {
    ctx.key = `k${k}`;
    const a = before.pick(ctx);
    const b = after.pick(ctx);
    if (a === ep.index) own++;
    if (a !== b) {
      moved++;
      if (a !== ep.index) movedOthers++;
    }
  }
  const r4 = (x: number) => Math.round((x / WHATIF_KEYS) * 10000) / 10000;
  return {
    status: 200,
    body: {
      pool: pool.name, algorithm: pool.config.algorithm, removed: address, hashing: true, keys: WHATIF_KEYS,
      /** Keys the endpoint owns now. */
      ownShare: r4(own),
      /** Keys that would change endpoint (its own ones included). */
      movedShare: r4(moved),
      /** Keys of other endpoints that would move too (0 for consistent hashing). */
      movedFromOthers: r4(movedOthers),
    },
  };
}
