/**
 * ClientHello peek (RFC 8446 §4.1.2, §5.1; RFC 6066 §3): real hellos from node:tls and
 * `openssl s_client` captured on a loopback socket, every prefix 'incomplete', the handshake
 * re-framed over several records, length fields corrupted → refused, arbitrary bytes never throw,
 * the size bound, and the SNI rules on hand-built hellos.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { spawn, spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { parseClientHello, type HelloParse } from './client-hello.ts';

// ---------------------------------------------------------------------------------------------
// Capturing real hellos

/** Handshake bytes gathered from complete records so far, framed independently of the parser. */
function helloComplete(b: Buffer): boolean {
  let off = 0;
  let have = 0;
  while (off + 5 <= b.length) {
    const len = b.readUInt16BE(off + 3);
    if (off + 5 + len > b.length) return false;
    have += len;
    off += 5 + len;
    const first = b.subarray(5, 5 + Math.min(4, have));
    if (have >= 4 && have >= 4 + ((first[1] << 16) | (first[2] << 8) | first[3])) return true;
  }
  return false;
}

/** Starts a capturing server, runs `client(port)`, returns the bytes of the client's first flight. */
async function capture(client: (port: number) => { stop(): void }): Promise<Buffer> {
  const srv = net.createServer();
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', () => res()));
  const c = client((srv.address() as net.AddressInfo).port);
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no ClientHello within 4 s')), 4000);
      srv.once('connection', (s) => {
        let b = Buffer.alloc(0);
        s.on('data', (d: Buffer) => {
          b = Buffer.concat([b, d]);
          if (helloComplete(b)) { clearTimeout(timer); s.destroy(); resolve(b); }
        });
        s.on('error', () => {});
      });
    });
  } finally {
    c.stop();
    srv.close();
  }
}

const nodeHello = (opts: tls.ConnectionOptions): Promise<Buffer> =>
  capture((port) => {
    const sock = tls.connect({ port, host: '127.0.0.1', ...opts });
    sock.on('error', () => {});
    return { stop: () => sock.destroy() };
  });

const opensslHello = (args: string[]): Promise<Buffer> =>
  capture((port) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', () => {});
    return { stop: () => child.kill() };
  });

const ok = (r: HelloParse) => {
  assert.equal(r.status, 'ok', JSON.stringify(r));
  return r as Extract<HelloParse, { status: 'ok' }>;
};
const invalid = (r: HelloParse, re: RegExp): void => {
  assert.equal(r.status, 'invalid', JSON.stringify(r));
  assert.match((r as { reason: string }).reason, re);
};

// ---------------------------------------------------------------------------------------------
// Building and re-framing hellos

