/**
 * GSLB end to end: a real Fulcrum child process serving DNS on 127.0.0.1 (port 0), queried with a
 * real client, `dig` (bind9-dnsutils), and with raw packets: RCODEs, truncation and TCP retry, geo
 * steering by ECS subnet, failover when a site's health-check target dies (within interval × fall
 * + 1 s) and back, weighted convergence over 10,000 queries, failover / latency / multivalue names,
 * the admin view, rate limiting, the TCP connection cap and idle timeout, and 100,000 mutated packets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { once } from 'node:events';
import * as dnsPacket from 'dns-packet';
import { startFulcrum, adminGet, type FulcrumProcess } from './helpers/fulcrum.ts';
import { startHttpBackend, sleep, type HttpBackend } from './helpers/backends.ts';
import { SKIP_DIG, configWith, dig, query, rcodeOf, tcpExchange, udpExchange } from './helpers/gslb.ts';
import { mulberry32 } from '../src/core/prng.ts';

async function dnsPort(f: FulcrumProcess): Promise<number> {
  const r = await adminGet(f.adminPort, '/api/v1/gslb');
  assert.equal(r.status, 200, r.body);
  return (JSON.parse(r.body) as { port: number }).port;
}

const ZONE = {
  name: 'example.com',
  records: [
    { name: 'www', type: 'A', value: ['192.0.2.1', '192.0.2.2'] },
    { name: 'www', type: 'AAAA', value: '2001:db8::1' },
    { name: '@', type: 'MX', value: '10 mail.example.com' },
    { name: 'alias', type: 'CNAME', value: 'www.example.com' },
    { name: 'a.b', type: 'TXT', value: 'deep' },
    { name: 'big', type: 'TXT', value: Array.from({ length: 6 }, (_, i) => String(i).repeat(120)) },
  ],
};

test('dig: records, NXDOMAIN / NODATA with SOA / REFUSED / FORMERR / NOTIMP, truncation seen with +ignore and retried over TCP, minimal ANY', { skip: SKIP_DIG, timeout: 60_000 }, async () => {
  const f = await startFulcrum(configWith({ zones: [ZONE] }));
  try {
    const port = await dnsPort(f);
    const a = await dig(port, ['www.example.com', 'A']);
    assert.equal(a.status, 'NOERROR');
    assert.deepEqual(a.answers.map((x) => x.data).sort(), ['192.0.2.1', '192.0.2.2']);
    assert.ok(a.flags.includes('aa') && !a.flags.includes('ra'), a.raw);
    assert.equal(a.answers[0].ttl, 300);
    const cname = await dig(port, ['alias.example.com', 'A']);
    assert.deepEqual(cname.answers.map((x) => x.type), ['CNAME', 'A', 'A']);
    const nx = await dig(port, ['nope.example.com', 'A']);
    assert.equal(nx.status, 'NXDOMAIN');
    assert.match(nx.authority[0], /SOA\s+ns1\.example\.com\. hostmaster\.example\.com\. 1 /);
    const nodata = await dig(port, ['www.example.com', 'TXT']);
    assert.equal(nodata.status, 'NOERROR');
    assert.equal(nodata.answers.length, 0);
    assert.match(nodata.authority[0], /SOA/);
    const ent = await dig(port, ['b.example.com', 'A']);
    assert.equal(ent.status, 'NOERROR'); // empty non-terminal: exists, no data
    assert.equal((await dig(port, ['example.org', 'A'])).status, 'REFUSED');
    assert.equal((await dig(port, ['example.com', 'MX'])).answers[0].data, '10 mail.example.com.');
    const any = await dig(port, ['www.example.com', 'ANY']);
    assert.equal(any.answers.length, 2, any.raw); // RFC 8482: one RRset (the A records), not every type
    // Truncation: 6 × 120 bytes > 512 without EDNS.
    const tc = await dig(port, ['big.example.com', 'TXT', '+noedns', '+ignore']);
    assert.ok(tc.flags.includes('tc'), tc.raw);
    assert.equal(tc.answers.length, 0);
    const retried = await dig(port, ['big.example.com', 'TXT', '+noedns']); // dig retries over TCP by itself
    assert.equal(retried.answers.length, 6, retried.raw);
    const tcp = await dig(port, ['big.example.com', 'TXT', '+tcp']);
    assert.equal(tcp.answers.length, 6);
    assert.equal((await dig(port, ['www.example.com', 'A', '+edns=1', '+noednsnegotiation'])).status, 'BADVERS');
    // FORMERR and NOTIMP with raw packets.
    const two = query('www.example.com', 'A', { id: 77 });
    two.writeUInt16BE(2, 4);
    assert.equal(rcodeOf((await udpExchange(port, two))!), 1);
    const notify = query('www.example.com', 'A', { id: 78 });
    notify[2] |= 4 << 3;
    assert.equal(rcodeOf((await udpExchange(port, notify))!), 4);
    const metrics = await adminGet(f.adminPort, '/metrics');
    assert.match(metrics.body, /fulcrum_dns_responses_total\{transport="udp",rcode="NXDOMAIN"\} 1/);
    assert.match(metrics.body, /fulcrum_dns_responses_total\{transport="tcp",rcode="NOERROR"\} [1-9]/);
    assert.match(metrics.body, /fulcrum_dns_events_total\{event="truncated"\} [1-9]/);
  } finally {
    await f.stop();
  }
});

/** A health-check target: GET / → 200 while `up`, closed (connection refused) once stopped. */
async function target(port = 0): Promise<HttpBackend> {
  for (let i = 0; i < 20; i++) {
    try {
      if (port === 0) return await startHttpBackend((_req, res) => res.end('ok'));
      const b = await new Promise<HttpBackend>((resolve, reject) => {
        void import('node:http').then(({ createServer }) => {
          const server = createServer((_req, res) => res.end('ok'));
          server.once('error', reject);
          server.listen({ host: '127.0.0.1', port }, () => resolve({
            port, address: `127.0.0.1:${port}`, server, connections: () => 0,
            close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
          }));
        });
      });
      return b;
    } catch {
      await sleep(200); // the old socket's port not free yet
    }
  }
  throw new Error(`cannot bind 127.0.0.1:${port}`);
}

