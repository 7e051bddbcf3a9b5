/**
 * Conformance suite: ONE set of checks run against EVERY registered balancing algorithm
 * (algorithmNames() after importing ./index.ts, so a new algorithm is covered the moment it
 * registers). Deterministic: all randomness comes from a seeded PRNG (mulberry32).
 *
 * For each algorithm:
 *  - empty pool, all excluded, all weight 0 → -1 (with and without a hash key);
 *  - property (fast-check): never an excluded or weight-0 endpoint, -1 iff nothing choosable; for
 *    hashing ones also through pickFiltered with a refusing filter;
 *  - weighted ones (factory.weighted) follow env.weights live: a weight set to 0 is never chosen;
 *  - shares over 10^6 picks with weights {1,2,3,4,0}, random keys for hashing ones, requests
 *    completed FIFO after 1000 picks (in-flight bounded at 1000, identical 10 ms latency) so the
 *    load-based ones see a steady state: |share − expected| ≤ tol × expected, where expected is
 *    w/Σw ("proportional") or 1/4 per weighted endpoint ("equal", for algorithms that ignore
 *    weights: round-robin, p2c, peak-ewma). The per-algorithm tolerances are in EXPECT;
 *  - hashing ones: deterministic across fresh instances (10^4 keys), pickFiltered with an
 *    accept-all filter equals pick, and excluding one endpoint moves only that endpoint's keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { algorithmNames, getAlgorithm } from './index.ts';
import { LoadCounters } from './load.ts';
import { Weights } from './types.ts';
import type { AlgorithmFactory, Balancer, BalancerEnv, CandidateFilter, EndpointInfo, HashingBalancer } from './types.ts';
import { ALGORITHM_OPTION_SCHEMAS } from '../config/schema.ts';
import { mulberry32 as prng } from '../core/prng.ts';


type Mode = 'proportional' | 'equal';
/** Expected share law and relative tolerance per algorithm (unknown names: by factory flags, 5 %). */
const EXPECT: Record<string, { mode: Mode; tol: number }> = {
  // measured worst relative errors of this exact run (seeded) in the comments
  'round-robin': { mode: 'equal', tol: 0.001 }, // 0 (exact)
  'weighted-round-robin': { mode: 'proportional', tol: 0.001 }, // 0 (exact)
  random: { mode: 'proportional', tol: 0.01 }, // 0.46 %
  'least-connections': { mode: 'proportional', tol: 0.02 }, // 0.90 %
  'least-time': { mode: 'proportional', tol: 0.02 }, // 0.15 % ((1 + in-flight)/w balance)
  'ip-hash': { mode: 'proportional', tol: 0.01 }, // 0.22 %
  // Ketama, 160 points per weight unit over 4 servers: the ring's arcs are uneven (5.92 %)
  'consistent-hash': { mode: 'proportional', tol: 0.08 },
  maglev: { mode: 'proportional', tol: 0.02 }, // 0.18 %
  rendezvous: { mode: 'proportional', tol: 0.02 },
  p2c: { mode: 'equal', tol: 0.01 }, // 0.01 %
  'peak-ewma': { mode: 'equal', tol: 0.01 }, // 0.00 %
};

function expectFor(f: AlgorithmFactory): { mode: Mode; tol: number } {
  return EXPECT[f.name] ?? { mode: f.weighted || f.hashing ? 'proportional' : 'equal', tol: 0.05 };
}

function endpoints(weights: readonly number[]): EndpointInfo[] {
  return weights.map((weight, index) => ({ index, address: `10.1.${index >> 8}.${index & 255}:8080`, weight }));
}

function defaults(f: AlgorithmFactory): unknown {
  if (f.optionsKey === undefined) return undefined;
  const schemas = ALGORITHM_OPTION_SCHEMAS as Record<string, { parse(v: unknown): unknown }>;
  return Object.hasOwn(schemas, f.optionsKey) ? schemas[f.optionsKey].parse({}) : undefined;
}

