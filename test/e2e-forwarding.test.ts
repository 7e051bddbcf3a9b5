/**
 * End-to-end: Fulcrum's HTTP/1.1 data path forwards requests and responses byte-exactly (RFC 9112),
 * removes hop-by-hop fields in both directions (RFC 9110 §7.6.1), re-frames close-delimited
 * responses, sets X-Forwarded-* / Forwarded (RFC 7239) by trust, serves pipelined requests in order
 * and reuses upstream keep-alive connections. Runs a real Fulcrum child process against raw backends.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startFulcrum, simpleConfig, type FulcrumProcess } from './helpers/fulcrum.ts';
import {
  headerOf, headersOf, okResponse, parseMessage, parseResponses, RawConn, request, sendRaw, sleep, startRawBackend,
  type Message, type RawBackend,
} from './helpers/backends.ts';

/** A deterministic body of n bytes (all byte values occur). */
function body(n: number, seed = 7): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** Raw request bytes the main backend received, echoed back as the response body. */
function echo(req: Message): Buffer {
  const raw = Buffer.concat([req.head, req.rawBody]);
  return Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${raw.length}\r\n\r\n`, 'latin1'), raw]);
}

/** Backend behaviour by path: /resp/* give particular response framings, anything else echoes. */
function mainReply(req: Message): ReturnType<Parameters<typeof startRawBackend>[0]> {
  const path = req.target.split('?')[0];
  switch (path) {
    case '/resp/cl':
      return 'HTTP/1.1 200 OK\r\nX-B: 1\r\ncontent-type: text/plain\r\nX-b: 2\r\nContent-Length: 11\r\n\r\nhello world';
    case '/resp/chunked':
      return 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-After: yes\r\n\r\n' +
        '5;ext=1\r\nhello\r\n1\r\n \r\n5;a="q s"\r\nworld\r\n0\r\nX-Trailer: t1\r\n\r\n';
    case '/resp/close':
      return { data: 'HTTP/1.1 200 OK\r\nX-Close: 1\r\n\r\nclose-delimited body', close: true };
    case '/resp/head':
      return 'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nETag: "h"\r\n\r\n';
    case '/resp/204':
      return 'HTTP/1.1 204 No Content\r\nX-R: 204\r\n\r\n';
    case '/resp/304':
      return 'HTTP/1.1 304 Not Modified\r\nETag: "abc"\r\nContent-Length: 99\r\n\r\n';
    case '/resp/103':
      return 'HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    case '/resp/hop':
      return 'HTTP/1.1 200 OK\r\nConnection: X-Resp-Hop, keep-alive\r\nX-Resp-Hop: 1\r\nKeep-Alive: timeout=1\r\n' +
        'Proxy-Authenticate: Basic\r\nTrailer: X-T\r\nUpgrade: h2c\r\nProxy-Connection: keep-alive\r\nX-Keep: yes\r\nContent-Length: 2\r\n\r\nok';
    case '/slow':
      return { data: okResponse('slow'), delayMs: 150 };
    default:
      return echo(req);
  }
}

/** Splits `upstream` echo into head fields (after the request line) for readable assertions. */
function upstreamOf(res: Message): Message {
  const m = parseMessage(res.body, 0, { response: false });
  assert.ok(m, `echo body is not a request: ${res.body.toString('latin1')}`);
  return m;
}

const FWD = (ip: string, host: string) =>
  `X-Forwarded-For: ${ip}\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: ${host}\r\nForwarded: for=${ip};host=${host};proto=http\r\n`;

describe('e2e forwarding', () => {
  let be: RawBackend;
  let f: FulcrumProcess;
  let web = 0;
  let plain = 0;

  before(async () => {
    be = await startRawBackend(mainReply);
    f = await startFulcrum({
      admin: { listen: '127.0.0.1:0' },
      listeners: [
        { name: 'web', listen: '127.0.0.1:0', trustedProxies: ['127.0.0.1'], routes: [{ pool: 'main' }] },
        { name: 'plain', listen: '127.0.0.1:0', xForwarded: false, via: true, routes: [{ pool: 'main' }] },
      ],
      pools: [{ name: 'main', servers: [{ address: be.address }] }],
    });
    web = f.port('web');
    plain = f.port('plain');
  });
  after(async () => {
    const code = await f?.stop();
    await be?.close();
    assert.equal(code, 0);
  });

  it('forwards method, target, header names/values/order and a Content-Length body byte-exactly', async () => {
    const target = '/p%2Fq/a+b;m=1?x=%2F&x=2&y=a+b&z=%zz&&empty=&%E2%82%AC=~';
    const req = `PATCH ${target} HTTP/1.1\r\nHost: example.test\r\nX-Lower: v\r\nx-MiXeD-Case:  padded value \t\r\n` +
      `X-Dup: 1\r\nAccept: */*\r\nX-Dup: 2\r\nX-Latin: caf\xe9\r\nX-Empty:\r\nContent-Length: 5\r\n\r\nhello`;
    // Sent from 127.0.0.2: not a trusted proxy of listener web.
    const res = await request(web, req, 'PATCH', '127.0.0.2');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString('latin1'),
      `PATCH ${target} HTTP/1.1\r\nHost: example.test\r\nX-Lower: v\r\nx-MiXeD-Case: padded value\r\n` +
      `X-Dup: 1\r\nAccept: */*\r\nX-Dup: 2\r\nX-Latin: caf\xe9\r\nX-Empty: \r\nContent-Length: 5\r\n` +
      FWD('127.0.0.2', 'example.test') + '\r\nhello');
  });

  it('forwards odd methods and an absolute-form-free OPTIONS *', async () => {
    const res = await request(plain, 'OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n', 'OPTIONS');
    assert.equal(res.body.toString('latin1'), 'OPTIONS * HTTP/1.1\r\nHost: h\r\nVia: 1.1 fulcrum\r\n\r\n');
    const res2 = await request(plain, 'M-SEARCH /x HTTP/1.1\r\nHost: h\r\n\r\n', 'M-SEARCH');
    assert.equal(res2.body.toString('latin1'), 'M-SEARCH /x HTTP/1.1\r\nHost: h\r\nVia: 1.1 fulcrum\r\n\r\n');
  });

  for (const n of [0, 1, 100 * 1024]) {
    it(`forwards a ${n} B Content-Length body unchanged`, async () => {
      const b = body(n);
      const res = await request(plain, Buffer.concat([Buffer.from(`POST /cl HTTP/1.1\r\nHost: h\r\nContent-Length: ${n}\r\n\r\n`), b]), 'POST');
      const up = upstreamOf(res);
      assert.equal(up.head.toString('latin1'), `POST /cl HTTP/1.1\r\nHost: h\r\nContent-Length: ${n}\r\nVia: 1.1 fulcrum\r\n\r\n`);
      assert.equal(up.body.length, n);
      assert.ok(up.body.equals(b));
    });
  }

  for (const n of [0, 1, 100 * 1024]) {
    it(`forwards a ${n} B chunked body with extensions and trailers byte-exactly`, async () => {
      const b = body(n, n + 1);
      const parts: Buffer[] = [];
      let off = 0;
      const sizes = [1, 7, 4096, 10_000, 65_536];
      for (let i = 0; off < n && i < 1000; i++) {
        const k = Math.min(sizes[i % sizes.length], n - off);
        const ext = i % 2 === 0 ? `;e${i}=v` : `; q="a \\"b\\""`;
        parts.push(Buffer.from(k.toString(16) + ext + '\r\n'), b.subarray(off, off + k), Buffer.from('\r\n'));
        off += k;
      }
      parts.push(Buffer.from('0;last\r\nX-Trailer-One: 1\r\nx-checksum: abc\r\n\r\n'));
      const raw = Buffer.concat(parts);
      const res = await request(plain, Buffer.concat([
        Buffer.from('POST /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n'), raw,
      ]), 'POST');
      const up = upstreamOf(res);
      assert.equal(up.head.toString('latin1'), 'POST /chunked HTTP/1.1\r\nHost: h\r\nVia: 1.1 fulcrum\r\nTransfer-Encoding: chunked\r\n\r\n');
      assert.ok(up.rawBody.equals(raw), 'chunked framing forwarded as received');
      assert.ok(up.body.equals(b));
      assert.deepEqual(up.trailers, [['X-Trailer-One', '1'], ['x-checksum', 'abc']]);
    });
  }

  it('forwards a body that arrives in many small pieces with pauses', async () => {
    const pieces = ['POST /slowbody HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n', { delayMs: 30 },
      '3\r\nab', { delayMs: 30 }, 'c\r\n', { delayMs: 30 }, '0\r\n', { delayMs: 30 }, '\r\n'];
    const r = await sendRaw(plain, pieces, { until: (b) => parseResponses(b, ['POST'], false).length === 1 });
    const [res] = parseResponses(r.bytes, ['POST'], false);
    assert.equal(upstreamOf(res).rawBody.toString('latin1'), '3\r\nabc\r\n0\r\n\r\n');
  });

  it('passes a Content-Length response through with its header order', async () => {
    const res = await request(plain, 'GET /resp/cl HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.equal(res.head.toString('latin1'),
      'HTTP/1.1 200 OK\r\nX-B: 1\r\ncontent-type: text/plain\r\nX-b: 2\r\nContent-Length: 11\r\nVia: 1.1 fulcrum\r\n\r\n');
    assert.equal(res.body.toString(), 'hello world');
  });

  it('passes a chunked response through as received (extensions, trailers)', async () => {
    const res = await request(web, 'GET /resp/chunked HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.equal(res.head.toString('latin1'), 'HTTP/1.1 200 OK\r\nX-After: yes\r\nTransfer-Encoding: chunked\r\n\r\n');
    assert.equal(res.rawBody.toString('latin1'), '5;ext=1\r\nhello\r\n1\r\n \r\n5;a="q s"\r\nworld\r\n0\r\nX-Trailer: t1\r\n\r\n');
  });

  it('re-chunks a close-delimited response for an HTTP/1.1 client and keeps the client connection', async () => {
    const c = await RawConn.open(web);
    try {
      c.write('GET /resp/close HTTP/1.1\r\nHost: h\r\n\r\n');
      const res = await c.read();
      assert.equal(res.framing, 'chunked');
      assert.equal(headerOf(res, 'x-close'), '1');
      assert.equal(headerOf(res, 'content-length'), undefined);
      assert.equal(res.body.toString(), 'close-delimited body');
      c.write('GET /resp/cl HTTP/1.1\r\nHost: h\r\n\r\n');
      const res2 = await c.read();
      assert.equal(res2.body.toString(), 'hello world');
    } finally {
      c.close();
    }
  });

  it('HEAD, 204, 304 and 103 responses: no body, and the connection stays usable', async () => {
    const c = await RawConn.open(web);
    try {
      c.write('HEAD /resp/head HTTP/1.1\r\nHost: h\r\n\r\n');
      const head = await c.read('HEAD');
      assert.equal(head.status, 200);
      assert.equal(headerOf(head, 'content-length'), '1234');
      assert.equal(head.body.length, 0);
      c.write('GET /resp/204 HTTP/1.1\r\nHost: h\r\n\r\n');
      const r204 = await c.read();
      assert.equal(r204.head.toString('latin1'), 'HTTP/1.1 204 No Content\r\nX-R: 204\r\n\r\n');
      c.write('GET /resp/304 HTTP/1.1\r\nHost: h\r\n\r\n');
      const r304 = await c.read();
      assert.equal(r304.head.toString('latin1'), 'HTTP/1.1 304 Not Modified\r\nETag: "abc"\r\nContent-Length: 99\r\n\r\n');
      c.write('GET /resp/103 HTTP/1.1\r\nHost: h\r\n\r\n');
      const r103 = await c.read('GET', 5000, true);
      assert.equal(r103.head.toString('latin1'), 'HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n');
      const r200 = await c.read();
      assert.equal(r200.body.toString(), 'ok');
      c.write('GET /resp/cl HTTP/1.1\r\nHost: h\r\n\r\n');
      assert.equal((await c.read()).body.toString(), 'hello world');
      assert.equal(c.rest().length, 0, 'no stray bytes after bodiless responses');
    } finally {
      c.close();
    }
  });

  it('HTTP/1.0 client: Host supplied upstream, Connection: close answered and the connection closed', async () => {
    const r = await sendRaw(web, 'GET /one HTTP/1.0\r\nUser-Agent: old\r\n\r\n', { timeoutMs: 3000 });
    assert.equal(r.closed, true);
    const [res] = parseResponses(r.bytes);
    assert.equal(headerOf(res, 'connection'), 'close');
    assert.equal(res.body.toString('latin1'),
      `GET /one HTTP/1.1\r\nUser-Agent: old\r\nHost: ${be.address}\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n` +
      'Forwarded: for=127.0.0.1;proto=http\r\n\r\n');
  });

  it('HTTP/1.0 client with keep-alive gets Connection: keep-alive and can send a second request', async () => {
    const c = await RawConn.open(plain);
    try {
      c.write('GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
      const r1 = await c.read();
      assert.equal(headerOf(r1, 'connection'), 'keep-alive');
      assert.equal(upstreamOf(r1).head.toString('latin1'), `GET /a HTTP/1.1\r\nHost: ${be.address}\r\nVia: 1.0 fulcrum\r\n\r\n`);
      c.write('GET /b HTTP/1.0\r\n\r\n');
      const r2 = await c.read();
      assert.equal(upstreamOf(r2).target, '/b');
      assert.equal(headerOf(r2, 'connection'), 'close');
      assert.equal(await c.waitClosed(2000), true);
    } finally {
      c.close();
    }
  });

  it('HTTP/1.0 client gets chunked and close-delimited responses as plain bytes delimited by close', async () => {
    for (const path of ['/resp/chunked', '/resp/close']) {
      const r = await sendRaw(web, `GET ${path} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n`, { timeoutMs: 3000 });
      assert.equal(r.closed, true, path);
      const [res] = parseResponses(r.bytes);
      assert.equal(res.framing, 'close', path);
      assert.equal(headerOf(res, 'transfer-encoding'), undefined);
      assert.equal(headerOf(res, 'connection'), 'close');
      assert.equal(res.body.toString(), path === '/resp/chunked' ? 'hello world' : 'close-delimited body');
    }
  });

  it('answers pipelined requests in order (slow first response)', async () => {
    const reqs = 'GET /slow HTTP/1.1\r\nHost: h\r\n\r\nGET /p2 HTTP/1.1\r\nHost: h\r\n\r\n' +
      'POST /p3 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /p4 HTTP/1.1\r\nHost: h\r\n\r\n';
    const r = await sendRaw(plain, reqs, { until: (b) => parseResponses(b, [], false).length === 4 });
    const res = parseResponses(r.bytes, [], false);
    assert.equal(res.length, 4);
    assert.equal(res[0].body.toString(), 'slow');
    assert.deepEqual(res.slice(1).map((m) => upstreamOf(m).target), ['/p2', '/p3', '/p4']);
    assert.equal(upstreamOf(res[2]).body.toString(), 'abc');
  });

  it('answers every pipelined request when the client half-closes after sending them', async () => {
    const reqs = 'GET /h1 HTTP/1.1\r\nHost: h\r\n\r\nGET /h2 HTTP/1.1\r\nHost: h\r\n\r\nGET /h3 HTTP/1.1\r\nHost: h\r\n\r\n';
    const r = await sendRaw(plain, reqs, { end: true, timeoutMs: 3000 });
    const res = parseResponses(r.bytes, [], false);
    assert.deepEqual(res.map((m) => upstreamOf(m).target), ['/h1', '/h2', '/h3']);
  });

  it('X-Forwarded-For / Forwarded from an untrusted peer (127.0.0.2) are replaced', async () => {
    const res = await request(web, 'GET /x HTTP/1.1\r\nHost: h.test\r\nX-Forwarded-For: 1.2.3.4\r\n' +
      'Forwarded: for=1.2.3.4\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\n\r\n', 'GET', '127.0.0.2');
    assert.equal(res.body.toString('latin1'), 'GET /x HTTP/1.1\r\nHost: h.test\r\n' + FWD('127.0.0.2', 'h.test') + '\r\n');
  });

  it('X-Forwarded-For / Forwarded from a trusted peer (127.0.0.1) are kept and appended to', async () => {
    const res = await request(web, 'GET /x HTTP/1.1\r\nHost: h.test\r\nX-Forwarded-For: 1.2.3.4\r\n' +
      'Forwarded: for=1.2.3.4\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: orig.test\r\nX-Forwarded-For: 5.6.7.8\r\n\r\n', 'GET', '127.0.0.1');
    assert.equal(res.body.toString('latin1'), 'GET /x HTTP/1.1\r\nHost: h.test\r\n' +
      'X-Forwarded-For: 1.2.3.4, 5.6.7.8, 127.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: orig.test\r\n' +
      'Forwarded: for=1.2.3.4, for=127.0.0.1;host=h.test;proto=http\r\n\r\n');
  });

  it('Forwarded host with a port is quoted (not a token)', async () => {
    const res = await request(web, 'GET /x HTTP/1.1\r\nHost: h.test:8080\r\n\r\n', 'GET', '127.0.0.2');
    assert.equal(headerOf(upstreamOf(res), 'forwarded'), 'for=127.0.0.2;host="h.test:8080";proto=http');
  });

  it('xForwarded: false leaves client forwarding fields alone; via: true extends Via both ways', async () => {
    const res = await request(plain, 'GET /x HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\nVia: 1.0 edge\r\n\r\n');
    assert.equal(res.body.toString('latin1'), 'GET /x HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\nVia: 1.0 edge, 1.1 fulcrum\r\n\r\n');
    assert.equal(headerOf(res, 'via'), '1.1 fulcrum');
  });

  it('removes hop-by-hop fields and fields named in Connection from the request', async () => {
    const res = await request(plain, 'GET /hop HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Hop, x-other\r\n' +
      'X-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X-T\r\n' +
      'Upgrade: foo\r\nProxy-Authorization: Basic eDp5\r\nX-Other: 2\r\nX-Keep: yes\r\nconnection: X-Late\r\nX-Late: 3\r\n\r\n');
    assert.equal(res.body.toString('latin1'), 'GET /hop HTTP/1.1\r\nHost: h\r\nX-Keep: yes\r\nVia: 1.1 fulcrum\r\n\r\n');
  });

  it('removes hop-by-hop fields and fields named in Connection from the response', async () => {
    const c = await RawConn.open(web);
    try {
      c.write('GET /resp/hop HTTP/1.1\r\nHost: h\r\n\r\n');
      const res = await c.read();
      assert.equal(res.head.toString('latin1'), 'HTTP/1.1 200 OK\r\nX-Keep: yes\r\nContent-Length: 2\r\n\r\n');
      c.write('GET /resp/cl HTTP/1.1\r\nHost: h\r\n\r\n');
      assert.equal((await c.read()).body.toString(), 'hello world');
    } finally {
      c.close();
    }
  });
});

describe('e2e upstream keep-alive', () => {
  it('50 sequential requests (one client connection and 25 fresh ones) use 1 upstream connection', async () => {
    const be = await startRawBackend(() => okResponse('k'));
    const f = await startFulcrum(simpleConfig([be.port]));
    try {
      const c = await RawConn.open(f.port('web'));
      for (let i = 0; i < 25; i++) {
        c.write(`GET /ka/${i} HTTP/1.1\r\nHost: h\r\n\r\n`);
        assert.equal((await c.read()).body.toString(), 'k');
      }
      c.close();
      for (let i = 25; i < 50; i++) {
        const res = await request(f.port('web'), `GET /ka/${i} HTTP/1.1\r\nHost: h\r\n\r\n`);
        assert.equal(res.status, 200);
      }
      assert.equal(be.requests.length, 50);
      assert.deepEqual(be.requests.map((r) => r.target), Array.from({ length: 50 }, (_, i) => `/ka/${i}`));
      assert.equal(be.conns.length, 1, 'backend saw one connection');
    } finally {
      assert.equal(await f.stop(), 0);
      await be.close();
    }
  });

  it('a backend that closes idle connections after 50 ms never causes a client-visible error', async () => {
    const be = await startRawBackend((req) => okResponse('idle:' + req.target), { idleCloseMs: 50 });
    const f = await startFulcrum(simpleConfig([be.port]));
    const failures: string[] = [];
    try {
      const gaps = [100, 40, 50, 60, 150, 45, 55, 200, 30, 70];
      for (let i = 0; i < 20; i++) {
        await sleep(gaps[i % gaps.length]);
        const method = i % 3 === 2 ? 'POST' : 'GET';
        const raw = method === 'POST'
          ? `POST /i/${i} HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody`
          : `GET /i/${i} HTTP/1.1\r\nHost: h\r\n\r\n`;
        const res = await request(f.port('web'), raw, method);
        if (res.status !== 200 || res.body.toString() !== `idle:/i/${i}`) {
          failures.push(`#${i} ${method} after ${gaps[i % gaps.length]} ms: ${res.status} ${headerOf(res, 'x-fulcrum-error') ?? ''}`);
        }
      }
      assert.deepEqual(failures, []);
      assert.ok(be.conns.length > 1, 'the backend did close idle connections');
    } finally {
      assert.equal(await f.stop(), 0);
      await be.close();
    }
  });
});

describe('e2e pipelining after a Fulcrum-generated answer', () => {
  it('a request pipelined behind a 404 in the same segment is answered', async () => {
    const be = await startRawBackend(() => okResponse('ok'));
    const f = await startFulcrum({
      admin: { listen: '127.0.0.1:0' },
      listeners: [{ name: 'web', listen: '127.0.0.1:0', routes: [{ match: { path: { prefix: '/ok' } }, pool: 'p' }] }],
      pools: [{ name: 'p', servers: [{ address: be.address }] }],
    });
    try {
      const r = await sendRaw(f.port('web'), 'GET /nope HTTP/1.1\r\nHost: h\r\n\r\nGET /ok HTTP/1.1\r\nHost: h\r\n\r\n',
        { until: (b) => parseResponses(b, [], false).length === 2, timeoutMs: 2000 });
      const res = parseResponses(r.bytes, [], false);
      assert.deepEqual(res.map((m) => m.status), [404, 200]);
      assert.deepEqual(headersOf(res[0], 'x-fulcrum-error'), ['FULCRUM_E_NO_ROUTE']);
    } finally {
      assert.equal(await f.stop(), 0);
      await be.close();
    }
  });
});
