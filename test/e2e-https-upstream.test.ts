// TLS to upstreams (`pools[].tls`) end to end: the server certificate is verified against the
// pool's CA file with the configured serverName (sent as SNI), a certificate that cannot be verified
// (unknown CA, name not matching) fails the attempt with 502, `verify: false` accepts it, a client
// certificate is presented to a server that requires one, sessions are resumed on new connections,
// and the pool's http health check speaks TLS without being told. Backends are node:https servers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { startFulcrum } from './helpers/fulcrum.ts';
import { HAVE_OPENSSL, issue, makeCa, type TestCa } from './helpers/certs.ts';

const SKIP = !HAVE_OPENSSL && process.env.FULCRUM_TEST_STRICT !== '1' ? 'openssl not found (Debian package openssl)' : false;

let dir = '';
let ca: TestCa;

interface TlsBackend { server: Server; address: string; sni: (string | false | null)[]; reused: number; handshakes: number; subjects: string[]; health: number }
const backends: TlsBackend[] = [];

async function tlsBackend(opts: { requireClientCert?: boolean } = {}): Promise<TlsBackend> {
  const pair = issue(ca, 'backend.test', { file: `backend-${backends.length}` });
  const b: TlsBackend = { server: null as unknown as Server, address: '', sni: [], reused: 0, handshakes: 0, subjects: [], health: 0 };
  b.server = createServer({
    cert: readFileSync(pair.cert), key: readFileSync(pair.key),
    ...(opts.requireClientCert === true ? { ca: readFileSync(ca.cert), requestCert: true, rejectUnauthorized: true } : {}),
  }, (req, res) => {
    const s = req.socket as TLSSocket;
    if (req.url === '/health') b.health++;
    const peer = s.getPeerCertificate();
    if (peer?.subject?.CN !== undefined) b.subjects.push(String(peer.subject.CN));
    res.end(`tls ${s.getProtocol()} ${req.url}`);
  });
  b.server.on('secureConnection', (s: TLSSocket) => {
    b.handshakes++;
    b.sni.push(s.servername);
    if (s.isSessionReused()) b.reused++;
  });
  b.server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => b.server.listen(0, '127.0.0.1', resolve));
  b.address = `127.0.0.1:${(b.server.address() as { port: number }).port}`;
  backends.push(b);
  return b;
}

before(() => {
  if (SKIP) return;
  dir = mkdtempSync(join(tmpdir(), 'fulcrum-https-up-'));
  ca = makeCa(dir, 'fulcrum-test-ca');
});

after(async () => {
  for (const b of backends) {
    b.server.closeAllConnections();
    await new Promise<void>((r) => b.server.close(() => r()));
  }
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

async function get(port: number, path: string): Promise<{ status: number; body: string; error: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text(), error: res.headers.get('x-fulcrum-error') };
}

test('upstream TLS: verified with the pool CA and serverName (SNI), 502 when it cannot be verified, verify: false, client certificate, session resumption, TLS health checks', { timeout: 90_000, skip: SKIP }, async () => {
  const good = await tlsBackend();
  const plainName = await tlsBackend();
  const strange = await tlsBackend();
  const insecure = await tlsBackend();
  const mutual = await tlsBackend({ requireClientCert: true });
  const client = issue(ca, 'fulcrum-upstream-client', { client: true });
  const once = { retries: { attempts: 1 }, outlierDetection: { enabled: false } };
  const f = await startFulcrum({
    admin: { listen: '127.0.0.1:0' },
    listeners: [{ name: 'web', listen: '127.0.0.1:0', routes: ['good', 'ipname', 'unknownca', 'noverify', 'mtls'].map((p) => ({ match: { path: { prefix: `/${p}/` } }, pool: p })) }],
    pools: [
      { name: 'good', servers: [{ address: good.address }], keepAlive: { maxIdle: 0 },
        tls: { ca: ca.cert, serverName: 'backend.test' },
        healthCheck: { type: 'http', http: { path: '/health' }, interval: '200ms', rise: 1 } },
      // No serverName: the address is an IP, checked against the certificate's IP entries (it has none).
      { name: 'ipname', servers: [{ address: plainName.address }], tls: { ca: ca.cert }, ...once },
      // The CA is not trusted (only the system bundle).
      { name: 'unknownca', servers: [{ address: strange.address }], tls: { serverName: 'backend.test' }, ...once },
      { name: 'noverify', servers: [{ address: insecure.address }], tls: { verify: false } },
      { name: 'mtls', servers: [{ address: mutual.address }], tls: { ca: ca.cert, serverName: 'backend.test', cert: client.cert, key: client.key } },
    ],
  });
  try {
    const port = f.port('web');
    // Traffic reaches `good` only once its health check has passed — over TLS, unasked.
    await f.waitFor(() => good.health > 0, 10_000, 'a TLS health check on the good backend');
    let first = { status: 0, body: '', error: null as string | null };
    for (let i = 0; i < 50 && first.status !== 200; i++) {
      first = await get(port, '/good/a');
      if (first.status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(first.status, 200, JSON.stringify(first));
    assert.match(first.body, /^tls TLSv1\.3 \/good\/a$/);
    for (let i = 0; i < 5; i++) assert.equal((await get(port, `/good/${i}`)).status, 200);
    assert.ok(good.sni.includes('backend.test'), `SNI sent: ${JSON.stringify(good.sni)}`);
    assert.ok(good.reused >= 1, `new connections resume the TLS session (${good.reused} of ${good.handshakes} handshakes)`);

    const ip = await get(port, '/ipname/x');
    assert.deepEqual([ip.status, ip.error], [502, 'FULCRUM_E_UPSTREAM_CONNECT']);
    const unknown = await get(port, '/unknownca/x');
    assert.deepEqual([unknown.status, unknown.error], [502, 'FULCRUM_E_UPSTREAM_CONNECT']);
    const nv = await get(port, '/noverify/x');
    assert.equal(nv.status, 200);
    assert.match(nv.body, /^tls TLSv1\.3/);
    const m = await get(port, '/mtls/x');
    assert.equal(m.status, 200, m.body);
    assert.deepEqual(mutual.subjects, ['fulcrum-upstream-client']);
  } finally {
    await f.stop();
  }
});
