/**
 * End to end: the `udp` listener (src/l4/udp.ts) on a real Fulcrum child process, with real DNS
 * traffic to two small DNS responders (test/helpers/dns.ts, dns-packet):
 *  - `dig` (Debian package bind9-dnsutils) through Fulcrum: answers arrive, round robin uses both
 *    responders across flows (each dig run is a new source port), `hashKey: source-ip` sends every
 *    query to one responder;
 *  - 50 clients at once, each gets exactly its own answers back; bytes counted both ways;
 *  - idle expiry after sessionTimeout (admin in-flight back to 0; the next datagram of the same
 *    client opens a counted new session, on the same responder with `five-tuple`); a flow that keeps
 *    talking keeps its one session;
 *  - a flood of 2000 client ports against maxSessions 500: never more than 500 sessions, the rest
 *    refused and counted, Fulcrum answers again once the flood expired;
 *  - a server with nothing listening (ICMP port unreachable): recorded, ejected, flows go to the other;
 *  - an IPv6 listener ([::1]) in front of an IPv6 and an IPv4 server;
 *  - a reload in place keeps a session's upstream socket, and its bookkeeping lands in the new pool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { adminGet, startFulcrum, type FulcrumProcess } from './helpers/fulcrum.ts';
import { aQuery, dnsClient, startDnsResponder, type DnsClient, type DnsResponder } from './helpers/dns.ts';
import { sleep } from './helpers/backends.ts';

const STRICT = process.env.FULCRUM_TEST_STRICT === '1';
const HAVE_DIG = spawnSync('dig', ['-v'], { stdio: 'ignore', timeout: 5000 }).status === 0;

/** A config with one `udp` listener per entry, each to its own pool over the responders' ports. */
function udpConfig(ports: number[], listeners: { name: string; udp?: object; pool?: object }[]): object {
  return {
    admin: { listen: '127.0.0.1:0' },
    listeners: listeners.map((l) => ({ name: l.name, protocol: 'udp', listen: '127.0.0.1:0', pool: l.name, ...(l.udp ? { udp: l.udp } : {}) })),
    pools: listeners.map((l) => ({ name: l.name, servers: ports.map((p) => ({ address: `127.0.0.1:${p}` })), ...l.pool })),
  };
}

interface EndpointView { address: string; inFlight: number; errors: number; ejected: boolean; available: boolean }

async function endpoints(f: FulcrumProcess, pool: string): Promise<EndpointView[]> {
  const r = await adminGet(f.adminPort, '/api/v1/pools');
  assert.equal(r.status, 200);
  const p = (JSON.parse(r.body) as { pools: { name: string; endpoints: EndpointView[] }[] }).pools.find((x) => x.name === pool);
  assert.ok(p, `pool ${pool} in ${r.body}`);
  return p.endpoints;
}

async function inFlight(f: FulcrumProcess, pool: string): Promise<number> {
  return (await endpoints(f, pool)).reduce((n, e) => n + e.inFlight, 0);
}

/** A fulcrum_l4_events_total (or _bytes_total with `direction`) value for a listener; 0 when absent. */
async function metric(f: FulcrumProcess, listener: string, label: string): Promise<number> {
  const r = await adminGet(f.adminPort, '/metrics');
  const name = label.startsWith('direction=') ? 'fulcrum_l4_bytes_total' : 'fulcrum_l4_events_total';
  const line = r.body.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`listener="${listener}"`) && l.includes(label));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}
const ev = (event: string) => `event="${event}"`;

/** Polls an async figure until `ok` holds (every 50 ms, at most `ms`); returns the last value. */
async function pollUntil(get: () => Promise<number>, ok: (v: number) => boolean, ms: number): Promise<number> {
  const end = Date.now() + ms;
  let v = await get();
  for (let i = 0; i < 1000 && !ok(v) && Date.now() < end; i++) {
    await sleep(50);
    v = await get();
  }
  return v;
}

/** One dig run (a new process: a new source port, a new flow); stdout of `+short`. */
function dig(port: number, name: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('dig', ['@127.0.0.1', '-p', String(port), name, 'A', '+time=2', '+tries=1', '+short'], { timeout: 8000 }, (err, stdout) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, out: stdout.trim() });
    });
  });
}

