// `tcp` listeners end to end (issue 5): every balancing algorithm over TCP, byte-exact 10 MB echo
// both ways, half-close, a slow reader with bounded memory, connect failover (refused and timed
// out), maxConnections, idle timeout, drain with and without a drain deadline via reload, and the
// PROXY protocol both ways (pool sends v1/v2; a listener takes v1/v2 from trusted sources only).
// Real Fulcrum child processes; backends and clients in this process on 127.0.0.1, port 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { adminGet, rssOf, startFulcrum, type FulcrumProcess } from './helpers/fulcrum.ts';
import { sleep } from './helpers/backends.ts';
import { blackhole } from './helpers/blackhole.ts';
import { algorithmNames, getAlgorithm } from '../src/balancing/registry.ts';
import '../src/balancing/index.ts';

// ------------------------------------------------------------------------------------ helpers

interface TcpBackend {
  name: string;
  port: number;
  address: string;
  server: Server;
  /** Connections accepted so far. */
  accepted: number;
  /** Bytes each connection received, in accept order (PROXY header included). */
  received: Buffer[];
  close(): Promise<void>;
}

/**
 * A TCP backend: `onConn(socket, index)` decides what it does; the default announces its name
 * (`NAME\n`) and echoes every byte, ending its side when the client ends.
 */
async function tcpBackend(name: string, onConn?: (s: Socket, b: TcpBackend, i: number) => void): Promise<TcpBackend> {
  const sockets = new Set<Socket>();
  const b: TcpBackend = {
    name, port: 0, address: '', accepted: 0, received: [],
    server: createServer({ allowHalfOpen: true }, (s) => {
      const i = b.accepted++;
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      const chunks: Buffer[] = [];
      b.received[i] = Buffer.alloc(0);
      s.on('data', (d: Buffer) => { chunks.push(d); b.received[i] = Buffer.concat(chunks); });
      if (onConn) onConn(s, b, i);
      else {
        s.write(`${name}\n`);
        s.pipe(s);
      }
    }),
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      b.server.close(() => resolve());
    }),
  };
  await new Promise<void>((resolve) => b.server.listen(0, '127.0.0.1', resolve));
  b.port = (b.server.address() as { port: number }).port;
  b.address = `127.0.0.1:${b.port}`;
  return b;
}

interface Exchange {
  data: Buffer;
  /** The peer ended (FIN) or closed. */
  closed: boolean;
  error: string | null;
}

/** Connects, writes `send` (then ends unless `keepOpen`), collects what comes back until close or `timeoutMs`. */
function exchange(port: number, send: string | Buffer | Buffer[], o: { timeoutMs?: number; localAddress?: string; until?: (b: Buffer) => boolean } = {}): Promise<Exchange> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1', localAddress: o.localAddress, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let error: string | null = null;
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ data: Buffer.concat(chunks), closed, error });
    };
    const timer = setTimeout(() => finish(false), o.timeoutMs ?? 5000);
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      if (o.until && o.until(Buffer.concat(chunks))) finish(false);
    });
    s.on('end', () => finish(true));
    s.on('close', () => finish(true));
    s.on('error', (e: Error & { code?: string }) => { error = e.code ?? e.message; });
    if (!Array.isArray(send)) s.end(send);
    else {
      // Pieces 50 ms apart (a header split over several reads), then the FIN.
      let i = 0;
      const next = () => {
        if (i === send.length - 1) { s.end(send[i]); return; }
        s.write(send[i++]);
        setTimeout(next, 50);
      };
      next();
    }
  });
}

/** An open client connection that has read the backend's `NAME\n` greeting. */
interface Held { socket: Socket; backend: string }

function holdOpen(port: number, timeoutMs = 5000): Promise<Held> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let buf = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error('no greeting')); }, timeoutMs);
    const onData = (d: Buffer) => {
      buf += d.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      s.off('data', onData);
      resolve({ socket: s, backend: buf.slice(0, nl) });
    };
    s.on('data', onData);
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

