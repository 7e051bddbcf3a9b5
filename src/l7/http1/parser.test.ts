/**
 * Unit tests of the HTTP/1.1 head parser (RFC 9112): one test per rejection rule, valid framing
 * cases, pipelining, incremental feeding and limits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseRequestHead, parseResponseHead, headComplete, DEFAULT_LIMITS, HttpParseError, HOP_BY_HOP,
  type HeadLimits, type RequestHead,
} from './parser.ts';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const req = (s: string, limits: HeadLimits = DEFAULT_LIMITS): RequestHead | null => {
  const buf = b(s);
  return parseRequestHead(buf, 0, buf.length, limits);
};
const res = (s: string, method = 'GET') => {
  const buf = b(s);
  return parseResponseHead(buf, 0, buf.length, DEFAULT_LIMITS, method);
};
const H = 'Host: a.example\r\n';

function rejects(fn: () => unknown, status: number, code: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof HttpParseError, `expected HttpParseError, got ${String(err)}`);
    assert.equal(err.status, status, err.message);
    assert.equal(err.code, code, err.message);
    return true;
  });
}
const bad = (s: string): void => rejects(() => req(s), 400, 'FULCRUM_E_BAD_REQUEST');

// ---- rejection rules ----

test('bare LF ending the request line is rejected', () => bad(`GET / HTTP/1.1\n${H}\r\n`));
test('bare LF ending a field line is rejected', () => bad(`GET / HTTP/1.1\r\n${H}X: y\n\r\n`));
test('bare LF as the final empty line is rejected', () => bad(`GET / HTTP/1.1\r\n${H}\n`));
test('lone CR inside a field value is rejected', () => bad(`GET / HTTP/1.1\r\n${H}X: a\rb\r\n\r\n`));
test('lone CR ending the request line is rejected', () => bad(`GET / HTTP/1.1\rX: y\r\n\r\n`));
test('obs-fold (line starting with SP or HTAB) is rejected', () => {
  bad(`GET / HTTP/1.1\r\n${H}X: a\r\n  b\r\n\r\n`);
  bad(`GET / HTTP/1.1\r\n${H}X: a\r\n\tb\r\n\r\n`);
});
test('whitespace between field name and colon is rejected', () => {
  bad(`GET / HTTP/1.1\r\n${H}Content-Length : 5\r\n\r\n`);
  bad(`GET / HTTP/1.1\r\n${H}X\t: 5\r\n\r\n`);
});
test('empty field name is rejected', () => bad(`GET / HTTP/1.1\r\n${H}: v\r\n\r\n`));
test('field line without a colon is rejected', () => bad(`GET / HTTP/1.1\r\n${H}NoColon\r\n\r\n`));
test('invalid token character in method is rejected', () => {
  bad(`G(T / HTTP/1.1\r\n${H}\r\n`);
  bad(`GE\x00T / HTTP/1.1\r\n${H}\r\n`);
});
test('invalid token character in field name is rejected', () => {
  bad(`GET / HTTP/1.1\r\n${H}X@y: 1\r\n\r\n`);
  bad(`GET / HTTP/1.1\r\n${H}X\x7fy: 1\r\n\r\n`);
  bad(`GET / HTTP/1.1\r\n${H}X\xe9: 1\r\n\r\n`);
});
test('invalid field-value characters (CTL other than HTAB, DEL) are rejected', () => {
  for (const c of ['\x00', '\x01', '\x0b', '\x1f', '\x7f']) bad(`GET / HTTP/1.1\r\n${H}X: a${c}b\r\n\r\n`);
});
test('obs-text and HTAB in field values are accepted verbatim', () => {
  const h = req(`GET / HTTP/1.1\r\n${H}X: \tcaf\xe9\tau lait \t\r\n\r\n`)!;
  assert.deepEqual(h.values, ['a.example', 'caf\xe9\tau lait']);
});
test('request line with extra spaces is rejected', () => {
  bad(`GET  / HTTP/1.1\r\n${H}\r\n`);
  bad(`GET /  HTTP/1.1\r\n${H}\r\n`);
  bad(`GET / HTTP/1.1 \r\n${H}\r\n`);
  bad(` GET / HTTP/1.1\r\n${H}\r\n`);
});
test('request line with missing parts is rejected', () => {
  bad(`GET /\r\n${H}\r\n`);
  bad(`GET HTTP/1.1\r\n${H}\r\n`);
  bad(`/ HTTP/1.1\r\n${H}\r\n`);
});
test('request line with a bad HTTP version is rejected', () => {
  for (const v of ['HTTP/1.2', 'HTTP/2.0', 'HTTP/0.9', 'http/1.1', 'HTTP/1.11', 'HTTP/1', 'HTTPS/1.1']) bad(`GET / ${v}\r\n${H}\r\n`);
});
test('control characters, DEL and non-ASCII in the request-target are rejected', () => {
  for (const c of ['\x00', '\t', '\x7f', '\x80', '\xff']) bad(`GET /a${c}b HTTP/1.1\r\n${H}\r\n`);
});
test('leading empty lines (CRLF) before the request line are skipped', () => {
  const h = req(`\r\n\r\nGET / HTTP/1.1\r\n${H}\r\n`)!;
  assert.equal(h.method, 'GET');
  assert.equal(h.headEnd, 4 + 16 + H.length + 2);
});
test('leading bare LF or lone CR before the request line is rejected', () => {
  bad(`\nGET / HTTP/1.1\r\n${H}\r\n`);
  bad(`\rGET / HTTP/1.1\r\n${H}\r\n`);
});
test('more than 4 leading empty lines are rejected', () => bad(`${'\r\n'.repeat(5)}GET / HTTP/1.1\r\n${H}\r\n`));
test('Content-Length together with Transfer-Encoding is rejected', () => {
  bad(`POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n`);
  bad(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n`);
});
test('Content-Length that is not a string of digits is rejected', () => {
  for (const v of ['+5', '-1', '5a', '0x10', '5 5', '', '1.0', '5,', ',5', '5,,5']) bad(`POST / HTTP/1.1\r\n${H}Content-Length: ${v}\r\n\r\n`);
});
test('differing duplicate Content-Length values are rejected', () => {
  bad(`POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\n`);
  bad(`POST / HTTP/1.1\r\n${H}Content-Length: 5, 6\r\n\r\n`);
});
test('identical duplicate Content-Length values collapse to one', () => {
  assert.equal(req(`POST / HTTP/1.1\r\n${H}Content-Length: 5\r\ncontent-length: 5\r\n\r\n`)!.contentLength, 5);
  assert.equal(req(`POST / HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\n`)!.contentLength, 5);
  assert.equal(req(`POST / HTTP/1.1\r\n${H}Content-Length: 007,7\r\n\r\n`)!.contentLength, 7);
});
test('Content-Length beyond Number.MAX_SAFE_INTEGER is rejected', () => {
  assert.equal(req(`POST / HTTP/1.1\r\n${H}Content-Length: 9007199254740991\r\n\r\n`)!.contentLength, Number.MAX_SAFE_INTEGER);
  bad(`POST / HTTP/1.1\r\n${H}Content-Length: 9007199254740992\r\n\r\n`);
  bad(`POST / HTTP/1.1\r\n${H}Content-Length: ${'9'.repeat(400)}\r\n\r\n`);
});
test('Transfer-Encoding whose final coding is not chunked is rejected with 400', () => {
  bad(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`);
  bad(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n`);
  bad(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n`);
  bad(`POST / HTTP/1.1\r\n${H}Transfer-Encoding:\r\n\r\n`);
  bad(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked;x=1\r\n\r\n`);
  bad(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunk ed\r\n\r\n`);
});
test('unknown transfer codings before chunked are rejected with 501', () => {
  rejects(() => req(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n`), 501, 'FULCRUM_E_NOT_IMPLEMENTED');
  rejects(() => req(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: x-custom\r\nTransfer-Encoding: chunked\r\n\r\n`), 501, 'FULCRUM_E_NOT_IMPLEMENTED');
});
test('chunked applied twice is rejected', () => {
  bad(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n`);
  bad(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`);
});
test('Transfer-Encoding in an HTTP/1.0 request is rejected', () => bad(`POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n`));
test('missing Host in an HTTP/1.1 request is rejected', () => bad(`GET / HTTP/1.1\r\nX: y\r\n\r\n`));
test('more than one Host field is rejected', () => {
  bad(`GET / HTTP/1.1\r\n${H}host: b.example\r\n\r\n`);
  bad(`GET / HTTP/1.0\r\n${H}${H}\r\n`);
});

// ---- limits ----

test('request line over limits.requestLine gives 414, even before its CRLF arrives', () => {
  const limits = { ...DEFAULT_LIMITS, requestLine: 32 };
  const line = `GET /${'a'.repeat(18)} HTTP/1.1`; // exactly 32 bytes
  assert.equal(line.length, 32);
  assert.equal(req(`${line}\r\n${H}\r\n`, limits)!.target.length, 19);
  const long = `GET /${'a'.repeat(19)} HTTP/1.1`;
  rejects(() => req(`${long}\r\n${H}\r\n`, limits), 414, 'FULCRUM_E_URI_TOO_LONG');
  rejects(() => req(`GET /${'a'.repeat(40)}`, limits), 414, 'FULCRUM_E_URI_TOO_LONG');
  assert.equal(req(`GET /${'a'.repeat(20)}`, limits), null);
});
test('header section over limits.headerBytes gives 431, even while incomplete', () => {
  const field = 'X: ' + 'v'.repeat(95) + '\r\n'; // 100 bytes
  const limits = { ...DEFAULT_LIMITS, headerBytes: H.length + 100 + 2 };
  assert.equal(req(`GET / HTTP/1.1\r\n${H}${field}\r\n`, limits)!.names.length, 2);
  rejects(() => req(`GET / HTTP/1.1\r\n${H}${field}X: 1\r\n\r\n`, limits), 431, 'FULCRUM_E_HEADERS_TOO_LARGE');
  rejects(() => req(`GET / HTTP/1.1\r\n${H}X: ${'v'.repeat(200)}`, limits), 431, 'FULCRUM_E_HEADERS_TOO_LARGE');
  assert.equal(req(`GET / HTTP/1.1\r\n${H}X: ${'v'.repeat(50)}`, limits), null);
});
test('more than limits.headerCount fields gives 431', () => {
  const limits = { ...DEFAULT_LIMITS, headerCount: 3 };
  assert.equal(req(`GET / HTTP/1.1\r\n${H}A: 1\r\nB: 2\r\n\r\n`, limits)!.names.length, 3);
  rejects(() => req(`GET / HTTP/1.1\r\n${H}A: 1\r\nB: 2\r\nC: 3\r\n\r\n`, limits), 431, 'FULCRUM_E_HEADERS_TOO_LARGE');
  rejects(() => req(`GET / HTTP/1.1\r\n${H}A: 1\r\nB: 2\r\nC: 3\r\n`, limits), 431, 'FULCRUM_E_HEADERS_TOO_LARGE');
});
test('a large headerCount limit beyond the scratch size works', () => {
  const limits = { ...DEFAULT_LIMITS, headerCount: 300 };
  const fields = Array.from({ length: 250 }, (_, i) => `X-${i}: ${i}\r\n`).join('');
  const h = req(`GET / HTTP/1.1\r\n${H}${fields}\r\n`, limits)!;
  assert.equal(h.names.length, 251);
  assert.equal(h.values[250], '249');
});

// ---- valid requests ----

test('request with Content-Length', () => {
  const s = `POST /submit?x=1 HTTP/1.1\r\nHost: a.example:8080\r\ncontent-length: 11\r\nContent-Type: text/plain\r\n\r\nhello world`;
  const h = req(s)!;
  assert.equal(h.method, 'POST');
  assert.equal(h.target, '/submit?x=1');
  assert.equal(h.minor, 1);
  assert.deepEqual(h.names, ['Host', 'content-length', 'Content-Type']);
  assert.deepEqual(h.values, ['a.example:8080', '11', 'text/plain']);
  assert.equal(h.headEnd, s.length - 11);
  assert.equal(h.contentLength, 11);
  assert.equal(h.chunked, false);
  assert.equal(h.keepAlive, true);
  assert.equal(h.connectionTokens, null);
  assert.equal(h.host, 'a.example:8080');
});
test('chunked request', () => {
  const h = req(`PUT /u HTTP/1.1\r\n${H}TRANSFER-ENCODING:  Chunked \r\n\r\n5\r\nhello\r\n0\r\n\r\n`)!;
  assert.equal(h.method, 'PUT');
  assert.equal(h.chunked, true);
  assert.equal(h.contentLength, -1);
  assert.deepEqual(h.values[1], 'Chunked');
  assert.equal(req(`PUT /u HTTP/1.1\r\n${H}Transfer-Encoding: , chunked,\r\n\r\n`)!.chunked, true);
});
test('request without body', () => {
  const h = req(`GET /index.html HTTP/1.1\r\n${H}\r\n`)!;
  assert.equal(h.contentLength, -1);
  assert.equal(h.chunked, false);
  assert.equal(h.upgrade, false);
  assert.equal(h.expectContinue, false);
});
test('HTTP/1.0 keep-alive only with Connection: keep-alive', () => {
  const h = req(`GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n`)!;
  assert.equal(h.minor, 0);
  assert.equal(h.keepAlive, true);
  assert.equal(h.host, null);
  assert.deepEqual(h.connectionTokens, ['keep-alive']);
  assert.equal(req(`GET / HTTP/1.0\r\n\r\n`)!.keepAlive, false);
  assert.equal(req(`GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n`)!.keepAlive, false);
});
test('HTTP/1.1 Connection: close disables keep-alive; tokens are lowercased across fields', () => {
  const h = req(`GET / HTTP/1.1\r\n${H}Connection: X-Trace\r\nconnection: CLOSE, te\r\n\r\n`)!;
  assert.equal(h.keepAlive, false);
  assert.deepEqual(h.connectionTokens, ['x-trace', 'close', 'te']);
});
test('upgrade needs both Connection: upgrade and an Upgrade field', () => {
  assert.equal(req(`GET /ws HTTP/1.1\r\n${H}Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n`)!.upgrade, true);
  assert.equal(req(`GET /ws HTTP/1.1\r\n${H}Upgrade: websocket\r\n\r\n`)!.upgrade, false);
  assert.equal(req(`GET /ws HTTP/1.1\r\n${H}Connection: upgrade\r\n\r\n`)!.upgrade, false);
});
test('Expect: 100-continue (HTTP/1.1 only)', () => {
  assert.equal(req(`POST / HTTP/1.1\r\n${H}Expect: 100-Continue\r\nContent-Length: 1\r\n\r\n`)!.expectContinue, true);
  assert.equal(req(`POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n`)!.expectContinue, false);
  assert.equal(req(`POST / HTTP/1.1\r\n${H}Expect: 200-ok\r\n\r\n`)!.expectContinue, false);
});
test('other methods and targets are taken verbatim', () => {
  assert.equal(req(`OPTIONS * HTTP/1.1\r\n${H}\r\n`)!.target, '*');
  const c = req(`CONNECT a.example:443 HTTP/1.1\r\n${H}\r\n`)!;
  assert.equal(c.method, 'CONNECT');
  assert.equal(c.target, 'a.example:443');
  assert.equal(req(`M-SEARCH http://x/y?z#f HTTP/1.1\r\n${H}\r\n`)!.method, 'M-SEARCH');
});
test('pipelined requests parse from headEnd', () => {
  const s = `GET /one HTTP/1.1\r\n${H}\r\nPOST /two HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabcGET /three HTTP/1.1\r\n${H}\r\n`;
  const buf = b(s);
  const one = parseRequestHead(buf, 0, buf.length, DEFAULT_LIMITS)!;
  assert.equal(one.target, '/one');
  const two = parseRequestHead(buf, one.headEnd, buf.length, DEFAULT_LIMITS)!;
  assert.equal(two.target, '/two');
  assert.equal(buf.toString('latin1', two.headEnd, two.headEnd + 3), 'abc');
  const three = parseRequestHead(buf, two.headEnd + two.contentLength, buf.length, DEFAULT_LIMITS)!;
  assert.equal(three.target, '/three');
  assert.equal(three.headEnd, buf.length);
  assert.equal(parseRequestHead(buf, three.headEnd, buf.length, DEFAULT_LIMITS), null);
});
test('incremental feeding: every split point gives null until complete, then the same head', () => {
  const s = `\r\nPOST /p?q=1 HTTP/1.1\r\n${H}Connection: keep-alive, X\r\nContent-Length: 5\r\nCookie: a=b; c=\xe9\r\n\r\n`;
  const buf = b(s + 'hello');
  const whole = parseRequestHead(buf, 0, buf.length, DEFAULT_LIMITS)!;
  assert.equal(whole.headEnd, s.length);
  for (let cut = 0; cut < s.length; cut++) {
    assert.equal(parseRequestHead(buf, 0, cut, DEFAULT_LIMITS), null, `cut at ${cut}`);
  }
  assert.deepEqual(parseRequestHead(buf, 0, s.length, DEFAULT_LIMITS), whole);
});
test('parsing at any offset and buffer alignment (word-at-a-time scan) keeps values exact', () => {
  const v = 'x'.repeat(37) + '\t' + 'y'.repeat(41) + '\xff';
  const s = `GET / HTTP/1.1\r\n${H}User-Agent: ${v}\r\n\r\n`;
  const bytes = 0x01; // a CTL planted inside the long value must be caught at every alignment
  for (let shift = 0; shift < 4; shift++) {
    for (let off = 0; off < 8; off++) {
      const view = Buffer.alloc(shift + off + s.length + 8, 0x41).subarray(shift);
      view.write(s, off, 'latin1');
      const h = parseRequestHead(view, off, off + s.length, DEFAULT_LIMITS)!;
      assert.equal(h.values[1], v);
      assert.equal(h.headEnd, off + s.length);
      for (const at of [s.indexOf('x') + 3, s.indexOf('y') + 20, s.indexOf('y') + 40]) {
        const saved = view[off + at];
        view[off + at] = bytes;
        rejects(() => parseRequestHead(view, off, off + s.length, DEFAULT_LIMITS), 400, 'FULCRUM_E_BAD_REQUEST');
        view[off + at] = 0x7f;
        rejects(() => parseRequestHead(view, off, off + s.length, DEFAULT_LIMITS), 400, 'FULCRUM_E_BAD_REQUEST');
        view[off + at] = saved;
      }
    }
  }
});
test('headComplete finds the end of the head', () => {
  const buf = b(`\r\nGET / HTTP/1.1\r\n${H}\r\nrest`);
  assert.equal(headComplete(buf, 0, buf.length), buf.length - 4);
  assert.equal(headComplete(buf, 0, buf.length - 6), -1);
});
test('HOP_BY_HOP lists the RFC 9110 §7.6.1 fields', () => {
  assert.deepEqual([...HOP_BY_HOP].sort(), [
    'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  ]);
});

// ---- responses ----

const up = (s: string, method = 'GET'): void => rejects(() => res(s, method), 502, 'FULCRUM_E_UPSTREAM_BAD_RESPONSE');

test('response with Content-Length', () => {
  const h = res('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nServer: x\r\n\r\nabc')!;
  assert.equal(h.status, 200);
  assert.equal(h.reason, 'OK');
  assert.equal(h.minor, 1);
  assert.deepEqual(h.names, ['Content-Length', 'Server']);
  assert.equal(h.contentLength, 3);
  assert.equal(h.headEnd, 49);
  assert.equal(h.keepAlive, true);
  assert.equal(h.noBody, false);
  assert.equal(h.untilClose, false);
});
test('response reason phrase may be empty, contain spaces, or be absent with its SP', () => {
  assert.equal(res('HTTP/1.1 404 Not  Found\t\r\nContent-Length: 0\r\n\r\n')!.reason, 'Not  Found\t');
  assert.equal(res('HTTP/1.1 204 \r\n\r\n')!.reason, '');
  assert.equal(res('HTTP/1.1 204\r\n\r\n')!.status, 204);
});
test('response errors are 502 FULCRUM_E_UPSTREAM_BAD_RESPONSE', () => {
  up('HTTP/1.1 20 OK\r\n\r\n');
  up('HTTP/1.1 600 X\r\n\r\n');
  up('HTTP/1.1  200 OK\r\n\r\n');
  up('HTTP/2 200 OK\r\n\r\n');
  up('HTTP/1.1 200 OK\n\r\n');
  up('HTTP/1.1 200 O\x00K\r\n\r\n');
  up('HTTP/1.1 200 OK\r\nX : y\r\n\r\n');
  up('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n');
  up('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n');
  up('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n');
  up('HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
  rejects(() => parseResponseHead(b('HTTP/1.1 200 ' + 'x'.repeat(100)), 0, 113, { ...DEFAULT_LIMITS, requestLine: 64 }, 'GET'), 502, 'FULCRUM_E_UPSTREAM_BAD_RESPONSE');
});
test('response chunked, and other codings before chunked are framed as chunked', () => {
  assert.equal(res('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n')!.chunked, true);
});
test('response whose final coding is not chunked is read until close', () => {
  const h = res('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n')!;
  assert.equal(h.chunked, false);
  assert.equal(h.untilClose, true);
  assert.equal(h.keepAlive, false);
});
test('response without framing is read until close; HTTP/1.0 keeps alive only on request', () => {
  const h = res('HTTP/1.1 200 OK\r\n\r\n')!;
  assert.equal(h.untilClose, true);
  assert.equal(h.keepAlive, false);
  assert.equal(res('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n')!.keepAlive, false);
  const k = res('HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n')!;
  assert.equal(k.keepAlive, true);
  assert.deepEqual(k.connectionTokens, ['keep-alive']);
  assert.equal(res('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')!.keepAlive, false);
});
test('responses to HEAD, 1xx, 204, 304 and 2xx to CONNECT have no body', () => {
  const head = res('HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n', 'HEAD')!;
  assert.equal(head.noBody, true);
  assert.equal(head.contentLength, 500);
  assert.equal(head.untilClose, false);
  assert.equal(head.keepAlive, true);
  for (const s of ['100 Continue', '101 Switching Protocols', '103 Early Hints', '204 No Content', '304 Not Modified']) {
    const h = res(`HTTP/1.1 ${s}\r\n\r\n`)!;
    assert.equal(h.noBody, true, s);
    assert.equal(h.untilClose, false, s);
  }
  assert.equal(res('HTTP/1.1 200 Connection established\r\n\r\n', 'CONNECT')!.noBody, true);
  assert.equal(res('HTTP/1.1 407 Auth\r\n\r\n', 'CONNECT')!.noBody, false);
});
test('response incremental feeding: every split point gives null until complete', () => {
  const s = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n';
  const buf = b(s + 'hi');
  for (let cut = 0; cut < s.length; cut++) assert.equal(parseResponseHead(buf, 0, cut, DEFAULT_LIMITS, 'GET'), null, `cut ${cut}`);
  assert.equal(parseResponseHead(buf, 0, buf.length, DEFAULT_LIMITS, 'GET')!.headEnd, s.length);
});
