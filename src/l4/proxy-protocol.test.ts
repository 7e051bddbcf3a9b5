/**
 * PROXY protocol v1/v2 (HAProxy doc/proxy-protocol.txt): byte-exact encodings against the spec's
 * examples and layouts, round trips, TLVs and CRC32C, LOCAL, every prefix of a valid header is
 * 'incomplete', corruptions are 'invalid', arbitrary bytes never throw, socket address mapping.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fc from 'fast-check';
import {
  parseProxyHeader, encodeProxyV1, encodeProxyV2, proxyAddressOf, crc32c, formatIPv6, parseIPv6,
  PROXY_V2_SIGNATURE, type ProxyAddress, type ProxyParse,
} from './proxy-protocol.ts';

const SIG_HEX = '0d0a0d0a000d0a515549540a';
const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ok = (r: ProxyParse) => {
  assert.equal(r.status, 'ok', JSON.stringify(r));
  return r as Extract<ProxyParse, { status: 'ok' }>;
};
const invalid = (buf: Buffer, re: RegExp): void => {
  const r = parseProxyHeader(buf);
  assert.equal(r.status, 'invalid', `${JSON.stringify(buf.toString('latin1'))} → ${JSON.stringify(r)}`);
  assert.match((r as { reason: string }).reason, re);
};
/** A v2 header from its parts: ver/cmd byte, fam/proto byte, body (address block + TLVs). */
const v2 = (verCmd: number, famProto: number, body: Buffer, len = body.length): Buffer => {
  const h = Buffer.alloc(4);
  h[0] = verCmd;
  h[1] = famProto;
  h.writeUInt16BE(len, 2);
  return Buffer.concat([PROXY_V2_SIGNATURE, h, body]);
};
const tlv = (type: number, value: Buffer): Buffer => {
  const h = Buffer.alloc(3);
  h[0] = type;
  h.writeUInt16BE(value.length, 1);
  return Buffer.concat([h, value]);
};
const IPV4_BLOCK = hex('c0a80001 c0a8000b dc04 01bb'); // 192.168.0.1 → 192.168.0.11, 56324 → 443

test('v1: the spec example line, byte-exact both ways, followed by the payload', () => {
  const line = 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n';
  const a: ProxyAddress = { family: 'tcp4', srcAddr: '192.168.0.1', srcPort: 56324, dstAddr: '192.168.0.11', dstPort: 443 };
  assert.equal(encodeProxyV1(a).toString('latin1'), line);
  const r = ok(parseProxyHeader(ascii(`${line}GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n`)));
  assert.deepEqual(r, { status: 'ok', length: line.length, info: { ...a, version: 1, local: false } });
});

test('v1: TCP6 canonical text (RFC 5952) and the longest lines the spec lists', () => {
  const a: ProxyAddress = { family: 'tcp6', srcAddr: '2001:DB8:0:0:0:0:0:1', srcPort: 0, dstAddr: '::ffff:10.0.0.1', dstPort: 65535 };
  assert.equal(encodeProxyV1(a).toString('latin1'), 'PROXY TCP6 2001:db8::1 ::ffff:a00:1 0 65535\r\n');
  const r = ok(parseProxyHeader(encodeProxyV1(a)));
  assert.deepEqual(r.info, { version: 1, local: false, family: 'tcp6', srcAddr: '2001:db8::1', srcPort: 0, dstAddr: '::ffff:10.0.0.1', dstPort: 65535 });
  const max4 = 'PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n';
  assert.equal(ok(parseProxyHeader(ascii(max4))).length, 56);
  const f = Array(8).fill('ffff').join(':');
  const max6 = `PROXY TCP6 ${f} ${f} 65535 65535\r\n`;
  assert.equal(max6.length, 104);
  assert.equal(ok(parseProxyHeader(ascii(max6))).info.srcAddr, f);
  const worst = `PROXY UNKNOWN ${f} ${f} 65535 65535\r\n`;
  assert.equal(worst.length, 107);
  assert.deepEqual(ok(parseProxyHeader(ascii(worst))), {
    status: 'ok', length: 107,
    info: { version: 1, local: false, family: 'unknown', srcAddr: '', srcPort: 0, dstAddr: '', dstPort: 0 },
  });
});

