import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getAlgorithm } from './index.ts';
import { LoadCounters } from './load.ts';
import { Weights } from './types.ts';
import type { Balancer, EndpointInfo, PickContext } from './types.ts';

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

/** The O(N) least-time scan as it was before the trees (the reference for the property test). */
class ReferenceLeastTime {
  private next = 0;
  private readonly weights: Float64Array;
  private readonly inFlight: Int32Array;
  private readonly ewma: Float64Array;
  constructor(weights: Float64Array, inFlight: Int32Array, ewma: Float64Array) {
    this.weights = weights;
    this.inFlight = inFlight;
    this.ewma = ewma;
  }
  pick(ctx: PickContext): number {
    const { weights, inFlight, ewma } = this;
    const ex = ctx.excluded;
    const n = inFlight.length;
    let bestM = -1;
    let bestMScore = 0;
    let bestU = -1;
    let bestUScore = 0;
    let minEwma = Infinity;
    let k = this.next;
    for (let step = 0; step < n; step++) {
      if (k >= n) k = 0;
      const w = weights[k];
      if (w > 0 && (ex === null || ex[k] === 0)) {
        const e = ewma[k];
        const q = (1 + inFlight[k]) / w;
        if (e > 0) {
          if (e < minEwma) minEwma = e;
          const s = e * q;
          if (bestM === -1 || s < bestMScore) {
            bestM = k;
            bestMScore = s;
          }
        } else if (bestU === -1 || q < bestUScore) {
          bestU = k;
          bestUScore = q;
        }
      }
      k++;
    }
    let best = bestM;
    if (bestU !== -1 && (bestM === -1 || minEwma * bestUScore <= bestMScore)) best = bestU;
    if (best === -1) return -1;
    this.next = best + 1;
    return best;
  }
}

const op = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('start' as const), i: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('end' as const), i: fc.nat(), ms: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.double({ min: 0.5, max: 50, noNaN: true })), head: fc.integer({ min: 1, max: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('weight' as const), i: fc.nat(), w: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: 8 }).map((k) => k / 4)) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('set' as const), i: fc.nat(), f: fc.integer({ min: 0, max: 6 }) }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('pick' as const), count: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('pickExcluded' as const), mask: fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('pickDown' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('rival' as const) }) },
);

test('property: least-time picks exactly as the O(N) scan (N 1..60, random histories, both measures)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 60 }),
      fc.constantFrom('header' as const, 'last-byte' as const),
      fc.array(fc.record({ w: fc.integer({ min: 0, max: 4 }), f: fc.integer({ min: 0, max: 3 }), e: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 6 })) }), { minLength: 60, maxLength: 60 }),
      fc.array(op, { maxLength: 80 }),
      (n, measure, init, ops) => {
        const load = new LoadCounters(n);
        for (let i = 0; i < n; i++) {
          // Written before the balancer exists: allowed.
          load.inFlight[i] = init[i].f;
          load.headerEwma[i] = load.latencyEwma[i] = init[i].e;
        }
        const weights = new Weights(init.slice(0, n).map((x) => x.w));
        const b = make(Array.from(weights.values), load, measure, weights);
        const ref = new ReferenceLeastTime(weights.values, load.inFlight, measure === 'last-byte' ? load.latencyEwma : load.headerEwma);
        const down = Uint8Array.from({ length: n }, (_, i) => (i % 3 === 1 ? 1 : 0));
        let rival: Balancer | null = null;
        for (const o of ops) {
          switch (o.t) {
            case 'start': load.start(o.i % n); break;
            case 'end': load.end(o.i % n, false, o.ms, Math.min(o.head, o.ms), 0); break;
            case 'weight': weights.set(o.i % n, o.w); break;
            case 'set': load.setInFlight(o.i % n, o.f); break;
            case 'rival':
              rival = make(Array.from(weights.values), load, measure, weights);
              break;
            default: {
              const excluded = o.t === 'pick' ? null : o.t === 'pickDown' ? down : Uint8Array.from({ length: n }, (_, i) => (o.mask[i] ? 1 : 0));
              const c2 = { key: undefined, excluded };
              const count = o.t === 'pick' ? o.count : 1;
              for (let c = 0; c < count; c++) {
                const want = ref.pick(c2);
                assert.equal(b.pick(c2), want, `inFlight ${[...load.inFlight]} weights ${[...weights.values]}`);
                if (want >= 0 && c % 2 === 0) load.start(want);
              }
              if (rival !== null) rival.pick(c2);
            }
          }
        }
      },
    ),
    { numRuns: 1000 },
  );
});

test('least-time: a down unmeasured endpoint is skipped, and so is a down endpoint holding the lowest EWMA', () => {
  const load = new LoadCounters(3);
  load.headerEwma.set([2, 10, 0]);
  const b = make([1, 1, 1], load);
  // a (2) is down: the lowest EWMA among the choosable is b's 10, so c scores 10 × 1 ≤ b's 10 → c
  assert.equal(b.pick({ key: undefined, excluded: Uint8Array.of(1, 0, 0) }), 2);
  load.start(2);
  // c: 10 × 2 = 20 > b: 10 → b; c down too → b
  assert.equal(b.pick({ key: undefined, excluded: Uint8Array.of(1, 0, 0) }), 1);
  assert.equal(b.pick({ key: undefined, excluded: Uint8Array.of(1, 0, 1) }), 1);
  // nobody down: a's 2 is the lowest → c scores 2 × 2 = 4 > a's 2 → a
  assert.equal(b.pick(ctx), 0);
});
