/**
 * Property tests (fast-check) of the HTTP/1.1 head parser and chunked scanner (RFC 9112 §2–§7):
 * generated valid heads round-trip, arbitrary bytes only ever raise HttpParseError, generated
 * chunked bodies end exactly where they were built to end, and response body rules hold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseRequestHead, parseResponseHead, DEFAULT_LIMITS, HttpParseError, ChunkedScanner } from './parser.ts';

const chars = (s: string): string[] => [...s];
const TCHARS = chars("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
const VCHARS: string[] = [];
for (let c = 0x21; c <= 0x7e; c++) VCHARS.push(String.fromCharCode(c));
const OBS: string[] = [];
for (let c = 0x80; c <= 0xff; c += 7) OBS.push(String.fromCharCode(c));

const token = (max: number) => fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: max });
const FRAMING = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'expect']);
const fieldName = token(24).filter((n) => !FRAMING.has(n.toLowerCase()));
const ows = fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 3 });
/** A value that starts and ends with a visible char (or is empty), SP / HTAB allowed inside. */
const fieldValue = fc.oneof(
  fc.constant(''),
  fc.tuple(
    fc.constantFrom(...VCHARS, ...OBS),
    fc.string({ unit: fc.constantFrom(...VCHARS, ...OBS, ' ', '\t'), maxLength: 120 }),
    fc.constantFrom(...VCHARS, ...OBS),
  ).map(([a, mid, z]) => a + mid + z),
);
const target = fc.tuple(fc.constantFrom('/', '*', 'http://h/'), fc.string({ unit: fc.constantFrom(...VCHARS), maxLength: 80 }))
  .map(([a, rest]) => a + rest);

const validHead = fc.record({
  method: token(12),
  target,
  minor: fc.constantFrom(0, 1),
  host: fieldValue,
  fields: fc.array(fc.record({ name: fieldName, value: fieldValue, pre: ows, post: ows }), { maxLength: 30 }),
  hostAt: fc.nat(),
});

function isParseError(err: unknown): boolean {
  return err instanceof HttpParseError && [400, 414, 431, 501, 502].includes(err.status);
}

test('property: generated valid heads parse to exactly the generated method, target, names and values', () => {
  fc.assert(
    fc.property(validHead, fc.nat(), (h, cutSeed) => {
      const fields = h.fields.slice();
      const hostAt = h.hostAt % (fields.length + 1);
      fields.splice(hostAt, 0, { name: 'Host', value: h.host, pre: ' ', post: '' });
      const head = `${h.method} ${h.target} HTTP/1.${h.minor}\r\n` +
        fields.map((f) => `${f.name}:${f.pre}${f.value}${f.post}\r\n`).join('') + '\r\n';
      const buf = Buffer.from(head + 'BODY', 'latin1');
      const r = parseRequestHead(buf, 0, buf.length, DEFAULT_LIMITS);
      assert.ok(r !== null);
      assert.equal(r.method, h.method);
      assert.equal(r.target, h.target);
      assert.equal(r.minor, h.minor);
      assert.deepEqual(r.names, fields.map((f) => f.name));
      assert.deepEqual(r.values, fields.map((f) => f.value));
      assert.equal(r.headEnd, head.length);
      assert.equal(r.host, h.host);
      assert.equal(r.contentLength, -1);
      const cut = cutSeed % head.length;
      assert.equal(parseRequestHead(buf, 0, cut, DEFAULT_LIMITS), null);
    }),
    { numRuns: 400 },
  );
});

test('property: mutated heads and random bytes only ever throw HttpParseError', () => {
  const valid = Buffer.from(
    'POST /a/b?c=d HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, te\r\nX: \xe9\t y\r\n\r\n',
    'latin1',
  );
  const response = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n', 'latin1');
  const interesting = fc.constantFrom(0x00, 0x09, 0x0a, 0x0d, 0x20, 0x2c, 0x3a, 0x3b, 0x7f, 0x80, 0xff, 0x30, 0x41);
  const mutation = fc.array(fc.tuple(fc.nat(), fc.oneof(interesting, fc.integer({ min: 0, max: 255 }))), { minLength: 1, maxLength: 6 });
  const check = (buf: Buffer): void => {
    for (const parse of [
      () => parseRequestHead(buf, 0, buf.length, DEFAULT_LIMITS),
      () => parseResponseHead(buf, 0, buf.length, DEFAULT_LIMITS, 'GET'),
      () => new ChunkedScanner().scan(buf, 0, buf.length),
    ]) {
      try {
        const r = parse();
        if (typeof r === 'number') assert.ok(r === -1 || (r > 0 && r <= buf.length));
        else if (r !== null) assert.ok(r.headEnd > 0 && r.headEnd <= buf.length);
      } catch (err) {
        assert.ok(isParseError(err), `unexpected ${String(err)}`);
      }
    }
  };
  fc.assert(
    fc.property(fc.constantFrom(valid, response), mutation, (base, muts) => {
      const buf = Buffer.from(base);
      for (const [at, byte] of muts) buf[at % buf.length] = byte;
      check(buf);
    }),
    { numRuns: 1500 },
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => check(Buffer.from(bytes))), { numRuns: 1000 });
});

