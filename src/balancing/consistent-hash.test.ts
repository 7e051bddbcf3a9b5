import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { ConsistentHash, ketamaBase, ketamaPoints, POINTS_PER_WEIGHT } from './consistent-hash.ts';
import { getAlgorithm } from './index.ts';
import { LoadCounters } from './load.ts';
import { Weights } from './types.ts';
import type { CandidateFilter, EndpointInfo } from './types.ts';

const eps = (weights: readonly number[], addr = (i: number) => `10.0.${i >> 8}.${i & 255}:80`): EndpointInfo[] =>
  weights.map((weight, index) => ({ index, address: addr(index), weight }));
const ones = (n: number) => new Array<number>(n).fill(1);

// ---- An independent reference: node's zlib.crc32 over explicit bytes, plain arrays, linear scans.

function refPoints(address: string, count: number): number[] {
  const c = address.lastIndexOf(':');
  const hasPort = c >= 0 && /^[0-9]*$/.test(address.slice(c + 1)); // `host:` → port ""
  const [host, port] = address.toLowerCase().startsWith('unix:') ? [address.slice(5), '']
    : hasPort ? [address.slice(0, c), address.slice(c + 1)] : [address, ''];
  const base = Buffer.concat([Buffer.from(host, 'latin1'), Buffer.of(0), Buffer.from(port, 'latin1')]);
  const out: number[] = [];
  let prev = 0;
  for (let j = 0; j < count; j++) {
    const le = Buffer.alloc(4);
    le.writeUInt32LE(prev);
    prev = zlib.crc32(Buffer.concat([base, le]));
    out.push(prev);
  }
  return out;
}

/** nginx's lookup, written the slow way: first point ≥ crc32(key), wrapping, skipping excluded. */
function refPick(endpoints: readonly EndpointInfo[], key: string, excluded: ReadonlySet<number> = new Set()): number {
  const pts: { h: number; slot: number; seq: number }[] = [];
  for (const e of endpoints) for (const h of refPoints(e.address, e.weight * 160)) pts.push({ h, slot: e.index, seq: pts.length });
  pts.sort((a, b) => a.h - b.h || a.seq - b.seq);
  const ring = pts.filter((p, i) => i === 0 || pts[i - 1].h !== p.h);
  if (ring.length === 0) return -1;
  const kh = zlib.crc32(Buffer.from(key, 'latin1'));
  let i = ring.findIndex((p) => p.h >= kh);
  if (i < 0) i = 0;
  for (let step = 0; step < ring.length; step++) {
    const p = ring[(i + step) % ring.length];
    if (!excluded.has(p.slot)) return p.slot;
  }
  return -1;
}

test('the points of a server are CRC-32(HOST NUL PORT ‖ previous point, little endian), 160 per weight', () => {
  const out = new Uint32Array(320);
  ketamaPoints('127.0.0.1:8080', 320, out, 0);
  assert.deepEqual([...out], refPoints('127.0.0.1:8080', 320));
  // Pinned: the first point of 127.0.0.1:8080 (equal to zlib.crc32 of the bytes, checked above).
  assert.equal(out[0], zlib.crc32(Buffer.from('127.0.0.1\u00008080\u0000\u0000\u0000\u0000', 'latin1')));
  assert.equal(out[0], 0x6dca9547);
  assert.equal(POINTS_PER_WEIGHT, 160);
});

test('the address is split as nginx splits it: last colon before digits; unix:; no port', () => {
  const first = (a: string) => {
    const o = new Uint32Array(3);
    ketamaPoints(a, 3, o, 0);
    return [...o];
  };
  for (const a of ['[::1]:3000', 'unix:/run/app.sock', 'UNIX:/run/app.sock', 'backend.example', 'a:b', 'host:', '8080', 'h:1:2']) {
    assert.deepEqual(first(a), refPoints(a, 3), a);
  }
  // `backend.example` has no port: HOST NUL and nothing else; `8080` alone is a host too.
  assert.equal((ketamaBase('backend.example') ^ 0xffffffff) >>> 0, zlib.crc32(Buffer.from('backend.example\u0000')));
  assert.equal((ketamaBase('8080') ^ 0xffffffff) >>> 0, zlib.crc32(Buffer.from('8080\u0000')));
});

test('the ring: 160 × Σweight sorted distinct points; weight 0 contributes none', () => {
  const r = new ConsistentHash(eps([1, 0, 3]));
  assert.equal(r.points.length, 4 * 160);
  for (let i = 1; i < r.points.length; i++) assert.ok(r.points[i - 1] < r.points[i]);
  const per = [0, 0, 0];
  for (const o of r.owners) per[o]++;
  assert.deepEqual(per, [160, 0, 480]);
});

