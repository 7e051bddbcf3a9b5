// Hash-based affinity end to end: a `consistent-hash` pool keyed on `query:k` sends the same key to
// the same backend across requests and across two Fulcrum processes with the same config; a missing
// key is balanced round robin by default and refused with 503 under `hashKeyMissing: reject`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFulcrum, simpleConfig, adminGet, type FulcrumProcess } from './helpers/fulcrum.ts';
import { freePort } from './helpers/ports.ts';
import { startHttpBackend, type HttpBackend } from './helpers/backends.ts';
import { connect as netConnect } from 'node:net';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';

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

/** One HTTP/1.1 request written byte for byte on a fresh connection; resolves with the response body. */
function rawGet(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = netConnect(port, '127.0.0.1', () => s.write(head));
    let got = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error('raw request timed out')); }, 5000);
    s.setEncoding('latin1');
    s.on('data', (d: string) => { got += d; });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.on('close', () => {
      clearTimeout(timer);
      const at = got.indexOf('\r\n\r\n');
      if (!got.startsWith('HTTP/1.1 200')) reject(new Error(`unexpected answer: ${got.slice(0, 200)}`));
      else resolve(got.slice(at + 4));
    });
  });
}

function h2Get(s: ClientHttp2Session, headers: Record<string, string | string[]>): Promise<string> {
  return new Promise((resolve, reject) => {
    const st = s.request({ ':method': 'GET', ...headers }, { endStream: true });
    const timer = setTimeout(() => { st.close(); reject(new Error('h2 request timed out')); }, 5000);
    let body = '';
    let status = 0;
    st.setEncoding('latin1');
    st.on('response', (h) => { status = Number(h[':status']); });
    st.on('data', (c: string) => { body += c; });
    st.on('error', () => {});
    st.on('close', () => { clearTimeout(timer); if (status === 200) resolve(body); else reject(new Error(`h2 status ${status}`)); });
  });
}

