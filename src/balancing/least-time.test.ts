import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getAlgorithm } from './index.ts';
import { LoadCounters } from './load.ts';
import { Weights } from './types.ts';
import type { Balancer, EndpointInfo } from './types.ts';

const ctx = { key: undefined, excluded: null };

function make(weights: number[], load: LoadCounters, measure?: 'header' | 'last-byte', w = new Weights(weights)): Balancer {
  const eps: EndpointInfo[] = weights.map((weight, index) => ({ index, address: `10.0.0.${index + 1}:80`, weight }));
  return getAlgorithm('least-time')!.create(eps, { load, now: () => 0, random: () => 0.5, weights: w }, measure && { measure });
}

test('least-time: registered weighted with option section leastTime', () => {
  const f = getAlgorithm('least-time')!;
  assert.equal(f.weighted, true);
  assert.equal(f.optionsKey, 'leastTime');
});

test('least-time: lowest ewma × (1 + in-flight) wins; header is the default measure', () => {
  const load = new LoadCounters(3);
  load.headerEwma.set([10, 5, 8]);
  load.latencyEwma.set([1, 50, 50]);
  load.inFlight.set([0, 2, 0]);
  // header: 10×1, 5×3=15, 8×1 → c
  assert.equal(make([1, 1, 1], load).pick(ctx), 2);
  assert.equal(make([1, 1, 1], load, 'header').pick(ctx), 2);
  // last-byte: 1, 150, 50 → a
  assert.equal(make([1, 1, 1], load, 'last-byte').pick(ctx), 0);
});

test('least-time: divides by the live weight and never picks weight 0', () => {
  const load = new LoadCounters(3);
  load.headerEwma.set([10, 10, 1]);
  const w = new Weights([1, 4, 0]);
  const b = make([1, 4, 0], load, 'header', w);
  load.inFlight.set([1, 6, 0]);
  // 10×2/1 = 20, 10×7/4 = 17.5, c weight 0 → b
  assert.equal(b.pick(ctx), 1);
  w.set(1, 2); // 10×7/2 = 35 → a
  assert.equal(b.pick(ctx), 0);
  w.set(0, 0);
  w.set(1, 0);
  assert.equal(b.pick(ctx), -1);
});

test('least-time: an unmeasured endpoint counts as the best measured EWMA, so it is tried but not flooded', () => {
  const load = new LoadCounters(3);
  load.headerEwma.set([20, 4, 0]);
  const b = make([1, 1, 1], load);
  // c: 4 × (1 + 0) = 4 ties b's 4 × 1 → the unmeasured one wins the tie
  assert.equal(b.pick(ctx), 2);
  load.start(2);
  // c: 4 × 2 = 8 > b: 4 → b
  assert.equal(b.pick(ctx), 1);
  // nothing measured: (1 + inFlight)/w, i.e. least connections
  const l2 = new LoadCounters(3);
  l2.inFlight.set([2, 1, 3]);
  assert.equal(make([1, 1, 1], l2).pick(ctx), 1);
});

test('least-time: ties rotate instead of always taking the first index', () => {
  const load = new LoadCounters(4);
  load.headerEwma.set([5, 5, 5, 5]);
  const b = make([1, 1, 1, 1], load);
  const seq = Array.from({ length: 8 }, () => b.pick(ctx));
  assert.deepEqual(seq, [0, 1, 2, 3, 0, 1, 2, 3]);
  // excluded endpoints are skipped
  const excluded = Uint8Array.of(0, 1, 0, 1);
  assert.deepEqual(Array.from({ length: 4 }, () => b.pick({ key: undefined, excluded })), [0, 2, 0, 2]);
});

test('least-time: a slow endpoint gets less traffic under simulated completion', () => {
  // a answers in 10 ms, b in 40 ms; requests finish in FIFO order after 30 picks.
  const load = new LoadCounters(2);
  const b = make([1, 1], load);
  const lat = [10, 40];
  const fifo: number[] = [];
  const counts = [0, 0];
  for (let i = 0; i < 20000; i++) {
    const k = b.pick(ctx);
    counts[k]++;
    load.start(k);
    fifo.push(k);
    if (fifo.length > 30) {
      const j = fifo.shift()!;
      load.end(j, false, lat[j], lat[j], i);
    }
  }
  // balance: 10(1 + fa) = 40(1 + fb), fa + fb ≈ 30 → fa ≈ 24.4, fb ≈ 5.6 → a's share ≈ 0.81
  const share = counts[0] / 20000;
  assert.ok(share > 0.78 && share < 0.84, `share ${share}`);
});
