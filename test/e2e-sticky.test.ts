// Session affinity end to end (docs/affinity.md) with a real Fulcrum process and raw backends that
// record every request byte:
// - cookie insert: the first response sets the cookie with its attributes, the value is opaque; 50
//   requests carrying it reach the same backend; the cookie never reaches a backend (other cookies
//   byte-exact); a forged value is ignored and re-pinned; a drained (reload) or down (health check)
//   pinned backend → re-pinned elsewhere with a new cookie;
// - learn: a backend's Set-Cookie JSESSIONID pins later requests carrying it; the table is bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createHmac } from 'node:crypto';
import { adminGet, startFulcrum, simpleConfig, waitUntil, type FulcrumProcess } from './helpers/fulcrum.ts';
import { headerOf, headersOf, okResponse, request, startRawBackend, type Message, type RawBackend } from './helpers/backends.ts';

async function backends(n: number, extra: (name: string, req: Message) => string = () => ''): Promise<RawBackend[]> {
  const out: RawBackend[] = [];
  for (let i = 0; i < n; i++) {
    const name = `b${i}`;
    out.push(await startRawBackend((req) => okResponse(name, extra(name, req))));
  }
  return out;
}

function get(f: FulcrumProcess, path: string, headers: string[] = []): Promise<Message> {
  return request(f.port('web'), `GET ${path} HTTP/1.1\r\nHost: app.test\r\n${headers.map((h) => h + '\r\n').join('')}\r\n`);
}

const COOKIE_RE = /^SRV=([A-Za-z0-9_-]{16}); Path=\/; Max-Age=3600; HttpOnly; SameSite=Lax$/;

test('sticky insert: cookie with attributes, 50 requests stick, cookie stripped, forged value ignored', { timeout: 60_000 }, async () => {
  const bs = await backends(3);
  const secret = 'e2e-secret-0123456789';
  const f = await startFulcrum(simpleConfig(bs.map((b) => b.port), {
    pool: { sticky: { cookie: 'SRV', maxAge: '1h', secret } },
  }));
  try {
    const first = await get(f, '/login');
    assert.equal(first.status, 200);
    const setCookies = headersOf(first, 'set-cookie');
    assert.equal(setCookies.length, 1, 'one Set-Cookie on the first response');
    const m = COOKIE_RE.exec(setCookies[0]);
    assert.ok(m, `Set-Cookie has the attributes: ${setCookies[0]}`);
    const value = m[1];
    assert.equal(headerOf(first, 'cache-control'), 'no-cache="set-cookie"');
    const pinned = first.body.toString();
    const pinnedBackend = bs[Number(pinned.slice(1))];
    // Opaque: the value is the keyed HMAC of pool and address, never the address.
    assert.ok(!value.includes('127') && !value.includes(String(pinnedBackend.port)));
    assert.equal(value, createHmac('sha256', secret).update(`p\n${pinnedBackend.address}`).digest('base64url').slice(0, 16));

    const before = bs.map((b) => b.requests.length);
    for (let i = 0; i < 50; i++) {
      const r = await get(f, `/page/${i}`, [`Cookie: a=1; SRV=${value};b="x y"`]);
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), pinned, `request ${i} went to the pinned backend`);
      assert.equal(headersOf(r, 'set-cookie').length, 0, `request ${i}: no new cookie while the pin holds`);
    }
    const after = bs.map((b) => b.requests.length);
    assert.deepEqual(after.map((n, i) => n - before[i]), bs.map((b) => (b === pinnedBackend ? 50 : 0)));
    // The sticky cookie never reaches a backend; the other cookies arrive byte-exact.
    const sent = pinnedBackend.requests.slice(-50);
    for (const req of sent) assert.deepEqual(headersOf(req, 'cookie'), ['a=1;b="x y"']);
    for (const b of bs) for (const req of b.requests) assert.ok(!req.head.toString('latin1').includes('SRV='), 'SRV cookie reached a backend');
    // Only the sticky cookie: the Cookie field is dropped.
    const only = await get(f, '/only', [`Cookie: SRV=${value}`]);
    assert.equal(only.body.toString(), pinned);
    assert.equal(headersOf(pinnedBackend.requests.at(-1)!, 'cookie').length, 0);

    // Forged values (another format, or a guessed address) are not honoured: balanced and re-pinned.
    const forgedValues = ['AAAAAAAAAAAAAAAA', Buffer.from(bs[0].address).toString('base64url'), bs[1].address];
    const landed = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const forged = forgedValues[i % forgedValues.length];
      const r = await get(f, '/', [`Cookie: SRV=${forged}`]);
      assert.equal(r.status, 200);
      landed.add(r.body.toString());
      const sc = headersOf(r, 'set-cookie');
      assert.equal(sc.length, 1, 'a forged value gets a new cookie');
      assert.ok(COOKIE_RE.test(sc[0]));
      assert.notEqual(COOKIE_RE.exec(sc[0])![1], forged);
    }
    assert.ok(landed.size >= 2, `forged cookies were balanced (landed on ${[...landed].join(', ')})`);
  } finally {
    await f.stop();
    for (const b of bs) await b.close();
  }
});

