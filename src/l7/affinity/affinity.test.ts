import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { setCookiePair, stripCookie } from './cookies.ts';
import { LearnTable } from './learn-table.ts';
import { stickyValue } from './sticky-cookie.ts';

test('stripCookie removes the named pairs and keeps the others byte for byte', () => {
  assert.equal(stripCookie('a=1; SRV=x; b=2', 'SRV'), 'a=1; b=2');
  assert.equal(stripCookie('SRV=x; a=1;b="q r"', 'SRV'), 'a=1;b="q r"');
  assert.equal(stripCookie('a=1;  b=2 ;SRV=x', 'SRV'), 'a=1;  b=2 ');
  assert.equal(stripCookie('SRV=x', 'SRV'), null);
  assert.equal(stripCookie(' SRV=x ; SRV=y', 'SRV'), null);
  assert.equal(stripCookie('a=1; b=2', 'SRV'), undefined);
  assert.equal(stripCookie('XSRV=1; SRVX=2', 'SRV'), undefined, 'names are compared whole');
});

test('property: stripCookie leaves every other pair exactly and no pair of that name', () => {
  const name = fc.stringMatching(/^[A-Za-z0-9_]{1,6}$/);
  const val = fc.stringMatching(/^[A-Za-z0-9%"=_ -]{0,8}$/).filter((v) => !v.includes(';'));
  fc.assert(fc.property(fc.array(fc.tuple(name, val), { minLength: 1, maxLength: 8 }), fc.constantFrom('; ', ';', ';  '), (pairs, sep) => {
    const target = pairs[0][0];
    const header = pairs.map(([n, v]) => `${n}=${v}`).join(sep);
    const out = stripCookie(header, target);
    const kept = pairs.filter(([n]) => n !== target).map(([n, v]) => `${n}=${v}`);
    if (kept.length === 0) assert.equal(out, null);
    else assert.equal(out, kept.join(sep).trimStart());
  }), { numRuns: 300 });
});

test('setCookiePair reads name, value and deletion', () => {
  assert.deepEqual(setCookiePair('JSESSIONID=abc; Path=/; HttpOnly'), { name: 'JSESSIONID', value: 'abc', deletes: false });
  assert.deepEqual(setCookiePair('JSESSIONID="q"'), { name: 'JSESSIONID', value: 'q', deletes: false });
  assert.equal(setCookiePair('JSESSIONID=abc; Max-Age=0')?.deletes, true);
  assert.equal(setCookiePair('JSESSIONID=; Path=/')?.deletes, true);
  assert.equal(setCookiePair('garbage'), null);
});

test('sticky values: stable, opaque, keyed', () => {
  const a = stickyValue('k'.repeat(16), 'p', '10.0.0.1:80');
  assert.equal(a.length, 16);
  assert.equal(a, stickyValue('k'.repeat(16), 'p', '10.0.0.1:80'));
  assert.notEqual(a, stickyValue('x'.repeat(16), 'p', '10.0.0.1:80'), 'another secret, another value');
  assert.notEqual(a, stickyValue('k'.repeat(16), 'q', '10.0.0.1:80'), 'another pool, another value');
  assert.doesNotMatch(a, /10|:80/);
});

test('LearnTable: idle expiry and LRU bound', () => {
  const t = new LearnTable(2, 1000);
  t.set('a', 'A', 0);
  t.set('b', 'B', 10);
  assert.equal(t.get('a', 500), 'A'); // a is now the most recent
  t.set('c', 'C', 600); // full: b (least recently used) goes
  assert.equal(t.get('b', 600), undefined);
  assert.equal(t.evicted, 1);
  assert.equal(t.get('a', 1499), 'A');
  assert.equal(t.get('c', 1600), undefined, 'idle for 1000 ms: expired');
  assert.equal(t.get('a', 2499), undefined);
  assert.equal(t.size, 0);
});

test('property: LearnTable never exceeds maxEntries and answers only live entries', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 300 })), { maxLength: 200 }), (max, ops) => {
    const t = new LearnTable(max, 500);
    const seen = new Map<string, number>();
    let now = 0;
    for (const [isSet, k, dt] of ops) {
      now += dt;
      const key = `s${k}`;
      if (isSet) {
        t.set(key, `addr-${k}`, now);
        seen.set(key, now);
      } else {
        const v = t.get(key, now);
        if (v !== undefined) {
          assert.equal(v, `addr-${k}`);
          assert.ok(now - (seen.get(key) as number) < 500, 'an answered entry was used within the ttl');
          seen.set(key, now);
        }
      }
      assert.ok(t.size <= max);
    }
  }), { numRuns: 200 });
});
