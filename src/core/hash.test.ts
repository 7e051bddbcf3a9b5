/**
 * Hashing primitives: fixed vectors (MurmurHash3 x86_32 reference values, the CRC-32 check value)
 * and sanity checks of the key hash's spread (avalanche, buckets).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { crc32, crc32Fast, murmur3 } from './hash.ts';

test('murmur3 equals the reference MurmurHash3_x86_32 vectors', () => {
  assert.equal(murmur3(''), 0);
  assert.equal(murmur3('', 1), 0x514e28b7);
  assert.equal(murmur3('foo'), 0xf6a5c420);
  assert.equal(murmur3('hello'), 0x248bfa47);
  assert.equal(murmur3('Hello, world!', 1234), 0xfaf6cdb3);
  assert.equal(murmur3('The quick brown fox jumps over the lazy dog'), 0x2e4ff723);
});

test('murmur3 hashes the latin1 bytes: a code unit counts by its low byte, every tail length alike', () => {
  assert.equal(murmur3('caf\u00e9'), murmur3(Buffer.from('caf\u00e9', 'latin1').toString('latin1')));
  assert.equal(murmur3('a\u0162c'), murmur3('a\u0062c'));
  const seen = new Set<number>();
  for (let len = 0; len <= 40; len++) seen.add(murmur3('x'.repeat(len)));
  assert.equal(seen.size, 41);
});

test('murmur3 avalanche: flipping one input bit flips each output bit with probability ≈ 1/2', () => {
  const KEYS = 2000;
  const flips = new Float64Array(32);
  let trials = 0;
  for (let k = 0; k < KEYS; k++) {
    const bytes = Buffer.from(`key-${k}/${(k * 2654435761) >>> 0}`, 'latin1');
    const h0 = murmur3(bytes.toString('latin1'));
    for (let bit = 0; bit < bytes.length * 8; bit += 3) {
      const b = Buffer.from(bytes);
      b[bit >> 3] ^= 1 << (bit & 7);
      const d = (h0 ^ murmur3(b.toString('latin1'))) >>> 0;
      for (let o = 0; o < 32; o++) flips[o] += (d >>> o) & 1;
      trials++;
    }
  }
  for (let o = 0; o < 32; o++) {
    const p = flips[o] / trials;
    assert.ok(Math.abs(p - 0.5) < 0.02, `output bit ${o} flips with p = ${p.toFixed(3)}`);
  }
});

test('murmur3 spreads sequential keys evenly over 64 buckets (chi-square) and over mod-N tables', () => {
  const n = 64_000;
  const buckets = new Float64Array(64);
  for (let i = 0; i < n; i++) buckets[murmur3(`10.0.${i >> 8}.${i & 255}:${i}`) >>> 26]++;
  const e = n / 64;
  let chi = 0;
  for (const c of buckets) chi += ((c - e) * (c - e)) / e;
  assert.ok(chi < 110, `chi-square ${chi.toFixed(1)} over 63 degrees of freedom`); // p ≈ 0.0002
  const counts = new Float64Array(7);
  for (let i = 0; i < 70_000; i++) counts[murmur3(`user-${i}`) % 7]++;
  for (const c of counts) assert.ok(Math.abs(c / 10_000 - 1) < 0.04, `mod 7 share ${c}`);
});

test('crc32 and crc32Fast equal zlib.crc32 and the CRC-32 check value', () => {
  assert.equal(crc32('123456789'), 0xcbf43926);
  assert.equal(crc32Fast('123456789'), 0xcbf43926);
  for (let len = 0; len <= 70; len++) {
    let s = '';
    for (let j = 0; j < len; j++) s += String.fromCharCode((j * 97 + len * 13) & 0xff);
    const want = zlib.crc32(Buffer.from(s, 'latin1'));
    assert.equal(crc32(s), want, `crc32 length ${len}`);
    assert.equal(crc32Fast(s), want, `crc32Fast length ${len}`);
  }
});