test('geo by ECS subnet with dig; the region\'s check target dies → the answer moves within interval × fall + 1 s; it returns → the answer moves back; admin view', { skip: SKIP_DIG, timeout: 90_000 }, async () => {
  let eu = await target();
  const us = await target();
  const interval = 1000;
  const fall = 2;
  const rise = 2;
  const hc = { type: 'http', interval, jitter: 0, timeout: 500, fall, rise, initial: 'unknown' };
  const f = await startFulcrum(configWith({
    zones: [{ name: 'example.com' }],
    sites: [
      { name: 'eu', addresses: ['198.51.100.10', '2001:db8::10'], healthCheck: hc, endpoints: [eu.address] },
      { name: 'us', addresses: ['198.51.100.20'], healthCheck: hc, endpoints: [us.address] },
    ],
    names: [{
      name: 'app.example.com', policy: 'geo', ttl: 30, unstableTtl: 5, unstableWindow: '3s',
      targets: [{ site: 'eu' }, { site: 'us' }],
      geo: { map: [{ cidr: '203.0.113.0/24', region: 'eu' }, { cidr: '198.18.0.0/15', region: 'us' }], default: 'us', preference: { eu: ['eu', 'us'] } },
    }, {
      // Same steering without unstableTtl: its answers are kept in the exact-bytes cache, which a site's change clears.
      name: 'plain.example.com', policy: 'geo', targets: [{ site: 'eu' }, { site: 'us' }],
      geo: { map: [{ cidr: '203.0.113.0/24', region: 'eu' }], default: 'us' },
    }],
  }));
  try {
    const port = await dnsPort(f);
    // +nocookie: the same bytes every time, so answers come from the exact-bytes cache, which a site's change must clear.
    const ask = async (subnet: string) => dig(port, ['app.example.com', 'A', `+subnet=${subnet}`, '+nocookie']);
    // Both sites come up after their first check.
    for (let i = 0; i < 50; i++) {
      const v = JSON.parse((await adminGet(f.adminPort, '/api/v1/gslb')).body) as { sites: { up: boolean }[] };
      if (v.sites.every((s) => s.up)) break;
      await sleep(100);
    }
    const plain = async () => (await dig(port, ['plain.example.com', 'A', '+subnet=203.0.113.0/24', '+nocookie'])).answers[0]?.data;
    assert.equal(await plain(), '198.51.100.10');
    assert.equal(await plain(), '198.51.100.10');
    const first = await ask('203.0.113.0/24');
    assert.deepEqual(first.answers.map((a) => a.data), ['198.51.100.10'], first.raw);
    assert.deepEqual(first.ecs, [24, 24]);
    const other = await ask('198.18.7.0/24');
    assert.deepEqual(other.answers.map((a) => a.data), ['198.51.100.20']);
    assert.deepEqual(other.ecs, [24, 15]);
    assert.deepEqual((await dig(port, ['app.example.com', 'AAAA', '+subnet=203.0.113.0/24'])).answers.map((a) => a.data), ['2001:db8::10']);

    // Admin view: what 203.0.113.7 would get.
    const view = JSON.parse((await adminGet(f.adminPort, '/api/v1/gslb?client=203.0.113.7')).body) as { names: { name: string; healthy: string[]; answer: { sites: string[]; addresses: string[] } }[] };
    assert.deepEqual(view.names[0].healthy, ['eu', 'us']);
    assert.deepEqual(view.names[0].answer.sites, ['eu']);
    // The checks' durations feed each site's RTT (the latency policy's input).
    for (let i = 0; i < 30; i++) {
      const v = JSON.parse((await adminGet(f.adminPort, '/api/v1/gslb')).body) as { sites: { rttMs: number | null }[] };
      if (v.sites.every((x) => typeof x.rttMs === 'number')) break;
      await sleep(100);
    }
    const rtts = (JSON.parse((await adminGet(f.adminPort, '/api/v1/gslb')).body) as { sites: { rttMs: number | null }[] }).sites.map((x) => x.rttMs);
    assert.ok(rtts.every((r) => typeof r === 'number' && r >= 0 && r < 1000), `rtts ${JSON.stringify(rtts)}`);
    assert.equal((await adminGet(f.adminPort, '/api/v1/gslb?subnet=nope')).status, 400);

    // Kill eu's check target.
    const euPort = eu.port;
    await eu.close();
    const killedAt = Date.now();
    let movedAt = 0;
    for (let i = 0; i < 200 && Date.now() - killedAt < 15_000; i++) {
      const r = await ask('203.0.113.0/24');
      if (r.answers[0]?.data === '198.51.100.20') { movedAt = Date.now(); assert.ok(r.answers[0].ttl <= 5, `unstable TTL, got ${r.answers[0].ttl}`); break; }
      await sleep(100);
    }
    assert.ok(movedAt > 0, 'the answer never moved to us');
    const bound = interval * fall + 1000;
    assert.ok(movedAt - killedAt <= bound, `moved after ${movedAt - killedAt} ms, bound ${bound} ms`);
    assert.equal(await plain(), '198.51.100.20');
    const down = JSON.parse((await adminGet(f.adminPort, '/api/v1/gslb?subnet=203.0.113.0/24')).body) as { names: { healthy: string[]; answer: { sites: string[] } }[] };
    assert.deepEqual(down.names[0].healthy, ['us']);
    assert.deepEqual(down.names[0].answer.sites, ['us']);

    // It returns.
    eu = await target(euPort);
    const backAt = Date.now();
    let movedBack = 0;
    for (let i = 0; i < 200 && Date.now() - backAt < 15_000; i++) {
      if ((await ask('203.0.113.0/24')).answers[0]?.data === '198.51.100.10') { movedBack = Date.now(); break; }
      await sleep(100);
    }
    assert.ok(movedBack > 0, 'the answer never moved back to eu');
    assert.ok(movedBack - backAt <= interval * rise + 1000, `moved back after ${movedBack - backAt} ms`);
    console.log(`# figure: geo failover: answer moved ${movedAt - killedAt} ms after the check target died (bound ${bound} ms), back ${movedBack - backAt} ms after it returned (bound ${interval * rise + 1000} ms)`);
    assert.equal(await plain(), '198.51.100.10');
  } finally {
    await f.stop();
    await eu.close().catch(() => {});
    await us.close();
  }
});

