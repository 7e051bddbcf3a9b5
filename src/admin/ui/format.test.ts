// Unit tests of the dashboard's pure helpers (src/admin/ui/format.js): formats, state words, ring
// geometry, the incremental SSE parser and the wording of API errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SSEParser, apiError, arcPath, count, eventLine, ms, ownerShares, pct, polar, rate, runs, stateOf, color, PALETTE, HASHING, ALGORITHMS } from './format.js';

test('number formats', () => {
  assert.equal(pct(0.3333), '33.3%');
  assert.equal(pct(0), '0.0%');
  assert.equal(pct(null), '–');
  assert.equal(pct(0.5, 0), '50%');
  assert.equal(count(12345.4), '12,345');
  assert.equal(count(undefined), '–');
  assert.equal(rate(0.456), '0.46/s');
  assert.equal(rate(12.34), '12.3/s');
  assert.equal(rate(1234.4), '1,234/s');
  assert.equal(ms(0.892), '0.89 ms');
  assert.equal(ms(150.4), '150 ms');
  assert.equal(ms(2300), '2.3 s');
  assert.equal(ms(null), '–');
});

test('state words follow the API order and name the soft-drain factor', () => {
  assert.deepEqual(stateOf({ state: 'draining', health: 'healthy' }), { label: 'draining', cls: 'muted' });
  assert.deepEqual(stateOf({ state: 'ejected' }), { label: 'ejected', cls: 'bad' });
  assert.deepEqual(stateOf({ state: 'down', health: 'unhealthy' }), { label: 'down', cls: 'bad' });
  assert.deepEqual(stateOf({ state: 'soft-drained', weightFactor: 0.25 }), { label: 'soft-drained (25% share)', cls: 'warn' });
  assert.deepEqual(stateOf({ state: 'up', health: 'healthy' }), { label: 'up (healthy)', cls: 'ok' });
  assert.deepEqual(stateOf({ state: 'up', health: 'unchecked' }), { label: 'up', cls: 'ok' });
});

test('runs and owner shares of a key space', () => {
  assert.deepEqual(runs([0, 0, 1, 1, 1, 0, 2, 2]), [
    { owner: 0, start: 0, end: 0.25 }, { owner: 1, start: 0.25, end: 0.625 }, { owner: 0, start: 0.625, end: 0.75 }, { owner: 2, start: 0.75, end: 1 },
  ]);
  assert.deepEqual(runs([]), []);
  assert.deepEqual(ownerShares([0, 0, 1, -1], 3), [0.5, 0.25, 0]);
  const shares = ownerShares([0, 1, 2, 2, 1, 0, 0, 0], 3);
  assert.equal(shares.reduce((a, b) => a + b, 0), 1);
});

test('ring geometry: points on the circle, sector paths', () => {
  assert.deepEqual(polar(120, 120, 100, 0), [120, 20]);
  assert.deepEqual(polar(120, 120, 100, 0.25), [220, 120]);
  assert.deepEqual(polar(120, 120, 100, 0.5), [120, 220]);
  const quarter = arcPath(120, 120, 50, 100, 0, 0.25);
  assert.equal(quarter, 'M120 20 A100 100 0 0 1 220 120 L170 120 A50 50 0 0 0 120 70 Z');
  assert.match(arcPath(120, 120, 50, 100, 0, 0.75), / 0 1 1 /, 'large-arc flag over half a turn');
  assert.equal((arcPath(120, 120, 50, 100, 0, 1).match(/M/g) ?? []).length, 2, 'a full turn is two sectors');
});

test('SSE parser: events split across chunks, comments, CRLF, multi-line data, ids', () => {
  const p = new SSEParser();
  assert.deepEqual(p.feed('retry: 2000\n\n: heartbeat\n\nevent: snap'), []);
  assert.deepEqual(p.feed('shot\ndata: {"a":1}\n'), []);
  assert.deepEqual(p.feed('\nid: 7\r\nevent: events\r\ndata: x\r\ndata: y\r\n\r\n'), [
    { event: 'snapshot', data: '{"a":1}', id: null },
    { event: 'events', data: 'x\ny', id: '7' },
  ]);
  assert.deepEqual(p.feed('data:no-space\n\n'), [{ event: 'message', data: 'no-space', id: '7' }]);
});

test('API errors read as sentences with the problems by path', () => {
  assert.match(apiError(401, { error: 'missing bearer token' }), /^Not authorised \(401\): missing bearer token\. Enter the admin token/);
  assert.equal(apiError(422, { error: 'invalid change', problems: [{ path: 'pools[0].servers[1].weight', message: 'expected an integer ≥ 0, got -1' }] }),
    'Refused (422): pools[0].servers[1].weight: expected an integer ≥ 0, got -1.');
  assert.match(apiError(403, null), /^Writes are off \(403\)/);
  assert.match(apiError(500, { error: 'internal error' }), /^Error 500: internal error\.$/);
});

test('timeline line, palette, algorithm lists', () => {
  assert.equal(eventLine({ kind: 'admin', pool: 'demo', server: null, to: 'generation 2', reason: 'drain demo/a: ok', actor: 'token:abc' }),
    'admin demo → generation 2: drain demo/a: ok (by token:abc)');
  assert.equal(eventLine({ kind: 'health', pool: 'demo', server: '127.0.0.1:1', to: 'down', reason: 'connect refused' }), 'health demo / 127.0.0.1:1 → down: connect refused');
  assert.equal(color(PALETTE.length), PALETTE[0]);
  assert.equal(color(-1), PALETTE[PALETTE.length - 1]);
  for (const h of HASHING) assert.ok(ALGORITHMS.includes(h));
});
