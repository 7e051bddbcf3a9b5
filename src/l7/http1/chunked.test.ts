/**
 * Unit tests of the chunked transfer coding scanner (RFC 9112 §7.1): valid bodies, extensions,
 * trailers, splits at every byte, and one test per rejection rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkedScanner, HttpParseError } from './chunked.ts';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Scans the whole string in one call. */
function scanAll(s: string, response = false): number {
  const buf = b(s);
  return new ChunkedScanner(response).scan(buf, 0, buf.length);
}

function bad(s: string): void {
  assert.throws(() => scanAll(s), (err: unknown) => {
    assert.ok(err instanceof HttpParseError, String(err));
    assert.equal(err.status, 400);
    assert.equal(err.code, 'FULCRUM_E_BAD_REQUEST');
    return true;
  });
}

test('simple body ends exactly after the final CRLF', () => {
  const body = '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n';
  assert.equal(scanAll(body + 'GET / HTTP/1.1\r\n'), body.length);
  assert.equal(scanAll(body), body.length);
});
test('hex sizes in either case, leading zeros, last-chunk written 000', () => {
  const body = `A\r\n${'x'.repeat(10)}\r\n0f\r\n${'y'.repeat(15)}\r\n000\r\n\r\n`;
  assert.equal(scanAll(body), body.length);
});
test('chunk extensions: token, quoted-string with escapes, BWS around ";" and "="', () => {
  const body = '3;a\r\nabc\r\n3;a=b;c="d \\"e\\" ;f"\r\nabc\r\n3 ; name = value ;x="y"\r\nabc\r\n0;last\r\n\r\n';
  assert.equal(scanAll(body), body.length);
});
test('trailer fields after the last chunk', () => {
  const body = '1\r\na\r\n0\r\nChecksum: abc\r\nX-Other:\t\xe9 v\r\n\r\n';
  assert.equal(scanAll(body + 'next'), body.length);
});
test('partial body returns -1 and the scan resumes at every split point', () => {
  const body = '4;e="q"\r\nwiki\r\n5\r\npedia\r\n0\r\nT: v\r\n\r\n';
  const buf = b(body + 'XYZ');
  for (let cut = 0; cut <= body.length; cut++) {
    const sc = new ChunkedScanner();
    const first = sc.scan(buf, 0, cut);
    if (cut < body.length) {
      assert.equal(first, -1, `cut ${cut}`);
      assert.equal(sc.scan(buf, cut, buf.length), body.length, `cut ${cut}`);
    } else {
      assert.equal(first, body.length);
    }
  }
});
test('byte-by-byte feeding ends at the right offset', () => {
  const body = '2\r\nab\r\n0\r\n\r\n';
  const buf = b(body);
  const sc = new ChunkedScanner();
  let endAt = -1;
  for (let i = 0; i < buf.length && endAt === -1; i++) endAt = sc.scan(buf, i, i + 1);
  assert.equal(endAt, body.length);
  assert.equal(sc.done, true);
});
test('after the end, scan returns start until reset()', () => {
  const buf = b('0\r\n\r\n0\r\n\r\n');
  const sc = new ChunkedScanner();
  assert.equal(sc.scan(buf, 0, buf.length), 5);
  assert.equal(sc.scan(buf, 5, buf.length), 5);
  sc.reset();
  assert.equal(sc.scan(buf, 5, buf.length), 10);
});
test('large chunk sizes are skipped without reading the data', () => {
  const sc = new ChunkedScanner();
  const head = b('100000\r\n');
  assert.equal(sc.scan(head, 0, head.length), -1);
  const data = Buffer.alloc(0x100000);
  assert.equal(sc.scan(data, 0, data.length - 1), -1);
  const rest = b('x\r\n0\r\n\r\n');
  assert.equal(sc.scan(rest, 0, rest.length), rest.length);
});

// ---- rejection rules ----

test('junk after the chunk size (5x) is rejected', () => bad('5x\r\nhello\r\n0\r\n\r\n'));
test('chunk size that is not hexadecimal is rejected', () => {
  bad('g\r\n');
  bad('\r\n');
  bad(' 5\r\nhello\r\n');
  bad('-1\r\n');
  bad('+5\r\nhello\r\n');
  bad('0x5\r\nhello\r\n');
});
test('chunk size with more than 16 hex digits is rejected', () => {
  bad(`${'0'.repeat(16)}1\r\n`);
  const ok = `${'0'.repeat(15)}1\r\na\r\n0\r\n\r\n`;
  assert.equal(scanAll(ok), ok.length);
});
test('chunk size beyond Number.MAX_SAFE_INTEGER is rejected', () => {
  bad('20000000000000\r\n'); // 2^53
  bad('ffffffffffffffff\r\n');
  const sc = new ChunkedScanner();
  const ok = b('1fffffffffffff\r\n');
  assert.equal(sc.scan(ok, 0, ok.length), -1);
});
test('chunk data not followed by CRLF is rejected', () => {
  bad('5\r\nhelloX\r\n0\r\n\r\n');
  bad('5\r\nhello\n0\r\n\r\n');
  bad('5\r\nhello\rX');
});
test('bare LF or lone CR in the chunk-size line is rejected', () => {
  bad('5\nhello\r\n');
  bad('5\rhello\r\n');
});
test('whitespace after the size not followed by ";" is rejected', () => bad('5 \r\nhello\r\n0\r\n\r\n'));
test('malformed chunk extensions are rejected', () => {
  bad('5;\r\nhello\r\n');
  bad('5;=v\r\nhello\r\n');
  bad('5;a=\r\nhello\r\n');
  bad('5;a b\r\nhello\r\n');
  bad('5;a="x\x00"\r\nhello\r\n');
  bad('5;a="x"y\r\nhello\r\n');
  bad('5;a@b\r\nhello\r\n');
});
test('chunk-size line longer than 4 KiB is rejected', () => {
  const ext = ';a=' + 'b'.repeat(4100);
  bad(`5${ext}\r\nhello\r\n0\r\n\r\n`);
  const fits = ';a=' + 'b'.repeat(4000);
  const body = `5${fits}\r\nhello\r\n0\r\n\r\n`;
  assert.equal(scanAll(body), body.length);
});
test('trailer obs-fold is rejected', () => bad('0\r\nA: b\r\n c\r\n\r\n'));
test('trailer whitespace before colon is rejected', () => bad('0\r\nA : b\r\n\r\n'));
test('trailer invalid field name or value is rejected', () => {
  bad('0\r\n: b\r\n\r\n');
  bad('0\r\nA(: b\r\n\r\n');
  bad('0\r\nA: b\x7f\r\n\r\n');
  bad('0\r\nNoColon\r\n\r\n');
});
test('trailer bare LF and missing final CRLF are rejected', () => {
  bad('0\r\nA: b\n\r\n');
  bad('0\r\n\n');
  bad('0\r\n\rX');
});
test('trailer section over 32 KiB is rejected', () => {
  const line = `X: ${'v'.repeat(1000)}\r\n`;
  bad(`0\r\n${line.repeat(33)}\r\n`);
  const fits = `0\r\n${line.repeat(32)}\r\n`;
  assert.equal(scanAll(fits), fits.length);
});
test('response scanners report 502 FULCRUM_E_UPSTREAM_BAD_RESPONSE', () => {
  assert.throws(() => scanAll('5x\r\n', true), (err: unknown) => {
    assert.ok(err instanceof HttpParseError);
    assert.equal(err.status, 502);
    assert.equal(err.code, 'FULCRUM_E_UPSTREAM_BAD_RESPONSE');
    return true;
  });
});
