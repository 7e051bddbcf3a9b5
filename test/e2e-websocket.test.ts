/**
 * WebSocket through Fulcrum, end to end (RFC 6455 over an HTTP/1.1 Upgrade, RFC 9110 §7.8): real `ws`
 * clients and servers on 127.0.0.1 port 0, a real Fulcrum child process. Echo of text and binary
 * messages both ways (1 MB, fragmented), permessage-deflate negotiated end to end, round-robin over two
 * backends, in-flight and metrics while open and after close, close codes and reasons both ways,
 * non-101 answers, upgrades turned off; shutdown and drain-by-reload end open sockets with 1001.
 */
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { adminGet, simpleConfig, startFulcrum, waitUntil, type FulcrumProcess } from './helpers/fulcrum.ts';
import { RawConn } from './helpers/backends.ts';

interface WsBackend {
  name: string;
  port: number;
  address: string;
  wss: WebSocketServer;
  /** Close events seen by the server side: [code, reason]. */
  closes: [number, string][];
  /** Headers of every upgrade request received. */
  upgrades: Record<string, string | string[] | undefined>[];
  /** Negotiated extensions of every connection (server view). */
  extensions: string[];
  close(): Promise<void>;
}

/**
 * A ws echo server. Messages starting with `cmd:` are commands: `cmd:close:CODE:REASON` closes from
 * the server; `cmd:frag` answers with a message sent in three fragments; `cmd:name` answers the name.
 */
async function wsBackend(name: string, opts: { perMessageDeflate?: boolean; status?: number } = {}): Promise<WsBackend> {
  const http: Server = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('upgrade required');
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: opts.perMessageDeflate ?? false, maxPayload: 8 * 1024 * 1024 });
  const openSockets = new Set<import('node:stream').Duplex>();
  const b: WsBackend = {
    name, port: 0, address: '', wss, closes: [], upgrades: [], extensions: [],
    close: async () => {
      for (const c of wss.clients) c.terminate();
      for (const so of openSockets) so.destroy();
      await new Promise<void>((r) => wss.close(() => r()));
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
  http.on('upgrade', (req, socket, head) => {
    b.upgrades.push(req.headers);
    if (opts.status !== undefined) {
      // Keep-alive answer on a socket nobody reads any more: reusing it would hang the next request.
      socket.write(`HTTP/1.1 ${opts.status} Nope\r\nContent-Length: 5\r\n\r\nnope\n`);
      socket.on('error', () => {});
      openSockets.add(socket);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      b.extensions.push(String(ws.extensions));
      ws.on('message', (data, isBinary) => {
        const text = isBinary ? '' : data.toString();
        if (text === 'cmd:name') ws.send(name);
        else if (text.startsWith('cmd:close:')) {
          const [, , code, reason] = text.split(':');
          ws.close(Number(code), reason);
        } else if (text === 'cmd:frag') {
          ws.send('frag-', { fin: false });
          ws.send('ment-', { fin: false });
          ws.send('ed', { fin: true });
        } else ws.send(data, { binary: isBinary });
      });
      ws.on('close', (code, reason) => b.closes.push([code, reason.toString()]));
      ws.on('error', () => {});
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  const addr = http.address();
  b.port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  b.address = `127.0.0.1:${b.port}`;
  return b;
}

/** Opens a client; rejects on error or after 5 s. */
function open(url: string, opts: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 5000, ...opts });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`status ${res.statusCode}`), { status: res.statusCode })));
  });
}

/** The next message of a client (bounded by 10 s). */
function next(ws: WebSocket): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message within 10 s')), 10_000);
    ws.once('message', (data, binary) => {
      clearTimeout(timer);
      resolve({ data: Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]), binary });
    });
  });
}

/** The close event of a client: [code, reason] (bounded). */
function closed(ws: WebSocket, ms = 10_000): Promise<[number, string]> {
  return new Promise((resolve, reject) => {
    if (ws.readyState === WebSocket.CLOSED) {
      reject(new Error('already closed'));
      return;
    }
    const timer = setTimeout(() => reject(new Error(`no close within ${ms} ms`)), ms);
    ws.once('close', (code, reason) => {
      clearTimeout(timer);
      resolve([code, reason.toString()]);
    });
  });
}

interface PoolView { active: number; endpoints: { address: string; inFlight: number; connections: { open: number; idle: number } }[] }
async function pool(f: FulcrumProcess): Promise<PoolView> {
  return (JSON.parse((await adminGet(f.adminPort, '/api/v1/pools')).body) as { pools: PoolView[] }).pools[0];
}