// HTTP/1.1 hands the balancer the key's bytes inside the request buffer (Pool.spanKey); HTTP/2 hands
// it the key as a string. Both must land every key on the same backend, for every key kind and for
// keys among other fields, cookies and parameters — else the bytes located would be the wrong ones.
test('every hash-key kind picks the same backend over HTTP/1.1 (key bytes in the buffer) and HTTP/2 (key string)', { timeout: 90_000 }, async () => {
  const backends: HttpBackend[] = [];
  for (let i = 0; i < 5; i++) backends.push(await startHttpBackend((_req, res) => res.end(`b${i}`)));
  const servers = backends.map((b) => ({ address: b.address }));
  const kinds = [
    { prefix: '/hdr', algorithm: 'consistent-hash', hashKey: 'header:x-user' },
    { prefix: '/ck', algorithm: 'maglev', hashKey: 'cookie:sid' },
    { prefix: '/q', algorithm: 'ip-hash', hashKey: 'query:k' },
    { prefix: '/p', algorithm: 'consistent-hash', hashKey: 'path' },
    { prefix: '/u', algorithm: 'maglev', hashKey: 'uri' },
    { prefix: '/rv', algorithm: 'rendezvous', hashKey: 'cookie:sid' },
  ];
  const cfg = {
    admin: { listen: '127.0.0.1:0' },
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: kinds.map((k, i) => ({ name: `r${i}`, match: { path: { prefix: k.prefix } }, pool: `p${i}` })) }],
    pools: kinds.map((k, i) => ({ name: `p${i}`, algorithm: k.algorithm, hashKey: k.hashKey, servers })),
  };
  const f = await startFulcrum(cfg);
  const s = h2connect(`http://127.0.0.1:${f.port('web')}`);
  s.on('error', () => {});
  try {
    const port = f.port('web');
    const spread = new Map<string, Set<string>>();
    for (let i = 0; i < 25; i++) {
      const key = `u${i}-${(i * 7919) % 1009}-k`;
      const cases: { kind: string; h1: string; h2: Record<string, string | string[]> }[] = [
        { kind: 'header', h1: `GET /hdr HTTP/1.1\r\nHost: x\r\nX-Other: ${key}zz\r\nX-User:  \t${key} \t\r\nConnection: close\r\n\r\n`, h2: { ':path': '/hdr', 'x-other': `${key}zz`, 'x-user': key } },
        { kind: 'cookie', h1: `GET /ck HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nCookie: sidx=no; sid = ${key} ;c=3\r\nConnection: close\r\n\r\n`, h2: { ':path': '/ck', cookie: ['a=1', `sidx=no; sid=${key}`] } },
        { kind: 'query', h1: `GET /q/x?a=1&kk=no&k=${key}&z=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, h2: { ':path': `/q/x?a=1&kk=no&k=${key}&z=2` } },
        { kind: 'path', h1: `GET /p/${key}?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, h2: { ':path': `/p/${key}?x=2` } },
        { kind: 'uri', h1: `GET /u/x?k=${key} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, h2: { ':path': `/u/x?k=${key}` } },
        { kind: 'rendezvous cookie', h1: `GET /rv HTTP/1.1\r\nHost: x\r\nCookie: sid=${key}\r\nConnection: close\r\n\r\n`, h2: { ':path': '/rv', cookie: `sid=${key}` } },
      ];
      for (const c of cases) {
        const viaBytes = await rawGet(port, c.h1);
        const viaString = await h2Get(s, c.h2);
        assert.equal(viaBytes, viaString, `${c.kind} key ${key}: HTTP/1.1 → ${viaBytes}, HTTP/2 → ${viaString}`);
        if (!spread.has(c.kind)) spread.set(c.kind, new Set());
        spread.get(c.kind)!.add(viaBytes);
      }
    }
    // The keys really spread (a key read as always-missing would go round robin and differ above,
    // but a constant wrong key would agree with itself): at least 3 of 5 backends per kind.
    for (const [kind, used] of spread) assert.ok(used.size >= 3, `${kind}: 25 keys on ${used.size} backends`);
  } finally {
    s.close();
    await f.stop();
    for (const b of backends) await b.close();
  }
});

// A retry re-picks with the key it no longer has as bytes (the request buffer is gone by then):
// the HTTP/1.1 path extracts the key string for it. Keys owned by a server that refuses
// connections must then land on the ring's next server — the same one HTTP/2 retries to.
test('a retried HTTP/1.1 request keeps its hash key: same backend as over HTTP/2', { timeout: 60_000 }, async () => {
  const backends: HttpBackend[] = [];
  for (let i = 0; i < 3; i++) backends.push(await startHttpBackend((_req, res) => res.end(`b${i}`)));
  const dead = await freePort();
  const cfg = simpleConfig([...backends.map((b) => b.port), dead], {
    pool: { algorithm: 'consistent-hash', hashKey: 'header:x-user', retries: { attempts: 2 }, outlierDetection: { enabled: false } },
  });
  const f = await startFulcrum(cfg);
  const s = h2connect(`http://127.0.0.1:${f.port('web')}`);
  s.on('error', () => {});
  try {
    let retried = 0;
    const byKey = new Map<string, string>();
    for (let i = 0; i < 40; i++) {
      const key = `r${i}-${(i * 104729) % 997}`;
      const viaBytes = await rawGet(f.port('web'), `GET /x HTTP/1.1\r\nHost: x\r\nX-User: ${key}\r\nConnection: close\r\n\r\n`);
      const viaString = await h2Get(s, { ':path': '/x', 'x-user': key });
      assert.equal(viaBytes, viaString, `key ${key}`);
      byKey.set(key, viaBytes);
    }
    const m = await adminGet(f.adminPort, '/metrics');
    const made = /fulcrum_retries_total\{[^}]*result="made"[^}]*\} (\d+)/.exec(m.body);
    retried = made ? Number(made[1]) : 0;
    // About a quarter of the keys are owned by the dead server: each was retried (over both protocols).
    assert.ok(retried >= 6, `retries made: ${retried}`);
    assert.ok(new Set(byKey.values()).size === 3, 'keys spread over the three live backends');
  } finally {
    s.close();
    await f.stop();
    for (const b of backends) await b.close();
  }
});
