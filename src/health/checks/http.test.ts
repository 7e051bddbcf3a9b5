// The `http` check against raw test servers on 127.0.0.1 that record the exact request bytes:
// status ranges, bodyContains (plain, length-framed, chunked), the Host header, `port`, interim 1xx,
// a server that never answers (timeout, socket closed), resets and closes, and TLS with a
// self-signed certificate made by openssl (SNI = the Host header's name).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig, formatProblems } from '../../config/index.ts';
import type { HealthCheckConfig } from '../../config/schema.ts';
import { getCheck } from './index.ts';
import { decodeChunked } from './http.ts';
import type { CheckResult, CheckTarget } from './types.ts';

function checkConfig(input: object): HealthCheckConfig {
  const r = validateConfig({
    listeners: [{ name: 'web', listen: '127.0.0.1:8080', routes: [{ pool: 'p' }] }],
    pools: [{ name: 'p', servers: [{ address: '127.0.0.1:1' }], healthCheck: input }],
  });
  if (!r.ok) throw new Error(formatProblems(r.problems));
  return r.config.pools[0].healthCheck!;
}

function target(port: number, host = '127.0.0.1'): CheckTarget {
  return { pool: 'p', address: `${host}:${port}`, host, port };
}

/** What a test server does with a complete request head: write these pieces (then close), or nothing. */
type Answer = ((req: string, socket: Socket) => void) | string[];

interface RawServer {
  port: number;
  /** Request heads received, one per connection. */
  requests: string[];
  accepted: number;
  closed: number;
  close(): Promise<void>;
}

async function rawServer(answer: Answer, tlsOptions?: { key: Buffer; cert: Buffer; sni: (string | false | null)[] }): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const onSocket = (s: Socket): void => {
    rs.accepted++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => { rs.closed++; sockets.delete(s); });
    if (tlsOptions !== undefined) tlsOptions.sni.push((s as TLSSocket).servername);
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0 || rs.requests.length >= rs.accepted) return;
      rs.requests.push(buf.slice(0, end + 4));
      if (typeof answer === 'function') return answer(buf, s);
      for (const piece of answer) s.write(piece, 'latin1');
      s.end();
    });
  };
  const server: Server = tlsOptions === undefined
    ? createServer(onSocket)
    : createTlsServer({ key: tlsOptions.key, cert: tlsOptions.cert }, onSocket);
  const rs: RawServer = {
    port: 0, requests: [], accepted: 0, closed: 0,
    async close() {
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    },
  };
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  rs.port = (server.address() as { port: number }).port;
  return rs;
}

async function waitFor(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (let i = 0; i < 10_000 && Date.now() < end; i++) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return pred();
}

const http = getCheck('http')!;
const never = new AbortController().signal;

/** Runs one http check of a server that answers `answer`; returns the result and the request head received. */
async function check(answer: Answer, cfg: object): Promise<{ r: CheckResult; request: string | undefined; port: number }> {
  const srv = await rawServer(answer);
  try {
    const r = await http.run(target(srv.port), checkConfig({ type: 'http', timeout: 1000, ...cfg }), never);
    return { r, request: srv.requests[0], port: srv.port };
  } finally {
    await srv.close();
  }
}

const resp = (status: string, body = '', extra = ''): string[] =>
  [`HTTP/1.1 ${status}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`];

test('http: a 200 passes, a 503 fails, with the request as the detail', async () => {
  const ok = await check(resp('200 OK', 'fine'), { http: { path: '/healthz' } });
  assert.deepEqual([ok.r.passed, ok.r.detail], [true, 'GET /healthz → 200']);
  const bad = await check(resp('503 Service Unavailable'), { http: { path: '/healthz' } });
  assert.deepEqual([bad.r.passed, bad.r.detail], [false, 'GET /healthz → 503']);
});

test('http: the request bytes — method, path, Host as written or as configured, Connection: close', async () => {
  const dflt = await check(resp('200 OK'), { http: { path: '/healthz?full=1' } });
  assert.equal(dflt.request, `GET /healthz?full=1 HTTP/1.1\r\nHost: 127.0.0.1:${dflt.port}\r\nUser-Agent: fulcrum-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n`);
  const named = await check(resp('200 OK'), { http: { method: 'head', host: 'health.example.com' } });
  assert.equal(named.request, 'HEAD / HTTP/1.1\r\nHost: health.example.com\r\nUser-Agent: fulcrum-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n');
  assert.equal(named.r.detail, 'HEAD / → 200');
  const post = await check(resp('200 OK'), { http: { method: 'POST', path: '/check' } });
  assert.match(post.request ?? '', /^POST \/check HTTP\/1\.1\r\n[^]*\r\nContent-Length: 0\r\nConnection: close\r\n\r\n$/);
  const bad = await check(resp('200 OK'), { http: { host: 'a\r\nX-Evil: 1' } });
  assert.deepEqual([bad.r.passed, bad.request], [false, undefined], 'a Host with CR LF is refused before connecting');
});

