// HTTP/2 from clients (docs/http2.md): prior-knowledge h2c on an `http` listener with real clients
// (curl --http2-prior-knowledge, h2load, node:http2), each stream balanced on its own; upstream over
// HTTP/1.1 and over HTTP/2; the HTTP/1.1 path's error codes, retries and metrics; trailers and
// resets passed through.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import { connect as netConnect, createServer as createNetServer } from 'node:net';
import { connect as h2connect, createServer as createH2Server, constants, type ClientHttp2Session, type Http2Server, type IncomingHttpHeaders } from 'node:http2';
import { adminGet, simpleConfig, startFulcrum, type FulcrumProcess } from './helpers/fulcrum.ts';
import { startHttpBackend, type HttpBackend } from './helpers/backends.ts';
import { blackhole } from './helpers/blackhole.ts';

/** The machine may be busy with other suites: allow Fulcrum 30 s to start. */
const SLOW_START = { startTimeoutMs: 30_000 };

const STRICT = process.env.FULCRUM_TEST_STRICT === '1';
const HAVE_CURL = spawnSync('curl', ['--version']).status === 0;
const HAVE_H2LOAD = spawnSync('h2load', ['--version']).status === 0;
const SKIP_CURL = !HAVE_CURL && !STRICT ? 'curl not found (Debian package curl)' : false;
const SKIP_H2LOAD = !HAVE_H2LOAD && !STRICT ? 'h2load not found (Debian package nghttp2-client)' : false;

const open: { stop?: () => Promise<unknown>; close?: () => Promise<unknown> }[] = [];
after(async () => {
  for (const o of open.reverse()) await (o.stop?.() ?? o.close?.());
});

/** A node:http backend answering `ID method url body-bytes` plus what it saw of forwarding headers. */
async function idBackend(id: string, counts: Map<string, number>): Promise<HttpBackend> {
  const b = await startHttpBackend((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => { n += c.length; });
    req.on('end', () => {
      counts.set(id, (counts.get(id) ?? 0) + 1);
      res.setHeader('x-backend', id);
      res.setHeader('connection', 'keep-alive'); // hop-by-hop: must not reach the HTTP/2 client
      res.end(`${id} ${req.method} ${req.url} ${n} host=${req.headers.host} xff=${req.headers['x-forwarded-for']} xfp=${req.headers['x-forwarded-proto']}`);
    });
  });
  open.push(b);
  return b;
}

/** Runs a tool to its end (killed after 60 s); the test process keeps serving meanwhile. */
function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('exit', (code) => { clearTimeout(t); resolve({ code, out: stdout, stdout, stderr }); });
  });
}

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createNetServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface H2Result { headers: IncomingHttpHeaders; body: Buffer; trailers: IncomingHttpHeaders | null; rstCode: number }

/** One request on session `s`; resolves when the stream closes (bounded by 10 s). */
function h2req(s: ClientHttp2Session, headers: Record<string, string>, body?: Buffer): Promise<H2Result> {
  return new Promise((resolve, reject) => {
    const st = s.request(headers, { endStream: body === undefined });
    const timer = setTimeout(() => { st.close(); reject(new Error('h2 request timed out')); }, 10_000);
    let head: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | null = null;
    const chunks: Buffer[] = [];
    st.on('response', (h) => { head = h; });
    st.on('trailers', (t) => { trailers = t; });
    st.on('data', (c: Buffer) => chunks.push(c));
    st.on('error', () => {});
    st.on('close', () => {
      clearTimeout(timer);
      resolve({ headers: head, body: Buffer.concat(chunks), trailers, rstCode: st.rstCode ?? 0 });
    });
    if (body !== undefined) st.end(body);
  });
}

function session(port: number): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = h2connect(`http://127.0.0.1:${port}`);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
    open.push({ close: () => new Promise<void>((r) => { if (s.closed || s.destroyed) r(); else s.close(() => r()); }) });
  });
}

