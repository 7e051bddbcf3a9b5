import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileKey, type KeySource } from './keys.ts';

const src: KeySource = {
  sourceIp: '192.0.2.7',
  path: '/a/b%2Fc',
  uri: '/a/b%2Fc?k=v%20w&x',
  header: (n) => ({ 'x-user': 'alice' } as Record<string, string>)[n],
  cookie: (n) => (n === 'sid' ? 'S1' : undefined),
  queryParam: (n) => ({ k: 'v%20w', x: '' } as Record<string, string>)[n],
};

test('each key kind reads its raw value; a missing one is undefined', () => {
  assert.equal(compileKey('source-ip').extract(src), '192.0.2.7');
  assert.equal(compileKey('path').extract(src), '/a/b%2Fc');
  assert.equal(compileKey('uri').extract(src), '/a/b%2Fc?k=v%20w&x');
  assert.equal(compileKey('header:X-User').extract(src), 'alice');
  assert.equal(compileKey('header:x-other').extract(src), undefined);
  assert.equal(compileKey('cookie:sid').extract(src), 'S1');
  assert.equal(compileKey('cookie:SID').extract(src), undefined, 'cookie names are case-sensitive');
  assert.equal(compileKey('query:k').extract(src), 'v%20w', 'no percent-decoding');
  assert.equal(compileKey('query:x').extract(src), '');
  assert.equal(compileKey('query:y').extract(src), undefined);
  assert.equal(compileKey('source-ip').extract({ ...src, sourceIp: '' }), undefined);
  assert.equal(compileKey('five-tuple').extract(src), undefined, 'L7 has no five-tuple');
  assert.equal(compileKey('five-tuple').extract({ ...src, fiveTuple: 'udp 192.0.2.7 5353 198.51.100.1 53' }), 'udp 192.0.2.7 5353 198.51.100.1 53');
});

test('unknown specs are refused', () => {
  for (const bad of ['ip', 'header:', 'five', 'toString', 'constructor:x']) assert.throws(() => compileKey(bad), /unknown hash key/);
});
