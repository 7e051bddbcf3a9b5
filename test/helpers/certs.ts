/**
 * Test certificates made with the `openssl` command (Debian package openssl) in a temp dir: a test
 * CA, and certificates it signs for servers (subjectAltName DNS names) and clients. P-256 keys (fast
 * to make); `rsa: true` for an RSA-2048 key. Every openssl run is bounded by a timeout.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';

export const HAVE_OPENSSL = spawnSync('openssl', ['version']).status === 0;

export interface TestCa { dir: string; cert: string; key: string; name: string }
export interface TestCert { cert: string; key: string; serial: string }

function openssl(args: string[], input?: string): void {
  const r = spawnSync('openssl', args, { timeout: 20_000, input });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

function keyArgs(rsa: boolean): string[] {
  return rsa ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
}

/** A self-signed CA named `name`, valid 2 days. */
export function makeCa(dir: string, name: string): TestCa {
  const cert = join(dir, `${name}.ca.crt`);
  const key = join(dir, `${name}.ca.key`);
  openssl(['req', '-x509', ...keyArgs(false), '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { dir, cert, key, name };
}

/**
 * A certificate signed by `ca` for `cn` with DNS names `sans` (server) or for a client
 * (`client: true`), written as `<file>.crt` / `<file>.key` (default file name: cn with `*` → `_`).
 */
export function issue(ca: TestCa, cn: string, o: { sans?: string[]; client?: boolean; file?: string; rsa?: boolean; org?: string } = {}): TestCert {
  const base = join(ca.dir, o.file ?? cn.replace(/\*/g, '_'));
  const cert = `${base}.crt`;
  const key = `${base}.key`;
  const csr = `${base}.csr`;
  const ext = `${base}.ext`;
  const subj = `${o.org !== undefined ? `/O=${o.org}` : ''}/CN=${cn}`;
  openssl(['req', ...keyArgs(o.rsa === true), '-nodes', '-keyout', key, '-out', csr, '-subj', subj]);
  const lines = o.client === true
    ? ['extendedKeyUsage=clientAuth']
    : [`subjectAltName=${(o.sans ?? [cn]).map((n) => (/^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',')}`, 'extendedKeyUsage=serverAuth'];
  spawnSync('sh', ['-c', `cat > '${ext}'`], { input: lines.join('\n') + '\n', timeout: 5000 });
  const serial = `${Date.now().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16).padStart(4, '0')}`;
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${serial}`, '-out', cert, '-days', '2', '-extfile', ext]);
  return { cert, key, serial: new X509Certificate(readFileSync(cert)).serialNumber };
}