/** Round trip on a held connection: writes `msg`, resolves with the echo (bounded). */
function roundTrip(s: Socket, msg: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => { cleanup(); reject(new Error(`no echo of ${msg} (got ${JSON.stringify(got)})`)); }, timeoutMs);
    const onData = (d: Buffer) => {
      got += d.toString('latin1');
      if (got.length >= msg.length) { cleanup(); resolve(got); }
    };
    const onClose = () => { cleanup(); reject(new Error('closed')); };
    const cleanup = () => { clearTimeout(timer); s.off('data', onData); s.off('close', onClose); };
    s.on('data', onData);
    s.on('close', onClose);
    s.write(msg);
  });
}

/** Resolves with the ms until `s` closes (or ends), or -1 after `timeoutMs`. */
function closeTime(s: Socket, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    if (s.destroyed || s.readableEnded) { resolve(0); return; }
    const timer = setTimeout(() => resolve(-1), timeoutMs);
    const done = () => { clearTimeout(timer); resolve(Date.now() - t0); };
    s.once('end', done);
    s.once('close', done);
    s.resume();
  });
}

/** fulcrum_l4_events_total{listener, event} from /metrics (0 when absent). */
async function l4Event(f: FulcrumProcess, listener: string, event: string): Promise<number> {
  const { body } = await adminGet(f.adminPort, '/metrics');
  const m = new RegExp(`^fulcrum_l4_events_total\\{listener="${listener}",event="${event}"\\} (\\d+)`, 'm').exec(body);
  return m ? Number(m[1]) : 0;
}

function tcpConfig(listeners: object[], pools: object[]): object {
  return {
    admin: { listen: '127.0.0.1:0' },
    shutdown: { gracePeriod: '1s' },
    listeners: listeners.map((l) => ({ protocol: 'tcp', listen: '127.0.0.1:0', ...l })),
    pools,
  };
}

function servers(bs: TcpBackend[]): { address: string }[] {
  return bs.map((b) => ({ address: b.address }));
}

/** `p`'s value, or `fallback` once `ms` have passed (the timer is cleared either way). */
async function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<T>((resolve) => { timer = setTimeout(() => resolve(fallback), ms); });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