test('v1: UNKNOWN, short and long form; udp and unfillable addresses encode as UNKNOWN', () => {
  assert.equal(ok(parseProxyHeader(ascii('PROXY UNKNOWN\r\nxyz'))).length, 15);
  assert.equal(ok(parseProxyHeader(ascii('PROXY UNKNOWN anything at all\r\n'))).info.family, 'unknown');
  const unk = { family: 'unknown', srcAddr: '', srcPort: 0, dstAddr: '', dstPort: 0 } as const;
  for (const a of [
    unk,
    { family: 'udp4', srcAddr: '1.2.3.4', srcPort: 1, dstAddr: '5.6.7.8', dstPort: 2 },
    { family: 'tcp4', srcAddr: '2001:db8::1', srcPort: 1, dstAddr: '5.6.7.8', dstPort: 2 },
    { family: 'tcp4', srcAddr: '1.2.3.4', srcPort: 65536, dstAddr: '5.6.7.8', dstPort: 2 },
  ] as ProxyAddress[]) {
    assert.equal(encodeProxyV1(a).toString('latin1'), 'PROXY UNKNOWN\r\n', JSON.stringify(a));
  }
});

test('v2: byte-exact TCP4, UDP4, TCP6, UDP6 and LOCAL headers', () => {
  const a4: ProxyAddress = { family: 'tcp4', srcAddr: '192.168.0.1', srcPort: 56324, dstAddr: '192.168.0.11', dstPort: 443 };
  assert.equal(encodeProxyV2(a4).toString('hex'), `${SIG_HEX}2111000c` + 'c0a80001c0a8000bdc0401bb');
  assert.equal(encodeProxyV2({ ...a4, family: 'udp4' }).toString('hex'), `${SIG_HEX}2112000c` + 'c0a80001c0a8000bdc0401bb');
  const a6: ProxyAddress = { family: 'tcp6', srcAddr: '2001:db8::1', srcPort: 1, dstAddr: '1.2.3.4', dstPort: 2 };
  const block6 = '20010db8000000000000000000000001' + '00000000000000000000ffff01020304' + '00010002';
  assert.equal(encodeProxyV2(a6).toString('hex'), `${SIG_HEX}21210024${block6}`);
  assert.equal(encodeProxyV2({ ...a6, family: 'udp6' }).toString('hex'), `${SIG_HEX}21220024${block6}`);
  const local = encodeProxyV2({ family: 'unknown', srcAddr: '', srcPort: 0, dstAddr: '', dstPort: 0 });
  assert.equal(local.toString('hex'), `${SIG_HEX}20000000`);
  assert.deepEqual(ok(parseProxyHeader(local)), {
    status: 'ok', length: 16,
    info: { version: 2, local: true, family: 'unknown', srcAddr: '', srcPort: 0, dstAddr: '', dstPort: 0 },
  });
  const r6 = ok(parseProxyHeader(encodeProxyV2(a6)));
  assert.deepEqual(r6, { status: 'ok', length: 52, info: { ...a6, dstAddr: '::ffff:1.2.3.4', version: 2, local: false } });
});

