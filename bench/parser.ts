/**
 * Micro-benchmark of the HTTP/1.1 head parser and chunked scanner (src/l7/http1/).
 * Prints heads/s and ns/head for a typical 8-header browser request and a 5-header response,
 * and MB/s for scanning a chunked body. Run: `node bench/parser.ts [iterations]` (default 1e6).
 * Figures are the best and the median of 7 rounds after a warm-up (the best is the least disturbed
 * by other load on the machine); absolute numbers drift between machines.
 */
import { parseRequestHead, parseResponseHead, ChunkedScanner, DEFAULT_LIMITS } from '../src/l7/http1/parser.ts';

const REQUEST = Buffer.from(
  'GET /api/v1/items?page=2&sort=desc HTTP/1.1\r\n' +
    'Host: www.example.com\r\n' +
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n' +
    'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n' +
    'Accept-Encoding: gzip, deflate, br, zstd\r\n' +
    'Accept-Language: en-US,en;q=0.9\r\n' +
    'Cookie: session=6f1c2a9e0b7d4c3e8a5f; theme=dark\r\n' +
    'Referer: https://www.example.com/items\r\n' +
    'Connection: keep-alive\r\n' +
    '\r\n',
  'latin1',
);

const RESPONSE = Buffer.from(
  'HTTP/1.1 200 OK\r\n' +
    'Content-Type: text/html; charset=utf-8\r\n' +
    'Content-Length: 5120\r\n' +
    'Date: Tue, 14 May 2024 10:00:00 GMT\r\n' +
    'Server: backend\r\n' +
    'Connection: keep-alive\r\n' +
    '\r\n',
  'latin1',
);

function chunkedBody(chunks: number, size: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < chunks; i++) parts.push(Buffer.from(`${size.toString(16)}\r\n`), Buffer.alloc(size, 0x61), Buffer.from('\r\n'));
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/** Runs `fn` `n` times per round; returns [best, median] ns per call over 7 rounds. */
function measure(n: number, fn: () => number): [number, number] {
  let sink = 0;
  for (let i = 0; i < Math.min(n, 200_000); i++) sink += fn(); // warm-up
  const rounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += fn();
    rounds.push(Number(process.hrtime.bigint() - t0) / n);
  }
  if (sink === 42) console.log(''); // keep the results alive
  rounds.sort((a, b) => a - b);
  return [rounds[0], rounds[3]];
}

const n = Number(process.argv[2] ?? 1_000_000);
const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
const rate = ([best, med]: [number, number]): string =>
  `${fmt(1e9 / best)} heads/s (${best.toFixed(0)} ns/head; median ${fmt(1e9 / med)} heads/s, ${med.toFixed(0)} ns)`;

const reqNs = measure(n, () => parseRequestHead(REQUEST, 0, REQUEST.length, DEFAULT_LIMITS)!.headEnd);
console.log(`request head  (${REQUEST.length} B, 8 fields): ${rate(reqNs)}`);

const resNs = measure(n, () => parseResponseHead(RESPONSE, 0, RESPONSE.length, DEFAULT_LIMITS, 'GET')!.headEnd);
console.log(`response head (${RESPONSE.length} B, 5 fields): ${rate(resNs)}`);

const body = chunkedBody(64, 1024);
const scanner = new ChunkedScanner();
const bodyNs = measure(Math.max(1, Math.floor(n / 10)), () => {
  scanner.reset();
  return scanner.scan(body, 0, body.length);
});
console.log(`chunked body  (${body.length} B, 64 × 1 KiB): ${fmt((body.length / bodyNs[0]) * 1e3)} MB/s (${bodyNs[0].toFixed(0)} ns/body)`);
