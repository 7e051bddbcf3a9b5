import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EndpointStats, LATENCY_BUCKETS, ROTATE_MS, bucketOf } from './endpoint-stats.ts';
import { EventFeed } from './events.ts';

test('latency quantiles are within 12% of the exact ones, per endpoint', () => {
  const s = new EndpointStats(2);
  const xs: number[] = [];
  for (let i = 1; i <= 1000; i++) {
    const ms = 0.5 + (i % 100) * 0.7 + (i % 7 === 0 ? 40 : 0);
    xs.push(ms);
    s.start(0);
    s.end(0, false, ms, ms, i);
  }
  xs.sort((a, b) => a - b);
  for (const q of [0.5, 0.9, 0.99]) {
    const exact = xs[Math.ceil(q * xs.length) - 1];
    const got = s.quantile(0, q)!;
    assert.ok(Math.abs(got - exact) / exact <= 0.12, `q${q}: ${got} vs ${exact}`);
  }
  assert.equal(s.quantile(1, 0.5), null);
});

test('buckets: octaves of 10 µs cut in quarters; monotonic; clamped', () => {
  assert.equal(bucketOf(0), 0);
  assert.equal(bucketOf(0.01), 0);
  assert.equal(bucketOf(0.02), 4);
  assert.equal(bucketOf(0.03), 6);
  assert.equal(bucketOf(1e9), LATENCY_BUCKETS - 1);
  let prev = 0;
  for (let ms = 0.001; ms < 3e5; ms *= 1.01) {
    const b = bucketOf(ms);
    assert.ok(b >= prev && b < LATENCY_BUCKETS);
    prev = b;
  }
});

test('two generations: old latencies leave after two rotations', () => {
  const s = new EndpointStats(1);
  s.tick(1);
  for (let i = 0; i < 100; i++) { s.start(0); s.end(0, false, 100); }
  s.tick(1 + ROTATE_MS);
  assert.ok(s.quantile(0, 0.5)! > 90);
  for (let i = 0; i < 100; i++) { s.start(0); s.end(0, false, 1); }
  s.tick(1 + 2 * ROTATE_MS);
  assert.ok(s.quantile(0, 0.5)! < 1.1, 'only the 1 ms generation is left');
});

test('req/s and error rate over the sample window; carried over a reload by address', () => {
  const s = new EndpointStats(2);
  s.tick(1000);
  for (let i = 0; i < 50; i++) { s.start(0); s.end(0, i % 5 === 0, 1); }
  const r = s.rate(0, 3000);
  assert.equal(r.perSecond, 25);
  assert.equal(r.errorRate, 0.2);
  assert.equal(s.rate(1, 3000).perSecond, 0);
  const next = new EndpointStats(3);
  s.carryOver(['a', 'b'], next, ['c', 'a', 'b']);
  assert.equal(next.rate(1, 3000).perSecond, 25);
  assert.equal(next.rate(0, 3000).perSecond, 0);
  assert.ok(next.quantile(1, 0.5)! > 0.9);
});

test('event feed: ids, since, limit, truncation', () => {
  const f = new EventFeed(3);
  const seen: number[] = [];
  f.subscribe((e) => seen.push(e.id));
  for (let i = 0; i < 5; i++) f.push({ kind: 'reload', pool: null, server: null, to: 'x', reason: `r${i}` });
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  assert.deepEqual(f.since(0).events.map((e) => e.id), [3, 4, 5]);
  assert.equal(f.since(0).truncated, true);
  assert.equal(f.since(2).truncated, false);
  assert.deepEqual(f.since(3, 1).events.map((e) => e.id), [4]);
  assert.equal(f.since(5).events.length, 0);
  assert.equal(f.lastId(), 5);
});
