import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getAlgorithm, algorithmNames } from './index.ts';
import { LoadCounters } from './load.ts';
import { Weights } from './types.ts';
import type { Balancer, EndpointInfo, PickContext } from './types.ts';

function endpoints(weights: readonly number[]): EndpointInfo[] {
  return weights.map((weight, index) => ({ index, address: `10.0.0.${index + 1}:80`, weight }));
}

function make(name: string, weights: readonly number[], load = new LoadCounters(weights.length)): Balancer {
  const f = getAlgorithm(name);
  assert.ok(f, `algorithm ${name} registered`);
  return f.create(endpoints(weights), { load, now: () => 0, random: () => 0.5, weights: new Weights(weights) });
}

function picks(b: Balancer, n: number, ctx: PickContext = { key: undefined, excluded: null }): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(b.pick(ctx));
  return out;
}

const letters = (xs: number[]) => xs.map((i) => (i < 0 ? '-' : 'abcdefghij'[i])).join(' ');

test('index registers the three algorithms by kebab-case name', () => {
  for (const n of ['round-robin', 'weighted-round-robin', 'least-connections']) {
    assert.ok(algorithmNames().includes(n), n);
  }
});

test('round-robin cycles in order and ignores weights other than 0', () => {
  assert.equal(letters(picks(make('round-robin', [5, 1, 1]), 7)), 'a b c a b c a');
  assert.equal(letters(picks(make('round-robin', [1, 0, 3]), 5)), 'a c a c a');
});

test('round-robin skips excluded endpoints and keeps its place', () => {
  const b = make('round-robin', [1, 1, 1, 1]);
  const excluded = new Uint8Array(4);
  const ctx = { key: undefined, excluded };
  assert.equal(letters(picks(b, 2, ctx)), 'a b');
  excluded[2] = 1;
  assert.equal(letters(picks(b, 3, ctx)), 'd a b');
  excluded[2] = 0;
  assert.equal(letters(picks(b, 2, ctx)), 'c d');
});

test('weighted-round-robin {5,1,1} gives a a b a c a a and repeats', () => {
  assert.equal(letters(picks(make('weighted-round-robin', [5, 1, 1]), 14)), 'a a b a c a a a a b a c a a');
});

test('weighted-round-robin with an excluded endpoint shares among the rest', () => {
  const excluded = Uint8Array.of(0, 1, 0);
  // {5,_,1}: total 6 → a a a c a a (current weights 5,1 → -1,1 → 4,2 → 3,-4 → …)
  assert.equal(letters(picks(make('weighted-round-robin', [5, 1, 1]), 12, { key: undefined, excluded })), 'a a a c a a a a a c a a');
  assert.equal(letters(picks(make('weighted-round-robin', [2, 0, 1]), 6)), 'a c a a c a');
});

test('least-connections picks the least loaded, weight-divided', () => {
  const load = new LoadCounters(3);
  load.inFlight.set([3, 1, 2]);
  const b = make('least-connections', [1, 1, 1], load);
  assert.equal(b.pick({ key: undefined, excluded: null }), 1);
  assert.equal(b.pick({ key: undefined, excluded: Uint8Array.of(0, 1, 0) }), 2);
  // weights 1,1,4: loads 3,1,2 → 3, 1, 0.5 → c
  const w = make('least-connections', [1, 1, 4], load);
  assert.equal(w.pick({ key: undefined, excluded: null }), 2);
  // weights 0,1,1 with a at load 0: a is never chosen
  load.inFlight.set([0, 5, 4]);
  assert.equal(make('least-connections', [0, 1, 1], load).pick({ key: undefined, excluded: null }), 2);
});

test('least-connections rotates among ties', () => {
  const load = new LoadCounters(3);
  const b = make('least-connections', [1, 1, 1], load);
  assert.equal(letters(picks(b, 6)), 'a b c a b c');
  load.setInFlight(0, 1); // through LoadCounters, so the balancer sees it (direct array writes are not tracked)
  // ties between b and c; next scan starts after the last pick (c) → a (loaded) → b
  assert.equal(letters(picks(b, 4)), 'b c b c');
});

test('least-connections counts picks when the data path starts them', () => {
  const load = new LoadCounters(3);
  const b = make('least-connections', [1, 2, 1], load);
  const seq: number[] = [];
  for (let i = 0; i < 8; i++) {
    const k = b.pick({ key: undefined, excluded: null });
    load.start(k);
    seq.push(k);
  }
  assert.deepEqual([...load.inFlight], [2, 4, 2]);
  // ratios tie at every third step; the rotation hands the tie to the next endpoint after the last pick
  assert.equal(letters(seq), 'a b c b c a b b');
});

test('all algorithms: empty list and nothing choosable give -1', () => {
  for (const name of ['round-robin', 'weighted-round-robin', 'least-connections']) {
    assert.equal(make(name, []).pick({ key: undefined, excluded: null }), -1, name);
    assert.equal(make(name, [0, 0]).pick({ key: undefined, excluded: null }), -1, name);
    assert.equal(make(name, [1, 0]).pick({ key: undefined, excluded: Uint8Array.of(1, 0) }), -1, name);
  }
});

test('property: SWRR gives each endpoint exactly weight/total × N over N = m × total picks', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 4 }), (weights, m) => {
      const total = weights.reduce((a, b) => a + b, 0);
      fc.pre(total > 0);
      const b = make('weighted-round-robin', weights);
      const counts = new Array(weights.length).fill(0);
      for (let i = 0; i < m * total; i++) counts[b.pick({ key: undefined, excluded: null })]++;
      assert.deepEqual(counts, weights.map((w) => w * m));
    }),
    { numRuns: 300 },
  );
});

test('property: never an excluded or weight-0 index; -1 iff nothing choosable', () => {
  const names = ['round-robin', 'weighted-round-robin', 'least-connections'];
  fc.assert(
    fc.property(
      fc.constantFrom(...names),
      fc.array(fc.record({ w: fc.integer({ min: 0, max: 5 }), load: fc.integer({ min: 0, max: 10 }) }), { maxLength: 8 }),
      fc.array(fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), { minLength: 1, maxLength: 20 }),
      (name, eps, masks) => {
        const load = new LoadCounters(eps.length);
        eps.forEach((e, i) => (load.inFlight[i] = e.load));
        const b = make(name, eps.map((e) => e.w), load);
        for (const mask of masks) {
          const excluded = Uint8Array.from(eps, (_, i) => (mask[i] ? 1 : 0));
          const choosable = eps.some((e, i) => e.w > 0 && !mask[i]);
          const k = b.pick({ key: undefined, excluded });
          if (!choosable) assert.equal(k, -1);
          else {
            assert.ok(k >= 0 && k < eps.length, `index ${k}`);
            assert.equal(excluded[k], 0);
            assert.ok(eps[k].w > 0);
          }
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('property: least-connections returns a minimum of inFlight/weight', () => {
  fc.assert(
    fc.property(fc.array(fc.record({ w: fc.integer({ min: 1, max: 5 }), load: fc.integer({ min: 0, max: 10 }) }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 10 }), (eps, n) => {
      const load = new LoadCounters(eps.length);
      eps.forEach((e, i) => (load.inFlight[i] = e.load));
      const b = make('least-connections', eps.map((e) => e.w), load);
      for (let i = 0; i < n; i++) {
        const k = b.pick({ key: undefined, excluded: null });
        const min = Math.min(...eps.map((e, j) => load.inFlight[j] / e.w));
        assert.equal(load.inFlight[k] / eps[k].w, min);
        load.start(k);
      }
    }),
    { numRuns: 300 },
  );
});
