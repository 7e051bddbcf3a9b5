import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HealthState, times } from './state.ts';

test('default: unknown until the first pass; healthy at once on it', () => {
  const h = new HealthState();
  assert.equal(h.status, 'unknown');
  assert.equal(h.available, false);
  assert.deepEqual(h.record(true, 'GET /healthz → 200'), { from: 'unknown', to: 'healthy', reason: 'first check passed (GET /healthz → 200)' });
  assert.equal(h.available, true);
});

test('fall: three failures in a row take it down, with the reason', () => {
  const h = new HealthState({ rise: 2, fall: 3, initial: 'healthy' });
  assert.equal(h.record(false, 'GET /healthz → 503'), null);
  assert.equal(h.record(false, 'GET /healthz → 503'), null);
  assert.deepEqual(h.record(false, 'GET /healthz → 503'), { from: 'healthy', to: 'unhealthy', reason: 'GET /healthz → 503 three times' });
  assert.equal(h.available, false);
  assert.equal(h.record(false, 'GET /healthz → 503'), null, 'already down: no new transition');
});

test('a pass between failures resets the count; mixed failures are listed', () => {
  const h = new HealthState({ rise: 2, fall: 3, initial: 'healthy' });
  h.record(false, 'timeout after 1 s');
  h.record(false, 'timeout after 1 s');
  assert.equal(h.record(true, 'GET /healthz → 200'), null);
  h.record(false, 'connect refused');
  h.record(false, 'GET /healthz → 500');
  const t = h.record(false, 'connect refused');
  assert.deepEqual(t, { from: 'healthy', to: 'unhealthy', reason: 'connect refused; GET /healthz → 500; connect refused (3 failures in a row)' });
});

test('rise: two passes in a row bring it back; a failure in between restarts the count', () => {
  const h = new HealthState({ rise: 2, fall: 1, initial: 'unhealthy' });
  assert.equal(h.record(true, 'GET / → 200'), null);
  assert.equal(h.record(false, 'GET / → 502'), null);
  assert.equal(h.record(true, 'GET / → 200'), null);
  assert.deepEqual(h.record(true, 'GET / → 200'), { from: 'unhealthy', to: 'healthy', reason: 'GET / → 200: passed twice in a row' });
});

test('unknown endpoints go down after fall failures without ever being up', () => {
  const h = new HealthState({ rise: 2, fall: 2, initial: 'unknown' });
  assert.equal(h.record(false, 'connect refused'), null);
  assert.deepEqual(h.record(false, 'connect refused'), { from: 'unknown', to: 'unhealthy', reason: 'connect refused twice' });
});

test('times() words', () => {
  assert.deepEqual([1, 2, 3, 5, 12].map(times), ['once', 'twice', 'three times', 'five times', '12 times']);
});

test('property: available iff the last `fall` results were not all failures since the last rise passes (reference model)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.constantFrom('unknown', 'healthy', 'unhealthy'), fc.array(fc.boolean(), { maxLength: 60 }), (rise, fall, initial, results) => {
      const h = new HealthState({ rise, fall, initial: initial as 'unknown' });
      // Reference: walk the same rules by hand.
      let s = initial as string;
      let run = 0;
      let last: boolean | null = null;
      for (const r of results) {
        run = last === r ? run + 1 : 1;
        last = r;
        const t = h.record(r, r ? 'ok' : 'bad');
        const before = s;
        if (r && s === 'unknown') s = 'healthy';
        else if (r && s === 'unhealthy' && run >= rise) s = 'healthy';
        else if (!r && s !== 'unhealthy' && run >= fall) s = 'unhealthy';
        if (s !== before) run = 0;
        assert.equal(h.status, s);
        assert.equal(t === null, s === before);
      }
    }),
    { numRuns: 2000 },
  );
});