/** Sends `n` A queries for `name` over one UDP socket in paced batches; returns the A data of each answer. */
async function burst(port: number, name: string, n: number, opts: { ecs?: (i: number) => string } = {}): Promise<string[]> {
  const s = createSocket('udp4');
  s.on('error', () => {});
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  const out: string[] = [];
  const waiting = new Map<number, (v: string) => void>();
  s.on('message', (m) => {
    try {
      const p = dnsPacket.decode(m);
      const cb = waiting.get(p.id!);
      if (cb !== undefined) { waiting.delete(p.id!); cb((p.answers ?? []).map((a) => (a as { data: string }).data).join(',')); }
    } catch { /* ignored */ }
  });
  try {
    for (let start = 0; start < n; start += 200) {
      const batch: Promise<string>[] = [];
      for (let i = start; i < Math.min(n, start + 200); i++) {
        const id = i & 0xffff;
        batch.push(new Promise<string>((resolve) => {
          const t = setTimeout(() => { waiting.delete(id); resolve('(lost)'); }, 3000);
          waiting.set(id, (v) => { clearTimeout(t); resolve(v); });
        }));
        const ecs = opts.ecs?.(i);
        s.send(query(name, 'A', { id, ...(ecs ? { ecs: { ip: ecs, source: 24 } } : {}) }), port, '127.0.0.1');
      }
      out.push(...await Promise.all(batch));
    }
  } finally {
    s.close();
  }
  return out;
}

