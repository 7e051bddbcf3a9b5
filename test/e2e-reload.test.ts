/**
 * End-to-end: hot reload (SIGHUP and the config-file watch) on a real Fulcrum child process.
 *  - proof 4: 50 reloads alternating two valid configs under steady keep-alive load — zero failed
 *    requests, zero closed or reset client connections; an invalid config in the middle is refused
 *    with every problem listed and changes nothing; each new config takes effect;
 *  - an unchanged listener keeps its sockets: a keep-alive connection opened before a reload serves
 *    the new routes after it, on the same socket;
 *  - listeners added, removed and moved by a reload; a reload whose new listener cannot bind is
 *    rolled back;
 *  - load counters (requests, EWMA) and idle upstream connections of unchanged endpoints survive.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { rename, writeFile } from 'node:fs/promises';
import { adminGet, startFulcrum, type FulcrumProcess } from './helpers/fulcrum.ts';
import { RawConn, headerOf, sendRaw, sleep, startHttpBackend, type HttpBackend } from './helpers/backends.ts';

const LOGS = { FULCRUM_LOG_LEVEL: 'info' };

/** Health-check requests (`/healthz`) each named backend has answered. */
const healthHits = new Map<string, number>();

/**
 * A backend answering its name (body and `x-backend`); `/slow…` after 1 s, every 10th `/load`
 * after 20 ms; `/healthz` 200, or 503 when `unhealthy`.
 */
async function namedBackend(name: string, unhealthy = false): Promise<HttpBackend> {
  let n = 0;
  return startHttpBackend((req, res) => {
    req.resume();
    req.on('end', () => {
      const url = req.url ?? '/';
      if (url === '/healthz') {
        healthHits.set(name, (healthHits.get(name) ?? 0) + 1);
        res.writeHead(unhealthy ? 503 : 200, { 'content-length': 0 });
        res.end();
        return;
      }
      const delay = url.startsWith('/slow') ? 1000 : url.startsWith('/load') && ++n % 10 === 0 ? 20 : 0;
      const body = `${name} ${url}`;
      setTimeout(() => {
        res.writeHead(200, { 'content-length': Buffer.byteLength(body), 'x-backend': name });
        res.end(body);
      }, delay);
    });
  });
}

