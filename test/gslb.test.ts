/**
 * GSLB, in process: CIDR matching and ECS scopes, the pure policies, zone resolution and the wire
 * layer (RCODEs, EDNS0, ECS, truncation, malformed packets), config validation, and rate limiting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dnsPacket from 'dns-packet';
import { CidrMap, parseAddr, formatAddr } from '../src/gslb/cidr.ts';
import { getPolicy } from '../src/gslb/policies/index.ts';
import type { TargetView } from '../src/gslb/policies/types.ts';
import { answer, type WireContext } from '../src/gslb/server/wire.ts';
import { RateLimiter } from '../src/gslb/server/rrl.ts';
import { GslbRuntime } from '../src/gslb/runtime.ts';
import { validateConfig } from '../src/config/index.ts';
import { mulberry32 } from '../src/core/prng.ts';
import { createLogger } from '../src/core/log.ts';
import { configWith, gslbConfig, query, rcodeOf } from './helpers/gslb.ts';

const log = createLogger('silent');

test('cidr: addresses parse to bytes; longest prefix wins; the ECS scope is the widest block with the same answer', () => {
  assert.deepEqual([...parseAddr('203.0.113.7')!], [203, 0, 113, 7]);
  assert.deepEqual([...parseAddr('::ffff:10.1.2.3')!], [10, 1, 2, 3]);
  assert.equal(parseAddr('2001:db8::1')!.length, 16);
  assert.equal(formatAddr(parseAddr('2001:db8::1')!), '2001:db8::1');
  assert.equal(parseAddr('nope'), null);
  const m = new CidrMap<string>();
  m.add('10.0.0.0/8', 'a');
  m.add('10.1.0.0/16', 'b');
  m.add('10.1.2.0/24', 'a');
  const at = (ip: string) => m.lookup(parseAddr(ip)!);
  assert.equal(at('10.1.2.3').entry?.value, 'a');
  assert.equal(at('10.1.2.3').scope, 24);
  assert.equal(at('10.1.3.3').entry?.value, 'b');
  assert.equal(at('10.1.3.3').scope, 24); // 10.1.2.0/23 would include the /24 that answers a
  assert.equal(at('10.2.0.1').entry?.value, 'a');
  assert.equal(at('10.2.0.1').scope, 15); // 10.0.0.0/15 would include 10.1/16
  assert.equal(at('10.200.0.1').scope, 9);
  assert.equal(at('192.0.2.1').entry, null);
  assert.equal(at('192.0.2.1').scope, 1); // the /1 of 192… holds no block
  assert.equal(m.lookup(parseAddr('2001:db8::1')!).scope, 0);
});

function views(up: boolean[], rtt: number[] = []): TargetView[] {
  return up.map((u, i) => ({ site: `s${i}`, up: u, rttMs: rtt[i] ?? Number.NaN }));
}
const V4 = { addr: parseAddr('203.0.113.0')!, prefix: 24 };

function nameConfig(n: object) {
  return gslbConfig({
    zones: [{ name: 'example.com' }],
    sites: [0, 1, 2].map((i) => ({ name: `s${i}`, addresses: [`192.0.2.${i + 1}`] })),
    names: [{ name: 'x.example.com', targets: [{ site: 's0' }, { site: 's1' }, { site: 's2' }], ...n }],
  }).names[0];
}

test('policy failover: the lowest priority group with an up site answers, all its up sites', () => {
  const p = getPolicy('failover')!.compile(nameConfig({ policy: 'failover', targets: [{ site: 's0', priority: 1 }, { site: 's1', priority: 0 }, { site: 's2', priority: 0 }] }));
  const pick = (up: boolean[]) => p.pick({ targets: views(up), client: V4, random: Math.random, state: {} }).chosen;
  assert.deepEqual(pick([true, true, true]), [1, 2]);
  assert.deepEqual(pick([true, false, true]), [2]);
  assert.deepEqual(pick([true, false, false]), [0]);
  assert.deepEqual(pick([false, false, false]), []);
});

test('policy geo: region by longest prefix, preference order, down sites skipped, scope from the map', () => {
  const p = getPolicy('geo')!.compile(nameConfig({
    policy: 'geo',
    geo: { map: [{ cidr: '203.0.113.0/24', region: 's1' }, { cidr: '198.51.100.0/22', region: 's2' }], default: 's0', preference: { s1: ['s1', 's2'] } },
  }));
  const pick = (ip: string, prefix: number, up: boolean[]) => p.pick({ targets: views(up), client: { addr: parseAddr(ip)!, prefix }, random: Math.random, state: {} });
  assert.deepEqual(pick('203.0.113.0', 24, [true, true, true]).chosen, [1]);
  assert.equal(pick('203.0.113.0', 24, [true, true, true]).scope, 24);
  assert.deepEqual(pick('203.0.113.0', 24, [true, false, true]).chosen, [2]); // preference: s1 then s2
  assert.deepEqual(pick('203.0.113.0', 24, [true, false, false]).chosen, [0]); // then any other up target
  assert.deepEqual(pick('198.51.101.0', 24, [true, true, true]).chosen, [2]);
  assert.equal(pick('198.51.101.0', 24, [true, true, true]).scope, 22);
  assert.deepEqual(pick('8.8.8.0', 24, [true, true, true]).chosen, [0]); // default region
  assert.deepEqual(pick('8.8.8.0', 24, [false, false, false]).chosen, []);
});

test('policy weighted: converges to the weights over 10,000 picks; down sites excluded; consistent variant is stable per subnet', () => {
  const cfg = nameConfig({ policy: 'weighted', targets: [{ site: 's0', weight: 1 }, { site: 's1', weight: 3 }, { site: 's2', weight: 6 }] });
  const p = getPolicy('weighted')!.compile(cfg);
  const random = mulberry32(42);
  const counts = [0, 0, 0];
  for (let i = 0; i < 10_000; i++) counts[p.pick({ targets: views([true, true, true]), client: V4, random, state: {} }).chosen[0]]++;
  assert.ok(Math.abs(counts[0] - 1000) < 150 && Math.abs(counts[1] - 3000) < 250 && Math.abs(counts[2] - 6000) < 250, `counts ${counts}`);
  for (let i = 0; i < 100; i++) assert.notEqual(p.pick({ targets: views([true, true, false]), client: V4, random, state: {} }).chosen[0], 2);

  const c = getPolicy('weighted')!.compile({ ...cfg, consistent: true });
  const seen = new Map<string, number>();
  let moved = 0;
  const perSite = [0, 0, 0];
  for (let i = 0; i < 2000; i++) {
    const addr = parseAddr(`10.${i >> 8}.${i & 255}.0`)!;
    const a = c.pick({ targets: views([true, true, true]), client: { addr, prefix: 24 }, random, state: {} });
    const b = c.pick({ targets: views([true, true, true]), client: { addr, prefix: 24 }, random, state: {} });
    assert.deepEqual(a.chosen, b.chosen);
    assert.equal(a.scope, 24);
    perSite[a.chosen[0]]++;
    seen.set(String(i), a.chosen[0]);
    const down = c.pick({ targets: views([true, false, true]), client: { addr, prefix: 24 }, random, state: {} }).chosen[0];
    if (a.chosen[0] !== 1 && down !== a.chosen[0]) moved++;
  }
  assert.equal(moved, 0, 'only clients of the down site move');
  assert.ok(perSite[2] > perSite[1] && perSite[1] > perSite[0], `per site ${perSite}`);
});

test('policy latency: lowest RTT, table per network, hysteresis keeps the current site until another is clearly faster', () => {
  const p = getPolicy('latency')!.compile(nameConfig({ policy: 'latency', latency: { hysteresis: 0.2, table: [{ cidr: '203.0.113.0/24', rtt: { s0: 100, s1: 5 } }] } }));
  const state = {};
  const pick = (rtt: number[], up = [true, true, true], client = { addr: parseAddr('8.8.8.8')!, prefix: 32 }) =>
    p.pick({ targets: views(up, rtt), client, random: Math.random, state }).chosen[0];
  assert.equal(pick([10, 20, 30]), 0);
  assert.equal(pick([10, 9, 30]), 0); // 10% faster: kept
  assert.equal(pick([10, 7, 30]), 1); // 30% faster: moves
  assert.equal(pick([10, 7, 30], [true, false, true]), 0); // down: moves at once
  assert.equal(pick([10, 7, 30], [true, true, true], V4), 1); // the table says s1 for 203.0.113.0/24
});

test('policy all-healthy: every up site', () => {
  const p = getPolicy('all-healthy')!.compile(nameConfig({ policy: 'all-healthy' }));
  assert.deepEqual(p.pick({ targets: views([true, false, true]), client: V4, random: Math.random, state: {} }).chosen, [0, 2]);
});

test('config: every gslb problem is reported by path', () => {
  const r = validateConfig(configWith({
    zones: [{ name: 'example.com', records: [{ name: 'mx', type: 'MX', value: 'mail' }, { name: 'a', type: 'A', value: '::1' }, { name: 'x.other.org.', type: 'A', value: '192.0.2.1' }] }, { name: 'EXAMPLE.com.' }],
    sites: [{ name: 'eu', addresses: ['192.0.2.1'], healthCheck: { type: 'http' } }, { name: 'eu', addresses: ['nope'] }],
    names: [
      { name: 'app.other.org', targets: [{ site: 'us' }] },
      { name: 'geo.example.com', policy: 'geo', targets: [{ site: 'eu' }] },
      { name: 'w.example.com', policy: 'round-robin', targets: [{ site: 'eu' }] },
    ],
  }));
  assert.equal(r.ok, false);
  const text = r.ok ? '' : r.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
  for (const want of [
    'gslb.zones[0].records[0].value: expected "PREFERENCE HOST"',
    'gslb.zones[0].records[1].value: expected an IPv4 address, got "::1"',
    'gslb.zones[0].records[2].name: "x.other.org" is outside zone "example.com"',
    'gslb.zones[1].name: duplicate zone "example.com"',
    'gslb.sites[1].name: duplicate site "eu"',
    'gslb.sites[1].addresses[0]: expected an IPv4 or IPv6 address, got "nope"',
    'gslb.sites[0].healthCheck.port: a site checked without "endpoints" needs healthCheck.port',
    'gslb.names[0].name: "app.other.org" is in none of the zones',
    'gslb.names[0].targets[0].site: unknown site "us"; defined sites: eu',
    'gslb.names[1].geo: policy "geo" needs a geo section',
    'gslb.names[2].policy: unknown GSLB policy "round-robin"; expected one of all-healthy, failover, geo, latency, weighted',
  ]) assert.ok(text.includes(want), `missing: ${want}\n---\n${text}`);
});

// ------------------------------------------------------------------------------------------ wire

function wireCtx(): WireContext & { rt: GslbRuntime } {
  const rt = new GslbRuntime(gslbConfig({
    zones: [{
      name: 'example.com',
      records: [
        { name: 'www', type: 'A', value: ['192.0.2.1', '192.0.2.2'] },
        { name: 'big', type: 'TXT', value: Array.from({ length: 8 }, (_, i) => String(i).repeat(200)) },
        { name: 'a.b', type: 'TXT', value: 'deep' },
        { name: 'loop1', type: 'CNAME', value: 'loop2.example.com' },
        { name: 'loop2', type: 'CNAME', value: 'loop1.example.com' },
      ],
    }],
    sites: [{ name: 'eu', addresses: ['198.51.100.1'] }, { name: 'us', addresses: ['198.51.100.2'] }],
    names: [{ name: 'app.example.com', policy: 'geo', targets: [{ site: 'eu' }, { site: 'us' }], geo: { map: [{ cidr: '203.0.113.0/24', region: 'us' }] } }],
  }), log);
  return Object.assign((rt as unknown as { ctx: WireContext }).ctx, { rt });
}
const LOCAL = parseAddr('127.0.0.1')!;

function ask(ctx: WireContext, packet: Buffer, udp = true) {
  const r = answer(packet, LOCAL, udp, ctx);
  return { ...r, p: r.bytes === null ? null : dnsPacket.decode(r.bytes) };
}

test('wire: NOERROR / NXDOMAIN / NODATA with SOA / REFUSED / SERVFAIL on a CNAME loop; AA set, RA clear', () => {
  const ctx = wireCtx();
  const a = ask(ctx, query('WWW.Example.com', 'A'));
  assert.equal(a.rcode, 0);
  assert.deepEqual(a.p!.answers!.map((x) => (x as { data: string }).data), ['192.0.2.1', '192.0.2.2']);
  assert.equal(a.p!.flags! & 0x0400, 0x0400);
  assert.equal(a.p!.flags! & 0x0080, 0);
  assert.equal(a.p!.questions![0].name, 'WWW.Example.com'); // the question is echoed as asked
  const nx = ask(ctx, query('nope.example.com', 'A'));
  assert.equal(nx.rcode, 3);
  assert.equal(nx.p!.authorities![0].type, 'SOA');
  const ent = ask(ctx, query('b.example.com', 'A')); // empty non-terminal
  assert.equal(ent.rcode, 0);
  assert.equal(ent.p!.answers!.length, 0);
  assert.equal(ent.p!.authorities![0].type, 'SOA');
  const nodata = ask(ctx, query('www.example.com', 'MX'));
  assert.equal(nodata.rcode, 0);
  assert.equal(nodata.p!.authorities![0].type, 'SOA');
  assert.equal(ask(ctx, query('example.org', 'A')).rcode, 5);
  assert.equal(ask(ctx, query('loop1.example.com', 'A')).rcode, 2);
  assert.equal(ask(ctx, query('example.com', 'AXFR')).rcode, 5);
});

test('wire: ECS decides and is echoed with the scope; source /0 means the resolver; bad ECS is FORMERR', () => {
  const ctx = wireCtx();
  const r = ask(ctx, query('app.example.com', 'A', { ecs: { ip: '203.0.113.0', source: 24 } }));
  assert.equal((r.p!.answers![0] as { data: string }).data, '198.51.100.2');
  const opt = r.p!.additionals!.find((x) => x.type === 'OPT') as dnsPacket.OptAnswer;
  const ecs = opt.options!.find((o) => o.code === 8) as { sourcePrefixLength: number; scopePrefixLength: number };
  assert.deepEqual([ecs.sourcePrefixLength, ecs.scopePrefixLength], [24, 24]);
  const zero = ask(ctx, query('app.example.com', 'A', { ecs: { ip: '0.0.0.0', source: 0 } }));
  assert.equal((zero.p!.answers![0] as { data: string }).data, '198.51.100.1'); // 127.0.0.1: default region
  // scope ≠ 0 in a query, bits past the source prefix, source > 32: FORMERR
  const raw = (family: number, source: number, scope: number, addr: number[]) => dnsPacket.encode({
    type: 'query', id: 7, questions: [{ type: 'A', class: 'IN', name: 'app.example.com' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, options: [{ code: 8, data: Buffer.from([0, family, source, scope, ...addr]) }] } as unknown as dnsPacket.Answer],
  });
  assert.equal(ask(ctx, raw(1, 24, 0, [203, 0, 113])).rcode, 0);
  assert.equal(ask(ctx, raw(1, 24, 8, [203, 0, 113])).rcode, 1);
  assert.equal(ask(ctx, raw(1, 23, 0, [203, 0, 113])).rcode, 1);
  assert.equal(ask(ctx, raw(1, 33, 0, [203, 0, 113, 0, 0])).rcode, 1);
  assert.equal(ask(ctx, raw(3, 8, 0, [1])).rcode, 1);
});

test('wire: truncation at 512 without EDNS and at the EDNS size; TCP is never truncated', () => {
  const ctx = wireCtx();
  const plain = ask(ctx, query('big.example.com', 'TXT'));
  assert.equal(plain.truncated, true);
  assert.equal(plain.p!.flags! & 0x0200, 0x0200);
  assert.equal(plain.p!.answers!.length, 0);
  assert.ok(plain.bytes!.length <= 512);
  const edns = ask(ctx, query('big.example.com', 'TXT', { edns: true }));
  assert.equal(edns.truncated, true); // 8 × 200 bytes > 1232
  const tcp = ask(ctx, query('big.example.com', 'TXT'), false);
  assert.equal(tcp.truncated, false);
  assert.equal(tcp.p!.answers!.length, 8);
});

test('wire: malformed packets are dropped or FORMERR, other opcodes NOTIMP, EDNS version 1 BADVERS — never a throw', () => {
  const ctx = wireCtx();
  const good = query('www.example.com', 'A', { id: 0x1234 });
  assert.equal(answer(good.subarray(0, 11), LOCAL, true, ctx).bytes, null); // shorter than a header
  const resp = Buffer.from(good); resp[2] |= 0x80; // QR set: a response, dropped
  assert.equal(answer(resp, LOCAL, true, ctx).bytes, null);
  const notify = Buffer.from(good); notify[2] |= 4 << 3; // opcode 4 NOTIFY
  assert.equal(rcodeOf(answer(notify, LOCAL, true, ctx).bytes!), 4);
  const none = Buffer.from(good); none.writeUInt16BE(0, 4); // QDCOUNT 0
  assert.equal(rcodeOf(answer(none.subarray(0, 12), LOCAL, true, ctx).bytes!), 1);
  const two = Buffer.from(good); two.writeUInt16BE(2, 4); // QDCOUNT 2, one question present
  assert.equal(rcodeOf(answer(two, LOCAL, true, ctx).bytes!), 1);
  const header = good.subarray(0, 12);
  const loop = Buffer.concat([header, Buffer.from([0xc0, 12, 0, 1, 0, 1])]); // name points at itself
  assert.equal(rcodeOf(answer(loop, LOCAL, true, ctx).bytes!), 1);
  const forward = Buffer.concat([header, Buffer.from([0xc0, 14, 3, 0x77, 0x77, 0x77, 0, 0, 1, 0, 1])]); // pointer forward
  assert.equal(rcodeOf(answer(forward, LOCAL, true, ctx).bytes!), 1);
  const long = Buffer.concat([header, Buffer.from(Array.from({ length: 5 }, () => [63, ...Buffer.alloc(63, 0x61)]).flat()), Buffer.from([0, 0, 1, 0, 1])]);
  assert.equal(rcodeOf(answer(long, LOCAL, true, ctx).bytes!), 1); // 320-byte name
  const counts = Buffer.from(good); counts.writeUInt16BE(40, 10); // ARCOUNT beyond the packet
  assert.equal(rcodeOf(answer(counts, LOCAL, true, ctx).bytes!), 1);
  const v1 = dnsPacket.encode({ type: 'query', id: 9, questions: [{ type: 'A', class: 'IN', name: 'www.example.com' }], additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, ednsVersion: 1 } as unknown as dnsPacket.Answer] });
  const bv = dnsPacket.decode(answer(v1, LOCAL, true, ctx).bytes!);
  assert.equal((bv.additionals![0] as { extendedRcode: number }).extendedRcode, 1);
  const chaos = dnsPacket.encode({ type: 'query', id: 9, questions: [{ type: 'TXT', class: 'CH', name: 'version.bind' }] });
  assert.equal(rcodeOf(answer(chaos, LOCAL, true, ctx).bytes!), 5);
  // A truncated question and random bytes behind a header.
  const rnd = mulberry32(7);
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.from(good);
    const n = 1 + Math.floor(rnd() * 6);
    for (let k = 0; k < n; k++) b[2 + Math.floor(rnd() * (b.length - 2))] = Math.floor(rnd() * 256);
    const r = answer(b.subarray(0, 12 + Math.floor(rnd() * (b.length - 11))), LOCAL, true, ctx);
    if (r.bytes !== null) assert.ok(r.bytes.length >= 12);
  }
});

test('rrl: a /24 gets burst then rate; every slip-th limited response is truncated; other networks unaffected', () => {
  const rrl = new RateLimiter({ responsesPerSecond: 10, burst: 5, slip: 2, ipv4PrefixLength: 24, ipv6PrefixLength: 56 });
  const a = parseAddr('203.0.113.7')!;
  const b = parseAddr('203.0.113.200')!; // same /24
  const c = parseAddr('198.51.100.1')!;
  const verdicts = Array.from({ length: 9 }, (_, i) => rrl.check(i % 2 ? a : b, 1000));
  assert.deepEqual(verdicts, ['pass', 'pass', 'pass', 'pass', 'pass', 'drop', 'slip', 'drop', 'slip']);
  assert.equal(rrl.check(c, 1000), 'pass');
  assert.equal(rrl.check(a, 1100), 'pass'); // 100 ms at 10/s: one token back
  assert.notEqual(rrl.check(a, 1100), 'pass');
});

test('fast path: plain queries are answered from the response cache — ID, RD and the question\'s letter case patched; same bytes as a fresh encode', () => {
  const ctx = wireCtx();
  const first = answer(query('www.example.com', 'A', { id: 1 }), LOCAL, true, ctx).bytes!;
  const q2 = query('WwW.eXample.COM', 'A', { id: 0xbeef });
  q2[2] |= 0x01; // RD
  const second = answer(q2, LOCAL, true, ctx).bytes!;
  assert.equal(ctx.cache!.size, 1);
  const p = dnsPacket.decode(second);
  assert.equal(p.id, 0xbeef);
  assert.equal(p.flags! & 0x0100, 0x0100);
  assert.equal(p.questions![0].name, 'WwW.eXample.COM');
  assert.deepEqual(dnsPacket.decode(first).answers, p.answers);
  assert.equal(first[2] & 0x01, 0);
  // ECS answers are keyed by the subnet and the decision; the echoed scope comes along.
  const e1 = dnsPacket.decode(answer(query('app.example.com', 'A', { ecs: { ip: '203.0.113.0', source: 24 } }), LOCAL, true, ctx).bytes!);
  const e2 = dnsPacket.decode(answer(query('app.example.com', 'A', { ecs: { ip: '198.51.100.0', source: 24 } }), LOCAL, true, ctx).bytes!);
  assert.equal((e1.answers![0] as { data: string }).data, '198.51.100.2');
  assert.equal((e2.answers![0] as { data: string }).data, '198.51.100.1');
  // A name with a byte outside LDH goes the general way and still works.
  assert.equal(answer(query('w\\.x.example.com', 'A'), LOCAL, true, ctx).rcode, 3);
});

test('geo with a MaxMind database: the map overrides, then country, then continent → region; scope from the database block; bad files refused by path', async () => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { writeMmdb } = await import('./helpers/mmdb-writer.ts');
  const dir = await mkdtemp(join(tmpdir(), 'fulcrum-mmdb-'));
  try {
    const file = join(dir, 'geo.mmdb');
    await writeFile(file, writeMmdb([
      { cidr: '100.64.0.0/10', country: 'DE', continent: 'EU' },
      { cidr: '100.128.0.0/9', country: 'US', continent: 'NA' },
      { cidr: '5.0.0.0/8', country: 'FR', continent: 'EU' },
    ]));
    const gslb = {
      zones: [{ name: 'example.com' }],
      sites: [{ name: 'eu', addresses: ['198.51.100.1'] }, { name: 'us', addresses: ['198.51.100.2'] }, { name: 'ap', addresses: ['198.51.100.3'] }],
      names: [{
        name: 'app.example.com', policy: 'geo', targets: [{ site: 'ap' }, { site: 'eu' }, { site: 'us' }],
        geo: { map: [{ cidr: '100.64.7.0/24', region: 'us' }], mmdb: { path: file, regions: { US: 'us', EU: 'eu' } } },
      }],
    };
    const rt = new GslbRuntime(gslbConfig(gslb), log);
    const ctx = (rt as unknown as { ctx: WireContext }).ctx;
    const ask = (ip: string) => {
      const p = dnsPacket.decode(answer(query('app.example.com', 'A', { ecs: { ip, source: 24 } }), LOCAL, true, ctx).bytes!);
      const ecs = (p.additionals![0] as dnsPacket.OptAnswer).options!.find((o) => o.code === 8) as { scopePrefixLength: number };
      return [(p.answers![0] as { data: string }).data, ecs.scopePrefixLength];
    };
    assert.deepEqual(ask('100.64.1.0'), ['198.51.100.1', 22]); // DE → continent EU → eu; scope: the /10 narrowed to exclude the map's 100.64.7.0/24
    assert.deepEqual(ask('100.64.7.0'), ['198.51.100.2', 24]); // the map wins
    assert.deepEqual(ask('100.200.0.0'), ['198.51.100.2', 9]); // US → us
    assert.deepEqual(ask('5.5.5.0'), ['198.51.100.1', 8]); // FR → continent EU
    assert.equal(ask('8.8.8.0')[0], '198.51.100.3'); // not in the database: default (first target)

    await writeFile(join(dir, 'bad.mmdb'), 'not a database');
    const bad = validateConfig(configWith({ ...gslb, names: [{ ...gslb.names[0], geo: { mmdb: { path: join(dir, 'bad.mmdb'), regions: { US: 'mars' } } } }] }));
    const text = bad.ok ? '' : bad.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
    assert.match(text, /gslb\.names\[0\]\.geo\.mmdb\.path: ".*bad\.mmdb" is not a MaxMind database/);
    assert.match(text, /gslb\.names\[0\]\.geo\.mmdb\.regions\.US: unknown site "mars"/);
    const missing = validateConfig(configWith({ ...gslb, names: [{ ...gslb.names[0], geo: { mmdb: { path: join(dir, 'nope.mmdb'), regions: {} } } }] }));
    assert.match(missing.ok ? '' : missing.problems[0].message, /cannot read ".*nope\.mmdb": ENOENT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('exact-bytes cache (UDP): a repeated query from the same resolver is a copy with the ID patched; answers that may vary are never stored', () => {
  const ctx = wireCtx();
  const q = query('app.example.com', 'A', { id: 5, ecs: { ip: '203.0.113.0', source: 24 } });
  const a = answer(q, LOCAL, true, ctx, '127.0.0.1').bytes!;
  assert.equal(ctx.exact!.size, 1);
  q.writeUInt16BE(6, 0);
  const b = answer(q, LOCAL, true, ctx, '127.0.0.1').bytes!;
  assert.equal(b.readUInt16BE(0), 6);
  assert.deepEqual(a.subarray(2), b.subarray(2));
  answer(q, LOCAL, true, ctx, '127.0.0.2'); // another resolver: its own entry
  assert.equal(ctx.exact!.size, 2);
  answer(q, LOCAL, false, ctx, '127.0.0.1'); // TCP: never
  assert.equal(ctx.exact!.size, 2);

  const rt = new GslbRuntime(gslbConfig({
    zones: [{ name: 'example.com' }],
    sites: [{ name: 'a', addresses: ['10.0.0.1'] }, { name: 'b', addresses: ['10.0.0.2'] }],
    names: [
      { name: 'w.example.com', policy: 'weighted', targets: [{ site: 'a' }, { site: 'b' }] },
      { name: 'm.example.com', policy: 'all-healthy', targets: [{ site: 'a' }, { site: 'b' }] },
      { name: 'f.example.com', policy: 'failover', unstableTtl: 5, targets: [{ site: 'a' }, { site: 'b' }] },
    ],
  }), log);
  const c2 = (rt as unknown as { ctx: WireContext }).ctx;
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const r = dnsPacket.decode(answer(query('w.example.com', 'A', { id: i }), LOCAL, true, c2, '127.0.0.1').bytes!);
    seen.add((r.answers![0] as { data: string }).data);
    answer(query('m.example.com', 'A', { id: i }), LOCAL, true, c2, '127.0.0.1');
    answer(query('f.example.com', 'A', { id: i }), LOCAL, true, c2, '127.0.0.1');
  }
  assert.equal(seen.size, 2, 'weighted random still varies');
  assert.equal(c2.exact!.size, 0);
});

test('wire: IPv6 ECS subnets decide with IPv6 map blocks; the scope is echoed for family 2', () => {
  const rt = new GslbRuntime(gslbConfig({
    zones: [{ name: 'example.com' }],
    sites: [{ name: 'eu', addresses: ['198.51.100.1', '2001:db8:e::1'] }, { name: 'us', addresses: ['198.51.100.2', '2001:db8:a::1'] }],
    names: [{ name: 'app.example.com', policy: 'geo', targets: [{ site: 'eu' }, { site: 'us' }], geo: { map: [{ cidr: '2001:db8:1000::/36', region: 'us' }], default: 'eu' } }],
  }), log);
  const ctx = (rt as unknown as { ctx: WireContext }).ctx;
  const ask = (ip: string, source: number, type = 'AAAA') => {
    const p = dnsPacket.decode(answer(query('app.example.com', type, { ecs: { ip, source } }), LOCAL, true, ctx).bytes!);
    const ecs = (p.additionals![0] as dnsPacket.OptAnswer).options!.find((o) => o.code === 8) as { family: number; sourcePrefixLength: number; scopePrefixLength: number };
    return [(p.answers![0] as { data: string }).data, ecs.family, ecs.sourcePrefixLength, ecs.scopePrefixLength];
  };
  assert.deepEqual(ask('2001:db8:1234::', 48), ['2001:db8:a::1', 2, 48, 36]);
  assert.deepEqual(ask('2001:db8:1234::', 48, 'A'), ['198.51.100.2', 2, 48, 36]);
  assert.deepEqual(ask('2001:db8:2000::', 56), ['2001:db8:e::1', 2, 56, 35]); // outside: the widest block without the /36
});
