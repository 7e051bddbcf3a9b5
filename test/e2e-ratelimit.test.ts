// Rate limiting end to end (docs/middlewares.md): a real Fulcrum process, a real backend, raw
// keep-alive clients. A burst passes, then 429 FULCRUM_E_RATE_LIMITED with Retry-After, RateLimit-Policy
// and RateLimit (draft-ietf-httpapi-ratelimit-headers); keys are counted apart; a key refills with
// time; requests without the key are not limited; every 429 is counted in fulcrum_rate_limited_total.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { adminGet, startFulcrum, simpleConfig } from './helpers/fulcrum.ts';
import { headerOf, okResponse, RawConn, sleep, startRawBackend } from './helpers/backends.ts';

function req(path: string, headers: string[] = []): string {
  return `GET ${path} HTTP/1.1\r\nHost: app.test\r\n${headers.map((h) => h + '\r\n').join('')}\r\n`;
}

test('rate limit: burst then 429 with Retry-After and RateLimit headers; per-key buckets; no key = not limited; metrics', { timeout: 60_000 }, async () => {
  const be = await startRawBackend(() => okResponse('ok'));
  const f = await startFulcrum(simpleConfig([be.port], {
    listener: {
      routes: [
        { name: 'api', match: { path: { prefix: '/api' } }, pool: 'p', rateLimit: { key: 'header:X-Api-Key', rate: '6/m', burst: 5, policy: 'api' } },
        { name: 'all', pool: 'p', rateLimit: { rate: '6/m', burst: 3 } },
      ],
    },
  }));
  try {
    const c = await RawConn.open(f.port('web'));
    try {
      const statuses: number[] = [];
      let limited = null;
      for (let i = 0; i < 8; i++) {
        c.write(req('/api/x', ['X-Api-Key: alice']));
        const r = await c.read();
        statuses.push(r.status);
        if (r.status === 429 && limited === null) limited = r;
      }
      // 6/m = one token per 10 s: the burst of 5 passes, the rest is refused (the run lasts far less than 10 s).
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
      assert.ok(limited !== null);
      assert.equal(headerOf(limited, 'x-fulcrum-error'), 'FULCRUM_E_RATE_LIMITED');
      assert.equal(limited.body.toString(), '429 Too Many Requests: FULCRUM_E_RATE_LIMITED\n');
      const retryAfter = Number(headerOf(limited, 'retry-after'));
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 5 && retryAfter <= 10, `Retry-After ${retryAfter}: the next token is ≤ 10 s away`);
      assert.equal(headerOf(limited, 'ratelimit-policy'), '"api";q=6;w=60');
      assert.equal(headerOf(limited, 'ratelimit'), `"api";r=0;t=${retryAfter}`);
      // The connection stays usable after a 429 (keep-alive), and another key has its own bucket.
      for (let i = 0; i < 5; i++) {
        c.write(req('/api/y', ['X-Api-Key: bob']));
        assert.equal((await c.read()).status, 200, `bob request ${i}`);
      }
      c.write(req('/api/y', ['X-Api-Key: bob']));
      assert.equal((await c.read()).status, 429);
      // No key: not limited (12 requests pass).
      for (let i = 0; i < 12; i++) {
        c.write(req('/api/z'));
        assert.equal((await c.read()).status, 200, `keyless request ${i}`);
      }
      // The second route counts by source address with its own policy name.
      const second: number[] = [];
      for (let i = 0; i < 4; i++) {
        c.write(req('/other'));
        second.push((await c.read()).status);
      }
      assert.deepEqual(second, [200, 200, 200, 429]);
      c.write(req('/other'));
      const r = await c.read();
      assert.equal(headerOf(r, 'ratelimit-policy'), '"default";q=6;w=60');
    } finally {
      c.close();
    }
    // Refusals by route: api 4 (alice 3, bob 1), all 2.
    const metrics = (await adminGet(f.adminPort, '/metrics')).body;
    assert.match(metrics, /^fulcrum_rate_limited_total\{listener="web",route="api"\} 4$/m);
    assert.match(metrics, /^fulcrum_rate_limited_total\{listener="web",route="all"\} 2$/m);
    assert.match(metrics, /^fulcrum_requests_total\{listener="web",route="api",pool="",endpoint="",code="429"\} 4$/m);
    // Refused requests never reached the backend: 5 + 5 + 12 + 3.
    assert.equal(be.requests.length, 25);
  } finally {
    await f.stop();
    await be.close();
  }
});