test('sticky insert: drained (reload) or down (health check) pinned backend → re-pinned elsewhere with a new cookie', { timeout: 60_000 }, async () => {
  const bs = await backends(3);
  const cfg = (drain: number) => simpleConfig([], {
    pool: {
      sticky: { cookie: 'SRV', secure: true, sameSite: 'Strict', httpOnly: false },
      servers: bs.map((b, i) => ({ address: b.address, ...(i === drain ? { drain: true } : {}) })),
      healthCheck: { type: 'tcp', interval: '200ms', timeout: '500ms', fall: 1, rise: 1, initial: 'healthy' },
    },
  });
  const f = await startFulcrum(cfg(-1), { env: { FULCRUM_LOG_LEVEL: 'info' }, args: ['--no-watch'] });
  try {
    const first = await get(f, '/');
    const sc = headersOf(first, 'set-cookie')[0];
    assert.match(sc, /^SRV=[A-Za-z0-9_-]{16}; Path=\/; Secure; SameSite=Strict$/, 'attributes follow the config');
    const v1 = sc.split(';')[0].slice(4);
    const pinned = Number(first.body.toString().slice(1));
    for (let i = 0; i < 5; i++) assert.equal((await get(f, '/', [`Cookie: SRV=${v1}`])).body.toString(), `b${pinned}`);

    // Drain the pinned backend by reload: the next request goes elsewhere and gets a new cookie.
    const reloads = () => f.logs().filter((l) => l.msg.startsWith('config reloaded')).length;
    await writeFile(f.configFile, JSON.stringify(cfg(pinned)));
    f.proc.kill('SIGHUP');
    await f.waitFor(() => reloads() === 1, 10_000, 'reload with drain: true');
    const moved = await get(f, '/', [`Cookie: SRV=${v1}`]);
    assert.equal(moved.status, 200);
    const second = Number(moved.body.toString().slice(1));
    assert.notEqual(second, pinned, 'the drained backend is not used');
    const sc2 = headersOf(moved, 'set-cookie');
    assert.equal(sc2.length, 1, 're-pinned with a new cookie');
    const v2 = sc2[0].split(';')[0].slice(4);
    assert.notEqual(v2, v1);
    for (let i = 0; i < 5; i++) {
      const r = await get(f, '/', [`Cookie: SRV=${v2}`]);
      assert.equal(r.body.toString(), `b${second}`);
      assert.equal(headersOf(r, 'set-cookie').length, 0);
    }

    // Take the new pinned backend down (closed: the tcp check fails), wait for the check to see it.
    await bs[second].close();
    const downAddr = bs[second].address;
    await waitUntil(() => f.logs().some((l) => {
      const e = l as unknown as { event?: string; to?: string; server?: string };
      return e.event === 'health' && e.to === 'down' && e.server === downAddr;
    }), 10_000, () => `no down event for ${downAddr}; logs: ${f.stderr().slice(-2000)}`);
    const third = await get(f, '/', [`Cookie: SRV=${v2}`]);
    assert.equal(third.status, 200);
    const thirdIdx = Number(third.body.toString().slice(1));
    assert.ok(thirdIdx !== second && thirdIdx !== pinned, `went to b${thirdIdx}`);
    const sc3 = headersOf(third, 'set-cookie');
    assert.equal(sc3.length, 1);
    assert.notEqual(sc3[0].split(';')[0].slice(4), v2);
  } finally {
    await f.stop();
    for (const b of bs) await b.close();
  }
});

