// Header mapping for HTTP/2 requests (headers.ts): the router's view, forwarding fields from trusted
// and untrusted peers, connection-specific fields dropped, te: trailers kept for HTTP/2 upstreams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientHeaders, errorHeaders, fieldLists, H2RequestView, requestFields, responseFields, upstreamHeaders, type ForwardInput } from './headers.ts';

const req = {
  ':method': 'POST', ':path': '/api/x?k=v&z=1', ':scheme': 'http', ':authority': 'Example.COM:8443',
  'content-type': 'application/grpc', te: 'trailers', connection: 'keep-alive', 'x-forwarded-for': '1.2.3.4',
  forwarded: 'for=1.2.3.4', via: '1.1 edge', cookie: 'a=1; b=2', 'x-user': 'u1',
};

const fwd = (o: Partial<ForwardInput> = {}): ForwardInput => ({
  clientIp: '10.0.0.9', clientNode: '10.0.0.9', trusted: false, xForwarded: true, via: false, proto: 'http', ...o,
});

test('the router view reads pseudo-header fields', () => {
  const v = new H2RequestView(req, '10.0.0.9');
  assert.equal(v.method, 'POST');
  assert.equal(v.host, 'example.com');
  assert.equal(v.path, '/api/x');
  assert.equal(v.query, 'k=v&z=1');
  assert.equal(v.queryParam('z'), '1');
  assert.equal(v.header('x-user'), 'u1');
  assert.equal(v.header('host'), 'Example.COM:8443');
  assert.equal(v.cookie('b'), '2');
  assert.equal(v.uri, '/api/x?k=v&z=1');
  assert.equal(new H2RequestView({ ':method': 'GET', ':path': '/', host: '[::1]:80' }, '').host, '[::1]');
});

test('HTTP/1.1 upstream: Host from :authority, hop-by-hop and te dropped, untrusted forwarding replaced', () => {
  const h = upstreamHeaders(new H2RequestView(req, '10.0.0.9'), fwd(), false, '127.0.0.1:1');
  assert.equal(h.host, 'Example.COM:8443');
  assert.equal(h[':path'], undefined);
  assert.equal(h.te, undefined);
  assert.equal(h.connection, undefined);
  assert.equal(h['x-forwarded-for'], '10.0.0.9');
  assert.equal(h['x-forwarded-proto'], 'http');
  assert.equal(h['x-forwarded-host'], 'Example.COM:8443');
  assert.equal(h.forwarded, 'for=10.0.0.9;host="Example.COM:8443";proto=http');
  assert.equal(h.via, '1.1 edge'); // via: false keeps the client's Via as is
  assert.equal(h.cookie, 'a=1; b=2');
  assert.equal(h['x-user'], 'u1');
});

test('HTTP/2 upstream: pseudo-header fields, te: trailers kept; trusted peer extended; Via added', () => {
  const h = upstreamHeaders(new H2RequestView(req, '10.0.0.9'), fwd({ trusted: true, via: true, proto: 'https' }), true, '127.0.0.1:1');
  assert.deepEqual([h[':method'], h[':path'], h[':scheme'], h[':authority']], ['POST', '/api/x?k=v&z=1', 'http', 'Example.COM:8443']);
  assert.equal(h.host, undefined);
  assert.equal(h.te, 'trailers');
  assert.equal(h['x-forwarded-for'], '1.2.3.4, 10.0.0.9');
  assert.equal(h['x-forwarded-proto'], 'https');
  assert.equal(h.forwarded, 'for=1.2.3.4, for=10.0.0.9;host="Example.COM:8443";proto=https');
  assert.equal(h.via, '1.1 edge, 2 fulcrum');
});

test('response headers: :status set, connection-specific fields dropped; trailers keep grpc-status', () => {
  const h = clientHeaders({ ':status': '200', 'content-type': 'text/plain', connection: 'close', 'keep-alive': 'timeout=5', 'transfer-encoding': 'chunked', 'set-cookie': ['a=1', 'b=2'] }, 200, true, '1.1');
  assert.deepEqual(h, { ':status': 200, 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'], via: '1.1 fulcrum' });
  assert.deepEqual(clientHeaders({ 'grpc-status': '0', 'grpc-message': '' }, 0, true, ''), { 'grpc-status': '0', 'grpc-message': '' });
});

test('edited request fields: split cookie fields joined with "; ", names lowercased, pseudo fields skipped', () => {
  const h = requestFields([':path', 'cookie', 'X-Env', 'cookie', 'x-a', 'x-a'], ['/p', 'a=1', 'prod', 'b=2', '1', '2']);
  assert.deepEqual(h, { cookie: 'a=1; b=2', 'x-env': 'prod', 'x-a': ['1', '2'] });
  const v = new H2RequestView(req, '10.0.0.9');
  const out = upstreamHeaders(v, fwd(), true, '10.0.0.1:80', h, '/rewritten?k=v');
  assert.equal(out[':path'], '/rewritten?k=v');
  assert.equal(out.cookie, 'a=1; b=2');
  assert.equal(out['x-user'], undefined, 'only the edited fields are sent');
});

test('response fields after hooks: lowercased, repeated as lists, connection-specific dropped', () => {
  const names: string[] = [];
  const values: string[] = [];
  fieldLists({ ':status': 200, 'set-cookie': ['a=1', 'b=2'], 'content-length': 3 }, names, values);
  assert.deepEqual(names, ['set-cookie', 'set-cookie', 'content-length']);
  assert.deepEqual(values, ['a=1', 'b=2', '3']);
  names.push('Set-Cookie', 'Connection', 'X-Frame-Options');
  values.push('SRV=x', 'close', 'DENY');
  assert.deepEqual(responseFields(200, names, values), {
    ':status': 200, 'set-cookie': ['a=1', 'b=2', 'SRV=x'], 'content-length': '3', 'x-frame-options': 'DENY',
  });
});

test('an answer\'s fields go on the error response, lowercased', () => {
  const h = errorHeaders(429, 'FULCRUM_E_RATE_LIMITED', 'x', ['Retry-After', 'RateLimit', 'Connection'], ['2', '"d";r=0;t=2', 'close']);
  assert.equal(h['retry-after'], '2');
  assert.equal(h.ratelimit, '"d";r=0;t=2');
  assert.equal(h.connection, undefined);
  assert.equal(h[':status'], 429);
});
