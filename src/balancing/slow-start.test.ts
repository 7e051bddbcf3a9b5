import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getAlgorithm } from './index.ts';
import { LoadCounters } from './load.ts';
import { SlowStart, SLOW_START_MIN_WEIGHT } from './slow-start.ts';
import { Weights } from './types.ts';

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

test('slow start: weight at 0, 25 %, 50 %, 100 % of the window (floor 1 %), then stays configured', () => {
  const w = new Weights([10, 4]);
  const s = new SlowStart(w, [10, 4], 30_000);
  const t0 = 5_000;
  s.markJoined(0, t0);
  close(w.values[0], 0.1, 'at join (floor = 1 % of 10)');
  assert.equal(w.values[1], 4, 'endpoints present at startup are not ramped');
  s.tick(t0);
  close(w.values[0], 0.1, '0 %');
  s.tick(t0 + 100); // 10 × 100/30000 = 0.033 < floor
  close(w.values[0], 0.1, 'below floor');
  s.tick(t0 + 7_500);
  close(w.values[0], 2.5, '25 %');
  s.tick(t0 + 15_000);
  close(w.values[0], 5, '50 %');
  assert.equal(s.isRamping(0), true);
  s.tick(t0 + 30_000);
  assert.equal(w.values[0], 10, '100 %');
  assert.equal(s.isRamping(0), false);
  const v = w.version;
  s.tick(t0 + 60_000);
  assert.equal(w.values[0], 10);
  assert.equal(w.version, v, 'no writes once the ramp is over');
});

test('slow start: never 0 while ramping; weight 0 stays 0; window 0 means no ramp; rejoin restarts', () => {
  const w = new Weights([0.05, 0, 3]);
  const s = new SlowStart(w, [0.05, 0, 3], 1000);
  s.markJoined(0, 0);
  assert.equal(w.values[0], SLOW_START_MIN_WEIGHT, 'tiny epsilon floor, not 0');
  s.markJoined(1, 0);
  assert.equal(w.values[1], 0);
  assert.equal(s.isRamping(1), false);
  s.tick(500);
  close(w.values[0], 0.025, 'half of 0.05');
  s.markJoined(0, 600); // recovered again: back to the floor
  assert.equal(w.values[0], SLOW_START_MIN_WEIGHT);
  s.tick(1100);
  close(w.values[0], 0.025, 'half way of the new ramp');
  const n = new SlowStart(w, [0.05, 0, 3], 0);
  w.set(2, 1);
  n.markJoined(2, 0);
  assert.equal(w.values[2], 3, 'window 0: configured weight at once');
});

test('slow start: a ramping endpoint\'s SWRR share grows with its weight over simulated picks', () => {
  const configured = [3, 3, 3, 3];
  const w = new Weights(configured);
  const b = getAlgorithm('weighted-round-robin')!.create(
    configured.map((weight, index) => ({ index, address: `10.0.0.${index}:80`, weight })),
    { load: new LoadCounters(4), now: () => 0, random: () => 0, weights: w },
  );
  const s = new SlowStart(w, configured, 10_000);
  s.markJoined(3, 0);
  const ctx = { key: undefined, excluded: null };
  const shares: number[] = [];
  // 10 s window, a tick every 100 ms, 1000 picks per 100 ms (10 k rps); share of d per second
  for (let second = 0; second < 12; second++) {
    let d = 0;
    for (let t = 0; t < 10; t++) {
      s.tick(second * 1000 + t * 100);
      for (let p = 0; p < 1000; p++) if (b.pick(ctx) === 3) d++;
    }
    shares.push(d / 10_000);
  }
  // expected share at time t: f/(3 + f) with f = ramp fraction; averaged over each second
  const expect = (sec: number) => {
    let sum = 0;
    for (let t = 0; t < 10; t++) {
      const f = Math.max(Math.min((sec * 1000 + t * 100) / 10_000, 1), 0.01);
      sum += f / (3 + f);
    }
    return sum / 10;
  };
  for (let sec = 0; sec < 12; sec++) {
    assert.ok(Math.abs(shares[sec] - expect(sec)) < 0.003, `second ${sec}: share ${shares[sec]} expected ${expect(sec)}`);
  }
  for (let sec = 1; sec < 10; sec++) assert.ok(shares[sec] > shares[sec - 1], `grows at ${sec}`);
  assert.ok(shares[0] < 0.02 && shares[11] === 0.25, `start ${shares[0]}, end ${shares[11]}`);
});
