// `tls-passthrough` listeners end to end (issue 5): routing by the ClientHello's SNI (exact name,
// `*.example.org`, default pool for no SNI or no match, closed without a default) with node:tls
// clients and `openssl s_client`; TLS is not terminated — the client sees the backend's own
// certificate. Garbage, malformed or oversized hellos and silence past the clientHello timeout are
// closed and counted; a PROXY header from a trusted source may precede the hello.
// Backends are node:tls servers with self-signed certificates made by openssl for this run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { adminGet, startFulcrum, type FulcrumProcess } from './helpers/fulcrum.ts';

const HAVE_OPENSSL = spawnSync('openssl', ['version']).status === 0;
const SKIP = !HAVE_OPENSSL && process.env.FULCRUM_TEST_STRICT !== '1' ? 'openssl not found (Debian package openssl)' : false;

interface Cert { key: Buffer; cert: Buffer }

/** A self-signed P-256 certificate for `cn`, made with openssl in `dir`. */
async function selfSigned(dir: string, cn: string): Promise<Cert> {
  const key = join(dir, `${cn}.key`);
  const cert = join(dir, `${cn}.crt`);
  const r = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${cn}`,
  ], { timeout: 10_000 });
  assert.equal(r.status, 0, `openssl req: ${r.stderr}`);
  return { key: await readFile(key), cert: await readFile(cert) };
}

interface TlsBackend { name: string; address: string; server: TlsServer; accepted: number; close(): Promise<void> }

/** A TLS server that greets with `NAME\n` and echoes. */
async function tlsBackend(name: string, c: Cert): Promise<TlsBackend> {
  const sockets = new Set<Socket>();
  const b: TlsBackend = {
    name, address: '', accepted: 0,
    server: createTlsServer({ key: c.key, cert: c.cert }, (s) => {
      b.accepted++;
      s.on('error', () => {});
      s.write(`${name}\n`);
      s.pipe(s);
    }),
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      b.server.close(() => resolve());
    }),
  };
  b.server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  b.server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => b.server.listen(0, '127.0.0.1', resolve));
  b.address = `127.0.0.1:${(b.server.address() as { port: number }).port}`;
  return b;
}

interface TlsResult {
  /** CN of the certificate the client saw ('' when the handshake did not complete). */
  cn: string;
  /** The backend's greeting line ('' when none). */
  backend: string;
  echo: string;
  error: string | null;
}

/** A TLS client: handshake (SNI `servername`, or none), read the greeting, round-trip a line. */
function tlsClient(port: number, servername: string | undefined, socket?: Socket): Promise<TlsResult> {
  return new Promise((resolve) => {
    const s: TLSSocket = tlsConnect({
      host: '127.0.0.1', port, rejectUnauthorized: false, ...(servername !== undefined ? { servername } : {}), ...(socket ? { socket } : {}),
    });
    let cn = '';
    let text = '';
    let done = false;
    const finish = (error: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      socket?.destroy();
      const nl = text.indexOf('\n');
      resolve({ cn, backend: nl < 0 ? '' : text.slice(0, nl), echo: nl < 0 ? '' : text.slice(nl + 1), error });
    };
    const timer = setTimeout(() => finish('timeout'), 5000);
    s.on('secureConnect', () => {
      const subject = s.getPeerCertificate().subject as { CN?: string } | undefined;
      cn = subject?.CN ?? '';
      s.write('ping\n');
    });
    s.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.endsWith('ping\n')) finish(null);
    });
    s.on('error', (e: Error & { code?: string }) => finish(e.code ?? e.message));
    s.on('close', () => finish('closed'));
  });
}

/** Raw bytes to the listener; resolves with what came back and the ms until the peer closed (-1: still open). */
function raw(port: number, bytes: Buffer | null, waitMs = 3000): Promise<{ data: Buffer; closedMs: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = netConnect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closedMs: number) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ data: Buffer.concat(chunks), closedMs });
    };
    const timer = setTimeout(() => finish(-1), waitMs);
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', () => {});
    s.on('close', () => finish(Date.now() - t0));
    s.on('end', () => finish(Date.now() - t0));
    if (bytes !== null) s.write(bytes);
  });
}

async function l4Event(f: FulcrumProcess, listener: string, event: string): Promise<number> {
  const { body } = await adminGet(f.adminPort, '/metrics');
  const m = new RegExp(`^fulcrum_l4_events_total\\{listener="${listener}",event="${event}"\\} (\\d+)`, 'm').exec(body);
  return m ? Number(m[1]) : 0;
}

test('SNI routing: exact, wildcard, default and no default; the client sees the backend certificate; openssl s_client; bad hellos counted', { timeout: 40_000, skip: SKIP }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fulcrum-tls-'));
  const [ca, cb, cd] = await Promise.all([selfSigned(dir, 'a.example.com'), selfSigned(dir, 'x.example.org'), selfSigned(dir, 'default.test')]);
  const A = await tlsBackend('A', ca);
  const B = await tlsBackend('B', cb);
  const D = await tlsBackend('D', cd);
  const sniRoutes = [
    { serverNames: ['a.example.com'], pool: 'A' },
    { serverNames: ['*.example.org'], pool: 'B' },
  ];
  const f = await startFulcrum({
    admin: { listen: '127.0.0.1:0' },
    shutdown: { gracePeriod: '1s' },
    listeners: [
      { name: 'sni', protocol: 'tls-passthrough', listen: '127.0.0.1:0', sniRoutes, pool: 'D', timeouts: { clientHello: '500ms' } },
      { name: 'nodefault', protocol: 'tls-passthrough', listen: '127.0.0.1:0', sniRoutes },
      { name: 'proxied', protocol: 'tls-passthrough', listen: '127.0.0.1:0', sniRoutes, pool: 'D', proxyProtocol: { from: ['127.0.0.1'] } },
    ],
    pools: [
      { name: 'A', servers: [{ address: A.address }] },
      { name: 'B', servers: [{ address: B.address }] },
      { name: 'D', servers: [{ address: D.address }] },
    ],
  });
  try {
    const port = f.port('sni');
    const cases: [string | undefined, string, string][] = [
      ['a.example.com', 'A', 'a.example.com'],
      ['A.Example.COM', 'A', 'a.example.com'],
      ['x.example.org', 'B', 'x.example.org'],
      ['deep.x.example.org', 'B', 'x.example.org'],
      ['example.org', 'D', 'default.test'], // the apex is not a sub-domain
      ['unknown.example.net', 'D', 'default.test'],
      [undefined, 'D', 'default.test'], // an IP host: node:tls sends no SNI
    ];
    for (const [sni, backend, cn] of cases) {
      const r = await tlsClient(port, sni);
      assert.deepEqual([r.backend, r.cn, r.echo, r.error], [backend, cn, 'ping\n', null], `SNI ${sni ?? '(none)'}`);
    }

    // No default pool: a matching name passes, no SNI or no match is closed (no_route).
    const ok = await tlsClient(f.port('nodefault'), 'x.example.org');
    assert.deepEqual([ok.backend, ok.cn], ['B', 'x.example.org']);
    const acceptedD = D.accepted;
    const none = await tlsClient(f.port('nodefault'), undefined);
    const miss = await tlsClient(f.port('nodefault'), 'nowhere.test');
    assert.deepEqual([none.backend, none.cn, miss.backend, miss.cn], ['', '', '', '']);
    assert.notEqual(none.error, null);
    assert.equal(await l4Event(f, 'nodefault', 'no_route'), 2);
    assert.equal(D.accepted, acceptedD);

    // openssl s_client through Fulcrum: the backend's certificate.
    const out = await new Promise<string>((resolve) => {
      const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'a.example.com'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let text = '';
      p.stdout.on('data', (d: Buffer) => { text += d.toString(); });
      p.stderr.on('data', (d: Buffer) => { text += d.toString(); });
      const timer = setTimeout(() => { if (p.pid !== undefined) process.kill(p.pid, 'SIGKILL'); }, 10_000);
      p.on('close', () => { clearTimeout(timer); resolve(text); });
      // Close stdin once the handshake is through: s_client then ends the connection and exits.
      const wait = setInterval(() => {
        if (/subject=/.test(text) || p.exitCode !== null) { clearInterval(wait); p.stdin.end(); }
      }, 20);
      setTimeout(() => clearInterval(wait), 10_000).unref();
    });
    assert.match(out, /subject=\s*CN\s*=\s*a\.example\.com/, out.slice(0, 2000));

    // A PROXY v1 header from a trusted source, then the hello: routed by its SNI.
    const rawSock = netConnect({ port: f.port('proxied'), host: '127.0.0.1' });
    await new Promise((r) => rawSock.once('connect', r));
    rawSock.write('PROXY TCP4 192.0.2.1 192.0.2.2 1234 443\r\n');
    const viaProxy = await tlsClient(0, 'a.example.com', rawSock);
    assert.deepEqual([viaProxy.backend, viaProxy.cn], ['A', 'a.example.com']);

    // Garbage, an empty handshake record, a hello too large: closed at once, counted.
    const bad = [
      Buffer.from('GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n'),
      Buffer.from([22, 3, 1, 0, 0]),
      Buffer.from([22, 3, 1, 0x40, 0x00, 1, 0x01, 0x00, 0x00, 3, 3]),
    ];
    for (const b of bad) {
      const r = await raw(port, b);
      assert.equal(r.data.length, 0);
      assert.ok(r.closedMs >= 0 && r.closedMs < 2000, `closed at once (bad_client_hello, not the 500 ms deadline: counted below) (${r.closedMs} ms) for ${b.subarray(0, 8).toString('hex')}`);
    }
    assert.equal(await l4Event(f, 'sni', 'bad_client_hello'), 3);
    // Half a hello and then silence, or nothing at all: closed at the 500 ms clientHello deadline.
    for (const b of [Buffer.from([22, 3, 1, 0, 200, 1, 0]), null]) {
      const r = await raw(port, b);
      assert.ok(r.closedMs >= 400 && r.closedMs < 2500, `closed at the deadline (${r.closedMs} ms)`);
    }
    assert.equal(await l4Event(f, 'sni', 'client_hello_timeout'), 2);
    assert.equal(await l4Event(f, 'sni', 'bad_client_hello'), 3);
  } finally {
    await f.stop();
    await Promise.all([A.close(), B.close(), D.close()]);
    await rm(dir, { recursive: true, force: true });
  }
});