/** Handshake bytes of a ClientHello with the given extensions (none when `exts` is null). */
function buildHello(exts: [number, Buffer][] | null, sessionId = Buffer.alloc(32, 0xab)): Buffer {
  const parts: Buffer[] = [Buffer.from([3, 3]), Buffer.alloc(32, 0x5a), Buffer.from([sessionId.length]), sessionId,
    Buffer.from([0, 4, 0x13, 0x01, 0xc0, 0x2f]), Buffer.from([1, 0])];
  if (exts !== null) {
    const blocks = exts.map(([t, d]) => Buffer.concat([u16(t), u16(d.length), d]));
    const all = Buffer.concat(blocks);
    parts.push(u16(all.length), all);
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([1, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
}
function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
/** server_name extension data holding the given (name_type, name) entries. */
function serverName(...entries: [number, Buffer | string][]): Buffer {
  const list = Buffer.concat(entries.map(([t, n]) => {
    const nb = typeof n === 'string' ? Buffer.from(n, 'latin1') : n;
    return Buffer.concat([Buffer.from([t]), u16(nb.length), nb]);
  }));
  return Buffer.concat([u16(list.length), list]);
}
/** Frames handshake bytes into handshake records cut at the given fragment sizes (rest in the last). */
function frame(hs: Buffer, sizes: number[] = [], version = 0x0301): Buffer {
  const out: Buffer[] = [];
  let off = 0;
  for (const n of [...sizes, Infinity]) {
    if (off >= hs.length) break;
    const frag = hs.subarray(off, Math.min(hs.length, off + n));
    off += frag.length;
    out.push(Buffer.from([22, version >> 8, version & 0xff, frag.length >> 8, frag.length & 0xff]), frag);
  }
  return Buffer.concat(out);
}
/** The handshake bytes of captured single- or multi-record bytes. */
function unframe(b: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let off = 0; off + 5 <= b.length; ) {
    const len = b.readUInt16BE(off + 3);
    out.push(b.subarray(off + 5, off + 5 + len));
    off += 5 + len;
  }
  return Buffer.concat(out);
}

/** Offsets of the length fields of a single-record hello, found by walking it here. */
function lengthFields(rec: Buffer): { name: string; at: number; size: 1 | 2 | 3; strict: boolean }[] {
  const f: { name: string; at: number; size: 1 | 2 | 3; strict: boolean }[] = [
    { name: 'record', at: 3, size: 2, strict: false }, { name: 'handshake', at: 6, size: 3, strict: false },
  ];
  let p = 5 + 4 + 2 + 32;
  f.push({ name: 'session_id', at: p, size: 1, strict: false });
  p += 1 + rec[p];
  f.push({ name: 'cipher_suites', at: p, size: 2, strict: false });
  p += 2 + rec.readUInt16BE(p);
  f.push({ name: 'compression_methods', at: p, size: 1, strict: false });
  p += 1 + rec[p];
  f.push({ name: 'extensions', at: p, size: 2, strict: true });
  const end = p + 2 + rec.readUInt16BE(p);
  p += 2;
  while (p < end) {
    const type = rec.readUInt16BE(p);
    const len = rec.readUInt16BE(p + 2);
    if (type === 0) {
      f.push({ name: 'server_name ext', at: p + 2, size: 2, strict: true });
      f.push({ name: 'server_name list', at: p + 4, size: 2, strict: true });
      f.push({ name: 'host_name', at: p + 7, size: 2, strict: true });
    }
    p += 4 + len;
  }
  return f;
}
function setField(b: Buffer, at: number, size: number, v: number): Buffer {
  const c = Buffer.from(b);
  if (size === 1) c[at] = v & 0xff;
  else if (size === 2) c.writeUInt16BE(v & 0xffff, at);
  else c.writeUIntBE(v & 0xffffff, at, 3);
  return c;
}
function readField(b: Buffer, at: number, size: number): number {
  return size === 1 ? b[at] : size === 2 ? b.readUInt16BE(at) : b.readUIntBE(at, 3);
}

const captured: Record<string, Buffer> = {};
async function nodeNamed(): Promise<Buffer> {
  captured.named ??= await nodeHello({ servername: 'a.example.com' });
  return captured.named;
}

// ---------------------------------------------------------------------------------------------

test('node:tls hellos: SNI a.example.com, none when connecting to an IP, lowercased, TLS 1.2-only', async () => {
  const named = await nodeNamed();
  assert.deepEqual(parseClientHello(named), { status: 'ok', sni: 'a.example.com', length: named.length });
  const anon = await nodeHello({});
  assert.deepEqual(parseClientHello(anon), { status: 'ok', sni: null, length: anon.length });
  const mixed = await nodeHello({ servername: 'MiXeD.Example.ORG' });
  assert.equal(ok(parseClientHello(mixed)).sni, 'mixed.example.org');
  const old = await nodeHello({ servername: 'old.example.net', maxVersion: 'TLSv1.2' });
  assert.deepEqual(parseClientHello(Buffer.concat([old, Buffer.from([0x14, 3, 3, 0, 1, 1])])), { status: 'ok', sni: 'old.example.net', length: old.length });
});

test('openssl s_client hellos: -servername x.example.org, and -noservername', async (t) => {
  if (spawnSync('openssl', ['version']).error) {
    if (process.env.FULCRUM_TEST_STRICT === '1') assert.fail('openssl not found (package openssl) and FULCRUM_TEST_STRICT=1');
    t.skip('openssl not found: install the openssl package to run this test');
    return;
  }
  const named = await opensslHello(['-servername', 'x.example.org']);
  assert.deepEqual(parseClientHello(named), { status: 'ok', sni: 'x.example.org', length: named.length });
  const anon = await opensslHello(['-noservername']);
  assert.deepEqual(parseClientHello(anon), { status: 'ok', sni: null, length: anon.length });
  const tls12 = await opensslHello(['-servername', 'y.example.org', '-tls1_2']);
  assert.equal(ok(parseClientHello(tls12)).sni, 'y.example.org');
});

test('every strict prefix of a real hello is incomplete', async () => {
  const hello = await nodeNamed();
  for (let n = 0; n < hello.length; n++) {
    const r = parseClientHello(hello.subarray(0, n));
    if (r.status !== 'incomplete') assert.fail(`prefix ${n}/${hello.length}: ${JSON.stringify(r)}`);
  }
});

test('the hello re-framed over several records parses alike, and so does each of its prefixes', async () => {
  const hello = await nodeNamed();
  const hs = unframe(hello);
  const two = frame(hs, [100]);
  assert.deepEqual(parseClientHello(two), { status: 'ok', sni: 'a.example.com', length: hello.length + 5 });
  const tiny = frame(hs, [1, 1, 1, 1, 1]); // the 4-byte handshake header split over four records
  assert.deepEqual(parseClientHello(tiny), { status: 'ok', sni: 'a.example.com', length: hello.length + 25 });
  for (let n = 0; n < tiny.length; n++) assert.equal(parseClientHello(tiny.subarray(0, n)).status, 'incomplete', `prefix ${n}`);
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 6 }), fc.constantFrom(0x0301, 0x0303), (sizes, ver) => {
    const b = frame(hs, sizes, ver);
    const extra = Buffer.from([23, 3, 3, 0, 2, 9, 9]); // the next record is not part of the hello
    assert.deepEqual(parseClientHello(Buffer.concat([b, extra])), { status: 'ok', sni: 'a.example.com', length: b.length });
  }), { numRuns: 200 });
});

