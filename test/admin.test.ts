// Admin basics against a real Fulcrum process: /healthz, /api/v1/pools figures, /metrics in the
// Prometheus text format with the request counter, duration histogram and in-flight gauge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFulcrum, simpleConfig, adminGet } from './helpers/fulcrum.ts';
import { startHttpBackend } from './helpers/backends.ts';

test('admin: healthz, pools figures and Prometheus metrics follow the traffic', { timeout: 30_000 }, async () => {
  let hold: (() => void) | null = null;
  const a = await startHttpBackend((req, res) => {
    if (req.url === '/hold') { hold = () => res.end('held'); return; }
    res.end(req.url === '/fail' ? 'x' : 'ok');
  });
  const b = await startHttpBackend((req, res) => {
    if (req.url === '/hold') { hold = () => res.end('held'); return; }
    res.statusCode = req.url === '/fail' ? 500 : 200;
    res.end('b');
  });
  const cfg = simpleConfig([a.port, b.port]);
  const f = await startFulcrum(cfg);
  try {
    const health = await adminGet(f.adminPort, '/healthz');
    assert.deepEqual(health, { status: 200, body: 'ok\n' });
    // Round robin: a, b, a, b … — 6 requests, the 2nd and 4th to b fail with 500.
    const statuses: number[] = [];
    for (const path of ['/1', '/fail', '/3', '/fail', '/5', '/6']) {
      const r = await fetch(`${f.url('web')}${path}`);
      await r.text();
      statuses.push(r.status);
    }
    assert.deepEqual(statuses, [200, 500, 200, 500, 200, 200]);

    const pools = JSON.parse((await adminGet(f.adminPort, '/api/v1/pools')).body);
    const eps = pools.pools[0].endpoints;
    assert.equal(pools.pools[0].algorithm, 'round-robin');
    assert.deepEqual(eps.map((e: { requests: number }) => e.requests), [3, 3]);
    assert.deepEqual(eps.map((e: { errors: number }) => e.errors), [0, 2]);
    assert.deepEqual(eps.map((e: { inFlight: number }) => e.inFlight), [0, 0]);

    // One request held open at the backend shows as in flight.
    const held = fetch(`${f.url('web')}/hold`).then((r) => r.text());
    for (let i = 0; i < 50 && hold === null; i++) await new Promise((r) => setTimeout(r, 20));
    const metrics = (await adminGet(f.adminPort, '/metrics')).body;
    const line = (re: RegExp) => metrics.split('\n').find((l) => re.test(l));
    assert.match(metrics, /^# TYPE fulcrum_requests_total counter$/m);
    assert.match(metrics, /^# TYPE fulcrum_request_duration_seconds histogram$/m);
    const okA = line(new RegExp(`^fulcrum_requests_total\\{listener="web",route="all",pool="p",endpoint="127.0.0.1:${a.port}",code="200"\\} `));
    const failB = line(new RegExp(`^fulcrum_requests_total\\{listener="web",route="all",pool="p",endpoint="127.0.0.1:${b.port}",code="500"\\} `));
    assert.equal(okA?.split(' ')[1], '3');
    assert.equal(failB?.split(' ')[1], '2');
    const count = line(new RegExp(`^fulcrum_request_duration_seconds_count\\{listener="web",route="all",pool="p",endpoint="127.0.0.1:${b.port}"\\} `));
    assert.equal(count?.split(' ')[1], '3');
    const inflight = metrics.split('\n').filter((l) => l.startsWith('fulcrum_endpoint_in_flight{')).map((l) => Number(l.split(' ')[1]));
    assert.deepEqual(inflight.sort(), [0, 1]);
    (hold as unknown as () => void)();
    assert.equal(await held, 'held');
    assert.equal((await adminGet(f.adminPort, '/nope')).status, 404);
  } finally {
    await f.stop();
    await a.close();
    await b.close();
  }
});