/** One request on a fresh connection: status, the answering backend and the body (bounded by 5 s). */
function get(port: number, path: string, host = '127.0.0.1'): Promise<{ status: number; backend: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, backend: String(res.headers['x-backend'] ?? ''), body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function reloadedLines(f: FulcrumProcess): { generation: number; msg: string }[] {
  return f.logs().filter((l) => l.msg.startsWith('config reloaded (generation ')).map((l) => ({ generation: Number(l.generation), msg: l.msg }));
}

function refusedLines(f: FulcrumProcess): string[] {
  return f.logs().filter((l) => l.msg.startsWith('config refused: ')).map((l) => l.msg);
}

/** Sends SIGHUP and waits for the reload's log line (config reloaded or refused). */
async function hup(f: FulcrumProcess): Promise<void> {
  const before = reloadedLines(f).length + refusedLines(f).length;
  f.proc.kill('SIGHUP');
  await f.waitFor(() => reloadedLines(f).length + refusedLines(f).length > before, 5000, 'a reload after SIGHUP');
}

/** The admin view of one endpoint. */
interface EndpointView { address: string; weight: number; inFlight: number; requests: number; errors: number; latencyEwmaMs: number; connections: { open: number; idle: number } }

async function endpoints(f: FulcrumProcess, pool: string): Promise<EndpointView[]> {
  const r = await adminGet(f.adminPort, '/api/v1/pools');
  assert.equal(r.status, 200);
  const view = JSON.parse(r.body) as { pools: { name: string; endpoints: EndpointView[] }[] };
  const p = view.pools.find((x) => x.name === pool);
  assert.ok(p, `pool ${pool} in ${r.body}`);
  // The fields this test is about (the admin view carries more: health, ejection, …).
  return p.endpoints.map((e) => ({
    address: e.address, weight: e.weight, inFlight: e.inFlight, requests: e.requests, errors: e.errors,
    latencyEwmaMs: e.latencyEwmaMs, connections: e.connections,
  }));
}

/** Steady keep-alive load: `n` loops on one Agent, every outcome counted. */
function startLoad(port: number, n: number, maxMs: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: n });
  const stats = { ok: 0, non2xx: 0, errors: [] as string[], byBackend: new Map<string, number>(), sockets: 0, socketsClosed: 0 };
  const seen = new WeakSet<Socket>();
  let stopping = false;
  const deadline = Date.now() + maxMs;
  const one = () => new Promise<void>((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/load', agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => {
        const be = String(res.headers['x-backend'] ?? '');
        if (res.statusCode === 200 && body === `${be} /load`) {
          stats.ok++;
          stats.byBackend.set(be, (stats.byBackend.get(be) ?? 0) + 1);
        } else {
          stats.non2xx++;
          if (stats.errors.length < 20) stats.errors.push(`status ${res.statusCode} body ${JSON.stringify(body.slice(0, 100))}`);
        }
        resolve();
      });
      res.on('error', (e) => { stats.errors.push(`response: ${e.message}`); resolve(); });
    });
    req.on('socket', (s: Socket) => {
      if (seen.has(s)) return;
      seen.add(s);
      stats.sockets++;
      s.on('close', () => { if (!stopping) stats.socketsClosed++; });
    });
    req.on('error', (e: NodeJS.ErrnoException) => { stats.errors.push(`request: ${e.code ?? e.message}`); resolve(); });
    req.end();
  });
  const loops = Array.from({ length: n }, async () => {
    for (let i = 0; i < 1_000_000 && !stopping && Date.now() < deadline; i++) await one();
  });
  return {
    stats,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}

/** The two valid configs of proof 4: B adds server b3 (weight 2) and swaps route /only-a for /only-b. */
function loadConfig(version: 'A' | 'B', b: HttpBackend[]): object {
  return {
    admin: { listen: '127.0.0.1:0' },
    shutdown: { gracePeriod: '5s' },
    listeners: [{
      name: 'web', listen: '127.0.0.1:0',
      routes: [
        { name: `only-${version.toLowerCase()}`, match: { path: { prefix: `/only-${version.toLowerCase()}` } }, pool: 'p' },
        { name: 'load', match: { path: { prefix: '/load' } }, pool: 'p' },
      ],
    }],
    pools: [{
      name: 'p', algorithm: 'weighted-round-robin',
      servers: version === 'A'
        ? [{ address: b[0].address }, { address: b[1].address }]
        : [{ address: b[0].address }, { address: b[1].address }, { address: b[2].address, weight: 2 }],
    }],
  };
}