test('http: expectStatus ranges', async () => {
  const cfg = { http: { expectStatus: [200, '300-302'] } };
  const cases: [string, boolean][] = [['200 OK', true], ['301 Moved', true], ['302 Found', true], ['204 No Content', false], ['303 See Other', false], ['500 Oops', false]];
  for (const [status, pass] of cases) {
    const { r } = await check(resp(status), cfg);
    assert.equal(r.passed, pass, `${status}: ${r.detail}`);
    assert.equal(r.detail, `GET / → ${status.slice(0, 3)}`);
  }
  const dflt = await check(resp('399 Custom'), {});
  assert.equal(dflt.r.passed, true, 'default range 200-399');
  const over = await check(resp('400 Bad Request'), {});
  assert.equal(over.r.passed, false);
});

test('http: bodyContains over length-framed, close-delimited and chunked bodies', async () => {
  const cfg = { http: { path: '/healthz', bodyContains: 'ok' } };
  const found = await check(resp('200 OK', '{"status":"ok"}'), cfg);
  assert.deepEqual([found.r.passed, found.r.detail], [true, 'GET /healthz → 200']);
  const lacks = await check(resp('200 OK', '{"status":"down"}'), cfg);
  assert.deepEqual([lacks.r.passed, lacks.r.detail], [false, 'GET /healthz → 200 but body lacks "ok"']);
  const status = await check(resp('500 Oops', 'ok'), cfg);
  assert.deepEqual([status.r.passed, status.r.detail], [false, 'GET /healthz → 500'], 'the status is judged first');
  const beyondLength = await check([`HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnopeok`], cfg);
  assert.equal(beyondLength.r.passed, false, 'bytes past Content-Length are not body');
  const closeDelimited = await check(['HTTP/1.1 200 OK\r\n\r\nall ', 'ok'], cfg);
  assert.equal(closeDelimited.r.passed, true, closeDelimited.r.detail);
  // "o" and "k" in two chunks: found only when the chunk framing is removed.
  const chunked = await check(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', '4\r\nis o\r\n', '1;x=y\r\nk\r\n0\r\n\r\n'], cfg);
  assert.deepEqual([chunked.r.passed, chunked.r.detail], [true, 'GET /healthz → 200']);
  const chunkedLacks = await check(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nnot\r\n0\r\n\r\n'], cfg);
  assert.deepEqual([chunkedLacks.r.passed, chunkedLacks.r.detail], [false, 'GET /healthz → 200 but body lacks "ok"']);
  // Only the first 64 KiB count.
  const late = await check(resp('200 OK', `${'x'.repeat(64 * 1024)}ok`), cfg);
  assert.equal(late.r.passed, false, late.r.detail);
  const early = await check(resp('200 OK', `${'x'.repeat(64 * 1024 - 2)}ok`), cfg);
  assert.equal(early.r.passed, true, early.r.detail);
});

test('http: decodeChunked', () => {
  assert.deepEqual(decodeChunked(Buffer.from('2\r\nab\r\n1\r\nc\r\n0\r\n\r\n')), { body: Buffer.from('abc'), complete: true, bad: false });
  assert.deepEqual(decodeChunked(Buffer.from('4\r\nab')), { body: Buffer.from('ab'), complete: false, bad: false });
  assert.equal(decodeChunked(Buffer.from('zz\r\nab\r\n')).bad, true);
});

test('http: interim 1xx responses are skipped', async () => {
  const { r } = await check(['HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n', ...resp('204 No Content')], { http: { expectStatus: [204] } });
  assert.deepEqual([r.passed, r.detail], [true, 'GET / → 204']);
});

test('http: `port` is checked instead of the server port', async () => {
  const srv = await rawServer(resp('200 OK'));
  try {
    const r = await http.run(target(1), checkConfig({ type: 'http', port: srv.port, timeout: 1000 }), never);
    assert.deepEqual([r.passed, r.detail], [true, 'GET / → 200']);
    assert.equal(srv.requests[0], 'GET / HTTP/1.1\r\nHost: 127.0.0.1:1\r\nUser-Agent: fulcrum-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n',
      'the Host header stays the server address as written');
  } finally {
    await srv.close();
  }
});

test('http: a server that accepts but never answers fails with a timeout in time, and its connection is closed', async () => {
  const srv = await rawServer(() => {});
  try {
    const t0 = performance.now();
    const r = await http.run(target(srv.port), checkConfig({ type: 'http', timeout: 300, http: { path: '/healthz' } }), never);
    const took = performance.now() - t0;
    assert.deepEqual([r.passed, r.detail], [false, 'timeout after 300 ms']);
    assert.ok(took >= 290 && took < 300 + 200, `took ${took.toFixed(0)} ms`);
    assert.equal(srv.requests.length, 1, 'the request was sent');
    assert.ok(await waitFor(() => srv.closed === 1, 500), 'the check closed its connection');
  } finally {
    await srv.close();
  }
});

test('http: an abort ends a check in flight and closes its connection', async () => {
  const srv = await rawServer(() => {});
  try {
    const ac = new AbortController();
    const p = http.run(target(srv.port), checkConfig({ type: 'http', timeout: 5000 }), ac.signal);
    assert.ok(await waitFor(() => srv.requests.length === 1, 1000));
    const t0 = performance.now();
    ac.abort();
    const r = await p;
    assert.deepEqual([r.passed, r.detail], [false, 'aborted']);
    assert.ok(performance.now() - t0 < 100);
    assert.ok(await waitFor(() => srv.closed === 1, 500), 'the check closed its connection');
  } finally {
    await srv.close();
  }
});

test('http: refused, reset, closed without a response, not HTTP', async () => {
  const srv = await rawServer([]);
  const port = srv.port;
  await srv.close();
  const refused = await http.run(target(port), checkConfig({ type: 'http', timeout: 500 }), never);
  assert.deepEqual([refused.passed, refused.detail], [false, 'connect refused']);
  const reset = await check((_req, s) => s.resetAndDestroy(), {});
  assert.deepEqual([reset.r.passed, reset.r.detail], [false, 'connection reset']);
  const closed = await check([], { http: { path: '/healthz' } });
  assert.deepEqual([closed.r.passed, closed.r.detail], [false, 'GET /healthz → connection closed without a response']);
  const partial = await check(['HTTP/1.1 200 OK\r\nContent-'], {});
  assert.deepEqual([partial.r.passed, partial.r.detail], [false, 'GET / → connection closed mid-response']);
  const ssh = await check(['SSH-2.0-OpenSSH_9.6\r\n\r\n'], {});
  assert.deepEqual([ssh.r.passed, ssh.r.detail], [false, 'GET / → not an HTTP response']);
});

/** A self-signed certificate for CN=localhost in a temp dir, or null when openssl is missing. */
function selfSigned(): { key: Buffer; cert: Buffer } | null {
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-hc-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore', timeout: 20_000 });
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return null;
    throw err;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('http: tls against a self-signed certificate; SNI is the Host header name, none for an address', async (t) => {
  const pair = selfSigned();
  if (pair === null) {
    if (process.env.FULCRUM_TEST_STRICT === '1') assert.fail('openssl not found (package openssl)');
    t.skip('openssl not found: install the openssl package to run this test');
    return;
  }
  const sni: (string | false | null)[] = [];
  const srv = await rawServer(resp('200 OK', 'tls ok'), { ...pair, sni });
  try {
    const cfg = { type: 'http', timeout: 2000, http: { tls: true, path: '/healthz', bodyContains: 'tls ok' } };
    const r = await http.run(target(srv.port), checkConfig(cfg), never);
    assert.deepEqual([r.passed, r.detail], [true, 'GET /healthz → 200']);
    const named = await http.run(target(srv.port), checkConfig({ ...cfg, http: { ...cfg.http, host: 'localhost' } }), never);
    assert.deepEqual([named.passed, named.detail], [true, 'GET /healthz → 200']);
    assert.deepEqual(sni, [false, 'localhost']);
    assert.match(srv.requests[1], /\r\nHost: localhost\r\n/);
    // Plain HTTP against the TLS port fails.
    const plain = await http.run(target(srv.port), checkConfig({ type: 'http', timeout: 1000 }), never);
    assert.equal(plain.passed, false, plain.detail);
    assert.match(plain.detail, /^GET \/ → connection closed without a response$|^connection reset$/);
  } finally {
    await srv.close();
  }
  // TLS against a plain server (which answers the ClientHello with a 400) fails in the handshake.
  const plainSrv = createServer((s) => {
    s.on('error', () => {});
    s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
  });
  plainSrv.listen(0, '127.0.0.1');
  await once(plainSrv, 'listening');
  try {
    const port = (plainSrv.address() as { port: number }).port;
    const r = await http.run(target(port), checkConfig({ type: 'http', timeout: 1000, http: { tls: true } }), never);
    assert.equal(r.passed, false);
    assert.match(r.detail, /^TLS handshake failed: [A-Z_]+$/);
  } finally {
    plainSrv.close();
  }
});
