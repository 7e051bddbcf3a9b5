import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TokenBuckets } from './token-bucket.ts';

test('a burst passes, the next request is refused with the wait for one token', () => {
  const tb = new TokenBuckets(2 / 1000, 5, 10); // 2/s, burst 5
  for (let i = 0; i < 5; i++) {
    const r = tb.take('a', 0);
    assert.equal(r.allowed, true, `request ${i}`);
    assert.equal(r.remaining, 4 - i);
  }
  const r = tb.take('a', 0);
  assert.equal(r.allowed, false);
  assert.equal(r.remaining, 0);
  assert.equal(r.waitMs, 500);
  assert.equal(tb.take('a', 499).allowed, false);
  assert.equal(tb.take('a', 500).allowed, true);
  // another key has its own bucket
  assert.equal(tb.take('b', 500).allowed, true);
  assert.equal(tb.take('b', 500).remaining, 3);
});

test('refill is capped at burst and a clock going back refills nothing', () => {
  const tb = new TokenBuckets(1, 3, 10);
  tb.take('k', 1000);
  assert.equal(tb.peek('k', 1_000_000), 3);
  tb.take('k', 2000); tb.take('k', 2000); tb.take('k', 2000);
  assert.equal(tb.peek('k', 1500), 0);
  assert.equal(tb.take('k', 1500).allowed, false);
});

test('property: over any window, a key passes at most burst + rate × window requests', () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 20 }),
    fc.double({ min: 0.0001, max: 0.05, noNaN: true }),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 400 })), { minLength: 1, maxLength: 300 }),
    (burst, rate, ops) => {
      const tb = new TokenBuckets(rate, burst, 100);
      let now = 0;
      const passed: Map<number, number[]> = new Map();
      for (const [key, dt] of ops) {
        now += dt;
        const r = tb.take(String(key), now);
        assert.ok(r.remaining >= 0 && r.remaining <= burst - 1);
        assert.ok(r.waitMs >= 0);
        if (r.allowed) {
          const list = passed.get(key) ?? [];
          list.push(now);
          passed.set(key, list);
        }
      }
      for (const times of passed.values()) {
        for (let i = 0; i < times.length; i++) {
          for (let j = i; j < times.length; j++) {
            const n = j - i + 1;
            assert.ok(n <= burst + rate * (times[j] - times[i]) + 1e-9, `${n} passed in ${times[j] - times[i]} ms`);
          }
        }
      }
    },
  ), { numRuns: 200 });
});

test('property: the table never holds more than maxKeys buckets, and full buckets go first', () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 8 }),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 50 })), { minLength: 1, maxLength: 300 }),
    (maxKeys, ops) => {
      const tb = new TokenBuckets(0.01, 2, maxKeys);
      let now = 0;
      for (const [key, dt] of ops) {
        now += dt;
        tb.take(String(key), now);
        assert.ok(tb.size <= maxKeys, `size ${tb.size} > ${maxKeys}`);
      }
    },
  ), { numRuns: 200 });
});

test('a busy key survives eviction: full buckets go first, then the least recently used', () => {
  const t2 = new TokenBuckets(0.001, 2, 2); // 1/s, burst 2
  t2.take('busy', 0); t2.take('busy', 0); t2.take('busy', 0); // empty (the third is refused)
  t2.take('idle', 900); // 1 token left
  t2.take('busy', 1000); // 0 tokens left; busy is the most recently used
  t2.take('new', 1500); // nothing is full (idle 1.6, busy 0.5): the LRU (idle) goes
  assert.ok(t2.peek('busy', 1500) < 1);
  assert.equal(t2.size, 2);
  assert.equal(t2.evictedUsed, 1);
  assert.equal(t2.evictedFull, 0);
  assert.equal(t2.peek('idle', 1500), 2, 'idle was dropped (an unknown key reads as full)');
  const t3 = new TokenBuckets(0.001, 2, 2);
  t3.take('full-soon', 0);
  t3.take('busy', 2500); t3.take('busy', 2500);
  t3.take('new', 3000); // full-soon is full again and is dropped, not busy
  assert.equal(t3.evictedFull, 1);
  assert.equal(t3.evictedUsed, 0);
  assert.ok(t3.peek('busy', 3000) < 2);
});
