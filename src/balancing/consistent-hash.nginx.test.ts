/**
 * nginx compatibility of `consistent-hash`: Fulcrum's choice equals nginx's `hash $arg_k consistent`
 * for every recorded key (test/fixtures/ketama/*.json, recorded by tools/record-ketama-vectors.ts
 * from nginx 1.22.1), and — when nginx is installed — for a fresh recording made by this test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ConsistentHash } from './consistent-hash.ts';
import type { EndpointInfo } from './types.ts';
import { findNginx, makeKeys, recordKetama } from '../../tools/record-ketama-vectors.ts';
import type { KetamaFixture } from '../../tools/record-ketama-vectors.ts';

const FIXTURES = path.join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'ketama');

/** Fulcrum's choice (as an address) for every vector, `down` servers passed as excluded. */
function mismatches(f: KetamaFixture): string[] {
  const eps: EndpointInfo[] = f.servers.map((s, index) => ({ index, address: s.address, weight: s.weight }));
  const ring = new ConsistentHash(eps);
  const excluded = Uint8Array.from(f.servers, (s) => (s.down ? 1 : 0));
  const ctx = { key: '' as string | undefined, excluded };
  const bad: string[] = [];
  for (const [key, want] of f.vectors) {
    ctx.key = key;
    const got = ring.pick(ctx);
    const addr = got < 0 ? '(none)' : eps[got].address;
    if (addr !== want) bad.push(`${f.list}: key ${JSON.stringify(key)}: nginx ${want}, Fulcrum ${addr}`);
  }
  return bad;
}

const files = fs.readdirSync(FIXTURES).filter((n) => n.endsWith('.json')).sort();

test('the recorded fixtures cover the five server lists with 1000 keys each', () => {
  assert.deepEqual(files, ['equal3.json', 'one_down.json', 'twelve.json', 'twelve_less_one.json', 'weighted125.json']);
});

for (const file of files) {
  const f = JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')) as KetamaFixture;
  test(`nginx vectors ${f.list} (${f.description}): every key maps to nginx's server`, () => {
    assert.equal(f.vectors.length, 1000);
    assert.deepEqual(mismatches(f), []);
    // The vectors are not degenerate: every server that is up received keys, no `down` one did.
    const seen = new Set(f.vectors.map((v) => v[1]));
    for (const s of f.servers) assert.equal(seen.has(s.address), !s.down, s.address);
  });
}

test('nginx vectors: removing a server from `twelve` moved only that server\'s keys', () => {
  const read = (n: string) => JSON.parse(fs.readFileSync(path.join(FIXTURES, n), 'utf8')) as KetamaFixture;
  const before = new Map(read('twelve.json').vectors);
  const after = read('twelve_less_one.json');
  const removed = read('twelve.json').servers.map((s) => s.address).find((a) => !after.servers.some((s) => s.address === a));
  let moved = 0;
  for (const [k, a] of after.vectors) {
    if (before.get(k) !== a) {
      moved++;
      assert.equal(before.get(k), removed, `key ${k} moved though its server stayed`);
    }
  }
  assert.equal(moved, [...before.values()].filter((a) => a === removed).length);
});

test('live: a fresh recording from the installed nginx matches Fulcrum for 200 keys over 4 servers', async (t) => {
  const bin = findNginx();
  if (bin === null) {
    if (process.env.FULCRUM_TEST_STRICT === '1') assert.fail('nginx is missing (Debian package nginx-light) and FULCRUM_TEST_STRICT=1');
    t.skip('nginx not installed (Debian package: nginx-light)');
    return;
  }
  const [f] = await recordKetama(bin, 4, [{
    name: 'live',
    description: '4 servers, weights 1, 3, 1, 2, the 3rd down',
    servers: [{ backend: 0, weight: 1 }, { backend: 1, weight: 3 }, { backend: 2, weight: 1, down: true }, { backend: 3, weight: 2 }],
  }], makeKeys(200), 0);
  assert.equal(f.vectors.length, 200);
  assert.deepEqual(mismatches(f), []);
});
