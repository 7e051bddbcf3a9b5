// POST /api/v1/explain against a real Fulcrum process: why each earlier route did not match, the
// hash position and chosen endpoint of consistent-hash / maglev / rendezvous equal to the real pick
// for the same key, round robin's "next" not advanced by explaining, counters untouched, and every
// skipped endpoint with its reason (draining, down, ejected, soft-drained, circuit open).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFulcrum } from './helpers/fulcrum.ts';
import { startHttpBackend, type HttpBackend } from './helpers/backends.ts';
import { call, get } from './admin-api-client.ts';
import { createServer, connect, type Server } from 'node:net';

async function named(name: string, handler?: (url: string, res: import('node:http').ServerResponse) => boolean): Promise<HttpBackend> {
  return startHttpBackend((req, res) => {
    if (handler?.(req.url ?? '/', res) === true) return;
    res.end(name);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('explain: routes, hash positions equal to real picks, skipped endpoints with reasons, no side effects', { timeout: 90_000 }, async (t) => {
  let release: (() => void) | null = null;
  const names = ['rr1', 'rr2', 'rr3', 'h1', 'h2', 'h3', 'm1', 'm2', 'm3', 'v1', 'v2', 'v3', 's-ok', 's-drain', 's-eject', 's-slow', 'cb'];
  const backends = new Map<string, HttpBackend>();
  for (const n of names) {
    backends.set(n, await named(n, (_url, res) => {
      if (n === 's-eject') { res.statusCode = 500; res.end(n); return true; }
      if (n === 's-slow') { setTimeout(() => res.end(n), 120); return true; }
      if (n === 'cb') { release = () => res.end(n); return true; }
      return false;
    }));
  }
  const gone = await named('gone');
  const downAddress = gone.address;
  await gone.close(); // nothing listens there any more: its health check fails
  const addr = (n: string) => backends.get(n)!.address;
  const byAddress = new Map([...backends].map(([n, b]) => [b.address, n]));
  const servers = (...ns: string[]) => ns.map((n) => ({ address: addr(n) }));
  // TCP backends that say their name and close (for the L4 listener).
  const tcpNames = ['t1', 't2', 't3'];
  const tcpServers: Server[] = [];
  const tcpAddr = new Map<string, string>();
  for (const n of tcpNames) {
    const srv = createServer((sock) => sock.end(n));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    tcpServers.push(srv);
    tcpAddr.set(n, `127.0.0.1:${(srv.address() as { port: number }).port}`);
  }
  const cfg = {
    admin: { listen: '127.0.0.1:0' },
    listeners: [{
      name: 'tcp', protocol: 'tcp', listen: '127.0.0.1:0', pool: 'ip',
    }, {
      name: 'tls', protocol: 'tls-passthrough', listen: '127.0.0.1:0', pool: 'rr', sniRoutes: [{ serverNames: ['*.a.example'], pool: 'ip' }],
    }, {
      name: 'web', listen: '127.0.0.1:0',
      routes: [
        { name: 'r-api', match: { host: 'api.example', path: { prefix: '/api' } }, pool: 'rr' },
        { name: 'r-canary', match: { headers: [{ name: 'X-Canary', exact: '1' }] }, pool: 'rr' },
        { name: 'r-hash', match: { path: { prefix: '/h' } }, pool: 'h' },
        { name: 'r-maglev', match: { path: { prefix: '/m' } }, pool: 'm' },
        { name: 'r-rdv', match: { path: { prefix: '/r' } }, pool: 'v' },
        { name: 'r-skip', match: { path: { prefix: '/s' } }, pool: 's' },
        { name: 'r-cb', match: { path: { prefix: '/cb' } }, pool: 'cb' },
        { name: 'all', pool: 'rr' },
      ],
    }],
    pools: [
      { name: 'rr', servers: servers('rr1', 'rr2', 'rr3') },
      { name: 'h', algorithm: 'consistent-hash', hashKey: 'header:x-user', servers: servers('h1', 'h2', 'h3') },
      { name: 'm', algorithm: 'maglev', hashKey: 'cookie:sid', servers: servers('m1', 'm2', 'm3') },
      { name: 'v', algorithm: 'rendezvous', hashKey: 'query:k', servers: servers('v1', 'v2', 'v3') },
      {
        name: 's', panicThreshold: 0,
        servers: [{ address: addr('s-ok') }, { address: addr('s-drain'), drain: true }, { address: downAddress }, { address: addr('s-eject') }, { address: addr('s-slow') }],
        healthCheck: { type: 'tcp', interval: '100ms', rise: 1, fall: 1, initial: 'healthy' },
        outlierDetection: { consecutive5xx: 1, maxEjectionPercent: 100, baseEjectionTime: '60s' },
        grayFailure: { window: '200ms', stepInterval: '100ms', minLatency: '5ms', factor: 3 },
        retries: { attempts: 1 },
      },
      { name: 'cb', servers: servers('cb'), circuitBreakers: { maxRequests: 1 } },
      { name: 'ip', algorithm: 'ip-hash', hashKey: 'source-ip', servers: tcpNames.map((n) => ({ address: tcpAddr.get(n)! })) },
    ],
  };
  const f = await startFulcrum(cfg);
  const port = f.adminPort;
  const explain = async (body: unknown) => {
    const r = await call(port, 'POST', '/api/v1/explain', { body });
    assert.equal(r.status, 200, r.text);
    return r.json;
  };
  try {
    await t.test('route mismatch reasons', async () => {
      const e = await explain({ host: 'www.example', path: '/other' });
      assert.deepEqual(e.route, { name: 'all', index: 7 });
      const why = Object.fromEntries(e.rejectedRoutes.map((r: { name: string; reason: string }) => [r.name, r.reason]));
      assert.match(why['r-api'], /host "www\.example" not in \[api\.example\]/);
      assert.match(why['r-api'], /path "\/other" does not start with "\/api"/);
      assert.match(why['r-canary'], /x-canary/);
      assert.match(why['r-hash'], /path "\/other" does not start with "\/h"/);
      assert.equal(e.rejectedRoutes.length, 7);
      const api = await explain({ host: 'API.example:8080', path: '/api/v1?x=1' });
      assert.deepEqual(api.route, { name: 'r-api', index: 0 });
      assert.deepEqual(api.rejectedRoutes, []);
      const canary = await explain({ path: '/other', headers: { 'x-canary': '1' } });
      assert.equal(canary.route.name, 'r-canary');
      assert.equal(canary.rejectedRoutes[0].name, 'r-api');
      // Bad descriptions and unknown listeners.
      assert.equal((await call(port, 'POST', '/api/v1/explain', { body: { path: 'x' } })).status, 422);
      assert.equal((await call(port, 'POST', '/api/v1/explain', { body: { bogus: 1 } })).status, 422);
      assert.equal((await call(port, 'POST', '/api/v1/explain', { body: { listener: 'nope' } })).status, 404);
    });

    await t.test('hash positions and chosen endpoints equal the real picks', async () => {
      for (let i = 0; i < 12; i++) {
        const key = `user-${i}`;
        const h = (await explain({ path: '/h', headers: { 'x-user': key } })).targets[0];
        assert.equal(h.algorithm, 'consistent-hash');
        assert.deepEqual(h.key, { spec: 'header:x-user', value: key, missing: false });
        assert.match(h.keyPosition.position, /^ring point \d+ of 480 \(point hash \d+, key hash \d+\)$/);
        assert.equal(h.keyPosition.owner, h.chosen);
        const realH = await get(`${f.url('web')}/h`, { 'x-user': key });
        assert.equal(h.chosen, addr(realH.body), `consistent-hash key ${key}`);

        const m = (await explain({ path: '/m', cookies: { sid: key } })).targets[0];
        assert.match(m.keyPosition.position, /^table slot \d+ of 65537 \(key hash \d+\)$/);
        const realM = await get(`${f.url('web')}/m`, { cookie: `sid=${key}` });
        assert.equal(m.chosen, addr(realM.body), `maglev key ${key}`);

        const v = (await explain({ path: '/r', query: { k: key } })).targets[0];
        const best = v.candidates.reduce((x: { score: number }, y: { score: number }) => (y.score > x.score ? y : x));
        assert.equal(best.address, v.chosen);
        const realV = await get(`${f.url('web')}/r?k=${key}`);
        assert.equal(v.chosen, addr(realV.body), `rendezvous key ${key}`);
      }
      const keyless = (await explain({ path: '/h' })).targets[0];
      assert.equal(keyless.key.missing, true);
      assert.match(keyless.key.whenMissing, /round robin/);
      const pools = (await call(port, 'GET', '/api/v1/pools/h')).json;
      assert.equal(pools.algorithmView.view, 'ring');
      const total = pools.algorithmView.shares.reduce((s: number, x: { share: number }) => s + x.share, 0);
      assert.ok(Math.abs(total - 1) < 0.01, `ring shares sum to ${total}`);
    });

    await t.test('what if an endpoint were removed: the share of keys that would move', async () => {
      const view = (await call(port, 'GET', '/api/v1/pools/h')).json.algorithmView;
      const share = view.shares.find((x: { address: string }) => x.address === addr('h1')).share;
      const h = (await call(port, 'GET', `/api/v1/pools/h/whatif?remove=${addr('h1')}`)).json;
      assert.equal(h.hashing, true);
      assert.equal(h.movedFromOthers, 0, 'consistent hashing moves only the removed endpoint\'s keys');
      assert.equal(h.movedShare, h.ownShare);
      assert.ok(Math.abs(h.ownShare - share) < 0.03, `sampled ${h.ownShare} vs ring share ${share}`);
      const m = (await call(port, 'GET', `/api/v1/pools/m/whatif?remove=${addr('m2')}`)).json;
      assert.ok(m.ownShare > 0.25 && m.ownShare < 0.42, `maglev share ${m.ownShare}`);
      assert.ok(m.movedShare >= m.ownShare && m.movedFromOthers < 0.1, JSON.stringify(m));
      const rr = (await call(port, 'GET', `/api/v1/pools/rr/whatif?remove=${addr('rr1')}`)).json;
      assert.equal(rr.hashing, false);
      assert.equal((await call(port, 'GET', '/api/v1/pools/h/whatif?remove=1.2.3.4:5')).status, 404);
      assert.equal((await call(port, 'GET', '/api/v1/pools/h/whatif')).status, 400);
      // The key space for drawing: owners of equal arcs (ring) / runs (table), close to the shares.
      for (const name of ['h', 'm']) {
        const ks = (await call(port, 'GET', `/api/v1/pools/${name}/keyspace?segments=4096`)).json;
        assert.equal(ks.owners.length, 4096);
        const shares = (await call(port, 'GET', `/api/v1/pools/${name}`)).json.algorithmView.shares;
        ks.endpoints.forEach((a: string, k: number) => {
          const frac = ks.owners.filter((o: number) => o === k).length / 4096;
          const want = shares.find((x: { address: string }) => x.address === a).share;
          assert.ok(Math.abs(frac - want) < 0.03, `${name} ${a}: ${frac} vs ${want}`);
        });
      }
      assert.equal((await call(port, 'GET', '/api/v1/pools/rr/keyspace')).status, 404);
      assert.equal((await call(port, 'GET', '/api/v1/pools/h/keyspace?segments=0')).status, 400);
      // Nothing changed: the ring still has three owners.
      assert.equal((await call(port, 'GET', '/api/v1/pools/h')).json.algorithmView.shares.length, 3);
    });

    await t.test('L4: source-ip hash positions equal the real picks per client address; SNI routes', async () => {
      const seen = new Set<string>();
      for (let x = 2; x <= 12; x++) {
        const source = `127.0.0.${x}`;
        const e = (await explain({ listener: 'tcp', source })).targets[0];
        assert.equal(e.algorithm, 'ip-hash');
        assert.equal(e.key.value, source);
        assert.match(e.keyPosition.position, /^position \d+ of 3 \(hash mod N\)$/);
        const got = await new Promise<string>((resolve, reject) => {
          const sock = connect({ port: f.port('tcp'), host: '127.0.0.1', localAddress: source });
          let data = '';
          sock.setEncoding('utf8');
          sock.on('data', (d: string) => { data += d; });
          sock.on('end', () => { sock.end(); resolve(data); });
          sock.on('error', reject);
        });
        assert.equal(e.chosen, tcpAddr.get(got), `client ${source}`);
        seen.add(got);
      }
      assert.ok(seen.size >= 2, 'several clients, several backends');
      const tls = await explain({ listener: 'tls', sni: 'www.a.example', source: '127.0.0.3' });
      assert.deepEqual(tls.sni, { serverName: 'www.a.example', route: 'ip', fallback: null });
      assert.equal(tls.targets[0].pool, 'ip');
      const other = await explain({ listener: 'tls', sni: 'b.example' });
      assert.deepEqual(other.sni, { serverName: 'b.example', route: null, fallback: 'rr' });
      assert.equal(other.targets[0].pool, 'rr');
    });

    await t.test('round robin: "would be chosen" is the next pick; explaining changes no counter or rotation', async () => {
      const before = JSON.stringify((await call(port, 'GET', '/api/v1/pools/rr')).json.endpoints.map((e: { requests: number }) => e.requests));
      const first = (await explain({ path: '/x' })).targets[0];
      assert.match(first.meaning, /next/);
      for (let i = 0; i < 10; i++) assert.equal((await explain({ path: '/x' })).targets[0].chosen, first.chosen);
      const after = JSON.stringify((await call(port, 'GET', '/api/v1/pools/rr')).json.endpoints.map((e: { requests: number }) => e.requests));
      assert.equal(after, before);
      for (let i = 0; i < 6; i++) {
        const predicted = (await explain({ path: '/x' })).targets[0].chosen;
        const real = await get(`${f.url('web')}/x`);
        assert.equal(addr(real.body), predicted, `request ${i}`);
      }
    });

    await t.test('skipped endpoints with their reasons', async () => {
      // Traffic to pool s: the failing endpoint gets ejected, the slow one soft-drained.
      let e: { skipped: { address: string; reason: string }[]; chosen: string; candidates: { address: string; state: string }[] } | null = null;
      const deadline = Date.now() + 30_000;
      for (let i = 0; i < 400 && Date.now() < deadline; i++) {
        await get(`${f.url('web')}/s`);
        e = (await explain({ path: '/s' })).targets[0];
        const reasons = e!.skipped.map((s) => s.reason).join('\n');
        if (/ejected until/.test(reasons) && /soft-drained/.test(reasons) && /^down/m.test(reasons)) break;
        await sleep(20);
      }
      const reason = (a: string) => e!.skipped.find((s) => s.address === a)?.reason ?? '(not skipped)';
      assert.match(reason(addr('s-drain')), /^draining: /);
      assert.match(reason(downAddress), /^down: /);
      assert.match(reason(addr('s-eject')), /^ejected until \d{4}-\d\d-\d\dT.*: /);
      assert.match(reason(addr('s-slow')), /^soft-drained: weight factor 0\.\d+/);
      assert.equal(reason(addr('s-ok')), '(not skipped)');
      assert.ok([addr('s-ok'), addr('s-slow')].includes(e!.chosen));
      const states = Object.fromEntries(e!.candidates.map((c) => [byAddress.get(c.address) ?? 'gone', c.state]));
      assert.deepEqual(states, { 's-ok': 'up', 's-drain': 'draining', gone: 'down', 's-eject': 'ejected', 's-slow': 'soft-drained' });
    });

    await t.test('circuit open', async () => {
      const held = get(`${f.url('web')}/cb`);
      for (let i = 0; i < 250 && release === null; i++) await sleep(20);
      assert.ok(release !== null, 'the request reached the backend');
      const e = (await explain({ path: '/cb' })).targets[0];
      assert.match(e.refused, /^circuit open: requests 1\/1: 503 FULCRUM_E_CIRCUIT_OPEN$/);
      assert.match(e.skipped[0].reason, /^circuit open/);
      assert.equal(e.chosen, null);
      (release as unknown as () => void)();
      assert.equal((await held).body, 'cb');
      const open = (await explain({ path: '/cb' })).targets[0];
      assert.equal(open.chosen, addr('cb'));
    });
  } finally {
    await f.stop();
    await Promise.all([...backends.values()].map((b) => b.close()));
    await Promise.all(tcpServers.map((srv) => new Promise<void>((r) => srv.close(() => r()))));
  }
});