function count(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

// ------------------------------------------------------------------------------------ tests

test('every algorithm proxies TCP; round-robin, least-connections (per connection), source-ip and five-tuple hashing behave', { timeout: 40_000 }, async () => {
  const bs = await Promise.all(['b0', 'b1', 'b2'].map((n) => tcpBackend(n)));
  const names = algorithmNames();
  assert.ok(names.length >= 10, `algorithms: ${names.join(', ')}`);
  const hashKeyOf = (a: string) => (getAlgorithm(a)?.hashing === true ? (a === 'maglev' ? 'five-tuple' : 'source-ip') : undefined);
  const f = await startFulcrum(tcpConfig(
    names.map((a) => ({ name: a, pool: a })),
    names.map((a) => ({ name: a, algorithm: a, ...(hashKeyOf(a) ? { hashKey: hashKeyOf(a) } : {}), servers: servers(bs) })),
  ));
  try {
    for (const a of names) {
      const seen: string[] = [];
      for (let i = 0; i < 6; i++) {
        const msg = `${a} #${i} ${'x'.repeat(i * 1000)}`;
        const r = await exchange(f.port(a), msg);
        const text = r.data.toString('latin1');
        const nl = text.indexOf('\n');
        assert.equal(r.closed, true, `${a}: closed after the echo`);
        assert.equal(text.slice(nl + 1), msg, `${a}: the echo is exact`);
        seen.push(text.slice(0, nl));
      }
      const spread = count(seen);
      if (a === 'round-robin') assert.deepEqual(spread, { b0: 2, b1: 2, b2: 2 }, 'round robin: 2 each');
      if (hashKeyOf(a) === 'source-ip') assert.equal(Object.keys(spread).length, 1, `${a} on source-ip: one backend for one client address (${JSON.stringify(spread)})`);
      if (a === 'maglev') {
        for (let i = 0; i < 6; i++) {
          const r = await exchange(f.port(a), 'm');
          seen.push(r.data.toString('latin1').split('\n')[0]);
        }
        assert.ok(Object.keys(count(seen)).length >= 2, `maglev on five-tuple: client ports spread connections (${JSON.stringify(count(seen))})`);
      }
    }
    // least-connections counts open connections: 6 held at once spread 2/2/2; p2c the same way roughly.
    const held: Held[] = [];
    for (let i = 0; i < 6; i++) held.push(await holdOpen(f.port('least-connections')));
    assert.deepEqual(count(held.map((h) => h.backend)), { b0: 2, b1: 2, b2: 2 }, 'least-connections: per open connection');
    const pools = JSON.parse((await adminGet(f.adminPort, '/api/v1/pools')).body) as { pools: { name: string; endpoints: { inFlight: number }[] }[] };
    const lc = pools.pools.find((p) => p.name === 'least-connections');
    assert.deepEqual(lc?.endpoints.map((e) => e.inFlight), [2, 2, 2], 'in-flight = open connections');
    for (const h of held) h.socket.destroy();
    for (let i = 0; i < 50; i++) {
      const p = JSON.parse((await adminGet(f.adminPort, '/api/v1/pools')).body) as typeof pools;
      if (p.pools.find((x) => x.name === 'least-connections')!.endpoints.every((e) => e.inFlight === 0)) break;
      await sleep(20);
    }
    const after = JSON.parse((await adminGet(f.adminPort, '/api/v1/pools')).body) as typeof pools;
    assert.deepEqual(after.pools.find((p) => p.name === 'least-connections')?.endpoints.map((e) => e.inFlight), [0, 0, 0], 'closed connections leave the counters');
  } finally {
    await f.stop();
    await Promise.all(bs.map((b) => b.close()));
  }
});

test('10 MB each way byte for byte (sha256), half-close with a late reply, bytes counted', { timeout: 40_000 }, async () => {
  const echo = await tcpBackend('echo', (s) => s.pipe(s));
  const late = await tcpBackend('late', (s) => {
    s.on('end', () => setTimeout(() => s.end('late reply after your FIN'), 300));
  });
  const f = await startFulcrum(tcpConfig(
    [{ name: 'echo', pool: 'echo' }, { name: 'late', pool: 'late' }],
    [{ name: 'echo', servers: servers([echo]) }, { name: 'late', servers: servers([late]) }],
  ));
  try {
    const payload = randomBytes(10 * 1024 * 1024);
    const r = await exchange(f.port('echo'), payload, { timeoutMs: 20_000 });
    assert.equal(r.closed, true);
    assert.equal(r.data.length, payload.length);
    assert.equal(createHash('sha256').update(r.data).digest('hex'), createHash('sha256').update(payload).digest('hex'));
    const { body } = await adminGet(f.adminPort, '/metrics');
    const bytes = (dir: string) => Number(new RegExp(`fulcrum_l4_bytes_total\\{listener="echo",direction="${dir}"\\} (\\d+)`).exec(body)?.[1] ?? -1);
    assert.equal(bytes('upstream'), payload.length);
    assert.equal(bytes('downstream'), payload.length);

    // Half-close: the client ends its side at once; the backend answers 300 ms after seeing the FIN.
    const s = connect({ port: f.port('late'), host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    s.on('data', (d: Buffer) => { got += d.toString(); });
    const ended = new Promise<number>((resolve) => { const t0 = Date.now(); s.on('end', () => resolve(Date.now() - t0)); });
    const closed = new Promise<void>((resolve) => s.on('close', () => resolve()));
    s.end('request then FIN');
    const endMs = await within(ended, 5000, -1);
    assert.ok(endMs >= 250, `the reply came after the FIN (${endMs} ms)`);
    assert.equal(got, 'late reply after your FIN');
    await within(closed, 3000, undefined);
    assert.equal(s.destroyed, true, 'both directions ended: the connection closed');
    await f.waitFor(() => late.received[0]?.toString() === 'request then FIN', 2000, 'the backend got the request');
  } finally {
    await f.stop();
    await echo.close();
    await late.close();
  }
});

test('16 connections at once, each 4 MB echoed through readers that stall now and then: every byte intact (sha256)', { timeout: 40_000 }, async () => {
  // Guards the read buffers (src/l4/read-buffers.ts): bytes still queued for a slow socket must
  // never be overwritten by another connection's reads.
  const echo = await tcpBackend('echo', (s) => s.pipe(s));
  const f = await startFulcrum(tcpConfig([{ name: 'echo', pool: 'echo' }], [{ name: 'echo', servers: servers([echo]) }]));
  try {
    const one = (i: number) => new Promise<{ sent: string; got: string; length: number }>((resolve, reject) => {
      const payload = randomBytes(4 * 1024 * 1024);
      const s = connect({ port: f.port('echo'), host: '127.0.0.1', allowHalfOpen: true });
      const h = createHash('sha256');
      let length = 0;
      let stalls = 0;
      const timer = setTimeout(() => { s.destroy(); reject(new Error(`connection ${i}: ${length} bytes after 30 s`)); }, 30_000);
      s.on('data', (d: Buffer) => {
        h.update(d);
        length += d.length;
        // Stall for 30-60 ms after every ~512 KiB: Fulcrum's writes to this client pile up meanwhile.
        if (length >> 19 > stalls) {
          stalls = length >> 19;
          s.pause();
          setTimeout(() => s.resume(), 30 + ((i * 7) % 30));
        }
      });
      s.on('end', () => { clearTimeout(timer); s.destroy(); resolve({ sent: createHash('sha256').update(payload).digest('hex'), got: h.digest('hex'), length }); });
      s.on('error', (e) => { clearTimeout(timer); reject(e); });
      s.end(payload);
    });
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => one(i)));
    for (const [i, r] of results.entries()) {
      assert.equal(r.length, 4 * 1024 * 1024, `connection ${i}: length`);
      assert.equal(r.got, r.sent, `connection ${i}: bytes intact`);
    }
  } finally {
    await f.stop();
    await echo.close();
  }
});

test('slow reader: a client that stops reading while the backend sends 100 MB keeps Fulcrum bounded; the transfer completes', { timeout: 40_000 }, async (t) => {
  const TOTAL = 100 * 1024 * 1024;
  let sent = 0;
  const src = await tcpBackend('src', (s) => {
    const block = Buffer.alloc(64 * 1024, 7);
    const pump = () => {
      while (sent < TOTAL) {
        const n = Math.min(block.length, TOTAL - sent);
        sent += n;
        if (!s.write(n === block.length ? block : block.subarray(0, n))) { s.once('drain', pump); return; }
      }
      s.end();
    };
    pump();
  });
  const f = await startFulcrum(tcpConfig([{ name: 't', pool: 'p' }], [{ name: 'p', servers: servers([src]) }]));
  let c: Socket | null = null;
  try {
    await sleep(200);
    const rss0 = rssOf(f.pid);
    const cs = connect({ port: f.port('t'), host: '127.0.0.1' });
    c = cs;
    let received = 0;
    const done = new Promise<void>((resolve) => cs.on('end', () => resolve()));
    await new Promise<void>((resolve) => cs.once('data', (d: Buffer) => { received += d.length; cs.pause(); resolve(); }));
    cs.on('data', (d: Buffer) => { received += d.length; });
    // While the client does not read, back-pressure reaches the backend.
    let peak = 0;
    for (let i = 0; i < 15; i++) {
      await sleep(100);
      peak = Math.max(peak, rssOf(f.pid));
    }
    const sentWhilePaused = sent;
    t.diagnostic(`while paused: backend sent ${(sentWhilePaused / 2 ** 20).toFixed(1)} MiB, Fulcrum RSS +${((peak - rss0) / 2 ** 20).toFixed(1)} MiB`);
    assert.ok(sentWhilePaused < TOTAL / 2, `the backend is held back (${(sentWhilePaused / 2 ** 20).toFixed(1)} MiB sent)`);
    if (rss0 > 0) assert.ok(peak - rss0 < 64 * 2 ** 20, `RSS grew ${((peak - rss0) / 2 ** 20).toFixed(1)} MiB`);
    cs.resume();
    await within(done, 25_000, undefined);
    assert.equal(received, TOTAL, 'every byte arrived once the client read again');
  } finally {
    c?.destroy();
    await f.stop();
    await src.close();
  }
});

test('connect failover: a refused server and a server that never answers are skipped; attempts run out → closed', { timeout: 40_000 }, async (t) => {
  const good = await tcpBackend('good');
  const refused = await closedPort();
  // A listening socket whose backlog is full (never accepted): SYNs go unanswered → connect timeout.
  let hole: Awaited<ReturnType<typeof blackhole>> | null = null;
  if (spawnSync('python3', ['-c', 'print(1)']).status === 0) hole = await blackhole();
  else if (process.env.FULCRUM_TEST_STRICT === '1') assert.fail('python3 is required (Debian package python3)');
  else t.diagnostic('python3 not found (Debian package python3): the connect-timeout part is skipped');
  const blackholePort = hole?.port ?? 0;
  const pools = [
    { name: 'refused', outlierDetection: { enabled: false }, servers: [{ address: `127.0.0.1:${refused}` }, { address: good.address }] },
    { name: 'once', retries: { attempts: 1 }, outlierDetection: { enabled: false }, servers: [{ address: `127.0.0.1:${refused}` }] },
  ];
  const listeners = [{ name: 'refused', pool: 'refused' }, { name: 'once', pool: 'once' }];
  if (blackholePort > 0) {
    pools.push({ name: 'slow', timeouts: { connect: '300ms' }, outlierDetection: { enabled: false }, servers: [{ address: `127.0.0.1:${blackholePort}` }, { address: good.address }] } as never);
    listeners.push({ name: 'slow', pool: 'slow' });
  }
  const f = await startFulcrum(tcpConfig(listeners, pools));
  try {
    for (let i = 0; i < 8; i++) {
      const r = await exchange(f.port('refused'), `r${i}`);
      assert.equal(r.data.toString(), `good\nr${i}`, 'every connection reaches the good server');
    }
    assert.equal(await l4Event(f, 'refused', 'connect_failed'), 0);
    const once = await exchange(f.port('once'), 'x');
    assert.deepEqual([once.data.length, once.closed], [0, true], 'attempts 1 on a dead server: closed');
    assert.equal(await l4Event(f, 'once', 'connect_failed'), 1);
    if (blackholePort > 0) {
      const t0 = Date.now();
      for (let i = 0; i < 4; i++) {
        const r = await exchange(f.port('slow'), `s${i}`);
        assert.equal(r.data.toString(), `good\ns${i}`);
      }
      const ms = Date.now() - t0;
      assert.ok(ms >= 250 && ms < 4000, `two of four connections waited for the 300 ms connect timeout (${ms} ms)`);
    }
    const pool = JSON.parse((await adminGet(f.adminPort, '/api/v1/pools')).body) as { pools: { name: string; retries?: number }[] };
    assert.ok(pool.pools.length >= 2);
  } finally {
    await f.stop();
    await good.close();
    await hole?.stop();
  }
});

test('maxConnections and maxConnectionsPerServer refuse beyond the limit (counted); idle timeout closes a silent connection but not a chatty one', { timeout: 40_000 }, async () => {
  const b = await tcpBackend('b');
  const c = await tcpBackend('c');
  const f = await startFulcrum(tcpConfig(
    [{ name: 'max', pool: 'p', maxConnections: 3 }, { name: 'idle', pool: 'p', timeouts: { idle: '600ms' } }, { name: 'per', pool: 'per' }],
    [{ name: 'p', servers: servers([b]) }, { name: 'per', maxConnectionsPerServer: 1, servers: servers([b, c]) }],
  ));
  try {
    const held = [await holdOpen(f.port('max')), await holdOpen(f.port('max')), await holdOpen(f.port('max'))];
    const refused = await exchange(f.port('max'), 'hello', { timeoutMs: 2000 });
    assert.deepEqual([refused.data.length, refused.closed], [0, true], 'the 4th connection is closed at once');
    assert.equal(await l4Event(f, 'max', 'refused_max_connections'), 1);
    assert.equal(await l4Event(f, 'max', 'accepted'), 3);
    held[0].socket.destroy();
    await sleep(150);
    const again = await exchange(f.port('max'), 'again');
    assert.equal(again.data.toString(), 'b\nagain', 'below the limit again: accepted');
    for (const h of held) h.socket.destroy();

    // One connection per server at most: two held connections fill both servers; a third is closed.
    const per = [await holdOpen(f.port('per')), await holdOpen(f.port('per'))];
    assert.deepEqual(per.map((h) => h.backend).sort(), ['b', 'c'], 'a full server is skipped like a tried one');
    const third = await exchange(f.port('per'), 'x', { timeoutMs: 2000 });
    assert.deepEqual([third.data.length, third.closed], [0, true], 'every server full: closed');
    assert.equal(await l4Event(f, 'per', 'no_upstream'), 1);
    per[0].socket.destroy();
    await sleep(150);
    const freed = await exchange(f.port('per'), 'freed');
    assert.equal(freed.data.toString(), `${per[0].backend}\nfreed`, 'the freed server takes the next connection');
    per[1].socket.destroy();

    const quiet = await holdOpen(f.port('idle'));
    const chatty = await holdOpen(f.port('idle'));
    const quietClosed = closeTime(quiet.socket, 3000);
    for (let i = 0; i < 6; i++) {
      await sleep(200);
      assert.equal(await roundTrip(chatty.socket, `ping${i}`), `ping${i}`);
    }
    const ms = await quietClosed;
    assert.ok(ms >= 400 && ms <= 2000, `the silent connection closed after the 600 ms idle timeout (${ms} ms)`);
    assert.equal(chatty.socket.destroyed, false, 'the busy connection stays');
    assert.equal(await l4Event(f, 'idle', 'idle_timeout'), 1);
    chatty.socket.destroy();
  } finally {
    await f.stop();
    await b.close();
    await c.close();
  }
});

test('drain by reload: no new connections to the drained server; existing ones live (drain 0) or close at the drain deadline', { timeout: 40_000 }, async () => {
  const a = await tcpBackend('a');
  const b = await tcpBackend('b');
  const cfg = (drainB: boolean, drainMs: string | number) => tcpConfig(
    [{ name: 't', pool: 'p' }],
    [{ name: 'p', timeouts: { drain: drainMs }, servers: [{ address: a.address }, { address: b.address, drain: drainB }] }],
  );
  const f = await startFulcrum(cfg(false, 0), { env: { FULCRUM_LOG_LEVEL: 'info' }, args: ['--no-watch'] });
  const reloads = () => f.logs().filter((l) => l.msg.startsWith('config reloaded')).length;
  const reload = async (c: object, n: number) => {
    await writeFile(f.configFile, JSON.stringify(c));
    f.proc.kill('SIGHUP');
    await f.waitFor(() => reloads() === n, 5000, `reload ${n}`);
  };
  try {
    const h1 = await holdOpen(f.port('t'));
    const h2 = await holdOpen(f.port('t'));
    const onB = h1.backend === 'b' ? h1 : h2;
    const onA = h1.backend === 'a' ? h1 : h2;
    assert.deepEqual([onA.backend, onB.backend], ['a', 'b'], 'round robin: one connection on each');

    await reload(cfg(true, 0), 1);
    const fresh = await Promise.all(Array.from({ length: 4 }, () => holdOpen(f.port('t'))));
    assert.deepEqual(fresh.map((h) => h.backend), ['a', 'a', 'a', 'a'], 'no new connection reaches the drained server');
    for (const h of fresh) h.socket.destroy();
    await sleep(800);
    assert.equal(await roundTrip(onB.socket, 'still here'), 'still here', 'drain deadline 0: the connection lives on');

    const t0 = Date.now();
    const bClosed = closeTime(onB.socket, 5000);
    await reload(cfg(true, '700ms'), 2);
    const ms = await bClosed;
    const since = Date.now() - t0;
    assert.ok(ms > 0 && since >= 600 && since < 4000, `closed at the drain deadline (${since} ms after the reload began)`);
    assert.equal(await roundTrip(onA.socket, 'a lives'), 'a lives', 'connections to servers in service are untouched');
    assert.equal(await l4Event(f, 't', 'drain_deadline'), 1);
    onA.socket.destroy();
  } finally {
    await f.stop();
    await a.close();
    await b.close();
  }
});

// ------------------------------------------------------------------------------------ PROXY protocol

/** The v2 header a sender writes for TCP over IPv4 (built here by hand, independent of src/). */
function v2Header(src: string, sport: number, dst: string, dport: number): Buffer {
  const h = Buffer.alloc(28);
  Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]).copy(h, 0);
  h[12] = 0x21; // version 2, PROXY
  h[13] = 0x11; // AF_INET, STREAM
  h.writeUInt16BE(12, 14);
  src.split('.').forEach((o, i) => { h[16 + i] = Number(o); });
  dst.split('.').forEach((o, i) => { h[20 + i] = Number(o); });
  h.writeUInt16BE(sport, 24);
  h.writeUInt16BE(dport, 26);
  return h;
}

