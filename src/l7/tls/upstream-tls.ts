/**
 * TLS to a pool's servers (`pools[].tls`): the connect options of an upstream connection, built once
 * per pool config (a reload builds a new pool config, so files are re-read then). Verification is on
 * by default against the system CA store plus Node's bundled roots plus the pool's `ca` file, and
 * the name is checked per RFC 6125 (node:tls checkServerIdentity). TLS sessions are kept per server
 * so a new connection resumes (RFC 8446 §2.2) instead of running a full handshake.
 */
import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import { createSecureContext, getCACertificates, type ConnectionOptions, type SecureContext } from 'node:tls';
import type { PoolConfig } from '../../config/schema.ts';

export interface UpstreamTls {
  /** Options for tls.connect() minus host, port, servername and session. */
  readonly context: SecureContext | null;
  readonly error: Error | null;
  readonly verify: boolean;
  readonly serverName: string | undefined;
  /** Latest session ticket per server address. */
  readonly sessions: Map<string, Buffer>;
}

const cache = new WeakMap<PoolConfig, UpstreamTls>();

/** The TLS settings of `pool` (null when the pool speaks plain TCP). */
export function upstreamTlsOf(pool: PoolConfig): UpstreamTls | null {
  const t = pool.tls;
  if (t === undefined || !t.enabled) return null;
  let u = cache.get(pool);
  if (u === undefined) {
    let context: SecureContext | null = null;
    let error: Error | null = null;
    try {
      const ca = [...getCACertificates('system'), ...getCACertificates('default')];
      if (t.ca !== undefined) ca.push(readFileSync(t.ca, 'utf8'));
      context = createSecureContext({
        ca, minVersion: 'TLSv1.2',
        ...(t.cert !== undefined && t.key !== undefined ? { cert: readFileSync(t.cert), key: readFileSync(t.key) } : {}),
      });
    } catch (err) {
      error = err as Error;
    }
    u = { context, error, verify: t.verify, serverName: t.serverName, sessions: new Map() };
    cache.set(pool, u);
  }
  return u;
}

/** tls.connect() options for one server of the pool. */
export function connectOptions(u: UpstreamTls, host: string, port: number, address: string): ConnectionOptions {
  const servername = u.serverName ?? (isIP(host) === 0 ? host : undefined);
  return {
    host, port, servername,
    secureContext: u.context as SecureContext,
    rejectUnauthorized: u.verify,
    ALPNProtocols: ['http/1.1'],
    session: u.sessions.get(address),
  };
}