/** One query from a fresh client socket (a new flow); the answer's address, or '' after `ms`. */
async function ask(port: number, name: string, id: number, ms: number): Promise<string> {
  const c = await dnsClient();
  try {
    c.send(aQuery(name, id), port);
    return (await c.waitAnswers(1, ms)) ? c.answers[0].address : '';
  } finally {
    c.close();
  }
}

test('dig through Fulcrum: round robin uses both responders across flows; source-ip keeps one', { timeout: 30_000 }, async (t) => {
  if (!HAVE_DIG) {
    if (STRICT) assert.fail('dig not found: install the Debian package bind9-dnsutils');
    t.skip('dig not found: install the Debian package bind9-dnsutils');
    return;
  }
  const r1 = await startDnsResponder('192.0.2.1');
  const r2 = await startDnsResponder('192.0.2.2');
  const f = await startFulcrum(udpConfig([r1.port, r2.port], [
    { name: 'rr' },
    { name: 'ip', pool: { algorithm: 'consistent-hash', hashKey: 'source-ip' } },
  ]));
  try {
    const rr = new Map<string, number>();
    for (let i = 0; i < 6; i++) {
      const r = await dig(f.port('rr'), `q${i}.example.com`);
      assert.equal(r.code, 0, `dig exit code (run ${i})`);
      assert.ok(r.out === '192.0.2.1' || r.out === '192.0.2.2', `dig answer ${JSON.stringify(r.out)}`);
      rr.set(r.out, (rr.get(r.out) ?? 0) + 1);
    }
    assert.equal(rr.size, 2, `round robin used both responders: ${JSON.stringify([...rr])}`);
    for (const [addr, n] of rr) assert.ok(n >= 2, `${addr} answered ${n} of 6`);

    const ip = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await dig(f.port('ip'), `s${i}.example.com`);
      assert.equal(r.code, 0, `dig exit code (source-ip run ${i})`);
      ip.add(r.out);
    }
    assert.equal(ip.size, 1, `source-ip: every flow from 127.0.0.1 on one responder, got ${[...ip]}`);
    const opened = await pollUntil(() => metric(f, 'ip', ev('udp_session_opened')), (v) => v >= 6, 2000);
    assert.ok(opened >= 5, `the 6 dig runs were separate flows (sessions opened: ${opened})`);
  } finally {
    await f.stop();
    await r1.close();
    await r2.close();
  }
});

test('50 clients at once: each gets exactly its own answers; bytes counted both ways', { timeout: 30_000 }, async () => {
  const r1 = await startDnsResponder('192.0.2.1', { delayMs: 5 });
  const r2 = await startDnsResponder('192.0.2.2');
  const f = await startFulcrum(udpConfig([r1.port, r2.port], [{ name: 'dns', udp: { sessionTimeout: '5s' } }]));
  const clients: DnsClient[] = [];
  try {
    const port = f.port('dns');
    let upBytes = 0;
    for (let c = 0; c < 50; c++) clients.push(await dnsClient());
    for (let q = 0; q < 4; q++) {
      clients.forEach((c, i) => {
        const query = aQuery(`c${i}-q${q}.example.com`, i * 100 + q);
        upBytes += query.length;
        c.send(query, port);
      });
    }
    const got = await Promise.all(clients.map((c) => c.waitAnswers(4, 5000)));
    assert.equal(got.filter(Boolean).length, 50, 'every client got its 4 answers');
    const byResponder = new Map<string, number>();
    let downBytes = 0;
    clients.forEach((c, i) => {
      assert.deepEqual(c.answers.map((a) => a.id).sort((a, b) => a - b), [0, 1, 2, 3].map((q) => i * 100 + q), `client ${i} ids`);
      for (const a of c.answers) assert.match(a.name, new RegExp(`^c${i}-q[0-3]\\.example\\.com$`), `client ${i} got ${a.name}`);
      // One flow, one session, one responder.
      assert.equal(new Set(c.answers.map((a) => a.address)).size, 1, `client ${i} answered by one responder`);
      byResponder.set(c.answers[0].address, (byResponder.get(c.answers[0].address) ?? 0) + 1);
    });
    assert.deepEqual([...byResponder.values()].sort(), [25, 25], 'round robin: 25 flows per responder');
    // Each responder saw 25 flows from 25 upstream sockets (4 queries each).
    for (const r of [r1, r2]) {
      assert.equal(r.queries, 100);
      assert.equal(r.sources.size, 25);
    }
    assert.equal(await inFlight(f, 'dns'), 50, '50 sessions open');
    for (const c of clients) for (const a of c.answers) downBytes += aAnswerLength(a.name);
    const up = await pollUntil(() => metric(f, 'dns', 'direction="upstream"'), (v) => v >= upBytes, 2000);
    const down = await pollUntil(() => metric(f, 'dns', 'direction="downstream"'), (v) => v >= downBytes, 2000);
    assert.equal(up, upBytes, 'bytes client → server');
    assert.equal(down, downBytes, 'bytes server → client');
    assert.equal(await metric(f, 'dns', ev('udp_session_opened')), 50);
  } finally {
    for (const c of clients) c.close();
    await f.stop();
    await r1.close();
    await r2.close();
  }
});

