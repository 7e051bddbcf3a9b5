// The pool runtime builds what the config says: the algorithm with its options, the bounded-load
// decorator, slow start for endpoints that join on a reload, the hash-key extractor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../config/index.ts';
import type { PoolConfig } from '../config/schema.ts';
import { PoolRuntime } from './pool.ts';

function pool(p: Record<string, unknown>): PoolConfig {
  const r = validateConfig({
    listeners: [{ name: 'web', listen: '127.0.0.1:0', routes: [{ pool: 'p' }] }],
    pools: [{ name: 'p', ...p }],
  });
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.problems));
  return r.config.pools[0];
}

const servers = (n: number, weight = 1) => Array.from({ length: n }, (_, i) => ({ address: `127.0.0.1:${9000 + i}`, weight }));

test('bounded load: with one endpoint loaded to its cap, its keys go elsewhere; without the option they do not', () => {
  const cfg = { algorithm: 'consistent-hash', hashKey: 'query:k', servers: servers(4) };
  const plain = new PoolRuntime(pool(cfg));
  const bounded = new PoolRuntime(pool({ ...cfg, boundedLoad: { factor: 1.25 } }));
  // Find a key owned by endpoint 0.
  let key = '';
  for (let i = 0; i < 1000 && key === ''; i++) if (plain.pick(`k${i}`, null)!.index === 0) key = `k${i}`;
  assert.notEqual(key, '');
  for (const p of [plain, bounded]) p.load.inFlight[0] = 10; // endpoint 0 busy, others idle
  assert.equal(plain.pick(key, null)!.index, 0, 'plain consistent hashing ignores load');
  // cap = ceil(1.25 × (10 + 1) / 4) = 4 < 11: endpoint 0 is refused, the key walks on.
  assert.notEqual(bounded.pick(key, null)!.index, 0);
});

test('slow start: endpoints that join on a reload ramp up; those already there keep their weight', () => {
  let now = 1_000_000;
  const clock = () => now;
  const before = new PoolRuntime(pool({ algorithm: 'weighted-round-robin', servers: servers(2, 10), slowStart: { window: '10s' } }), undefined, Math.random, clock);
  assert.deepEqual([...before.weights.values], [10, 10], 'nothing ramps at startup');
  const after = new PoolRuntime(pool({ algorithm: 'weighted-round-robin', servers: servers(3, 10), slowStart: { window: '10s' } }), before, Math.random, clock);
  assert.equal(after.weights.values[0], 10);
  assert.ok(after.weights.values[2] > 0 && after.weights.values[2] < 1, `new endpoint starts near 0, got ${after.weights.values[2]}`);
  now += 5000;
  after.slowStart!.tick(now);
  assert.ok(Math.abs(after.weights.values[2] - 5) < 0.01, `half way: ${after.weights.values[2]}`);
  now += 5000;
  after.slowStart!.tick(now);
  assert.equal(after.weights.values[2], 10);
  // The ramp shows in the picks: at half weight the newcomer gets about 5/25 of the picks.
  const counts = [0, 0, 0];
  const half = new PoolRuntime(pool({ algorithm: 'weighted-round-robin', servers: servers(3, 10), slowStart: { window: '10s' } }), before, Math.random, clock);
  now += 5000;
  half.slowStart!.tick(now);
  for (let i = 0; i < 2500; i++) counts[half.pick(undefined, null)!.index]++;
  assert.ok(Math.abs(counts[2] / 2500 - 0.2) < 0.01, `share ${counts[2] / 2500}`);
});

test('the hash key and the missing-key policy come from the config', () => {
  const p = new PoolRuntime(pool({ algorithm: 'maglev', hashKey: 'header:X-User', hashKeyMissing: 'reject', servers: servers(3) }));
  assert.equal(p.key?.spec, 'header:x-user');
  assert.equal(p.rejectMissingKey, true);
  const q = new PoolRuntime(pool({ servers: servers(2) }));
  assert.equal(q.key, null);
  assert.equal(q.rejectMissingKey, false);
});
