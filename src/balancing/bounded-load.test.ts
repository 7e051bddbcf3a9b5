import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { withBoundedLoad } from './bounded-load.ts';
import { Maglev } from './maglev.ts';
import { IpHash } from './ip-hash.ts';
import { LoadCounters } from './load.ts';
import { Weights } from './types.ts';
import type { BalancerEnv, CandidateFilter, EndpointInfo, HashingBalancer, PickContext } from './types.ts';

function endpoints(weights: readonly number[]): EndpointInfo[] {
  return weights.map((weight, index) => ({ index, address: `10.0.${index >> 8}.${index & 255}:80`, weight }));
}

function env(weights: readonly number[]): BalancerEnv {
  return { load: new LoadCounters(weights.length), now: () => 0, random: () => 0.5, weights: new Weights(weights) };
}

/** The brief's formula, written independently: ceil(factor × (T + 1) / n) over choosable endpoints. */
function capOf(inFlight: ArrayLike<number>, excluded: Uint8Array | null, factor: number): number {
  let t = 0;
  let n = 0;
  for (let i = 0; i < inFlight.length; i++) {
    if (excluded !== null && excluded[i] !== 0) continue;
    t += inFlight[i];
    n++;
  }
  return Math.ceil((factor * (t + 1)) / n);
}

/** Records the candidates the inner walk offers, in order, without refusing any. */
function walkOrder(inner: HashingBalancer, ctx: PickContext, n: number): number[] {
  const seen: number[] = [];
  const spy: CandidateFilter = { accept: (i) => (seen.includes(i) ? false : (seen.push(i), false)) };
  inner.pickFiltered(ctx, spy);
  return seen.slice(0, n);
}

test('property: the chosen endpoint’s in-flight + 1 never exceeds the cap (maglev, random loads and keys)', () => {
  const n = 12;
  const w = new Array(n).fill(1);
  const e = env(w);
  const inner = new Maglev(endpoints(w), e, { tableSize: 1021 });
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 50 }), { minLength: n, maxLength: n }),
      fc.array(fc.boolean(), { minLength: n, maxLength: n }),
      fc.string({ minLength: 1, maxLength: 32 }),
      fc.constantFrom(1, 1.1, 1.25, 1.5, 2),
      (loads, exclude, key, factor) => {
        e.load.inFlight.set(loads);
        const excluded = Uint8Array.from(exclude, (b) => (b ? 1 : 0));
        const b = withBoundedLoad(inner, e, factor);
        const chosen = b.pick({ key, excluded });
        if (excluded.every((x) => x === 1)) return chosen === -1;
        assert.ok(chosen >= 0 && excluded[chosen] === 0, `chose ${chosen}`);
        const cap = capOf(loads, excluded, factor);
        assert.ok(loads[chosen] + 1 <= cap, `load ${loads[chosen]} + 1 > cap ${cap} (factor ${factor})`);
        return true;
      },
    ),
    { numRuns: 2000, seed: 0xb0b },
  );
});

test('property: a stream of picks that each add one in flight never overshoots the cap', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 30 }), fc.integer({ min: 0, max: 1e6 }), (n, salt) => {
      const w = new Array(n).fill(1);
      const e = env(w);
      const b = withBoundedLoad(new Maglev(endpoints(w), e, { tableSize: 1021 }), e, 1.25);
      for (let k = 0; k < 10 * n; k++) {
        const cap = capOf(e.load.inFlight, null, 1.25);
        // Skewed keys: half the requests carry the same key.
        const i = b.pick({ key: k % 2 === 0 ? 'hot' : `k${salt}-${k}`, excluded: null });
        assert.ok(e.load.inFlight[i] + 1 <= cap);
        e.load.start(i);
      }
      const max = Math.max(...e.load.inFlight);
      assert.ok(max <= Math.ceil(1.25 * 10), `max in flight ${max}`);
    }),
    { numRuns: 100, seed: 7 },
  );
});

test('with every load at zero the decorator returns exactly the inner choice', () => {
  const w = [1, 1, 1, 1, 1, 1, 1];
  const e = env(w);
  const inner = new Maglev(endpoints(w), e);
  const b = withBoundedLoad(inner, e, 1.25);
  const excluded = Uint8Array.of(0, 0, 1, 0, 0, 0, 0);
  for (let k = 0; k < 5000; k++) {
    const key = `key-${k}`;
    assert.equal(b.pick({ key, excluded: null }), inner.pick({ key, excluded: null }));
    assert.equal(b.pick({ key, excluded }), inner.pick({ key, excluded }));
  }
  const ip = new IpHash(endpoints(w));
  const bi = withBoundedLoad(new IpHash(endpoints(w)), e, 1);
  for (let k = 0; k < 1000; k++) assert.equal(bi.pick({ key: `10.1.2.${k}`, excluded: null }), ip.pick({ key: `10.1.2.${k}`, excluded: null }));
});