/** Length of the responder's answer to an A query for `name` (question + one A record, no compression of the answer name by dns-packet). */
function aAnswerLength(name: string): number {
  const qname = name.split('.').reduce((n, l) => n + 1 + l.length, 1);
  return 12 + qname + 4 + qname + 10 + 4;
}

test('idle expiry: the session is forgotten after sessionTimeout; five-tuple brings the flow back to its responder', { timeout: 30_000 }, async () => {
  const r1 = await startDnsResponder('192.0.2.1');
  const r2 = await startDnsResponder('192.0.2.2');
  const f = await startFulcrum(udpConfig([r1.port, r2.port], [
    { name: 'dns', udp: { sessionTimeout: '300ms' }, pool: { algorithm: 'consistent-hash', hashKey: 'five-tuple' } },
  ]));
  const c = await dnsClient();
  try {
    const port = f.port('dns');
    c.send(aQuery('first.example.com', 1), port);
    assert.ok(await c.waitAnswers(1, 3000), 'first answer');
    const answeredAt = Date.now();
    const first = c.answers[0].address;
    assert.equal(await inFlight(f, 'dns'), 1, 'one session while the flow is live');
    const left = await pollUntil(() => inFlight(f, 'dns'), (v) => v === 0, 3000);
    const idleMs = Date.now() - answeredAt;
    assert.equal(left, 0, 'session expired');
    assert.ok(idleMs >= 280 && idleMs < 1500, `expired ${idleMs} ms after the last datagram (sessionTimeout 300 ms, sweep 100 ms)`);
    assert.equal(await pollUntil(() => metric(f, 'dns', ev('udp_session_expired')), (v) => v >= 1, 2000), 1);

    // The same client port again: a new session (counted), on the same responder (five-tuple).
    c.send(aQuery('second.example.com', 2), port);
    assert.ok(await c.waitAnswers(2, 3000), 'second answer');
    assert.equal(c.answers[1].address, first, 'five-tuple: the same flow hashes to the same responder');
    assert.equal(await pollUntil(() => metric(f, 'dns', ev('udp_session_opened')), (v) => v >= 2, 2000), 2);

    // A flow that keeps talking (every 100 ms for 1 s, sessionTimeout 300 ms) keeps its one session.
    const talker = await dnsClient();
    try {
      for (let i = 0; i < 10; i++) {
        talker.send(aQuery(`talk${i}.example.com`, 100 + i), port);
        await sleep(100);
      }
      assert.ok(await talker.waitAnswers(10, 3000), 'the talker got its 10 answers');
      assert.equal(new Set(talker.answers.map((a) => a.address)).size, 1);
      assert.equal(await pollUntil(() => metric(f, 'dns', ev('udp_session_opened')), (v) => v >= 3, 2000), 3, 'one session for the talker');
    } finally {
      talker.close();
    }

    // five-tuple spreads flows: 20 client ports use both responders.
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) seen.add(await ask(port, `spread${i}.example.com`, 200 + i, 2000));
    assert.deepEqual([...seen].sort(), ['192.0.2.1', '192.0.2.2']);
    assert.equal(await pollUntil(() => inFlight(f, 'dns'), (v) => v === 0, 3000), 0, 'all sessions expire');
  } finally {
    c.close();
    await f.stop();
    await r1.close();
    await r2.close();
  }
});

