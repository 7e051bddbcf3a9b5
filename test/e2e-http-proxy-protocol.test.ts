// PROXY protocol on `http` and `https` listeners (behind an L4 balancer: AWS NLB, HAProxy
// `send-proxy`). Hand-written v1 and v2 headers (TCP4, TCP6; split over several writes; header and
// request in one write) → the backend sees the carried address in X-Forwarded-For and Forwarded, on
// HTTP/1.1 keep-alive, h2c, https (HTTP/1.1 and ALPN h2) and WebSocket upgrades; `source-ip` hashing
// and rate limits key on it. Untrusted sources refused, malformed headers closed, LOCAL (the
// balancer's health check) uses the socket's address, header timeout — each counted in
// fulcrum_l4_events_total. Interop: a real HAProxy with `send-proxy` / `send-proxy-v2`.
// Real Fulcrum child process; clients and backends in this process on 127.0.0.x, port 0.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http2 from 'node:http2';
import { Duplex } from 'node:stream';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { adminGet, startFulcrum, type FulcrumProcess } from './helpers/fulcrum.ts';
import { RawConn, sendRaw, startHttpBackend, headerOf, parseMessage, type HttpBackend, type Message } from './helpers/backends.ts';
import { HAVE_OPENSSL, issue, makeCa, type TestCa, type TestCert } from './helpers/certs.ts';
import { findHaproxy, startChild } from './helpers/peers.ts';
import { freePort } from './helpers/ports.ts';

const STRICT = process.env.FULCRUM_TEST_STRICT === '1';
const SKIP_TLS = !HAVE_OPENSSL && !STRICT ? 'openssl not found (Debian package openssl)' : false;

const cleanup: (() => Promise<void> | void)[] = [];
let dir = '';
let ca: TestCa | null = null;
let cert: TestCert | null = null;
let a: HttpBackend;
let b: HttpBackend;
let f: FulcrumProcess;

// ------------------------------------------------------------------------------------ headers

/** A v1 line, written by hand. */
function v1(family: 'TCP4' | 'TCP6', src: string, dst: string, sport: number, dport: number): Buffer {
  return Buffer.from(`PROXY ${family} ${src} ${dst} ${sport} ${dport}\r\n`, 'latin1');
}

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** A v2 PROXY (or LOCAL) header, written by hand: addresses as byte arrays (4 or 16 bytes). */
function v2(src: number[], dst: number[], sport: number, dport: number, local = false): Buffer {
  const six = src.length === 16;
  const addr = Buffer.alloc(six ? 36 : 12);
  Buffer.from(src).copy(addr, 0);
  Buffer.from(dst).copy(addr, src.length);
  addr.writeUInt16BE(sport, 2 * src.length);
  addr.writeUInt16BE(dport, 2 * src.length + 2);
  const head = Buffer.from([local ? 0x20 : 0x21, six ? 0x21 : 0x11, 0, addr.length]);
  return Buffer.concat([SIG, head, addr]);
}

/** 2001:db8::42 as 16 bytes. */
const V6_SRC = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42];
const V6_DST = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01];

const GET = (p = '/', extra = '') => `GET ${p} HTTP/1.1\r\nHost: app.test\r\n${extra}\r\n`;

/** The backend's JSON answer (what it was told about the client). */
interface Seen { name: string; xff: string | null; fwd: string | null; peer: string }

function seenOf(m: Message): Seen {
  assert.equal(m.status, 200, m.body.toString('latin1'));
  return JSON.parse(m.body.toString('utf8')) as Seen;
}

async function l4Event(listener: string, event: string): Promise<number> {
  const { body } = await adminGet(f.adminPort, '/metrics');
  const m = new RegExp(`^fulcrum_l4_events_total\\{listener="${listener}",event="${event}"\\} (\\d+)`, 'm').exec(body);
  return m ? Number(m[1]) : 0;
}

/** A TCP connection to 127.0.0.1:port (optionally from `localAddress`) with `first` written at once. */
function rawSocket(port: number, first: Buffer, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port, localAddress });
    s.once('connect', () => {
      s.write(first);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** One h2 GET over `session`; the backend's answer. Bounded by 5 s. */
function h2Get(session: http2.ClientHttp2Session, p: string): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('h2 request timed out')), 5000);
    const req = session.request({ ':path': p, ':authority': 'app.test' });
    let body = '';
    let status = 0;
    req.setEncoding('utf8');
    req.on('response', (h) => { status = Number(h[':status']); });
    req.on('data', (d: string) => { body += d; });
    req.on('end', () => {
      clearTimeout(timer);
      if (status !== 200) reject(new Error(`status ${status}: ${body}`));
      else resolve(JSON.parse(body) as Seen);
    });
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    req.end();
  });
}

