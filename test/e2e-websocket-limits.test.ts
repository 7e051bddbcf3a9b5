/**
 * WebSocket tunnels at their limits, end to end through a real Fulcrum process: back-pressure from a
 * client that stops reading, the tunnel idle timeout (`timeouts.tunnel`), a drain that finds the
 * client in the middle of a frame (Close towards the client, TCP close after the linger), the
 * circuit breaker `maxRequests` counting open WebSockets, and a connect failure retried on another
 * server before any answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect, createServer as netServer, type Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { adminGet, simpleConfig, startFulcrum, waitUntil, type FulcrumProcess } from './helpers/fulcrum.ts';

interface Backend {
  port: number;
  address: string;
  server: WebSocket[];
  closes: number[];
  close(): Promise<void>;
}

/** A ws echo backend that also keeps its server-side sockets (for back-pressure figures). */
async function backend(): Promise<Backend> {
  const http: Server = createServer((_req, res) => res.end('plain'));
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
  const b: Backend = {
    port: 0, address: '', server: [], closes: [],
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
  http.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => {
    b.server.push(ws);
    ws.on('message', (d, bin) => ws.send(d, { binary: bin }));
    ws.on('close', (code) => b.closes.push(code));
    ws.on('error', () => {});
  }));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  b.port = (http.address() as { port: number }).port;
  b.address = `127.0.0.1:${b.port}`;
  return b;
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 5000, maxPayload: 64 * 1024 * 1024 });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_q, res) => reject(Object.assign(new Error(`status ${res.statusCode}`), { status: res.statusCode })));
  });
}

async function metric(f: FulcrumProcess, name: string, ...parts: string[]): Promise<number> {
  const text = (await adminGet(f.adminPort, '/metrics')).body;
  const lines = text.split('\n').filter((l) => l.startsWith(name + '{') && parts.every((p) => l.includes(p)));
  return lines.length === 0 ? NaN : lines.reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

async function inFlight(f: FulcrumProcess): Promise<number[]> {
  const v = JSON.parse((await adminGet(f.adminPort, '/api/v1/pools')).body) as { pools: { endpoints: { inFlight: number }[] }[] };
  return v.pools[0].endpoints.map((e) => e.inFlight);
}

async function eventually(what: string, cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('back-pressure: a client that stops reading holds the backend back; every byte arrives once it reads again', { timeout: 90_000 }, async (t) => {
  const be = await backend();
  const f = await startFulcrum(simpleConfig([be.port]));
  try {
    const ws = await open(`ws://127.0.0.1:${f.port('web')}/`);
    await waitUntil(() => be.server.length === 1, 5000, () => 'server side');
    const server = be.server[0];
    ws.pause(); // stops reading the socket
    const MSG = 1024 * 1024;
    const COUNT = 96;
    const sent = createHash('sha256');
    for (let i = 0; i < COUNT; i++) {
      const m = Buffer.alloc(MSG, i & 0xff);
      sent.update(m);
      server.send(m);
    }
    // Wait until the buffers between the backend and the paused client are full.
    let last = -1;
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100));
      if (server.bufferedAmount === last) break;
      last = server.bufferedAmount;
    }
    const held = server.bufferedAmount;
    t.diagnostic(`backend still holding ${(held / MSG).toFixed(1)} of ${COUNT} MB while the client does not read`);
    assert.ok(held >= 32 * MSG, `the backend still holds ${(held / MSG).toFixed(1)} MB of ${COUNT}: Fulcrum did not read it all in`);
    const got = createHash('sha256');
    let n = 0;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${n} messages within 30 s`)), 30_000);
      ws.on('message', (d: Buffer) => {
        got.update(d);
        if (++n === COUNT) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    ws.resume();
    await done;
    assert.equal(got.digest('hex'), sent.digest('hex'));
    ws.terminate();
  } finally {
    await f.stop();
    await be.close();
  }
});

test('timeouts.tunnel: a tunnel idle that long is closed, and counted', { timeout: 60_000 }, async () => {
  const be = await backend();
  const f = await startFulcrum(simpleConfig([be.port], { listener: { timeouts: { tunnel: '1s' } } }));
  try {
    const ws = await open(`ws://127.0.0.1:${f.port('web')}/`);
    const t0 = Date.now();
    // Traffic keeps it open past the timeout.
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 500));
      ws.send('tick');
      await new Promise((r) => ws.once('message', r));
    }
    assert.ok(Date.now() - t0 >= 1400);
    assert.equal(ws.readyState, WebSocket.OPEN);
    const code = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('not closed')), 10_000);
      ws.once('close', (c) => { clearTimeout(timer); resolve(c); });
    });
    assert.equal(code, 1006, 'the TCP connection was closed');
    await eventually('idle close counted', async () => await metric(f, 'fulcrum_websocket_closed_total', 'reason="idle_timeout"') === 1);
    await waitUntil(() => be.closes.length === 1, 5000, () => 'backend side closed');
    assert.deepEqual(await inFlight(f), [0]);
  } finally {
    await f.stop();
    await be.close();
  }
});