test('a preferred endpoint at its cap sends the key to the inner walk’s next candidate', () => {
  const w = new Array(10).fill(1);
  const e = env(w);
  const inner = new Maglev(endpoints(w), e);
  const b = withBoundedLoad(inner, e, 1.25);
  for (let k = 0; k < 300; k++) {
    const ctx = { key: `session-${k}`, excluded: null };
    const [first, second, third] = walkOrder(inner, ctx, 3);
    e.load.inFlight.fill(0);
    // T = 10 → cap = ceil(1.25 × 11 / 10) = 2: an endpoint with 2 in flight is full.
    e.load.inFlight[first] = 2;
    // T = 10: 1 in flight on 8 of the others (not on `second`) → cap = ceil(1.25 × 11 / 10) = 2.
    for (let i = 0, put = 0; i < 10 && put < 8; i++) if (i !== first && i !== second) (e.load.inFlight[i] = 1), put++;
    assert.equal(b.pick(ctx), second);
    // `second` full too: the third candidate.
    e.load.inFlight[second] = 2;
    assert.equal(b.pick(ctx), third);
    e.load.inFlight.fill(0);
    e.load.inFlight[first] = 1; // T = 1, cap = ceil(1.25 × 2 / 10) = 1: full
    assert.equal(b.pick(ctx), second);
    e.load.inFlight[first] = 0;
    assert.equal(b.pick(ctx), first);
  }
});

test('cap formula: factor 1 over 4 endpoints with loads 3,3,3,2 → cap 3, only the one at 2 fits', () => {
  const w = [1, 1, 1, 1];
  const e = env(w);
  e.load.inFlight.set([3, 3, 3, 2]);
  const b = withBoundedLoad(new Maglev(endpoints(w), e, { tableSize: 101 }), e, 1);
  for (let k = 0; k < 200; k++) assert.equal(b.pick({ key: `k${k}`, excluded: null }), 3);
  // Excluded endpoints are not bins: exclude 3 → T = 9, n = 3, cap = ceil(10 / 3) = 4: all fit.
  const seen = new Set<number>();
  for (let k = 0; k < 200; k++) seen.add(b.pick({ key: `k${k}`, excluded: Uint8Array.of(0, 0, 0, 1) }));
  assert.deepEqual([...seen].sort(), [0, 1, 2]);
});

test('weighted bins: cap_i = ceil(factor × (T + 1) × w_i / W)', () => {
  const w = [3, 1];
  const e = env(w);
  // T = 4, W = 4 → caps ceil(1 × 5 × 3/4) = 4 and ceil(5/4) = 2.
  e.load.inFlight.set([3, 1]);
  const b = withBoundedLoad(new Maglev(endpoints(w), e, { tableSize: 101 }), e, 1);
  for (let k = 0; k < 100; k++) {
    const i = b.pick({ key: `k${k}`, excluded: null });
    assert.ok(e.load.inFlight[i] + 1 <= (i === 0 ? 4 : 2));
  }
  e.load.inFlight.set([2, 2]); // T = 4 → caps 4 and 2: only endpoint 0 fits
  for (let k = 0; k < 100; k++) assert.equal(b.pick({ key: `k${k}`, excluded: null }), 0);
});

test('every candidate refused by the inner walk: the least loaded choosable endpoint', () => {
  const w = [1, 1, 1];
  const e = env(w);
  e.load.inFlight.set([9, 4, 7]);
  // An inner balancer whose walk gives up after its first candidate (0).
  const stubborn: HashingBalancer = {
    pick: () => 0,
    pickFiltered: (ctx, f) => (f.accept(0) ? 0 : -1),
  };
  const b = withBoundedLoad(stubborn, e, 1); // caps: ceil(21 / 3) = 7, then ceil(17 / 2) = 9: endpoint 0 (9) is full
  assert.equal(b.pick({ key: 'x', excluded: null }), 1);
  assert.equal(b.pick({ key: 'x', excluded: Uint8Array.of(0, 1, 0) }), 2);
  assert.equal(b.pick({ key: 'x', excluded: Uint8Array.of(1, 1, 1) }), -1);
});

test('the filter object is allocated once: no allocation grows with picks', () => {
  const w = new Array(100).fill(1);
  const e = env(w);
  const b = withBoundedLoad(new Maglev(endpoints(w), e), e, 1.25);
  const filters = new Set<CandidateFilter>();
  const spyInner: HashingBalancer = {
    pick: () => 0,
    pickFiltered: (ctx, f) => (filters.add(f), 0),
  };
  const s = withBoundedLoad(spyInner, e, 1.25);
  for (let k = 0; k < 100; k++) s.pick({ key: `k${k}`, excluded: null });
  assert.equal(filters.size, 1);
  assert.ok(b.pick({ key: 'a', excluded: null }) >= 0);
  assert.throws(() => withBoundedLoad(spyInner, e, 0.5), /factor/);
});

test('an endpoint whose effective weight dropped to 0 is refused even when idle (not a bin)', () => {
  const w = [1, 1, 1];
  const e = env(w);
  const inner = new Maglev(endpoints(w), e, { tableSize: 101 }); // built while all weights were 1
  e.weights.set(1, 0);
  const b = withBoundedLoad(inner, e, 1.25);
  let hit1 = 0;
  for (let k = 0; k < 300; k++) {
    const key = `k${k}`;
    if (inner.pick({ key, excluded: null }) === 1) hit1++;
    assert.notEqual(b.pick({ key, excluded: null }), 1);
  }
  assert.ok(hit1 > 50, `${hit1} keys preferred endpoint 1`);
});
