// Header mapping for HTTP/2 requests (headers.ts): the router's view, forwarding fields from trusted
// and untrusted peers, connection-specific fields dropped, te: trailers kept for HTTP/2 upstreams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientHeaders, H2RequestView, upstreamHeaders, type ForwardInput } from './headers.ts';

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
