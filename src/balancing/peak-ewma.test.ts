import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getAlgorithm } from './index.ts';
import { LoadCounters, DEFAULT_PEAK_EWMA_DECAY_MS } from './load.ts';
import { Weights } from './types.ts';
import type { Balancer, EndpointInfo } from './types.ts';

const ctx = { key: undefined, excluded: null };
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

/** A balancer whose env.random replays `rs` (cycling) and whose clock is `clock.now`. */
function make(weights: number[], load: LoadCounters, rs: number[], clock = { now: 0 }, options?: object): Balancer {
  const eps: EndpointInfo[] = weights.map((weight, index) => ({ index, address: `10.0.0.${index + 1}:80`, weight }));
  let i = 0;
  const random = () => rs[i++ % rs.length];
  return getAlgorithm('peak-ewma')!.create(eps, { load, now: () => clock.now, random, weights: new Weights(weights) }, options);
}

test('peak-ewma LoadCounters: first sample sets the cost, peaks jump, lower samples decay with w = exp(−Δt/τ)', () => {
  const l = new LoadCounters(1);
  assert.equal(l.peakEwmaDecay, DEFAULT_PEAK_EWMA_DECAY_MS);
  assert.equal(l.peakEwmaCost(0, 0, 30), 30, 'prior before any sample');
  l.start(0);
  l.end(0, false, 99, 20, 1000); // fed the header time
  assert.equal(l.peakCost[0], 20);
  assert.equal(l.peakStamp[0], 1000);
  l.start(0);
  l.end(0, false, 80, 80, 1500); // a peak: jumps at once
  assert.equal(l.peakCost[0], 80);
  l.start(0);
  l.end(0, false, 10, 10, 3500); // Δt = 2000: w = e^-0.2
  const w = Math.exp(-0.2);
  close(l.peakCost[0], 80 * w + 10 * (1 - w), 'decayed cost');
  // read time: decays towards 0 by exp(−(now − stamp)/τ)
  close(l.peakEwmaCost(0, 3500 + 10_000, 30), l.peakCost[0] * Math.exp(-1), 'read decay');
  assert.equal(l.peakEwmaCost(0, 3000, 30), l.peakCost[0], 'no decay backwards in time');
  // τ is configurable
  l.setPeakEwmaDecay(1000);
  close(l.peakEwmaCost(0, 4500, 30), l.peakCost[0] * Math.exp(-1), 'read decay τ = 1 s');
});

test('peak-ewma LoadCounters: carryOver keeps cost and stamp of surviving endpoints', () => {
  const a = new LoadCounters(2);
  a.start(1);
  a.end(1, false, 42, 42, 777);
  const b = new LoadCounters(3, 5000);
  a.carryOver(['x:1', 'y:1'], b, ['z:1', 'y:1', 'x:1']);
  assert.deepEqual([...b.peakCost], [-1, 42, -1]);
  assert.deepEqual([...b.peakStamp], [0, 777, 0]);
  assert.equal(b.peakEwmaDecay, 5000, 'τ stays the new config\'s');
});

test('peak-ewma: registered with option section peakEwma; decay option reaches the LoadCounters', () => {
  const f = getAlgorithm('peak-ewma')!;
  assert.equal(f.optionsKey, 'peakEwma');
  const l = new LoadCounters(2);
  make([1, 1], l, [0], { now: 0 }, { decay: 2500, prior: 30 });
  assert.equal(l.peakEwmaDecay, 2500);
});

test('peak-ewma: P2C draws two distinct endpoints and the lower cost × (in-flight + 1) wins', () => {
  const l = new LoadCounters(3);
  const clock = { now: 0 };
  // random 0 → a = 0; random 0.5 → floor(0.5 × 2) = 1 ≥ a → b = 2: compares endpoints 0 and 2
  const b = make([1, 1, 1], l, [0, 0.5], clock);
  // both at the prior (30): equal loads, equal in-flight → the first drawn
  assert.equal(b.pick(ctx), 0);
  l.start(0); // 30 × 2 vs 30 × 1 → 2
  assert.equal(b.pick(ctx), 2);
  l.end(0, false, 5, 5, 0); // 0 now measured 5 ms: 5 × 1 < 30 → 0
  assert.equal(b.pick(ctx), 0);
  for (let i = 0; i < 6; i++) l.start(0); // 5 × 7 = 35 > 30 → 2
  assert.equal(b.pick(ctx), 2);
});