test('corrupted length fields of a real hello are refused (fast-check)', async () => {
  const hello = await nodeNamed();
  const fields = lengthFields(hello);
  assert.deepEqual(fields.map((f) => f.name).slice(-3), ['server_name ext', 'server_name list', 'host_name']);
  fc.assert(fc.property(fc.constantFrom(...fields), fc.integer({ min: 1, max: 0xffffff }), (f, delta) => {
    const was = readField(hello, f.at, f.size);
    const now = (was + delta) % (f.size === 1 ? 0x100 : f.size === 2 ? 0x10000 : 0x1000000);
    if (now === was) return;
    const r = parseClientHello(setField(hello, f.at, f.size, now));
    if (f.strict) assert.equal(r.status, 'invalid', `${f.name} ${was} → ${now}: ${JSON.stringify(r)}`);
    // Enlarging session_id / cipher_suites / compression_methods can swallow the rest of the body
    // and leave a consistent hello without extensions; never one that still names the server.
    else if (r.status === 'ok') assert.equal(r.sni, null, `${f.name} ${was} → ${now}`);
    if (f.name === 'record' || f.name === 'handshake') assert.notEqual(r.status, 'ok');
    if ((f.name === 'handshake' && now < was) || f.name === 'extensions') assert.equal(r.status, 'invalid');
    if ((f.name === 'record' || f.name === 'handshake') && now > was && now + 9 <= 65536 && now <= 16640) {
      assert.equal(r.status, 'incomplete', `${f.name} ${was} → ${now}`);
    }
  }), { numRuns: 1500 });
});

