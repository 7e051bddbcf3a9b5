// The admin API against a real Fulcrum process: every read, every write (and that it takes effect
// on real traffic), auth failures (no token, wrong token → 401 with nothing changed), validation
// failures (422 with problems by path, the same as `fulcrum validate`), the Host allowlist, no CORS,
// writes off without a token, and a file reload replacing admin changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startFulcrum, simpleConfig, REPO_ROOT } from './helpers/fulcrum.ts';
import { startHttpBackend, type HttpBackend } from './helpers/backends.ts';
import { call, get } from './admin-api-client.ts';

async function named(name: string): Promise<HttpBackend> {
  return startHttpBackend((_req, res) => res.end(name));
}

async function spread(url: string, n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await get(url);
    assert.equal(r.status, 200, r.body);
    out[r.body] = (out[r.body] ?? 0) + 1;
  }
  return out;
}

function validateCli(config: object, dir: string, name: string): { code: number | null; stderr: string } {
  const file = join(dir, name);
  // Written synchronously through the child: keep it simple with a JSON file.
  const r = spawnSync(process.execPath, ['-e', `require('node:fs').writeFileSync(${JSON.stringify(file)}, ${JSON.stringify(JSON.stringify(config))})`]);
  assert.equal(r.status, 0);
  const v = spawnSync(process.execPath, ['src/cli/main.ts', 'validate', file], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 20_000 });
  return { code: v.status, stderr: v.stderr };
}

