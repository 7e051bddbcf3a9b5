import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RetryBudget, backoffDelay } from './retry-budget.ts';
import { mulberry32 } from '../core/prng.ts';

/** Asks for retries at `now` until one is refused (bounded); returns how many were allowed. */
function drain(b: RetryBudget, now: number, limit = 10_000): number {
  let k = 0;
  while (k < limit && b.tryRetry(now)) k++;
  return k;
}

test('ratio 0.2, minPerSecond 3, 10 s: 1000 requests in 1 s permit exactly 200 + 30 retries', () => {
  const b = new RetryBudget({ ratio: 0.2, minPerSecond: 3 });
  for (let i = 0; i < 1000; i++) b.onRequest(i);
  assert.equal(b.requestsInWindow(999), 1000);
  assert.equal(drain(b, 999), 230);
  assert.equal(b.retries, 230);
  assert.equal(b.refused, 1);
  assert.equal(b.tryRetry(999), false, 'the next is refused too');
  assert.equal(b.refused, 2);
  assert.equal(b.retriesInWindow(999), 230);
});

test('minPerSecond alone permits 30 retries in a window with no requests', () => {
  const b = new RetryBudget({ ratio: 0.2, minPerSecond: 3 });
  assert.equal(drain(b, 5_000), 30);
  const none = new RetryBudget({ ratio: 0.5, minPerSecond: 0 });
  assert.equal(none.tryRetry(0), false, 'no requests, no floor: no retry');
  none.onRequest(0);
  none.onRequest(0);
  assert.equal(drain(none, 0), 1);
});

test('the window slides: after windowMs old requests and retries stop counting', () => {
  const b = new RetryBudget({ ratio: 0.2, minPerSecond: 3 }, 10_000);
  for (let i = 0; i < 1000; i++) b.onRequest(0);
  assert.equal(drain(b, 0), 230);
  assert.equal(b.requestsInWindow(9_999), 1000, 'still inside the window');
  assert.equal(b.tryRetry(9_999), false);
  assert.equal(b.requestsInWindow(10_000), 0, 'gone after windowMs');
  assert.equal(b.retriesInWindow(10_000), 0);
  assert.equal(drain(b, 10_000), 30, 'only the floor is left');
});

test('buckets expire one by one', () => {
  const b = new RetryBudget({ ratio: 1, minPerSecond: 0 }, 10_000);
  b.onRequest(0); // bucket [0, 1 s)
  b.onRequest(5_000); // bucket [5 s, 6 s)
  assert.equal(b.requestsInWindow(9_000), 2);
  assert.equal(b.requestsInWindow(10_500), 1);
  assert.equal(b.requestsInWindow(15_000), 0);
  assert.equal(b.requestsInWindow(1_000_000), 0, 'a long gap empties everything');
  b.onRequest(1_000_000);
  assert.equal(b.requestsInWindow(1_000_000), 1);
  assert.equal(b.requestsInWindow(999_000), 1, 'time going back does not drop or double count');
});

test('retries spread over the window: the budget refills as old retries leave it', () => {
  const b = new RetryBudget({ ratio: 0, minPerSecond: 1 }, 10_000); // 10 per window
  assert.equal(drain(b, 0), 10);
  assert.equal(b.tryRetry(9_999), false);
  assert.equal(drain(b, 10_000), 10);
});

test('backoff: full jitter within [0, min(max, base × 2^(retry−1))) over many seeded draws', () => {
  const random = mulberry32(42);
  for (const [retry, cap] of [[1, 25], [2, 50], [3, 100], [4, 200], [5, 250], [12, 250], [2000, 250]] as const) {
    let lo = Infinity;
    let hi = -Infinity;
    let sum = 0;
    const n = 5000;
    for (let i = 0; i < n; i++) {
      const d = backoffDelay(retry, 25, 250, random);
      assert.ok(d >= 0 && d < cap, `retry ${retry}: ${d} outside [0, ${cap})`);
      lo = Math.min(lo, d);
      hi = Math.max(hi, d);
      sum += d;
    }
    // Uniform over [0, cap): the draws reach both ends and average near cap / 2.
    assert.ok(lo < cap * 0.01, `retry ${retry}: smallest ${lo}`);
    assert.ok(hi > cap * 0.99, `retry ${retry}: largest ${hi}`);
    assert.ok(Math.abs(sum / n - cap / 2) < cap * 0.03, `retry ${retry}: mean ${sum / n}`);
  }
  assert.equal(backoffDelay(3, 25, 250, () => 0.5), 50);
  assert.equal(backoffDelay(1, 0, 250, () => 0.9), 0);
  assert.equal(backoffDelay(5000, 0, 250, () => 0.9), 0, 'no 0 × ∞');
});
