import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MinTree } from './min-tree.ts';

/** The cyclic scan keeping the first strict minimum, from `start` (start ≥ n counts as 0). */
function scanFirstMin(keys: readonly number[], start: number): number {
  const n = keys.length;
  let best = -1;
  let k = start;
  for (let step = 0; step < n; step++) {
    if (k >= n) k = 0;
    if (best === -1 || keys[k] < keys[best]) best = k;
    k++;
  }
  return best;
}

test('min-tree: empty and single', () => {
  const t0 = new MinTree(0);
  assert.equal(t0.min(), Infinity);
  const t1 = new MinTree(1);
  t1.update(0, 3);
  assert.equal(t1.min(), 3);
  assert.equal(t1.firstMinFrom(0), 0);
  assert.equal(t1.firstMinFrom(1), 0);
});

test('min-tree: firstMinFrom picks the first minimum in rotation order', () => {
  const t = new MinTree(5);
  [2, 1, 3, 1, 1].forEach((k, p) => t.update(p, k));
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((s) => t.firstMinFrom(s)), [1, 1, 3, 3, 4, 1]);
});

test('property: min-tree agrees with the cyclic scan under random updates and rebuilds', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 70 }),
      fc.array(
        fc.record({
          pos: fc.nat(),
          key: fc.oneof(fc.integer({ min: -2, max: 4 }), fc.constant(Infinity), fc.double({ min: -10, max: 10, noNaN: true })),
          start: fc.nat({ max: 80 }),
          rebuild: fc.boolean(),
        }),
        { maxLength: 60 },
      ),
      (n, ops) => {
        const t = new MinTree(n);
        const keys = new Array<number>(n).fill(Infinity);
        for (const op of ops) {
          const p = op.pos % n;
          keys[p] = op.key;
          if (op.rebuild) {
            t.setLeaf(p, op.key);
            t.build();
          } else t.update(p, op.key);
          assert.ok(t.min() === Math.min(...keys), `min ${t.min()} of ${keys}`); // === : −0 and 0 are one minimum
          assert.equal(t.get(p), op.key);
          const got = t.firstMinFrom(op.start);
          assert.equal(got, scanFirstMin(keys, op.start >= n ? 0 : op.start), `start ${op.start} keys ${keys}`);
        }
      },
    ),
    { numRuns: 500 },
  );
});
