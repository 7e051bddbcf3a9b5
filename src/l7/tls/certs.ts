/**
 * Certificates of an `https` listener: loading a certificate/key pair from PEM files (checked to
 * belong together), the names it serves (configured, or its subjectAltName DNS entries — RFC 6125
 * §6.4.4: the CN only when there is no SAN), and the store that picks one by SNI (RFC 6066 §3):
 * exact name first, then a `*.example.com` wildcard covering exactly one label, then the default.
 */
import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import { contextOptions, type TlsVersion } from './policy.ts';

/** One `tls.certificates[]` entry of the config. */
export interface CertSpec {
  readonly cert: string;
  readonly key: string;
  readonly serverNames?: readonly string[];
  readonly default?: boolean;
}

/** A loaded certificate: its context, the options that made it (for the server's default), its names. */
export interface LoadedCert {
  readonly spec: CertSpec;
  /** Lowercased names it serves (exact or `*.domain`). */
  readonly names: readonly string[];
  readonly serial: string;
  /** End of validity (the certificate's notAfter). */
  readonly notAfter: Date;
  readonly options: SecureContextOptions;
  readonly context: SecureContext;
  /** The PEM bytes read (to tell whether a file changed). */
  readonly certPem: Buffer;
  readonly keyPem: Buffer;
}

/** A certificate entry that cannot be used: which field (`cert` or `key`) and why. */
export class CertProblem extends Error {
  readonly field: 'cert' | 'key' | 'ca';
  constructor(field: 'cert' | 'key' | 'ca', message: string) {
    super(message);
    this.field = field;
  }
}

/** Settings every context of a listener shares. */
export interface ContextSettings {
  readonly minVersion: TlsVersion;
  /** PEM of the CAs client certificates are verified against (mTLS), or null. */
  readonly clientCa: Buffer | null;
  /** Session ticket keys (48 bytes) shared by all contexts, so resumption survives a rotation. */
  readonly ticketKeys: Buffer;
}

function readPem(path: string, field: 'cert' | 'key' | 'ca'): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CertProblem(field, `cannot read ${JSON.stringify(path)}: ${e.code ?? e.message}`);
  }
}

/** Reads a CA bundle (PEM) and checks that it holds at least one certificate. */
export function loadCaFile(path: string): Buffer {
  const pem = readPem(path, 'ca');
  try {
    new X509Certificate(pem);
  } catch {
    throw new CertProblem('ca', `${JSON.stringify(path)} holds no PEM certificate`);
  }
  return pem;
}

/** Names a certificate covers: its subjectAltName DNS entries, else its subject CN (lowercased). */
export function certificateNames(x509: X509Certificate): string[] {
  const san = x509.subjectAltName;
  if (san !== undefined && san !== '') {
    const dns = san.split(', ').filter((e) => e.startsWith('DNS:')).map((e) => e.slice(4).toLowerCase());
    if (dns.length > 0) return dns;
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject);
  return cn === null ? [] : [cn[1].toLowerCase()];
}

/** Loads and checks one entry; throws CertProblem naming the field at fault. */
export function loadCertificate(spec: CertSpec, settings: ContextSettings): LoadedCert {
  const certPem = readPem(spec.cert, 'cert');
  const keyPem = readPem(spec.key, 'key');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch (err) {
    throw new CertProblem('cert', `${JSON.stringify(spec.cert)} holds no PEM certificate (${(err as Error).message})`);
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new CertProblem('key', `${JSON.stringify(spec.key)} holds no usable PEM private key (${(err as Error).message})`);
  }
  if (!x509.checkPrivateKey(key)) {
    throw new CertProblem('key', `${JSON.stringify(spec.key)} does not match the certificate ${JSON.stringify(spec.cert)}`);
  }
  const names = spec.serverNames !== undefined && spec.serverNames.length > 0
    ? spec.serverNames.map((n) => n.toLowerCase()) : certificateNames(x509);
  const options: SecureContextOptions = {
    ...contextOptions(settings.minVersion),
    cert: certPem,
    key: keyPem,
    ...(settings.clientCa !== null ? { ca: settings.clientCa } : {}),
    ticketKeys: settings.ticketKeys,
    sessionIdContext: 'fulcrum',
  };
  let context: SecureContext;
  try {
    context = createSecureContext(options);
  } catch (err) {
    throw new CertProblem('cert', `${JSON.stringify(spec.cert)}: ${(err as Error).message}`);
  }
  return { spec, names, serial: x509.serialNumber, notAfter: new Date(x509.validTo), options, context, certPem, keyPem };
}

/**
 * Picks the certificate for a server name: exact, then `*.parent` (one label), then the default.
 * Immutable; a rotation builds a new store.
 */
export class CertStore {
  readonly certs: readonly LoadedCert[];
  readonly default: LoadedCert;
  private readonly exact = new Map<string, LoadedCert>();
  /** `example.com` → the certificate of `*.example.com`. */
  private readonly wildcard = new Map<string, LoadedCert>();

  /** `certs` non-empty. The first marked `default: true`, else the first, is the default. */
  constructor(certs: readonly LoadedCert[]) {
    this.certs = certs;
    this.default = certs.find((c) => c.spec.default === true) ?? certs[0];
    for (const c of certs) {
      for (const n of c.names) {
        // The first certificate naming a name wins, as in the config order.
        if (n.startsWith('*.')) {
          if (!this.wildcard.has(n.slice(2))) this.wildcard.set(n.slice(2), c);
        } else if (!this.exact.has(n)) this.exact.set(n, c);
      }
    }
  }

  /** The certificate for `servername` (any case; a trailing dot ignored). */
  select(servername: string): LoadedCert {
    let name = servername.toLowerCase();
    if (name.endsWith('.')) name = name.slice(0, -1);
    const hit = this.exact.get(name);
    if (hit !== undefined) return hit;
    const dot = name.indexOf('.');
    if (dot > 0) {
      const w = this.wildcard.get(name.slice(dot + 1));
      if (w !== undefined) return w;
    }
    return this.default;
  }
}