interface Made {
  b: Balancer;
  env: BalancerEnv;
  clock: { now: number };
}

function make(f: AlgorithmFactory, weights: readonly number[], seed = 1, load = new LoadCounters(weights.length)): Made {
  const clock = { now: 0 };
  const env: BalancerEnv = { load, now: () => clock.now, random: prng(seed), weights: new Weights(weights) };
  return { b: f.create(endpoints(weights), env, defaults(f)), env, clock };
}

function randomKey(r: () => number): string {
  return `k${((r() * 2 ** 32) >>> 0).toString(16)}-${((r() * 2 ** 32) >>> 0).toString(36)}`;
}

const names = algorithmNames();
const factories = names.map((n) => getAlgorithm(n)!);

test('conformance: the registry holds the algorithms of the design', () => {
  for (const n of ['round-robin', 'weighted-round-robin', 'least-connections', 'least-time', 'ip-hash', 'peak-ewma']) {
    assert.ok(names.includes(n), n);
  }
});

for (const f of factories) {
  const keys = f.hashing ? ['some-key', undefined] : [undefined];

  test(`conformance ${f.name}: empty pool, all excluded and all weight 0 give -1`, () => {
    for (const key of keys) {
      assert.equal(make(f, []).b.pick({ key, excluded: null }), -1, `empty, key ${key}`);
      assert.equal(make(f, [1, 2, 3]).b.pick({ key, excluded: Uint8Array.of(1, 1, 1) }), -1, `all excluded, key ${key}`);
      assert.equal(make(f, [0, 0, 0]).b.pick({ key, excluded: null }), -1, `all weight 0, key ${key}`);
      assert.equal(make(f, [0, 3]).b.pick({ key, excluded: Uint8Array.of(0, 1) }), -1, `weight 0 + excluded, key ${key}`);
      assert.equal(make(f, [0, 3]).b.pick({ key, excluded: null }), 1, `only one choosable, key ${key}`);
    }
  });

  test(`conformance ${f.name}: never an excluded or weight-0 endpoint; -1 iff nothing choosable`, () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ w: fc.integer({ min: 0, max: 5 }), inFlight: fc.integer({ min: 0, max: 9 }), ewma: fc.integer({ min: 0, max: 50 }) }), { maxLength: 10 }),
        fc.array(fc.record({ mask: fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }), refuse: fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }), key: fc.option(fc.string({ maxLength: 24 }), { nil: undefined }) }), { minLength: 1, maxLength: 12 }),
        fc.integer(),
        (eps, rounds, seed) => {
          const load = new LoadCounters(eps.length);
          eps.forEach((e, i) => {
            load.inFlight[i] = e.inFlight;
            load.headerEwma[i] = load.latencyEwma[i] = e.ewma;
            if (e.ewma > 0) load.peakCost[i] = e.ewma;
          });
          const { b } = make(f, eps.map((e) => e.w), seed, load);
          for (const r of rounds) {
            const excluded = Uint8Array.from(eps, (_, i) => (r.mask[i] ? 1 : 0));
            const ctx = { key: r.key, excluded };
            const k = b.pick(ctx);
            const choosable = eps.some((e, i) => e.w > 0 && !r.mask[i]);
            if (!choosable) assert.equal(k, -1);
            else {
              assert.ok(Number.isInteger(k) && k >= 0 && k < eps.length, `index ${k}`);
              assert.equal(excluded[k], 0, 'excluded endpoint picked');
              assert.ok(eps[k].w > 0, 'weight-0 endpoint picked');
            }
            if (f.hashing) {
              const filter: CandidateFilter = { accept: (i) => !r.refuse[i] };
              const j = (b as HashingBalancer).pickFiltered(ctx, filter);
              const acceptable = eps.some((e, i) => e.w > 0 && !r.mask[i] && !r.refuse[i]);
              if (!acceptable) assert.equal(j, -1);
              else {
                assert.ok(j >= 0 && j < eps.length && excluded[j] === 0 && eps[j].w > 0 && !r.refuse[j], `pickFiltered gave ${j}`);
              }
            }
          }
        },
      ),
      { numRuns: 150, seed: 20240601 },
    );
  });

  if (f.weighted) {
    test(`conformance ${f.name}: follows live effective weights (env.weights)`, () => {
      const { b, env } = make(f, [2, 2, 2]);
      const r = prng(7);
      const counts = [0, 0, 0];
      env.weights.set(0, 0);
      for (let i = 0; i < 3000; i++) counts[b.pick({ key: f.hashing ? randomKey(r) : undefined, excluded: null })]++;
      assert.equal(counts[0], 0, `live weight 0 picked: ${counts}`);
      env.weights.set(0, 2);
      let back = 0;
      for (let i = 0; i < 3000; i++) if (b.pick({ key: f.hashing ? randomKey(r) : undefined, excluded: null }) === 0) back++;
      assert.ok(back > 500, `restored weight gives a share again: ${back} / 3000`);
    });
  }

  test(`conformance ${f.name}: shares over 10^6 picks with weights {1,2,3,4,0}`, () => {
    const weights = [1, 2, 3, 4, 0];
    const { b, env, clock } = make(f, weights, 42);
    const { mode, tol } = expectFor(f);
    const r = prng(99);
    const K = 1000;
    const fifo = new Int32Array(K);
    const counts = new Float64Array(weights.length);
    const ctx = { key: undefined as string | undefined, excluded: null };
    const N = 1_000_000;
    for (let i = 0; i < N; i++) {
      clock.now = i * 0.01;
      if (f.hashing) ctx.key = randomKey(r);
      const k = b.pick(ctx);
      counts[k]++;
      if (i >= K) env.load.end(fifo[i % K], false, 10, 10, clock.now);
      env.load.start(k);
      fifo[i % K] = k;
    }
    const total = weights.reduce((a, c) => a + c, 0);
    const live = weights.filter((w) => w > 0).length;
    const shares = [...counts].map((c) => c / N);
    let worst = 0;
    for (let i = 0; i < weights.length; i++) {
      const exp = weights[i] === 0 ? 0 : mode === 'proportional' ? weights[i] / total : 1 / live;
      if (exp === 0) assert.equal(counts[i], 0, `weight-0 endpoint picked ${counts[i]} times`);
      else worst = Math.max(worst, Math.abs(shares[i] - exp) / exp);
    }
    const shown = shares.map((x) => x.toFixed(4)).join(' ');
    assert.ok(worst <= tol, `${f.name} ${mode}: shares ${shown}, worst relative error ${(worst * 100).toFixed(2)} % > ${(tol * 100).toFixed(1)} %`);
  });

  if (f.hashing) {
    test(`conformance ${f.name}: deterministic across fresh instances; exclusion moves only the excluded endpoint's keys`, () => {
      const weights = [1, 2, 1, 3, 1, 1, 2];
      const one = make(f, weights, 1);
      const two = make(f, weights, 987654);
      two.clock.now = 123456;
      assert.equal(typeof (one.b as HashingBalancer).pickFiltered, 'function', 'implements pickFiltered');
      const all: CandidateFilter = { accept: () => true };
      const excluded = new Uint8Array(weights.length);
      excluded[3] = 1;
      const r = prng(5);
      let moved = 0;
      for (let i = 0; i < 10_000; i++) {
        const key = randomKey(r);
        const a = one.b.pick({ key, excluded: null });
        assert.equal(two.b.pick({ key, excluded: null }), a, `key ${key}`);
        assert.equal((one.b as HashingBalancer).pickFiltered({ key, excluded: null }, all), a, `pickFiltered(all) ${key}`);
        const e = one.b.pick({ key, excluded });
        assert.notEqual(e, 3);
        if (a !== 3) assert.equal(e, a, `key ${key} moved from ${a} to ${e} although ${a} was not excluded`);
        else moved++;
      }
      assert.ok(moved > 0, 'the excluded endpoint had keys');
    });
  }
}
