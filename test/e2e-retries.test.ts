// Retries and circuit breakers end to end (issue 4, "Retries and limits"), against raw backends that
// record every byte: which failures are retried on another server, which methods and bodies may be
// repeated (the replayed body is byte-identical), attempts: 1 turns retries off, and the three
// circuit breakers answer 503 FULCRUM_E_CIRCUIT_OPEN and count in /metrics.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { blackhole } from './helpers/blackhole.ts';
import { adminGet, simpleConfig, startFulcrum, type FulcrumProcess } from './helpers/fulcrum.ts';
import { headerOf, okResponse, request, startRawBackend, type Message, type RawBackend } from './helpers/backends.ts';

const open: { stop?: () => Promise<unknown>; close?: () => Promise<unknown> }[] = [];
after(async () => {
  for (const o of open) await (o.stop?.() ?? o.close?.());
});

/** A port nothing listens on (bound, then closed). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function raw(reply: Parameters<typeof startRawBackend>[0]): Promise<RawBackend> {
  const b = await startRawBackend(reply);
  open.push(b);
  return b;
}

async function fulcrum(ports: number[], pool: object): Promise<FulcrumProcess> {
  const f = await startFulcrum(simpleConfig(ports, { pool }));
  open.push(f);
  return f;
}

const body = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => 'abcdefghijklmnopqrstuvwxyz'[i % 26]).join(''), 'latin1');

function req(method: string, b: Buffer | null, extra = ''): Buffer {
  const head = `${method} /x HTTP/1.1\r\nHost: h\r\n${b ? `Content-Length: ${b.length}\r\n` : ''}${extra}\r\n`;
  return b ? Buffer.concat([Buffer.from(head, 'latin1'), b]) : Buffer.from(head, 'latin1');
}

async function retriesMade(f: FulcrumProcess): Promise<number> {
  const r = await adminGet(f.adminPort, '/api/v1/pools');
  return (JSON.parse(r.body) as { pools: { retries: { made: number } }[] }).pools[0].retries.made;
}

const only1 = { retries: { backoff: { base: 0, max: 0 } } };

describe('retries', { concurrency: false }, () => {
  it('a connect failure is retried on another server for any method, the body replayed byte for byte', async () => {
    const down = await closedPort();
    const a = await raw(() => okResponse('from-a'));
    const f = await fulcrum([down, a.port], only1);
    const payload = body(10_000);
    const answers: Message[] = [];
    for (let i = 0; i < 4; i++) answers.push(await request(f.port('web'), req('POST', payload), 'POST'));
    assert.deepEqual(answers.map((m) => m.status), [200, 200, 200, 200]);
    assert.equal(a.requests.length, 4);
    for (const m of a.requests) assert.ok(m.body.equals(payload), 'the replayed body is identical');
    assert.ok(await retriesMade(f) >= 2, 'half of the first attempts went to the closed port');
  });

  it('a 503 is retried for idempotent PUT with its body replayed; a POST that reached a server is not', async () => {
    const a = await raw(() => 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy');
    const b = await raw((m) => okResponse(`got ${m.body.length}`));
    const f = await fulcrum([a.port, b.port], only1);
    const payload = body(20_000);
    const puts: Message[] = [];
    for (let i = 0; i < 2; i++) puts.push(await request(f.port('web'), req('PUT', payload), 'PUT'));
    assert.deepEqual(puts.map((m) => [m.status, m.body.toString()]), [[200, 'got 20000'], [200, 'got 20000']]);
    // Round robin: each PUT lands on a first (the retry's pick takes b's turn), then is retried on b.
    assert.equal(a.requests.length, 2);
    assert.equal(b.requests.length, 2);
    for (const m of b.requests) assert.ok(m.body.equals(payload));
    // POST: round robin continues at a for one of the two; that one gets a's 503 as is.
    const posts: Message[] = [];
    for (let i = 0; i < 2; i++) posts.push(await request(f.port('web'), req('POST', payload), 'POST'));
    assert.deepEqual(posts.map((m) => m.status).sort(), [200, 503]);
    assert.equal(posts.find((m) => m.status === 503)!.body.toString(), 'busy', "the server's own response");
    assert.equal(a.requests.length + b.requests.length, 4 + 2, 'four PUT attempts, two POSTs: no retry of the POST');
  });

  it('a body larger than bufferBody that went out is not replayed', async () => {
    const a = await raw(() => 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n');
    const b = await raw(() => okResponse('b'));
    const f = await fulcrum([a.port, b.port], { retries: { bufferBody: 1000, backoff: { base: 0, max: 0 } } });
    const statuses: number[] = [];
    for (let i = 0; i < 2; i++) statuses.push((await request(f.port('web'), req('PUT', body(5000)), 'PUT')).status);
    assert.deepEqual(statuses.sort(), [200, 503]);
    assert.equal(a.requests.length + b.requests.length, 2);
    const small: number[] = [];
    for (let i = 0; i < 2; i++) small.push((await request(f.port('web'), req('PUT', body(500)), 'PUT')).status);
    assert.deepEqual(small, [200, 200], 'a body within bufferBody is replayed');
  });

  it('a reset before the response: GET retried elsewhere, POST answered 502 FULCRUM_E_UPSTREAM_RESET', async () => {
    const a = await raw(() => ({ data: '', close: true }));
    const b = await raw(() => okResponse('b'));
    const f = await fulcrum([a.port, b.port], { ...only1, keepAlive: { maxIdle: 0 } });
    const gets: number[] = [];
    for (let i = 0; i < 4; i++) gets.push((await request(f.port('web'), req('GET', null))).status);
    assert.deepEqual(gets, [200, 200, 200, 200]);
    const posts: Message[] = [];
    for (let i = 0; i < 2; i++) posts.push(await request(f.port('web'), req('POST', body(10)), 'POST'));
    const failed = posts.filter((m) => m.status === 502);
    assert.equal(failed.length, 1);
    assert.equal(headerOf(failed[0], 'x-fulcrum-error'), 'FULCRUM_E_UPSTREAM_RESET');
  });

  it('attempts: 1 turns retries off: a connect failure is the client\'s 502', async () => {
    const down = await closedPort();
    const a = await raw(() => okResponse('a'));
    const f = await fulcrum([down, a.port], { retries: { attempts: 1 } });
    const statuses: number[] = [];
    for (let i = 0; i < 2; i++) statuses.push((await request(f.port('web'), req('GET', null))).status);
    assert.deepEqual(statuses.sort(), [200, 502]);
    assert.equal(await retriesMade(f), 0);
  });
});

async function metric(f: FulcrumProcess, name: string, labels: string): Promise<number> {
  const text = (await adminGet(f.adminPort, '/metrics')).body;
  const m = new RegExp(`^${name}\\{${labels}\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('circuit breakers', { concurrency: false }, () => {
  const concurrent = (f: FulcrumProcess, n: number) => Promise.all(Array.from({ length: n }, () => request(f.port('web'), req('GET', null))));

  it('maxRequests: beyond the limit of requests in progress, 503 FULCRUM_E_CIRCUIT_OPEN at once', async () => {
    const a = await raw(() => ({ data: okResponse('slow'), delayMs: 600 }));
    const f = await fulcrum([a.port], { circuitBreakers: { maxRequests: 2 } });
    const t0 = performance.now();
    const answers = await concurrent(f, 5);
    const open503 = answers.filter((m) => m.status === 503);
    assert.equal(answers.filter((m) => m.status === 200).length, 2);
    assert.equal(open503.length, 3);
    for (const m of open503) assert.equal(headerOf(m, 'x-fulcrum-error'), 'FULCRUM_E_CIRCUIT_OPEN');
    assert.ok(performance.now() - t0 < 3000);
    assert.equal(await metric(f, 'fulcrum_circuit_breaker_rejects_total', 'pool="p",breaker="requests"'), 3);
    assert.equal(a.requests.length, 2);
  });

  it('maxConnections: no new upstream connection beyond the limit', async () => {
    const a = await raw(() => ({ data: okResponse('slow'), delayMs: 600 }));
    const f = await fulcrum([a.port], { circuitBreakers: { maxConnections: 2 } });
    const answers = await concurrent(f, 4);
    assert.equal(answers.filter((m) => m.status === 200).length, 2);
    assert.equal(answers.filter((m) => m.status === 503 && headerOf(m, 'x-fulcrum-error') === 'FULCRUM_E_CIRCUIT_OPEN').length, 2);
    assert.equal(a.conns.length, 2);
    assert.equal(await metric(f, 'fulcrum_circuit_breaker_rejects_total', 'pool="p",breaker="connections"'), 2);
  });

  it('maxPending: requests waiting for a connection are capped (an endpoint whose connects hang)', { timeout: 30_000 }, async () => {
    const bh = await blackhole();
    open.push(bh);
    const f = await fulcrum([bh.port], { circuitBreakers: { maxPending: 1 }, timeouts: { connect: '1500ms' }, retries: { attempts: 1 } });
    const first = request(f.port('web'), req('GET', null));
    await new Promise((r) => setTimeout(r, 300)); // the first is now pending on a hanging connect
    const second = await request(f.port('web'), req('GET', null));
    assert.equal(second.status, 503);
    assert.equal(headerOf(second, 'x-fulcrum-error'), 'FULCRUM_E_CIRCUIT_OPEN');
    const m = await first;
    assert.equal(m.status, 504, 'the pending one times out connecting');
    assert.equal(await metric(f, 'fulcrum_circuit_breaker_rejects_total', 'pool="p",breaker="pending"'), 1);
  });
});
