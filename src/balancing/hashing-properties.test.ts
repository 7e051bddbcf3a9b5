/**
 * Remap properties of the hashing algorithms, measured over keys: when one of N endpoints leaves,
 * which fraction of all keys, and of the keys it did NOT own, change endpoint?
 *
 * ip-hash (hash mod N, the non-consistent baseline): the old position a = h mod N and the new one
 * b = h mod (N − 1) are (by the Chinese remainder theorem) uniform over the N × (N − 1) pairs, and
 * a key stays only on the N − 1 pairs where b names the same endpoint as a. So exactly 1/N of all
 * keys stay: (N − 1)/N move overall, and (N − 2)/(N − 1) of the keys the removed endpoint did not
 * own move. maglev moves the removed endpoint's 1/N and well under 1 % of the others.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IpHash } from './ip-hash.ts';
import { Maglev } from './maglev.ts';
import type { EndpointInfo, HashingBalancer } from './types.ts';

function endpoints(n: number): EndpointInfo[] {
  return Array.from({ length: n }, (_, index) => ({ index, address: `10.${index >> 8}.${index & 255}.7:443`, weight: 1 }));
}

const KEYS = Array.from({ length: 20_000 }, (_, k) => `198.51.${(k >> 8) & 255}.${k & 255}`);

/** Fractions of the keys that move: among those not on `removed` before, and overall. */
function remap(make: (eps: EndpointInfo[]) => HashingBalancer, n: number, removed: number): { others: number; all: number } {
  const eps = endpoints(n);
  const before = make(eps);
  const after = make(eps.filter((e) => e.index !== removed)); // slots keep their index
  let kept = 0;
  let moved = 0;
  let all = 0;
  for (const key of KEYS) {
    const a = before.pick({ key, excluded: null });
    const b = after.pick({ key, excluded: null });
    if (b !== a) all++;
    if (a === removed) continue;
    kept++;
    if (b !== a) moved++;
  }
  return { others: moved / kept, all: all / KEYS.length };
}

const ipHash = (eps: EndpointInfo[]) => new IpHash(eps);
const maglev = (eps: EndpointInfo[]) => new Maglev(eps);

test('ip-hash: removing one of N endpoints remaps ≈ (N−1)/N of the keys (N = 10, 100)', () => {
  // Measured over 20 000 keys (last endpoint removed): N = 10 → 0.902 overall, 0.891 of the
  // others; N = 100 → 0.990 overall, 0.990 of the others.
  for (const n of [10, 100]) {
    const { others, all } = remap(ipHash, n, n - 1);
    assert.ok(Math.abs(all - (n - 1) / n) <= 0.015, `N=${n}: ${all} moved, expected ≈ ${(n - 1) / n}`);
    assert.ok(Math.abs(others - (n - 2) / (n - 1)) <= 0.015, `N=${n}: ${others} of the others moved`);
  }
});

test('property: ip-hash moves (N−1)/N ± 0.02 of the keys whichever endpoint leaves', () => {
  fc.assert(
    fc.property(fc.integer({ min: 3, max: 60 }), fc.nat(), (n, r) => {
      const { others, all } = remap(ipHash, n, r % n);
      assert.ok(Math.abs(all - (n - 1) / n) <= 0.02, `N=${n} removed ${r % n}: ${all}`);
      assert.ok(Math.abs(others - (n - 2) / (n - 1)) <= 0.02, `N=${n} removed ${r % n}: ${others} of the others`);
    }),
    { numRuns: 30, seed: 0x1f },
  );
});

test('maglev, same keys: ≤ 1% of the other keys move, ≈ 1/N overall (N = 10, 100)', () => {
  // Measured: N = 10 → 0.0022 of the others, 0.099 overall; N = 100 → 0.0047, 0.0149.
  for (const n of [10, 100]) {
    const { others, all } = remap(maglev, n, 3);
    assert.ok(others <= 0.01, `N=${n}: ${others}`);
    assert.ok(all <= 1 / n + 0.01, `N=${n}: ${all}`);
  }
});

test('hashing is deterministic across fresh instances (ip-hash, maglev)', () => {
  for (const make of [ipHash, maglev]) {
    const a = make(endpoints(17));
    const b = make(endpoints(17));
    for (const key of KEYS.slice(0, 5000)) assert.equal(b.pick({ key, excluded: null }), a.pick({ key, excluded: null }));
  }
});
