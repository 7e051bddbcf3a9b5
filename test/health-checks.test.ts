// HealthChecker end to end with short intervals against real sockets on 127.0.0.1: unknown →
// healthy on the first pass, down after `fall` refused connects when the backend closes, up again
// after `rise` passes when it listens again on the same port; stop() ends every timer and aborts
// checks in flight; one check at a time per server; the watchdog; adopt() across a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { validateConfig, formatProblems } from '../src/config/index.ts';
import type { HealthCheckConfig } from '../src/config/schema.ts';
import { registerCheck } from '../src/health/checks/index.ts';
import type { CheckTarget } from '../src/health/checks/types.ts';
import type { HealthTransition } from '../src/health/state.ts';
import {
  HealthChecker, checkConfigEqual, firstDelay, nextDelay, FIRST_ROUND_MS, WATCHDOG_GRACE_MS,
} from '../src/runtime/health-checks.ts';

function checkConfig(input: object): HealthCheckConfig {
  const r = validateConfig({
    listeners: [{ name: 'web', listen: '127.0.0.1:8080', routes: [{ pool: 'p' }] }],
    pools: [{ name: 'p', servers: [{ address: '127.0.0.1:1' }], healthCheck: input }],
  });
  if (!r.ok) throw new Error(formatProblems(r.problems));
  return r.config.pools[0].healthCheck!;
}

function target(port: number): CheckTarget {
  return { pool: 'p', address: `127.0.0.1:${port}`, host: '127.0.0.1', port };
}

/** A backend on 127.0.0.1 that counts connections; `reply` (after `delayMs`) answers the first bytes, null = never. */
class Backend {
  server: Server | null = null;
  port = 0;
  accepted = 0;
  closed = 0;
  open = 0;
  maxOpen = 0;
  private readonly sockets = new Set<Socket>();
  private readonly reply: string | null;
  private readonly delayMs: number;
  constructor(reply: string | null = null, delayMs = 0) {
    this.reply = reply;
    this.delayMs = delayMs;
  }

