/**
 * End-to-end: routing decisions, Fulcrum-generated errors (404/502/503/504 with stable codes, see
 * src/core/errors.ts), strict request parsing (RFC 9112 §2.2, §3, §5, §6.1–§6.3, §7.1) rejected
 * before any byte reaches a backend, the header read deadline against slowloris, and graceful
 * shutdown on SIGTERM. Runs a real Fulcrum child process.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { readdirSync } from 'node:fs';
import { adminGet, startFulcrum, type FulcrumProcess } from './helpers/fulcrum.ts';
import {
  headerOf, okResponse, parseResponses, RawConn, request, sendRaw, sleep, startHttpBackend, startRawBackend,
  type Message, type RawBackend,
} from './helpers/backends.ts';

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 404: 'Not Found', 408: 'Request Timeout', 414: 'URI Too Long',
  431: 'Request Header Fields Too Large', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout',
};

/** The exact response Fulcrum generates for an error (keepAlive false adds Connection: close). */
function errorBytes(status: number, code: string, keepAlive: boolean): string {
  const body = `${status} ${STATUS_TEXT[status]}: ${code}\n`;
  return `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${body.length}\r\nX-Fulcrum-Error: ${code}\r\n${keepAlive ? '' : 'Connection: close\r\n'}\r\n${body}`;
}