describe('e2e hot reload', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
  });

  it('proof 4: 50 reloads under steady load — zero failed requests, zero closed connections; an invalid config is refused and changes nothing', async () => {
    const b = await Promise.all(['b1', 'b2', 'b3'].map((n) => namedBackend(n)));
    cleanup.push(...b.map((x) => () => x.close()));
    const f = await startFulcrum(loadConfig('A', b), { env: LOGS });
    cleanup.push(() => f.stop('SIGKILL'));
    const port = f.port('web');
    const load = startLoad(port, 8, 25_000);
    const t0 = performance.now();
    let refusals = 0;
    let tookEffectMs = 0;
    try {
      await sleep(300);
      /** Polls /only-X until the config `v` is in service (bounded by 3 s). */
      const inService = async (v: 'A' | 'B') => {
        const t = performance.now();
        const [yes, no] = v === 'A' ? ['/only-a', '/only-b'] : ['/only-b', '/only-a'];
        for (let i = 0; i < 300; i++) {
          const [p, q] = await Promise.all([get(port, yes), get(port, no)]);
          if (p.status === 200 && q.status === 404) {
            tookEffectMs = Math.max(tookEffectMs, performance.now() - t);
            return;
          }
          if (performance.now() - t > 3000) break;
          await sleep(10);
        }
        assert.fail(`config ${v} not in service 3 s after the write`);
      };
      for (let i = 1; i <= 50; i++) {
        const v = i % 2 === 1 ? 'B' : 'A';
        const text = JSON.stringify(loadConfig(v, b), null, 2);
        if (i % 2 === 0) {
          // an editor's way: write a temporary file and rename it over the config
          await writeFile(`${f.configFile}.tmp`, text);
          await rename(`${f.configFile}.tmp`, f.configFile);
        } else {
          await writeFile(f.configFile, text);
        }
        if (i % 5 !== 0) f.proc.kill('SIGHUP'); // every 5th reload comes from the file watch alone
        await inService(v);

        if (i === 24) {
          // The invalid config in the middle (config A in service): let pending watch events settle first.
          await sleep(400);
          const reloadsBefore = reloadedLines(f).length;
          await writeFile(f.configFile, JSON.stringify({
            admin: { listen: '127.0.0.1:0' },
            listeners: [{ name: 'web', listen: '127.0.0.1:0', routes: [{ name: 'load', match: { path: { prefix: '/load' } }, pool: 'nope' }] }],
            pools: [{ name: 'p', servers: [{ address: '10.0.0.1' }, { address: b[2].address, weight: -1 }] }],
          }, null, 2));
          f.proc.kill('SIGHUP');
          await f.waitFor(() => refusedLines(f).length >= 1, 5000, 'config refused');
          await sleep(400); // the watch sees the same text: no second refusal, no reload
          assert.equal(reloadedLines(f).length, reloadsBefore, 'the invalid config changed the generation');
          // Refused once — or twice when, on a loaded machine, a late watch event of the previous
          // write read the new text before the SIGHUP (which always re-validates): same refusal.
          refusals = refusedLines(f).length;
          assert.ok(refusals === 1 || refusals === 2, refusedLines(f).join('\n'));
          for (const line of refusedLines(f)) assert.match(line, /^config refused: 3 problems \(FULCRUM_E_CONFIG_INVALID\)/);
          const problems = [...new Set(f.logs().filter((l) => typeof l.path === 'string').map((l) => l.msg))];
          assert.deepEqual(problems.map((m) => m.split(':')[0]).sort(), [
            'listeners[0].routes[0].pool', 'pools[0].servers[0].address', 'pools[0].servers[1].weight',
          ]);
          assert.ok(problems.some((m) => m.includes('10.0.0.1')), problems.join('\n'));
          // Nothing changed: config A's routes and servers, no b3.
          const seen = new Set<string>();
          for (let k = 0; k < 30; k++) seen.add((await get(port, '/load')).backend);
          assert.deepEqual([...seen].sort(), ['b1', 'b2']);
          assert.equal((await get(port, '/only-a')).status, 200);
          assert.equal((await get(port, '/only-b')).status, 404);
          assert.deepEqual((await endpoints(f, 'p')).map((e) => e.address), [b[0].address, b[1].address]);
        }
      }
      await sleep(400); // the last watch event
    } finally {
      await load.stop();
    }
    const s = load.stats;
    const reloads = reloadedLines(f);
    const elapsed = performance.now() - t0;
    process.stdout.write(`# proof 4: ${reloads.length} reloads (last generation ${reloads.at(-1)?.generation}), ` +
      `${s.ok + s.non2xx + s.errors.length} requests in ${(elapsed / 1000).toFixed(1)} s on ${s.sockets} client connections, ` +
      `${s.non2xx} non-2xx, ${s.errors.length} errors, ${s.socketsClosed} connections closed; by backend ${JSON.stringify([...s.byBackend])}; ` +
      `slowest reload to take effect ${tookEffectMs.toFixed(0)} ms\n`);
    assert.deepEqual(s.errors, [], 'request errors');
    assert.equal(s.non2xx, 0, 'non-2xx answers');
    assert.equal(s.socketsClosed, 0, 'client connections closed during the reloads');
    assert.ok(s.sockets <= 8, `${s.sockets} client connections for 8 loops`);
    assert.ok(s.ok >= 1000, `steady load: only ${s.ok} requests`);
    assert.ok((s.byBackend.get('b3') ?? 0) > 0, 'config B (with b3) served traffic');
    assert.ok(reloads.length >= 50, `${reloads.length} reloads`);
    assert.equal(refusedLines(f).length, refusals, 'no refusal after the invalid config');
    // Bookkeeping of exchanges that spanned a reload landed on the endpoints in service.
    const eps = await endpoints(f, 'p');
    assert.deepEqual(eps.map((e) => e.inFlight), eps.map(() => 0), `in flight after the load: ${JSON.stringify(eps)}`);
    for (const e of eps) assert.ok(e.connections.open >= e.connections.idle && e.connections.idle >= 0, JSON.stringify(e));
    assert.equal(await f.stop('SIGTERM'), 0);
  });

  it('an unchanged listener keeps its sockets: a keep-alive connection opened before the reload serves the new routes', async () => {
    const be = await namedBackend('b1');
    cleanup.push(() => be.close());
    const base = (extra: object[]) => ({
      admin: { listen: '127.0.0.1:0' },
      listeners: [{ name: 'web', listen: '127.0.0.1:0', timeouts: { idle: '30s' }, routes: [...extra, { name: 'a', match: { path: { prefix: '/a' } }, pool: 'p' }] }],
      pools: [{ name: 'p', servers: [{ address: be.address }] }],
    });
    const f = await startFulcrum(base([]), { env: LOGS, args: ['--no-watch'] });
    cleanup.push(() => f.stop('SIGKILL'));
    const conn = await RawConn.open(f.port('web'));
    try {
      const localPort = conn.socket.localPort;
      conn.write('GET /a HTTP/1.1\r\nHost: h\r\n\r\n');
      assert.equal((await conn.read()).status, 200);
      conn.write('GET /new HTTP/1.1\r\nHost: h\r\n\r\n');
      assert.equal((await conn.read()).status, 404);

      await writeFile(f.configFile, JSON.stringify(base([{ name: 'new', match: { path: { prefix: '/new' } }, pool: 'p' }])));
      await hup(f);
      assert.equal(reloadedLines(f).at(-1)?.generation, 2);
      assert.match(reloadedLines(f).at(-1)!.msg, /listeners \+0 −0 ~1 =0 \(~web\), pools \+0 −0 ~0 =1$/);

      conn.write('GET /new HTTP/1.1\r\nHost: h\r\n\r\n');
      const r = await conn.read();
      assert.equal(r.status, 200, 'the new route answers on the old connection');
      assert.equal(r.body.toString(), 'b1 /new');
      assert.equal(headerOf(r, 'connection'), undefined);
      assert.equal(conn.closed, false);
      assert.equal(conn.socket.localPort, localPort);
      // And once more, for good measure, after an identical reload.
      await hup(f);
      conn.write('GET /a HTTP/1.1\r\nHost: h\r\n\r\n');
      assert.equal((await conn.read()).status, 200);
      assert.equal(conn.closed, false);
      assert.equal(f.stdout().match(/^listener web /gm)?.length, 1, 'the listener was not rebound');
    } finally {
      conn.close();
    }
    assert.equal(await f.stop('SIGTERM'), 0);
  });

  it('listeners added, removed and moved: the added one accepts, the removed one refuses at once and finishes its in-flight request', async () => {
    const be = await namedBackend('b1');
    cleanup.push(() => be.close());
    const listener = (name: string, listen: string) => ({ name, listen, routes: [{ pool: 'p' }] });
    const f = await startFulcrum({
      admin: { listen: '127.0.0.1:0' },
      shutdown: { gracePeriod: '5s' },
      listeners: [listener('web', '127.0.0.1:0'), listener('old', '127.0.0.1:0'), listener('moved', '127.0.0.1:0')],
      pools: [{ name: 'p', servers: [{ address: be.address }] }],
    }, { env: LOGS, args: ['--no-watch'] });
    cleanup.push(() => f.stop('SIGKILL'));
    const oldPort = f.port('old');
    const movedPort = f.port('moved');
    const slow = await RawConn.open(oldPort);
    const slowMoved = await RawConn.open(movedPort);
    const idleMoved = await RawConn.open(movedPort);
    try {
      idleMoved.write('GET /x HTTP/1.1\r\nHost: h\r\n\r\n');
      assert.equal((await idleMoved.read()).status, 200);
      const t0 = performance.now();
      slow.write('GET /slow-old HTTP/1.1\r\nHost: h\r\n\r\n');
      slowMoved.write('GET /slow-moved HTTP/1.1\r\nHost: h\r\n\r\n');
      const pending = slow.read('GET', 5000);
      const pendingMoved = slowMoved.read('GET', 5000);
      await sleep(200);

      await writeFile(f.configFile, JSON.stringify({
        admin: { listen: '127.0.0.1:0' },
        shutdown: { gracePeriod: '5s' },
        listeners: [listener('web', '127.0.0.1:0'), listener('added', '127.0.0.1:0'), listener('moved', '127.0.0.2:0')],
        pools: [{ name: 'p', servers: [{ address: be.address }] }],
      }));
      await hup(f);
      assert.match(reloadedLines(f).at(-1)!.msg, /listeners \+1 −1 ~1 =1 \(\+added −old ~moved\)/);
      await f.waitFor(() => /^listener moved http:\/\/127\.0\.0\.2:\d+$/m.test(f.stdout()), 2000, 'the moved listener line');

      // The added listener accepts; the moved one answers on its new address.
      const added = await get(f.port('added'), '/hello');
      assert.deepEqual([added.status, added.body], [200, 'b1 /hello']);
      const moved = await get(f.port('moved'), '/m', '127.0.0.2');
      assert.deepEqual([moved.status, moved.body], [200, 'b1 /m']);
      // The removed and the moved-away sockets refuse new connections at once…
      for (const p of [oldPort, movedPort]) {
        const r = await sendRaw(p, 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', { timeoutMs: 2000 });
        assert.equal(r.error, 'ECONNREFUSED', `port ${p}: ${r.error} ${r.bytes.length} bytes`);
      }
      // …an idle connection of the moved listener is closed…
      assert.equal(await idleMoved.waitClosed(1000), true);
      // …and the requests in flight complete, then their connections close.
      for (const [res, conn, path] of [[await pending, slow, '/slow-old'], [await pendingMoved, slowMoved, '/slow-moved']] as const) {
        assert.equal(res.status, 200);
        assert.equal(res.body.toString(), `b1 ${path}`);
        assert.equal(headerOf(res, 'connection'), 'close');
        assert.equal(await conn.waitClosed(1000), true);
      }
      assert.ok(performance.now() - t0 >= 950);
      await f.waitFor(() => f.logs().filter((l) => l.msg === 'listener closed').length === 2, 2000, 'both drained listeners closed');
      // The web listener was kept (one line on stdout).
      assert.equal(f.stdout().match(/^listener web /gm)?.length, 1);
    } finally {
      slow.close();
      slowMoved.close();
      idleMoved.close();
    }
    assert.equal(await f.stop('SIGTERM'), 0);
  });

  it('a reload whose new listener cannot bind is refused and rolled back; the running config stays', async () => {
    const be = await namedBackend('b1');
    cleanup.push(() => be.close());
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise((r) => taken.close(r)));
    const takenPort = (taken.address() as { port: number }).port;
    const cfg = (more: boolean) => ({
      admin: { listen: '127.0.0.1:0' },
      listeners: [
        { name: 'web', listen: '127.0.0.1:0', routes: [...(more ? [{ name: 'more', match: { path: { prefix: '/more' } }, pool: 'p' }] : []), { name: 'a', match: { path: { prefix: '/a' } }, pool: 'p' }] },
        ...(more ? [
          { name: 'extra', listen: '127.0.0.1:0', routes: [{ pool: 'p' }] },
          { name: 'clash', listen: `127.0.0.1:${takenPort}`, routes: [{ pool: 'p' }] },
        ] : []),
      ],
      pools: [{ name: 'p', servers: [{ address: be.address }] }],
    });
    const f = await startFulcrum(cfg(false), { env: LOGS, args: ['--no-watch'] });
    cleanup.push(() => f.stop('SIGKILL'));
    await writeFile(f.configFile, JSON.stringify(cfg(true)));
    await hup(f);
    assert.deepEqual(reloadedLines(f), []);
    assert.match(refusedLines(f)[0], /^config refused: 1 problem \(FULCRUM_E_LISTEN\); generation 1 stays in service/);
    const problem = f.logs().find((l) => typeof l.path === 'string');
    assert.equal(problem?.path, 'listeners[2].listen');
    assert.match(problem!.msg, new RegExp(`^listeners\\[2\\]\\.listen: cannot bind 127\\.0\\.0\\.1:${takenPort}: EADDRINUSE`));
    // Nothing changed: no new route, no listener line for `extra`, and its socket was closed.
    assert.equal((await get(f.port('web'), '/more')).status, 404);
    assert.equal((await get(f.port('web'), '/a')).status, 200);
    assert.doesNotMatch(f.stdout(), /^listener (extra|clash) /m);
    // Fixing the clash makes the same file load.
    await new Promise((r) => taken.close(r));
    await hup(f);
    assert.equal(reloadedLines(f).at(-1)?.generation, 2);
    await f.waitFor(() => /^listener clash /m.test(f.stdout()), 2000, 'the clash listener line');
    assert.equal((await get(f.port('web'), '/more')).status, 200);
    assert.equal((await get(f.port('clash'), '/x')).status, 200);
    assert.equal((await get(f.port('extra'), '/x')).status, 200);
    assert.equal(await f.stop('SIGTERM'), 0);
  });

  it('counters, EWMA and idle upstream connections of unchanged endpoints survive a reload that changes their pool', async () => {
    const b = await Promise.all(['b1', 'b2', 'b3'].map((n) => namedBackend(n)));
    cleanup.push(...b.map((x) => () => x.close()));
    const cfg = (withB3: boolean) => ({
      admin: { listen: '127.0.0.1:0' },
      listeners: [{ name: 'web', listen: '127.0.0.1:0', routes: [{ name: 'q', match: { path: { prefix: '/q' } }, pool: 'q' }, { name: 'p', pool: 'p' }] }],
      pools: [
        { name: 'p', algorithm: 'round-robin', servers: [{ address: b[0].address }, { address: b[1].address }, ...(withB3 ? [{ address: b[2].address }] : [])] },
        { name: 'q', servers: [{ address: b[2].address }] },
      ],
    });
    const f = await startFulcrum(cfg(false), { env: LOGS, args: ['--no-watch'] });
    cleanup.push(() => f.stop('SIGKILL'));
    const port = f.port('web');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const send = (path: string) => new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path, agent }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
        req.on('error', reject);
        req.end();
      });
      for (let i = 0; i < 20; i++) assert.equal(await send('/p'), 200);
      for (let i = 0; i < 5; i++) assert.equal(await send('/q'), 200);
      const before = await endpoints(f, 'p');
      const beforeQ = await endpoints(f, 'q');
      assert.deepEqual(before.map((e) => e.requests), [10, 10]);
      assert.deepEqual(before.map((e) => e.connections), [{ open: 1, idle: 1 }, { open: 1, idle: 1 }]);
      const conns = b.map((x) => x.connections());

      await writeFile(f.configFile, JSON.stringify(cfg(true)));
      await hup(f);
      assert.match(reloadedLines(f).at(-1)!.msg, /pools \+0 −0 ~1 =1 \(~p\)$/);
      const after = await endpoints(f, 'p');
      assert.deepEqual(after.slice(0, 2), before, 'b1 and b2: same requests, errors, EWMA and connections');
      assert.deepEqual(after[2], { address: b[2].address, weight: 1, inFlight: 0, requests: 0, errors: 0, latencyEwmaMs: 0, connections: { open: 0, idle: 0 } });
      assert.deepEqual(await endpoints(f, 'q'), beforeQ, 'the unchanged pool q');

      // The idle upstream connections moved to the new incarnations: no new connection to b1/b2.
      for (let i = 0; i < 6; i++) assert.equal(await send('/p'), 200);
      const later = await endpoints(f, 'p');
      assert.deepEqual(later.map((e) => e.requests), [12, 12, 2]);
      assert.deepEqual([b[0].connections(), b[1].connections()], [conns[0], conns[1]]);
      assert.deepEqual(later.map((e) => e.connections), [{ open: 1, idle: 1 }, { open: 1, idle: 1 }, { open: 1, idle: 1 }]);

      // Back to two servers: b3's idle connection in pool p is closed, q's stays.
      await writeFile(f.configFile, JSON.stringify(cfg(false)));
      await hup(f);
      const last = await endpoints(f, 'p');
      assert.deepEqual(last.map((e) => e.requests), [12, 12]);
      assert.deepEqual((await endpoints(f, 'q'))[0].connections, { open: 1, idle: 1 });
    } finally {
      agent.destroy();
    }
    assert.equal(await f.stop('SIGTERM'), 0);
  });

  it('health state of unchanged servers survives a reload; the replaced pool\'s checks stop', async () => {
    const b = await Promise.all([namedBackend('h1'), namedBackend('h2', true), namedBackend('h3')]);
    cleanup.push(...b.map((x) => () => x.close()));
    const cfg = (n: number, weight: number) => ({
      admin: { listen: '127.0.0.1:0' },
      listeners: [{ name: 'web', listen: '127.0.0.1:0', routes: [{ pool: 'p' }] }],
      pools: [{
        name: 'p', algorithm: 'weighted-round-robin', panicThreshold: 0, // h3 joins `unknown`: no fail-open
        healthCheck: { type: 'http', interval: '200ms', rise: 1, fall: 1, http: { path: '/healthz' } },
        servers: b.slice(0, n).map((x, i) => ({ address: x.address, weight: i === 0 ? weight : 1 })),
      }],
    });
    const f = await startFulcrum(cfg(2, 1), { env: LOGS, args: ['--no-watch'] });
    cleanup.push(() => f.stop('SIGKILL'));
    const health = async () => {
      const r = JSON.parse((await adminGet(f.adminPort, '/api/v1/pools')).body) as { pools: { endpoints: { health: string }[] }[] };
      return r.pools[0].endpoints.map((e) => e.health);
    };
    let states: string[] = [];
    for (let i = 0; i < 100; i++) {
      states = await health();
      if (states[0] === 'healthy' && states[1] === 'unhealthy') break;
      await sleep(50);
    }
    assert.deepEqual(states, ['healthy', 'unhealthy'], 'h1 up and h2 down before the reload');

    // Reloads that change the pool (h3 added, h1's weight changed) but not its health check.
    for (let k = 0; k < 5; k++) {
      await writeFile(f.configFile, JSON.stringify(cfg(3, 2 + (k % 2))));
      await hup(f);
      const now = await health();
      assert.deepEqual(now.slice(0, 2), ['healthy', 'unhealthy'], `right after reload ${k + 1}: ${now}`);
      // h1 takes traffic at once (not `unknown` until a first check), h2 none.
      for (let i = 0; i < 5; i++) {
        const r = await get(f.port('web'), '/x');
        assert.equal(r.status, 200);
        assert.notEqual(r.backend, 'h2');
      }
    }
    // One checker per pool: h1 sees about one check per 200 ms, not one per pool ever built.
    const h0 = healthHits.get('h1') ?? 0;
    await sleep(1000);
    const perSecond = (healthHits.get('h1') ?? 0) - h0;
    assert.ok(perSecond >= 3 && perSecond <= 8, `h1 got ${perSecond} checks in 1 s after 5 reloads (interval 200 ms)`);
    assert.equal(await f.stop('SIGTERM'), 0);
  });
});