  async listen(port = 0): Promise<this> {
    const server = createServer((s) => {
      this.accepted++;
      this.open++;
      this.maxOpen = Math.max(this.maxOpen, this.open);
      this.sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => { this.closed++; this.open--; this.sockets.delete(s); });
      const reply = this.reply;
      if (reply !== null) s.once('data', () => setTimeout(() => s.end(reply), this.delayMs));
      else s.resume(); // read (and drop) so the peer's close is seen
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = null;
    if (server?.listening) await new Promise<void>((r) => server.close(() => r()));
  }
}

async function waitFor(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (let i = 0; i < 10_000 && Date.now() < end; i++) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return pred();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const FAST = { interval: 50, timeout: 200, rise: 2, fall: 3 };

test('delays: the first round within FIRST_ROUND_MS, then interval ± jitter', () => {
  assert.equal(firstDelay(2000, 0), 0);
  assert.ok(firstDelay(2000, 0.999) < FIRST_ROUND_MS && firstDelay(2000, 0.999) > 99);
  assert.ok(firstDelay(50, 0.999) < 50, 'never later than one interval');
  assert.equal(nextDelay(1000, 0.1, 0), 900);
  assert.equal(nextDelay(1000, 0.1, 0.5), 1000);
  assert.ok(Math.abs(nextDelay(1000, 0.1, 1) - 1100) < 1e-9);
  assert.equal(nextDelay(1000, 0, 0.123), 1000);
  assert.equal(nextDelay(0, 0, 0.5), 10, 'a zero interval does not spin');
});

test('checkConfigEqual compares values, not key order', () => {
  const a = checkConfig({ type: 'http', http: { path: '/a' } });
  const b = checkConfig({ http: { path: '/a' }, type: 'http' });
  const reordered = Object.fromEntries(Object.entries(a).reverse()) as HealthCheckConfig;
  assert.equal(checkConfigEqual(a, b), true);
  assert.equal(checkConfigEqual(a, reordered), true);
  assert.equal(checkConfigEqual(a, checkConfig({ type: 'http', http: { path: '/b' } })), false);
  assert.equal(checkConfigEqual(a, checkConfig({ type: 'http', fall: 4, http: { path: '/a' } })), false);
  assert.equal(checkConfigEqual(a, undefined), false);
  assert.equal(checkConfigEqual(undefined, undefined), true);
});

test('a server: unknown → healthy at the first pass, down when its backend closes, up again when it listens again', async () => {
  const backend = await new Backend().listen();
  const changes: { slot: number; t: HealthTransition; at: number }[] = [];
  const t0 = Date.now();
  const hc = new HealthChecker('p', checkConfig({ type: 'tcp', ...FAST }), [target(backend.port)], (slot, t) => changes.push({ slot, t, at: Date.now() }));
  try {
    assert.equal(hc.states[0].status, 'unknown');
    hc.start();
    assert.ok(await waitFor(() => changes.length === 1, 1000), 'first pass');
    assert.deepEqual(changes[0].t, { from: 'unknown', to: 'healthy', reason: 'first check passed (connected)' });
    assert.equal(changes[0].slot, 0);
    assert.ok(changes[0].at - t0 < FIRST_ROUND_MS + 200, `routable after ${changes[0].at - t0} ms`);
    assert.equal(hc.last[0]?.passed, true);
    assert.equal(hc.last[0]?.detail, 'connected');

    await backend.close();
    const downFrom = Date.now();
    assert.ok(await waitFor(() => changes.length === 2, 2000), 'down');
    assert.deepEqual(changes[1].t, { from: 'healthy', to: 'unhealthy', reason: 'connect refused three times' });
    // Three failing checks, 50 ms ± 10% apart: roughly 2–3 intervals.
    const tookDown = changes[1].at - downFrom;
    assert.ok(tookDown >= 2 * 45 - 10 && tookDown < 3 * 55 + 400, `down after ${tookDown} ms`);
    assert.equal(hc.states[0].available, false);
    assert.deepEqual([hc.last[0]?.passed, hc.last[0]?.detail], [false, 'connect refused']);

    await backend.listen(backend.port);
    assert.ok(await waitFor(() => changes.length === 3, 2000), 'up again');
    assert.deepEqual(changes[2].t, { from: 'unhealthy', to: 'healthy', reason: 'connected: passed twice in a row' });
    assert.equal(hc.states[0].available, true);
    assert.equal(changes.length, 3);
  } finally {
    hc.stop();
    await backend.close();
  }
});

test('stop(): no more connections and no more transitions; a stopped checker does not start again', async () => {
  const backend = await new Backend().listen();
  let changes = 0;
  const hc = new HealthChecker('p', checkConfig({ type: 'tcp', ...FAST }), [target(backend.port), target(backend.port)], () => { changes++; });
  try {
    hc.start();
    assert.ok(await waitFor(() => backend.accepted >= 6, 2000), `checking (${backend.accepted} connections)`);
    hc.stop();
    hc.stop();
    await sleep(30); // a SYN sent just before stop() may still be accepted
    const seen = backend.accepted;
    const changesSeen = changes;
    hc.start();
    await sleep(300); // six intervals
    assert.equal(backend.accepted, seen, 'connections after stop()');
    assert.equal(changes, changesSeen);
    assert.equal(changes, 2, 'both servers went healthy once');
  } finally {
    hc.stop();
    await backend.close();
  }
});

test('stop() aborts a check in flight: its connection is closed and its result is not recorded', async () => {
  const backend = await new Backend(null).listen(); // accepts, never answers
  let changes = 0;
  const hc = new HealthChecker('p', checkConfig({ type: 'http', interval: 50, timeout: 5000, initial: 'healthy', fall: 1 }), [target(backend.port)], () => { changes++; });
  try {
    hc.start();
    assert.ok(await waitFor(() => backend.accepted === 1, 1000), 'check in flight');
    await sleep(20);
    hc.stop();
    assert.ok(await waitFor(() => backend.closed === 1, 200), 'connection closed by stop()');
    await sleep(50);
    assert.equal(hc.last[0], null);
    assert.equal(changes, 0, 'no transition after stop()');
    assert.equal(hc.states[0].status, 'healthy');
  } finally {
    hc.stop();
    await backend.close();
  }
});

test('one check at a time per server, even when checks take longer than the interval', async () => {
  const backend = await new Backend('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 60).listen();
  const hc = new HealthChecker('p', checkConfig({ type: 'http', interval: 10, jitter: 0, timeout: 500 }), [target(backend.port)], () => {});
  try {
    hc.start();
    assert.ok(await waitFor(() => backend.accepted >= 4, 2000), `checks run (${backend.accepted})`);
    assert.equal(backend.maxOpen, 1, 'never two checks of one server at once');
    assert.equal(hc.last[0]?.detail, 'GET / → 200');
    assert.ok((hc.last[0]?.durationMs ?? 0) >= 55, `durationMs ${hc.last[0]?.durationMs}`);
  } finally {
    hc.stop();
    await backend.close();
  }
});

test('the watchdog fails a check kind that ignores its timeout, and aborts it', async () => {
  let aborted: unknown = null;
  let runs = 0;
  registerCheck({
    name: 'test-hang',
    run(_target, _config, signal) {
      runs++;
      signal.addEventListener('abort', () => { aborted = signal.reason; });
      return new Promise(() => {}); // never settles
    },
  });
  const cfg = { ...checkConfig({ type: 'tcp', interval: 5000, timeout: 50, initial: 'healthy', fall: 1 }), type: 'test-hang' } as unknown as HealthCheckConfig;
  const changes: HealthTransition[] = [];
  const hc = new HealthChecker('p', cfg, [target(1)], (_s, t) => changes.push(t));
  try {
    const t0 = Date.now();
    hc.start();
    assert.ok(await waitFor(() => changes.length === 1, 2000));
    const took = Date.now() - t0;
    assert.ok(took >= 50 + WATCHDOG_GRACE_MS - 5 && took < 50 + WATCHDOG_GRACE_MS + FIRST_ROUND_MS + 100, `took ${took} ms`);
    assert.deepEqual(changes[0], { from: 'healthy', to: 'unhealthy', reason: 'timeout after 50 ms once' });
    assert.equal((aborted as Error | null)?.name, 'TimeoutError');
    assert.equal(runs, 1);
  } finally {
    hc.stop();
  }
});

test('adopt(): servers that stay keep their state and last check; new ones start fresh; the old checker lets go', async () => {
  const a = await new Backend().listen();
  const b = await new Backend().listen();
  const cfg = checkConfig({ type: 'tcp', ...FAST, initial: 'unknown' });
  const oldChanges: number[] = [];
  const prev = new HealthChecker('p', cfg, [target(a.port)], (slot) => oldChanges.push(slot));
  let next: HealthChecker | null = null;
  let other: HealthChecker | null = null;
  try {
    prev.start();
    assert.ok(await waitFor(() => prev.states[0].status === 'healthy', 1000));
    const lastBefore = prev.last[0];
    assert.notEqual(lastBefore, null);

    // Same config parsed again (a reload), servers reordered, one added.
    const changes: [number, HealthTransition][] = [];
    next = new HealthChecker('p', checkConfig({ type: 'tcp', ...FAST, initial: 'unknown' }), [target(b.port), target(a.port)], (slot, t) => changes.push([slot, t]));
    assert.equal(next.adopt(prev), 1);
    assert.equal(next.states[1], prev.states[0], 'the state object itself is carried over');
    assert.equal(next.states[1].status, 'healthy');
    assert.equal(next.last[1], lastBefore);
    assert.equal(next.states[0].status, 'unknown');
    assert.equal(next.last[0], null);

    // The old checker no longer checks the adopted server, even before it is stopped.
    const acceptedA = a.accepted;
    await sleep(150);
    assert.equal(a.accepted, acceptedA, 'prev stopped checking the handed-over server');
    prev.stop();

    next.start();
    assert.ok(await waitFor(() => changes.length === 1, 1000));
    assert.deepEqual(changes[0], [0, { from: 'unknown', to: 'healthy', reason: 'first check passed (connected)' }], 'only the new server had a transition');
    assert.ok(await waitFor(() => a.accepted >= acceptedA + 2, 1000), 'the new checker checks the adopted server');
    assert.equal(changes.length, 1);
    assert.throws(() => next!.adopt(prev), /before start/);

    // A changed check config: nothing is adopted.
    other = new HealthChecker('p', checkConfig({ type: 'tcp', ...FAST, fall: 5 }), [target(a.port)], () => {});
    assert.equal(other.adopt(next), 0);
    assert.equal(other.states[0].status, 'unknown');
    assert.notEqual(other.states[0], next.states[1]);
  } finally {
    prev.stop();
    next?.stop();
    other?.stop();
    await a.close();
    await b.close();
  }
});
