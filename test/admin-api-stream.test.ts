// The event stream (SSE) against a real Fulcrum process: ≥ 2 snapshots within ~3 s with live
// figures, new events delivered with ids, the client limit (503), the stream closed on shutdown.
// And the token test: a planted token exercised with good and bad calls never appears in the
// process's stdout or stderr (logs at debug level), nor in any answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { startFulcrum, simpleConfig } from './helpers/fulcrum.ts';
import { startHttpBackend } from './helpers/backends.ts';
import { call, get } from './admin-api-client.ts';

interface Sse {
  frames: { event: string; id: string | null; data: string }[];
  ended: Promise<void>;
  status: number;
  close(): void;
}

function openStream(port: number, path = '/api/v1/stream', headers: Record<string, string> = {}): Promise<Sse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { accept: 'text/event-stream', ...headers }, agent: false }, (res) => {
      const frames: Sse['frames'] = [];
      let buf = '';
      res.setEncoding('utf8');
      const ended = new Promise<void>((r) => { res.on('end', () => r()); res.on('close', () => r()); });
      res.on('data', (d: string) => {
        buf += d;
        let at: number;
        while ((at = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, at);
          buf = buf.slice(at + 2);
          let event = 'message';
          let id: string | null = null;
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length > 0) frames.push({ event, id, data: data.join('\n') });
        }
      });
      resolve({ frames, ended, status: res.statusCode ?? 0, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('event stream: snapshots every second, events with ids, client limit, closed on shutdown', { timeout: 60_000 }, async () => {
  const token = `st-${randomBytes(12).toString('hex')}`;
  const a = await startHttpBackend((_req, res) => res.end('a'));
  const b = await startHttpBackend((_req, res) => res.end('b'));
  const cfg = { ...simpleConfig([a.port, b.port]), admin: { listen: '127.0.0.1:0', maxStreamClients: 2, auth: { tokenEnv: 'FULCRUM_TEST_ADMIN_TOKEN' } } };
  const f = await startFulcrum(cfg, { env: { FULCRUM_TEST_ADMIN_TOKEN: token } });
  let stream: Sse | null = null;
  try {
    stream = await openStream(f.adminPort);
    assert.equal(stream.status, 200);
    const t0 = Date.now();
    for (let i = 0; i < 10; i++) await get(`${f.url('web')}/x`);
    const s = stream;
    for (let i = 0; i < 200 && s.frames.filter((x) => x.event === 'snapshot').length < 3; i++) await sleep(20);
    const snaps = s.frames.filter((x) => x.event === 'snapshot');
    assert.ok(snaps.length >= 2, `${snaps.length} snapshots`);
    assert.ok(Date.now() - t0 < 4000 + 2000, 'within about 3 s');
    const last = JSON.parse(snaps.at(-1)!.data);
    const eps = last.pools[0].endpoints;
    assert.deepEqual(eps.map((e: { requests: number }) => e.requests), [5, 5]);
    assert.ok(eps.every((e: { reqPerSec: number }) => typeof e.reqPerSec === 'number'));
    assert.equal(last.pools[0].algorithmView.name, 'round-robin');

    // A change shows up as an event frame with its id.
    const drained = await call(f.adminPort, 'POST', `/api/v1/pools/p/endpoints/${a.address}/drain`, { token });
    assert.equal(drained.status, 200);
    for (let i = 0; i < 150 && !s.frames.some((x) => x.event === 'events' && x.data.includes('"kind":"admin"')); i++) await sleep(20);
    const ev = s.frames.find((x) => x.event === 'events' && x.data.includes('"kind":"admin"'));
    assert.ok(ev, 'admin event streamed');
    const body = JSON.parse(ev.data);
    const adminEv = body.events.find((e: { kind: string }) => e.kind === 'admin');
    assert.equal(Number(ev.id), body.events.at(-1).id);
    assert.match(adminEv.reason, /^drain p\//);
    for (let i = 0; i < 150 && !s.frames.some((x) => x.event === 'snapshot' && JSON.parse(x.data).pools[0].endpoints[0].state === 'draining'); i++) await sleep(20);
    assert.ok(s.frames.some((x) => x.event === 'snapshot' && JSON.parse(x.data).pools[0].endpoints[0].state === 'draining'));

    // Resuming from an id replays only later events.
    const resumed = await openStream(f.adminPort, `/api/v1/stream?since=${adminEv.id}`);
    for (let i = 0; i < 100 && resumed.frames.length === 0; i++) await sleep(20);
    assert.ok(!resumed.frames.some((x) => x.event === 'events' && x.data.includes('"kind":"admin"')));
    // Client limit: 2.
    const third = await openStream(f.adminPort);
    assert.equal(third.status, 503);
    resumed.close();
    third.close();

    // Shutdown ends the stream.
    const stopped = f.stop();
    const end = await Promise.race([s.ended.then(() => 'ended'), sleep(10_000).then(() => 'still open')]);
    assert.equal(end, 'ended');
    assert.equal(await stopped, 0);
  } finally {
    stream?.close();
    await f.stop();
    await a.close();
    await b.close();
  }
});

test('the admin token never appears in logs or answers', { timeout: 60_000 }, async () => {
  const token = `leak-canary-${randomBytes(16).toString('hex')}`;
  const a = await startHttpBackend((_req, res) => res.end('a'));
  const cfg = { ...simpleConfig([a.port]), admin: { listen: '127.0.0.1:0', auth: { tokenEnv: 'FULCRUM_TEST_ADMIN_TOKEN', protectReads: true } } };
  const f = await startFulcrum(cfg, { env: { FULCRUM_TEST_ADMIN_TOKEN: token, FULCRUM_LOG_LEVEL: 'trace' } });
  const answers: string[] = [];
  const port = f.adminPort;
  const paths: [string, string, unknown?][] = [];
  try {
    const wrong = [token.slice(0, -1), `${token}x`, token.toUpperCase(), '', `${token} ${token}`];
    paths.push(
      ['GET', '/api/v1/pools'],
      ['GET', '/api/v1/status'],
      ['POST', '/api/v1/explain', { path: '/x', headers: { authorization: `Bearer ${token}` } }],
      ['POST', `/api/v1/pools/p/endpoints/${a.address}/drain`],
      ['POST', `/api/v1/pools/p/endpoints/${a.address}/undrain`],
      ['PUT', `/api/v1/pools/p/endpoints/${a.address}/weight`, { weight: token }],
      ['POST', '/api/v1/pools/p/endpoints', { address: token }],
      ['PUT', '/api/v1/pools/p/algorithm', { algorithm: token }],
      ['PUT', '/api/v1/config', { listeners: [{ name: token }] }],
    );
    let good = 0;
    for (const [method, path, body] of paths) {
      const ok = await call(port, method, path, { body, token });
      answers.push(ok.text);
      if (ok.status < 400 || ok.status === 422) good++;
      for (const w of wrong) {
        const r = await call(port, method, path, { body, token: w });
        assert.equal(r.status, 401, `${method} ${path} with a wrong token`);
        answers.push(r.text, JSON.stringify(r.headers));
      }
      const none = await call(port, method, path, { body });
      assert.equal(none.status, 401);
    }
    assert.equal(good, paths.length);
    // Reads need the token here (protectReads): the stream too.
    assert.equal((await call(port, 'GET', '/metrics')).status, 401);
    assert.equal((await call(port, 'GET', '/healthz')).status, 200); // stays open for outside checkers
    assert.equal((await call(port, 'GET', '/metrics', { token })).status, 200);
    await get(`${f.url('web')}/x`, { authorization: `Bearer ${token}` });
  } finally {
    await f.stop();
    await a.close();
  }
  assert.ok(f.stderr().includes('"audit"'), 'audit lines were written');
  const audits = f.logs().filter((l) => l.audit !== undefined);
  assert.ok(audits.length >= paths.length * 6, `${audits.length} audit lines`);
  assert.ok(audits.some((l) => (l.audit as { actor: string }).actor.startsWith('token:')));
  // Zero hits, in every log stream and in every answer to a call that did not itself put the
  // token in a field (422 answers quote the caller's own invalid field values back).
  const logs = [f.stdout(), f.stderr()].join('\n');
  assert.equal(count(logs, token), 0, 'token found in stdout/stderr');
  assert.equal(count(logs, token.slice(-20)), 0, 'a piece of the token found in stdout/stderr');
  assert.equal(count(answers.filter((x) => !x.includes('"problems"')).join('\n'), token), 0, 'token found in an answer');
});

function count(hay: string, needle: string): number {
  let n = 0;
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) n++;
  return n;
}