test('admin API: reads, writes, auth, validation, Host allowlist, no CORS, file reload', { timeout: 90_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fulcrum-admin-api-'));
  const token = `tkn-${randomBytes(16).toString('hex')}`;
  await writeFile(join(dir, 'token'), `${token}\n`);
  const [a, b, c, q] = await Promise.all([named('a'), named('b'), named('c'), named('q')]);
  const base = simpleConfig([a.port, b.port], { extraPools: [{ name: 'q', servers: [{ address: q.address }] }] }) as Record<string, unknown>;
  const cfg = { ...base, admin: { listen: '127.0.0.1:0', auth: { tokenFile: join(dir, 'token') } } };
  const f = await startFulcrum(cfg, { env: { FULCRUM_LOG_LEVEL: 'info' } });
  const port = f.adminPort;
  const web = `${f.url('web')}/x`;
  const A = a.address;
  try {
    await t.test('reads are open on loopback without a token', async () => {
      const status = await call(port, 'GET', '/api/v1/status');
      assert.equal(status.status, 200);
      assert.equal(status.json.generation, 1);
      assert.deepEqual(status.json.auth, { protectReads: false, writesEnabled: true });
      const listeners = await call(port, 'GET', '/api/v1/listeners');
      assert.equal(listeners.json.listeners[0].name, 'web');
      assert.equal(listeners.json.listeners[0].bound, `127.0.0.1:${f.port('web')}`);
      const routes = await call(port, 'GET', '/api/v1/routes');
      assert.deepEqual(routes.json.listeners[0].routes[0].targets, [{ pool: 'p', weight: 1 }]);
      await spread(web, 4);
      const pools = await call(port, 'GET', '/api/v1/pools');
      const p = pools.json.pools.find((x: { name: string }) => x.name === 'p');
      assert.deepEqual(p.endpoints.map((e: { address: string }) => e.address), [a.address, b.address]);
      assert.deepEqual(p.endpoints.map((e: { requests: number }) => e.requests), [2, 2]);
      assert.deepEqual(p.endpoints.map((e: { state: string }) => e.state), ['up', 'up']);
      assert.equal(p.algorithmView.view, 'weights');
      assert.deepEqual(p.algorithmView.shares.map((s: { share: number }) => s.share), [0.5, 0.5]);
      for (const e of p.endpoints) {
        assert.equal(typeof e.latencyP50Ms, 'number');
        assert.ok(e.latencyP99Ms >= e.latencyP50Ms);
        assert.equal(e.inFlight, 0);
      }
      const one = await call(port, 'GET', '/api/v1/pools/p');
      assert.equal(one.json.name, 'p');
      assert.equal((await call(port, 'GET', '/api/v1/pools/nope')).status, 404);
      const config = await call(port, 'GET', '/api/v1/config');
      assert.equal(config.json.config.pools[0].servers.length, 2);
      const events = await call(port, 'GET', '/api/v1/events?since=0');
      assert.ok(Array.isArray(events.json.events));
      assert.equal((await call(port, 'GET', '/api/v1/events?since=x')).status, 400);
      assert.equal((await call(port, 'GET', '/healthz')).text, 'ok\n');
      assert.match((await call(port, 'GET', '/metrics')).text, /^# TYPE fulcrum_requests_total counter$/m);
      assert.equal((await call(port, 'GET', '/nope')).status, 404);
      assert.equal((await call(port, 'DELETE', '/api/v1/pools')).status, 405);
    });

    await t.test('Host allowlist (DNS rebinding) and no CORS', async () => {
      assert.equal((await call(port, 'GET', '/api/v1/pools', { host: 'evil.example' })).status, 421);
      assert.equal((await call(port, 'GET', '/api/v1/pools', { host: `evil.example:${port}` })).status, 421);
      assert.equal((await call(port, 'POST', `/api/v1/pools/p/endpoints/${A}/drain`, { host: 'evil.example', token })).status, 421);
      assert.equal((await call(port, 'GET', '/api/v1/pools', { host: `localhost:${port}` })).status, 200);
      assert.equal((await call(port, 'GET', '/api/v1/pools', { host: `[::1]:${port}` })).status, 200);
      const withOrigin = await call(port, 'GET', '/api/v1/pools', { headers: { origin: 'http://evil.example' } });
      assert.equal(withOrigin.status, 200);
      const preflight = await call(port, 'OPTIONS', `/api/v1/pools/p/endpoints/${A}/drain`, {
        headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
      });
      assert.equal(preflight.status, 405);
      for (const r of [withOrigin, preflight]) {
        assert.deepEqual(Object.keys(r.headers).filter((h) => h.startsWith('access-control-')), []);
      }
    });

    const writes: [string, string, unknown?][] = [
      ['POST', `/api/v1/pools/p/endpoints/${A}/drain`],
      ['POST', `/api/v1/pools/p/endpoints/${A}/undrain`],
      ['PUT', `/api/v1/pools/p/endpoints/${A}/weight`, { weight: 5 }],
      ['POST', '/api/v1/pools/p/endpoints', { address: c.address }],
      ['DELETE', `/api/v1/pools/p/endpoints/${A}`],
      ['PUT', '/api/v1/pools/p/algorithm', { algorithm: 'random' }],
      ['PUT', '/api/v1/config', { listeners: [], pools: [] }],
    ];

    await t.test('auth failures: no token, wrong token, wrong scheme → 401; nothing changed', async () => {
      const before = (await call(port, 'GET', '/api/v1/config')).text;
      for (const [method, path, body] of writes) {
        const none = await call(port, method, path, { body });
        assert.equal(none.status, 401, `${method} ${path} without token`);
        assert.match(String(none.headers['www-authenticate']), /^Bearer realm="fulcrum-admin"$/);
        const wrong = await call(port, method, path, { body, token: token.slice(0, -1) + 'x' });
        assert.equal(wrong.status, 401, `${method} ${path} with a wrong token`);
        assert.match(String(wrong.headers['www-authenticate']), /^Bearer realm="fulcrum-admin", error="invalid_token"$/);
        const basic = await call(port, method, path, { body, headers: { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` } });
        assert.equal(basic.status, 401);
      }
      assert.equal((await call(port, 'GET', '/api/v1/config')).text, before);
      assert.equal((await call(port, 'GET', '/api/v1/status')).json.generation, 1);
      const dist = await spread(web, 4);
      assert.deepEqual(dist, { a: 2, b: 2 });
    });

    await t.test('validation failures: 422 with problems by path; nothing changed', async () => {
      const before = (await call(port, 'GET', '/api/v1/config')).text;
      const cases: [string, string, unknown, string, RegExp][] = [
        ['PUT', `/api/v1/pools/p/endpoints/${A}/weight`, { weight: -1 }, 'pools[0].servers[0].weight', /expected a number >= 0, got -1/],
        ['PUT', `/api/v1/pools/p/endpoints/${A}/weight`, { weight: 'x' }, 'pools[0].servers[0].weight', /expected/],
        ['POST', '/api/v1/pools/p/endpoints', { address: '10.0.0.1' }, 'pools[0].servers[2].address', /expected host:port/],
        ['POST', '/api/v1/pools/p/endpoints', { address: b.address }, 'pools[0].servers[2].address', /duplicate server address/],
        ['POST', '/api/v1/pools/p/endpoints', { address: c.address, wieght: 2 }, 'pools[0].servers[2].wieght', /unknown key/],
        ['PUT', '/api/v1/pools/p/algorithm', { algorithm: 'fastest' }, 'pools[0].algorithm', /unknown algorithm "fastest"/],
        ['PUT', '/api/v1/pools/p/algorithm', { algorithm: 'consistent-hash' }, 'pools[0].hashKey', /expected hashKey/],
        ['PUT', '/api/v1/pools/p/algorithm', { algorithm: 'maglev', hashKey: 'nope' }, 'pools[0].hashKey', /expected a hash key/],
        ['PUT', '/api/v1/pools/p/algorithm', { algorithm: 'round-robin', maglev: { tableSize: 7 } }, 'pools[0].maglev', /does not apply/],
        ['DELETE', `/api/v1/pools/q/endpoints/${q.address}`, undefined, 'pools[1].servers', /at least 1 item/],
      ];
      for (const [method, path, body, at, msg] of cases) {
        const r = await call(port, method, path, { body, token });
        assert.equal(r.status, 422, `${method} ${path} ${JSON.stringify(body)}: ${r.text}`);
        assert.equal(r.json.code, 'FULCRUM_E_CONFIG_INVALID');
        const hit = r.json.problems.find((p: { path: string }) => p.path === at);
        assert.ok(hit, `${JSON.stringify(body)}: expected a problem at ${at}, got ${JSON.stringify(r.json.problems)}`);
        assert.match(hit.message, msg);
      }
      assert.equal((await call(port, 'POST', '/api/v1/pools/nope/endpoints/1.2.3.4:5/drain', { token })).status, 404);
      assert.equal((await call(port, 'POST', '/api/v1/pools/p/endpoints/1.2.3.4:5/drain', { token })).status, 404);
      assert.equal((await call(port, 'PUT', '/api/v1/pools/p/algorithm', { raw: '{nope', token })).status, 400);

      // A whole config: every problem listed by path, exactly as `fulcrum validate` lists them.
      const bad = {
        admin: { listen: '127.0.0.1:0' },
        listeners: [{ name: 'web', listen: '127.0.0.1:0', routes: [{ pool: 'missing' }] }],
        pools: [{ name: 'p', algorithm: 'maglev', servers: [{ address: 'nope' }] }],
      };
      const yaml = `admin:\n  listen: 127.0.0.1:0\nlisteners:\n  - name: web\n    listen: 127.0.0.1:0\n    routes:\n      - pool: missing\npools:\n  - name: p\n    algorithm: maglev\n    servers:\n      - address: nope\n`;
      const put = await call(port, 'PUT', '/api/v1/config', { raw: yaml, contentType: 'application/yaml', token });
      assert.equal(put.status, 422, put.text);
      const v = validateCli(bad, dir, 'bad.json');
      assert.equal(v.code, 1);
      const cliLines = v.stderr.split('\n').filter((l) => /^\S+: /.test(l) && !l.includes('invalid,'));
      assert.deepEqual(put.json.problems.map((p: { path: string; message: string }) => `${p.path}: ${p.message}`), cliLines);
      assert.ok(cliLines.length >= 3, v.stderr);
      // `${VAR}` is not interpolated for configs sent over the API (it cannot read the environment).
      const envRef = await call(port, 'PUT', '/api/v1/config', { raw: yaml.replace('name: web', 'name: ${HOME}'), contentType: 'application/yaml', token });
      assert.equal(envRef.status, 422);
      assert.doesNotMatch(envRef.text, new RegExp(process.env.HOME ?? '/root'));
      assert.equal((await call(port, 'GET', '/api/v1/config')).text, before);
      assert.equal((await call(port, 'GET', '/api/v1/status')).json.generation, 1);
    });

    await t.test('writes take effect on real traffic; unchanged endpoints keep their state', async () => {
      const drained = await call(port, 'POST', `/api/v1/pools/p/endpoints/${A}/drain`, { token });
      assert.equal(drained.status, 200, drained.text);
      assert.equal(drained.json.generation, 2);
      assert.deepEqual(await spread(web, 4), { b: 4 });
      let p = (await call(port, 'GET', '/api/v1/pools/p')).json;
      assert.equal(p.endpoints[0].state, 'draining');
      assert.equal(p.endpoints[0].drain, true);
      const again = await call(port, 'POST', `/api/v1/pools/p/endpoints/${A}/drain`, { token });
      assert.equal(again.json.unchanged, true);
      assert.equal((await call(port, 'POST', `/api/v1/pools/p/endpoints/${A}/undrain`, { token })).status, 200);
      assert.deepEqual(await spread(web, 4), { a: 2, b: 2 });

      const algo = await call(port, 'PUT', '/api/v1/pools/p/algorithm', { body: { algorithm: 'weighted-round-robin' }, token });
      assert.equal(algo.status, 200, algo.text);
      const w = await call(port, 'PUT', `/api/v1/pools/p/endpoints/${A}/weight`, { body: { weight: 3 }, token });
      assert.equal(w.status, 200, w.text);
      assert.deepEqual(await spread(web, 8), { a: 6, b: 2 });
      p = (await call(port, 'GET', '/api/v1/pools/p')).json;
      assert.equal(p.algorithm, 'weighted-round-robin');
      assert.deepEqual(p.algorithmView.shares.map((s: { share: number }) => s.share), [0.75, 0.25]);
      const requestsA = p.endpoints[0].requests;
      assert.ok(requestsA >= 10, `a served ${requestsA}`);

      const added = await call(port, 'POST', '/api/v1/pools/p/endpoints', { body: { address: c.address, weight: 4 }, token });
      assert.equal(added.status, 200, added.text);
      const dist = await spread(web, 8);
      assert.deepEqual(dist, { a: 3, b: 1, c: 4 });
      p = (await call(port, 'GET', '/api/v1/pools/p')).json;
      assert.equal(p.endpoints.length, 3);
      // a's counters survived the three reloads (same address): not reset to the last 8 requests.
      assert.equal(p.endpoints[0].requests, requestsA + 3);
      const removed = await call(port, 'DELETE', `/api/v1/pools/p/endpoints/${encodeURIComponent(c.address)}`, { token });
      assert.equal(removed.status, 200, removed.text);
      assert.deepEqual(await spread(web, 4), { a: 3, b: 1 });

      const status = (await call(port, 'GET', '/api/v1/status')).json;
      assert.equal(status.generation, 7);
      assert.equal(status.adminChangesSinceFileLoad.length, 6);
      const events = (await call(port, 'GET', '/api/v1/events?since=0')).json.events;
      const admin = events.filter((e: { kind: string }) => e.kind === 'admin');
      assert.equal(admin.length, 6);
      for (const e of admin) assert.match(e.actor, /^token:[0-9a-f]{12}$/);
      assert.match(admin[0].reason, new RegExp(`^drain p/${A}: config reloaded \\(generation 2\\)`));
      // The cursor: since the 2nd admin event, the rest only.
      const after = (await call(port, 'GET', `/api/v1/events?since=${admin[1].id}`)).json.events;
      assert.ok(after.every((e: { id: number }) => e.id > admin[1].id));
      assert.equal(after.filter((e: { kind: string }) => e.kind === 'admin').length, 4);

      // Replace the whole config (YAML): back to round robin over a and b.
      const yaml = `admin:\n  listen: 127.0.0.1:0\nlisteners:\n  - name: web\n    listen: 127.0.0.1:0\n    routes:\n      - name: all\n        pool: p\npools:\n  - name: p\n    servers:\n      - address: ${a.address}\n      - address: ${b.address}\n  - name: q\n    servers:\n      - address: ${q.address}\n`;
      const put = await call(port, 'PUT', '/api/v1/config', { raw: yaml, contentType: 'application/yaml', token });
      assert.equal(put.status, 200, put.text);
      assert.equal(put.json.generation, 8);
      assert.deepEqual(await spread(web, 4), { a: 2, b: 2 });
    });

    await t.test('a file reload replaces admin changes (and says so)', async () => {
      assert.equal((await call(port, 'POST', `/api/v1/pools/p/endpoints/${A}/drain`, { token })).status, 200);
      assert.deepEqual(await spread(web, 2), { b: 2 });
      const gen = (await call(port, 'GET', '/api/v1/status')).json.generation;
      await writeFile(f.configFile, JSON.stringify(cfg, null, 2));
      f.proc.kill('SIGHUP');
      let status = (await call(port, 'GET', '/api/v1/status')).json;
      for (let i = 0; i < 200 && status.generation === gen; i++) {
        await new Promise((r) => setTimeout(r, 50));
        status = (await call(port, 'GET', '/api/v1/status')).json;
      }
      assert.ok(status.generation > gen, 'the file reload happened');
      assert.deepEqual(status.adminChangesSinceFileLoad, []);
      assert.deepEqual(await spread(web, 4), { a: 2, b: 2 });
      const events = (await call(port, 'GET', '/api/v1/events?since=0')).json.events;
      const reload = events.filter((e: { kind: string }) => e.kind === 'reload').at(-1);
      assert.match(reload.reason, /^config file reload: .*\(replaces \d+ admin API changes? made since the last file load\)$/);
    });

    await t.test('concurrent writes: each derives from the config left by the one before (no lost update)', async () => {
      const gen = (await call(port, 'GET', '/api/v1/status')).json.generation;
      const extra = [1, 2, 3, 4, 5, 6].map((k) => `127.0.0.${k + 20}:${9000 + k}`);
      const added = await Promise.all(extra.map((address) => call(port, 'POST', '/api/v1/pools/p/endpoints', { body: { address, drain: true }, token })));
      assert.deepEqual(added.map((r) => r.status), extra.map(() => 200));
      assert.deepEqual(added.map((r) => r.json.generation).sort((x, y) => x - y), extra.map((_, k) => gen + 1 + k));
      let p = (await call(port, 'GET', '/api/v1/pools/p')).json;
      assert.deepEqual(p.endpoints.map((e: { address: string }) => e.address).sort(), [a.address, b.address, ...extra].sort());
      const removed = await Promise.all(extra.map((address) => call(port, 'DELETE', `/api/v1/pools/p/endpoints/${address}`, { token })));
      assert.deepEqual(removed.map((r) => r.status), extra.map(() => 200));
      p = (await call(port, 'GET', '/api/v1/pools/p')).json;
      assert.deepEqual(p.endpoints.map((e: { address: string }) => e.address), [a.address, b.address]);
      assert.deepEqual(await spread(web, 4), { a: 2, b: 2 });
    });
  } finally {
    await f.stop();
    await Promise.all([a, b, c, q].map((x) => x.close()));
    await rm(dir, { recursive: true, force: true });
  }
});

test('admin API: writes are off without a token (403); a non-loopback admin address needs one', { timeout: 40_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fulcrum-admin-api-'));
  const a = await named('a');
  const f = await startFulcrum(simpleConfig([a.port]));
  try {
    assert.equal((await call(f.adminPort, 'GET', '/api/v1/pools')).status, 200);
    const r = await call(f.adminPort, 'POST', `/api/v1/pools/p/endpoints/${a.address}/drain`);
    assert.equal(r.status, 403);
    assert.match(r.json.error, /configure admin\.auth/);
    assert.equal((await call(f.adminPort, 'GET', '/api/v1/status')).json.generation, 1);

    // A configured token that is not there stops the start, naming the variable (no value).
    await assert.rejects(
      startFulcrum({ ...simpleConfig([a.port]), admin: { listen: '127.0.0.1:0', auth: { tokenEnv: 'FULCRUM_TEST_UNSET_TOKEN' } } }, { env: { FULCRUM_TEST_UNSET_TOKEN: '' } }),
      /admin\.auth\.tokenEnv: environment variable FULCRUM_TEST_UNSET_TOKEN is not set or empty/,
    );

    const open = { ...simpleConfig([a.port]), admin: { listen: '0.0.0.0:0' } };
    const v1 = validateCli(open, dir, 'open.json');
    assert.equal(v1.code, 1);
    assert.match(v1.stderr, /^admin\.listen: a non-loopback admin address \("0\.0\.0\.0:0"\) needs auth\.tokenEnv or auth\.tokenFile/m);
    const v2 = validateCli({ ...open, admin: { listen: '0.0.0.0:0', auth: { tokenEnv: 'FULCRUM_ADMIN_TOKEN' } } }, dir, 'closed.json');
    assert.equal(v2.code, 0, v2.stderr);
    const v3 = validateCli({ ...open, admin: { listen: '127.0.0.1:0', auth: { tokenEnv: 'X', tokenFile: '/x' } } }, dir, 'both.json');
    assert.equal(v3.code, 1);
    assert.match(v3.stderr, /^admin\.auth: expected exactly one of tokenEnv, tokenFile, got both/m);
  } finally {
    await f.stop();
    await a.close();
    await rm(dir, { recursive: true, force: true });
  }
});
