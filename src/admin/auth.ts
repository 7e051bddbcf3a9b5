/**
 * Admin API access control (RFC 6750 bearer tokens; the DNS-rebinding guard browsers need).
 *
 * - The token comes from an environment variable or a file named in the config (never the config
 *   itself). It is kept only as its SHA-256 digest; a presented token is hashed and compared with
 *   crypto.timingSafeEqual over the two digests (equal lengths, constant time whatever the input).
 * - Who did a write is named by the token's fingerprint — `token:` + the first 12 hex digits of
 *   SHA-256("fulcrum-admin-token:" + token) — never by the token.
 * - The Host header must name an allowed host: localhost, 127.0.0.1, [::1], the bound address and
 *   `admin.allowedHosts` (a page on evil.example whose name re-resolves to 127.0.0.1 still sends
 *   `Host: evil.example`, and is refused with 421).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { isLoopbackHost, type Config } from '../config/schema.ts';
import { parseHostPort } from '../config/values.ts';

export type AuthResult = { ok: true; actor: string } | { ok: false; status: 401; reason: string };

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** The fingerprint naming a token in audit lines and events (not reversible to the token). */
export function fingerprint(token: string): string {
  return 'token:' + createHash('sha256').update('fulcrum-admin-token:' + token, 'utf8').digest('hex').slice(0, 12);
}

export class AdminAuth {
  /** SHA-256 of the token, or null when no token is configured. */
  private readonly tokenDigest: Buffer | null;
  private readonly tokenId: string | null;
  /** Reads need the token too. */
  readonly protectReads: boolean;
  private readonly hosts: Set<string>;

  /**
   * Loads the token (throws a message naming the variable or file, never the value, when it is
   * configured but unavailable or empty). `boundPort` completes the Host allowlist.
   */
  constructor(admin: Config['admin'], env: NodeJS.ProcessEnv = process.env) {
    const auth = admin.auth;
    let token: string | null = null;
    if (auth?.tokenEnv !== undefined) {
      const v = env[auth.tokenEnv];
      if (v === undefined || v.trim() === '') throw new Error(`admin.auth.tokenEnv: environment variable ${auth.tokenEnv} is not set or empty`);
      token = v.trim();
    } else if (auth?.tokenFile !== undefined) {
      let text: string;
      try {
        text = readFileSync(auth.tokenFile, 'utf8');
      } catch (err) {
        throw new Error(`admin.auth.tokenFile: cannot read ${auth.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      const first = text.split(/\r?\n/, 1)[0].trim();
      if (first === '') throw new Error(`admin.auth.tokenFile: ${auth.tokenFile} holds no token (first line empty)`);
      token = first;
    }
    this.tokenDigest = token === null ? null : digest(token);
    this.tokenId = token === null ? null : fingerprint(token);
    const hp = parseHostPort(admin.listen);
    const loopback = hp === null || isLoopbackHost(hp.host);
    this.protectReads = auth?.protectReads ?? !loopback;
    this.hosts = new Set(['localhost', '127.0.0.1', '[::1]']);
    if (hp !== null) this.hosts.add(hp.host.includes(':') && !hp.host.startsWith('[') ? `[${hp.host}]` : hp.host.toLowerCase());
    for (const h of admin.allowedHosts ?? []) this.hosts.add(h.toLowerCase());
  }

  /** Whether a token is configured (without one, writes are off: 403). */
  get hasToken(): boolean {
    return this.tokenDigest !== null;
  }

  /**
   * Checks `Authorization: Bearer <token>`. Without a configured token there is nothing to check
   * (reads on loopback; the server refuses writes with 403 before asking).
   */
  check(req: IncomingMessage): AuthResult {
    if (this.tokenDigest === null) return { ok: true, actor: 'anonymous' };
    const h = req.headers.authorization;
    if (h === undefined) return { ok: false, status: 401, reason: 'missing bearer token' };
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(h);
    if (m === null) return { ok: false, status: 401, reason: 'malformed Authorization header (expected "Bearer <token>")' };
    const given = digest(m[1]);
    if (!timingSafeEqual(given, this.tokenDigest)) return { ok: false, status: 401, reason: 'invalid bearer token' };
    return { ok: true, actor: this.tokenId! };
  }

  /**
   * The Host header without its port, if allowed; null when missing or not allowed. The port is
   * not compared (a proxy or a port mapping may change it); the name is what DNS rebinding forges.
   */
  hostAllowed(req: IncomingMessage): boolean {
    const raw = req.headers.host;
    if (raw === undefined || raw === '') return false;
    let host = raw.toLowerCase();
    if (host.startsWith('[')) {
      const close = host.indexOf(']');
      host = close < 0 ? host : host.slice(0, close + 1);
    } else {
      const colon = host.lastIndexOf(':');
      if (colon >= 0) host = host.slice(0, colon);
    }
    return this.hosts.has(host);
  }
}