test('picks equal the slow reference for random lists, weights and keys (fast-check)', () => {
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 6 }),
    fc.array(fc.string({ maxLength: 24 }), { minLength: 1, maxLength: 20 }),
    fc.nat(),
    (weights, keys, exSeed) => {
      const e = eps(weights, (i) => `192.168.${i}.7:${8000 + i}`);
      const r = new ConsistentHash(e);
      const excluded = new Uint8Array(weights.length);
      const exSet = new Set<number>();
      if (exSeed % 3 === 0) { excluded[exSeed % weights.length] = 1; exSet.add(exSeed % weights.length); }
      for (const k of keys) {
        if (k === '') continue;
        assert.equal(r.pick({ key: k, excluded }), refPick(e, k, exSet), `key ${JSON.stringify(k)}`);
      }
    },
  ), { numRuns: 60, seed: 7 });
});

test('the pick\'s direct-owner table agrees with the ring lookup on large rings (N = 300, 1000; 20k keys each)', () => {
  for (const n of [300, 1000]) {
    const e = eps(Array.from({ length: n }, (_, i) => (i % 3) + 1), (i) => `10.1.${i >> 8}.${i & 255}:80`);
    const r = new ConsistentHash(e);
    let differ = 0;
    const seen = new Set<number>();
    for (let k = 0; k < 20_000; k++) {
      const key = `key-${k}-${(k * 2654435761) >>> 0}`;
      const got = r.pick({ key, excluded: null });
      if (got !== r.locate(key).owner) differ++;
      seen.add(got);
    }
    assert.equal(differ, 0, `N=${n}: ${differ} keys differ from the ring lookup`);
    assert.ok(seen.size > n * 0.9, `N=${n}: keys reached ${seen.size} servers`);
  }
});

test('exact picks on a pinned three-server ring, and walking past an excluded server', () => {
  const e = eps([1, 1, 1], (i) => `127.0.0.1:${8001 + i}`);
  const r = new ConsistentHash(e);
  const keys = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta'];
  const got = keys.map((key) => r.pick({ key, excluded: null }));
  assert.deepEqual(got, keys.map((k) => refPick(e, k)));
  assert.deepEqual(got, [2, 1, 0, 1, 2, 1, 2, 2]); // pinned; equal to the zlib reference above
  // Excluding a key's server: the next point clockwise that belongs to another server.
  for (const key of keys) {
    const first = r.pick({ key, excluded: null });
    const excluded = new Uint8Array(3);
    excluded[first] = 1;
    const second = r.pick({ key, excluded });
    assert.notEqual(second, first);
    assert.equal(second, refPick(e, key, new Set([first])));
    let i = r.findPoint(zlib.crc32(Buffer.from(key)));
    for (let s = 0; s < r.points.length && r.owners[i] === first; s++) i = (i + 1) % r.points.length;
    assert.equal(second, r.owners[i]);
  }
});

test('nothing choosable → -1: empty pool, all weight 0, all excluded, filter refusing all', () => {
  assert.equal(new ConsistentHash([]).pick({ key: 'k', excluded: null }), -1);
  assert.equal(new ConsistentHash(eps([0, 0])).pick({ key: 'k', excluded: null }), -1);
  assert.equal(new ConsistentHash(eps([0, 0])).pick({ key: undefined, excluded: null }), -1);
  const r = new ConsistentHash(eps(ones(50)));
  assert.equal(r.pick({ key: 'k', excluded: new Uint8Array(50).fill(1) }), -1);
  let calls = 0;
  const never: CandidateFilter = { accept: () => { calls++; return false; } };
  assert.equal(r.pickFiltered({ key: 'k', excluded: null }, never), -1);
  // The walk gives up after 65 points + one pass over the 50 members instead of all 8000 points.
  assert.equal(calls, 65 + 50);
});

test('a filter refusing the natural choice walks on, as excluding it does', () => {
  const r = new ConsistentHash(eps(ones(8)));
  for (let k = 0; k < 200; k++) {
    const key = `session-${k}`;
    const first = r.pick({ key, excluded: null });
    const ex = new Uint8Array(8);
    ex[first] = 1;
    const viaFilter = r.pickFiltered({ key, excluded: null }, { accept: (i) => i !== first });
    assert.equal(viaFilter, r.pick({ key, excluded: ex }));
    assert.notEqual(viaFilter, first);
  }
});