describe('h2c with prior knowledge, HTTP/1.1 upstream', () => {
  const counts = new Map<string, number>();
  let f: FulcrumProcess;
  let a: HttpBackend;
  let b: HttpBackend;
  before(async () => {
    a = await idBackend('a', counts);
    b = await idBackend('b', counts);
    f = await startFulcrum(simpleConfig([a.port, b.port]), SLOW_START);
    open.push(f);
  });

  it('curl --http2-prior-knowledge: HTTP/2 200, body and forwarding headers from the HTTP/1.1 backend', { skip: SKIP_CURL }, async () => {
    // async: the backends live in this process
    const r = await run('curl', ['-sS', '-i', '--http2-prior-knowledge', '--max-time', '10', '--data-binary', 'hello', `${f.url('web')}/x?y=1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^HTTP\/2 200 ?\r\n/);
    assert.doesNotMatch(r.stdout, /^connection:/im);
    const bodyText = r.stdout.split('\r\n\r\n')[1];
    assert.match(bodyText, new RegExp(`^[ab] POST /x\\?y=1 5 host=127\\.0\\.0\\.1:${f.port('web')} xff=127\\.0\\.0\\.1 xfp=http$`));
  });

  it('the same listener still serves HTTP/1.1', async () => {
    const res = await fetch(`${f.url('web')}/h1`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^[ab] GET \/h1 0 /);
  });

  it('h2load -n 2000 -c 4 -m 10: all succeed, streams spread over both endpoints (1000 each, round robin)', { skip: SKIP_H2LOAD }, async () => {
    counts.clear();
    const r = await run('h2load', ['-n', '2000', '-c', '4', '-m', '10', `${f.url('web')}/load`]);
    assert.equal(r.code, 0, r.out + r.stderr);
    assert.match(r.out, /requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored, 0 timeout/);
    assert.match(r.out, /status codes: 2000 2xx/);
    assert.equal(counts.get('a'), 1000);
    assert.equal(counts.get('b'), 1000);
  });

  it('one connection, 20 concurrent streams: balanced per stream (10 and 10), metrics counted', async () => {
    counts.clear();
    const s = await session(f.port('web'));
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => h2req(s, { ':path': `/s${i}` })));
    for (const r of rs) assert.equal(r.headers[':status'], 200);
    const ids = rs.map((r) => r.headers['x-backend']).sort();
    assert.deepEqual(ids, [...Array(10).fill('a'), ...Array(10).fill('b')]);
    const m = await adminGet(f.adminPort, '/metrics');
    const line = m.body.split('\n').find((l) => l.startsWith('fulcrum_requests_total{') && l.includes(`endpoint="127.0.0.1:${a.port}"`) && l.includes('code="200"'));
    assert.ok(line, m.body.slice(0, 2000));
    assert.ok(Number(line.split(' ').pop()) >= 10);
  });

  it('a request body of 1 MiB goes up whole with flow control', async () => {
    const s = await session(f.port('web'));
    const r = await h2req(s, { ':method': 'PUT', ':path': '/big' }, Buffer.alloc(1 << 20, 7));
    assert.equal(r.headers[':status'], 200);
    assert.match(r.body.toString(), /^[ab] PUT \/big 1048576 /);
  });
});

describe('h2c: error codes and retries as on the HTTP/1.1 path', () => {
  let f: FulcrumProcess;
  let dead: number;
  let live: HttpBackend;
  before(async () => {
    dead = await closedPort();
    live = await idBackend('live', new Map());
    f = await startFulcrum({
      admin: { listen: '127.0.0.1:0' },
      listeners: [{
        name: 'web', listen: '127.0.0.1:0',
        routes: [
          { name: 'dead', match: { path: { prefix: '/dead' } }, pool: 'dead' },
          { name: 'retry', match: { path: { prefix: '/retry' } }, pool: 'retry' },
        ],
      }],
      pools: [
        { name: 'dead', servers: [{ address: `127.0.0.1:${dead}` }], retries: { attempts: 1 } },
        { name: 'retry', algorithm: 'round-robin', servers: [{ address: `127.0.0.1:${dead}` }, { address: live.address }], outlierDetection: { enabled: false } },
      ],
    }, SLOW_START);
    open.push(f);
  });

  it('no route → 404 FULCRUM_E_NO_ROUTE; connect refused → 502 FULCRUM_E_UPSTREAM_CONNECT', async () => {
    const s = await session(f.port('web'));
    const r1 = await h2req(s, { ':path': '/nothing' });
    assert.equal(r1.headers[':status'], 404);
    assert.equal(r1.headers['x-fulcrum-error'], 'FULCRUM_E_NO_ROUTE');
    assert.equal(r1.body.toString(), '404 Not Found: FULCRUM_E_NO_ROUTE\n');
    const r2 = await h2req(s, { ':path': '/dead' });
    assert.equal(r2.headers[':status'], 502);
    assert.equal(r2.headers['x-fulcrum-error'], 'FULCRUM_E_UPSTREAM_CONNECT');
  });

  it('a refused connect is retried on the other endpoint (every stream answered 200)', async () => {
    const s = await session(f.port('web'));
    const rs = await Promise.all(Array.from({ length: 6 }, (_, i) => h2req(s, { ':method': 'POST', ':path': `/retry/${i}` }, Buffer.from('body!'))));
    for (const r of rs) {
      assert.equal(r.headers[':status'], 200);
      assert.match(r.body.toString(), /^live POST \/retry\/\d 5 /);
    }
    const m = await adminGet(f.adminPort, '/metrics');
    const line = m.body.split('\n').find((l) => l.startsWith('fulcrum_retries_total{') && l.includes('pool="retry"') && !l.includes('refused'));
    assert.ok(line && Number(line.split(' ').pop()) >= 1, `retries counted: ${line}`);
  });
});

describe('h2c in, HTTP/2 upstream (node:http2 backends)', () => {
  let f: FulcrumProcess;
  let srv: Http2Server;
  let streams = 0;
  let sessions = 0;
  let cancelled = 0;
  let refused = 0;
  before(async () => {
    srv = createH2Server();
    srv.on('session', () => { sessions++; });
    srv.on('stream', (st, h) => {
      streams++;
      const path = String(h[':path']);
      st.on('error', () => {});
      if (path === '/trailers') {
        st.respond({ ':status': 200, 'content-type': 'text/plain' }, { waitForTrailers: true });
        st.on('wantTrailers', () => st.sendTrailers({ 'x-checksum': 'abc123' }));
        st.end('with trailers');
      } else if (path === '/reset') {
        st.respond({ ':status': 200 });
        st.write('partial');
        setTimeout(() => st.destroy(new Error('backend gives up')), 50); // RST_STREAM INTERNAL_ERROR
      } else if (path === '/refuse-once') {
        if (refused++ === 0) st.close(constants.NGHTTP2_REFUSED_STREAM);
        else {
          st.respond({ ':status': 200 });
          st.end(`second try ${refused}`);
        }
      } else if (path === '/hang') {
        st.on('close', () => { if (st.rstCode === constants.NGHTTP2_CANCEL) cancelled++; });
      } else {
        st.respond({ ':status': 200, 'x-te': String(h.te), 'x-xff': String(h['x-forwarded-for']) });
        st.end(`h2 ${h[':method']} ${path} ${h[':authority']}`);
      }
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    open.push({ close: () => new Promise<void>((r) => srv.close(() => r())) });
    const port = (srv.address() as { port: number }).port;
    f = await startFulcrum(simpleConfig([port], { pool: { upstreamProtocol: 'http2', retries: { attempts: 1 } } }), SLOW_START);
    open.push(f);
  });

  it('30 streams from 3 clients share one upstream HTTP/2 connection; te: trailers goes up', async () => {
    const clients = await Promise.all([1, 2, 3].map(() => session(f.port('web'))));
    const before = sessions;
    const rs = await Promise.all(clients.flatMap((c) => Array.from({ length: 10 }, (_, i) => h2req(c, { ':path': `/p${i}`, te: 'trailers' }))));
    for (const r of rs) {
      assert.equal(r.headers[':status'], 200);
      assert.match(r.body.toString(), new RegExp(`^h2 GET /p\\d 127\\.0\\.0\\.1:${f.port('web')}$`));
      assert.equal(r.headers['x-te'], 'trailers');
      assert.equal(r.headers['x-xff'], '127.0.0.1');
    }
    assert.ok(sessions - before <= 1, `upstream sessions opened: ${sessions - before}`);
  });

  it('trailers from the endpoint reach the client', async () => {
    const s = await session(f.port('web'));
    const r = await h2req(s, { ':path': '/trailers' });
    assert.equal(r.body.toString(), 'with trailers');
    assert.equal(r.trailers?.['x-checksum'], 'abc123');
  });

  it('an endpoint reset after the head resets the client stream with its code', async () => {
    const s = await session(f.port('web'));
    const r = await h2req(s, { ':path': '/reset' });
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.body.toString(), 'partial');
    assert.equal(r.rstCode, constants.NGHTTP2_INTERNAL_ERROR);
  });

  it('a stream the endpoint refuses (REFUSED_STREAM, unprocessed) is tried again on it, with its body', async () => {
    const s = await session(f.port('web'));
    const r = await h2req(s, { ':method': 'POST', ':path': '/refuse-once' }, Buffer.from('payload'));
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.body.toString(), 'second try 2');
  });

  it('a client reset is passed upstream as RST_STREAM CANCEL', async () => {
    const s = await session(f.port('web'));
    const before = cancelled;
    const st = s.request({ ':path': '/hang' });
    st.on('error', () => {});
    const t0 = Date.now();
    while (streams === 0 || Date.now() - t0 < 200) await new Promise((r) => setTimeout(r, 20));
    st.close(constants.NGHTTP2_CANCEL);
    const deadline = Date.now() + 5000;
    while (cancelled === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(cancelled, before + 1);
  });
});

/** Writes `pieces` to the port (pausing `gapMs` between them); resolves with what came back within `ms`. */
function rawExchange(port: number, pieces: Buffer[], gapMs: number, ms: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = netConnect({ host: '127.0.0.1', port }, async () => {
      for (const p of pieces) {
        s.write(p);
        await new Promise((r) => setTimeout(r, gapMs));
      }
    });
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', () => {});
    const done = () => { clearTimeout(t); s.destroy(); resolve(Buffer.concat(chunks)); };
    const t = setTimeout(done, ms);
    s.on('close', done);
  });
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

describe('the preface hand-off', () => {
  let on: FulcrumProcess;
  let off: FulcrumProcess;
  before(async () => {
    const b = await idBackend('p', new Map());
    on = await startFulcrum(simpleConfig([b.port]), SLOW_START);
    open.push(on);
    off = await startFulcrum(simpleConfig([b.port], { listener: { http2: { enabled: false } } }), SLOW_START);
    open.push(off);
  });

  it('a preface split over three writes is still recognised (the server answers with SETTINGS)', async () => {
    const out = await rawExchange(on.port('web'), [PREFACE.subarray(0, 3), PREFACE.subarray(3, 16), Buffer.concat([PREFACE.subarray(16), EMPTY_SETTINGS])], 50, 1500);
    assert.ok(out.length >= 9, 'some frame came back');
    assert.equal(out[3], 4, 'the first frame is SETTINGS');
  });

  it('http2.enabled: false → the preface is a bad HTTP/1.1 request (400 FULCRUM_E_BAD_REQUEST)', async () => {
    const out = await rawExchange(off.port('web'), [Buffer.concat([PREFACE, EMPTY_SETTINGS])], 10, 3000);
    assert.match(out.toString('latin1'), /^HTTP\/1\.1 400 Bad Request\r\n[^]*X-Fulcrum-Error: FULCRUM_E_BAD_REQUEST\r\n/);
  });
});

describe('h2c: upstream timeouts (HTTP/1.1 and HTTP/2 upstreams)', () => {
  let f: FulcrumProcess;
  before(async () => {
    const bh = await blackhole();
    open.push({ stop: () => bh.stop() });
    const hang = createH2Server();
    hang.on('stream', (st) => { st.on('error', () => {}); }); // never answers
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    open.push({ close: () => new Promise<void>((r) => { hang.close(() => r()); }) });
    const hangPort = (hang.address() as { port: number }).port;
    const common = { retries: { attempts: 1 }, outlierDetection: { enabled: false } };
    f = await startFulcrum({
      admin: { listen: '127.0.0.1:0' },
      listeners: [{
        name: 'web', listen: '127.0.0.1:0',
        routes: [
          { match: { path: { prefix: '/c1' } }, pool: 'bh1' },
          { match: { path: { prefix: '/c2' } }, pool: 'bh2' },
          { match: { path: { prefix: '/rt' } }, pool: 'hang' },
        ],
      }],
      pools: [
        { name: 'bh1', servers: [{ address: `127.0.0.1:${bh.port}` }], timeouts: { connect: '500ms' }, ...common },
        { name: 'bh2', upstreamProtocol: 'http2', servers: [{ address: `127.0.0.1:${bh.port}` }], timeouts: { connect: '500ms' }, ...common },
        { name: 'hang', upstreamProtocol: 'http2', servers: [{ address: `127.0.0.1:${hangPort}` }], timeouts: { response: '700ms' }, ...common },
      ],
    }, SLOW_START);
    open.push(f);
  });

  it('connect timeout → 504 FULCRUM_E_UPSTREAM_CONNECT_TIMEOUT over either upstream protocol', async () => {
    const s = await session(f.port('web'));
    for (const path of ['/c1', '/c2']) {
      const t0 = Date.now();
      const r = await h2req(s, { ':path': path });
      assert.equal(r.headers[':status'], 504, path);
      assert.equal(r.headers['x-fulcrum-error'], 'FULCRUM_E_UPSTREAM_CONNECT_TIMEOUT', path);
      assert.ok(Date.now() - t0 >= 400, `${path} answered after ${Date.now() - t0} ms`);
    }
  });

  it('no response head within timeouts.response → 504 FULCRUM_E_UPSTREAM_TIMEOUT', async () => {
    const s = await session(f.port('web'));
    const t0 = Date.now();
    const r = await h2req(s, { ':path': '/rt' });
    assert.equal(r.headers[':status'], 504);
    assert.equal(r.headers['x-fulcrum-error'], 'FULCRUM_E_UPSTREAM_TIMEOUT');
    assert.ok(Date.now() - t0 >= 600, `answered after ${Date.now() - t0} ms`);
  });
});
