import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GrayFailureDetector, medianWithout } from './gray.ts';
import type { GrayFailureConfig } from '../config/schema.ts';

const CFG: GrayFailureConfig = {
  enabled: true,
  factor: 3,
  window: 10_000,
  stepInterval: 1_000,
  step: 0.5,
  minWeight: 0.05,
  minLatency: 10,
};

const ADDRS = ['127.0.0.1:9001', '127.0.0.1:9002', '127.0.0.1:9003', '127.0.0.1:9004'];
const SLOW = [10, 10, 10, 200];

test('one slow server of four: nothing before the window, 50% exactly at it, then one step per stepInterval down to minWeight', () => {
  const g = new GrayFailureDetector(ADDRS, CFG);
  for (let t = 0; t < 10_000; t += 500) assert.deepEqual(g.evaluate(t, SLOW, null), [], `t=${t}`);
  assert.deepEqual([...g.factor], [1, 1, 1, 1]);
  assert.deepEqual(g.evaluate(10_000, SLOW, null), [{
    slot: 3, from: 1, to: 0.5,
    reason: '127.0.0.1:9004 latency 200 ms vs pool median 10 ms for 10 s: weight 100% → 50%',
  }]);
  assert.deepEqual(g.evaluate(10_500, SLOW, null), [], 'not before stepInterval');
  const [e2] = g.evaluate(11_000, SLOW, null);
  assert.equal(e2.to, 0.25);
  assert.equal(e2.reason, '127.0.0.1:9004 latency 200 ms vs pool median 10 ms for 11 s: weight 50% → 25%');
  const seen = [g.factor[3]];
  for (let t = 12_000; t <= 20_000; t += 1_000) {
    g.evaluate(t, SLOW, null);
    seen.push(g.factor[3]);
  }
  assert.deepEqual(seen, [0.25, 0.125, 0.0625, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05]);
  assert.deepEqual([...g.factor.subarray(0, 3)], [1, 1, 1], 'the fast ones are untouched');
});

test('recovers step by step once fast for the window', () => {
  const g = new GrayFailureDetector(ADDRS, CFG);
  for (let t = 0; t <= 11_000; t += 1_000) g.evaluate(t, SLOW, null);
  assert.equal(g.factor[3], 0.25);
  const fast = [10, 10, 10, 14];
  for (let t = 12_000; t < 22_000; t += 1_000) assert.deepEqual(g.evaluate(t, fast, null), [], `t=${t}`);
  assert.deepEqual(g.evaluate(22_000, fast, null), [{
    slot: 3, from: 0.25, to: 0.5,
    reason: '127.0.0.1:9004 latency 14 ms vs pool median 10 ms for 10 s: weight 25% → 50%',
  }]);
  assert.deepEqual(g.evaluate(22_999, fast, null), []);
  const [e] = g.evaluate(23_000, fast, null);
  assert.equal(e.reason, '127.0.0.1:9004 latency 14 ms vs pool median 10 ms for 11 s: weight 50% → 100%');
  assert.deepEqual(g.evaluate(24_000, fast, null), [], 'at full weight: no more steps');
  assert.equal(g.factor[3], 1);
});

test('a slow sample in between restarts the window', () => {
  const g = new GrayFailureDetector(ADDRS, CFG);
  g.evaluate(0, SLOW, null);
  g.evaluate(5_000, [10, 10, 10, 12], null);
  assert.deepEqual(g.evaluate(10_000, SLOW, null), []);
  assert.deepEqual(g.evaluate(19_999, SLOW, null), []);
  assert.equal(g.evaluate(20_000, SLOW, null).length, 1);
});

test('a late evaluate takes one step and keeps the step grid', () => {
  const g = new GrayFailureDetector(ADDRS, CFG);
  g.evaluate(0, SLOW, null);
  assert.equal(g.evaluate(13_500, SLOW, null)[0].to, 0.5);
  assert.deepEqual(g.evaluate(13_900, SLOW, null), [], 'missed steps are not bunched up');
  assert.equal(g.evaluate(14_000, SLOW, null)[0].to, 0.25);
});