/** Open file descriptors of a process (Linux /proc). */
function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** A port on 127.0.0.1 with nothing listening (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('e2e routing and upstream errors', () => {
  const names = ['exact', 'wild', 'pexact', 'regex', 'method', 'header', 'query', 'cookie', 's90', 's10', 'prefix', 'first', 'second'];
  const backends = new Map<string, RawBackend>();
  let silent: RawBackend;
  let reset: RawBackend;
  let garbage: RawBackend;
  let f: FulcrumProcess;
  let port = 0;

  before(async () => {
    for (const n of names) backends.set(n, await startRawBackend(() => okResponse(n)));
    silent = await startRawBackend(() => null); // never answers
    reset = await startRawBackend((_req, conn) => { conn.socket.resetAndDestroy(); return null; });
    garbage = await startRawBackend(() => 'HTTP/1.1 2OO OK\r\n\r\n');
    const dead = await deadPort();
    const pool = (n: string) => ({ name: n, servers: [{ address: backends.get(n)!.address }] });
    f = await startFulcrum({
      admin: { listen: '127.0.0.1:0' },
      listeners: [{
        name: 'web', listen: '127.0.0.1:0',
        routes: [
          { name: 'exact', match: { host: 'api.test' }, pool: 'exact' },
          { name: 'wild', match: { host: '*.wild.test' }, pool: 'wild' },
          { match: { path: { exact: '/exact' } }, pool: 'pexact' },
          { match: { path: { regex: '^/re/[0-9]+$' } }, pool: 'regex' },
          { match: { path: { prefix: '/m/' }, method: ['delete', 'PUT'] }, pool: 'method' },
          { match: { path: { prefix: '/h/' }, headers: [{ name: 'X-Canary', exact: 'yes' }] }, pool: 'header' },
          { match: { path: { prefix: '/q/' }, query: [{ name: 'v', exact: '2' }] }, pool: 'query' },
          { match: { path: { prefix: '/c/' }, cookies: [{ name: 'session', present: true }] }, pool: 'cookie' },
          { match: { path: { prefix: '/split/' } }, split: [{ pool: 's90', weight: 90 }, { pool: 's10', weight: 10 }] },
          { match: { path: { prefix: '/first/' } }, pool: 'first' },
          { match: { path: { prefix: '/first/x' } }, pool: 'second' },
          { match: { path: { prefix: '/pfx' } }, pool: 'prefix' },
          { match: { path: { exact: '/err/503' } }, pool: 'drained' },
          { match: { path: { exact: '/err/502' } }, pool: 'dead' },
          { match: { path: { exact: '/err/reset' } }, pool: 'reset' },
          { match: { path: { exact: '/err/bad' } }, pool: 'garbage' },
          { match: { path: { prefix: '/err/504' } }, pool: 'silent' },
        ],
      }],
      pools: [
        ...names.map(pool),
        { name: 'drained', servers: [{ address: backends.get('exact')!.address, weight: 0 }] },
        { name: 'dead', servers: [{ address: `127.0.0.1:${dead}` }] },
        { name: 'reset', servers: [{ address: reset.address }] },
        { name: 'garbage', servers: [{ address: garbage.address }] },
        { name: 'silent', servers: [{ address: silent.address }], timeouts: { response: '400ms' } },
      ],
    });
    port = f.port('web');
  });
  after(async () => {
    const code = await f?.stop();
    for (const b of [...backends.values(), silent, reset, garbage]) await b?.close();
    assert.equal(code, 0);
  });

  async function routeOf(raw: string): Promise<string> {
    const res = await request(port, raw);
    return res.status === 200 ? res.body.toString() : `${res.status} ${headerOf(res, 'x-fulcrum-error')}`;
  }

  it('host: exact (port and case ignored) and wildcard (sub-domains only)', async () => {
    assert.equal(await routeOf('GET /any HTTP/1.1\r\nHost: API.test:8080\r\n\r\n'), 'exact');
    assert.equal(await routeOf('GET /any HTTP/1.1\r\nHost: a.b.wild.test\r\n\r\n'), 'wild');
    assert.equal(await routeOf('GET /any HTTP/1.1\r\nHost: wild.test\r\n\r\n'), '404 FULCRUM_E_NO_ROUTE');
    assert.equal(await routeOf('GET /any HTTP/1.1\r\nHost: other.test\r\n\r\n'), '404 FULCRUM_E_NO_ROUTE');
  });

  it('path: exact (query ignored), regex, prefix', async () => {
    assert.equal(await routeOf('GET /exact?x=1 HTTP/1.1\r\nHost: h\r\n\r\n'), 'pexact');
    assert.equal(await routeOf('GET /exact/ HTTP/1.1\r\nHost: h\r\n\r\n'), '404 FULCRUM_E_NO_ROUTE');
    assert.equal(await routeOf('GET /re/123 HTTP/1.1\r\nHost: h\r\n\r\n'), 'regex');
    assert.equal(await routeOf('GET /re/12a HTTP/1.1\r\nHost: h\r\n\r\n'), '404 FULCRUM_E_NO_ROUTE');
    assert.equal(await routeOf('GET /pfxanything HTTP/1.1\r\nHost: h\r\n\r\n'), 'prefix');
  });

  it('method, header, query and cookie conditions', async () => {
    assert.equal(await routeOf('DELETE /m/1 HTTP/1.1\r\nHost: h\r\n\r\n'), 'method');
    assert.equal(await routeOf('PUT /m/1 HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n'), 'method');
    assert.equal(await routeOf('GET /m/1 HTTP/1.1\r\nHost: h\r\n\r\n'), '404 FULCRUM_E_NO_ROUTE');
    assert.equal(await routeOf('GET /h/1 HTTP/1.1\r\nHost: h\r\nx-canary: yes\r\n\r\n'), 'header');
    assert.equal(await routeOf('GET /h/1 HTTP/1.1\r\nHost: h\r\nX-Canary: yes!\r\n\r\n'), '404 FULCRUM_E_NO_ROUTE');
    assert.equal(await routeOf('GET /q/1?a=1&v=2 HTTP/1.1\r\nHost: h\r\n\r\n'), 'query');
    assert.equal(await routeOf('GET /q/1?v=22 HTTP/1.1\r\nHost: h\r\n\r\n'), '404 FULCRUM_E_NO_ROUTE');
    assert.equal(await routeOf('GET /c/1 HTTP/1.1\r\nHost: h\r\nCookie: a=1; session=\r\n\r\n'), 'cookie');
    assert.equal(await routeOf('GET /c/1 HTTP/1.1\r\nHost: h\r\nCookie: sessionx=1\r\n\r\n'), '404 FULCRUM_E_NO_ROUTE');
  });

  it('a header or query condition holds when any occurrence of a repeated name matches (docs: ValueMatch)',
    async () => {
      assert.equal(await routeOf('GET /h/1 HTTP/1.1\r\nHost: h\r\nX-Canary: no\r\nX-Canary: yes\r\n\r\n'), 'header');
      assert.equal(await routeOf('GET /q/1?v=1&v=2 HTTP/1.1\r\nHost: h\r\n\r\n'), 'query');
    });

  it('first match wins', async () => {
    assert.equal(await routeOf('GET /first/x HTTP/1.1\r\nHost: h\r\n\r\n'), 'first');
  });

  it('a 90/10 split over 100 requests gives exactly 90/10', async () => {
    const c = await RawConn.open(port);
    const count = new Map<string, number>();
    try {
      for (let i = 0; i < 100; i++) {
        c.write(`GET /split/${i} HTTP/1.1\r\nHost: h\r\n\r\n`);
        const b = (await c.read()).body.toString();
        count.set(b, (count.get(b) ?? 0) + 1);
      }
    } finally {
      c.close();
    }
    assert.deepEqual(Object.fromEntries(count), { s90: 90, s10: 10 });
    assert.equal(backends.get('s90')!.requests.length, 90);
    assert.equal(backends.get('s10')!.requests.length, 10);
  });

  it('404 no route: exact bytes, and the keep-alive connection stays usable', async () => {
    const c = await RawConn.open(port);
    try {
      c.write('GET /nothing HTTP/1.1\r\nHost: h\r\n\r\n');
      const res = await c.read();
      assert.equal(Buffer.concat([res.head, res.body]).toString('latin1'), errorBytes(404, 'FULCRUM_E_NO_ROUTE', true));
      c.write('HEAD /nothing HTTP/1.1\r\nHost: h\r\n\r\n');
      const head = await c.read('HEAD');
      assert.equal(head.head.toString('latin1'), errorBytes(404, 'FULCRUM_E_NO_ROUTE', true).split('\r\n\r\n')[0] + '\r\n\r\n');
      assert.equal(head.body.length, 0);
      c.write('GET /exact HTTP/1.1\r\nHost: h\r\n\r\n');
      assert.equal((await c.read()).body.toString(), 'pexact');
    } finally {
      c.close();
    }
  });

  it('404 for a request with a body closes the connection (the body is not read)', async () => {
    const r = await sendRaw(port, 'POST /nothing HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789', { timeoutMs: 2000 });
    assert.equal(r.bytes.toString('latin1'), errorBytes(404, 'FULCRUM_E_NO_ROUTE', false));
    assert.equal(r.closed, true);
  });

  it('503 when the only server has weight 0', async () => {
    const res = await request(port, 'GET /err/503 HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.equal(Buffer.concat([res.head, res.body]).toString('latin1'), errorBytes(503, 'FULCRUM_E_NO_HEALTHY_UPSTREAM', true));
  });

  it('502 when nothing listens on the server port', async () => {
    const res = await request(port, 'GET /err/502 HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.equal(Buffer.concat([res.head, res.body]).toString('latin1'), errorBytes(502, 'FULCRUM_E_UPSTREAM_CONNECT', true));
  });

  it('502 when the server resets the connection before a response', async () => {
    const res = await request(port, 'GET /err/reset HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.equal(Buffer.concat([res.head, res.body]).toString('latin1'), errorBytes(502, 'FULCRUM_E_UPSTREAM_RESET', true));
    assert.equal(reset.requests.length, 1);
  });

  it('502 when the server answers with an invalid status line', async () => {
    const res = await request(port, 'GET /err/bad HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.equal(Buffer.concat([res.head, res.body]).toString('latin1'), errorBytes(502, 'FULCRUM_E_UPSTREAM_BAD_RESPONSE', true));
  });

  it('504 when the server does not answer within the response timeout (400 ms)', async () => {
    const t0 = performance.now();
    const res = await request(port, 'GET /err/504 HTTP/1.1\r\nHost: h\r\n\r\n');
    const ms = performance.now() - t0;
    assert.equal(Buffer.concat([res.head, res.body]).toString('latin1'), errorBytes(504, 'FULCRUM_E_UPSTREAM_TIMEOUT', true));
    assert.ok(ms >= 380 && ms < 1500, `504 after ${ms.toFixed(0)} ms`);
    const hr = await request(port, 'HEAD /err/504b HTTP/1.1\r\nHost: h\r\n\r\n', 'HEAD');
    assert.equal(hr.status, 504);
    assert.equal(hr.body.length, 0);
  });

  it('the admin API counts requests and errors per endpoint', async () => {
    const { status, body } = await adminGet(f.adminPort, '/api/v1/pools');
    assert.equal(status, 200);
    const pools = (JSON.parse(body) as { pools: { name: string; endpoints: { requests: number; errors: number; inFlight: number }[] }[] }).pools;
    const dead = pools.find((p) => p.name === 'dead')!.endpoints[0];
    assert.deepEqual([dead.requests, dead.errors, dead.inFlight], [1, 1, 0]);
    const s90 = pools.find((p) => p.name === 's90')!.endpoints[0];
    assert.deepEqual([s90.requests, s90.errors, s90.inFlight], [90, 0, 0]);
  });
});

describe('e2e request parser rejections', () => {
  let be: RawBackend;
  let f: FulcrumProcess;
  before(async () => {
    be = await startRawBackend(() => okResponse('must not be reached'));
    f = await startFulcrum({
      admin: { listen: '127.0.0.1:0' },
      listeners: [{ name: 'web', listen: '127.0.0.1:0', routes: [{ pool: 'p' }] }],
      pools: [{ name: 'p', servers: [{ address: be.address }] }],
    });
  });
  after(async () => {
    const code = await f?.stop();
    await be?.close();
    assert.equal(code, 0);
  });

  const H = 'GET / HTTP/1.1\r\nHost: h\r\n';
  const cases: [string, string | Buffer, number, string][] = [
    ['bare LF', 'GET / HTTP/1.1\nHost: h\n\n', 400, 'FULCRUM_E_BAD_REQUEST'],
    ['bare LF in the header section', 'GET / HTTP/1.1\r\nHost: h\nX: 1\r\n\r\n', 400, 'FULCRUM_E_BAD_REQUEST'],
    ['obs-fold', H + 'X-A: 1\r\n  folded\r\n\r\n', 400, 'FULCRUM_E_BAD_REQUEST'],
    ['space before colon', 'GET / HTTP/1.1\r\nHost : h\r\n\r\n', 400, 'FULCRUM_E_BAD_REQUEST'],
    ['bad token char in a field name', H + 'X(A): 1\r\n\r\n', 400, 'FULCRUM_E_BAD_REQUEST'],
    ['NUL in a field value', H + 'X-A: a\x00b\r\n\r\n', 400, 'FULCRUM_E_BAD_REQUEST'],
    ['bad token char in the method', 'G(T / HTTP/1.1\r\nHost: h\r\n\r\n', 400, 'FULCRUM_E_BAD_REQUEST'],
    ['HTTP/2.0 version', 'GET / HTTP/2.0\r\nHost: h\r\n\r\n', 400, 'FULCRUM_E_BAD_REQUEST'],
    ['Content-Length with Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'FULCRUM_E_BAD_REQUEST'],
    ['differing duplicate Content-Length', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!', 400, 'FULCRUM_E_BAD_REQUEST'],
    ['differing Content-Length list', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\nhello!', 400, 'FULCRUM_E_BAD_REQUEST'],
    ['non-numeric Content-Length', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello', 400, 'FULCRUM_E_BAD_REQUEST'],
    ['Transfer-Encoding whose final coding is not chunked', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', 400, 'FULCRUM_E_BAD_REQUEST'],
    ['chunked applied twice', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n', 400, 'FULCRUM_E_BAD_REQUEST'],
    ['Transfer-Encoding in HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'FULCRUM_E_BAD_REQUEST'],
    ['unimplemented transfer coding before chunked', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', 501, 'FULCRUM_E_NOT_IMPLEMENTED'],
    ['bad chunk size', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n', 400, 'FULCRUM_E_BAD_REQUEST'],
    ['chunk data longer than its size', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n', 400, 'FULCRUM_E_BAD_REQUEST'],
    ['missing Host in HTTP/1.1', 'GET / HTTP/1.1\r\nX: 1\r\n\r\n', 400, 'FULCRUM_E_BAD_REQUEST'],
    ['two Host fields', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400, 'FULCRUM_E_BAD_REQUEST'],
    ['request line longer than 8 KiB', `GET /${'a'.repeat(8200)} HTTP/1.1\r\nHost: h\r\n\r\n`, 414, 'FULCRUM_E_URI_TOO_LONG'],
    ['more than 100 header fields', H + Array.from({ length: 101 }, (_, i) => `X-F${i}: v\r\n`).join('') + '\r\n', 431, 'FULCRUM_E_HEADERS_TOO_LARGE'],
    ['header section larger than 32 KiB', H + `X-Big: ${'b'.repeat(33 * 1024)}\r\n\r\n`, 431, 'FULCRUM_E_HEADERS_TOO_LARGE'],
  ];

  for (const [name, raw, status, code] of cases) {
    it(`${name} → ${status} ${code}, connection closed, backend untouched`, async () => {
      const before = be.totalBytes();
      const r = await sendRaw(f.port('web'), raw, { timeoutMs: 3000 });
      assert.equal(r.bytes.toString('latin1'), errorBytes(status, code, false));
      assert.equal(r.closed, true, 'connection closed by Fulcrum');
      await sleep(20);
      assert.equal(be.totalBytes() - before, 0, 'backend received no bytes');
    });
  }

  it('a request line of exactly 8192 bytes is accepted', async () => {
    const line = `GET /${'a'.repeat(8192 - 'GET / HTTP/1.1'.length)} HTTP/1.1`;
    assert.equal(line.length, 8192);
    const res = await request(f.port('web'), `${line}\r\nHost: h\r\n\r\n`);
    assert.equal(res.status, 200);
    assert.equal(be.requests.at(-1)!.startLine, line);
  });

  it('no backend request was forwarded by any rejected case', () => {
    assert.equal(be.requests.length, 1); // only the accepted 8192-byte request line
  });
});

describe('e2e header timeout (slowloris)', () => {
  it('a head sent one byte per second gets 408 after the 3 s header timeout and is closed', async () => {
    const be = await startRawBackend(() => okResponse('no'));
    const f = await startFulcrum({
      admin: { listen: '127.0.0.1:0' },
      listeners: [{ name: 'web', listen: '127.0.0.1:0', timeouts: { header: '3s' }, routes: [{ pool: 'p' }] }],
      pools: [{ name: 'p', servers: [{ address: be.address }] }],
    });
    try {
      const head = 'GET /slowloris HTTP/1.1\r\nHost: h\r\n\r\n';
      const pieces = [...head].flatMap((ch) => [ch, { delayMs: 1000 }]);
      const r = await sendRaw(f.port('web'), pieces, { timeoutMs: 8000 });
      assert.equal(r.closed, true);
      assert.ok(r.elapsedMs >= 2500 && r.elapsedMs <= 6000, `closed after ${r.elapsedMs.toFixed(0)} ms`);
      assert.equal(r.bytes.toString('latin1'), errorBytes(408, 'FULCRUM_E_HEADER_TIMEOUT', false));
      assert.equal(be.totalBytes(), 0);
    } finally {
      assert.equal(await f.stop(), 0);
      await be.close();
    }
  });
});

describe('e2e graceful shutdown', () => {
  it('SIGTERM: the in-flight slow response completes, new connections are refused, exit 0', async () => {
    const be = await startHttpBackend((req, res) => {
      req.resume();
      req.on('end', () => {
        const ms = req.url === '/slow' ? 1500 : 0;
        setTimeout(() => {
          const body = 'slow body '.repeat(1000);
          res.writeHead(200, { 'content-length': Buffer.byteLength(body) });
          res.end(body);
        }, ms);
      });
    });
    const f = await startFulcrum({
      admin: { listen: '127.0.0.1:0' },
      shutdown: { gracePeriod: '5s' },
      listeners: [{ name: 'web', listen: '127.0.0.1:0', routes: [{ pool: 'p' }] }],
      pools: [{ name: 'p', servers: [{ address: be.address }] }],
    });
    try {
      const port = f.port('web');
      // An idle keep-alive connection: Fulcrum closes it at SIGTERM.
      const idle = await RawConn.open(port);
      idle.write('GET /quick HTTP/1.1\r\nHost: h\r\n\r\n');
      assert.equal((await idle.read()).status, 200);

      const slow = await RawConn.open(port);
      const t0 = performance.now();
      slow.write('GET /slow HTTP/1.1\r\nHost: h\r\n\r\n');
      const pending = slow.read('GET', 6000);
      await sleep(300);
      f.proc.kill('SIGTERM');
      await sleep(200);
      const fresh = await sendRaw(port, 'GET /new HTTP/1.1\r\nHost: h\r\n\r\n', { timeoutMs: 2000 });
      assert.equal(fresh.error, 'ECONNREFUSED', `new connection after SIGTERM: error=${fresh.error} bytes=${fresh.bytes.length}`);
      assert.equal(fresh.bytes.length, 0);
      assert.equal(await idle.waitClosed(1000), true, 'idle keep-alive connection closed at SIGTERM');

      const res: Message = await pending;
      const ms = performance.now() - t0;
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), 'slow body '.repeat(1000));
      assert.equal(headerOf(res, 'connection'), 'close');
      assert.ok(ms >= 1400, `response after ${ms.toFixed(0)} ms`);
      assert.equal(await slow.waitClosed(1000), true);
      const code = await f.waitExit(3000); // already signalled (a second signal would force exit 1)
      assert.equal(code, 0);
      assert.ok(performance.now() - t0 < 3500, 'exited soon after the last response');
      slow.close();
      idle.close();
    } finally {
      if (!f.hasExited()) await f.stop('SIGKILL');
      await be.close();
    }
  });

  it('connections Fulcrum ends are released even when the client never closes its side',
    async () => {
      const be = await startRawBackend(() => okResponse('x'));
      const f = await startFulcrum({
        admin: { listen: '127.0.0.1:0' },
        shutdown: { gracePeriod: '3s' },
        listeners: [{ name: 'web', listen: '127.0.0.1:0', timeouts: { idle: '1s', header: '1s' }, routes: [{ pool: 'p' }] }],
        pools: [{ name: 'p', servers: [{ address: be.address }] }],
      });
      const conns: RawConn[] = [];
      try {
        const warm = await request(f.port('web'), 'GET / HTTP/1.1\r\nHost: h\r\n\r\n');
        assert.equal(warm.status, 200);
        await sleep(100);
        const baseline = fdCount(f.pid);
        for (let i = 0; i < 20; i++) {
          const c = await RawConn.open(f.port('web'), undefined, true);
          c.write('GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
          assert.equal((await c.read()).status, 200);
          conns.push(c);
        }
        const idle = await RawConn.open(f.port('web'), undefined, true); // never sends anything
        conns.push(idle);
        await sleep(2500);
        const leaked = fdCount(f.pid) - baseline;
        const t0 = performance.now();
        f.proc.kill('SIGTERM');
        assert.equal(await f.waitExit(6000), 0);
        const shutdownMs = performance.now() - t0;
        assert.ok(leaked <= 2, `${leaked} file descriptors still held 2.5 s after the responses (idle timeout 1 s)`);
        assert.ok(shutdownMs < 2000, `shutdown took ${shutdownMs.toFixed(0)} ms with half-open clients`);
      } finally {
        for (const c of conns) c.close();
        if (!f.hasExited()) await f.stop('SIGKILL');
        await be.close();
      }
    });

  it('an invalid config exits 1 with the problem on stderr', async () => {
    await assert.rejects(
      startFulcrum({ listeners: [{ name: 'web', listen: '127.0.0.1:0', routes: [{ pool: 'nope' }] }], pools: [{ name: 'p', servers: [{ address: '127.0.0.1' }] }] }),
      (e: Error) => /exited with 1/.test(e.message) && /pools\[0\]\.servers\[0\]\.address/.test(e.message) && /unknown pool "nope"|nope/.test(e.message),
    );
  });
});

void parseResponses;