/** A raw WebSocket client: handshake through `port`, returns the socket and what it reads. */
async function rawClient(port: number): Promise<{ s: Socket; data: () => Buffer }> {
  const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  let buf = Buffer.alloc(0);
  s.on('data', (d) => { buf = Buffer.concat([buf, d]); });
  s.on('error', () => {});
  s.write('GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
  await waitUntil(() => buf.includes('\r\n\r\n'), 5000, () => `101 head; got ${JSON.stringify(buf.toString('latin1'))}`);
  assert.match(buf.toString('latin1'), /^HTTP\/1\.1 101 /);
  assert.match(buf.toString('latin1'), /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/i);
  const headLen = buf.indexOf('\r\n\r\n') + 4;
  return { s, data: () => buf.subarray(headLen) };
}

test('drain while the client is inside a frame: Close 1001 to the client, the TCP connection closed after the linger', { timeout: 60_000 }, async () => {
  const be = await backend();
  const cfg = (drain: boolean) => simpleConfig([], { listener: { webSocket: { drainTimeout: '500ms' } }, pool: { servers: [{ address: be.address, drain }] } });
  const f = await startFulcrum(cfg(false), { env: { FULCRUM_LOG_LEVEL: 'info' }, args: ['--no-watch'] });
  try {
    const c = await rawClient(f.port('web'));
    // A masked binary frame announcing 100 payload bytes, of which only 10 are sent.
    c.s.write(Buffer.concat([Buffer.from([0x82, 0x80 | 100, 1, 2, 3, 4]), Buffer.alloc(10)]));
    await new Promise((r) => setTimeout(r, 200));
    await writeFile(f.configFile, JSON.stringify(cfg(true)));
    const t0 = Date.now();
    f.proc.kill('SIGHUP');
    await waitUntil(() => c.data().length >= 4, 10_000, () => 'the Close frame');
    assert.deepEqual([...c.data().subarray(0, 4)], [0x88, 2 + 'server drained'.length, 0x03, 0xe9], 'unmasked Close 1001');
    assert.equal(c.data().subarray(4).toString(), 'server drained');
    // Our FIN came with the Close; both connections are cut at the linger deadline (the server side
    // is still inside the client's frame): counted once Fulcrum saw both sockets closed.
    await eventually('forced close counted', async () => await metric(f, 'fulcrum_websocket_closed_total', 'reason="forced"') === 1);
    const waited = Date.now() - t0;
    assert.ok(waited >= 2000, `TCP closed after the linger (${waited} ms)`);
    c.s.destroy();
    await waitUntil(() => be.closes.length === 1, 5000, () => 'backend close');
    assert.equal(be.closes[0], 1006, 'the backend saw the connection cut (no Close could be placed mid-frame)');
    assert.deepEqual(await inFlight(f), [0]);
  } finally {
    await f.stop();
    await be.close();
  }
});

test('circuitBreakers.maxRequests counts open WebSockets; a connect failure is retried on another server', { timeout: 60_000 }, async () => {
  const be = await backend();
  // A port with nothing listening: bind, note the port, close.
  const dead = netServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
  const deadPort = (dead.address() as { port: number }).port;
  await new Promise<void>((r) => dead.close(() => r()));
  const f = await startFulcrum(simpleConfig([deadPort, be.port], {
    pool: { circuitBreakers: { maxRequests: 2 }, outlierDetection: { enabled: false } },
  }));
  try {
    const url = `ws://127.0.0.1:${f.port('web')}/`;
    const a = await open(url);
    const b = await open(url);
    assert.deepEqual(await inFlight(f), [0, 2], 'both on the live server (the dead one was retried away)');
    await assert.rejects(open(url), (e: { status?: number }) => e.status === 503);
    assert.equal(await metric(f, 'fulcrum_circuit_breaker_rejects_total', 'breaker="requests"'), 1);
    a.close();
    await eventually('one released', async () => (await inFlight(f))[1] === 1);
    const c = await open(url);
    c.send('x');
    await new Promise((r) => c.once('message', r));
    assert.ok(await metric(f, 'fulcrum_retries_total', 'result="made"') >= 1);
    b.terminate();
    c.terminate();
  } finally {
    await f.stop();
    await be.close();
  }
});

test('a 101 switching to a protocol the request did not offer is refused with 502', { timeout: 60_000 }, async () => {
  const srv = netServer((s) => {
    s.on('error', () => {});
    s.once('data', () => s.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n'));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  const f = await startFulcrum(simpleConfig([port], { pool: { retries: { attempts: 1 } } }));
  try {
    await assert.rejects(open(`ws://127.0.0.1:${f.port('web')}/`), (e: { status?: number }) => e.status === 502);
    assert.equal(await metric(f, 'fulcrum_requests_total', 'code="502"'), 1);
    assert.deepEqual(await inFlight(f), [0]);
    assert.equal(await metric(f, 'fulcrum_websocket_connections_total'), NaN);
  } finally {
    await f.stop();
    srv.close();
  }
});
