// The pool's availability model: drain, outlier ejection with its cap, panic threshold, soft drain
// at pick time, exclusion of tried endpoints, events, and carry-over across a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../config/index.ts';
import type { PoolConfig } from '../config/schema.ts';
import { PoolRuntime } from './pool.ts';
import { mulberry32 } from '../core/prng.ts';

process.env.FULCRUM_LOG_LEVEL ??= 'silent';

function pool(p: Record<string, unknown>): PoolConfig {
  const r = validateConfig({
    listeners: [{ name: 'web', listen: '127.0.0.1:0', routes: [{ pool: 'p' }] }],
    pools: [{ name: 'p', ...p }],
  });
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.problems));
  return r.config.pools[0];
}

const servers = (n: number) => Array.from({ length: n }, (_, i) => ({ address: `127.0.0.1:${9000 + i}` }));

function shares(p: PoolRuntime, picks: number, tried: Uint8Array | null = null): number[] {
  const c = new Array<number>(p.endpoints.length).fill(0);
  for (let i = 0; i < picks; i++) {
    const e = p.pick(undefined, tried);
    if (e !== null) c[e.index]++;
  }
  return c.map((x) => x / picks);
}

function fail(p: PoolRuntime, slot: number, times: number): void {
  for (let i = 0; i < times; i++) p.record(slot, 'gateway', 'connect refused');
}

test('a drained server is never picked; undraining it by reload brings it back, with events', () => {
  const cfg = pool({ servers: [{ address: '127.0.0.1:9000', drain: true }, ...servers(3).slice(1)] });
  const p = new PoolRuntime(cfg);
  assert.deepEqual(shares(p, 300), [0, 0.5, 0.5]);
  assert.equal(p.health.events.at(-1)?.kind, 'drain');
  const q = new PoolRuntime(pool({ servers: servers(3) }), p);
  const s = shares(q, 300);
  assert.ok(Math.abs(s[0] - 1 / 3) < 0.01, `share after undrain ${s[0]}`);
  assert.equal(q.health.events.at(-1)?.reason, 'drain removed from the config');
});

test('outlier ejection: 5 gateway failures eject; the ejection time runs out in tick(); the cap allows 1 of 3', () => {
  let now = 1_000_000;
  const p = new PoolRuntime(pool({ servers: servers(3) }), undefined, mulberry32(1), () => now);
  fail(p, 0, 4);
  assert.equal(p.health.flags[0], 0, 'not ejected after 4');
  fail(p, 0, 1);
  assert.notEqual(p.health.flags[0], 0, 'ejected after 5');
  const ev = p.health.events.at(-1)!;
  assert.equal(ev.kind, 'ejection');
  assert.match(ev.reason, /5 consecutive gateway failures \(connect refused\): ejected for 30 s/);
  assert.deepEqual(shares(p, 200), [0, 0.5, 0.5]);
  // maxEjectionPercent 10 of 3 servers: one may be ejected, the second is skipped and stays in.
  fail(p, 1, 5);
  assert.equal(p.health.flags[1], 0);
  assert.match(p.health.events.at(-1)!.reason, /already ejected \(maxEjectionPercent 10\)/);
  now += 30_000;
  p.tick(now);
  assert.equal(p.health.flags[0], 0, 'back after 30 s');
  assert.equal(p.health.events.at(-1)!.to, 'returned');
});

test('panic threshold: below 50% available the pool balances across all; 0 disables it', () => {
  const mk = (panicThreshold: number) => {
    const p = new PoolRuntime(pool({ servers: servers(4), panicThreshold, outlierDetection: { maxEjectionPercent: 100 } }), undefined, mulberry32(2));
    fail(p, 0, 5);
    fail(p, 1, 5);
    return p;
  };
  const p = mk(50);
  assert.equal(p.health.panic, false, '2 of 4 available = 50%: not below the threshold');
  assert.deepEqual(shares(p, 400), [0, 0, 0.5, 0.5]);
  fail(p, 2, 5);
  assert.equal(p.health.panic, true, '1 of 4 = 25% < 50%');
  const panicEvent = p.health.events.find((e) => e.kind === 'panic');
  assert.match(panicEvent!.reason, /1 of 4 servers available \(25% < panicThreshold 50%\): balancing across all of them/);
  for (const s of shares(p, 400)) assert.equal(s, 0.25, 'fail open: every server gets its share');
  const off = mk(0);
  fail(off, 2, 5);
  assert.equal(off.health.panic, false);
  assert.deepEqual(shares(off, 400), [0, 0, 0, 1]);
});

test('a drained server stays out even in panic, and does not count as in service', () => {
  const p = new PoolRuntime(pool({
    servers: [{ address: '127.0.0.1:9000', drain: true }, ...servers(3).slice(1)],
    outlierDetection: { maxEjectionPercent: 100 },
  }));
  fail(p, 1, 5);
  fail(p, 2, 5);
  assert.equal(p.health.panic, true);
  assert.deepEqual(shares(p, 300), [0, 0.5, 0.5]);
});

test('tried endpoints are excluded (retries); with all tried, none is picked', () => {
  const p = new PoolRuntime(pool({ servers: servers(3) }));
  const tried = new Uint8Array(3);
  tried[1] = 1;
  assert.deepEqual(shares(p, 300, tried), [0.5, 0, 0.5]);
  tried.fill(1);
  assert.equal(p.pick(undefined, tried), null);
});

test('soft drain: factor f acts as weight × f for rotating algorithms, and sends 1 − f of a hashing server\'s keys on', () => {
  for (const algorithm of ['round-robin', 'maglev']) {
    const extra = algorithm === 'maglev' ? { hashKey: 'query:k' } : {};
    const p = new PoolRuntime(pool({ algorithm, ...extra, servers: servers(3) }), undefined, mulberry32(3));
    p.health.gray.factor[0] = 0.1;
    const c = [0, 0, 0];
    const n = 30_000;
    for (let i = 0; i < n; i++) c[p.pick(algorithm === 'maglev' ? `key-${i}` : undefined, null)!.index]++;
    const share0 = c[0] / n;
    // Round robin: a rejected turn passes to the next server, so server 0 weighs 0.1 against 1 + 1:
    // 0.1 / 2.1 ≈ 4.8%. Maglev: a third of the keys land on server 0 and a tenth of those stay: ≈ 3.3%.
    const expected = algorithm === 'round-robin' ? 0.1 / 2.1 : 1 / 30;
    assert.ok(Math.abs(share0 - expected) < 0.006, `${algorithm}: share ${share0}, expected ${expected}`);
  }
});

test('ejection and counters survive a reload for the same address; new servers start clean', () => {
  const p = new PoolRuntime(pool({ servers: servers(3) }));
  fail(p, 2, 5);
  p.health.retries = 7;
  const q = new PoolRuntime(pool({ servers: [...servers(3).slice(1), { address: '127.0.0.1:9100' }] }), p);
  assert.deepEqual([...q.health.flags], [0, 2, 0], '127.0.0.1:9002 is still ejected, now in slot 1');
  assert.equal(q.health.events, p.health.events, 'the event log carries over');
  assert.equal(q.health.retries, 7);
});