test('weighted converges to its weights over 10,000 queries; consistent weighted is stable per subnet; failover, latency and multivalue answer as configured', { timeout: 120_000 }, async () => {
  const f = await startFulcrum(configWith({
    zones: [{ name: 'example.com' }],
    sites: [
      { name: 'a', addresses: ['10.0.0.1'] },
      { name: 'b', addresses: ['10.0.0.2'] },
      { name: 'c', addresses: ['10.0.0.3', '10.0.0.4'] },
      { name: 'off', addresses: ['10.0.0.9'], drain: true },
    ],
    names: [
      { name: 'w.example.com', policy: 'weighted', targets: [{ site: 'a', weight: 1 }, { site: 'b', weight: 3 }, { site: 'off', weight: 100 }] },
      { name: 'cw.example.com', policy: 'weighted', consistent: true, targets: [{ site: 'a' }, { site: 'b' }, { site: 'c' }] },
      { name: 'fo.example.com', policy: 'failover', targets: [{ site: 'off', priority: 0 }, { site: 'b', priority: 1 }, { site: 'c', priority: 1 }, { site: 'a', priority: 2 }] },
      { name: 'lat.example.com', policy: 'latency', targets: [{ site: 'a' }, { site: 'b' }], latency: { table: [{ cidr: '203.0.113.0/24', rtt: { a: 80, b: 12 } }, { cidr: '0.0.0.0/0', rtt: { a: 10, b: 50 } }] } },
      { name: 'multi.example.com', policy: 'all-healthy', maxAnswers: 2, targets: [{ site: 'a' }, { site: 'off' }, { site: 'c' }] },
      { name: 'none.example.com', policy: 'failover', whenAllDown: 'servfail', targets: [{ site: 'off' }] },
      { name: 'open.example.com', policy: 'failover', targets: [{ site: 'off' }] },
    ],
  }));
  try {
    const port = await dnsPort(f);
    const answers = await burst(port, 'w.example.com', 10_000);
    const a = answers.filter((x) => x === '10.0.0.1').length;
    const b = answers.filter((x) => x === '10.0.0.2').length;
    const lost = answers.filter((x) => x === '(lost)').length;
    assert.equal(answers.filter((x) => x === '10.0.0.9').length, 0, 'a drained site is never answered');
    assert.ok(lost < 200, `lost ${lost}`);
    const share = a / (a + b);
    console.log(`# figure: weighted 1:3 over 10,000 queries: a ${a}, b ${b} (share of a ${share.toFixed(4)}), lost ${lost}`);
    assert.ok(Math.abs(share - 0.25) < 0.02, `share of a ${share} (a ${a}, b ${b})`);

    const rnd = mulberry32(1);
    const subnets = Array.from({ length: 50 }, () => `100.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.0`);
    const once1 = await burst(port, 'cw.example.com', 50, { ecs: (i) => subnets[i] });
    const once2 = await burst(port, 'cw.example.com', 50, { ecs: (i) => subnets[i] });
    assert.deepEqual(once1, once2);
    assert.ok(new Set(once1).size >= 2, `one site for 50 subnets: ${once1[0]}`);

    const fo = (await burst(port, 'fo.example.com', 1))[0];
    assert.equal(fo, '10.0.0.2,10.0.0.3,10.0.0.4'); // priority 0 is drained: every site of group 1
    const lat = await burst(port, 'lat.example.com', 2, { ecs: (i) => (i === 0 ? '203.0.113.0' : '8.8.8.0') });
    assert.deepEqual(lat, ['10.0.0.2', '10.0.0.1']);
    const multi = await burst(port, 'multi.example.com', 3);
    for (const m of multi) assert.equal(m.split(',').length, 2, m);
    assert.deepEqual(new Set(multi.flatMap((m) => m.split(','))), new Set(['10.0.0.1', '10.0.0.3', '10.0.0.4'])); // rotated
    assert.equal(rcodeOf((await udpExchange(port, query('none.example.com', 'A')))!), 2);
    const open = dnsPacket.decode((await udpExchange(port, query('open.example.com', 'A')))!);
    assert.equal((open.answers![0] as { data: string }).data, '10.0.0.9'); // fail open
  } finally {
    await f.stop();
  }
});

