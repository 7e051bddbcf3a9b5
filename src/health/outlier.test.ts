import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OutlierDetector } from './outlier.ts';
import type { OutlierDetectionConfig } from '../config/schema.ts';

const CFG: OutlierDetectionConfig = {
  enabled: true,
  consecutive5xx: 5,
  consecutiveGatewayFailure: 5,
  interval: 10_000,
  baseEjectionTime: 30_000,
  maxEjectionTime: 300_000,
  maxEjectionPercent: 10,
};

const addrs = (n: number) => Array.from({ length: n }, (_, i) => `127.0.0.1:${9001 + i}`);

/** Records `k` outcomes on `slot` at `now`; returns the non-null events. */
function fail(d: OutlierDetector, slot: number, k: number, now: number, outcome: 'error' | 'gateway' = 'gateway', detail?: string) {
  const out = [];
  for (let i = 0; i < k; i++) {
    const e = d.record(slot, outcome, now, detail);
    if (e !== null) out.push(e);
  }
  return out;
}

test('5 consecutive gateway failures eject, with the reason', () => {
  const d = new OutlierDetector(addrs(3), CFG);
  assert.deepEqual(fail(d, 1, 4, 0, 'gateway', 'connect refused'), []);
  assert.equal(d.ejected[1], 0);
  assert.deepEqual(d.record(1, 'gateway', 0, 'connect refused'), {
    slot: 1, kind: 'ejected', reason: '5 consecutive gateway failures (connect refused): ejected for 30 s (ejection 1)',
  });
  assert.equal(d.ejected[1], 1);
  assert.equal(d.ejectedCount, 1);
  assert.equal(d.ejectedUntil[1], 30_000);
  assert.equal(d.consecutiveGateway[1], 0, 'counters reset on ejection');
  assert.equal(d.consecutive5xx[1], 0);
});

test('a success in between resets the run', () => {
  const d = new OutlierDetector(addrs(3), CFG);
  fail(d, 0, 4, 0);
  assert.equal(d.record(0, 'success', 0), null);
  assert.deepEqual(fail(d, 0, 4, 0), []);
  assert.equal(d.ejected[0], 0);
  assert.equal(d.record(0, 'gateway', 0)?.kind, 'ejected');
});

test("'error' counts toward consecutive 5xx only; a plain 5xx breaks the gateway run", () => {
  const d = new OutlierDetector(addrs(3), { ...CFG, consecutive5xx: 7 });
  fail(d, 2, 4, 0, 'gateway');
  assert.deepEqual(fail(d, 2, 1, 0, 'error'), []);
  assert.equal(d.consecutiveGateway[2], 0);
  assert.equal(d.consecutive5xx[2], 5);
  assert.deepEqual(fail(d, 2, 1, 0, 'error'), []);
  assert.deepEqual(d.record(2, 'error', 0, '500'), {
    slot: 2, kind: 'ejected', reason: '7 consecutive 5xx (500): ejected for 30 s (ejection 1)',
  });
  // Errors alone never reach the gateway threshold.
  const e = new OutlierDetector(addrs(3), { ...CFG, consecutive5xx: 100 });
  assert.deepEqual(fail(e, 0, 50, 0, 'error'), []);
  assert.equal(e.consecutiveGateway[0], 0);
});

test('ejection returns via tick after its time; the second ejection lasts twice as long', () => {
  const d = new OutlierDetector(addrs(3), CFG);
  fail(d, 0, 5, 1_000);
  assert.deepEqual(d.tick(30_999), []);
  assert.equal(d.ejected[0], 1);
  assert.deepEqual(d.tick(31_000), [{ slot: 0, kind: 'returned', reason: 'ejection time over: back in service' }]);
  assert.equal(d.ejected[0], 0);
  assert.equal(d.ejectedCount, 0);
  assert.deepEqual(d.tick(31_000), [], 'returned once');
  const [ev] = fail(d, 0, 5, 32_000);
  assert.equal(ev.reason, '5 consecutive gateway failures: ejected for 60 s (ejection 2)');
  assert.equal(d.ejectedUntil[0], 92_000);
});

test('outcomes recorded while ejected are ignored', () => {
  const d = new OutlierDetector(addrs(3), CFG);
  fail(d, 0, 5, 0);
  assert.deepEqual(fail(d, 0, 20, 1), []);
  assert.equal(d.consecutiveGateway[0], 0);
  d.tick(30_000);
  assert.deepEqual(fail(d, 0, 4, 30_001), [], 'a fresh run after the return');
});

test('ejection time is capped at maxEjectionTime', () => {
  const d = new OutlierDetector(addrs(1), { ...CFG, maxEjectionTime: 70_000 });
  let now = 0;
  const times: number[] = [];
  for (let k = 0; k < 4; k++) {
    fail(d, 0, 5, now);
    times.push(d.ejectedUntil[0] - now);
    now = d.ejectedUntil[0];
    d.tick(now);
  }
  assert.deepEqual(times, [30_000, 60_000, 70_000, 70_000]);
  assert.equal(d.ejectionCount[0], 4);
});

