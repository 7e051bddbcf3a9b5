/**
 * `rendezvous` memo costs at N = 1000 (weights 1, 2, 3 in turn, as bench/algorithms.ts): ns per
 * pick with the memo warm, for a key given as a sliced string and as bytes in the request buffer
 * (PickContext.keyBytes); the cold cost of one bucket (a bucket's first keyed pick after a build or a
 * weight change: the O(N) scan, key hash included); and the memo reset after a weight change
 * (copy N weights + fill the 2^18-entry memo). Keys: 4096 of 16–32 bytes laid out like header
 * lines, each in its own bucket. Min of several runs (machines are shared and noisy).
 *
 * Usage: node bench/rendezvous-memo.ts
 */
import { layOutKeys } from './keys.ts';
import { BUCKETS, Rendezvous } from '../src/balancing/rendezvous.ts';
import { LoadCounters } from '../src/balancing/load.ts';
import { Weights } from '../src/balancing/types.ts';
import type { BalancerEnv, PickContext } from '../src/balancing/types.ts';
import { crc32Fast } from '../src/core/hash.ts';
import { mulberry32 as prng } from '../src/core/prng.ts';

const N = 1000;
const RUNS = 7;
const endpoints = Array.from({ length: N }, (_, i) => ({ index: i, address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:8080`, weight: (i % 3) + 1 }));
const envOf = (): BalancerEnv => ({ load: new LoadCounters(N), now: () => 0, random: () => 0.5, weights: new Weights(endpoints.map((e) => e.weight)) });

// 4096 keys in distinct buckets, in one buffer as header lines, and as strings sliced from its latin1 decoding.
const r = prng(7);
const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_';
const parts: string[] = [];
const seen = new Set<number>();
for (let i = 0; parts.length < 4096; i++) {
  const len = 16 + Math.floor(r() * 17);
  let s = i.toString(36) + '/';
  while (s.length < len) s += alphabet[Math.floor(r() * alphabet.length)];
  const b = crc32Fast(s) >>> (32 - Math.log2(BUCKETS));
  if (seen.has(b)) continue;
  seen.add(b);
  parts.push(s);
}
const { buf, starts, ends, sliced: keys } = layOutKeys(parts);

let sink = 0;
function warmString(b: Rendezvous, count: number): number {
  const ctx: PickContext = { key: undefined, excluded: null };
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    ctx.key = keys[i & 4095];
    sink += b.pick(ctx);
  }
  return Number(process.hrtime.bigint() - t0) / count;
}
function warmBytes(b: Rendezvous, count: number): number {
  const ctx: PickContext = { key: undefined, keyBytes: buf, keyStart: 0, keyEnd: 0, excluded: null };
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    ctx.keyStart = starts[i & 4095];
    ctx.keyEnd = ends[i & 4095];
    sink += b.pick(ctx);
  }
  return Number(process.hrtime.bigint() - t0) / count;
}
/** Every key once on a fresh balancer: 4096 cold buckets. */
function cold(): number {
  const b = new Rendezvous(endpoints, envOf());
  const ctx: PickContext = { key: undefined, excluded: null };
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 4096; i++) {
    ctx.key = keys[i];
    sink += b.pick(ctx);
  }
  return Number(process.hrtime.bigint() - t0) / 4096;
}
/** A weight change then one warm-key pick: memo reset + one cold bucket. */
function resetPlusCold(b: Rendezvous, env: BalancerEnv, count: number): number {
  const ctx: PickContext = { key: keys[0], excluded: null };
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    env.weights.set(0, 1 + (i & 1));
    sink += b.pick(ctx);
  }
  return Number(process.hrtime.bigint() - t0) / count;
}

const min = (f: () => number): number => {
  let best = Infinity;
  for (let i = 0; i < RUNS; i++) best = Math.min(best, f());
  return best;
};
for (let i = 0; i < 20; i++) cold(); // JIT warm-up of the scan
const coldNs = min(cold);
const b = new Rendezvous(endpoints, envOf());
warmString(b, 200_000);
warmBytes(b, 200_000);
const strNs = min(() => warmString(b, 1_000_000));
const bytesNs = min(() => warmBytes(b, 1_000_000));
const env = envOf();
const rb = new Rendezvous(endpoints, env);
resetPlusCold(rb, env, 200);
const resetNs = min(() => resetPlusCold(rb, env, 500));
const say = (s: string): void => { process.stdout.write(`${s}\n`); };
say(`rendezvous, N = ${N}, B = ${BUCKETS} buckets (memo ${(BUCKETS * 4) / 2 ** 20} MiB); node ${process.version}; min of ${RUNS} runs`);
say(`warm pick, key as sliced string : ${strNs.toFixed(1)} ns`);
say(`warm pick, key as buffer bytes  : ${bytesNs.toFixed(1)} ns`);
say(`cold bucket (first pick: key hash + O(N) scan): ${(coldNs / 1000).toFixed(2)} µs`);
say(`weight change: memo reset + one cold bucket   : ${(resetNs / 1000).toFixed(2)} µs (reset alone ≈ ${((resetNs - coldNs) / 1000).toFixed(2)} µs)`);
if (sink === 0.5) say('');
