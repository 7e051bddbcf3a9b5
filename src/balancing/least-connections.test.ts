/**
 * least-connections picks in O(log N) from a min segment tree; these tests prove it returns exactly
 * what the O(N) scan it replaced returns (the reference below is that scan, verbatim), over random
 * sequences of starts, ends, weight changes, direct sets, picks with and without exclusions, and a
 * second balancer taking over the counters' change notifications.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getAlgorithm } from './index.ts';
import { LoadCounters } from './load.ts';
import { Weights } from './types.ts';
import type { Balancer, EndpointInfo, PickContext } from './types.ts';

/** The O(N) least-connections scan as it was before the tree (the reference). */
class ReferenceLeastConnections {
  private next = 0;
  private readonly slots: Int32Array;
  private readonly weights: Float64Array;
  private readonly inFlight: Int32Array;
  constructor(slots: Int32Array, weights: Float64Array, inFlight: Int32Array) {
    this.slots = slots;
    this.weights = weights;
    this.inFlight = inFlight;
  }
  pick(ctx: PickContext): number {
    const n = this.slots.length;
    const ex = ctx.excluded;
    let best = -1;
    let bestLoad = 0;
    let bestWeight = 1;
    let k = this.next;
    for (let step = 0; step < n; step++) {
      if (k >= n) k = 0;
      const slot = this.slots[k];
      const w = this.weights[slot];
      if (w > 0 && (ex === null || ex[slot] === 0)) {
        const load = this.inFlight[slot];
        if (best === -1 || load * bestWeight < bestLoad * w) {
          best = k;
          bestLoad = load;
          bestWeight = w;
        }
      }
      k++;
    }
    if (best === -1) return -1;
    this.next = best + 1;
    return this.slots[best];
  }
}

function endpoints(weights: readonly number[]): EndpointInfo[] {
  return weights.map((weight, index) => ({ index, address: `10.0.0.${index + 1}:80`, weight }));
}

function make(weights: Weights, load: LoadCounters, n: number): Balancer {
  return getAlgorithm('least-connections')!.create(endpoints(Array.from(weights.values.subarray(0, n))), { load, now: () => 0, random: () => 0.5, weights });
}

/** One step of a random history. */
const op = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('start' as const), i: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('end' as const), i: fc.nat(), ms: fc.integer({ min: 1, max: 20 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('weight' as const), i: fc.nat(), w: fc.integer({ min: 0, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('set' as const), i: fc.nat(), f: fc.integer({ min: 0, max: 6 }) }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('pick' as const), count: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('pickExcluded' as const), mask: fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('pickDown' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('rival' as const) }) },
);

test('property: least-connections picks exactly as the O(N) scan (N 1..60, random histories)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 60 }),
      fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 60, maxLength: 60 }),
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 60, maxLength: 60 }),
      fc.array(op, { maxLength: 80 }),
      (n, w0, f0, ops) => {
        const load = new LoadCounters(n);
        for (let i = 0; i < n; i++) load.inFlight[i] = f0[i]; // before the balancer exists: allowed
        const weights = new Weights(w0.slice(0, n));
        const b = make(weights, load, n);
        const ref = new ReferenceLeastConnections(Int32Array.from({ length: n }, (_, i) => i), weights.values, load.inFlight);
        // A fixed set of "down" endpoints, excluded on every pickDown (the same array each time).
        const down = Uint8Array.from({ length: n }, (_, i) => (i % 3 === 1 ? 1 : 0));
        let rival: Balancer | null = null;
        for (const o of ops) {
          switch (o.t) {
            case 'start': load.start(o.i % n); break;
            case 'end': load.end(o.i % n, false, o.ms); break;
            case 'weight': weights.set(o.i % n, o.w); break;
            case 'set': load.setInFlight(o.i % n, o.f); break;
            case 'rival':
              // Another balancer over the same counters takes the change notifications.
              rival = make(weights, load, n);
              break;
            default: {
              const excluded = o.t === 'pick' ? null : o.t === 'pickDown' ? down : Uint8Array.from({ length: n }, (_, i) => (o.mask[i] ? 1 : 0));
              const ctx = { key: undefined, excluded };
              const count = o.t === 'pick' ? o.count : 1;
              for (let c = 0; c < count; c++) {
                const want = ref.pick(ctx);
                assert.equal(b.pick(ctx), want, `inFlight ${[...load.inFlight]} weights ${[...weights.values]}`);
                if (want >= 0 && c % 2 === 0) load.start(want); // the data path counts the pick
              }
              if (rival !== null) rival.pick(ctx);
            }
          }
        }
      },
    ),
    { numRuns: 1000 },
  );
});

test('property: least-connections matches the scan with fractional (slow-start) weights', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ w: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 10 }).map((k) => k / 4), fc.double({ min: 0.01, max: 10, noNaN: true })), f: fc.integer({ min: 0, max: 8 }) }), { minLength: 1, maxLength: 40 }),
      fc.array(fc.nat(), { maxLength: 60 }),
      (eps, starts) => {
        const n = eps.length;
        const load = new LoadCounters(n);
        eps.forEach((e, i) => (load.inFlight[i] = e.f));
        const weights = new Weights(eps.map((e) => e.w));
        const b = make(weights, load, n);
        const ref = new ReferenceLeastConnections(Int32Array.from({ length: n }, (_, i) => i), weights.values, load.inFlight);
        const ctx = { key: undefined, excluded: null };
        for (const s of starts) {
          assert.equal(b.pick(ctx), ref.pick(ctx));
          load.start(s % n);
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('least-connections: a down endpoint with nothing in flight is skipped; picks stay exact', () => {
  const load = new LoadCounters(4);
  const weights = new Weights([1, 1, 1, 1]);
  const b = make(weights, load, 4);
  for (const i of [0, 2, 2, 3]) load.start(i);
  const down = Uint8Array.of(0, 1, 0, 0);
  // b is idle but down; a and d have 1 in flight, c 2 → a, then rotation → d
  assert.equal(b.pick({ key: undefined, excluded: down }), 0);
  assert.equal(b.pick({ key: undefined, excluded: down }), 3);
  assert.equal(b.pick({ key: undefined, excluded: null }), 1);
});

test('least-connections: counters written directly need invalidate() once a balancer is picking', () => {
  const load = new LoadCounters(3);
  const b = make(new Weights([1, 1, 1]), load, 3);
  const ctx = { key: undefined, excluded: null };
  assert.equal(b.pick(ctx), 0);
  load.inFlight.set([0, 5, 0]);
  load.invalidate();
  assert.equal(b.pick(ctx), 2);
});
