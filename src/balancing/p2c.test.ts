import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getAlgorithm } from './index.ts';
import { PowerOfTwoChoices } from './p2c.ts';
import { LoadCounters } from './load.ts';
import { Weights } from './types.ts';
import type { BalancerEnv, EndpointInfo } from './types.ts';
import { mulberry32 } from '../core/prng.ts';


/** Returns the scripted values in turn (and fails the test if more are asked for). */
function scripted(values: number[]): () => number {
  let k = 0;
  return () => {
    assert.ok(k < values.length, 'more random numbers drawn than scripted');
    return values[k++];
  };
}

function setup(weights: readonly number[], random: () => number): { b: PowerOfTwoChoices; env: BalancerEnv } {
  const eps: EndpointInfo[] = weights.map((weight, index) => ({ index, address: `10.0.0.${index}:80`, weight }));
  const env: BalancerEnv = { load: new LoadCounters(weights.length), now: () => 0, random, weights: new Weights(weights) };
  return { b: new PowerOfTwoChoices(eps, env), env };
}

const none = { key: undefined, excluded: null };

test('p2c is registered, not weighted', () => {
  const f = getAlgorithm('p2c');
  assert.ok(f);
  assert.notEqual(f.weighted, true);
});

test('scripted draws: the less loaded of the two drawn wins; a tie goes to the first drawn', () => {
  // 4 endpoints: first = floor(r1 × 4), second = floor(r2 × 3) shifted past the first.
  const { b, env } = setup([1, 1, 1, 1], scripted([0.3, 0.9, 0.3, 0.9, 0.0, 0.0, 0.8, 0.5]));
  env.load.inFlight.set([5, 2, 0, 7]);
  assert.equal(b.pick(none), 1); // draws 1 (load 2) and floor(2.7) = 2 → 3 (load 7): 1
  env.load.inFlight.set([5, 7, 0, 2]);
  assert.equal(b.pick(none), 3); // draws 1 (load 7) and 3 (load 2): 3
  env.load.inFlight.set([4, 4, 4, 4]);
  assert.equal(b.pick(none), 0); // draws 0 and floor(0) = 0 → 1: tie → first drawn, 0
  assert.equal(b.pick(none), 3); // draws 3 and floor(1.5) = 1: tie → 3
});

test('two distinct endpoints are always compared (never the same one twice)', () => {
  const { b, env } = setup([1, 1], mulberry32(5));
  env.load.inFlight.set([3, 1]);
  for (let k = 0; k < 1000; k++) assert.equal(b.pick(none), 1);
});

test('distribution: equal loads → uniform within ±3% over 10^5 picks', () => {
  const n = 8;
  const { b } = setup(new Array(n).fill(1), mulberry32(11));
  const c = new Array<number>(n).fill(0);
  for (let k = 0; k < 100_000; k++) c[b.pick(none)]++;
  for (let i = 0; i < n; i++) assert.ok(Math.abs((c[i] * n) / 100_000 - 1) <= 0.03, `${i}: ${c[i]}`);
});

test('distribution: the most loaded of n is chosen never, the least loaded 2/n of the time (±3%)', () => {
  // Loads strictly ordered: endpoint i wins when it is drawn with a more loaded one.
  // P(rank r from the top, 0-based, among n) = 2 × r / (n × (n − 1)).
  const n = 5;
  const { b, env } = setup(new Array(n).fill(1), mulberry32(12));
  env.load.inFlight.set([10, 20, 30, 40, 50]);
  const c = new Array<number>(n).fill(0);
  for (let k = 0; k < 100_000; k++) c[b.pick(none)]++;
  assert.equal(c[4], 0);
  for (let i = 0; i < n; i++) {
    const expected = (100_000 * 2 * (n - 1 - i)) / (n * (n - 1));
    if (expected > 0) assert.ok(Math.abs(c[i] / expected - 1) <= 0.03, `${i}: ${c[i]} vs ${expected}`);
  }
});

test('excluded and weight-0 endpoints are never drawn; one choosable → it; none → -1', () => {
  const { b, env } = setup([1, 0, 1, 1, 1], mulberry32(13));
  env.load.inFlight.set([9, 0, 9, 9, 0]);
  const excluded = Uint8Array.of(0, 0, 0, 0, 1);
  const c = new Array<number>(5).fill(0);
  for (let k = 0; k < 30_000; k++) c[b.pick({ key: undefined, excluded })]++;
  assert.equal(c[1], 0);
  assert.equal(c[4], 0);
  // Three choosable with equal load: each ≈ 1/3 (ties to the first drawn keep it uniform).
  for (const i of [0, 2, 3]) assert.ok(Math.abs(c[i] / 10_000 - 1) <= 0.05, `${i}: ${c[i]}`);
  assert.equal(b.pick({ key: undefined, excluded: Uint8Array.of(1, 0, 1, 0, 1) }), 3);
  assert.equal(b.pick({ key: undefined, excluded: Uint8Array.of(1, 0, 1, 1, 1) }), -1);
  assert.equal(setup([1], scripted([])).b.pick(none), 0);
  assert.equal(setup([], scripted([])).b.pick(none), -1);
});
