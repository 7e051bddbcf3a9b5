// HTTP/2 over TLS through the ALPN hand-off (h2-hook.ts): this branch has no `https` listener, so
// the test plays its part in-process — a node:tls server offering ALPN h2 and http/1.1 calls
// `h2Handler()(socket, listener, null)` when the client picked h2, on a real HttpListener built
// from a parsed config. A node:http2 client and curl --http2 (when installed) talk to it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { connect as h2connect } from 'node:http2';
import { ConfigSchema } from '../src/config/schema.ts';
import { PoolRuntime } from '../src/runtime/pool.ts';
import { compileRouter } from '../src/l7/router/router.ts';
import { Metrics } from '../src/admin/metrics.ts';
import { HttpListener } from '../src/l7/http1/server.ts';
import '../src/l7/http2/server.ts';
import { h2Handler } from '../src/l7/h2-hook.ts';
import { startHttpBackend, type HttpBackend } from './helpers/backends.ts';

const STRICT = process.env.FULCRUM_TEST_STRICT === '1';
const HAVE_OPENSSL = spawnSync('openssl', ['version']).status === 0;
const SKIP = !HAVE_OPENSSL && !STRICT ? 'openssl not found (Debian package openssl)' : false;
const HAVE_CURL = spawnSync('curl', ['--version']).status === 0;

describe('HTTP/2 over TLS (ALPN h2 hand-off)', { skip: SKIP }, () => {
  let dir: string;
  let backend: HttpBackend;
  let tls: TlsServer;
  let listener: HttpListener;
  let port = 0;
  let alpn: (string | false | null)[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fulcrum-h2-tls-'));
    const r = spawnSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=localhost',
    ], { timeout: 10_000 });
    assert.equal(r.status, 0, String(r.stderr));
    backend = await startHttpBackend((req, res) => {
      res.setHeader('x-proto', String(req.headers['x-forwarded-proto']));
      res.end(`tls ${req.method} ${req.url}`);
    });
    const config = ConfigSchema.parse({
      listeners: [{ name: 'web', listen: '127.0.0.1:0', routes: [{ pool: 'p' }] }],
      pools: [{ name: 'p', servers: [{ address: backend.address }] }],
    });
    const pools = new Map(config.pools.map((p) => [p.name, new PoolRuntime(p)]));
    listener = new HttpListener(config.listeners[0], { router: compileRouter(config.listeners[0].routes!), pools }, new Metrics());
    const h2 = h2Handler();
    assert.ok(h2, 'the HTTP/2 module registered its handler');
    tls = createTlsServer({ key: await readFile(join(dir, 'k.pem')), cert: await readFile(join(dir, 'c.pem')), ALPNProtocols: ['h2', 'http/1.1'] }, (s: TLSSocket) => {
      alpn.push(s.alpnProtocol);
      if (s.alpnProtocol === 'h2') h2(s, listener, null);
      else s.destroy();
    });
    tls.on('tlsClientError', () => {});
    await new Promise<void>((res) => tls.listen(0, '127.0.0.1', res));
    port = (tls.address() as { port: number }).port;
  });

  after(async () => {
    await listener?.shutdown(1000);
    await new Promise<void>((res) => (tls ? tls.close(() => res()) : res()));
    await backend?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('node:http2 client over TLS: ALPN h2, proxied, X-Forwarded-Proto https', async () => {
    alpn = [];
    const s = h2connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    try {
      const r = await new Promise<{ status: number; proto: string; body: string }>((resolve, reject) => {
        const st = s.request({ ':path': '/secure?x=1' });
        const timer = setTimeout(() => reject(new Error('timed out')), 10_000);
        let status = 0;
        let proto = '';
        let body = '';
        st.on('response', (h) => { status = Number(h[':status']); proto = String(h['x-proto']); });
        st.setEncoding('utf8');
        st.on('data', (d: string) => { body += d; });
        st.on('end', () => { clearTimeout(timer); resolve({ status, proto, body }); });
        st.on('error', reject);
      });
      assert.deepEqual(r, { status: 200, proto: 'https', body: 'tls GET /secure?x=1' });
      assert.deepEqual(alpn, ['h2']);
    } finally {
      s.close();
    }
  });

  it('curl --http2 over TLS negotiates h2 by ALPN', { skip: !HAVE_CURL && !STRICT ? 'curl not found (Debian package curl)' : false }, async () => {
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn('curl', ['-sS', '-k', '-i', '--http2', '--max-time', '10', `https://127.0.0.1:${port}/c`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => { out += d; });
      p.stderr.on('data', (d) => { err += d; });
      const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
      p.on('exit', (code) => { clearTimeout(t); resolve({ code, out, err }); });
    });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^HTTP\/2 200 ?\r\n/);
    assert.match(r.out, /\r\n\r\ntls GET \/c$/);
  });
});
