import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WeightedRoundRobin } from './weighted-round-robin.ts';
import { LoadCounters } from './load.ts';
import { Weights } from './types.ts';
import type { EndpointInfo } from './types.ts';

/** Straightforward nginx SWRR over live weights (by slot), excluded endpoints sitting out. */
class ReferenceSwrr {
  readonly cur: number[];
  readonly slots: number[];
  readonly weights: Weights;
  constructor(slots: number[], weights: Weights) {
    this.slots = slots;
    this.weights = weights;
    this.cur = slots.map(() => 0);
  }
  pick(ex: Uint8Array | null): number {
    let total = 0;
    let best = -1;
    for (let k = 0; k < this.slots.length; k++) {
      const w = this.weights.values[this.slots[k]];
      if (!(w > 0) || (ex !== null && ex[this.slots[k]] !== 0)) continue;
      this.cur[k] += w;
      total += w;
      if (best === -1 || this.cur[k] > this.cur[best]) best = k;
    }
    if (best === -1) return -1;
    this.cur[best] -= total;
    return this.slots[best];
  }
}

function setup(ws: readonly number[], slots?: number[]) {
  const size = slots === undefined ? ws.length : Math.max(0, ...slots) + 1;
  const idx = slots ?? ws.map((_, i) => i);
  const init = new Array(size).fill(0);
  idx.forEach((s, k) => (init[s] = ws[k]));
  const weights = new Weights(init);
  const eps: EndpointInfo[] = idx.map((index, k) => ({ index, address: `10.0.0.${k + 1}:80`, weight: ws[k] }));
  const env = { load: new LoadCounters(size), now: () => 0, random: () => 0.5, weights };
  return { weights, b: new WeightedRoundRobin(eps, env), ref: new ReferenceSwrr(idx, weights), size };
}

test('table path: {5,1,1} gives a a b a c a a over many periods', () => {
  const { b } = setup([5, 1, 1]);
  const got: string[] = [];
  for (let i = 0; i < 70; i++) got.push('abc'[b.pick({ key: undefined, excluded: null })]);
  assert.equal(got.join(''), 'aabacaa'.repeat(10));
});

test('an exclusion mid-period, then clean picks: same sequence as the reference', () => {
  const { b, ref } = setup([5, 1, 1]);
  const ex = new Uint8Array(3);
  for (let i = 0; i < 200; i++) {
    ex[1] = i % 17 === 3 || i % 29 === 0 ? 1 : 0;
    assert.equal(b.pick({ key: undefined, excluded: ex }), ref.pick(ex), `pick ${i}`);
  }
});

test('property: same sequence as a reference SWRR under random weights and exclusions', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 50 }),
      // per pick: null = no exclusion array, else a list of excluded positions
      fc.array(fc.option(fc.array(fc.nat(49), { maxLength: 3 }), { freq: 3 }), { minLength: 1, maxLength: 400 }),
      (ws, plan) => {
        const { b, ref, size } = setup(ws);
        for (let i = 0; i < plan.length; i++) {
          const p = plan[i];
          let ex: Uint8Array | null = null;
          if (p !== null) {
            ex = new Uint8Array(size);
            for (const k of p) if (k < size) ex[k] = 1;
          }
          assert.equal(b.pick({ key: undefined, excluded: ex }), ref.pick(ex), `pick ${i}`);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('property: same sequence with long clean runs (table rebuilt after exclusions, wraps periods)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 50 }),
      fc.array(fc.record({ run: fc.integer({ min: 1, max: 1500 }), ex: fc.array(fc.nat(49), { maxLength: 2 }) }), { minLength: 1, maxLength: 6 }),
      (ws, plan) => {
        const { b, ref, size } = setup(ws);
        const ex = new Uint8Array(size);
        for (const { run, ex: list } of plan) {
          for (let i = 0; i < run; i++) assert.equal(b.pick({ key: undefined, excluded: null }), ref.pick(null));
          ex.fill(0);
          for (const k of list) if (k < size) ex[k] = 1;
          assert.equal(b.pick({ key: undefined, excluded: ex }), ref.pick(ex));
        }
      },
    ),
    { numRuns: 100 },
  );
});

test('property: same sequence across live weight changes, fractional (slow start) included', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 20 }),
      fc.array(
        fc.record({
          run: fc.integer({ min: 0, max: 300 }),
          k: fc.nat(19),
          w: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.double({ min: 0, max: 20, noNaN: true })),
        }),
        { minLength: 1, maxLength: 8 },
      ),
      (ws, plan) => {
        const { b, ref, weights } = setup(ws);
        for (const { run, k, w } of plan) {
          for (let i = 0; i < run; i++) assert.equal(b.pick({ key: undefined, excluded: null }), ref.pick(null));
          if (k < ws.length) weights.set(k, w);
        }
        for (let i = 0; i < 500; i++) assert.equal(b.pick({ key: undefined, excluded: null }), ref.pick(null));
      },
    ),
    { numRuns: 200 },
  );
});

test('slots that are not 0..N-1 (a subset of the pool) and exclusions outside the list', () => {
  const { b, ref, size } = setup([3, 0, 2, 1], [7, 2, 4, 0]);
  const ex = new Uint8Array(size);
  for (let i = 0; i < 300; i++) {
    ex.fill(0);
    if (i % 11 === 0) ex[5] = 1; // not in the list: no effect
    if (i % 13 === 0) ex[2] = 1; // weight 0: no effect
    if (i % 37 === 0) ex[4] = 1;
    assert.equal(b.pick({ key: undefined, excluded: ex }), ref.pick(ex), `pick ${i}`);
  }
});

test('nothing choosable gives -1, on both paths', () => {
  const { b } = setup([0, 0]);
  assert.equal(b.pick({ key: undefined, excluded: null }), -1);
  const one = setup([1, 0]).b;
  assert.equal(one.pick({ key: undefined, excluded: null }), 0);
  assert.equal(one.pick({ key: undefined, excluded: Uint8Array.of(1, 0) }), -1);
  assert.equal(one.pick({ key: undefined, excluded: null }), 0);
});