test('rate limiting per /24, TCP connection cap and idle timeout', { timeout: 60_000 }, async () => {
  const f = await startFulcrum(configWith({
    zones: [{ name: 'example.com', records: [{ name: 'www', type: 'A', value: '192.0.2.1' }] }],
    rateLimit: { responsesPerSecond: 5, burst: 5, slip: 2 },
    tcp: { maxConnections: 2, idleTimeout: '1s' },
  }));
  try {
    const port = await dnsPort(f);
    const got = await burst(port, 'www.example.com', 40);
    const answered = got.filter((x) => x === '192.0.2.1').length;
    assert.ok(answered >= 5 && answered <= 12, `answered ${answered} of 40`);
    // TCP is not rate limited.
    const viaTcp = await tcpExchange(port, query('www.example.com', 'A'), 10_000);
    assert.ok(viaTcp !== null, 'no TCP answer');
    assert.equal(rcodeOf(viaTcp), 0);
    // Two idle connections fill the cap; a third is closed at once. One of them trickles a byte now
    // and then, which is not a query: it is closed on time too.
    const socks = [connect(port, '127.0.0.1'), connect(port, '127.0.0.1')];
    await Promise.all(socks.map((s) => once(s, 'connect')));
    socks[1].write(Buffer.from([0x01, 0x00])); // a 256-byte message announced, then one byte every 300 ms
    const trickle = setInterval(() => { if (!socks[1].destroyed) socks[1].write(Buffer.from([0x41])); }, 300);
    await sleep(200);
    assert.equal(await tcpExchange(port, query('www.example.com', 'A'), 3000), null);
    const closedAt = Date.now();
    const bothClosed = await Promise.race([
      Promise.all(socks.map((s) => once(s, 'close'))).then(() => true),
      sleep(8000).then(() => false),
    ]);
    clearInterval(trickle);
    for (const s of socks) s.destroy();
    assert.ok(bothClosed, 'an idle (or trickling) TCP connection was not closed within 8 s');
    const idle = Date.now() - closedAt;
    assert.ok(idle < 5000, `idle connections closed after ${idle} ms`);
    const open = async () => (JSON.parse((await adminGet(f.adminPort, '/api/v1/gslb')).body) as { counters: { tcpConnections: number } }).counters.tcpConnections;
    for (let i = 0; i < 50 && (await open()) !== 0; i++) await sleep(100);
    assert.equal(await open(), 0);
    const again = await tcpExchange(port, query('www.example.com', 'A'), 10_000);
    assert.ok(again !== null, 'no TCP answer once the cap freed up');
    assert.equal(rcodeOf(again), 0);
    const m = (await adminGet(f.adminPort, '/metrics')).body;
    assert.match(m, /fulcrum_dns_events_total\{event="rrl_dropped"\} [1-9]/);
    assert.match(m, /fulcrum_dns_events_total\{event="rrl_slipped"\} [1-9]/);
    assert.match(m, /fulcrum_dns_events_total\{event="tcp_refused"\} 1/);
    assert.match(m, /fulcrum_dns_events_total\{event="tcp_idle_closed"\} 2/);
  } finally {
    await f.stop();
  }
});

