// The retry policy shared by the HTTP/1.1 and HTTP/2 engines (src/l7/retry-state.ts), on a fake pool.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RetryState } from './retry-state.ts';
import type { Endpoint, PoolRuntime } from '../runtime/pool.ts';

function fakePool(opts: { attempts?: number; budget?: boolean; choosable?: boolean } = {}) {
  const eps = [{ index: 0 }, { index: 1 }, { index: 2 }] as unknown as Endpoint[];
  const picks: { key: string | undefined; tried: number[] }[] = [];
  const health = { retries: 0, retriesRefused: 0, budget: { tryRetry: () => opts.budget !== false } };
  const pool = {
    config: { retries: { attempts: opts.attempts ?? 3, on: ['connect-failure', 'reset', 503] } },
    endpoints: eps,
    health,
    pick(key: string | undefined, tried: Uint8Array | null) {
      picks.push({ key, tried: [...(tried ?? [])] });
      if (opts.choosable === false) return null;
      const i = tried === null ? 0 : tried.findIndex((t) => t === 0);
      return i < 0 ? null : eps[i];
    },
  };
  return { pool: pool as unknown as PoolRuntime, eps, picks, health };
}

test('next: another endpoint, tried ones excluded, the key passed on, counted', () => {
  const { pool, eps, picks, health } = fakePool();
  const rs = new RetryState();
  rs.attempt = 1;
  assert.equal(rs.next(pool, eps[0], 'connect-failure', false, 'POST', 'k1'), eps[1]);
  rs.attempt = 2;
  assert.equal(rs.next(pool, eps[1], 503, true, 'GET', 'k1'), eps[2]);
  assert.deepEqual(picks, [{ key: 'k1', tried: [1, 0, 0] }, { key: 'k1', tried: [1, 1, 0] }]);
  assert.equal(health.retries, 2);
});

test('next refuses: attempts used up, kind not listed, a non-idempotent request already sent, a body not kept, nothing choosable, budget spent', () => {
  const cases: [string, () => Endpoint | null, number][] = [];
  {
    const { pool, eps } = fakePool({ attempts: 2 });
    const rs = new RetryState();
    rs.attempt = 2;
    cases.push(['attempts', () => rs.next(pool, eps[0], 'reset', false, 'GET', undefined), 0]);
  }
  {
    const { pool, eps } = fakePool();
    const rs = new RetryState();
    rs.attempt = 1;
    cases.push(['kind', () => rs.next(pool, eps[0], 'timeout', false, 'GET', undefined), 0]);
    cases.push(['POST sent', () => rs.next(pool, eps[0], 'reset', true, 'POST', undefined), 0]);
  }
  {
    const { pool, eps } = fakePool();
    const rs = new RetryState();
    rs.attempt = 1;
    rs.keep(Buffer.from('body'), 1024); // touched, replay never enabled
    cases.push(['body not kept', () => rs.next(pool, eps[0], 'reset', false, 'PUT', undefined), 0]);
  }
  {
    const { pool, eps } = fakePool({ choosable: false });
    const rs = new RetryState();
    rs.attempt = 1;
    cases.push(['nothing choosable', () => rs.next(pool, eps[0], 'reset', false, 'GET', undefined), 0]);
  }
  const spent = fakePool({ budget: false });
  const rs = new RetryState();
  rs.attempt = 1;
  cases.push(['budget', () => rs.next(spent.pool, spent.eps[0], 'reset', false, 'GET', undefined), 1]);
  for (const [what, call] of cases) assert.equal(call(), null, what);
  assert.equal(spent.health.retriesRefused, 1, 'a retry refused by the budget is counted');
  assert.equal(spent.health.retries, 0);
});

test('keep: the body is kept by reference until it outgrows the limit; reset starts afresh', () => {
  const { pool, eps } = fakePool();
  const rs = new RetryState();
  rs.replay = [];
  const a = Buffer.from('abcd');
  rs.keep(a, 6);
  assert.equal(rs.replay?.[0], a);
  assert.equal(rs.replayBytes, 4);
  rs.attempt = 1;
  assert.equal(rs.next(pool, eps[0], 'reset', true, 'PUT', undefined), eps[1], 'an idempotent request with its body kept is retried');
  rs.keep(Buffer.from('efg'), 6);
  assert.equal(rs.replay, null, '7 bytes > 6: no longer kept');
  assert.equal(rs.next(pool, eps[1], 'reset', false, 'PUT', undefined), null);
  rs.reset();
  assert.deepEqual([rs.attempt, rs.replay, rs.replayBytes, rs.bodyTouched, rs.retriedSame], [0, null, 0, false, false]);
});
