// Draining a server (issue 4, "Drain"): `drain: true` set by a reload takes it out of rotation at
// once, the request already in progress on it finishes with its full body, the state shows in
// GET /api/v1/pools (drain, available, an event), and removing the flag brings it back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { adminGet, simpleConfig, startFulcrum } from './helpers/fulcrum.ts';
import { startHttpBackend, type HttpBackend } from './helpers/backends.ts';

function named(name: string): Promise<HttpBackend> {
  return startHttpBackend((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = `${name} ${'x'.repeat(50_000)}`;
      setTimeout(() => {
        res.writeHead(200, { 'content-length': Buffer.byteLength(body), 'x-backend': name });
        res.end(body);
      }, req.url === '/slow' ? 1500 : 0);
    });
  });
}

function get(port: number, path: string): Promise<{ status: number; backend: string; length: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (res) => {
      let length = 0;
      res.on('data', (d: Buffer) => { length += d.length; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, backend: String(res.headers['x-backend'] ?? ''), length }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

interface EndpointView { address: string; drain: boolean; available: boolean; inFlight: number }
interface PoolView { endpoints: EndpointView[]; events: { server: string | null; kind: string; to: string; reason: string }[] }

test('drain by reload: no new requests, the one in progress completes, state visible; undrain brings it back', { timeout: 30_000 }, async () => {
  const bs = await Promise.all(['a', 'b', 'c'].map(named));
  const cfg = (drainC: boolean) => simpleConfig([], {
    pool: { servers: bs.map((b, i) => ({ address: b.address, ...(i === 2 && drainC ? { drain: true } : {}) })) },
  });
  const f = await startFulcrum(cfg(false), { env: { FULCRUM_LOG_LEVEL: 'info' }, args: ['--no-watch'] });
  const reloads = () => f.logs().filter((l) => l.msg.startsWith('config reloaded')).length;
  const pools = async () => (JSON.parse((await adminGet(f.adminPort, '/api/v1/pools')).body) as { pools: PoolView[] }).pools[0];
  try {
    const port = f.port('web');
    // Three slow requests: round robin puts one on each server.
    const slow = [get(port, '/slow'), get(port, '/slow'), get(port, '/slow')];
    for (let i = 0; i < 50; i++) {
      if ((await pools()).endpoints.every((e) => e.inFlight === 1)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual((await pools()).endpoints.map((e) => e.inFlight), [1, 1, 1]);

    await writeFile(f.configFile, JSON.stringify(cfg(true)));
    f.proc.kill('SIGHUP');
    await f.waitFor(() => reloads() === 1, 5000, 'reload with drain: true');
    const drained = await pools();
    assert.deepEqual(drained.endpoints.map((e) => [e.drain, e.available]), [[false, true], [false, true], [true, false]]);
    assert.equal(drained.endpoints[2].inFlight, 1, 'the request in progress on c is still running');
    const ev = drained.events.find((e) => e.kind === 'drain');
    assert.equal(ev?.server, bs[2].address);
    assert.match(ev!.reason, /no new requests, those in progress finish/);

    const during = await Promise.all(Array.from({ length: 12 }, () => get(port, '/')));
    assert.deepEqual(during.filter((r) => r.backend === 'c'), [], 'no new request reaches the drained server');
    assert.ok(during.every((r) => r.status === 200));

    const done = await Promise.all(slow);
    for (const r of done) assert.deepEqual([r.status, r.length], [200, 50_002]);
    assert.deepEqual(done.map((r) => r.backend).sort(), ['a', 'b', 'c'], 'the request on c finished normally');

    await writeFile(f.configFile, JSON.stringify(cfg(false)));
    f.proc.kill('SIGHUP');
    await f.waitFor(() => reloads() === 2, 5000, 'reload without drain');
    const back = await Promise.all(Array.from({ length: 12 }, () => get(port, '/')));
    assert.equal(back.filter((r) => r.backend === 'c').length, 4, 'c takes its round-robin share again');
  } finally {
    await f.stop();
    await Promise.all(bs.map((b) => b.close()));
  }
});