test('every other value of each length field of a hand-built hello is refused or loses the SNI (exhaustive)', () => {
  const hello = frame(buildHello([[0, serverName([0, 'host.example'])], [10, Buffer.from([0, 2, 0, 29])], [43, Buffer.from([2, 3, 4])]]));
  assert.deepEqual(parseClientHello(hello), { status: 'ok', sni: 'host.example', length: hello.length });
  for (const f of lengthFields(hello)) {
    const was = readField(hello, f.at, f.size);
    const top = f.size === 1 ? 0xff : 0xffff;
    let reread = 0;
    for (let v = 0; v <= top; v++) {
      if (v === was) continue;
      const r = parseClientHello(setField(hello, f.at, f.size, v));
      if (r.status !== 'ok') continue;
      // Only a field before the extensions, enlarged to end exactly at the body's end: a
      // consistent hello with no extensions, hence no SNI.
      if (f.strict || f.name === 'record' || f.name === 'handshake' || r.sni !== null) assert.fail(`${f.name} ${was} → ${v} accepted: ${JSON.stringify(r)}`);
      reread++;
    }
    assert.ok(reread <= 1, `${f.name}: ${reread} alternative readings`);
  }
});

test('not a ClientHello, bad records, bad handshake framing', () => {
  const hs = buildHello([[0, serverName([0, 'a.b'])]]);
  const rec = frame(hs);
  const notTls = /not a TLS ClientHello/;
  invalid(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n')), notTls);
  invalid(parseClientHello(Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01])), notTls); // SSLv2-style
  invalid(parseClientHello(Buffer.from([0x16, 0x02])), notTls);
  invalid(parseClientHello(Buffer.from([0x15, 3, 3, 0, 2, 2, 40])), notTls); // alert
  invalid(parseClientHello(Buffer.from([0x17])), notTls);
  invalid(parseClientHello(frame(Buffer.from([2, 0, 0, 0]))), notTls); // ServerHello
  invalid(parseClientHello(frame(hs, [], 0x0300)), /record version 0x0300/);
  invalid(parseClientHello(frame(hs, [], 0x0305)), /record version 0x0305/);
  invalid(parseClientHello(Buffer.from([22, 3, 1, 0, 0])), /empty handshake record/);
  invalid(parseClientHello(Buffer.from([22, 3, 1, 0x41, 0x01])), /record length 16641 exceeds 16640/);
  const split = frame(hs, [10]);
  const interleaved = Buffer.concat([split.subarray(0, 15), Buffer.from([21, 3, 3, 0, 2, 1, 0]), split.subarray(15)]);
  invalid(parseClientHello(interleaved), /record of type 21 inside the ClientHello/);
  invalid(parseClientHello(frame(Buffer.concat([hs, Buffer.from([1, 0, 0, 0])]))), /data after the ClientHello in its record/);
  const bumpVersion = Buffer.from(hs);
  bumpVersion[4] = 2;
  invalid(parseClientHello(frame(bumpVersion)), /legacy_version 0x0203/);
  invalid(parseClientHello(frame(buildHello(null, Buffer.alloc(33)))), /session_id of 33 bytes exceeds 32/);
  invalid(parseClientHello(frame(Buffer.from([1, 0, 0, 3, 3, 3, 0]))), /shorter than legacy_version/);
});

test('extensions: none at all is fine; duplicates and bad server_name lists are refused', () => {
  assert.deepEqual(parseClientHello(frame(buildHello(null))), { status: 'ok', sni: null, length: frame(buildHello(null)).length });
  assert.equal(ok(parseClientHello(frame(buildHello([])))).sni, null);
  assert.equal(ok(parseClientHello(frame(buildHello([[10, Buffer.from([0, 0])]])))).sni, null);
  assert.equal(ok(parseClientHello(frame(buildHello([[0, serverName([7, 'other'], [0, 'Z.Example'])]])))).sni, 'z.example');
  assert.equal(ok(parseClientHello(frame(buildHello([[0, serverName([7, 'only-other'])]])))).sni, null);
  invalid(parseClientHello(frame(buildHello([[0, serverName([0, 'a.example'])], [0, serverName([0, 'b.example'])]]))), /duplicate extension 0/);
  invalid(parseClientHello(frame(buildHello([[13, Buffer.from([0, 0])], [13, Buffer.from([0, 0])]]))), /duplicate extension 13/);
  invalid(parseClientHello(frame(buildHello([[0, serverName([0, 'a.example'], [0, 'b.example'])]]))), /more than one server_name of name_type 0/);
  invalid(parseClientHello(frame(buildHello([[0, Buffer.alloc(0)]]))), /server_name extension shorter/);
  invalid(parseClientHello(frame(buildHello([[0, Buffer.from([0, 0])]]))), /server_name list is empty/);
  invalid(parseClientHello(frame(buildHello([[0, Buffer.from([0, 2, 0, 0])]]))), /truncated server_name entry/);
});

