// `https` listeners end to end (TLS termination): certificates chosen by SNI (exact, `*.domain`
// over one label, `default: true`, serverNames overriding the SAN), seen by curl (--cacert,
// --resolve) and node:tls; the protocol and cipher policy as openssl s_client sees it (TLS 1.0/1.1
// refused, TLS 1.2 CBC and non-ECDHE suites refused, TLS 1.3 preferred); ALPN; failed handshakes
// counted; mTLS required/optional with the subject forwarded; http → https redirect and HSTS.
// Certificates are made by openssl for this run (test/helpers/certs.ts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminGet, startFulcrum } from './helpers/fulcrum.ts';
import { freePort } from './helpers/ports.ts';
import { startHttpBackend, type HttpBackend } from './helpers/backends.ts';
import { HAVE_OPENSSL, issue, makeCa, type TestCa, type TestCert } from './helpers/certs.ts';
import { handshake, TlsClient } from './helpers/tls-client.ts';

const HAVE_CURL = spawnSync('curl', ['--version']).status === 0;
const STRICT = process.env.FULCRUM_TEST_STRICT === '1';
const SKIP = !HAVE_OPENSSL && !STRICT ? 'openssl not found (Debian package openssl)' : false;
const SKIP_CURL = SKIP || (!HAVE_CURL && !STRICT ? 'curl not found (Debian package curl)' : false);

let dir = '';
let ca: TestCa;
let rogue: TestCa;
const certs: Record<string, TestCert> = {};
let backend: HttpBackend;

before(async () => {
  if (SKIP) return;
  dir = mkdtempSync(join(tmpdir(), 'fulcrum-https-'));
  ca = makeCa(dir, 'fulcrum-test-ca');
  rogue = makeCa(mkdtempSync(join(dir, 'rogue-')), 'rogue-ca');
  certs.a = issue(ca, 'a.example.com');
  certs.wild = issue(ca, '*.w.example.com');
  certs.dflt = issue(ca, 'default.test');
  certs.alias = issue(ca, 'named-by-config.test', { file: 'alias' });
  certs.client = issue(ca, 'client-1', { client: true, org: 'Fulcrum Tests' });
  certs.rogueClient = issue(rogue, 'intruder', { client: true });
  // The backend answers with what it was told about the client.
  backend = await startHttpBackend((req, res) => {
    const body = JSON.stringify({
      url: req.url, proto: req.headers['x-forwarded-proto'], subject: req.headers['x-client-cert-subject'] ?? null,
    });
    res.setHeader('content-type', 'application/json');
    res.end(body);
  });
});

after(async () => {
  await backend?.close();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

function httpsConfig(tls: object, extra: { listeners?: object[]; route?: object } = {}): object {
  return {
    admin: { listen: '127.0.0.1:0' },
    listeners: [
      { name: 's', protocol: 'https', listen: '127.0.0.1:0', routes: [{ pool: 'p', ...extra.route }], tls },
      ...(extra.listeners ?? []),
    ],
    pools: [{ name: 'p', servers: [{ address: backend.address }] }],
  };
}

const pair = (c: TestCert, more: object = {}) => ({ cert: c.cert, key: c.key, ...more });

/** Runs curl asynchronously (the backend lives in this process: a sync spawn would block it). */
function curl(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '10', ...args], { encoding: 'utf8', timeout: 15_000 }, (err, out, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, out, err: stderr });
    });
  });
}

