import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SniRouter } from './sni-router.ts';

test('exact names, wildcards at any depth but not the apex, case and trailing dot ignored', () => {
  const r = new SniRouter([
    { serverNames: ['a.example.com'], pool: 'A' },
    { serverNames: ['*.example.org', 'b.example.com'], pool: 'B' },
  ]);
  assert.equal(r.route('a.example.com'), 'A');
  assert.equal(r.route('A.Example.COM.'), 'A');
  assert.equal(r.route('b.example.com'), 'B');
  assert.equal(r.route('x.example.org'), 'B');
  assert.equal(r.route('x.y.example.org'), 'B');
  assert.equal(r.route('example.org'), null, 'the apex is not a sub-domain');
  assert.equal(r.route('c.example.com'), null);
  assert.equal(r.route(''), null);
  assert.equal(r.route('.example.org'), null);
});

test('routes are tried in order: an earlier wildcard beats a later exact name', () => {
  const r = new SniRouter([
    { serverNames: ['*.example.com'], pool: 'W' },
    { serverNames: ['a.example.com'], pool: 'E' },
    { serverNames: ['*.b.example.net'], pool: 'deep' },
    { serverNames: ['*.example.net'], pool: 'shallow' },
  ]);
  assert.equal(r.route('a.example.com'), 'W');
  assert.equal(r.route('x.b.example.net'), 'deep');
  assert.equal(r.route('x.c.example.net'), 'shallow');
  assert.equal(r.route('b.example.net'), 'shallow');
});