test('the ejection count decays by one per interval in service, never while ejected', () => {
  const d = new OutlierDetector(addrs(1), CFG);
  fail(d, 0, 5, 0);
  d.tick(30_000);
  fail(d, 0, 5, 30_000); // ejection 2: 60 s
  assert.equal(d.ejectionCount[0], 2);
  d.tick(60_000);
  assert.equal(d.ejectionCount[0], 2, 'no decay while ejected');
  d.tick(90_000); // back
  assert.equal(d.ejectionCount[0], 2);
  d.tick(99_999);
  assert.equal(d.ejectionCount[0], 2);
  d.tick(100_000);
  assert.equal(d.ejectionCount[0], 1);
  d.tick(135_000); // 3.5 intervals after the return: at most down to 0
  assert.equal(d.ejectionCount[0], 0);
  const [ev] = fail(d, 0, 5, 140_000);
  assert.match(ev.reason, /ejected for 30 s \(ejection 1\)$/);
});

test('decay: one quiet interval after the return makes the next ejection shorter', () => {
  const d = new OutlierDetector(addrs(1), CFG);
  fail(d, 0, 5, 0);
  d.tick(30_000);
  d.tick(40_000);
  assert.equal(d.ejectionCount[0], 0);
  const [ev] = fail(d, 0, 5, 40_000);
  assert.match(ev.reason, /ejected for 30 s \(ejection 1\)$/);
});

test('maxEjectionPercent 10 with 3 servers: exactly one ejection; the next is skipped once per run', () => {
  const d = new OutlierDetector(addrs(3), CFG);
  assert.equal(fail(d, 0, 5, 0)[0].kind, 'ejected');
  assert.deepEqual(fail(d, 1, 5, 0, 'gateway', '503'), [{
    slot: 1, kind: 'ejection-skipped',
    reason: '5 consecutive gateway failures (503) but 1 of 3 servers already ejected (maxEjectionPercent 10)',
  }]);
  assert.deepEqual(fail(d, 1, 10, 0), [], 'reported once per run');
  assert.equal(d.ejected[1], 0);
  assert.equal(d.ejectedCount, 1);
  d.record(1, 'success', 0);
  assert.equal(fail(d, 1, 5, 0)[0].kind, 'ejection-skipped', 'a new run reports again');
  // Once room frees up, the still-failing server is ejected on its next failure.
  d.tick(30_000);
  assert.equal(d.record(1, 'gateway', 30_000)?.kind, 'ejected');
});

test('maxEjectionPercent 10 with 20 servers: two ejections, the third is skipped', () => {
  const d = new OutlierDetector(addrs(20), CFG);
  assert.equal(fail(d, 0, 5, 0)[0].kind, 'ejected');
  assert.equal(fail(d, 1, 5, 0)[0].kind, 'ejected');
  assert.equal(fail(d, 2, 5, 0)[0].kind, 'ejection-skipped');
  assert.equal(d.ejectedCount, 2);
});

test('maxEjectionPercent 0 still lets one server be ejected (Envoy)', () => {
  const d = new OutlierDetector(addrs(5), { ...CFG, maxEjectionPercent: 0 });
  assert.equal(fail(d, 3, 5, 0)[0].kind, 'ejected');
  assert.equal(fail(d, 4, 5, 0)[0].kind, 'ejection-skipped');
});

test('disabled: never ejects', () => {
  const d = new OutlierDetector(addrs(3), { ...CFG, enabled: false });
  assert.deepEqual(fail(d, 0, 100, 0), []);
  assert.deepEqual(fail(d, 0, 100, 0, 'error'), []);
  assert.equal(d.ejected[0], 0);
  assert.equal(d.ejectedCount, 0);
});

test('carryOver keeps ejections, counts and runs by address', () => {
  const a = new OutlierDetector(['x:1', 'y:1', 'z:1'], CFG);
  fail(a, 1, 5, 0); // y ejected until 30 s
  fail(a, 2, 3, 0); // z: 3 failures in its run
  const b = new OutlierDetector(['z:1', 'w:1', 'y:1'], CFG);
  b.carryOver(a, ['x:1', 'y:1', 'z:1']);
  assert.deepEqual([...b.ejected], [0, 0, 1]);
  assert.equal(b.ejectedCount, 1);
  assert.equal(b.ejectedUntil[2], 30_000);
  assert.equal(b.ejectionCount[2], 1);
  assert.equal(b.consecutiveGateway[0], 3);
  assert.equal(fail(b, 0, 2, 1)[0].kind, 'ejection-skipped', 'z continues its run; y holds the one ejection of 3');
  assert.deepEqual(b.tick(30_000), [{ slot: 2, kind: 'returned', reason: 'ejection time over: back in service' }]);
  // Disabled after the reload: nothing carried, everyone in service.
  const c = new OutlierDetector(['y:1'], { ...CFG, enabled: false });
  c.carryOver(a, a.addresses);
  assert.equal(c.ejected[0], 0);
  assert.equal(c.ejectedCount, 0);
});
