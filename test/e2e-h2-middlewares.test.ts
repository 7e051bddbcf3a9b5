// Route middlewares and session affinity for HTTP/2 clients (docs/http2.md, docs/middlewares.md,
// docs/affinity.md), end to end with a real Fulcrum process, node:http2 clients and curl
// --http2-prior-knowledge:
// - rate limit over h2c: burst then 429 with Retry-After / RateLimit-Policy / RateLimit (lowercase,
//   no connection-specific field); one bucket per key whether requests come over HTTP/1.1 or HTTP/2;
// - header rules both directions and path rewrite, over an HTTP/1.1 and an HTTP/2 upstream;
// - sticky insert: Set-Cookie on the first response, the pin honoured, the cookie stripped from
//   split `cookie` fields (RFC 9113 §8.2.3) before the backend, a forged pin re-balanced and re-pinned;
// - learned sessions: a backend's Set-Cookie JSESSIONID pins later HTTP/2 requests;
// - circuit breakers maxConnections / maxPending and the fulcrum_upstream_connections gauge for
//   streams, over HTTP/1.1 (agent sockets) and HTTP/2 (sessions) upstreams.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { connect as h2connect, createServer as createH2Server, type ClientHttp2Session, type Http2Server, type IncomingHttpHeaders } from 'node:http2';
import { setTimeout as sleep } from 'node:timers/promises';
import { adminGet, simpleConfig, startFulcrum, type FulcrumProcess } from './helpers/fulcrum.ts';
import { headerOf, request, startHttpBackend, type HttpBackend } from './helpers/backends.ts';
import { blackhole } from './helpers/blackhole.ts';

/** The machine may be busy with other suites: allow Fulcrum 30 s to start. */
const SLOW_START = { startTimeoutMs: 30_000 };
const STRICT = process.env.FULCRUM_TEST_STRICT === '1';
const HAVE_CURL = spawnSync('curl', ['--version']).status === 0;
const SKIP_CURL = !HAVE_CURL && !STRICT ? 'curl not found (Debian package curl)' : false;

const open: { stop?: () => Promise<unknown>; close?: () => Promise<unknown> }[] = [];
after(async () => {
  for (const o of open.reverse()) await (o.stop?.() ?? o.close?.());
});

/** What a backend saw of one request. */
interface Seen { id: string; method: string; url: string; headers: IncomingHttpHeaders; raw: string[] }

/**
 * node:http backend `id`: records each request; answers 200 with `x-backend: id`, `Server: secret`,
 * the extra response fields `extra(url)` gives, and the body `id`.
 */
async function httpBackend(id: string, seen: Seen[], extra: (url: string) => Record<string, string> = () => ({}), delayMs = 0): Promise<HttpBackend> {
  const b = await startHttpBackend((req, res) => {
    req.resume();
    req.on('end', () => setTimeout(() => {
      seen.push({ id, method: req.method ?? '', url: req.url ?? '', headers: req.headers, raw: req.rawHeaders });
      res.setHeader('x-backend', id);
      res.setHeader('server', 'secret');
      for (const [k, v] of Object.entries(extra(req.url ?? ''))) res.setHeader(k, v);
      res.end(id);
    }, delayMs));
  });
  open.push(b);
  return b;
}

/** node:http2 cleartext backend (prior knowledge), same behaviour as httpBackend; counts its sessions. */
async function h2Backend(id: string, seen: Seen[], delayMs = 0): Promise<{ port: number; sessions(): number }> {
  const srv: Http2Server = createH2Server();
  const live = new Set<{ destroy(): void }>();
  let sessions = 0;
  srv.on('session', (ss) => { sessions++; live.add(ss); ss.on('close', () => live.delete(ss)); });
  srv.on('stream', (st, h, _flags, raw: string[]) => {
    st.on('error', () => {});
    st.resume();
    st.on('end', () => setTimeout(() => {
      seen.push({ id, method: String(h[':method']), url: String(h[':path']), headers: h, raw });
      if (st.closed) return;
      st.respond({ ':status': 200, 'x-backend': id, server: 'secret' });
      st.end(id);
    }, delayMs));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  open.push({ close: () => new Promise<void>((r) => { srv.close(() => r()); for (const ss of live) ss.destroy(); }) });
  return { port: (srv.address() as { port: number }).port, sessions: () => sessions };
}

interface H2Result { headers: IncomingHttpHeaders; body: string }

/** One request on `s` (bounded by 10 s). */
function h2req(s: ClientHttp2Session, headers: Record<string, string | string[]>): Promise<H2Result> {
  return new Promise((resolve, reject) => {
    const st = s.request({ ':method': 'GET', ...headers }, { endStream: true });
    const timer = setTimeout(() => { st.close(); reject(new Error('h2 request timed out')); }, 10_000);
    let head: IncomingHttpHeaders = {};
    let body = '';
    st.setEncoding('utf8');
    st.on('response', (h) => { head = h; });
    st.on('data', (c: string) => { body += c; });
    st.on('error', () => {});
    st.on('close', () => {
      clearTimeout(timer);
      resolve({ headers: head, body });
    });
  });
}

function h2session(port: number): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = h2connect(`http://127.0.0.1:${port}`);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
    open.push({ close: () => new Promise<void>((r) => { if (s.closed || s.destroyed) r(); else s.close(() => r()); }) });
  });
}

