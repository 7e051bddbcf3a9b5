/**
 * The key in bytes (PickContext.keyBytes, the HTTP/1.1 data path) and the key as a latin1 string
 * (HTTP/2, L4, the admin API) must hash alike and pick alike — else a key would land on different
 * endpoints depending on the protocol it arrived over, and explain would show a different endpoint
 * from the one the request got.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32, crc32Bytes, crc32Fast, murmur3, murmur3Bytes } from '../core/hash.ts';
import { keyCrc32, keyMurmur3 } from './key-hash.ts';
import { getAlgorithm } from './index.ts';
import { LoadCounters } from './load.ts';
import { Weights } from './types.ts';
import type { EndpointInfo, PickContext } from './types.ts';

const bytes = fc.uint8Array({ maxLength: 70 });

test('crc32Bytes and murmur3Bytes equal the string hashes over the same bytes, at any offset', () => {
  // Known values: CRC-32 of "123456789" is 0xcbf43926; MurmurHash3_x86_32("", 0) = 0.
  assert.equal(crc32Bytes(Buffer.from('xx123456789y'), 2, 11), 0xcbf43926);
  assert.equal(murmur3Bytes(Buffer.alloc(4), 2, 2), 0);
  fc.assert(
    fc.property(bytes, fc.nat({ max: 7 }), fc.nat({ max: 7 }), (b, pre, post) => {
      const buf = Buffer.concat([Buffer.alloc(pre, 0x41), b, Buffer.alloc(post, 0x42)]);
      const s = Buffer.from(b).toString('latin1');
      assert.equal(crc32Bytes(buf, pre, pre + b.length), crc32(s));
      assert.equal(crc32Bytes(buf, pre, pre + b.length), crc32Fast(s));
      assert.equal(murmur3Bytes(buf, pre, pre + b.length), murmur3(s));
    }),
    { numRuns: 2000 },
  );
});

test('keyCrc32/keyMurmur3: bytes take precedence over the string; an empty or missing key is −1', () => {
  const buf = Buffer.from('GET /?k=abc HTTP/1.1');
  const ctx: PickContext = { key: 'zzz', keyBytes: buf, keyStart: 8, keyEnd: 11, excluded: null };
  assert.equal(keyCrc32(ctx), crc32('abc'));
  assert.equal(keyMurmur3(ctx), murmur3('abc'));
  ctx.keyEnd = 8;
  assert.equal(keyCrc32(ctx), -1);
  assert.equal(keyMurmur3(ctx), -1);
  ctx.keyBytes = null;
  assert.equal(keyCrc32(ctx), crc32('zzz'));
  ctx.key = '';
  assert.equal(keyCrc32(ctx), -1);
  assert.equal(keyMurmur3({ key: undefined, excluded: null }), -1);
  // A key whose hash has the top bit set is still a key (never confused with −1).
  let k = 0;
  while (crc32(`k${k}`) < 2 ** 31) k++;
  assert.ok(keyCrc32({ key: `k${k}`, excluded: null }) >= 2 ** 31);
});

const HASHING = ['consistent-hash', 'maglev', 'ip-hash', 'rendezvous'];

test('every hashing algorithm picks the same endpoint from the key bytes as from the key string, exclusions included', () => {
  for (const name of HASHING) {
    const f = getAlgorithm(name)!;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.tuple(fc.uint8Array({ maxLength: 40 }), fc.array(fc.boolean(), { minLength: 12, maxLength: 12 })), { minLength: 1, maxLength: 20 }),
        (n, picks) => {
          const eps: EndpointInfo[] = Array.from({ length: n }, (_, i) => ({ index: i, address: `10.0.0.${i}:80`, weight: (i % 3) + 1 }));
          const env = () => ({ load: new LoadCounters(n), now: () => 0, random: () => 0.5, weights: new Weights(eps.map((e) => e.weight)) });
          const opts = name === 'maglev' ? { tableSize: 251 } : undefined;
          const a = f.create(eps, env(), opts);
          const b = f.create(eps, env(), opts);
          for (const [key, mask] of picks) {
            const excluded = Uint8Array.from(mask.slice(0, n), (x) => (x ? 1 : 0));
            const buf = Buffer.concat([Buffer.from('X-Key: '), key, Buffer.from('\r\n')]);
            const viaString = a.pick({ key: Buffer.from(key).toString('latin1'), excluded });
            const viaBytes = b.pick({ key: undefined, keyBytes: buf, keyStart: 7, keyEnd: 7 + key.length, excluded });
            assert.equal(viaBytes, viaString, `${name}: key ${Buffer.from(key).toString('hex')}`);
          }
        },
      ),
      { numRuns: 150 },
    );
  }
});
