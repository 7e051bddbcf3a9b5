/**
 * A GSLB-only config end to end: `fulcrum run` with a `gslb` section and neither listeners nor
 * pools serves DNS (answered for `dig`, health-steered by a site whose check target is a real HTTP
 * server), prints `gslb dns://HOST:PORT` and no `listener` line, and its admin API answers every
 * read (gslb, listeners, pools, routes, status, metrics, the dashboard) without a listener or pool.
 * `fulcrum validate` accepts the file (exit 0) and refuses one with neither listeners nor gslb at
 * `listeners` (exit 1); `fulcrum demo --demo` on it is a usage error (exit 2). Reload: GSLB only → with an HTTP listener and a pool (traffic flows, DNS
 * keeps its port) → GSLB only again (the listener's port refuses connections, DNS still answers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFulcrum, adminGet, REPO_ROOT, type FulcrumProcess } from './helpers/fulcrum.ts';
import { request, startHttpBackend, sleep } from './helpers/backends.ts';
import { refused } from './helpers/ports.ts';
import { SKIP_DIG, dig } from './helpers/gslb.ts';

const cli = (args: string[]) => spawnSync(process.execPath, ['src/cli/main.ts', ...args], {
  cwd: REPO_ROOT, encoding: 'utf8', timeout: 20_000, env: { ...process.env, FULCRUM_LOG_LEVEL: 'silent' },
});

/** A GSLB-only config: one zone with a static record and one steered name over one checked site. */
function gslbOnly(checkTarget: string): Record<string, unknown> {
  return {
    admin: { listen: '127.0.0.1:0' },
    gslb: {
      listen: '127.0.0.1:0',
      zones: [{ name: 'example.com', records: [{ name: 'www', type: 'A', value: '192.0.2.1' }] }],
      sites: [{
        name: 'eu', addresses: ['198.51.100.10'], endpoints: [checkTarget],
        healthCheck: { type: 'http', interval: 200, jitter: 0, timeout: 500, fall: 1, rise: 1, initial: 'unknown' },
      }],
      names: [{ name: 'app.example.com', policy: 'failover', targets: [{ site: 'eu' }] }],
    },
  };
}

/** `gslb dns://127.0.0.1:PORT` lines printed so far, as ports. */
function dnsLines(f: FulcrumProcess): number[] {
  return [...f.stdout().matchAll(/^gslb dns:\/\/127\.0\.0\.1:(\d+)$/gm)].map((m) => Number(m[1]));
}

async function generation(f: FulcrumProcess): Promise<number> {
  return (JSON.parse((await adminGet(f.adminPort, '/api/v1/status')).body) as { generation: number }).generation;
}

/** Rewrites the config file, sends SIGHUP and waits (≤ 5 s) until the generation moves past `from`. */
async function reloadTo(f: FulcrumProcess, config: object, from: number): Promise<void> {
  writeFileSync(f.configFile, JSON.stringify(config, null, 2));
  f.proc.kill('SIGHUP');
  for (let i = 0; i < 100; i++) {
    if (await generation(f) > from) return;
    await sleep(50);
  }
  throw new Error(`no reload past generation ${from} within 5 s; stderr: ${f.stderr().slice(-2000)}`);
}

