// Upstream timeouts end to end: connect timeout (an endpoint whose accept queue is full, so SYNs are
// dropped and connect() hangs) → 504 FULCRUM_E_UPSTREAM_CONNECT_TIMEOUT; whole-request timeout →
// 504 FULCRUM_E_REQUEST_TIMEOUT; idle keep-alive client connections are closed after timeouts.idle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blackhole } from './helpers/blackhole.ts';
import { startFulcrum, simpleConfig } from './helpers/fulcrum.ts';
import { startHttpBackend, sendRaw } from './helpers/backends.ts';

test('connect timeout: 504 FULCRUM_E_UPSTREAM_CONNECT_TIMEOUT within bounds', { timeout: 30_000 }, async () => {
  const bh = await blackhole();
  try {
    const f = await startFulcrum(simpleConfig([bh.port], { pool: { timeouts: { connect: '500ms' } } }));
    try {
      const t0 = performance.now();
      const r = await sendRaw(f.port('web'), 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', { until: (b) => b.includes('\r\n\r\n'), timeoutMs: 5000 });
      const ms = performance.now() - t0;
      const text = r.bytes.toString('latin1');
      assert.match(text, /^HTTP\/1\.1 504 Gateway Timeout\r\n/);
      assert.match(text, /X-Fulcrum-Error: FULCRUM_E_UPSTREAM_CONNECT_TIMEOUT\r\n/);
      assert.ok(ms >= 450 && ms < 2500, `answered after ${ms.toFixed(0)} ms`);
    } finally {
      await f.stop();
    }
  } finally {
    await bh.stop();
  }
});

test('whole-request timeout: a backend that dribbles its response head is cut with 504 FULCRUM_E_REQUEST_TIMEOUT', { timeout: 30_000 }, async () => {
  const be = await startHttpBackend((_req, res) => { setTimeout(() => res.end('late'), 3000).unref(); });
  const f = await startFulcrum(simpleConfig([be.port], { listener: { timeouts: { request: '600ms' } } }));
  try {
    const t0 = performance.now();
    const r = await sendRaw(f.port('web'), 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', { until: (b) => b.includes('FULCRUM_E_'), timeoutMs: 5000 });
    const ms = performance.now() - t0;
    assert.match(r.bytes.toString('latin1'), /^HTTP\/1\.1 504 Gateway Timeout\r\n[^]*FULCRUM_E_REQUEST_TIMEOUT/);
    assert.ok(ms >= 550 && ms < 2500, `answered after ${ms.toFixed(0)} ms`);
  } finally {
    await f.stop();
    await be.close();
  }
});

test('idle keep-alive client connections are closed after timeouts.idle', { timeout: 30_000 }, async () => {
  const be = await startHttpBackend((_req, res) => res.end('ok'));
  const f = await startFulcrum(simpleConfig([be.port], { listener: { timeouts: { idle: '700ms' } } }));
  try {
    const r = await sendRaw(f.port('web'), 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', { timeoutMs: 5000 });
    assert.match(r.bytes.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(r.closed, true);
    assert.ok(r.elapsedMs >= 650 && r.elapsedMs < 2500, `closed after ${r.elapsedMs.toFixed(0)} ms`);
  } finally {
    await f.stop();
    await be.close();
  }
});