/** The sum of the samples of `name` whose labels contain all `parts` (NaN when there is none). */
async function metric(f: FulcrumProcess, name: string, ...parts: string[]): Promise<number> {
  const text = (await adminGet(f.adminPort, '/metrics')).body;
  const lines = text.split('\n').filter((l) => l.startsWith(name + '{') && parts.every((p) => l.includes(p)));
  return lines.length === 0 ? NaN : lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

async function eventually(what: string, cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 1000; i++) {
    if (await cond()) return;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('WebSocket through one Fulcrum', { timeout: 120_000 }, () => {
  let a: WsBackend;
  let b: WsBackend;
  let f: FulcrumProcess;
  let url: string;

  before(async () => {
    a = await wsBackend('a', { perMessageDeflate: true });
    b = await wsBackend('b', { perMessageDeflate: true });
    f = await startFulcrum(simpleConfig([a.port, b.port], { pool: { algorithm: 'round-robin' } }));
    url = `ws://127.0.0.1:${f.port('web')}/chat`;
  });
  after(async () => {
    await f?.stop();
    await a?.close();
    await b?.close();
  });

  it('echoes text and binary messages both ways, 1 MB included, and fragmented messages', async () => {
    const ws = await open(url);
    try {
      ws.send('hello');
      assert.deepEqual(await next(ws).then((m) => [m.data.toString(), m.binary]), ['hello', false]);
      const bin = Buffer.from([0, 1, 2, 255, 254]);
      ws.send(bin);
      const m = await next(ws);
      assert.equal(m.binary, true);
      assert.deepEqual(m.data, bin);
      const big = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 8)) & 0xff;
      ws.send(big);
      const echoed = await next(ws);
      assert.equal(echoed.data.length, big.length);
      assert.ok(echoed.data.equals(big), '1 MB binary message comes back byte for byte');
      // A message sent in three fragments (client → server) arrives whole.
      ws.send('one-', { fin: false });
      ws.send('two-', { fin: false });
      ws.send('three', { fin: true });
      assert.equal((await next(ws)).data.toString(), 'one-two-three');
      // And server → client.
      ws.send('cmd:frag');
      assert.equal((await next(ws)).data.toString(), 'frag-ment-ed');
    } finally {
      ws.terminate();
    }
  });

  it('permessage-deflate is negotiated end to end and compressed messages pass', async () => {
    const before = a.extensions.length + b.extensions.length;
    const ws = await open(url, { perMessageDeflate: true });
    try {
      assert.match(String(ws.extensions), /permessage-deflate/);
      const text = 'compress me '.repeat(5000);
      ws.send(text);
      assert.equal((await next(ws)).data.toString(), text);
      const server = [...a.extensions, ...b.extensions].slice(before);
      assert.deepEqual(server, ['permessage-deflate']);
      const last = (a.upgrades.at(-1)?.['sec-websocket-extensions'] ?? b.upgrades.at(-1)?.['sec-websocket-extensions']) as string;
      assert.match(last, /permessage-deflate/);
    } finally {
      ws.terminate();
    }
  });

  it('balances round robin over two backends, counts in-flight while open and releases it after close', async () => {
    const socks = await Promise.all([0, 1, 2, 3].map(() => open(url)));
    try {
      const names = await Promise.all(socks.map(async (ws) => {
        ws.send('cmd:name');
        return (await next(ws)).data.toString();
      }));
      assert.deepEqual(names.filter((n) => n === 'a').length, 2, `spread: ${names.join(',')}`);
      assert.deepEqual(names.filter((n) => n === 'b').length, 2);
      const p = await pool(f);
      assert.deepEqual(p.endpoints.map((e) => e.inFlight), [2, 2]);
      assert.equal(p.active, 4);
      assert.deepEqual(p.endpoints.map((e) => e.connections.idle), [0, 0], 'upgraded connections never go idle');
      assert.equal(await metric(f, 'fulcrum_websocket_connections', 'listener="web"', 'pool="p"', 'protocol="websocket"'), 4);
    } finally {
      await Promise.all(socks.map((ws) => {
        const c = closed(ws);
        ws.close(1000, 'bye');
        return c;
      }));
    }
    await eventually('in-flight back to 0', async () => {
      const p = await pool(f);
      return p.active === 0 && p.endpoints.every((e) => e.inFlight === 0 && e.connections.open === 0);
    });
    assert.equal(await metric(f, 'fulcrum_websocket_connections', 'pool="p"'), 0);
    assert.ok(await metric(f, 'fulcrum_websocket_connections_total', 'pool="p"') >= 4);
    assert.ok(await metric(f, 'fulcrum_websocket_closed_total', 'reason="client"') >= 4);
    assert.ok(await metric(f, 'fulcrum_requests_total', 'code="101"') >= 4);
  });

  it('a close from the client reaches the backend with its code and reason', async () => {
    const ws = await open(url);
    ws.send('cmd:name');
    const backend = (await next(ws)).data.toString() === 'a' ? a : b;
    const n = backend.closes.length;
    const c = closed(ws);
    ws.close(4001, 'client says bye');
    assert.deepEqual(await c, [4001, 'client says bye']);
    await waitUntil(() => backend.closes.length > n, 5000, () => 'backend close event');
    assert.deepEqual(backend.closes[n], [4001, 'client says bye']);
  });

  it('a close from the backend reaches the client with its code and reason', async () => {
    const ws = await open(url);
    const c = closed(ws);
    ws.send('cmd:close:4002:server says bye');
    assert.deepEqual(await c, [4002, 'server says bye']);
    await eventually('server-side close counted', async () => await metric(f, 'fulcrum_websocket_closed_total', 'reason="server"') >= 1);
  });

  it('a client that resets its connection: the backend side is closed and in-flight released', async () => {
    const ws = await open(url);
    ws.send('cmd:name');
    const backend = (await next(ws)).data.toString() === 'a' ? a : b;
    const n = backend.closes.length;
    ws.terminate();
    await waitUntil(() => backend.closes.length > n, 5000, () => 'backend sees the close');
    assert.equal(backend.closes[n][0], 1006, 'abnormal closure at the backend');
    await eventually('in-flight back to 0', async () => (await pool(f)).endpoints.every((e) => e.inFlight === 0));
  });

  it('the Upgrade and Connection fields reach the backend; plain requests still work on the same listener', async () => {
    const ws = await open(url);
    ws.terminate();
    const h = (a.upgrades.at(-1) ?? {}) as Record<string, string>;
    const h2 = (b.upgrades.at(-1) ?? {}) as Record<string, string>;
    for (const headers of [h, h2]) {
      assert.equal(headers.upgrade, 'websocket');
      assert.equal(headers.connection, 'upgrade');
      assert.ok(headers['sec-websocket-key']);
      assert.equal(headers['x-forwarded-for'], '127.0.0.1');
    }
    const res = await fetch(`http://127.0.0.1:${f.port('web')}/plain`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 426);
    assert.equal(await res.text(), 'upgrade required');
  });
});