test('missing or empty key: a stride over the points — exactly weight × 160 picks per cycle, never excluded', () => {
  const r = new ConsistentHash(eps([1, 2, 0, 5]));
  const n = r.points.length;
  assert.equal(n, 8 * 160);
  const count = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) count[r.pick({ key: i % 2 === 0 ? undefined : '', excluded: null })]++;
  assert.deepEqual(count, [160, 320, 0, 800]);
  const excluded = Uint8Array.of(0, 0, 0, 1);
  const c2 = [0, 0, 0, 0];
  for (let i = 0; i < 3000; i++) c2[r.pick({ key: undefined, excluded })]++;
  assert.equal(c2[3], 0);
  assert.equal(c2[2], 0);
  assert.ok(c2[1] > 1.5 * c2[0], `${c2}`);
});

test('deterministic across fresh instances and independent of list order', () => {
  const e = eps(ones(20));
  const a = new ConsistentHash(e);
  const b = new ConsistentHash(e);
  const shuffled = [...e].reverse().map((x, index) => ({ ...x, index }));
  const c = new ConsistentHash(shuffled);
  for (let k = 0; k < 5000; k++) {
    const key = `k-${k}`;
    const ia = a.pick({ key, excluded: null });
    assert.equal(b.pick({ key, excluded: null }), ia);
    assert.equal(shuffled[c.pick({ key, excluded: null })].address, e[ia].address);
  }
});

test('removing one of N endpoints moves exactly the keys it owned, no other key (fast-check)', () => {
  const keys = Array.from({ length: 2000 }, (_, i) => `obj-${i}`);
  fc.assert(fc.property(fc.integer({ min: 2, max: 30 }), fc.nat(), (n, r0) => {
    const removed = r0 % n;
    const all = eps(ones(n));
    const rest = all.filter((_, i) => i !== removed).map((x, index) => ({ ...x, index }));
    const before = new ConsistentHash(all);
    const after = new ConsistentHash(rest);
    for (const key of keys) {
      const b = all[before.pick({ key, excluded: null })].address;
      const a = rest[after.pick({ key, excluded: null })].address;
      if (b !== all[removed].address) assert.equal(a, b, `key ${key} moved off a surviving server`);
    }
  }), { numRuns: 25, seed: 11 });
});

test('remap fraction at 160 points per weight: mean 1/N, every single removal ≤ 1.2/N (N = 10, 50; 20k keys)', () => {
  const keys = Array.from({ length: 20000 }, (_, i) => `user-${i}-${(i * 2654435761) >>> 0}`);
  // Measured (this test's keys and addresses): N=10 max 1.119/N, N=50 max 1.170/N.
  for (const n of [10, 50]) {
    const all = eps(ones(n));
    const full = new ConsistentHash(all);
    const base = keys.map((key) => full.pick({ key, excluded: null }));
    let sum = 0;
    for (let r = 0; r < n; r++) {
      // Removing r moves exactly the keys r owned (other keys stay: previous test), so count those.
      const moved = base.filter((s) => s === r).length / keys.length;
      assert.ok(moved <= 1.2 / n, `N=${n}: removing ${r} moves ${moved}`);
      sum += moved;
    }
    assert.ok(Math.abs(sum / n - 1 / n) < 1e-12);
  }
});

test('weights set ring shares: 1/2/5 → 0.132/0.248/0.620 of 10^5 keys (±0.01 of w/W = .125/.25/.625)', () => {
  const r = new ConsistentHash(eps([1, 2, 5]));
  const c = [0, 0, 0];
  for (let k = 0; k < 100000; k++) c[r.pick({ key: `k${k}`, excluded: null })]++;
  const share = c.map((x) => x / 100000);
  [0.125, 0.25, 0.625].forEach((w, i) => assert.ok(Math.abs(share[i] - w) <= 0.01, `${share}`));
});

test('registered as `consistent-hash`: hashing, not weighted; create() builds the ring', () => {
  const f = getAlgorithm('consistent-hash');
  assert.ok(f);
  assert.equal(f.hashing, true);
  assert.notEqual(f.weighted, true);
  const w = [1, 1, 1];
  const b = f.create(eps(w), { load: new LoadCounters(3), now: () => 0, random: () => 0.5, weights: new Weights(w) });
  assert.ok(b instanceof ConsistentHash);
  assert.equal(b.pick({ key: 'alpha', excluded: null }), new ConsistentHash(eps(w)).pick({ key: 'alpha', excluded: null }));
});
