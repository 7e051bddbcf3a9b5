// `https` listeners across change: certificate files replaced on disk are picked up without a
// restart — new handshakes get the new certificate (serial), a keep-alive connection opened before
// keeps working; a bad file (not PEM, key not matching) keeps the certificate in service and logs
// FULCRUM_E_TLS_CERTIFICATE. A config reload (SIGHUP) re-reads certificates and applies a new
// certificate list, minimum version and client verification while open connections stay.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFulcrum, type FulcrumProcess } from './helpers/fulcrum.ts';
import { startHttpBackend, type HttpBackend } from './helpers/backends.ts';
import { HAVE_OPENSSL, issue, makeCa, type TestCa, type TestCert } from './helpers/certs.ts';
import { handshake, TlsClient } from './helpers/tls-client.ts';

const SKIP = !HAVE_OPENSSL && process.env.FULCRUM_TEST_STRICT !== '1' ? 'openssl not found (Debian package openssl)' : false;

let dir = '';
let ca: TestCa;
let backend: HttpBackend;

before(async () => {
  if (SKIP) return;
  dir = mkdtempSync(join(tmpdir(), 'fulcrum-https-reload-'));
  ca = makeCa(dir, 'fulcrum-test-ca');
  backend = await startHttpBackend((req, res) => res.end(`ok ${req.url}`));
});