const extension = fc.array(
  fc.tuple(token(8), fc.option(fc.oneof(token(8), fc.string({ unit: fc.constantFrom(...VCHARS.filter((c) => c !== '"' && c !== '\\'), ' '), maxLength: 10 }).map((s) => `"${s}"`)))),
  { maxLength: 3 },
).map((exts) => exts.map(([n, v]) => `;${n}${v === null ? '' : `=${v}`}`).join(''));

test('property: generated chunked bodies fed in random splits end exactly at their length', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 1, max: 600 }), extension, fc.boolean()), { maxLength: 8 }),
      extension,
      fc.array(fc.record({ name: token(12), value: fieldValue }), { maxLength: 4 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (chunks, lastExt, trailers, cutSeeds) => {
        let body = '';
        for (const [size, ext, upper] of chunks) {
          const hex = size.toString(16);
          body += `${upper ? hex.toUpperCase() : hex}${ext}\r\n${'d'.repeat(size)}\r\n`;
        }
        body += `0${lastExt}\r\n` + trailers.map((t) => `${t.name}: ${t.value}\r\n`).join('') + '\r\n';
        const buf = Buffer.from(body + '0\r\n\r\nNEXT', 'latin1');
        const cuts = [...new Set(cutSeeds.map((c) => c % body.length))].sort((a, b) => a - b);
        const sc = new ChunkedScanner();
        let from = 0;
        for (const cut of cuts) {
          assert.equal(sc.scan(buf, from, cut), -1);
          from = cut;
        }
        assert.equal(sc.scan(buf, from, buf.length), body.length);
      },
    ),
    { numRuns: 400 },
  );
});

test('property: HEAD, 1xx, 204 and 304 responses have no body; others without CL/TE run until close', () => {
  const other = fc.integer({ min: 200, max: 599 }).filter((s) => s !== 204 && s !== 304);
  const extra = fc.array(fc.record({ name: fieldName, value: fieldValue }), { maxLength: 5 });
  const head = (status: number, fields: { name: string; value: string }[], framing: string): Buffer =>
    Buffer.from(`HTTP/1.1 ${status} Reason\r\n${framing}` + fields.map((f) => `${f.name}: ${f.value}\r\n`).join('') + '\r\n', 'latin1');
  const framing = fc.constantFrom('', 'Content-Length: 12\r\n', 'Transfer-Encoding: chunked\r\n');
  fc.assert(
    fc.property(fc.oneof(fc.integer({ min: 100, max: 199 }), fc.constantFrom(204, 304)), extra, framing, (status, fields, fr) => {
      const buf = head(status, fields, fr);
      const r = parseResponseHead(buf, 0, buf.length, DEFAULT_LIMITS, 'GET')!;
      assert.equal(r.status, status);
      assert.equal(r.noBody, true);
      assert.equal(r.untilClose, false);
    }),
    { numRuns: 200 },
  );
  fc.assert(
    fc.property(other, extra, framing, (status, fields, fr) => {
      const buf = head(status, fields, fr);
      const h = parseResponseHead(buf, 0, buf.length, DEFAULT_LIMITS, 'HEAD')!;
      assert.equal(h.noBody, true);
      assert.equal(h.untilClose, false);
      const g = parseResponseHead(buf, 0, buf.length, DEFAULT_LIMITS, 'GET')!;
      assert.equal(g.noBody, false);
      assert.equal(g.untilClose, fr === '');
      assert.equal(g.keepAlive, fr !== '');
      assert.equal(g.chunked, fr.startsWith('Transfer'));
      assert.equal(g.contentLength, fr.startsWith('Content') ? 12 : -1);
    }),
    { numRuns: 300 },
  );
});
