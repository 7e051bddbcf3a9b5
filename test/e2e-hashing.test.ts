// Hash-based affinity end to end: a `consistent-hash` pool keyed on `query:k` sends the same key to
// the same backend across requests and across two Fulcrum processes with the same config; a missing
// key is balanced round robin by default and refused with 503 under `hashKeyMissing: reject`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFulcrum, simpleConfig, type FulcrumProcess } from './helpers/fulcrum.ts';
import { startHttpBackend, type HttpBackend } from './helpers/backends.ts';

async function who(f: FulcrumProcess, path: string): Promise<{ status: number; body: string; code: string | null }> {
  const r = await fetch(`${f.url('web')}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: r.status, body: await r.text(), code: r.headers.get('x-fulcrum-error') };
}

test('consistent-hash on query:k: same key → same backend, across requests and across two processes', { timeout: 60_000 }, async () => {
  const backends: HttpBackend[] = [];
  for (let i = 0; i < 4; i++) {
    backends.push(await startHttpBackend((_req, res) => res.end(`b${i}`)));
  }
  const cfg = simpleConfig(backends.map((b) => b.port), { pool: { algorithm: 'consistent-hash', hashKey: 'query:k' } });
  const f1 = await startFulcrum(cfg);
  const f2 = await startFulcrum(cfg);
  try {
    const owner = new Map<string, string>();
    for (let i = 0; i < 60; i++) {
      const key = `user-${i}-${(i * 7919) % 1000}`;
      const a = await who(f1, `/x?k=${key}`);
      const b = await who(f1, `/other/path?z=1&k=${key}`);
      const c = await who(f2, `/x?k=${key}`);
      assert.equal(a.status, 200);
      assert.equal(a.body, b.body, `key ${key}: two requests on one process`);
      assert.equal(a.body, c.body, `key ${key}: two processes`);
      owner.set(key, a.body);
    }
    const used = new Set(owner.values());
    assert.ok(used.size >= 3, `60 keys spread over ${used.size} of 4 backends`);
    // Missing key: round robin by default (every backend gets some of 8 requests).
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) seen.add((await who(f1, '/nokey')).body);
    assert.equal(seen.size, 4, 'missing key is balanced round robin');
  } finally {
    await f1.stop();
    await f2.stop();
    for (const b of backends) await b.close();
  }
});

test('hashKeyMissing: reject answers 503 FULCRUM_E_HASH_KEY_MISSING', { timeout: 30_000 }, async () => {
  const be = await startHttpBackend((_req, res) => res.end('ok'));
  const f = await startFulcrum(simpleConfig([be.port], { pool: { algorithm: 'consistent-hash', hashKey: 'header:x-user', hashKeyMissing: 'reject' } }));
  try {
    const missing = await who(f, '/');
    assert.deepEqual(missing, { status: 503, body: '503 Service Unavailable: FULCRUM_E_HASH_KEY_MISSING\n', code: 'FULCRUM_E_HASH_KEY_MISSING' });
    const r = await fetch(`${f.url('web')}/`, { headers: { 'x-user': 'alice' } });
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'ok');
  } finally {
    await f.stop();
    await be.close();
  }
});