test('v2: TLVs are skipped, their framing checked, CRC32C verified', () => {
  assert.equal(crc32c(ascii('123456789')), 0xe3069283); // RFC 4960 appendix B check value
  const tlvs = Buffer.concat([tlv(0x01, ascii('h2')), tlv(0x02, ascii('example.com')), tlv(0x04, Buffer.alloc(5)), tlv(0xe0, Buffer.alloc(0))]);
  const h = v2(0x21, 0x11, Buffer.concat([IPV4_BLOCK, tlvs]));
  const r = ok(parseProxyHeader(Buffer.concat([h, ascii('payload')])));
  assert.equal(r.length, 16 + 12 + tlvs.length);
  assert.deepEqual(r.info, { version: 2, local: false, family: 'tcp4', srcAddr: '192.168.0.1', srcPort: 56324, dstAddr: '192.168.0.11', dstPort: 443 });
  // CRC32C over the whole header with the checksum field zeroed.
  const withCrc = v2(0x21, 0x11, Buffer.concat([IPV4_BLOCK, tlv(0x03, Buffer.alloc(4)), tlv(0x02, ascii('a.example'))]));
  withCrc.writeUInt32BE(crc32c(withCrc), 16 + 12 + 3);
  assert.equal(ok(parseProxyHeader(withCrc)).length, withCrc.length);
  const bad = Buffer.from(withCrc);
  bad[bad.length - 1] ^= 1;
  invalid(bad, /CRC32C mismatch/);
  invalid(v2(0x21, 0x11, Buffer.concat([IPV4_BLOCK, tlv(0x03, Buffer.alloc(2))])), /CRC32C TLV must be 4 bytes/);
  invalid(v2(0x21, 0x11, Buffer.concat([IPV4_BLOCK, tlv(0x02, ascii('abc')).subarray(0, 5)])), /TLV 0x2 overruns/);
  invalid(v2(0x21, 0x11, Buffer.concat([IPV4_BLOCK, hex('0200')])), /truncated TLV header/);
});

test('v2: LOCAL ignores the block; UNIX and UNSPEC give family unknown; IPv4-mapped stays tcp6', () => {
  const r = ok(parseProxyHeader(v2(0x20, 0x11, Buffer.alloc(3, 0xee))));
  assert.deepEqual([r.length, r.info.local, r.info.family, r.info.srcAddr], [19, true, 'unknown', '']);
  const unix = ok(parseProxyHeader(v2(0x21, 0x31, Buffer.alloc(216, 0x61))));
  assert.deepEqual([unix.length, unix.info.local, unix.info.family, unix.info.dstAddr], [232, false, 'unknown', '']);
  const unspec = ok(parseProxyHeader(v2(0x21, 0x00, Buffer.alloc(7))));
  assert.deepEqual([unspec.length, unspec.info.local, unspec.info.family], [23, false, 'unknown']);
  const mapped = ok(parseProxyHeader(v2(0x21, 0x21, hex('00000000000000000000ffff7f000001 0000000000000000000000000000ffff 0050 01bb'))));
  assert.deepEqual(mapped.info, { version: 2, local: false, family: 'tcp6', srcAddr: '::ffff:127.0.0.1', srcPort: 80, dstAddr: '::ffff', dstPort: 443 });
});

test('v1: corrupted lines are invalid', () => {
  const cases: [string, RegExp][] = [
    ['PROXY TCP4 1.2.3.4 5.6.7.8 65536 80\r\n', /bad source port/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 80 080\r\n', /bad destination port/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 -1 80\r\n', /bad source port/],
    ['PROXY TCP4 01.2.3.4 5.6.7.8 1 80\r\n', /bad source IPv4/],
    ['PROXY TCP4 1.2.3.4 5.6.7.256 1 80\r\n', /bad destination IPv4/],
    ['PROXY TCP4 1.2.3.4 ::1 1 80\r\n', /bad destination IPv4/],
    ['PROXY TCP6 1.2.3.4 ::1 1 80\r\n', /bad source IPv6/],
    ['PROXY TCP6 ::1 1::2::3 1 80\r\n', /bad destination IPv6/],
    ['PROXY TCP6 fe80::1%eth0 ::1 1 80\r\n', /unexpected character|bad source IPv6/],
    ['PROXY TCP4 1.2.3.4  5.6.7.8 1 80\r\n', /exactly 4/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 80 \r\n', /exactly 4/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', /exactly 4/],
    ['PROXY TCP5 1.2.3.4 5.6.7.8 1 80\r\n', /unknown protocol "TCP5"/],
    ['PROXY UNKNOWNX\r\n', /unknown protocol/],
    ['PROXY tcp4 1.2.3.4 5.6.7.8 1 80\r\n', /unknown protocol/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 80\n', /LF without CR/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 80\rX', /CR without LF/],
    ['PROXY  TCP4', /unknown protocol ""/],
    ['PROXYTCP4', /no PROXY header/],
    ['proxy TCP4', /no PROXY header/],
    ['GET / HTTP/1.1\r\n', /no PROXY header/],
    [`PROXY UNKNOWN ${'a'.repeat(92)}`, /no CRLF within the first 107 bytes/], // 106 bytes, no CR yet
    [`PROXY UNKNOWN ${'a'.repeat(92)}\r\n`, /no CRLF within the first 107 bytes/], // 108 bytes
  ];
  for (const [s, re] of cases) invalid(ascii(s), re);
  assert.equal(ok(parseProxyHeader(ascii(`PROXY UNKNOWN ${'a'.repeat(91)}\r\n`))).length, 107);
  assert.deepEqual(parseProxyHeader(ascii(`PROXY UNKNOWN ${'a'.repeat(91)}\r`)), { status: 'incomplete' });
});

