/**
 * End-to-end, proof 5: SIGTERM under load with slow requests in flight. Every in-flight request
 * completes with its whole body; new connections are refused as soon as the listener closes; the
 * admin API says `draining` meanwhile; Fulcrum exits 0 once the last one is done, well within
 * `shutdown.gracePeriod`. Runs a real Fulcrum child process.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { adminGet, startFulcrum } from './helpers/fulcrum.ts';
import { sendRaw, sleep, startHttpBackend } from './helpers/backends.ts';

const SLOW = 20;
const SLOW_MS = 1500;
const GRACE_MS = 5000;

/** The body of slow request `id`: 100 KB that differ per request. */
function slowBody(id: string): string {
  return `slow ${id} `.padEnd(16, '.').repeat(6400);
}

interface Outcome { status: number; body: string; connection: string | undefined; error: string | null; at: number }

function get(port: number, path: string, agent: Agent | false): Promise<Outcome> {
  return new Promise((resolve) => {
    let status = 0;
    let body = '';
    let connection: string | undefined;
    const done = (error: string | null) => resolve({ status, body, connection, error, at: performance.now() });
    const req = httpRequest({ host: '127.0.0.1', port, path, agent, timeout: 10_000 }, (res) => {
      status = res.statusCode ?? 0;
      connection = res.headers.connection;
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => done(null));
      res.on('error', (e: NodeJS.ErrnoException) => done(`response ${e.code ?? e.message}`));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => { if (status === 0) done(e.code ?? e.message); });
    req.end();
  });
}

describe('e2e shutdown under load (proof 5)', () => {
  it(`SIGTERM with ${SLOW} slow requests in flight and fast traffic: all complete, new connections refused, exit 0 within the grace period`, async () => {
    let slowArrived = 0;
    const be = await startHttpBackend((req, res) => {
      req.resume();
      req.on('end', () => {
        const url = req.url ?? '/';
        if (url.startsWith('/slow/')) {
          slowArrived++;
          const body = slowBody(url.slice(6));
          setTimeout(() => {
            res.writeHead(200, { 'content-length': Buffer.byteLength(body) });
            res.end(body);
          }, SLOW_MS);
          return;
        }
        res.writeHead(200, { 'content-length': 4 });
        res.end('fast');
      });
    });
    const f = await startFulcrum({
      admin: { listen: '127.0.0.1:0' },
      shutdown: { gracePeriod: `${GRACE_MS}ms` },
      listeners: [{ name: 'web', listen: '127.0.0.1:0', routes: [{ pool: 'p' }] }],
      pools: [{ name: 'p', servers: [{ address: be.address }] }],
    });
    const port = f.port('web');
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    try {
      // Fast traffic: 4 keep-alive loops; each stops at its first failed request (after SIGTERM).
      let sigAt = Infinity;
      const fast: Outcome[] = [];
      const loops = Array.from({ length: 4 }, async () => {
        const deadline = performance.now() + 15_000;
        for (let i = 0; i < 100_000 && performance.now() < deadline; i++) {
          const o = await get(port, '/fast', agent);
          fast.push(o);
          if (o.error !== null || o.status !== 200) break;
        }
      });
      await sleep(200);

      // The slow requests, each on its own connection, all at the backend before the signal.
      const slow = Array.from({ length: SLOW }, (_, i) => get(port, `/slow/${i}`, false));
      const deadline = Date.now() + 5000;
      while (slowArrived < SLOW && Date.now() < deadline) await sleep(10);
      assert.equal(slowArrived, SLOW, 'every slow request reached the backend');
      const fastBefore = fast.length;

      sigAt = performance.now();
      f.proc.kill('SIGTERM');

      // New connections are refused once the listener has closed (poll, bounded).
      let refusedAt = 0;
      for (let i = 0; i < 50 && refusedAt === 0; i++) {
        const r = await sendRaw(port, 'GET /new HTTP/1.1\r\nHost: h\r\n\r\n', { timeoutMs: 1000 });
        if (r.error === 'ECONNREFUSED') {
          assert.equal(r.bytes.length, 0);
          refusedAt = performance.now();
        } else await sleep(20);
      }
      assert.ok(refusedAt > 0, 'new connections were not refused after SIGTERM');
      assert.ok(refusedAt - sigAt < 1000, `refused only ${(refusedAt - sigAt).toFixed(0)} ms after SIGTERM`);
      const healthz = await adminGet(f.adminPort, '/healthz');
      assert.deepEqual([healthz.status, healthz.body], [503, 'draining\n'], 'the admin API reports draining');

      const results = await Promise.all(slow);
      const code = await f.waitExit(GRACE_MS + 2000);
      const exitMs = performance.now() - sigAt;
      await Promise.all(loops);

      for (let i = 0; i < SLOW; i++) {
        const r = results[i];
        assert.equal(r.error, null, `slow ${i}: ${r.error}`);
        assert.equal(r.status, 200, `slow ${i}`);
        assert.equal(r.body.length, slowBody(String(i)).length, `slow ${i}: body length`);
        assert.ok(r.body === slowBody(String(i)), `slow ${i}: body bytes`);
        assert.equal(r.connection, 'close', `slow ${i}: Connection: close while draining`);
        assert.ok(r.at > sigAt, 'answered after the signal');
      }
      assert.equal(code, 0, 'exit code');
      const lastSlow = Math.max(...results.map((r) => r.at)) - sigAt;
      assert.ok(exitMs < GRACE_MS, `exited ${exitMs.toFixed(0)} ms after SIGTERM (grace period ${GRACE_MS} ms)`);
      assert.ok(exitMs >= lastSlow, 'exited after the last slow response');

      // Fast traffic: every response before the signal is complete; after it, a request either got a
      // complete 200 or was refused / closed before any response byte (never a cut response).
      const before = fast.slice(0, fastBefore);
      const afterSig = fast.slice(fastBefore);
      assert.ok(before.length >= 50, `only ${before.length} fast requests before SIGTERM`);
      assert.deepEqual(before.filter((o) => o.error !== null || o.status !== 200 || o.body !== 'fast'), []);
      const cut = afterSig.filter((o) => o.status !== 0 && (o.status !== 200 || o.body !== 'fast' || o.error !== null));
      assert.deepEqual(cut, [], 'fast responses cut or failed after SIGTERM');
      const failedKinds = new Set(afterSig.filter((o) => o.status === 0).map((o) => o.error));
      for (const k of failedKinds) assert.ok(k === 'ECONNREFUSED' || k === 'ECONNRESET', `fast request failed with ${k}`);
      process.stdout.write(`# proof 5: ${SLOW} slow requests (${SLOW_MS} ms, 100 KB) all complete; ${before.length} fast requests before SIGTERM, ` +
        `${afterSig.filter((o) => o.status === 200).length} completed after it, ${afterSig.filter((o) => o.status === 0).length} refused/closed before a response ` +
        `(${[...failedKinds].join(', ') || 'none'}); new connections refused ${(refusedAt - sigAt).toFixed(0)} ms after SIGTERM; ` +
        `last slow response ${lastSlow.toFixed(0)} ms, exit 0 at ${exitMs.toFixed(0)} ms (grace ${GRACE_MS} ms)\n`);
    } finally {
      agent.destroy();
      if (!f.hasExited()) await f.stop('SIGKILL');
      await be.close();
    }
  });
});
