/**
 * Unit tests of rewrite.ts: hop-by-hop removal (RFC 9110 §7.6.1), forwarding fields (RFC 7239,
 * X-Forwarded-*), Via (RFC 9110 §7.6.3), framing and persistence fields (RFC 9112 §6, §9.3), and
 * Fulcrum's error responses. Assertions are on the exact head strings.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildClientHead, buildUpstreamHead, errorResponse, FRAME_CHUNKED, FRAME_CLOSE, FRAME_NONE, FRAME_RECHUNK,
  type ClientHeadInput, type UpstreamHeadInput,
} from './rewrite.ts';
import { forwardedNode } from './forwarded.ts';

function up(o: Partial<UpstreamHeadInput> & { fields?: [string, string][] }): string {
  const fields = o.fields ?? [['Host', 'h']];
  const clientIp = o.clientIp ?? '10.0.0.9';
  return buildUpstreamHead({
    method: 'GET', target: '/', names: fields.map((f) => f[0]), values: fields.map((f) => f[1]),
    connectionTokens: null, host: 'h', chunked: false, clientIp, clientNode: forwardedNode(clientIp), trusted: false,
    xForwarded: true, proto: 'http', clientMinor: 1, via: false, endpointAddress: '127.0.0.1:9000', ...o,
  });
}

function client(o: Partial<ClientHeadInput> & { fields?: [string, string][] }): string {
  const fields = o.fields ?? [];
  return buildClientHead({
    status: 200, reason: 'OK', names: fields.map((f) => f[0]), values: fields.map((f) => f[1]),
    connectionTokens: null, framing: FRAME_NONE, keepAlive: true, clientMinor: 1, via: false, upstreamMinor: 1, ...o,
  });
}

const FWD = 'X-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\nForwarded: for=10.0.0.9;host=h;proto=http\r\n';

describe('buildUpstreamHead', () => {
  it('keeps end-to-end fields in order and case, adds forwarding fields at the end', () => {
    assert.equal(up({ method: 'POST', target: '/a?b=%2F', fields: [['Host', 'h'], ['x-A', '1'], ['Content-Length', '3'], ['X-a', '2']] }),
      'POST /a?b=%2F HTTP/1.1\r\nHost: h\r\nx-A: 1\r\nContent-Length: 3\r\nX-a: 2\r\n' + FWD + '\r\n');
  });

  it('removes every hop-by-hop field and every field named in Connection', () => {
    const fields: [string, string][] = [
      ['Host', 'h'], ['Connection', 'keep-alive, X-Custom'], ['Keep-Alive', 'timeout=5'], ['Proxy-Connection', 'keep-alive'],
      ['TE', 'trailers'], ['Trailer', 'X-T'], ['Transfer-Encoding', 'chunked'], ['Upgrade', 'websocket'],
      ['Proxy-Authenticate', 'Basic'], ['PROXY-AUTHORIZATION', 'Basic eDp5'], ['x-custom', '1'], ['X-Keep', 'k'],
    ];
    assert.equal(up({ fields, connectionTokens: ['keep-alive', 'x-custom'], xForwarded: false }),
      'GET / HTTP/1.1\r\nHost: h\r\nX-Keep: k\r\n\r\n');
  });

  it('chunked request: Transfer-Encoding: chunked is re-added once, last', () => {
    assert.equal(up({ chunked: true, xForwarded: false, fields: [['Host', 'h'], ['Transfer-Encoding', 'chunked'], ['X', '1']] }),
      'GET / HTTP/1.1\r\nHost: h\r\nX: 1\r\nTransfer-Encoding: chunked\r\n\r\n');
  });

  it('untrusted peer: client forwarding fields are dropped and replaced', () => {
    const fields: [string, string][] = [['Host', 'h'], ['X-Forwarded-For', '1.2.3.4'], ['Forwarded', 'for=1.2.3.4'],
      ['X-Forwarded-Proto', 'https'], ['X-Forwarded-Host', 'evil']];
    assert.equal(up({ fields }), 'GET / HTTP/1.1\r\nHost: h\r\n' + FWD + '\r\n');
  });

  it('trusted peer: X-Forwarded-For and Forwarded are joined and appended to; proto/host kept', () => {
    const fields: [string, string][] = [['Host', 'h'], ['X-Forwarded-For', '1.2.3.4'], ['Forwarded', 'for=1.2.3.4;proto=https'],
      ['x-forwarded-for', '5.6.7.8, 9.9.9.9'], ['X-Forwarded-Proto', 'https'], ['X-Forwarded-Host', 'orig'], ['X-Forwarded-Proto', 'ws']];
    assert.equal(up({ fields, trusted: true }), 'GET / HTTP/1.1\r\nHost: h\r\n' +
      'X-Forwarded-For: 1.2.3.4, 5.6.7.8, 9.9.9.9, 10.0.0.9\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: orig\r\n' +
      'Forwarded: for=1.2.3.4;proto=https, for=10.0.0.9;host=h;proto=http\r\n\r\n');
  });

  it('Forwarded: IPv6 nodes are bracketed and quoted; a Host with a port is quoted', () => {
    assert.equal(up({ clientIp: '2001:db8::1', host: '[::1]:8080', fields: [['Host', '[::1]:8080']] }),
      'GET / HTTP/1.1\r\nHost: [::1]:8080\r\nX-Forwarded-For: 2001:db8::1\r\nX-Forwarded-Proto: http\r\n' +
      'X-Forwarded-Host: [::1]:8080\r\nForwarded: for="[2001:db8::1]";host="[::1]:8080";proto=http\r\n\r\n');
  });

  it('xForwarded false: client forwarding fields pass through untouched, nothing added', () => {
    assert.equal(up({ xForwarded: false, fields: [['Host', 'h'], ['X-Forwarded-For', '1.2.3.4'], ['Forwarded', 'for=x']] }),
      'GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\nForwarded: for=x\r\n\r\n');
  });

  it('HTTP/1.0 request without Host gets the endpoint address as Host, no X-Forwarded-Host / host=', () => {
    assert.equal(up({ host: null, fields: [], clientMinor: 0 }),
      'GET / HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nX-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: http\r\nForwarded: for=10.0.0.9;proto=http\r\n\r\n');
  });

  it('Via: appended to the client values (joined), with the client protocol version', () => {
    assert.equal(up({ via: true, xForwarded: false, clientMinor: 0, fields: [['Host', 'h'], ['Via', '1.1 a'], ['X', '1'], ['via', '1.0 b']] }),
      'GET / HTTP/1.1\r\nHost: h\r\nX: 1\r\nVia: 1.1 a, 1.0 b, 1.0 fulcrum\r\n\r\n');
    assert.equal(up({ via: false, xForwarded: false, fields: [['Host', 'h'], ['Via', '1.1 a']] }),
      'GET / HTTP/1.1\r\nHost: h\r\nVia: 1.1 a\r\n\r\n');
  });
});

describe('buildClientHead', () => {
  it('Content-Length response to an HTTP/1.1 client: fields kept in order, nothing added', () => {
    assert.equal(client({ fields: [['Content-Length', '2'], ['X-B', '1']] }), 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-B: 1\r\n\r\n');
  });

  it('removes hop-by-hop fields and fields named in Connection', () => {
    const fields: [string, string][] = [['Connection', 'X-Hop, close'], ['X-Hop', '1'], ['Keep-Alive', 'timeout=1'],
      ['Proxy-Authenticate', 'Basic'], ['Upgrade', 'h2c'], ['Trailer', 'X-T'], ['Proxy-Connection', 'x'], ['TE', 'x'], ['X-End', 'e']];
    assert.equal(client({ fields, connectionTokens: ['x-hop', 'close'] }), 'HTTP/1.1 200 OK\r\nX-End: e\r\n\r\n');
  });

  it('chunked (passed through) and re-chunked framing get exactly one Transfer-Encoding: chunked', () => {
    for (const framing of [FRAME_CHUNKED, FRAME_RECHUNK]) {
      assert.equal(client({ framing, fields: [['Transfer-Encoding', 'chunked'], ['X', '1']] }),
        'HTTP/1.1 200 OK\r\nX: 1\r\nTransfer-Encoding: chunked\r\n\r\n');
    }
  });

  it('HTTP/1.0 client: Connection: keep-alive when kept, Connection: close otherwise; close-delimited has no framing field', () => {
    assert.equal(client({ clientMinor: 0, fields: [['Content-Length', '0']] }), 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n');
    assert.equal(client({ clientMinor: 0, keepAlive: false, framing: FRAME_CLOSE, fields: [['Transfer-Encoding', 'chunked']] }),
      'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n');
  });

  it('HTTP/1.1 client not kept alive gets Connection: close', () => {
    assert.equal(client({ keepAlive: false }), 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n');
  });

  it('empty reason phrase: filled for known codes, kept empty otherwise', () => {
    assert.equal(client({ status: 204, reason: '' }), 'HTTP/1.1 204 No Content\r\n\r\n');
    assert.equal(client({ status: 299, reason: '' }), 'HTTP/1.1 299 \r\n\r\n');
    assert.equal(client({ status: 200, reason: 'Fine' }), 'HTTP/1.1 200 Fine\r\n\r\n');
  });

  it('Via: upstream values joined and extended with the upstream protocol version', () => {
    assert.equal(client({ via: true, upstreamMinor: 0, fields: [['Via', '1.1 app'], ['X', '1']] }),
      'HTTP/1.1 200 OK\r\nX: 1\r\nVia: 1.1 app, 1.0 fulcrum\r\n\r\n');
  });
});

describe('errorResponse', () => {
  it('carries the code in header and body with an exact Content-Length', () => {
    assert.equal(errorResponse(502, 'FULCRUM_E_UPSTREAM_CONNECT', true),
      'HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 44\r\n' +
      'X-Fulcrum-Error: FULCRUM_E_UPSTREAM_CONNECT\r\n\r\n502 Bad Gateway: FULCRUM_E_UPSTREAM_CONNECT\n');
    assert.equal('502 Bad Gateway: FULCRUM_E_UPSTREAM_CONNECT\n'.length, 44);
  });

  it('Connection: close when not kept alive; HEAD gets the head only', () => {
    const r = errorResponse(431, 'FULCRUM_E_HEADERS_TOO_LARGE', false, true);
    assert.equal(r, 'HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n' +
      'Content-Length: 65\r\nX-Fulcrum-Error: FULCRUM_E_HEADERS_TOO_LARGE\r\nConnection: close\r\n\r\n');
    assert.equal('431 Request Header Fields Too Large: FULCRUM_E_HEADERS_TOO_LARGE\n'.length, 65);
  });

  it('every data-path status has its reason phrase', () => {
    for (const [s, t] of [[400, 'Bad Request'], [404, 'Not Found'], [408, 'Request Timeout'], [414, 'URI Too Long'],
      [501, 'Not Implemented'], [503, 'Service Unavailable'], [504, 'Gateway Timeout']] as const) {
      assert.ok(errorResponse(s, 'FULCRUM_E_BAD_REQUEST', true).startsWith(`HTTP/1.1 ${s} ${t}\r\n`), String(s));
    }
  });
});