test('fuzz: 100,000 mutated packets, then the server still answers correctly (dig and raw) and never hit an internal error', { skip: SKIP_DIG, timeout: 120_000 }, async () => {
  const f = await startFulcrum(configWith({
    zones: [ZONE],
    sites: [{ name: 'eu', addresses: ['198.51.100.1'] }],
    names: [{ name: 'app.example.com', policy: 'geo', targets: [{ site: 'eu' }], geo: { map: [{ cidr: '203.0.113.0/24', region: 'eu' }] } }],
  }));
  const s = createSocket('udp4');
  s.on('error', () => {});
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  let replies = 0;
  // Every 200 packets a valid probe (ids from 0xff00) is sent and awaited: the server answers in
  // order, so its reply means the 200 before it were read — no flood beyond the socket buffer.
  let probeWaiter: ((id: number) => void) | null = null;
  s.on('message', (m) => {
    replies++;
    if (m.length >= 2 && m.readUInt16BE(0) >= 0xff00) probeWaiter?.(m.readUInt16BE(0));
  });
  const probe = (id: number, port: number): Promise<boolean> => new Promise((resolve) => {
    const t = setTimeout(() => { probeWaiter = null; resolve(false); }, 2000);
    probeWaiter = (got) => { if (got === id) { clearTimeout(t); probeWaiter = null; resolve(true); } };
    s.send(query('www.example.com', 'A', { id }), port, '127.0.0.1');
  });
  let probesLost = 0;
  try {
    const port = await dnsPort(f);
    const seeds = [
      query('www.example.com', 'A'), query('app.example.com', 'A', { ecs: { ip: '203.0.113.0', source: 24 } }),
      query('alias.example.com', 'A', { edns: true }), query('big.example.com', 'TXT'), query('nope.example.com', 'MX'),
    ];
    const rnd = mulberry32(2026);
    const started = Date.now();
    for (let i = 0; i < 100_000; i++) {
      const seed = seeds[i % seeds.length];
      let b: Buffer;
      const kind = rnd();
      if (kind < 0.6) { // flip bytes
        b = Buffer.from(seed);
        const n = 1 + Math.floor(rnd() * 4);
        for (let k = 0; k < n; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      } else if (kind < 0.75) { // truncate
        b = seed.subarray(0, Math.floor(rnd() * seed.length));
      } else if (kind < 0.85) { // compression pointer to a random offset
        b = Buffer.from(seed);
        const at = 12 + Math.floor(rnd() * (b.length - 13));
        b[at] = 0xc0 | Math.floor(rnd() * 4);
        b[at + 1] = Math.floor(rnd() * 256);
      } else if (kind < 0.95) { // counts
        b = Buffer.from(seed);
        b.writeUInt16BE(Math.floor(rnd() * 65536), 4 + 2 * Math.floor(rnd() * 4));
      } else { // random bytes
        b = Buffer.from(Array.from({ length: Math.floor(rnd() * 600) }, () => Math.floor(rnd() * 256)));
      }
      b[2] = b.length > 2 ? b[2] & 0x7f : 0; // keep QR clear where there is a header, so most are answered
      if (b.length >= 2 && b.readUInt16BE(0) >= 0xff00) b.writeUInt16BE(b.readUInt16BE(0) & 0xfeff, 0);
      s.send(b, port, '127.0.0.1');
      if (i % 200 === 199 && !(await probe(0xff00 + ((i / 200) & 0xff), port))) probesLost++;
    }
    const elapsed = Date.now() - started;
    await sleep(500);
    assert.ok(probesLost < 10, `${probesLost} of 500 probes unanswered`);
    assert.ok(replies > 50_000, `only ${replies} replies to 100,000 packets`);
    assert.equal(f.hasExited(), false);
    const a = await dig(port, ['www.example.com', 'A']);
    assert.deepEqual(a.answers.map((x) => x.data).sort(), ['192.0.2.1', '192.0.2.2']);
    const g = await dig(port, ['app.example.com', 'A', '+subnet=203.0.113.0/24']);
    assert.deepEqual(g.answers.map((x) => x.data), ['198.51.100.1']);
    assert.deepEqual(g.ecs, [24, 24]);
    assert.equal((await dig(port, ['nope.example.com', 'A'])).status, 'NXDOMAIN');
    const m = (await adminGet(f.adminPort, '/metrics')).body;
    assert.doesNotMatch(m, /event="internal_error"/);
    assert.match(m, /rcode="FORMERR"\} [1-9]/);
    const counted = [...m.matchAll(/fulcrum_dns_(?:responses_total\{transport="udp"[^}]*\}|events_total\{event="dropped"\}) (\d+)/g)].reduce((n, x) => n + Number(x[1]), 0);
    console.log(`# fuzz: ${counted} read, ${replies} replies, ${elapsed} ms`);
    assert.ok(counted >= 99_000, `the server read ${counted} of 100,500 datagrams`);
    assert.ok(elapsed < 60_000, `sending took ${elapsed} ms`);
  } finally {
    s.close();
    await f.stop();
  }
});