after(async () => {
  await backend?.close();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** Replaces `dest` by `src`'s bytes the way deploy tools do: write aside, then rename over. */
function replace(src: string, dest: string): void {
  copyFileSync(src, `${dest}.tmp`);
  renameSync(`${dest}.tmp`, dest);
}

/** Polls new handshakes until one presents `serial` (bounded). */
async function untilSerial(port: number, servername: string, serial: string, what: string): Promise<void> {
  let last = '';
  const deadline = Date.now() + 15_000;
  for (let i = 0; i < 200 && Date.now() < deadline; i++) {
    last = (await handshake(port, { servername })).serial;
    if (last === serial) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  assert.fail(`${what}: new handshakes still see serial ${last}, want ${serial}`);
}

const errorsLogged = (f: FulcrumProcess) => f.logs().filter((l) => l.code === 'FULCRUM_E_TLS_CERTIFICATE').length;

test('rotation: replaced files serve new handshakes with the new serial, an open keep-alive connection keeps working, a bad file keeps the old certificate', { timeout: 90_000, skip: SKIP }, async () => {
  const live = join(dir, 'live');
  mkdirSync(live);
  const v1 = issue(ca, 'rot.example.com', { file: 'rot-v1' });
  const v2 = issue(ca, 'rot.example.com', { file: 'rot-v2' });
  const v3 = issue(ca, 'rot.example.com', { file: 'rot-v3' });
  const cert = join(live, 'site.crt');
  const key = join(live, 'site.key');
  copyFileSync(v1.cert, cert);
  copyFileSync(v1.key, key);
  const f = await startFulcrum({
    admin: { listen: '127.0.0.1:0' },
    listeners: [{ name: 's', protocol: 'https', listen: '127.0.0.1:0', routes: [{ pool: 'p' }], tls: { certificates: [{ cert, key }] } }],
    pools: [{ name: 'p', servers: [{ address: backend.address }] }],
  }, { env: { FULCRUM_LOG_LEVEL: 'info' } });
  const caPem = readFileSync(ca.cert);
  const open = await TlsClient.open(f.port('s'), { servername: 'rot.example.com', ca: caPem });
  try {
    const port = f.port('s');
    assert.equal(open.serial, v1.serial);
    assert.equal((await open.request('/before')).body, 'ok /before');

    // The key first, then the certificate (a window where the pair does not match: skipped quietly or logged, never served).
    replace(v2.key, key);
    replace(v2.cert, cert);
    await untilSerial(port, 'rot.example.com', v2.serial, 'after the v2 files');
    const r = await open.request('/after');
    assert.equal(r.body, 'ok /after', 'the connection opened before the rotation still serves');

    // A certificate file that is not PEM: v2 stays, the error is logged.
    const before = errorsLogged(f);
    writeFileSync(cert, 'garbage\n');
    await f.waitFor(() => errorsLogged(f) > before, 10_000, 'FULCRUM_E_TLS_CERTIFICATE logged for a bad file');
    assert.equal((await handshake(port, { servername: 'rot.example.com' })).serial, v2.serial);
    // A certificate that does not match the key in place: still v2.
    const before2 = errorsLogged(f);
    replace(v3.cert, cert);
    await f.waitFor(() => errorsLogged(f) > before2, 10_000, 'a key mismatch logged');
    assert.equal((await handshake(port, { servername: 'rot.example.com' })).serial, v2.serial);
    const line = f.logs().filter((l) => l.code === 'FULCRUM_E_TLS_CERTIFICATE').pop()!;
    assert.match(String(line.err), /does not match the certificate/);
    // Its key arrives: v3 in service.
    replace(v3.key, key);
    await untilSerial(port, 'rot.example.com', v3.serial, 'after the v3 key');
    assert.equal((await open.request('/still')).body, 'ok /still');
    const loaded = f.logs().find((l) => l.msg.startsWith('certificate loaded') && l.serial === v3.serial);
    assert.ok(loaded !== undefined, 'the load is logged with the serial');
    assert.equal(loaded.msg, 'certificate loaded; it expires within 14 days', 'the 2-day test certificate is flagged');
    assert.equal(loaded.level, 40);
  } finally {
    open.close();
    await f.stop();
  }
});

test('config reload (SIGHUP): new certificate list, minVersion and clientAuth apply to new handshakes; an open connection stays', { timeout: 90_000, skip: SKIP }, async () => {
  const a: TestCert = issue(ca, 'a.reload.test');
  const b: TestCert = issue(ca, 'b.reload.test');
  const client = issue(ca, 'reload-client', { client: true });
  const config = (tls: object, more: object[] = []) => ({
    admin: { listen: '127.0.0.1:0' },
    listeners: [{ name: 's', protocol: 'https', listen: '127.0.0.1:0', routes: [{ pool: 'p' }], tls }, ...more],
    pools: [{ name: 'p', servers: [{ address: backend.address }] }],
  });
  const f = await startFulcrum(config({ certificates: [{ cert: a.cert, key: a.key }] }), { env: { FULCRUM_LOG_LEVEL: 'info' }, args: ['--no-watch'] });
  const open = await TlsClient.open(f.port('s'), { servername: 'a.reload.test', rejectUnauthorized: false });
  try {
    const port = f.port('s');
    assert.equal((await handshake(port, { servername: 'b.reload.test' })).cn, 'a.reload.test', 'b is not served yet');
    assert.equal((await handshake(port, { servername: 'a.reload.test', maxVersion: 'TLSv1.2' })).version, 'TLSv1.2');
    assert.equal((await open.request('/one')).body, 'ok /one');

    writeFileSync(f.configFile, JSON.stringify(config({
      certificates: [{ cert: a.cert, key: a.key }, { cert: b.cert, key: b.key }],
      minVersion: 'TLSv1.3',
      clientAuth: { ca: ca.cert, required: true },
    }, [
      // Added by the reload: bound, held, then activated at the swap.
      { name: 's2', protocol: 'https', listen: '127.0.0.1:0', routes: [{ pool: 'p' }], tls: { certificates: [{ cert: b.cert, key: b.key }] } },
    ])));
    const reloads = () => f.logs().filter((l) => l.msg.startsWith('config reloaded (generation ')).length;
    f.proc.kill('SIGHUP');
    await f.waitFor(() => reloads() > 0, 10_000, 'the reload');

    const tls12 = await handshake(port, { servername: 'a.reload.test', maxVersion: 'TLSv1.2' });
    assert.equal(tls12.ok, false, 'TLS 1.2 refused after the reload');
    const withCert = await TlsClient.open(port, {
      servername: 'b.reload.test', rejectUnauthorized: false, cert: readFileSync(client.cert), key: readFileSync(client.key),
    });
    assert.equal(withCert.cn, 'b.reload.test');
    assert.equal((await withCert.request('/b')).body, 'ok /b');
    withCert.close();
    const anon = await TlsClient.open(port, { servername: 'b.reload.test', rejectUnauthorized: false }).catch((e: Error) => e);
    const anonOutcome = anon instanceof Error ? anon.message : await anon.request('/x').then(() => 'served', (e: Error) => e.message);
    assert.notEqual(anonOutcome, 'served', 'a client certificate is now required');
    if (!(anon instanceof Error)) anon.close();

    const m = /^listener s2 https:\/\/127\.0\.0\.1:(\d+)$/m.exec(f.stdout());
    assert.ok(m !== null, `the added listener is announced: ${f.stdout()}`);
    const added = await TlsClient.open(Number(m[1]), { servername: 'b.reload.test', rejectUnauthorized: false });
    assert.equal(added.cn, 'b.reload.test');
    assert.equal((await added.request('/s2')).body, 'ok /s2');
    added.close();

    // The connection from before the reload keeps serving (its TLS session is unchanged).
    assert.equal((await open.request('/two')).body, 'ok /two');
  } finally {
    open.close();
    await f.stop();
  }
});