test('SNI: exact name, *.domain over one label, default: true for no SNI or no match, serverNames from the config; curl --cacert --resolve', { timeout: 60_000, skip: SKIP_CURL }, async () => {
  const f = await startFulcrum(httpsConfig({
    certificates: [pair(certs.a), pair(certs.wild), pair(certs.dflt, { default: true }), pair(certs.alias, { serverNames: ['alias.test'] })],
  }));
  try {
    const port = f.port('s');
    const seen = async (servername: string | undefined) => (await handshake(port, { servername })).cn;
    assert.equal(await seen('a.example.com'), 'a.example.com');
    assert.equal(await seen('A.Example.COM'), 'a.example.com', 'SNI is case-insensitive');
    assert.equal(await seen('x.w.example.com'), '*.w.example.com');
    assert.equal(await seen('y.x.w.example.com'), 'default.test', 'a wildcard covers one label only');
    assert.equal(await seen('w.example.com'), 'default.test', 'a wildcard does not cover its parent');
    assert.equal(await seen('unknown.test'), 'default.test');
    assert.equal(await seen(undefined), 'default.test', 'no SNI → default');
    assert.equal(await seen('alias.test'), 'named-by-config.test', 'serverNames replaces the SAN');

    for (const name of ['a.example.com', 'x.w.example.com']) {
      const r = await curl(['--http1.1', '--cacert', ca.cert, '--resolve', `${name}:${port}:127.0.0.1`, `https://${name}:${port}/hello?x=1`,
        '-w', '\n%{http_code} %{http_version} %{ssl_verify_result}']);
      assert.equal(r.code, 0, `curl ${name}: ${r.err}`);
      const [body, status] = r.out.split('\n');
      assert.deepEqual(JSON.parse(body), { url: '/hello?x=1', proto: 'https', subject: null });
      assert.equal(status, '200 1.1 0');
    }
    // The default certificate does not cover a two-label name: curl refuses it (exit 60).
    const bad = await curl(['--http1.1', '--cacert', ca.cert, '--resolve', `y.x.w.example.com:${port}:127.0.0.1`, `https://y.x.w.example.com:${port}/`]);
    assert.equal(bad.code, 60, bad.err);
  } finally {
    await f.stop();
  }
});

function sClient(port: number, args: string[]): { out: string; cipher: string; protocol: string } {
  const r = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'a.example.com', '-CAfile', ca.cert, ...args],
    { input: 'Q\n', encoding: 'utf8', timeout: 15_000 });
  const out = `${r.stdout}\n${r.stderr}`;
  const m = /New, (\S+), Cipher is (\S+)/.exec(out);
  return { out, protocol: m?.[1] ?? '', cipher: m?.[2] ?? '' };
}