test('PROXY protocol: pools send v1/v2 with the client address; a listener takes v1/v2 from trusted sources only', { timeout: 40_000 }, async () => {
  const rec = await tcpBackend('rec', (s) => { s.on('end', () => s.end('ok')); });
  const f = await startFulcrum(tcpConfig(
    [
      { name: 'v1', pool: 'v1' },
      { name: 'v2', pool: 'v2' },
      { name: 'accept', pool: 'v2', proxyProtocol: { from: ['127.0.0.1/32'] }, timeouts: { clientHello: '500ms' } },
    ],
    [
      { name: 'v1', proxyProtocol: 'v1', servers: servers([rec]) },
      { name: 'v2', proxyProtocol: 'v2', servers: servers([rec]) },
    ],
  ));
  const lastReceived = async (n: number): Promise<Buffer> => {
    await f.waitFor(() => rec.accepted >= n, 3000, `backend connection ${n}`);
    return rec.received[n - 1];
  };
  try {
    // v1 onward: the backend reads the exact line with the client's address and port first.
    {
      const c = connect({ port: f.port('v1'), host: '127.0.0.1' });
      await new Promise((r) => c.once('connect', r));
      const cport = c.localPort!;
      c.end('payload-1');
      await new Promise((r) => c.once('close', r).resume());
      assert.equal((await lastReceived(1)).toString('latin1'), `PROXY TCP4 127.0.0.1 127.0.0.1 ${cport} ${f.port('v1')}\r\npayload-1`);
    }
    // v2 onward.
    {
      const c = connect({ port: f.port('v2'), host: '127.0.0.1' });
      await new Promise((r) => c.once('connect', r));
      const cport = c.localPort!;
      c.end('payload-2');
      await new Promise((r) => c.once('close', r).resume());
      assert.deepEqual(await lastReceived(2), Buffer.concat([v2Header('127.0.0.1', cport, '127.0.0.1', f.port('v2')), Buffer.from('payload-2')]));
    }
    // Accepted from a trusted source: the address in the client's header is the client address.
    {
      const r = await exchange(f.port('accept'), 'PROXY TCP4 192.0.2.7 198.51.100.1 5555 443\r\nafter-v1');
      assert.equal(r.data.toString(), 'ok');
      assert.deepEqual(await lastReceived(3), Buffer.concat([v2Header('192.0.2.7', 5555, '198.51.100.1', 443), Buffer.from('after-v1')]));
      const hdr = v2Header('203.0.113.9', 40000, '198.51.100.2', 8443);
      // The v2 header split over two writes.
      const r2 = await exchange(f.port('accept'), [hdr.subarray(0, 10), hdr.subarray(10), Buffer.from('after-v2')]);
      assert.equal(r2.data.toString(), 'ok');
      assert.deepEqual(await lastReceived(4), Buffer.concat([hdr, Buffer.from('after-v2')]));
    }
    const before = rec.accepted;
    // From an untrusted source: refused at once, even with a valid header.
    const untrusted = await exchange(f.port('accept'), 'PROXY TCP4 192.0.2.7 198.51.100.1 5555 443\r\nx', { localAddress: '127.0.0.2' });
    assert.deepEqual([untrusted.data.length, untrusted.closed], [0, true]);
    assert.equal(await l4Event(f, 'accept', 'refused_untrusted_proxy'), 1);
    // Trusted source, malformed or missing header: closed.
    for (const bad of ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'PROXY TCP4 192.0.2.777 198.51.100.1 5555 443\r\n', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 and far too long a line for version one of the protocol, longer than 107 bytes in all\r\n']) {
      const r = await exchange(f.port('accept'), bad);
      assert.deepEqual([r.data.length, r.closed], [0, true], `closed: ${JSON.stringify(bad.slice(0, 30))}`);
    }
    assert.equal(await l4Event(f, 'accept', 'bad_proxy_header'), 3);
    // Trusted source that sends nothing: closed at the clientHello deadline.
    const s = connect({ port: f.port('accept'), host: '127.0.0.1' });
    const ms = await closeTime(s, 3000);
    assert.ok(ms >= 400 && ms < 2500, `no header within 500 ms: closed (${ms} ms)`);
    assert.equal(await l4Event(f, 'accept', 'client_hello_timeout'), 1);
    assert.equal(rec.accepted, before, 'none of the refused connections reached the backend');
  } finally {
    await f.stop();
    await rec.close();
  }
});