test('a 2-server pool compares each with the other', () => {
  const g = new GrayFailureDetector(['a:1', 'b:1'], CFG);
  g.evaluate(0, [40, 130], null);
  const ev = g.evaluate(10_000, [40, 130], null);
  assert.deepEqual(ev.map((e) => [e.slot, e.to]), [[1, 0.5]]);
  assert.equal(ev[0].reason, 'b:1 latency 130 ms vs pool median 40 ms for 10 s: weight 100% → 50%');
  // Below factor × the other: not slow.
  const h = new GrayFailureDetector(['a:1', 'b:1'], CFG);
  h.evaluate(0, [40, 119], null);
  assert.deepEqual(h.evaluate(10_000, [40, 119], null), []);
  // A single server (or a single one with data) has nobody to compare with.
  const s = new GrayFailureDetector(['a:1', 'b:1'], CFG);
  s.evaluate(0, [0, 500], null);
  assert.deepEqual(s.evaluate(10_000, [0, 500], null), []);
});

test('below minLatency never slow; decimals below 10 ms in the reason', () => {
  const g = new GrayFailureDetector(ADDRS, CFG);
  const lat = [1, 1, 1, 9.9];
  g.evaluate(0, lat, null);
  assert.deepEqual(g.evaluate(60_000, lat, null), []);
  const h = new GrayFailureDetector(ADDRS, { ...CFG, minLatency: 1 });
  h.evaluate(0, [1.2, 1.2, 1.24, 9.46], null);
  assert.equal(h.evaluate(10_000, [1.2, 1.2, 1.24, 9.46], null)[0].reason,
    '127.0.0.1:9004 latency 9.5 ms vs pool median 1.2 ms for 10 s: weight 100% → 50%');
});

test('a non-participating (ejected) slot is not a reference and keeps its factor; its timers reset', () => {
  // Slot 0 is ejected with a very low average. Counted, it would be the median for both others
  // (lower middle of [2, x]) and make both slow; left out, slot 1 (20 ms) is compared with
  // slot 2 (60 ms) and slot 2 with slot 1, so only slot 2 is slow.
  const lat = [2, 20, 60];
  const part = [0, 1, 1];
  const addrs = ADDRS.slice(0, 3);
  const counted = new GrayFailureDetector(addrs, CFG);
  counted.evaluate(0, lat, null);
  assert.deepEqual(counted.evaluate(10_000, lat, null).map((e) => e.slot), [1, 2]);
  const g = new GrayFailureDetector(addrs, CFG);
  g.evaluate(0, lat, part);
  const ev = g.evaluate(10_000, lat, part);
  assert.deepEqual(ev.map((e) => [e.slot, e.to]), [[2, 0.5]]);
  assert.equal(ev[0].reason, '127.0.0.1:9003 latency 60 ms vs pool median 20 ms for 10 s: weight 100% → 50%');
  assert.equal(g.factor[0], 1, 'the ejected slot is never judged');
  // Slot 2 leaves service: factor kept, timers reset.
  g.evaluate(11_000, lat, [1, 1, 0]);
  assert.equal(g.factor[2], 0.5);
  g.evaluate(12_000, lat, part);
  assert.deepEqual(g.evaluate(21_999, lat, part), [], 'a new window after it comes back');
  assert.equal(g.evaluate(22_000, lat, part)[0].to, 0.25);
});

test('disabled: never steps', () => {
  const g = new GrayFailureDetector(ADDRS, { ...CFG, enabled: false });
  for (let t = 0; t <= 60_000; t += 1_000) assert.deepEqual(g.evaluate(t, SLOW, null), []);
  assert.deepEqual([...g.factor], [1, 1, 1, 1]);
});

