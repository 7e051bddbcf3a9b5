// ALPN hand-off of an `https` listener to HTTP/2 (src/l7/h2-hook.ts), in process: without a
// registered handler `h2` is not offered (a client offering h2 and http/1.1 gets http/1.1); once a
// handler is registered, a client offering h2 gets it and its socket goes to the handler with the
// listener; http/1.1 clients still get the HTTP/1.1 proxy. Also: shutdown closes a connection that
// is still in its handshake.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect, type Socket } from 'node:net';
import { validateConfig } from '../src/config/index.ts';
import { Metrics } from '../src/admin/metrics.ts';
import { compileRouter } from '../src/l7/router/router.ts';
import { PoolRuntime } from '../src/runtime/pool.ts';
import { HttpsListener } from '../src/l7/tls/https-listener.ts';
import { registerH2Handler } from '../src/l7/h2-hook.ts';
import type { HttpListener } from '../src/l7/http1/server.ts';
import { HAVE_OPENSSL, issue, makeCa } from './helpers/certs.ts';
import { handshake, TlsClient } from './helpers/tls-client.ts';
import { startHttpBackend } from './helpers/backends.ts';

const SKIP = !HAVE_OPENSSL && process.env.FULCRUM_TEST_STRICT !== '1' ? 'openssl not found (Debian package openssl)' : false;
const dir = mkdtempSync(join(tmpdir(), 'fulcrum-h2hook-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('ALPN h2 only with a registered HTTP/2 handler, which gets the socket and the listener; shutdown ends handshakes in progress', { timeout: 60_000, skip: SKIP }, async () => {
  const ca = makeCa(dir, 'ca');
  const cert = issue(ca, 'h2.test');
  const backend = await startHttpBackend((_req, res) => res.end('h1 ok'));
  const parsed = validateConfig({
    listeners: [{ name: 's', protocol: 'https', listen: '127.0.0.1:0', routes: [{ pool: 'p' }], tls: { certificates: [{ cert: cert.cert, key: cert.key }] } }],
    pools: [{ name: 'p', servers: [{ address: backend.address }] }],
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const config = parsed.config;
  const pools = new Map([['p', new PoolRuntime(config.pools[0])]]);
  const listener = new HttpsListener(config.listeners[0], { router: compileRouter(config.listeners[0].routes!), pools }, new Metrics());
  const port = await listener.listen();
  const caPem = readFileSync(ca.cert);
  try {
    const before = await handshake(port, { servername: 'h2.test', ALPNProtocols: ['h2', 'http/1.1'] });
    assert.equal(before.alpn, 'http/1.1', 'no handler: h2 not offered');

    const handed: { listener: HttpListener; head: Buffer | null }[] = [];
    registerH2Handler((socket, l, head) => {
      handed.push({ listener: l, head });
      socket.end('h2 handler here');
    });
    const h2 = await TlsClient.open(port, { servername: 'h2.test', ca: caPem, ALPNProtocols: ['h2', 'http/1.1'] });
    assert.equal(h2.socket.alpnProtocol, 'h2');
    const got = await new Promise<string>((resolve) => {
      let text = '';
      h2.socket.on('data', (d: Buffer) => { text += d.toString(); });
      h2.socket.on('end', () => resolve(text));
    });
    assert.equal(got, 'h2 handler here');
    assert.equal(handed.length, 1);
    assert.equal(handed[0].listener, listener);
    assert.equal(handed[0].head, null);
    h2.close();

    const h1 = await TlsClient.open(port, { servername: 'h2.test', ca: caPem, ALPNProtocols: ['http/1.1'] });
    assert.equal((await h1.request('/')).body, 'h1 ok');
    h1.close();

    // A client that connects and never sends its ClientHello: shutdown does not wait for the handshake timeout.
    const silent: Socket = netConnect(port, '127.0.0.1');
    silent.on('error', () => {});
    await new Promise<void>((r) => silent.once('connect', () => r()));
    await new Promise((r) => setTimeout(r, 100));
    const closed = new Promise<void>((r) => silent.once('close', () => r()));
    const t0 = Date.now();
    await listener.shutdown(10_000);
    await closed;
    assert.ok(Date.now() - t0 < 4000, `closed in ${Date.now() - t0} ms`);
  } finally {
    registerH2Handler(null as never);
    await listener.shutdown(1000);
    for (const p of pools.values()) p.stop();
    await backend.close();
  }
});