test('policy: TLS 1.3 preferred, TLS 1.2 with ECDHE+AEAD only; TLS 1.0/1.1, CBC and RSA key exchange refused (openssl s_client); ALPN; failures counted', { timeout: 60_000, skip: SKIP }, async () => {
  const f = await startFulcrum(httpsConfig({ certificates: [pair(certs.a)] }));
  try {
    const port = f.port('s');
    const best = sClient(port, []);
    assert.equal(best.protocol, 'TLSv1.3', best.out);
    assert.match(best.out, /Verify return code: 0 \(ok\)/);
    const gcm = sClient(port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256']);
    assert.deepEqual([gcm.protocol, gcm.cipher], ['TLSv1.2', 'ECDHE-ECDSA-AES128-GCM-SHA256'], gcm.out);
    const chacha = sClient(port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-CHACHA20-POLY1305']);
    assert.equal(chacha.cipher, 'ECDHE-ECDSA-CHACHA20-POLY1305', chacha.out);
    // Refused: the client offers only what the policy excludes (SECLEVEL=0 lets openssl offer old protocols).
    for (const args of [
      ['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'],
      ['-tls1', '-cipher', 'DEFAULT@SECLEVEL=0'],
      ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA'], // CBC
      ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES256-SHA384'], // CBC
      ['-tls1_2', '-cipher', 'AES128-GCM-SHA256'], // RSA key exchange, no forward secrecy
    ]) {
      const r = sClient(port, args);
      assert.equal(r.cipher, '(NONE)', `${args.join(' ')} should be refused:\n${r.out}`);
      assert.match(r.out, /alert (protocol version|handshake failure)|no protocols available|no ciphers available/, args.join(' '));
    }
    // ALPN: http/1.1 is selected (h2 only when the HTTP/2 module is loaded); nothing known → alert.
    const h1 = await handshake(port, { servername: 'a.example.com', ALPNProtocols: ['http/1.1'] });
    assert.equal(h1.alpn, 'http/1.1');
    const both = await handshake(port, { servername: 'a.example.com', ALPNProtocols: ['h2', 'http/1.1'] });
    assert.ok(both.alpn === 'h2' || both.alpn === 'http/1.1', String(both.alpn));
    const none = await handshake(port, { servername: 'a.example.com', ALPNProtocols: ['spdy/3'] });
    assert.equal(none.ok, false);
    assert.match(none.error, /no application protocol|NO_APPLICATION_PROTOCOL/i);
    const c = await TlsClient.open(port, { servername: 'a.example.com', ca: await import('node:fs').then((fs) => fs.readFileSync(ca.cert)) });
    const r = await c.request('/over-node-tls');
    assert.equal(r.status, 200);
    c.close();
    // 7 refused handshakes above (5 openssl + 1 ALPN), and possibly more: at least 6 counted.
    const m = await adminGet(f.adminPort, '/metrics');
    const line = m.body.split('\n').find((l) => l.startsWith('fulcrum_http_protocol_errors_total{') && l.includes('FULCRUM_E_TLS_HANDSHAKE'));
    assert.ok(line !== undefined, 'handshake failures are counted');
    assert.ok(Number(line.split(' ').pop()) >= 6, line);
  } finally {
    await f.stop();
  }
});

/** Opens a connection and runs one request: the status, or the error that ended it. */
async function attempt(port: number, opts: object, headers: Record<string, string> = {}): Promise<{ status: number; body: string; error: string }> {
  let c: TlsClient | null = null;
  try {
    c = await TlsClient.open(port, { servername: 'a.example.com', rejectUnauthorized: false, ...opts });
    const r = await c.request('/m', headers);
    return { status: r.status, body: r.body, error: '' };
  } catch (err) {
    return { status: 0, body: '', error: (err as Error).message };
  } finally {
    c?.close();
  }
}

test('mTLS: required refuses a client without a certificate or with one from another CA; optional serves both; the verified subject is forwarded, a forged one dropped', { timeout: 60_000, skip: SKIP }, async () => {
  const fs = await import('node:fs');
  const client = { cert: fs.readFileSync(certs.client.cert), key: fs.readFileSync(certs.client.key) };
  const intruder = { cert: fs.readFileSync(certs.rogueClient.cert), key: fs.readFileSync(certs.rogueClient.key) };
  const f = await startFulcrum(httpsConfig(
    { certificates: [pair(certs.a)], clientAuth: { ca: ca.cert, required: true, forwardSubject: 'X-Client-Cert-Subject' } },
    { listeners: [{
      name: 'opt', protocol: 'https', listen: '127.0.0.1:0', routes: [{ pool: 'p' }],
      tls: { certificates: [pair(certs.a)], clientAuth: { ca: ca.cert, required: false, forwardSubject: 'X-Client-Cert-Subject' } },
    }] },
  ));
  try {
    const req = f.port('s');
    const ok = await attempt(req, client, { 'X-Client-Cert-Subject': 'CN=forged' });
    assert.equal(ok.status, 200, ok.error);
    assert.equal(JSON.parse(ok.body).subject, 'CN=client-1,O=Fulcrum Tests');
    const without = await attempt(req, {});
    assert.equal(without.status, 0, 'no certificate: no response');
    const wrongCa = await attempt(req, intruder);
    assert.equal(wrongCa.status, 0, 'a certificate of another CA: no response');

    const opt = f.port('opt');
    const anon = await attempt(opt, {}, { 'X-Client-Cert-Subject': 'CN=forged' });
    assert.equal(anon.status, 200, anon.error);
    assert.equal(JSON.parse(anon.body).subject, null, 'no verified certificate: the forged header is dropped');
    const known = await attempt(opt, client);
    assert.equal(JSON.parse(known.body).subject, 'CN=client-1,O=Fulcrum Tests');
    const unknown = await attempt(opt, intruder);
    assert.equal(unknown.status, 200, unknown.error);
    assert.equal(JSON.parse(unknown.body).subject, null, 'an unverified certificate is not forwarded');
  } finally {
    await f.stop();
  }
});

test('http → https redirect (301 by default, 308 configured, Location keeps host and target) and HSTS on https responses only', { timeout: 60_000, skip: SKIP_CURL }, async () => {
  const f = await startFulcrum(httpsConfig({ certificates: [pair(certs.a)] }, {
    route: { hsts: { maxAge: 600, includeSubDomains: true } },
    listeners: [
      { name: 'plain', listen: '127.0.0.1:0', routes: [
        { match: { path: { prefix: '/keep/' } }, redirect: { code: 308, port: 8443 } },
        { match: { path: { prefix: '/served/' } }, pool: 'p', hsts: {} },
        { redirect: {} },
      ] },
    ],
  }));
  try {
    const plain = f.port('plain');
    const r301 = await curl(['-i', '-H', 'Host: shop.example.com:8080', `http://127.0.0.1:${plain}/cart?id=7`]);
    assert.match(r301.out, /^HTTP\/1\.1 301 Moved Permanently\r\n/);
    assert.match(r301.out, /\r\nLocation: https:\/\/shop\.example\.com\/cart\?id=7\r\n/);
    const r308 = await curl(['-i', '-X', 'POST', '-d', 'a=1', '-H', 'Host: shop.example.com', `http://127.0.0.1:${plain}/keep/x`]);
    assert.match(r308.out, /^HTTP\/1\.1 308 Permanent Redirect\r\n/);
    assert.match(r308.out, /\r\nLocation: https:\/\/shop\.example\.com:8443\/keep\/x\r\n/);
    const served = await curl(['-i', `http://127.0.0.1:${plain}/served/`]);
    assert.match(served.out, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(served.out, /strict-transport-security/i, 'never over plain http (RFC 6797 §7.2)');
    const port = f.port('s');
    const secure = await curl(['-i', '--http1.1', '--cacert', ca.cert, '--resolve', `a.example.com:${port}:127.0.0.1`, `https://a.example.com:${port}/`]);
    assert.match(secure.out, /\r\nStrict-Transport-Security: max-age=600; includeSubDomains\r\n/);
  } finally {
    await f.stop();
  }
});

test('the route\'s HSTS is on Fulcrum\'s own error answers too (502 from a dead pool, 404 without a route has none), HTTP/1.1 and HTTP/2', { timeout: 60_000, skip: SKIP_CURL }, async () => {
  const dead = await freePort();
  const cfg = httpsConfig({ certificates: [pair(certs.a)] }) as { listeners: { routes: object[] }[]; pools: object[] };
  cfg.listeners[0].routes = [{ match: { path: { prefix: '/dead' } }, pool: 'gone', hsts: { maxAge: 900 } }];
  cfg.pools.push({ name: 'gone', servers: [{ address: `127.0.0.1:${dead}` }], retries: { attempts: 1 } });
  const f = await startFulcrum(cfg);
  try {
    const port = f.port('s');
    for (const proto of ['--http1.1', '--http2']) {
      const r = await curl(['-i', proto, '--cacert', ca.cert, '--resolve', `a.example.com:${port}:127.0.0.1`, `https://a.example.com:${port}/dead`]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^HTTP\/(1\.1|2) 502/, r.out);
      assert.match(r.out, /\r\nx-fulcrum-error: FULCRUM_E_UPSTREAM_CONNECT\r\n/i);
      assert.match(r.out, /\r\nstrict-transport-security: max-age=900\r\n/i, `${proto}: ${r.out}`);
      const none = await curl(['-i', proto, '--cacert', ca.cert, '--resolve', `a.example.com:${port}:127.0.0.1`, `https://a.example.com:${port}/elsewhere`]);
      assert.match(none.out, /^HTTP\/(1\.1|2) 404/, none.out);
      assert.doesNotMatch(none.out, /strict-transport-security/i, 'no route, no route policy');
    }
  } finally {
    await f.stop();
  }
});

test('config: missing, unreadable, non-PEM and mismatched certificate files are refused with the path of the field; redirect routes checked', { timeout: 30_000, skip: SKIP }, async () => {
  const { writeFileSync, chmodSync } = await import('node:fs');
  const garbage = join(dir, 'garbage.pem');
  writeFileSync(garbage, 'not a certificate\n');
  const unreadable = join(dir, 'unreadable.key');
  writeFileSync(unreadable, 'x');
  chmodSync(unreadable, 0o000);
  const cfg = {
    listeners: [
      { name: 's', protocol: 'https', listen: '127.0.0.1:0', routes: [{ pool: 'p' }, { redirect: {} }], tls: { certificates: [
        pair(certs.a),
        { cert: certs.a.cert, key: certs.wild.key },
        { cert: join(dir, 'missing.crt'), key: certs.a.key },
        { cert: garbage, key: certs.a.key },
        { cert: certs.a.cert, key: process.getuid?.() === 0 ? garbage : unreadable },
      ], clientAuth: { ca: garbage } } },
      { name: 'h', listen: '127.0.0.1:0', routes: [{ redirect: {}, pool: 'p' }] },
      { name: 'n', protocol: 'https', listen: '127.0.0.1:0', routes: [{ pool: 'p' }] },
    ],
    pools: [{ name: 'p', servers: [{ address: '127.0.0.1:1' }], tls: { ca: join(dir, 'nope.pem'), cert: certs.client.cert } }],
  };
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify(cfg));
  const r = spawnSync(process.execPath, ['src/cli/main.ts', 'validate', file], { encoding: 'utf8', timeout: 20_000, cwd: new URL('..', import.meta.url).pathname });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  const out = r.stdout + r.stderr;
  const expect = [
    /listeners\[0\]\.tls\.certificates\[1\]\.key: ".*_\.w\.example\.com\.key" does not match the certificate ".*a\.example\.com\.crt"/,
    /listeners\[0\]\.tls\.certificates\[2\]\.cert: cannot read ".*missing\.crt": ENOENT/,
    /listeners\[0\]\.tls\.certificates\[3\]\.cert: ".*garbage\.pem" holds no PEM certificate/,
    /listeners\[0\]\.tls\.certificates\[4\]\.key: /,
    /listeners\[0\]\.tls\.clientAuth\.ca: ".*garbage\.pem" holds no PEM certificate/,
    /listeners\[0\]\.routes\[1\]\.redirect: a redirect to https on an https listener would loop/,
    /listeners\[1\]\.routes\[0\]: a redirect route takes no "pool" or "split"/,
    /listeners\[2\]\.tls: an https listener needs tls/,
    /pools\[0\]\.tls\.ca: cannot read ".*nope\.pem": ENOENT/,
    /pools\[0\]\.tls\.key: a client certificate needs both cert and key/,
  ];
  for (const re of expect) assert.match(out, re);
  assert.doesNotMatch(out, /certificates\[0\]/, 'the good pair has no problem');
});

test('ALPN h2 on an https listener: curl --http2 gets HTTP/2 served by the HTTP/2 engine (per-stream X-Forwarded-Proto https, the route\'s HSTS); http2.enabled: false → only http/1.1 is offered', { timeout: 60_000, skip: SKIP_CURL }, async () => {
  const on = await startFulcrum(httpsConfig({ certificates: [pair(certs.a)] }, { route: { hsts: { maxAge: 600 } } }));
  const off = await startFulcrum({ ...httpsConfig({ certificates: [pair(certs.a)] }), listeners: [
    { name: 's', protocol: 'https', listen: '127.0.0.1:0', routes: [{ pool: 'p' }], tls: { certificates: [pair(certs.a)] }, http2: { enabled: false } },
  ] });
  try {
    for (const [f, want] of [[on, '2'], [off, '1.1']] as const) {
      const port = f.port('s');
      const r = await curl(['--http2', '--cacert', ca.cert, '--resolve', `a.example.com:${port}:127.0.0.1`, `https://a.example.com:${port}/alpn`,
        '-w', '\n%{http_code} %{http_version} %header{strict-transport-security}']);
      assert.equal(r.code, 0, r.err);
      const [body, status] = r.out.split('\n');
      assert.deepEqual(JSON.parse(body), { url: '/alpn', proto: 'https', subject: null });
      // The route's HSTS reaches HTTP/2 responses too (the listener without it sends none).
      assert.equal(status.trim(), want === '2' ? '200 2 max-age=600' : '200 1.1');
    }
  } finally {
    await on.stop();
    await off.stop();
  }
});