test('carryOver keeps factors and timers by address, clamped to the new minWeight', () => {
  const a = new GrayFailureDetector(ADDRS, CFG);
  for (let t = 0; t <= 13_000; t += 1_000) a.evaluate(t, SLOW, null);
  assert.equal(a.factor[3], 0.0625);
  const b = new GrayFailureDetector(['127.0.0.1:9004', '127.0.0.1:9001', '127.0.0.1:9009'], { ...CFG, minWeight: 0.1 });
  b.carryOver(a, ADDRS);
  assert.deepEqual([...b.factor], [0.1, 1, 1]);
  // The slow run continues: next step due at 14 s, but 0.1 is already the floor → stays.
  assert.deepEqual(b.evaluate(14_000, [200, 10, 10], null), []);
  // Timers carry too: a run in progress steps on its own schedule, not after a new window.
  const d = new GrayFailureDetector(ADDRS, CFG);
  d.carryOver(a, ADDRS);
  assert.equal(d.evaluate(14_000, SLOW, null)[0].reason,
    '127.0.0.1:9004 latency 200 ms vs pool median 10 ms for 14 s: weight 6% → 5%');
  const c = new GrayFailureDetector(ADDRS, { ...CFG, enabled: false });
  c.carryOver(a, ADDRS);
  assert.equal(c.factor[3], 1, 'disabled after the reload: weights restored');
});

test('medianWithout: lower middle of the others', () => {
  assert.equal(medianWithout([10, 20], 10), 20);
  assert.equal(medianWithout([10, 20], 20), 10);
  assert.equal(medianWithout([1, 2, 3, 4], 4), 2);
  assert.equal(medianWithout([1, 2, 3, 4], 1), 3);
  assert.equal(medianWithout([1, 2, 3, 4, 5], 3), 2, 'others 1 2 4 5 → lower middle 2');
  assert.equal(medianWithout([5, 5, 5, 9], 5), 5);
});

test('property: medianWithout equals the brute-force lower median of the others', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 2, maxLength: 12 }), fc.nat(), (xs, k) => {
    const sorted = [...xs].sort((x, y) => x - y);
    const i = k % xs.length;
    const others = xs.filter((_, j) => j !== i).sort((x, y) => x - y);
    assert.equal(medianWithout(sorted, xs[i]), others[(others.length - 1) >> 1]);
  }));
});

test('property: factor stays within [minWeight, 1] and moves by at most one step per evaluate', () => {
  const n = 4;
  const cfgArb = fc.record({
    step: fc.double({ min: 0.1, max: 0.9, noNaN: true }),
    minWeight: fc.double({ min: 0.01, max: 1, noNaN: true }),
    window: fc.integer({ min: 0, max: 5_000 }),
    stepInterval: fc.integer({ min: 0, max: 2_000 }),
  });
  const tickArb = fc.record({
    dt: fc.integer({ min: 0, max: 3_000 }),
    lat: fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0.5, max: 2_000, noNaN: true })), { minLength: n, maxLength: n }),
    part: fc.option(fc.array(fc.integer({ min: 0, max: 1 }), { minLength: n, maxLength: n })),
  });
  fc.assert(fc.property(cfgArb, fc.array(tickArb, { maxLength: 60 }), (c, ticks) => {
    const cfg = { ...CFG, ...c };
    const g = new GrayFailureDetector(ADDRS, cfg);
    let now = 0;
    for (const t of ticks) {
      now += t.dt;
      const before = [...g.factor];
      const events = g.evaluate(now, t.lat, t.part);
      const stepped = new Set(events.map((e) => e.slot));
      assert.equal(stepped.size, events.length, 'at most one event per slot');
      for (let i = 0; i < n; i++) {
        const f = g.factor[i];
        assert.ok(f >= cfg.minWeight && f <= 1, `factor ${f} out of [${cfg.minWeight}, 1]`);
        const allowed = [before[i], Math.max(cfg.minWeight, before[i] * cfg.step), Math.min(1, before[i] / cfg.step)];
        assert.ok(allowed.includes(f), `slot ${i}: ${before[i]} → ${f} is not one step`);
        assert.equal(f !== before[i], stepped.has(i), 'a change comes with its event');
        if (t.part !== null && t.part[i] === 0) assert.equal(f, before[i], 'non-participating slot unchanged');
      }
    }
  }), { numRuns: 300 });
});