test('peak-ewma: an idle slow endpoint decays and is tried again', () => {
  const l = new LoadCounters(2);
  const clock = { now: 0 };
  const b = make([1, 1], l, [0, 0], clock);
  l.start(0); l.end(0, false, 100, 100, 0);
  l.start(1); l.end(1, false, 10, 10, 0);
  assert.equal(b.pick(ctx), 1);
  clock.now = 30_000; // a: 100 e^-3 ≈ 4.98; b refreshed now at 10
  l.start(1); l.end(1, false, 10, 10, 30_000);
  assert.equal(b.pick(ctx), 0);
});

test('peak-ewma: weight 0 and excluded endpoints are never chosen; one choosable → it; none → -1', () => {
  const l = new LoadCounters(3);
  const b = make([0, 1, 1], l, [0, 0.3, 0.6, 0.9, 0.1]);
  for (let i = 0; i < 50; i++) assert.notEqual(b.pick(ctx), 0);
  assert.equal(b.pick({ key: undefined, excluded: Uint8Array.of(0, 1, 0) }), 2);
  assert.equal(b.pick({ key: undefined, excluded: Uint8Array.of(0, 1, 1) }), -1);
  assert.equal(make([], new LoadCounters(0), [0]).pick(ctx), -1);
});

test('peak-ewma: under simulated completion a 4× slower endpoint gets a small share', () => {
  const l = new LoadCounters(2);
  const clock = { now: 0 };
  let s = 12345;
  const rs = Array.from({ length: 4096 }, () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32));
  const b = make([1, 1], l, rs, clock);
  const lat = [10, 40];
  const fifo: number[] = [];
  const counts = [0, 0];
  for (let i = 0; i < 20000; i++) {
    clock.now = i;
    const k = b.pick(ctx);
    counts[k]++;
    l.start(k);
    fifo.push(k);
    if (fifo.length > 30) {
      const j = fifo.shift()!;
      l.end(j, false, lat[j], lat[j], i);
    }
  }
  // with 2 endpoints P2C always compares both: 10(1 + fa) = 40(1 + fb) as in least-time → a ≈ 0.81
  const share = counts[0] / 20000;
  assert.ok(share > 0.75 && share < 0.87, `share ${share}`);
});

test('property: the one-exp comparison picks what the direct formula cost(now) × (in-flight + 1) picks', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ c: fc.oneof(fc.constant(-1), fc.constant(0), fc.double({ min: 0.001, max: 500, noNaN: true })), s: fc.integer({ min: 0, max: 60_000 }), f: fc.integer({ min: 0, max: 20 }) }), { minLength: 2, maxLength: 2 }),
      fc.integer({ min: 0, max: 90_000 }),
      (eps, now) => {
        const l = new LoadCounters(2);
        eps.forEach((e, i) => {
          l.peakCost[i] = e.c < 0 ? -1 : e.c;
          l.peakStamp[i] = e.s;
          l.inFlight[i] = e.f;
        });
        const b = make([1, 1], l, [0, 0], { now });
        const load = (i: number) => l.peakEwmaCost(i, now, 30) * (eps[i].f + 1);
        const [x, y] = [load(0), load(1)];
        fc.pre(Math.abs(x - y) > 1e-9 * Math.max(x, y, 1e-300) || x === y);
        const expect = y < x || (y === x && eps[1].f < eps[0].f) ? 1 : 0;
        assert.equal(b.pick(ctx), expect, `loads ${x} ${y}`);
      },
    ),
    { numRuns: 2000, seed: 4242 },
  );
});