test('reload: a changed gslb section is served at once, site health survives, the port stays; an invalid one is refused', { skip: SKIP_DIG, timeout: 60_000 }, async () => {
  const { writeFile } = await import('node:fs/promises');
  const site = await target();
  const hc = { type: 'http', interval: 500, jitter: 0, timeout: 400, fall: 3, rise: 3 };
  const gslb = (www: string, extra: object[] = []) => ({
    zones: [{ name: 'example.com', records: [{ name: 'www', type: 'A', value: www }] }],
    sites: [{ name: 'eu', addresses: ['198.51.100.10'], healthCheck: hc, endpoints: [site.address] }],
    names: [{ name: 'app.example.com', targets: [{ site: 'eu' }], whenAllDown: 'servfail' }, ...extra],
  });
  const f = await startFulcrum(configWith(gslb('192.0.2.1')), { args: ['--no-watch'], env: { FULCRUM_LOG_LEVEL: 'warn' } });
  try {
    const port = await dnsPort(f);
    for (let i = 0; i < 50 && (await dig(port, ['app.example.com', 'A'])).status !== 'NOERROR'; i++) await sleep(100);
    assert.deepEqual((await dig(port, ['app.example.com', 'A'])).answers.map((a) => a.data), ['198.51.100.10']);
    const cfg = configWith(gslb('192.0.2.9', [{ name: 'new.example.com', targets: [{ site: 'eu' }] }]));
    (cfg.gslb as { listen: string }).listen = `127.0.0.1:${port}`;
    await writeFile(f.configFile, JSON.stringify(cfg));
    f.proc.kill('SIGHUP');
    let www = '';
    for (let i = 0; i < 100 && www !== '192.0.2.9'; i++) {
      www = (await dig(port, ['www.example.com', 'A'])).answers[0]?.data ?? '';
      if (www !== '192.0.2.9') await sleep(100);
    }
    assert.equal(www, '192.0.2.9');
    // The site stayed up across the reload (rise 3 × 500 ms would otherwise mean SERVFAIL for a while).
    assert.deepEqual((await dig(port, ['new.example.com', 'A'])).answers.map((a) => a.data), ['198.51.100.10']);
    assert.equal((await dig(port, ['app.example.com', 'A'])).status, 'NOERROR');
    await writeFile(f.configFile, JSON.stringify(configWith({ ...gslb('192.0.2.7'), names: [{ name: 'x.example.com', targets: [{ site: 'nope' }] }] })));
    f.proc.kill('SIGHUP');
    await f.waitFor(() => f.stderr().includes('gslb.names[0].targets[0].site') || f.hasExited(), 10_000, 'the refused reload in the log');
    assert.equal((await dig(port, ['www.example.com', 'A'])).answers[0]?.data, '192.0.2.9');
    assert.equal(f.hasExited(), false);
  } finally {
    await f.stop();
    await site.close();
  }
});