test('a flood of 2000 client ports against maxSessions 500: never more than 500 sessions, the rest refused and counted', { timeout: 40_000 }, async () => {
  const r1 = await startDnsResponder('192.0.2.1');
  const r2 = await startDnsResponder('192.0.2.2');
  const f = await startFulcrum(udpConfig([r1.port, r2.port], [{ name: 'dns', udp: { sessionTimeout: '3s', maxSessions: 500 } }]));
  const socks: ReturnType<typeof createSocket>[] = [];
  try {
    const port = f.port('dns');
    let answers = 0;
    for (let i = 0; i < 2000; i++) {
      const s = createSocket('udp4');
      s.on('error', () => {});
      s.on('message', () => { answers++; });
      s.bind(0, '127.0.0.1');
      socks.push(s);
    }
    await Promise.all(socks.map((s) => once(s, 'listening')));
    const ports = new Set(socks.map((s) => s.address().port));
    assert.equal(ports.size, 2000, 'distinct client ports');

    // Watch the session count through the admin API while the flood runs.
    let maxSeen = 0;
    let watching = true;
    const watcher = (async () => {
      for (let i = 0; i < 400 && watching; i++) {
        maxSeen = Math.max(maxSeen, await inFlight(f, 'dns'));
        await sleep(20);
      }
    })();
    const started = Date.now();
    for (let i = 0; i < 2000; i++) {
      socks[i].send(aQuery(`flood${i}.example.com`, i & 0xffff), port, '127.0.0.1');
      if (i % 50 === 49) await sleep(10);
    }
    const sentMs = Date.now() - started;
    const refused = await pollUntil(() => metric(f, 'dns', ev('udp_session_refused')), (v) => v >= 1500, 3000);
    const peak = await inFlight(f, 'dns');
    watching = false;
    await watcher;
    maxSeen = Math.max(maxSeen, peak);
    const opened = await metric(f, 'dns', ev('udp_session_opened'));
    process.stdout.write(`# flood: 2000 flows sent in ${sentMs} ms, sessions opened ${opened}, refused ${refused}, ` +
      `peak sessions ${maxSeen}, answers ${answers}\n`);
    assert.ok(maxSeen <= 500, `sessions never above maxSessions (saw ${maxSeen})`);
    assert.equal(peak, 500, 'the table filled up to maxSessions');
    assert.equal(opened, 500);
    assert.equal(refused, 1500, 'every other new flow refused and counted');
    assert.ok(answers <= 500 && answers >= 490, `only flows with a session are answered (${answers})`);
    assert.equal(f.hasExited(), false);

    // Once the flood's sessions expire, Fulcrum answers new flows again.
    assert.equal(await pollUntil(() => inFlight(f, 'dns'), (v) => v === 0, 5000), 0, 'flood sessions expired');
    for (const s of socks) s.close();
    socks.length = 0;
    const after = await ask(port, 'after.example.com', 7, 3000);
    assert.ok(after === '192.0.2.1' || after === '192.0.2.2', `answer after the flood: ${JSON.stringify(after)}`);
  } finally {
    for (const s of socks) s.close();
    await f.stop();
    await r1.close();
    await r2.close();
  }
});

test('a server with nothing listening (ICMP port unreachable) is recorded, ejected, and flows go to the other', { timeout: 30_000 }, async () => {
  const live = await startDnsResponder('192.0.2.2');
  // A port nothing listens on: bind, note it, close.
  const probe = createSocket('udp4');
  probe.bind(0, '127.0.0.1');
  await once(probe, 'listening');
  const deadPort = probe.address().port;
  await new Promise<void>((r) => probe.close(() => r()));
  const f = await startFulcrum(udpConfig([deadPort, live.port], [{ name: 'dns', udp: { sessionTimeout: '5s' } }]));
  try {
    const port = f.port('dns');
    const results: string[] = [];
    for (let i = 0; i < 16; i++) results.push(await ask(port, `f${i}.example.com`, i, 400));
    const answered = results.filter((a) => a === '192.0.2.2').length;
    // Round robin: flows 1, 3, 5, 7, 9 meet the dead port; the 5th gateway failure ejects it
    // (outlierDetection.consecutiveGatewayFailure 5); every later flow goes to the live server.
    assert.deepEqual(results.slice(-6), Array(6).fill('192.0.2.2'), `results ${JSON.stringify(results)}`);
    assert.equal(answered, 11, `results ${JSON.stringify(results)}`);
    assert.equal(await pollUntil(() => metric(f, 'dns', ev('udp_port_unreachable')), (v) => v >= 5, 2000), 5);
    const [dead, alive] = await endpoints(f, 'dns');
    assert.equal(dead.ejected, true, 'the dead server is ejected');
    assert.equal(dead.inFlight, 0, 'refused sessions closed');
    assert.equal(dead.errors, 5);
    assert.equal(alive.available, true);
    assert.equal(alive.inFlight, 11, 'the live server holds the 11 answered flows');
  } finally {
    await f.stop();
    await live.close();
  }
});