// ------------------------------------------------------------------------------------ setup

function backend(name: string): Promise<HttpBackend> {
  return startHttpBackend((req, res) => {
    const body = JSON.stringify({
      name, xff: req.headers['x-forwarded-for'] ?? null, fwd: req.headers.forwarded ?? null, peer: req.socket.remoteAddress,
    });
    res.setHeader('content-type', 'application/json');
    res.end(body);
  });
}

before(async () => {
  a = await backend('a');
  b = await backend('b');
  // WebSocket: the backend answers the upgrade with 101 and tells the address it was given.
  a.server.on('upgrade', (req, socket: Socket) => {
    socket.on('error', () => {});
    socket.end(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nX-Seen-Xff: ${req.headers['x-forwarded-for'] ?? '-'}\r\n\r\n`);
  });
  cleanup.push(() => a.close(), () => b.close());
  const listeners: object[] = [
    {
      name: 'pp', protocol: 'http', listen: '127.0.0.1:0', proxyProtocol: { from: ['127.0.0.1/32'] }, timeouts: { clientHello: '500ms' },
      routes: [
        { name: 'rl', match: { path: { prefix: '/rl' } }, pool: 'a', rateLimit: { rate: '1/m', burst: 1 } },
        { name: 'hash', match: { path: { prefix: '/hash' } }, pool: 'hash' },
        { name: 'all', pool: 'a' },
      ],
    },
    { name: 'strict', protocol: 'http', listen: '127.0.0.1:0', proxyProtocol: { from: ['127.0.0.2/32'] }, routes: [{ pool: 'a' }] },
    { name: 'plain', protocol: 'http', listen: '127.0.0.1:0', routes: [{ pool: 'a' }] },
  ];
  if (!SKIP_TLS) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-pp-http-'));
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    ca = makeCa(dir, 'pp-ca');
    cert = issue(ca, 'app.test');
    listeners.push({
      name: 'tls', protocol: 'https', listen: '127.0.0.1:0', proxyProtocol: { from: ['127.0.0.1/32'] }, timeouts: { clientHello: '2s' },
      tls: { certificates: [{ cert: cert.cert, key: cert.key }] }, routes: [{ pool: 'a' }],
    });
  }
  f = await startFulcrum({
    admin: { listen: '127.0.0.1:0' },
    listeners,
    pools: [
      { name: 'a', servers: [{ address: a.address }] },
      { name: 'hash', algorithm: 'ip-hash', hashKey: 'source-ip', servers: [{ address: a.address }, { address: b.address }] },
    ],
  });
  cleanup.push(() => f.stop().then(() => undefined));
});

after(async () => {
  for (const c of cleanup.reverse()) await c();
});

// ------------------------------------------------------------------------------------ tests

describe('PROXY protocol on http listeners', { concurrency: false }, () => {
  it('v1 TCP4, header and request in one write: the carried address is the client address', async () => {
    const port = f.port('pp');
    const c = await RawConn.open(port);
    try {
      c.write(Buffer.concat([v1('TCP4', '203.0.113.7', '198.51.100.1', 51000, 80), Buffer.from(GET('/', 'X-Forwarded-For: 6.6.6.6\r\n'))]));
      const s = seenOf(await c.read());
      // Not a trusted proxy: the client's own X-Forwarded-For is replaced by the carried address.
      assert.equal(s.xff, '203.0.113.7');
      assert.equal(s.fwd, 'for=203.0.113.7;host=app.test;proto=http');
      // Keep-alive: the next request on the connection carries the same address.
      c.write(GET('/again'));
      assert.equal(seenOf(await c.read()).xff, '203.0.113.7');
    } finally {
      c.close();
    }
  });

  it('v1 TCP6 split over several writes; the request in a later write', async () => {
    const hdr = v1('TCP6', '2001:db8::42', '2001:db8::1', 443, 8443);
    const pieces = [hdr.subarray(0, 3), { delayMs: 20 }, hdr.subarray(3, 17), { delayMs: 20 }, hdr.subarray(17, hdr.length - 1), { delayMs: 20 }, hdr.subarray(hdr.length - 1), { delayMs: 20 }, GET()];
    const r = await sendRaw(f.port('pp'), pieces, { until: (buf) => parseMessage(buf, 0, { response: true, requestMethod: 'GET', eof: false }) !== null });
    const m = parseMessage(r.bytes, 0, { response: true, requestMethod: 'GET', eof: true });
    assert.ok(m !== null, r.bytes.toString('latin1'));
    const s = seenOf(m);
    assert.equal(s.xff, '2001:db8::42');
    assert.equal(s.fwd, 'for="[2001:db8::42]";host=app.test;proto=http');
  });

  it('v2 TCP4 and TCP6 (byte by byte for TCP6)', async () => {
    const four = await RawConn.open(f.port('pp'));
    try {
      four.write(Buffer.concat([v2([192, 0, 2, 33], [192, 0, 2, 1], 40000, 80), Buffer.from(GET())]));
      assert.equal(seenOf(await four.read()).xff, '192.0.2.33');
    } finally {
      four.close();
    }
    const hdr = v2(V6_SRC, V6_DST, 40001, 80);
    const pieces = [...hdr].flatMap((byte) => [Buffer.from([byte]), { delayMs: 1 }]);
    const r = await sendRaw(f.port('pp'), [...pieces, GET()], { until: (buf) => parseMessage(buf, 0, { response: true, requestMethod: 'GET', eof: false }) !== null });
    const m = parseMessage(r.bytes, 0, { response: true, requestMethod: 'GET', eof: true });
    assert.ok(m !== null, r.bytes.toString('latin1'));
    assert.equal(seenOf(m).xff, '2001:db8::42');
  });

  it('v2 LOCAL (the balancer\'s health check): the socket\'s own address', async () => {
    const c = await RawConn.open(f.port('pp'));
    try {
      c.write(Buffer.concat([v2([10, 9, 9, 9], [10, 0, 0, 1], 1, 2, true), Buffer.from(GET())]));
      assert.equal(seenOf(await c.read()).xff, '127.0.0.1');
    } finally {
      c.close();
    }
  });

  it('untrusted source refused; malformed or missing header closed; both counted', async () => {
    const untrusted0 = await l4Event('strict', 'refused_untrusted_proxy');
    const bad0 = await l4Event('pp', 'bad_proxy_header');
    // `strict` trusts only 127.0.0.2: from 127.0.0.1 even a valid header gets nothing.
    const r = await sendRaw(f.port('strict'), [v1('TCP4', '203.0.113.7', '198.51.100.1', 1, 2), GET()], { timeoutMs: 3000 });
    assert.equal(r.closed, true);
    assert.equal(r.bytes.length, 0);
    assert.equal(await l4Event('strict', 'refused_untrusted_proxy'), untrusted0 + 1);
    // From 127.0.0.2 it is served.
    const ok = await RawConn.open(f.port('strict'), '127.0.0.2');
    try {
      ok.write(Buffer.concat([v1('TCP4', '203.0.113.9', '198.51.100.1', 1, 2), Buffer.from(GET())]));
      assert.equal(seenOf(await ok.read()).xff, '203.0.113.9');
    } finally {
      ok.close();
    }
    // Malformed (3-octet address), and no header at all (a plain request): closed without an answer.
    for (const bad of ['PROXY TCP4 1.2.3 4.5.6.7 1 2\r\n' + GET(), GET()]) {
      const m = await sendRaw(f.port('pp'), bad, { timeoutMs: 3000 });
      assert.equal(m.closed, true, bad);
      assert.equal(m.bytes.length, 0, m.bytes.toString('latin1'));
    }
    assert.equal(await l4Event('pp', 'bad_proxy_header'), bad0 + 2);
    // A listener without proxyProtocol takes the PROXY line as a bad request line.
    const plain = await sendRaw(f.port('plain'), [v1('TCP4', '203.0.113.7', '198.51.100.1', 1, 2), GET()], { timeoutMs: 3000 });
    assert.match(plain.bytes.toString('latin1'), /^HTTP\/1\.1 400 /);
  });

  it('header not complete within timeouts.clientHello (500ms): closed and counted', async () => {
    const before = await l4Event('pp', 'client_hello_timeout');
    const r = await sendRaw(f.port('pp'), 'PROXY TCP4 203.0.113.7 ', { timeoutMs: 4000 });
    assert.equal(r.closed, true);
    assert.equal(r.bytes.length, 0);
    assert.ok(r.elapsedMs >= 400 && r.elapsedMs < 2500, `closed after ${r.elapsedMs} ms`);
    assert.equal(await l4Event('pp', 'client_hello_timeout'), before + 1);
  });

  it('h2c (prior knowledge) after a PROXY header', async () => {
    const port = f.port('pp');
    const socket = await rawSocket(port, v1('TCP4', '203.0.113.20', '198.51.100.1', 5000, 80));
    const session = http2.connect(`http://127.0.0.1:${port}`, { createConnection: () => socket });
    session.on('error', () => {});
    try {
      const s1 = await h2Get(session, '/one');
      const s2 = await h2Get(session, '/two');
      assert.equal(s1.xff, '203.0.113.20');
      assert.equal(s2.xff, '203.0.113.20');
      assert.equal(s1.fwd, 'for=203.0.113.20;host=app.test;proto=http');
    } finally {
      session.destroy();
    }
  });

  it('WebSocket upgrade: the backend sees the carried address', async () => {
    const c = await RawConn.open(f.port('pp'));
    try {
      c.write(Buffer.concat([
        v2([198, 18, 0, 5], [10, 0, 0, 1], 1234, 80),
        Buffer.from(GET('/ws', 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n')),
      ]));
      const m = await c.read('GET', 5000, true);
      assert.equal(m.status, 101);
      assert.equal(headerOf(m, 'x-seen-xff'), '198.18.0.5');
    } finally {
      c.close();
    }
  });

  it('source-ip hashing (ip-hash) and rate limits key on the carried address', async () => {
    const port = f.port('pp');
    const owner = new Map<string, string>();
    // 16 carried addresses, each asked 3 times: always the same backend per address, and both
    // backends used — every connection comes from 127.0.0.1, so hashing the socket address would
    // put them all on one.
    for (let i = 1; i <= 16; i++) {
      const ip = `10.${i}.${i * 7}.1`;
      for (let k = 0; k < 3; k++) {
        const c = await RawConn.open(port);
        try {
          c.write(Buffer.concat([v1('TCP4', ip, '10.0.0.1', 1000 + k, 80), Buffer.from(GET('/hash'))]));
          const s = seenOf(await c.read());
          assert.equal(s.xff, ip);
          if (k === 0) owner.set(ip, s.name);
          else assert.equal(s.name, owner.get(ip), `${ip} moved`);
        } finally {
          c.close();
        }
      }
    }
    assert.deepEqual(new Set(owner.values()), new Set(['a', 'b']), JSON.stringify([...owner]));
    // rateLimit 1/m, burst 1, key source-ip: a second request from the same carried address is
    // refused, one from another carried address is not.
    const statusFrom = async (ip: string): Promise<number> => {
      const c = await RawConn.open(port);
      try {
        c.write(Buffer.concat([v1('TCP4', ip, '10.0.0.1', 1, 80), Buffer.from(GET('/rl'))]));
        return (await c.read()).status;
      } finally {
        c.close();
      }
    };
    assert.equal(await statusFrom('192.0.2.101'), 200);
    assert.equal(await statusFrom('192.0.2.101'), 429);
    assert.equal(await statusFrom('192.0.2.102'), 200);
  });
});

describe('PROXY protocol on https listeners', { concurrency: false }, () => {
  /**
   * TLS over a socket that sends `header` first; ALPN `alpn`. `together`: the header and the
   * ClientHello leave in one write (TLS runs over a stream that prefixes its first write with the
   * header), so Fulcrum reads them in one chunk and must pass the bytes after the header on to TLS;
   * else the header is written alone and TLS starts 50 ms later.
   */
  async function tlsAfter(header: Buffer, alpn: string[], together: boolean): Promise<TLSSocket> {
    const raw = await new Promise<Socket>((resolve, reject) => {
      const s = netConnect({ host: '127.0.0.1', port: f.port('tls') });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    let transport: Duplex = raw;
    if (together) {
      let first = true;
      const d = new Duplex({
        write(chunk: Buffer, _enc, cb) {
          raw.write(first ? Buffer.concat([header, chunk]) : chunk, cb);
          first = false;
        },
        read() { raw.resume(); },
        final(cb) { raw.end(); cb(); },
        destroy(err, cb) { raw.destroy(); cb(err); },
      });
      raw.on('data', (c: Buffer) => { if (!d.push(c)) raw.pause(); });
      raw.on('end', () => d.push(null));
      raw.on('error', (e) => d.destroy(e));
      transport = d;
    } else {
      raw.write(header);
      await new Promise((r) => setTimeout(r, 50));
    }
    return new Promise((resolve, reject) => {
      const t = tlsConnect({ socket: transport, servername: 'app.test', ca: fs.readFileSync(ca!.cert), ALPNProtocols: alpn });
      t.once('secureConnect', () => resolve(t));
      t.once('error', reject);
      setTimeout(() => reject(new Error('no TLS handshake within 5 s')), 5000).unref();
    });
  }

  it('PROXY header, then TLS: HTTP/1.1 and ALPN h2 see the carried address', { skip: SKIP_TLS }, async () => {
    const t = await tlsAfter(v2([203, 0, 113, 50], [10, 0, 0, 1], 3333, 443), ['http/1.1'], true);
    try {
      const chunks: Buffer[] = [];
      t.on('data', (d: Buffer) => chunks.push(d));
      t.write(GET());
      let m: Message | null = null;
      for (let i = 0; i < 100 && m === null; i++) {
        await new Promise((r) => setTimeout(r, 20));
        m = parseMessage(Buffer.concat(chunks), 0, { response: true, requestMethod: 'GET', eof: false });
      }
      assert.ok(m !== null, Buffer.concat(chunks).toString('latin1'));
      const s = seenOf(m);
      assert.equal(s.xff, '203.0.113.50');
      assert.equal(s.fwd, 'for=203.0.113.50;host=app.test;proto=https');
    } finally {
      t.destroy();
    }
    const t2 = await tlsAfter(v1('TCP6', '2001:db8::42', '2001:db8::1', 4444, 443), ['h2'], false);
    assert.equal(t2.alpnProtocol, 'h2');
    const session = http2.connect('https://app.test', { createConnection: () => t2 });
    session.on('error', () => {});
    try {
      const s = await h2Get(session, '/h2');
      assert.equal(s.xff, '2001:db8::42');
    } finally {
      session.destroy();
    }
  });

  it('TLS without the PROXY header first: closed, counted', { skip: SKIP_TLS }, async () => {
    const before = await l4Event('tls', 'bad_proxy_header');
    const err = await new Promise<string>((resolve) => {
      const t = tlsConnect({ host: '127.0.0.1', port: f.port('tls'), servername: 'app.test', ca: fs.readFileSync(ca!.cert) });
      t.once('secureConnect', () => { t.destroy(); resolve('connected'); });
      t.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      setTimeout(() => { t.destroy(); resolve('timeout'); }, 5000).unref();
    });
    assert.notEqual(err, 'connected');
    assert.notEqual(err, 'timeout');
    assert.equal(await l4Event('tls', 'bad_proxy_header'), before + 1);
  });
});

describe('PROXY protocol and reloads', { concurrency: false }, () => {
  it('a reload adding, then removing proxyProtocol applies to new connections on http and https', async () => {
    const listeners = (pp: boolean): object[] => {
      const extra = pp ? { proxyProtocol: { from: ['127.0.0.1/32'] } } : {};
      const out: object[] = [{ name: 'h', protocol: 'http', listen: '127.0.0.1:0', routes: [{ pool: 'a' }], ...extra }];
      if (!SKIP_TLS) out.push({ name: 's', protocol: 'https', listen: '127.0.0.1:0', routes: [{ pool: 'a' }], tls: { certificates: [{ cert: cert!.cert, key: cert!.key }] }, ...extra });
      return out;
    };
    const config = (pp: boolean, ports: Map<string, number>): object => ({
      admin: { enabled: false },
      listeners: listeners(pp).map((l) => {
        const name = (l as { name: string }).name;
        return ports.has(name) ? { ...l, listen: `127.0.0.1:${ports.get(name)}` } : l;
      }),
      pools: [{ name: 'a', servers: [{ address: a.address }] }],
    });
    // Fixed ports from the start: a reload keeps a listener (and its socket) only at the same `listen`.
    const ports = new Map([['h', await freePort()], ['s', await freePort()]]);
    const g = await startFulcrum(config(false, ports), { env: { FULCRUM_LOG_LEVEL: 'info' }, args: ['--no-watch'] });
    cleanup.push(() => g.stop().then(() => undefined));
    const reloads = () => g.logs().filter((l) => l.msg.startsWith('config reloaded (generation ')).length;
    const reload = async (pp: boolean) => {
      const n = reloads();
      fs.writeFileSync(g.configFile, JSON.stringify(config(pp, ports)));
      g.proc.kill('SIGHUP');
      await g.waitFor(() => reloads() > n, 5000, 'config reloaded');
    };
    const plainXff = async () => seenOf(await (async () => {
      const c = await RawConn.open(ports.get('h')!);
      try { c.write(GET()); return await c.read(); } finally { c.close(); }
    })()).xff;
    const tlsOk = async (header: Buffer | null): Promise<string> => new Promise((resolve) => {
      const raw = netConnect({ host: '127.0.0.1', port: ports.get('s')! });
      raw.on('error', () => {});
      raw.once('connect', () => {
        if (header !== null) raw.write(header);
        const t = tlsConnect({ socket: raw, servername: 'app.test', ca: fs.readFileSync(ca!.cert) });
        t.once('secureConnect', () => { t.destroy(); resolve('ok'); });
        t.once('error', () => resolve('failed'));
        setTimeout(() => { t.destroy(); resolve('timeout'); }, 5000).unref();
      });
    });
    assert.equal(await plainXff(), '127.0.0.1');
    if (!SKIP_TLS) assert.equal(await tlsOk(null), 'ok');
    // An idle keep-alive connection opened before the reload keeps being served as before.
    const kept = await RawConn.open(ports.get('h')!);
    try {
      await reload(true);
      const r = await sendRaw(ports.get('h')!, GET(), { timeoutMs: 3000 });
      assert.equal(r.bytes.length, 0, 'a request without a PROXY header is refused after the reload');
      const c = await RawConn.open(ports.get('h')!);
      try {
        c.write(Buffer.concat([v1('TCP4', '203.0.113.77', '10.0.0.1', 1, 80), Buffer.from(GET())]));
        assert.equal(seenOf(await c.read()).xff, '203.0.113.77');
      } finally {
        c.close();
      }
      kept.write(GET());
      assert.equal(seenOf(await kept.read()).xff, '127.0.0.1');
    } finally {
      kept.close();
    }
    if (!SKIP_TLS) {
      assert.equal(await tlsOk(null), 'failed');
      assert.equal(await tlsOk(v1('TCP4', '203.0.113.77', '10.0.0.1', 1, 443)), 'ok');
    }
    await reload(false);
    assert.equal(await plainXff(), '127.0.0.1');
    if (!SKIP_TLS) assert.equal(await tlsOk(null), 'ok');
    await g.stop();
  });
});

describe('PROXY protocol interop', { concurrency: false }, () => {
  it('HAProxy send-proxy / send-proxy-v2 in front of an http listener: the backend sees HAProxy\'s client', async (t) => {
    const bin = findHaproxy();
    if (bin === null) {
      if (STRICT) assert.fail('haproxy missing (Debian package haproxy)');
      t.skip('haproxy missing (Debian package haproxy)');
      return;
    }
    for (const send of ['send-proxy', 'send-proxy-v2']) {
      const hdir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-pp-haproxy-'));
      const hp = await freePort();
      fs.writeFileSync(path.join(hdir, 'haproxy.cfg'), `global\n  nbthread 1\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 10s\n  timeout server 10s\nfrontend f\n  bind 127.0.0.1:${hp}\n  default_backend b\nbackend b\n  server fulcrum 127.0.0.1:${f.port('pp')} ${send}\n`);
      const peer = await startChild(bin, ['-db', '-f', path.join(hdir, 'haproxy.cfg')], hdir, hp, cleanup);
      try {
        // The client binds 127.0.0.3, so the address HAProxy saw is not the one Fulcrum's socket has.
        const c = await RawConn.open(hp, '127.0.0.3');
        try {
          c.write(GET());
          const s = seenOf(await c.read());
          assert.equal(s.xff, '127.0.0.3', send);
          assert.equal(s.fwd, 'for=127.0.0.3;host=app.test;proto=http', send);
        } finally {
          c.close();
        }
      } finally {
        await peer.stop();
      }
    }
  });
});