test('rate limit: a key refills with time (Retry-After is honoured)', { timeout: 60_000 }, async () => {
  const be = await startRawBackend(() => okResponse('ok'));
  const f = await startFulcrum(simpleConfig([be.port], {
    listener: { routes: [{ name: 'all', pool: 'p', rateLimit: { key: 'source-ip', rate: '1/s', burst: 2 } }] },
  }));
  try {
    const c = await RawConn.open(f.port('web'));
    try {
      // Send until refused (bounded): at most burst + elapsed seconds × rate pass.
      const t0 = Date.now();
      let passed = 0;
      let refused = null;
      for (let i = 0; i < 50 && refused === null; i++) {
        c.write(req('/'));
        const r = await c.read();
        if (r.status === 200) passed++;
        else refused = r;
      }
      const elapsed = (Date.now() - t0) / 1000;
      assert.ok(refused !== null, 'a 429 came');
      assert.equal(refused.status, 429);
      assert.ok(passed >= 2 && passed <= 2 + Math.ceil(elapsed) + 1, `${passed} passed in ${elapsed}s`);
      const retryAfter = Number(headerOf(refused, 'retry-after'));
      assert.equal(retryAfter, 1, 'one token per second: retry after 1 s');
      assert.equal(headerOf(refused, 'ratelimit-policy'), '"default";q=1;w=1');
      // After Retry-After (plus slack) the bucket has refilled: requests pass again.
      await sleep(retryAfter * 1000 + 1100);
      c.write(req('/'));
      assert.equal((await c.read()).status, 200, 'refilled after Retry-After');
      c.write(req('/'));
      assert.equal((await c.read()).status, 200, 'two tokens back after more than 2 s');
    } finally {
      c.close();
    }
  } finally {
    await f.stop();
    await be.close();
  }
});

test('rate limit: a reload that keeps the route\'s limit keeps its buckets; a changed limit starts afresh', { timeout: 60_000 }, async () => {
  const be = await startRawBackend(() => okResponse('ok'));
  const cfg = (rate: string, extraRoute: boolean) => simpleConfig([be.port], {
    listener: {
      routes: [
        ...(extraRoute ? [{ name: 'extra', match: { path: { prefix: '/extra' } }, pool: 'p' }] : []),
        { name: 'all', pool: 'p', rateLimit: { rate, burst: 2 } },
      ],
    },
  });
  const f = await startFulcrum(cfg('6/m', false), { env: { FULCRUM_LOG_LEVEL: 'info' }, args: ['--no-watch'] });
  const reloads = () => f.logs().filter((l) => l.msg.startsWith('config reloaded')).length;
  const statuses = async (n: number): Promise<number[]> => {
    const c = await RawConn.open(f.port('web'));
    try {
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        c.write(req('/'));
        out.push((await c.read()).status);
      }
      return out;
    } finally {
      c.close();
    }
  };
  try {
    assert.deepEqual(await statuses(3), [200, 200, 429]);
    await writeFile(f.configFile, JSON.stringify(cfg('6/m', true)));
    f.proc.kill('SIGHUP');
    await f.waitFor(() => reloads() === 1, 10_000, 'reload 1');
    assert.deepEqual(await statuses(1), [429], 'same limit after the reload: the empty bucket is kept');
    await writeFile(f.configFile, JSON.stringify(cfg('12/m', true)));
    f.proc.kill('SIGHUP');
    await f.waitFor(() => reloads() === 2, 10_000, 'reload 2');
    assert.deepEqual(await statuses(3), [200, 200, 429], 'a changed limit starts with full buckets');
  } finally {
    await f.stop();
    await be.close();
  }
});