test('SNI must be a DNS name: bad bytes, empty labels, labels over 63, names over 255 are refused', () => {
  const sniOf = (name: string | Buffer): HelloParse => parseClientHello(frame(buildHello([[0, serverName([0, name])]])));
  const label63 = 'a'.repeat(63);
  const name255 = `${label63}.${label63}.${label63}.${'b'.repeat(63)}`;
  assert.equal(name255.length, 255);
  for (const good of ['_acme-challenge.Example.COM', 'x', label63, name255, '10.0.0.1', 'xn--bcher-kva.example']) {
    assert.equal(ok(sniOf(good)).sni, good.toLowerCase(), good);
  }
  const cases: [string | Buffer, RegExp][] = [
    ['', /empty host_name/], ['a..b', /empty label/], ['a.', /empty label/], ['.a', /empty label/],
    ['exa mple.com', /byte 0x20/], ['a\0.evil.com', /byte 0x00/], [Buffer.from('bücher.example'), /byte 0xc3/],
    ['a/b', /byte 0x2f/], ['*.example.com', /byte 0x2a/], [`${'a'.repeat(64)}.com`, /label over 63/],
    [`${name255.slice(0, 254)}cd`, /256 bytes exceeds 255/],
  ];
  for (const [name, re] of cases) invalid(sniOf(name), re);
});

test('size bound: refused once the handshake length shows it cannot fit; a 60 KB hello over four records', async () => {
  const hello = await nodeNamed();
  invalid(parseClientHello(hello, 512), /^ClientHello larger than 512 bytes$/);
  invalid(parseClientHello(hello.subarray(0, 9), 512), /larger than 512/); // decided from the headers alone
  assert.equal(ok(parseClientHello(hello, hello.length)).length, hello.length);
  invalid(parseClientHello(hello, hello.length - 1), /larger than/);
  const big = buildHello([[0, serverName([0, 'big.example'])], [21, Buffer.alloc(60000)]]);
  const records = frame(big, [16384, 16384, 16384]);
  assert.deepEqual(parseClientHello(records), { status: 'ok', sni: 'big.example', length: records.length });
  invalid(parseClientHello(records, 50000), /^ClientHello larger than 50000 bytes$/);
  invalid(parseClientHello(records.subarray(0, 9), 50000), /larger than 50000/);
  // A handshake length of 70000 is refused by default from the first nine bytes.
  invalid(parseClientHello(Buffer.from([22, 3, 1, 0x40, 0, 1, 0x01, 0x11, 0x70])), /^ClientHello larger than 65536 bytes$/);
});

test('arbitrary and mutated bytes never throw; an ok verdict is self-consistent', async () => {
  const hello = await nodeNamed();
  const check = (b: Buffer): void => {
    const r = parseClientHello(b);
    if (r.status === 'invalid') assert.ok(r.reason.length > 0);
    else if (r.status === 'ok') {
      assert.ok(r.length > 0 && r.length <= b.length);
      assert.deepEqual(parseClientHello(b.subarray(0, r.length)), r);
      if (r.sni !== null) assert.match(r.sni, /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/);
    } else assert.equal(r.status, 'incomplete');
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => check(Buffer.from(b))), { numRuns: 1000 });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => check(Buffer.concat([Buffer.from([22, 3, 1, 1, 0x90, 1, 0, 1, 0x8c, 3, 3]), b]))), { numRuns: 1000 });
  const edits = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 });
  fc.assert(fc.property(edits, fc.nat(), (es, cut) => {
    const b = Buffer.from(hello.subarray(0, hello.length - (cut % 8)));
    for (const [i, v] of es) b[i % b.length] = v;
    check(b);
  }), { numRuns: 1000 });
});