test('sticky learn: a backend\'s JSESSIONID pins later requests; the table is bounded (LRU)', { timeout: 60_000 }, async () => {
  let seq = 0;
  // A backend sets a new session on /login and echoes nothing else.
  const bs = await backends(3, (name, req) => (req.target.startsWith('/login') ? `Set-Cookie: JSESSIONID=${name}-${++seq}; Path=/; HttpOnly\r\n` : ''));
  const f = await startFulcrum(simpleConfig(bs.map((b) => b.port), {
    pool: { sticky: { learn: 'JSESSIONID', maxEntries: 4, ttl: '10m' } },
  }));
  try {
    const sessions: { id: string; owner: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await get(f, '/login');
      const sc = headersOf(r, 'set-cookie');
      assert.equal(sc.length, 1, 'the backend\'s Set-Cookie passes, no cookie of Fulcrum is added');
      const id = sc[0].split(';')[0].slice('JSESSIONID='.length);
      assert.ok(id.startsWith(r.body.toString() + '-'));
      sessions.push({ id, owner: r.body.toString() });
    }
    assert.deepEqual(new Set(sessions.map((s) => s.owner)).size, 3, 'round robin spread the logins');
    for (const s of sessions) {
      for (let i = 0; i < 10; i++) {
        const r = await get(f, `/cart/${i}`, [`Cookie: theme=dark; JSESSIONID=${s.id}`]);
        assert.equal(r.body.toString(), s.owner, `session ${s.id} request ${i}`);
      }
    }
    // The cookie reaches the backend unchanged.
    const owner0 = bs[Number(sessions[0].owner.slice(1))];
    assert.deepEqual(headersOf(owner0.requests.at(-1)!, 'cookie'), [`theme=dark; JSESSIONID=${sessions[0].id}`]);
    // An unknown session id is balanced (round robin: 6 requests reach 3 backends).
    const spread = new Set<string>();
    for (let i = 0; i < 6; i++) spread.add((await get(f, '/', ['Cookie: JSESSIONID=unknown'])).body.toString());
    assert.equal(spread.size, 3);

    // Bound: maxEntries 4. Use sessions[0] last so it is the most recent, then learn 3 more:
    // sessions[1] and [2] are the least recently used and are dropped, sessions[0] stays.
    await get(f, '/', [`Cookie: JSESSIONID=${sessions[1].id}`]);
    await get(f, '/', [`Cookie: JSESSIONID=${sessions[2].id}`]);
    await get(f, '/', [`Cookie: JSESSIONID=${sessions[0].id}`]);
    const more: { id: string; owner: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await get(f, '/login');
      more.push({ id: headersOf(r, 'set-cookie')[0].split(';')[0].slice(11), owner: r.body.toString() });
    }
    for (let i = 0; i < 6; i++) assert.equal((await get(f, '/', [`Cookie: JSESSIONID=${sessions[0].id}`])).body.toString(), sessions[0].owner, 'most recent session kept');
    for (const s of more) assert.equal((await get(f, '/', [`Cookie: JSESSIONID=${s.id}`])).body.toString(), s.owner, 'new sessions kept');
    // The table holds maxEntries sessions: sessions[0] and the 3 new ones.
    const metrics = (await adminGet(f.adminPort, '/metrics')).body;
    assert.match(metrics, /^fulcrum_sticky_sessions\{pool="p"\} 4$/m);
    // The dropped sessions are balanced again: over 6 requests they reach more than one backend.
    const dropped = new Set<string>();
    for (let i = 0; i < 6; i++) dropped.add((await get(f, '/', [`Cookie: JSESSIONID=${sessions[1].id}`])).body.toString());
    assert.ok(dropped.size >= 2, `dropped session balanced over ${[...dropped].join(', ')}`);
  } finally {
    await f.stop();
    for (const b of bs) await b.close();
  }
});