test('a backend answering 400 or 404 to the upgrade: the client sees that status', { timeout: 60_000 }, async () => {
  const b400 = await wsBackend('x', { status: 400 });
  const b404 = await wsBackend('y', { status: 404 });
  const f = await startFulcrum(simpleConfig([b400.port], { extraPools: [{ name: 'q', servers: [{ address: b404.address }] }], listener: {
    routes: [{ name: 'nf', match: { path: { prefix: '/nf' } }, pool: 'q' }, { name: 'all', pool: 'p' }],
  } }));
  try {
    await assert.rejects(open(`ws://127.0.0.1:${f.port('web')}/x`), (e: { status?: number }) => e.status === 400);
    await assert.rejects(open(`ws://127.0.0.1:${f.port('web')}/nf`), (e: { status?: number }) => e.status === 404);
    // A non-101 answer is a normal response: the client connection stays HTTP and serves the next request.
    const c = await RawConn.open(f.port('web'));
    try {
      c.write('GET /nf HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
      const r1 = await c.read();
      assert.deepEqual([r1.status, r1.body.toString()], [404, 'nope\n']);
      assert.equal(r1.headers.find(([n]) => n.toLowerCase() === 'upgrade'), undefined);
      c.write('GET /nf/plain HTTP/1.1\r\nHost: h\r\n\r\n');
      const r2 = await c.read();
      assert.deepEqual([r2.status, r2.body.toString()], [426, 'upgrade required']);
    } finally {
      c.close();
    }
    await eventually('nothing left in flight', async () => (await pool(f)).endpoints.every((e) => e.inFlight === 0));
    const v = JSON.parse((await adminGet(f.adminPort, '/api/v1/pools')).body) as { pools: PoolView[] };
    const q = v.pools.find((p) => (p as unknown as { name: string }).name === 'q')!;
    // The upgrade attempts' fresh connections were closed, never pooled: only the plain request's is left.
    assert.equal(b404.upgrades.length, 2);
    assert.deepEqual(q.endpoints[0].connections, { open: 1, idle: 1 });
    assert.equal(await metric(f, 'fulcrum_websocket_connections_total', 'pool="p"'), NaN, 'no tunnel was opened');
  } finally {
    await f.stop();
    await b400.close();
    await b404.close();
  }
});

test('webSocket.enabled false: the Upgrade is removed and the request is plain HTTP', { timeout: 60_000 }, async () => {
  const be = await wsBackend('a');
  const f = await startFulcrum(simpleConfig([be.port], { listener: { webSocket: { enabled: false } } }));
  try {
    await assert.rejects(open(`ws://127.0.0.1:${f.port('web')}/`), (e: { status?: number }) => e.status === 426);
    assert.equal(be.upgrades.length, 0, 'the backend never saw an upgrade');
  } finally {
    await f.stop();
    await be.close();
  }
});

test('half-close: a client FIN reaches the backend, which can still answer (opaque tunnel via otherUpgrades)', { timeout: 60_000 }, async () => {
  // A raw backend: answers 101 to `Upgrade: x-echo`, then echoes in upper case and, on FIN, writes `bye` and ends.
  const { createServer: netServer } = await import('node:net');
  const srv = netServer({ allowHalfOpen: true }, (s) => {
    let head = '';
    let upgraded = false;
    s.on('data', (d: Buffer) => {
      if (!upgraded) {
        head += d.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        upgraded = true;
        s.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x-echo\r\n\r\n');
        const rest = head.slice(head.indexOf('\r\n\r\n') + 4);
        if (rest) s.write(rest.toUpperCase());
        return;
      }
      s.write(d.toString('latin1').toUpperCase());
    });
    s.on('end', () => s.end('bye'));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  const f = await startFulcrum(simpleConfig([port], { listener: { webSocket: { otherUpgrades: ['x-echo'] } } }));
  try {
    const out = await new Promise<string>((resolve, reject) => {
      const c = connect({ host: '127.0.0.1', port: f.port('web'), allowHalfOpen: true });
      let got = '';
      const timer = setTimeout(() => reject(new Error(`no end within 10 s; got ${JSON.stringify(got)}`)), 10_000);
      c.on('data', (d) => {
        got += d.toString('latin1');
        if (got.includes('HELLO')) c.end(); // half-close: our FIN, reading goes on
      });
      c.on('end', () => { clearTimeout(timer); resolve(got); c.end(); });
      c.on('error', reject);
      c.write('GET /t HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: x-echo\r\n\r\n');
      setTimeout(() => c.write('hello'), 200);
    });
    assert.match(out, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(out, /\r\nConnection: upgrade\r\nUpgrade: x-echo\r\n\r\n/i);
    assert.ok(out.endsWith('HELLObye'), JSON.stringify(out));
    await eventually('tunnel closed', async () => (await pool(f)).endpoints.every((e) => e.inFlight === 0 && e.connections.open === 0));
    assert.equal(await metric(f, 'fulcrum_websocket_connections_total', 'protocol="x-echo"'), 1);
  } finally {
    await f.stop();
    await new Promise<void>((r) => srv.close(() => r()));
  }
});

test('shutdown with an open WebSocket: the client gets close 1001, the backend too, then the process exits', { timeout: 60_000 }, async () => {
  const be = await wsBackend('a');
  const f = await startFulcrum(simpleConfig([be.port], { listener: { webSocket: { drainTimeout: '1s' } }, shutdown: { gracePeriod: '10s' } }));
  try {
    const ws = await open(`ws://127.0.0.1:${f.port('web')}/`);
    ws.send('ping');
    assert.equal((await next(ws)).data.toString(), 'ping');
    const c = closed(ws, 15_000);
    const t0 = Date.now();
    f.proc.kill('SIGTERM');
    const [code, reason] = await c;
    assert.equal(code, 1001);
    assert.equal(reason, 'shutting down');
    assert.ok(Date.now() - t0 >= 800, 'closed after the drain timeout, not at once');
    assert.equal(await f.waitExit(10_000), 0);
    await waitUntil(() => be.closes.length === 1, 5000, () => 'backend close');
    assert.equal(be.closes[0][0], 1001, 'the backend got a (masked) Close 1001 from Fulcrum');
  } finally {
    await f.stop();
    await be.close();
  }
});

test('drain of the endpoint by reload: open WebSockets get 1001 after webSocket.drainTimeout', { timeout: 60_000 }, async () => {
  const be = await wsBackend('a');
  const other = await wsBackend('b');
  const cfg = (drain: boolean) => simpleConfig([], {
    listener: { webSocket: { drainTimeout: '1500ms' } },
    pool: { servers: [{ address: be.address, drain }, { address: other.address }], algorithm: 'round-robin' },
  });
  const f = await startFulcrum(cfg(false), { env: { FULCRUM_LOG_LEVEL: 'info' }, args: ['--no-watch'] });
  try {
    const url = `ws://127.0.0.1:${f.port('web')}/`;
    const socks = [await open(url), await open(url)];
    const names = await Promise.all(socks.map(async (ws) => {
      ws.send('cmd:name');
      return (await next(ws)).data.toString();
    }));
    assert.deepEqual([...names].sort(), ['a', 'b']);
    const drainSock = socks[names.indexOf('a')];
    const keepSock = socks[names.indexOf('b')];
    const c = closed(drainSock, 15_000);
    await writeFile(f.configFile, JSON.stringify(cfg(true)));
    const t0 = Date.now();
    f.proc.kill('SIGHUP');
    await f.waitFor(() => f.logs().some((l) => l.msg.startsWith('config reloaded')), 5000, 'reload');
    // Still open before the deadline: messages keep flowing.
    drainSock.send('still here');
    assert.equal((await next(drainSock)).data.toString(), 'still here');
    const [code, reason] = await c;
    assert.deepEqual([code, reason], [1001, 'server drained']);
    assert.ok(Date.now() - t0 >= 1200, `closed after the drain timeout (${Date.now() - t0} ms)`);
    await waitUntil(() => be.closes.length === 1, 5000, () => 'backend close');
    assert.equal(be.closes[0][0], 1001);
    // The socket on the other server is untouched.
    keepSock.send('alive');
    assert.equal((await next(keepSock)).data.toString(), 'alive');
    assert.equal(await metric(f, 'fulcrum_websocket_closed_total', 'reason="drain"'), 1);
    keepSock.terminate();
  } finally {
    await f.stop();
    await be.close();
    await other.close();
  }
});

test('an upgrade passes through the route middlewares and sticky: the 101 carries the sticky cookie and response header rules, the pinned backend gets the next socket, the rate limit counts upgrades', { timeout: 60_000 }, async () => {
  const a = await wsBackend('a');
  const b = await wsBackend('b');
  const f = await startFulcrum(simpleConfig([a.port, b.port], {
    listener: {
      routes: [{
        name: 'all', pool: 'p',
        rateLimit: { key: 'source-ip', rate: '1/m', burst: 3 },
        headers: { request: { set: { 'X-Via-Route': 'all' } }, response: { set: { 'X-Upgrade-Rule': 'yes' } } },
      }],
    },
    pool: { algorithm: 'round-robin', sticky: { cookie: 'SRV' } },
  }));
  try {
    const url = `ws://127.0.0.1:${f.port('web')}/chat`;
    let upgradeHeaders: Record<string, string | string[] | undefined> = {};
    const first = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 5000 });
    first.once('upgrade', (res) => { upgradeHeaders = res.headers; });
    await new Promise<void>((resolve, reject) => { first.once('open', () => resolve()); first.once('error', reject); });
    first.send('cmd:name');
    const pinnedTo = (await next(first)).data.toString();
    first.close(1000, 'done');
    assert.equal(upgradeHeaders['x-upgrade-rule'], 'yes', 'response header rule applied to the 101');
    const setCookie = ([] as string[]).concat(upgradeHeaders['set-cookie'] ?? []);
    const sticky = setCookie.find((c) => c.startsWith('SRV='));
    assert.ok(sticky !== undefined, `the 101 sets the sticky cookie (Set-Cookie: ${JSON.stringify(setCookie)})`);
    const cookie = sticky.split(';')[0];
    // Round robin alone would alternate; the cookie pins the next two sockets to the same backend.
    for (let i = 0; i < 2; i++) {
      const ws = await open(url, { headers: { Cookie: `${cookie}; other=1` } });
      ws.send('cmd:name');
      assert.equal((await next(ws)).data.toString(), pinnedTo, `socket ${i + 2} stays on ${pinnedTo}`);
      ws.close(1000);
    }
    const seen = [...a.upgrades, ...b.upgrades];
    assert.equal(seen.length, 3);
    assert.ok(seen.every((h) => h['x-via-route'] === 'all'), 'request header rule applied to upgrades');
    assert.ok(seen.slice(1).every((h) => h.cookie === 'other=1'), 'the sticky cookie is stripped before the backend');
    // burst 3 used up by the three upgrades: the fourth is answered 429 by Fulcrum.
    await assert.rejects(open(url), (err: Error & { status?: number }) => err.status === 429);
  } finally {
    await f.stop();
    await a.close();
    await b.close();
  }
});