test('v1: a line that cannot become valid is refused before its CRLF arrives', () => {
  invalid(ascii('PROXY X'), /unknown protocol "X"/);
  invalid(ascii('PROXY TCP4\r'), /needs addresses/);
  invalid(ascii('PROXY TCP4 1.2.3.4 g'), /unexpected character/);
  assert.deepEqual(parseProxyHeader(ascii('PROXY TCP')), { status: 'incomplete' });
  assert.deepEqual(parseProxyHeader(ascii('PROXY UNKNOWN \x01\xff')), { status: 'incomplete' });
});

test('v2: corrupted headers are invalid', () => {
  const good = encodeProxyV2({ family: 'tcp4', srcAddr: '1.2.3.4', srcPort: 1, dstAddr: '5.6.7.8', dstPort: 2 });
  for (let i = 0; i < 12; i++) {
    const b = Buffer.from(good);
    b[i] ^= 0x40;
    invalid(b, /no PROXY header/);
    invalid(b.subarray(0, i + 1), /no PROXY header/); // refused as soon as the byte arrives
  }
  const at = (i: number, v: number): Buffer => { const b = Buffer.from(good); b[i] = v; return b; };
  invalid(at(12, 0x11), /unsupported version 1/);
  invalid(at(12, 0x31).subarray(0, 13), /unsupported version 3/);
  invalid(at(12, 0x22), /unknown command 2/);
  invalid(at(13, 0x41), /unknown address family 4/);
  invalid(at(13, 0x13), /unknown transport protocol 3/);
  invalid(v2(0x21, 0x11, Buffer.alloc(11)), /address block shorter than 12/);
  invalid(v2(0x21, 0x21, Buffer.alloc(35)), /address block shorter than 36/);
  invalid(v2(0x21, 0x32, Buffer.alloc(215)), /address block shorter than 216/);
  // Total length 16 + 4081 = 4097 is refused from the fixed 16 bytes alone; 4096 is accepted.
  invalid(v2(0x21, 0x11, Buffer.alloc(0), 4081), /oversized/);
  invalid(v2(0x21, 0x11, Buffer.alloc(0), 0xffff), /oversized/);
  const biggest = v2(0x21, 0x11, Buffer.concat([IPV4_BLOCK, tlv(0x04, Buffer.alloc(4080 - 12 - 3))]));
  assert.equal(ok(parseProxyHeader(biggest)).length, 4096);
});

const octet = fc.integer({ min: 0, max: 255 });
const ipv4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
/** 16 bytes, often with runs of zero groups so that "::" compression is exercised. */
const ipv6Bytes = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
  .map((w) => { const b = new Uint8Array(16); w.forEach((x, i) => { b[2 * i] = x >> 8; b[2 * i + 1] = x & 0xff; }); return b; });
