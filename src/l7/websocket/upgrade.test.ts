/**
 * Unit tests of which Upgrade requests Fulcrum passes on and which 101 answers it accepts (RFC 9110
 * §7.8, §15.2.2), and of the Connection/Upgrade fields the head builders write for them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS, parseRequestHead, parseResponseHead } from '../http1/parser.ts';
import { buildClientHead, buildUpstreamHead, FRAME_NONE } from '../http1/rewrite.ts';
import { acceptedUpgrade, upgradeToForward, upgradeValue } from './upgrade.ts';

const WS = { enabled: true, otherUpgrades: [] as string[] };

function req(s: string) {
  const b = Buffer.from(s, 'latin1');
  const h = parseRequestHead(b, 0, b.length, DEFAULT_LIMITS);
  assert.ok(h !== null);
  return h;
}

function resp(s: string) {
  const b = Buffer.from(s, 'latin1');
  const h = parseResponseHead(b, 0, b.length, DEFAULT_LIMITS, 'GET');
  assert.ok(h !== null);
  return h;
}

const UP = 'GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n';

test('websocket is passed by default; case and version suffixes kept as sent', () => {
  assert.equal(upgradeToForward(req(UP + 'Upgrade: websocket\r\n\r\n'), WS), 'websocket');
  assert.equal(upgradeToForward(req(UP + 'Upgrade: WebSocket\r\n\r\n'), WS), 'WebSocket');
  assert.equal(upgradeToForward(req(UP + 'Upgrade: h2c, websocket/13\r\n\r\n'), WS), 'websocket/13');
});

test('other protocols only when listed; websocket off when disabled', () => {
  assert.equal(upgradeToForward(req(UP + 'Upgrade: h2c\r\n\r\n'), WS), null);
  assert.equal(upgradeToForward(req(UP + 'Upgrade: h2c, websocket\r\n\r\n'), { enabled: true, otherUpgrades: ['h2c'] }), 'h2c, websocket');
  assert.equal(upgradeToForward(req(UP + 'Upgrade: websocket\r\n\r\n'), { enabled: false, otherUpgrades: [] }), null);
  assert.equal(upgradeToForward(req(UP + 'Upgrade: websocket\r\nUpgrade: x-y\r\n\r\n'), { enabled: true, otherUpgrades: ['x-y'] }), 'websocket, x-y');
});

test('ignored for HTTP/1.0 and for requests with a body', () => {
  assert.equal(upgradeToForward(req('GET / HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'), WS), null);
  assert.equal(upgradeToForward(req(UP + 'Upgrade: websocket\r\nContent-Length: 3\r\n\r\n'), WS), null);
  assert.equal(upgradeToForward(req(UP + 'Upgrade: websocket\r\nTransfer-Encoding: chunked\r\n\r\n'), WS), null);
  assert.equal(upgradeToForward(req(UP + 'Upgrade: websocket\r\nContent-Length: 0\r\n\r\n'), WS), 'websocket');
});

test('a 101 must name exactly one protocol the request offered', () => {
  const ok = resp('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n\r\n');
  assert.equal(acceptedUpgrade(ok, 'websocket'), 'websocket');
  assert.equal(upgradeValue(ok), 'WebSocket');
  assert.equal(acceptedUpgrade(ok, 'h2c'), null);
  assert.equal(acceptedUpgrade(resp('HTTP/1.1 101 X\r\nConnection: Upgrade\r\n\r\n'), 'websocket'), null);
  assert.equal(acceptedUpgrade(resp('HTTP/1.1 101 X\r\nUpgrade: websocket, h2c\r\n\r\n'), 'websocket, h2c'), null);
  assert.equal(acceptedUpgrade(resp('HTTP/1.1 101 X\r\nUpgrade: h2c\r\n\r\n'), 'websocket, h2c'), 'h2c');
});

test('heads: Connection: upgrade + Upgrade towards the endpoint and in the 101; removed otherwise', () => {
  const h = req(UP + 'Upgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n');
  const input = {
    method: h.method, target: h.target, names: h.names, values: h.values, connectionTokens: h.connectionTokens,
    host: h.host, chunked: false, clientIp: '10.0.0.1', clientNode: '10.0.0.1', trusted: false, xForwarded: false,
    proto: 'http', clientMinor: 1, via: false, endpointAddress: 'e:1', upgrade: 'websocket' as string | null,
  };
  assert.equal(buildUpstreamHead(input), 'GET /ws HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: k\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n');
  input.upgrade = null;
  assert.equal(buildUpstreamHead(input), 'GET /ws HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: k\r\n\r\n');
  const r = resp('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: a\r\n\r\n');
  const head = buildClientHead({
    status: 101, reason: r.reason, names: r.names, values: r.values, connectionTokens: r.connectionTokens,
    framing: FRAME_NONE, keepAlive: true, clientMinor: 1, via: false, upstreamMinor: 1, upgrade: 'websocket',
  });
  assert.equal(head, 'HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n');
});
