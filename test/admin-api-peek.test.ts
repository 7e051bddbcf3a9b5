// The explain pick is side-effect-free for every registered algorithm: picks on a copy of a
// balancer leave the real one's sequence of picks exactly as it would have been without them, and
// for deterministic algorithms the copy's pick is the real next pick. Least-connections and
// least-time with more than 16 endpoints use their min trees (and claim the load counters' watcher
// while rebuilding): the watcher is restored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { algorithmNames, getAlgorithm } from '../src/balancing/index.ts';
import { Weights, type Balancer, type PickContext } from '../src/balancing/types.ts';
import { LoadCounters } from '../src/balancing/load.ts';
import { withCopy } from '../src/admin/peek.ts';
import { ALGORITHM_OPTION_SCHEMAS } from '../src/config/schema.ts';
import { mulberry32 } from '../src/core/prng.ts';

function build(name: string, n: number, seed: number): { b: Balancer; load: LoadCounters } {
  const factory = getAlgorithm(name)!;
  const endpoints = Array.from({ length: n }, (_, i) => ({ index: i, address: `10.0.0.${i + 1}:80`, weight: 1 + (i % 3) }));
  const load = new LoadCounters(n);
  const random = mulberry32(seed);
  const env = { load, now: () => 1000, random, weights: new Weights(endpoints.map((e) => e.weight)) };
  const schemas = ALGORITHM_OPTION_SCHEMAS as Record<string, { parse(v: unknown): unknown }>;
  const opts = factory.optionsKey === undefined ? undefined : schemas[factory.optionsKey].parse({});
  return { b: factory.create(endpoints, env, opts), load };
}

for (const name of algorithmNames()) {
  for (const n of [5, 40]) {
    test(`peek on a copy leaves ${name} (${n} endpoints) as it was`, () => {
      const deterministic = !/random/.test(getAlgorithm(name)!.explainNote ?? 'random');
      const keys = Array.from({ length: 60 }, (_, i) => (i % 4 === 0 ? undefined : `key-${i % 7}`));
      const run = (peek: boolean): number[] => {
        const { b, load } = build(name, n, 42);
        const ctx: PickContext = { key: undefined, excluded: null };
        const out: number[] = [];
        for (let i = 0; i < keys.length; i++) {
          ctx.key = keys[i];
          ctx.excluded = i % 5 === 0 ? Uint8Array.from({ length: n }, (_, k) => (k === 1 ? 1 : 0)) : null;
          let predicted = -2;
          if (peek) {
            const watcher = load.watching;
            predicted = withCopy(b, load, (copy, c) => {
              c.key = ctx.key;
              c.excluded = ctx.excluded;
              return copy.pick(c);
            });
            assert.equal(load.watching, watcher, 'watcher restored');
          }
          const real = b.pick(ctx);
          if (peek && deterministic) assert.equal(predicted, real, `pick ${i}`);
          out.push(real);
          // Load moves as traffic would: the chosen one starts, an older one ends.
          if (real >= 0) load.start(real);
          if (i % 3 === 2) for (let k = 0; k < n; k++) if (load.inFlight[k] > 0) { load.end(k, false, 5 + k, 4 + k, 1000 + i); break; }
        }
        return out;
      };
      // Randomised algorithms draw from the injected PRNG: the copy shares it, so only
      // deterministic algorithms can be compared pick by pick with and without peeks.
      if (deterministic) assert.deepEqual(run(true), run(false));
      else run(true);
    });
  }
}