/** Runs curl to its end (killed after 30 s). */
function curl(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn('curl', ['-sS', '-i', '--http2-prior-knowledge', '--max-time', '10', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('exit', (code) => { clearTimeout(t); resolve({ code, out, err }); });
  });
}

/** Fields that must never appear in an HTTP/2 header block (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'];

// ------------------------------------------------------------------------------------------ rate limit

test('rate limit over h2c: burst then 429 with Retry-After and RateLimit fields; one bucket for HTTP/1.1 and HTTP/2', { timeout: 90_000 }, async (t) => {
  const seen: Seen[] = [];
  const b = await httpBackend('a', seen);
  const f = await startFulcrum(simpleConfig([b.port], {
    listener: { routes: [{ name: 'api', pool: 'p', rateLimit: { key: 'header:X-Api-Key', rate: '6/m', burst: 3, policy: 'api' } }] },
  }), SLOW_START);
  open.push(f);
  const s = await h2session(f.port('web'));
  const statuses: number[] = [];
  let last: H2Result | null = null;
  for (let i = 0; i < 5; i++) {
    last = await h2req(s, { ':path': `/x/${i}`, 'x-api-key': 'k1' });
    statuses.push(Number(last.headers[':status']));
  }
  assert.deepEqual(statuses, [200, 200, 200, 429, 429], 'burst of 3, then refused');
  assert.equal(seen.length, 3, 'refused requests never reach the backend');
  const h = (last as H2Result).headers;
  assert.equal(h['x-fulcrum-error'], 'FULCRUM_E_RATE_LIMITED');
  const retry = Number(h['retry-after']);
  assert.ok(retry >= 1 && retry <= 20, `retry-after in whole seconds: ${h['retry-after']}`);
  assert.equal(h['ratelimit-policy'], '"api";q=6;w=60');
  assert.equal(h.ratelimit, `"api";r=0;t=${retry}`);
  assert.equal((last as H2Result).body, '429 Too Many Requests: FULCRUM_E_RATE_LIMITED\n');
  for (const name of CONNECTION_SPECIFIC) assert.equal(h[name], undefined, `no ${name} field on HTTP/2`);

  // The same key over HTTP/1.1 and HTTP/2 draws from one bucket: 2 over HTTP/1.1, 1 over HTTP/2,
  // then both protocols are refused.
  const h1 = (path: string) => request(f.port('web'), `GET ${path} HTTP/1.1\r\nHost: app.test\r\nX-Api-Key: k2\r\n\r\n`);
  assert.equal((await h1('/one')).status, 200);
  assert.equal((await h1('/two')).status, 200);
  assert.equal(Number((await h2req(s, { ':path': '/three', 'x-api-key': 'k2' })).headers[':status']), 200);
  assert.equal(Number((await h2req(s, { ':path': '/four', 'x-api-key': 'k2' })).headers[':status']), 429, 'HTTP/2 sees the HTTP/1.1 requests');
  const r1 = await h1('/five');
  assert.equal(r1.status, 429, 'HTTP/1.1 sees the HTTP/2 request');
  assert.equal(headerOf(r1, 'ratelimit-policy'), '"api";q=6;w=60');
  // Another key still has its burst.
  assert.equal(Number((await h2req(s, { ':path': '/other', 'x-api-key': 'k3' })).headers[':status']), 200);

  await t.test('curl --http2-prior-knowledge gets the 429 with its fields', { skip: SKIP_CURL }, async () => {
    const r = await curl(['-H', 'X-Api-Key: k1', `${f.url('web')}/curl`]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^HTTP\/2 429 \r\n/);
    assert.match(r.out, /\r\nretry-after: \d+\r\n/);
    assert.match(r.out, /\r\nratelimit-policy: "api";q=6;w=60\r\n/);
    assert.match(r.out, /\r\nratelimit: "api";r=0;t=\d+\r\n/);
    assert.match(r.out, /\r\nx-fulcrum-error: FULCRUM_E_RATE_LIMITED\r\n/);
    assert.ok(r.out.endsWith('429 Too Many Requests: FULCRUM_E_RATE_LIMITED\n'));
  });
});

// ------------------------------------------------------------------------------------------ header rules and rewrite

test('header rules both directions and path rewrite, HTTP/1.1 and HTTP/2 upstreams', { timeout: 90_000 }, async () => {
  const seen: Seen[] = [];
  const b1 = await httpBackend('h1', seen);
  const b2 = await h2Backend('h2', seen);
  const rules = {
    request: { remove: ['X-Internal-Debug'], set: { 'X-Env': 'prod' }, add: { 'X-Client-Ip': '%{client_ip}', 'X-Route': '%{route}' } },
    response: { remove: ['Server'], set: { 'X-Frame-Options': 'DENY' } },
  };
  const f = await startFulcrum(simpleConfig([b1.port], {
    listener: {
      routes: [
        { name: 'one', match: { path: { prefix: '/one' } }, pool: 'p', rewrite: { stripPrefix: '/one' }, headers: rules },
        { name: 'two', match: { path: { prefix: '/two/' } }, pool: 'p2', rewrite: { replacePrefix: { from: '/two/', to: '/v2/' } }, headers: rules },
      ],
    },
    extraPools: [{ name: 'p2', upstreamProtocol: 'http2', servers: [{ address: `127.0.0.1:${b2.port}` }] }],
  }), SLOW_START);
  open.push(f);
  const s = await h2session(f.port('web'));
  const cases = [
    { path: '/one/a/b?q=1&r=%20', upstream: 'h1', url: '/a/b?q=1&r=%20', route: 'one' },
    { path: '/two/c?z', upstream: 'h2', url: '/v2/c?z', route: 'two' },
  ];
  for (const c of cases) {
    seen.length = 0;
    const r = await h2req(s, { ':path': c.path, 'x-internal-debug': 'leak', 'x-env': 'dev', 'x-keep': 'yes' });
    assert.equal(Number(r.headers[':status']), 200, c.path);
    assert.equal(r.body, c.upstream);
    assert.equal(seen.length, 1);
    const got = seen[0];
    assert.equal(got.url, c.url, `${c.upstream} upstream: the rewritten path, query byte for byte`);
    assert.equal(got.headers['x-internal-debug'], undefined, `${c.upstream}: removed request field`);
    assert.equal(got.headers['x-env'], 'prod', `${c.upstream}: set replaces`);
    assert.equal(got.headers['x-client-ip'], '127.0.0.1');
    assert.equal(got.headers['x-route'], c.route);
    assert.equal(got.headers['x-keep'], 'yes', 'other fields pass');
    assert.equal(r.headers.server, undefined, `${c.upstream}: response Server removed`);
    assert.equal(r.headers['x-frame-options'], 'DENY');
    assert.equal(r.headers['x-backend'], c.upstream);
    for (const name of CONNECTION_SPECIFIC) assert.equal(r.headers[name], undefined, `no ${name} field on HTTP/2`);
  }
});

// ------------------------------------------------------------------------------------------ affinity

const COOKIE_RE = /^SRV=([A-Za-z0-9_-]{16}); Path=\/; HttpOnly; SameSite=Lax$/;

test('sticky insert over h2c: cookie set, pin honoured, cookie stripped from split cookie fields, forged pin re-pinned', { timeout: 90_000 }, async (t) => {
  const seen: Seen[] = [];
  const bs = [await httpBackend('b0', seen), await httpBackend('b1', seen), await httpBackend('b2', seen)];
  const f = await startFulcrum(simpleConfig(bs.map((b) => b.port), {
    pool: { sticky: { cookie: 'SRV', secret: 'h2-e2e-secret-0123456789' } },
  }), SLOW_START);
  open.push(f);
  const s = await h2session(f.port('web'));
  const first = await h2req(s, { ':path': '/login' });
  assert.equal(Number(first.headers[':status']), 200);
  const sc = first.headers['set-cookie'] ?? [];
  assert.equal(sc.length, 1, `one set-cookie: ${JSON.stringify(sc)}`);
  const m = COOKIE_RE.exec(sc[0]);
  assert.ok(m, `set-cookie with its attributes: ${sc[0]}`);
  const value = m[1];
  assert.equal(first.headers['cache-control'], 'no-cache="set-cookie"');
  const pinned = first.body;

  // 20 requests with the cookie split over several fields, in different places.
  seen.length = 0;
  for (let i = 0; i < 20; i++) {
    const cookie = i % 2 === 0 ? ['a=1', `SRV=${value}`, 'b="x y"'] : [`a=1; SRV=${value}`, 'b="x y"'];
    const r = await h2req(s, { ':path': `/page/${i}`, cookie });
    assert.equal(r.body, pinned, `request ${i} went to the pinned backend`);
    assert.equal(r.headers['set-cookie'], undefined, `request ${i}: no new cookie while the pin holds`);
  }
  assert.equal(seen.length, 20);
  for (const got of seen) {
    assert.equal(got.id, pinned);
    const cookieFields = got.raw.filter((_, i) => i % 2 === 0 && got.raw[i].toLowerCase() === 'cookie');
    assert.equal(cookieFields.length, 1, 'one Cookie field to the HTTP/1.1 backend');
    assert.equal(got.headers.cookie, 'a=1; b="x y"', 'the sticky cookie stripped, the others byte for byte');
  }
  // Only the sticky cookie: no cookie field at all.
  seen.length = 0;
  await h2req(s, { ':path': '/only', cookie: `SRV=${value}` });
  assert.equal(seen[0].headers.cookie, undefined);

  // A forged value is ignored: balanced, and re-pinned with a valid cookie.
  const forged = await h2req(s, { ':path': '/forged', cookie: ['a=1', 'SRV=AAAAAAAAAAAAAAAA'] });
  const sc2 = forged.headers['set-cookie'] ?? [];
  assert.equal(sc2.length, 1, 'forged pin: a new cookie');
  const v2 = (COOKIE_RE.exec(sc2[0]) ?? [])[1];
  assert.ok(v2 !== undefined && v2 !== 'AAAAAAAAAAAAAAAA');
  const again = await h2req(s, { ':path': '/again', cookie: `SRV=${v2}` });
  assert.equal(again.body, forged.body, 'the new pin holds');

  await t.test('curl --http2-prior-knowledge honours the pin', { skip: SKIP_CURL }, async () => {
    seen.length = 0;
    const r = await curl(['-b', `SRV=${value}; c=3`, `${f.url('web')}/curl`]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^HTTP\/2 200 \r\n/);
    assert.ok(r.out.endsWith(pinned), `curl went to ${pinned}: ${r.out}`);
    assert.doesNotMatch(r.out, /set-cookie/i);
    assert.equal(seen[0].headers.cookie, 'c=3');
  });
});

test('sticky insert over h2c: a pinned backend that is down is re-balanced and re-pinned with a new cookie', { timeout: 90_000 }, async () => {
  const seen: Seen[] = [];
  const bs = [await httpBackend('d0', seen), await httpBackend('d1', seen), await httpBackend('d2', seen)];
  const f = await startFulcrum(simpleConfig(bs.map((b) => b.port), {
    pool: {
      sticky: { cookie: 'SRV' },
      healthCheck: { type: 'tcp', interval: '200ms', timeout: '500ms', fall: 1, rise: 1, initial: 'healthy' },
    },
  }), { ...SLOW_START, env: { FULCRUM_LOG_LEVEL: 'info' } });
  open.push(f);
  const s = await h2session(f.port('web'));
  const first = await h2req(s, { ':path': '/' });
  const v1 = (COOKIE_RE.exec((first.headers['set-cookie'] ?? [''])[0]) ?? [])[1];
  assert.ok(v1 !== undefined);
  const idx = Number(first.body.slice(1));
  const down = bs[idx];
  await down.close();
  await f.waitFor(() => f.logs().some((l) => {
    const e = l as unknown as { event?: string; to?: string; server?: string };
    return e.event === 'health' && e.to === 'down' && e.server === down.address;
  }), 10_000, `down event for ${down.address}`);
  const moved = await h2req(s, { ':path': '/', cookie: ['a=1', `SRV=${v1}`] });
  assert.equal(Number(moved.headers[':status']), 200);
  assert.notEqual(moved.body, first.body, 'the down backend is not used');
  const v2 = (COOKIE_RE.exec((moved.headers['set-cookie'] ?? [''])[0]) ?? [])[1];
  assert.ok(v2 !== undefined && v2 !== v1, `re-pinned with a new cookie: ${JSON.stringify(moved.headers['set-cookie'])}`);
  for (let i = 0; i < 5; i++) {
    const r = await h2req(s, { ':path': `/n${i}`, cookie: `SRV=${v2}` });
    assert.equal(r.body, moved.body, 'the new pin holds');
    assert.equal(r.headers['set-cookie'], undefined);
  }
});

test('sticky insert over h2c with an HTTP/2 upstream: split cookie fields stripped, pin honoured', { timeout: 90_000 }, async () => {
  const seen: Seen[] = [];
  const bs = [await h2Backend('c0', seen), await h2Backend('c1', seen)];
  const f = await startFulcrum(simpleConfig(bs.map((b) => b.port), {
    pool: { upstreamProtocol: 'http2', sticky: { cookie: 'SRV' } },
  }), SLOW_START);
  open.push(f);
  const s = await h2session(f.port('web'));
  const first = await h2req(s, { ':path': '/' });
  const value = (COOKIE_RE.exec((first.headers['set-cookie'] ?? [''])[0]) ?? [])[1];
  assert.ok(value !== undefined, `set-cookie: ${JSON.stringify(first.headers['set-cookie'])}`);
  seen.length = 0;
  for (let i = 0; i < 10; i++) {
    const r = await h2req(s, { ':path': `/p${i}`, cookie: ['x=1', `SRV=${value}`, 'y=2'] });
    assert.equal(r.body, first.body);
  }
  for (const got of seen) assert.equal(got.headers.cookie, 'x=1; y=2');
});

test('learned session over h2c: the backend\'s JSESSIONID pins later HTTP/2 requests', { timeout: 90_000 }, async () => {
  const seen: Seen[] = [];
  const bs = [];
  for (let i = 0; i < 3; i++) {
    const id = `l${i}`;
    bs.push(await httpBackend(id, seen, (url): Record<string, string> => (url === '/login' ? { 'set-cookie': `JSESSIONID=sess-${id}; Path=/` } : {})));
  }
  const f = await startFulcrum(simpleConfig(bs.map((b) => b.port), { pool: { sticky: { learn: 'JSESSIONID' } } }), SLOW_START);
  open.push(f);
  const s = await h2session(f.port('web'));
  const login = await h2req(s, { ':path': '/login' });
  assert.deepEqual(login.headers['set-cookie'], [`JSESSIONID=sess-${login.body}; Path=/`], 'the backend\'s cookie passes');
  seen.length = 0;
  for (let i = 0; i < 15; i++) {
    const r = await h2req(s, { ':path': `/app/${i}`, cookie: ['z=0', `JSESSIONID=sess-${login.body}`] });
    assert.equal(r.body, login.body, `request ${i} follows the learned session`);
  }
  assert.equal(seen.length, 15);
  for (const got of seen) assert.equal(got.headers.cookie, `z=0; JSESSIONID=sess-${login.body}`, 'learned cookies pass unchanged');
});

// ------------------------------------------------------------------------------------------ circuit breakers

/** A sample of the admin API's /metrics (0 when absent). */
async function metric(f: FulcrumProcess, name: string, labels: string): Promise<number> {
  const text = (await adminGet(f.adminPort, '/metrics')).body;
  const m = new RegExp(`^${name}\\{${labels}\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

test('maxConnections for streams: HTTP/1.1 upstream sockets and HTTP/2 upstream sessions are counted and capped', { timeout: 90_000 }, async () => {
  const seen: Seen[] = [];
  const slow = await httpBackend('s', seen, () => ({}), 800);
  const m0 = await h2Backend('m0', seen, 800);
  const m1 = await h2Backend('m1', seen, 800);
  const f = await startFulcrum(simpleConfig([slow.port], {
    pool: { circuitBreakers: { maxConnections: 2 }, retries: { attempts: 1 } },
    listener: {
      routes: [
        { name: 'mux', match: { path: { prefix: '/mux' } }, pool: 'p2' },
        { name: 'all', pool: 'p' },
      ],
    },
    extraPools: [{
      name: 'p2', upstreamProtocol: 'http2', circuitBreakers: { maxConnections: 1 }, retries: { attempts: 1 },
      servers: [{ address: `127.0.0.1:${m0.port}` }, { address: `127.0.0.1:${m1.port}` }],
    }],
  }), SLOW_START);
  open.push(f);
  const s = await h2session(f.port('web'));

  // HTTP/1.1 upstream: 4 concurrent streams, 2 connections allowed.
  const four = await Promise.all([0, 1, 2, 3].map((i) => h2req(s, { ':path': `/c${i}` })));
  const st = four.map((r) => Number(r.headers[':status'])).sort();
  assert.deepEqual(st, [200, 200, 503, 503]);
  for (const r of four.filter((x) => Number(x.headers[':status']) === 503)) assert.equal(r.headers['x-fulcrum-error'], 'FULCRUM_E_CIRCUIT_OPEN');
  assert.equal(slow.connections(), 2, 'no third upstream connection');
  assert.equal(await metric(f, 'fulcrum_circuit_breaker_rejects_total', 'pool="p",breaker="connections"'), 2);
  // The two sockets are now idle in the agent: counted as open and idle, and reused.
  assert.equal(await metric(f, 'fulcrum_upstream_connections', `pool="p",endpoint="127.0.0.1:${slow.port}",state="idle"`), 2);
  const two = await Promise.all([0, 1].map((i) => h2req(s, { ':path': `/again${i}` })));
  assert.deepEqual(two.map((r) => Number(r.headers[':status'])), [200, 200], 'idle sockets are reused under the limit');
  assert.equal(slow.connections(), 2);
  // HTTP/1.1 clients count the same connections: with the pool at its limit (2 idle agent
  // sockets), a request from an HTTP/1.1 client that needs a new connection is refused.
  const h1 = await request(f.port('web'), 'GET /h1 HTTP/1.1\r\nHost: app.test\r\n\r\n');
  assert.equal(h1.status, 503);
  assert.equal(headerOf(h1, 'x-fulcrum-error'), 'FULCRUM_E_CIRCUIT_OPEN');

  // HTTP/2 upstream: 6 streams to one endpoint share one session; a second endpoint would need a
  // second session, beyond maxConnections 1.
  const six = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => h2req(s, { ':path': `/mux/${i}` })));
  const codes = six.map((r) => Number(r.headers[':status']));
  const ok = six.filter((r) => Number(r.headers[':status']) === 200);
  assert.equal(ok.length, 3, `round robin over two endpoints, one session allowed: ${codes}`);
  assert.equal(new Set(ok.map((r) => r.body)).size, 1, 'all on the one endpoint with a session');
  assert.equal(m0.sessions() + m1.sessions(), 1, 'one upstream session');
  assert.equal(await metric(f, 'fulcrum_circuit_breaker_rejects_total', 'pool="p2",breaker="connections"'), 3);
  const used = ok[0].body === 'm0' ? m0 : m1;
  assert.equal(await metric(f, 'fulcrum_upstream_connections', `pool="p2",endpoint="127.0.0.1:${used.port}",state="idle"`), 1, 'the idle session is counted');
});

test('maxPending for streams: streams waiting for an upstream connection or session are capped', { timeout: 90_000 }, async () => {
  const bh = await blackhole();
  open.push(bh);
  const common = { circuitBreakers: { maxPending: 1 }, timeouts: { connect: '1500ms' }, retries: { attempts: 1 } };
  const f = await startFulcrum(simpleConfig([bh.port], {
    pool: common,
    listener: {
      routes: [
        { name: 'two', match: { path: { prefix: '/two' } }, pool: 'p2' },
        { name: 'all', pool: 'p' },
      ],
    },
    extraPools: [{ name: 'p2', upstreamProtocol: 'http2', servers: [{ address: `127.0.0.1:${bh.port}` }], ...common }],
  }), SLOW_START);
  open.push(f);
  const s = await h2session(f.port('web'));
  for (const [path, pool] of [['/one', 'p'], ['/two', 'p2']]) {
    const first = h2req(s, { ':path': path });
    await sleep(300); // the first is now pending on a hanging connect
    const second = await h2req(s, { ':path': path + '/b' });
    assert.equal(Number(second.headers[':status']), 503, pool);
    assert.equal(second.headers['x-fulcrum-error'], 'FULCRUM_E_CIRCUIT_OPEN');
    const r = await first;
    assert.equal(Number(r.headers[':status']), 504, `${pool}: the pending one times out connecting`);
    assert.equal(await metric(f, 'fulcrum_circuit_breaker_rejects_total', `pool="${pool}",breaker="pending"`), 1);
    // Released: the next one is pending again, not refused.
    const third = await h2req(s, { ':path': path + '/c' });
    assert.equal(Number(third.headers[':status']), 504, `${pool}: pending released after the timeout`);
  }
});
