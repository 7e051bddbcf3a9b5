/**
 * The measurement that led the HTTP/1.1 path to hand hashing algorithms the key's bytes in the
 * request buffer (PickContext.keyBytes, offsets from the parser) instead of a string sliced out of
 * the decoded head: `consistent-hash` at N = 1000 both ways (the ring lookup here is findPoint,
 * without the pick's direct-owner table; bench/algorithms.ts times the real pick). Prints ns per pick at N = 1000 for both, and the CRC-32 alone for both (min of 3 × 1,000,000,
 * after 200,000 warm-up), over 4096 keys of 16–32 bytes laid out like header lines.
 *
 * Usage: node bench/hash-key-bytes.ts
 */
import { ConsistentHash } from '../src/balancing/consistent-hash.ts';
import { crc32Bytes, crc32Fast } from '../src/core/hash.ts';
import { layOutKeys } from './keys.ts';
import type { PickContext } from '../src/balancing/types.ts';

const N = 1000;
const endpoints = Array.from({ length: N }, (_, i) => ({ index: i, address: `10.0.${i >> 8}.${i & 255}:80`, weight: 1 }));
const ch = new ConsistentHash(endpoints);
const ring = (ch as unknown as { ring: Uint32Array }).ring;

// Keys as the bench of algorithms builds them (bench/algorithms.ts), one per "header line".
let seed = 7;
const rand = (): number => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_';
const parts: string[] = [];
for (let i = 0; i < 4096; i++) {
  const len = 16 + Math.floor(rand() * 17);
  let s = i.toString(36) + '/';
  while (s.length < len) s += alphabet[Math.floor(rand() * alphabet.length)];
  parts.push(s);
}
const { buf, starts, ends, sliced } = layOutKeys(parts);
const crcBytes = crc32Bytes;
for (let i = 0; i < 4096; i++) {
  if (crcBytes(buf, starts[i], ends[i]) !== crc32Fast(sliced[i])) throw new Error(`CRC mismatch for key ${i}`);
}

const ctx: PickContext = { key: undefined, excluded: null };
for (let i = 0; i < 4096; i++) {
  ctx.key = sliced[i];
  if (ring[2 * ch.findPoint(crcBytes(buf, starts[i], ends[i])) + 1] !== ch.pick(ctx)) throw new Error(`pick mismatch for key ${i}`);
}
function time(name: string, f: (i: number) => number): void {
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink ^= f(i & 4095);
  let best = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < 1_000_000; i++) sink ^= f(i & 4095);
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e6);
  }
  process.stdout.write(`${name.padEnd(44)} ${best.toFixed(1)} ns${sink === 0.5 ? ' ' : ''}\n`);
}

process.stdout.write(`consistent-hash, N = ${N}, node ${process.version}\n`);
time('pick(ctx) with a sliced key string', (i) => {
  ctx.key = sliced[i];
  return ch.pick(ctx);
});
time('CRC of the key bytes + ring lookup', (i) => ring[2 * ch.findPoint(crcBytes(buf, starts[i], ends[i])) + 1]);
time('CRC-32 of the sliced string alone', (i) => crc32Fast(sliced[i]));
time('CRC-32 of the bytes alone', (i) => crcBytes(buf, starts[i], ends[i]));