test('fulcrum validate: a GSLB-only file is valid (exit 0); neither listeners nor gslb → exit 1 at `listeners`', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-gslb-only-'));
  try {
    const good = join(dir, 'dns.yaml');
    writeFileSync(good, 'gslb:\n  listen: 127.0.0.1:5300\n  zones:\n    - name: example.com\n      records:\n        - { name: www, type: A, value: 192.0.2.1 }\n');
    const ok = cli(['validate', good]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, `${good}: valid\n`);
    const bad = join(dir, 'empty.yaml');
    writeFileSync(bad, 'admin:\n  listen: 127.0.0.1:0\npools: []\n');
    const no = cli(['validate', bad]);
    assert.equal(no.status, 1);
    assert.match(no.stderr, /^listeners: expected at least one listener \(or a gslb section\)$/m);
    // `run` refuses it the same way, and binds nothing.
    const run = cli(['run', '--config', bad]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^listeners: expected at least one listener \(or a gslb section\)$/m);
    assert.equal(run.stdout, '');
    // The embedded demo needs a pool and a listener: a GSLB-only file is a usage error there, not a crash.
    const demo = cli(['demo', '--demo', good]);
    assert.equal(demo.status, 2, demo.stderr);
    assert.match(demo.stderr, /has no pool for the demo backends and URLs; run it with --config FILE instead \(FULCRUM_E_USAGE\)/);
    assert.equal(demo.stdout, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fulcrum run with only a gslb section: dig answers, admin API serves every read, no listener line', { skip: SKIP_DIG, timeout: 60_000 }, async () => {
  const target = await startHttpBackend((_req, res) => res.end('ok'));
  let started: FulcrumProcess | null = null; // stopped in finally; backends close even when the start fails
  try {
    const f = await startFulcrum(gslbOnly(target.address));
    started = f;
    await f.waitFor(() => dnsLines(f).length === 1, 5000, 'the gslb dns:// line');
    assert.doesNotMatch(f.stdout(), /^listener /m);
    assert.match(f.stdout(), /^admin http:\/\/127\.0\.0\.1:\d+$/m);
    const port = dnsLines(f)[0];
    const g = await adminGet(f.adminPort, '/api/v1/gslb');
    assert.equal(g.status, 200, g.body);
    const view = JSON.parse(g.body) as { port: number; sites: { name: string; up: boolean }[] };
    assert.equal(view.port, port, 'the printed port is the one the DNS server holds');
    assert.deepEqual(view.sites.map((s) => s.name), ['eu']);

    const www = await dig(port, ['www.example.com', 'A']);
    assert.equal(www.status, 'NOERROR', www.raw);
    assert.deepEqual(www.answers.map((a) => a.data), ['192.0.2.1']);
    assert.ok(www.flags.includes('aa'), www.raw);
    assert.equal((await dig(port, ['www.example.com', 'A', '+tcp'])).answers[0]?.data, '192.0.2.1');
    // The steered name answers once its site's first check passed.
    let app = await dig(port, ['app.example.com', 'A']);
    for (let i = 0; i < 50 && app.answers.length === 0; i++) {
      await sleep(100);
      app = await dig(port, ['app.example.com', 'A']);
    }
    assert.deepEqual(app.answers.map((a) => a.data), ['198.51.100.10'], app.raw);

    // Every read of the admin API works with no listener and no pool.
    assert.deepEqual(JSON.parse((await adminGet(f.adminPort, '/api/v1/listeners')).body), { listeners: [] });
    assert.deepEqual(JSON.parse((await adminGet(f.adminPort, '/api/v1/routes')).body), { listeners: [] });
    const pools = JSON.parse((await adminGet(f.adminPort, '/api/v1/pools')).body) as { generation: number; pools: unknown[] };
    assert.deepEqual([pools.generation, pools.pools], [1, []]);
    assert.equal((await adminGet(f.adminPort, '/api/v1/pools/nope')).status, 404);
    assert.equal(await generation(f), 1);
    const cfg = JSON.parse((await adminGet(f.adminPort, '/api/v1/config')).body) as { config: { listeners: unknown[]; pools: unknown[] } };
    assert.deepEqual([cfg.config.listeners, cfg.config.pools], [[], []]);
    const metrics = await adminGet(f.adminPort, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /fulcrum_dns_responses_total\{transport="udp",rcode="NOERROR"\} [1-9]/);
    assert.equal((await adminGet(f.adminPort, '/healthz')).status, 200);
    const ui = await adminGet(f.adminPort, '/');
    assert.equal(ui.status, 200);
    assert.match(ui.body, /<title>Fulcrum/);
    // explain has nothing to explain a request on: 404 saying why, not a crash.
    const ex = await fetch(`http://127.0.0.1:${f.adminPort}/api/v1/explain`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: '/' }), signal: AbortSignal.timeout(5000),
    });
    assert.equal(ex.status, 404);
    assert.match(((await ex.json()) as { error: string }).error, /config has none \(GSLB only\)/);
    assert.ok(!f.hasExited(), 'still running');
  } finally {
    await started?.stop();
    await target.close();
  }
});

test('reload: GSLB only → with an HTTP listener and a pool → GSLB only; DNS keeps its port throughout', { skip: SKIP_DIG, timeout: 60_000 }, async () => {
  const target = await startHttpBackend((_req, res) => res.end('ok'));
  const backend = await startHttpBackend((_req, res) => res.end('from-backend'));
  const only = gslbOnly(target.address);
  let started: FulcrumProcess | null = null;
  try {
    const f = await startFulcrum(only);
    started = f;
    await f.waitFor(() => dnsLines(f).length === 1, 5000, 'the gslb dns:// line');
    const port = dnsLines(f)[0];
    const withWeb = {
      ...only,
      listeners: [{ name: 'web', listen: '127.0.0.1:0', routes: [{ pool: 'p' }] }],
      pools: [{ name: 'p', servers: [{ address: backend.address }] }],
    };
    await reloadTo(f, withWeb, 1);
    await f.waitFor(() => /^listener web http:\/\/127\.0\.0\.1:\d+$/m.test(f.stdout()), 5000, 'the added listener line');
    const webPort = Number(/^listener web http:\/\/127\.0\.0\.1:(\d+)$/m.exec(f.stdout())![1]);
    // One request on a connection closed after it (no idle keep-alive connection left to drain).
    const res = await request(webPort, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'from-backend');
    const listeners = JSON.parse((await adminGet(f.adminPort, '/api/v1/listeners')).body) as { listeners: { name: string; bound: string }[] };
    assert.deepEqual(listeners.listeners.map((l) => [l.name, l.bound]), [['web', `127.0.0.1:${webPort}`]]);
    assert.deepEqual(dnsLines(f), [port], 'the unchanged DNS server was not rebound');
    assert.equal((await dig(port, ['www.example.com', 'A'])).answers[0]?.data, '192.0.2.1');

    await reloadTo(f, only, 2);
    assert.equal(await generation(f), 3);
    assert.deepEqual(JSON.parse((await adminGet(f.adminPort, '/api/v1/listeners')).body), { listeners: [] });
    assert.deepEqual((JSON.parse((await adminGet(f.adminPort, '/api/v1/pools')).body) as { pools: unknown[] }).pools, []);
    // The removed listener closes its socket (it drains first; it had no connection left open).
    let closed = false;
    for (let i = 0; i < 50 && !closed; i++) {
      closed = await refused(webPort);
      if (!closed) await sleep(100);
    }
    assert.ok(closed, `port ${webPort} still accepts after the listener was removed`);
    assert.equal((await dig(port, ['www.example.com', 'A'])).answers[0]?.data, '192.0.2.1');
    assert.deepEqual(dnsLines(f), [port]);
    assert.ok(!f.hasExited());
  } finally {
    await started?.stop();
    await target.close();
    await backend.close();
  }
});