const fullHex = (b: Uint8Array): string => Array.from({ length: 8 }, (_, i) => ((b[2 * i] << 8) | b[2 * i + 1]).toString(16).toUpperCase().padStart(4, '0')).join(':');
const port = fc.integer({ min: 0, max: 65535 });
const address: fc.Arbitrary<ProxyAddress> = fc.oneof(
  fc.record({ family: fc.constantFrom('tcp4', 'udp4'), srcAddr: ipv4, srcPort: port, dstAddr: ipv4, dstPort: port }),
  fc.record({ family: fc.constantFrom('tcp6', 'udp6'), srcAddr: ipv6Bytes.map(fullHex), srcPort: port, dstAddr: ipv6Bytes.map(fullHex), dstPort: port }),
  fc.constant({ family: 'unknown', srcAddr: '', srcPort: 0, dstAddr: '', dstPort: 0 }),
) as fc.Arbitrary<ProxyAddress>;

test('IPv6 text: RFC 5952 form equals the WHATWG URL serializer; full, upper-case and canonical forms parse alike', () => {
  fc.assert(fc.property(ipv6Bytes, (b) => {
    const canonical = new URL(`http://[${fullHex(b)}]/`).hostname.slice(1, -1);
    assert.equal(formatIPv6(b, false), canonical);
    assert.deepEqual(parseIPv6(fullHex(b)), b);
    assert.deepEqual(parseIPv6(canonical), b);
    assert.deepEqual(parseIPv6(canonical.toUpperCase()), b);
  }), { numRuns: 300 });
  for (const bad of ['', ':', ':::', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2:3:4:5:6:7:8', '12345::', '::1.2.3', '1.2.3.4::', 'g::']) {
    assert.equal(parseIPv6(bad), null, bad);
  }
});

test('round trips: parse(encode(a)) gives a back, for v1 (tcp) and v2 (all families)', () => {
  fc.assert(fc.property(address, fc.uint8Array({ maxLength: 20 }), (a, tail) => {
    const canon = (s: string): string => (s.includes(':') ? formatIPv6(parseIPv6(s)!, true) : s);
    const expect = { ...a, srcAddr: canon(a.srcAddr), dstAddr: canon(a.dstAddr) };
    const e2 = encodeProxyV2(a);
    const r2 = ok(parseProxyHeader(Buffer.concat([e2, tail])));
    assert.equal(r2.length, e2.length);
    assert.deepEqual(r2.info, { ...expect, version: 2, local: a.family === 'unknown' });
    const e1 = encodeProxyV1(a);
    const r1 = ok(parseProxyHeader(Buffer.concat([e1, tail])));
    assert.equal(r1.length, e1.length);
    const v1expect = a.family === 'tcp4' || a.family === 'tcp6' ? expect : { family: 'unknown', srcAddr: '', srcPort: 0, dstAddr: '', dstPort: 0 };
    assert.deepEqual(r1.info, { ...v1expect, version: 1, local: false });
  }), { numRuns: 300 });
});

test('every strict prefix of a valid header is incomplete', () => {
  const fixed = [
    ascii(`PROXY UNKNOWN ${'ffff:'.repeat(7)}ffff ::1 65535 65535\r\n`),
    v2(0x21, 0x11, Buffer.concat([IPV4_BLOCK, tlv(0x02, ascii('example.com'))])),
    v2(0x20, 0x00, Buffer.alloc(0)),
  ];
  const check = (h: Buffer): void => {
    for (let n = 0; n < h.length; n++) {
      assert.deepEqual(parseProxyHeader(h.subarray(0, n)), { status: 'incomplete' }, `${n}/${h.length} of ${h.toString('hex')}`);
    }
    assert.equal(ok(parseProxyHeader(h)).length, h.length);
  };
  fixed.forEach(check);
  fc.assert(fc.property(address, fc.boolean(), (a, one) => check(one ? encodeProxyV1(a) : encodeProxyV2(a))), { numRuns: 200 });
});

test('arbitrary and mutated bytes never throw; an ok verdict is self-consistent', () => {
  const verdictOk = (buf: Buffer): void => {
    const r = parseProxyHeader(buf);
    assert.ok(['ok', 'incomplete', 'invalid'].includes(r.status));
    if (r.status === 'invalid') assert.ok(r.reason.length > 0);
    if (r.status === 'ok') {
      assert.ok(r.length > 0 && r.length <= buf.length);
      assert.deepEqual(parseProxyHeader(buf.subarray(0, r.length)), r);
      if (r.info.family === 'tcp4' || r.info.family === 'udp4') assert.ok(net.isIPv4(r.info.srcAddr) && net.isIPv4(r.info.dstAddr));
      if (r.info.family === 'tcp6' || r.info.family === 'udp6') assert.ok(net.isIPv6(r.info.srcAddr) && net.isIPv6(r.info.dstAddr));
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => verdictOk(Buffer.from(b))), { numRuns: 2000 });
  // Valid headers with bytes overwritten, or cut and extended: closer to the parser's edges.
  const mutated = fc.tuple(address, fc.boolean(), fc.array(fc.tuple(fc.nat(), octet), { maxLength: 4 }), fc.uint8Array({ maxLength: 40 }))
    .map(([a, one, edits, tail]) => {
      const b = Buffer.concat([one ? encodeProxyV1(a) : encodeProxyV2(a), tail]);
      for (const [i, v] of edits) b[i % b.length] = v;
      return b;
    });
  fc.assert(fc.property(mutated, verdictOk), { numRuns: 2000 });
});

test('proxyAddressOf: IPv4-mapped → tcp4, mixed → tcp6, udp, zone ids dropped, closed socket → unknown', () => {
  assert.deepEqual(
    proxyAddressOf({ remoteAddress: '::ffff:10.1.2.3', remotePort: 40000, localAddress: '::ffff:10.0.0.1', localPort: 443 }),
    { family: 'tcp4', srcAddr: '10.1.2.3', srcPort: 40000, dstAddr: '10.0.0.1', dstPort: 443 },
  );
  assert.deepEqual(
    proxyAddressOf({ remoteAddress: '::FFFF:10.1.2.3', remotePort: 1, localAddress: '2001:db8::1', localPort: 2 }, true),
    { family: 'udp6', srcAddr: '::ffff:10.1.2.3', srcPort: 1, dstAddr: '2001:db8::1', dstPort: 2 },
  );
  assert.deepEqual(
    proxyAddressOf({ remoteAddress: 'fe80::1%eth0', remotePort: 1, localAddress: 'fe80::2%eth0', localPort: 2 }),
    { family: 'tcp6', srcAddr: 'fe80::1', srcPort: 1, dstAddr: 'fe80::2', dstPort: 2 },
  );
  assert.equal(proxyAddressOf({ remoteAddress: '::ffff:1:2:3', remotePort: 1, localAddress: '1.2.3.4', localPort: 2 }).family, 'tcp6');
  assert.equal(proxyAddressOf({ localAddress: '1.2.3.4', localPort: 2 }).family, 'unknown');
  assert.equal(proxyAddressOf({ remoteAddress: '1.2.3.4', localAddress: '1.2.3.4', localPort: 2 }).family, 'unknown');
});

test('proxyAddressOf on real loopback sockets (IPv4, and dual-stack "::" when available)', async () => {
  const accepted = async (host: string): Promise<{ server: net.Socket; client: net.Socket; srv: net.Server } | null> => {
    const srv = net.createServer();
    try {
      await new Promise<void>((res, rej) => { srv.once('error', rej); srv.listen(0, host, () => res()); });
    } catch {
      return null;
    }
    const got = new Promise<net.Socket>((res) => srv.once('connection', res));
    const client = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
    await new Promise((res) => client.once('connect', res));
    return { server: await got, client, srv };
  };
  for (const host of ['127.0.0.1', '::']) {
    const c = await accepted(host);
    if (c === null) continue; // no IPv6 on this machine: the IPv4 case still ran
    try {
      const a = proxyAddressOf(c.server);
      assert.deepEqual(a, { family: 'tcp4', srcAddr: '127.0.0.1', srcPort: c.client.localPort, dstAddr: '127.0.0.1', dstPort: (c.srv.address() as net.AddressInfo).port });
      assert.equal(encodeProxyV1(a).toString('latin1'), `PROXY TCP4 127.0.0.1 127.0.0.1 ${c.client.localPort} ${a.dstPort}\r\n`);
    } finally {
      c.client.destroy();
      c.server.destroy();
      c.srv.close();
    }
  }
});