test('reload in place: a session keeps its upstream socket; its bookkeeping ends in the new pool', { timeout: 30_000 }, async () => {
  const r1 = await startDnsResponder('192.0.2.1');
  const r2 = await startDnsResponder('192.0.2.2');
  const cfg = udpConfig([r1.port, r2.port], [{ name: 'dns', udp: { sessionTimeout: '2s' } }]) as { pools: { servers: { address: string; weight?: number }[] }[]; listeners: { udp: object }[] };
  const f = await startFulcrum(cfg, { env: { FULCRUM_LOG_LEVEL: 'info' }, args: ['--no-watch'] });
  const c = await dnsClient();
  try {
    const port = f.port('dns');
    c.send(aQuery('before.example.com', 1), port);
    assert.ok(await c.waitAnswers(1, 3000));
    const responder = c.answers[0].address === r1.answer ? r1 : r2;
    const [upstreamPort] = [...responder.sources.keys()];
    // Change the pool (weights → a rebuilt PoolRuntime) and the session timeout.
    cfg.pools[0].servers[1].weight = 3;
    cfg.listeners[0].udp = { sessionTimeout: '400ms' };
    await writeFile(f.configFile, JSON.stringify(cfg));
    f.proc.kill('SIGHUP');
    await f.waitFor(() => f.logs().some((l) => l.msg.startsWith('config reloaded (generation 2')), 5000, 'the reload');

    c.send(aQuery('after.example.com', 2), port);
    assert.ok(await c.waitAnswers(2, 3000));
    assert.equal(c.answers[1].address, responder.answer, 'same responder after the reload');
    assert.deepEqual([...responder.sources.keys()], [upstreamPort], 'same upstream socket after the reload');
    assert.equal(await inFlight(f, 'dns'), 1, 'the new pool counts the session');
    // The new timeout (400 ms) applies from the session's last datagram; the end is booked on the new pool.
    assert.equal(await pollUntil(() => inFlight(f, 'dns'), (v) => v === 0, 3000), 0);
    assert.equal(await metric(f, 'dns', ev('udp_session_opened')), 1);
  } finally {
    c.close();
    await f.stop();
    await r1.close();
    await r2.close();
  }
});

test('IPv6: a [::1] listener (udp6) in front of an IPv6 and an IPv4 server', { timeout: 30_000 }, async (t) => {
  const probe = createSocket('udp6');
  const v6 = await new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false));
    probe.bind(0, '::1', () => resolve(true));
  });
  probe.close();
  if (!v6) {
    t.skip('no IPv6 loopback (::1) on this host');
    return;
  }
  const r6 = await startDnsResponder('192.0.2.6', { host: '::1' });
  const r4 = await startDnsResponder('192.0.2.4');
  const f = await startFulcrum({
    admin: { listen: '127.0.0.1:0' },
    listeners: [{ name: 'dns6', protocol: 'udp', listen: '[::1]:0', pool: 'mixed' }],
    pools: [{ name: 'mixed', servers: [{ address: `[::1]:${r6.port}` }, { address: `127.0.0.1:${r4.port}` }] }],
  });
  const clients: DnsClient[] = [];
  try {
    for (let i = 0; i < 4; i++) clients.push(await dnsClient('::1'));
    clients.forEach((c, i) => c.send(aQuery(`v6-${i}.example.com`, i), f.port('dns6')));
    assert.deepEqual(await Promise.all(clients.map((c) => c.waitAnswers(1, 3000))), [true, true, true, true]);
    assert.deepEqual(clients.map((c) => c.answers[0].address).sort(), ['192.0.2.4', '192.0.2.4', '192.0.2.6', '192.0.2.6']);
    assert.deepEqual(clients.map((c, i) => c.answers[0].id === i), [true, true, true, true]);
  } finally {
    for (const c of clients) c.close();
    await f.stop();
    await r6.close();
    await r4.close();
  }
});
