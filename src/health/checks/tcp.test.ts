// The `tcp` check against real sockets on 127.0.0.1: a listening server passes and its connection
// is closed again; a closed port fails `connect refused`; `port` overrides the server's port; an
// aborted check ends at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { validateConfig, formatProblems } from '../../config/index.ts';
import type { HealthCheckConfig } from '../../config/schema.ts';
import { getCheck } from './index.ts';
import type { CheckTarget } from './types.ts';

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

interface Counted {
  server: Server;
  port: number;
  accepted: number;
  closed: number;
  close(): Promise<void>;
}

async function listen(): Promise<Counted> {
  const sockets = new Set<Socket>();
  const c: Counted = {
    server: createServer((s) => {
      c.accepted++;
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => { c.closed++; sockets.delete(s); });
    }),
    port: 0, accepted: 0, closed: 0,
    async close() {
      for (const s of sockets) s.destroy();
      if (c.server.listening) await new Promise<void>((r) => c.server.close(() => r()));
    },
  };
  c.server.listen(0, '127.0.0.1');
  await once(c.server, 'listening');
  c.port = (c.server.address() as { port: number }).port;
  return c;
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const c = await listen();
  await c.close();
  return c.port;
}

async function waitFor(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (let i = 0; i < 10_000 && Date.now() < end; i++) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return pred();
}

const tcp = getCheck('tcp')!;

test('tcp: a listening server passes, and the check closes its connection', async () => {
  const srv = await listen();
  try {
    const r = await tcp.run(target(srv.port), checkConfig({ type: 'tcp', timeout: 500 }), new AbortController().signal);
    assert.deepEqual([r.passed, r.detail], [true, 'connected']);
    assert.ok(r.durationMs >= 0 && r.durationMs < 500, `durationMs ${r.durationMs}`);
    assert.ok(await waitFor(() => srv.closed === 1, 1000), `server saw ${srv.accepted} accepted, ${srv.closed} closed`);
    assert.equal(srv.accepted, 1);
  } finally {
    await srv.close();
  }
});

test('tcp: a closed port fails with "connect refused"', async () => {
  const port = await closedPort();
  const r = await tcp.run(target(port), checkConfig({ type: 'tcp', timeout: 500 }), new AbortController().signal);
  assert.deepEqual([r.passed, r.detail], [false, 'connect refused']);
});

test('tcp: a host name that resolves to loopback works, and refuses like an address', async () => {
  const srv = await listen();
  const port = await closedPort();
  try {
    const ok = await tcp.run(target(srv.port, 'localhost'), checkConfig({ type: 'tcp', timeout: 1000 }), new AbortController().signal);
    assert.deepEqual([ok.passed, ok.detail], [true, 'connected']);
    const bad = await tcp.run(target(port, 'localhost'), checkConfig({ type: 'tcp', timeout: 1000 }), new AbortController().signal);
    assert.deepEqual([bad.passed, bad.detail], [false, 'connect refused']);
  } finally {
    await srv.close();
  }
});

test('tcp: `port` is checked instead of the server port', async () => {
  const srv = await listen();
  const port = await closedPort();
  try {
    const viaOverride = await tcp.run(target(port), checkConfig({ type: 'tcp', port: srv.port, timeout: 500 }), new AbortController().signal);
    assert.deepEqual([viaOverride.passed, viaOverride.detail], [true, 'connected']);
    assert.ok(await waitFor(() => srv.accepted === 1, 1000), 'the override port got the connection');
    const overrideClosed = await tcp.run(target(srv.port), checkConfig({ type: 'tcp', port, timeout: 500 }), new AbortController().signal);
    assert.deepEqual([overrideClosed.passed, overrideClosed.detail], [false, 'connect refused']);
    assert.equal(srv.accepted, 1, 'the server port itself was not checked');
  } finally {
    await srv.close();
  }
});

test('tcp: an already aborted signal ends the check at once; a TimeoutError reason reads as a timeout', async () => {
  const cfg = checkConfig({ type: 'tcp', timeout: 5000 });
  const done = new AbortController();
  done.abort();
  const r0 = await tcp.run(target(1), cfg, done.signal);
  assert.deepEqual([r0.passed, r0.detail], [false, 'aborted']);
  // A TimeoutError reason (the scheduler's watchdog) reads as a timeout.
  const t = await tcp.run(target(1), cfg, AbortSignal.abort(new DOMException('late', 'TimeoutError')));
  assert.deepEqual([t.passed, t.detail], [false, 'timeout after 5 s']);
});
