import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getAlgorithm } from './index.ts';
import { RandomBalancer } from './random.ts';
import { LoadCounters } from './load.ts';
import { Weights } from './types.ts';
import type { BalancerEnv, EndpointInfo } from './types.ts';
import { mulberry32 } from '../core/prng.ts';
import fc from 'fast-check';


function setup(weights: readonly number[], seed = 1): { b: RandomBalancer; env: BalancerEnv } {
  const eps: EndpointInfo[] = weights.map((weight, index) => ({ index, address: `10.0.0.${index}:80`, weight }));
  const env: BalancerEnv = { load: new LoadCounters(weights.length), now: () => 0, random: mulberry32(seed), weights: new Weights(weights) };
  return { b: new RandomBalancer(eps, env), env };
}

function counts(b: RandomBalancer, n: number, picks: number, excluded: Uint8Array | null = null): number[] {
  const c = new Array<number>(n).fill(0);
  const ctx = { key: undefined, excluded };
  for (let k = 0; k < picks; k++) {
    const i = b.pick(ctx);
    assert.ok(i >= 0 && i < n, `pick ${i}`);
    c[i]++;
  }
  return c;
}

/** Each share within ±tol (relative) of weight/total; zero-weight endpoints exactly 0. */
function assertShares(c: number[], weights: readonly number[], tol: number, excluded: Uint8Array | null = null): void {
  const live = weights.map((w, i) => (excluded !== null && excluded[i] !== 0 ? 0 : w));
  const W = live.reduce((s, w) => s + w, 0);
  const total = c.reduce((s, x) => s + x, 0);
  for (let i = 0; i < c.length; i++) {
    if (live[i] === 0) {
      assert.equal(c[i], 0, `endpoint ${i} must never be chosen`);
      continue;
    }
    const rel = c[i] / ((total * live[i]) / W);
    assert.ok(Math.abs(rel - 1) <= tol, `endpoint ${i}: ${c[i]} picks, ${rel.toFixed(4)} × expected`);
  }
}

test('random is registered as weighted', () => {
  assert.equal(getAlgorithm('random')?.weighted, true);
});

test('equal weights: uniform within ±3% over 10^5 picks (seeded)', () => {
  const w = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
  const { b } = setup(w, 42);
  assertShares(counts(b, w.length, 100_000), w, 0.03);
});

test('weights 5,1,0,3,1: shares within ±3% over 10^5 picks; weight 0 never chosen', () => {
  const w = [5, 1, 0, 3, 1];
  const { b } = setup(w, 7);
  assertShares(counts(b, w.length, 100_000), w, 0.03);
});

test('weights follow env.weights as they change (cumulative sums rebuilt on version change)', () => {
  const w = [1, 1, 1, 1];
  const { b, env } = setup(w, 99);
  assertShares(counts(b, 4, 40_000), w, 0.04);
  env.weights.set(0, 6); // 6,1,1,1
  assertShares(counts(b, 4, 100_000), [6, 1, 1, 1], 0.03);
  env.weights.set(3, 0); // 6,1,1,0
  assertShares(counts(b, 4, 100_000), [6, 1, 1, 0], 0.03);
});

test('excluded endpoints are skipped and the rest keep their weighted shares', () => {
  const w = [4, 2, 2, 1, 1];
  const { b } = setup(w, 3);
  const excluded = Uint8Array.of(1, 0, 0, 0, 1);
  assertShares(counts(b, 5, 100_000, excluded), w, 0.03, excluded);
  // Only a light endpoint left (forces the exact scan after the redraws).
  const only = Uint8Array.of(1, 1, 1, 0, 1);
  assert.deepEqual(counts(b, 5, 1000, only), [0, 0, 0, 1000, 0]);
});

test('nothing choosable → -1', () => {
  assert.equal(setup([0, 0, 0]).b.pick({ key: undefined, excluded: null }), -1);
  assert.equal(setup([1, 2]).b.pick({ key: undefined, excluded: Uint8Array.of(1, 1) }), -1);
  assert.equal(setup([]).b.pick({ key: undefined, excluded: null }), -1);
});

test('a random() of exactly 1 − ε or 0 stays in range and never lands on weight 0', () => {
  for (const r of [0, 0.9999999999999999]) {
    const eps = [2, 0, 3, 0].map((weight, index) => ({ index, address: `a${index}`, weight }));
    const b = new RandomBalancer(eps, { load: new LoadCounters(4), now: () => 0, random: () => r, weights: new Weights([2, 0, 3, 0]) });
    assert.equal(b.pick({ key: undefined, excluded: null }), r === 0 ? 0 : 2);
  }
});

test('alias tables carry exactly w_k / W per endpoint, weight 0 never (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50 }), fc.double({ min: 0.001, max: 7, noNaN: true })), { minLength: 2, maxLength: 60 }), (ws) => {
      const total = ws.reduce((a, b) => a + b, 0);
      fc.pre(total > 0 && new Set(ws).size > 1);
      const eps = ws.map((weight, index) => ({ index, address: `a${index}`, weight }));
      const b = new RandomBalancer(eps, { load: new LoadCounters(ws.length), now: () => 0, random: () => 0.5, weights: new Weights(ws) });
      b.pick({ key: undefined, excluded: null }); // builds the tables
      const inner = b as unknown as { prob: Float64Array; alias: Int32Array };
      const n = ws.length;
      const mass = new Float64Array(n);
      for (let k = 0; k < n; k++) {
        mass[k] += inner.prob[k] / n;
        mass[inner.alias[k]] += (1 - inner.prob[k]) / n;
      }
      for (let k = 0; k < n; k++) {
        if (ws[k] === 0) assert.ok(mass[k] < 1e-12, `weight 0 endpoint ${k} has mass ${mass[k]}`);
        else assert.ok(Math.abs(mass[k] - ws[k] / total) < 1e-9, `endpoint ${k}: ${mass[k]} vs ${ws[k] / total}`);
      }
    }),
    { numRuns: 500 },
  );
});
