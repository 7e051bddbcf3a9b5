// Audit of an `https` listener with testssl.sh (Debian package testssl.sh, command `testssl`): the
// protocol, cipher-category, forward-secrecy, server-preference and vulnerability checks run
// against Fulcrum on loopback with a test CA, and no finding may be of severity MEDIUM or above.
// The certificate checks (-S) are left out: they judge the throw-away test certificate (2-day
// validity, no OCSP/CRL URI, issued for a name, probed by IP), not Fulcrum. docs/tls.md records
// the command and its output. Slow (30 s to a few minutes): generous timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFulcrum } from './helpers/fulcrum.ts';
import { startHttpBackend } from './helpers/backends.ts';
import { HAVE_OPENSSL, issue, makeCa } from './helpers/certs.ts';

const HAVE_TESTSSL = spawnSync('testssl', ['--version'], { timeout: 30_000 }).status === 0;
const STRICT = process.env.FULCRUM_TEST_STRICT === '1';
const SKIP = STRICT ? false
  : !HAVE_TESTSSL ? 'testssl not found (Debian package testssl.sh)'
    : !HAVE_OPENSSL ? 'openssl not found (Debian package openssl)' : false;

interface Finding { id: string; severity: string; finding: string }

const BAD = new Set(['MEDIUM', 'HIGH', 'CRITICAL']);

test('testssl.sh: protocols, ciphers, forward secrecy, server preference and vulnerabilities — no finding MEDIUM or above', { timeout: 420_000, skip: SKIP }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-testssl-'));
  const backend = await startHttpBackend((_req, res) => res.end('audited\n'));
  try {
    const ca = makeCa(dir, 'fulcrum-audit-ca');
    const ecdsa = issue(ca, 'audit.test');
    const f = await startFulcrum({
      admin: { listen: '127.0.0.1:0' },
      listeners: [{ name: 's', protocol: 'https', listen: '127.0.0.1:0', routes: [{ pool: 'p' }], tls: { certificates: [{ cert: ecdsa.cert, key: ecdsa.key }] } }],
      pools: [{ name: 'p', servers: [{ address: backend.address }] }],
    });
    try {
      const json = join(dir, 'testssl.json');
      const args = ['--quiet', '--color', '0', '--warnings', 'off', '--ip', '127.0.0.1', '--add-ca', ca.cert,
        '--jsonfile', json, '-p', '-s', '-f', '-P', '-U', `127.0.0.1:${f.port('s')}`];
      const started = Date.now();
      const out = await new Promise<string>((resolve) => {
        // Niced: testssl runs hundreds of openssl processes for a minute or two; the suite's timing-bound tests run beside it.
        execFile('nice', ['-n', '15', 'testssl', ...args], { encoding: 'utf8', timeout: 360_000, maxBuffer: 16 * 1024 * 1024 }, (_err, stdout, stderr) => resolve(stdout + stderr));
      });
      t.diagnostic(`testssl ${args.join(' ')} took ${Math.round((Date.now() - started) / 1000)} s`);
      const findings = JSON.parse(readFileSync(json, 'utf8')) as Finding[];
      const counts: Record<string, number> = {};
      for (const x of findings) counts[x.severity] = (counts[x.severity] ?? 0) + 1;
      t.diagnostic(`severities: ${JSON.stringify(counts)}`);
      t.diagnostic(findings.map((x) => `${x.id}=${x.severity}`).join(' '));
      const bad = findings.filter((x) => BAD.has(x.severity));
      assert.deepEqual(bad, [], `findings MEDIUM or above:\n${out}`);
      const byId = new Map(findings.map((x) => [x.id, x]));
      // What the policy promises, as testssl reports it.
      assert.match(byId.get('TLS1')?.finding ?? '', /not offered/);
      assert.match(byId.get('TLS1_1')?.finding ?? '', /not offered/);
      assert.match(byId.get('TLS1_2')?.finding ?? '', /^offered/);
      assert.match(byId.get('TLS1_3')?.finding ?? '', /^offered/);
      assert.match(byId.get('cipherlist_AVERAGE')?.finding ?? '', /not offered/, 'no CBC suites ("Obsolete CBC ciphers")');
      assert.match(byId.get('cipherlist_3DES_IDEA')?.finding ?? '', /not offered/);
      assert.match(byId.get('cipher_order')?.finding ?? '', /server/i, 'a server cipher order');
      assert.match(byId.get('cipherlist_STRONG')?.finding ?? '', /^offered/);
      assert.ok(findings.length > 30, `only ${findings.length} findings: did testssl run? ${out.slice(-2000)}`);
    } finally {
      await f.stop();
    }
  } finally {
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
