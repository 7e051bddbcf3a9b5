/**
 * Value syntaxes of the config file, parsed once at load time (pure; no I/O):
 * - durations: `500ms`, `10s`, `2m`, `1h`, compounds like `1m30s`, or a bare number of milliseconds;
 * - `host:port` addresses (RFC 3986 §3.2.2 authority syntax: IPv6 literals in brackets, RFC 1123
 *   host names, IPv4 dotted quads);
 * - IP addresses and CIDR blocks (RFC 4632, RFC 4291 §2.3);
 * - hash keys (`source-ip`, `header:NAME`, `cookie:NAME`, `query:NAME`, `path`, `uri`);
 * - HTTP tokens (RFC 9110 §5.6.2) for header names and methods.
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { FulcrumError } from '../core/errors.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
/** Anchored pattern of the duration string syntax (also published in the JSON Schema). */
export const DURATION_PATTERN = '^(?:\\d+(?:\\.\\d+)?|(?:\\d+(?:\\.\\d+)?(?:ms|s|m|h))+)$';
/** Longest duration a Node.js timer can hold (2^31 - 1 ms, about 24.8 days). */
export const MAX_DURATION_MS = 2_147_483_647;

/**
 * Parses a duration to milliseconds, or returns undefined when `v` is not one. Accepts a
 * non-negative finite number (milliseconds), a numeric string (milliseconds), or one or more
 * `<number><unit>` parts with units ms, s, m, h (`1m30s` = 90000). The result may exceed
 * MAX_DURATION_MS; callers decide whether that is allowed.
 */
export function tryParseDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (s === '') return undefined;
  if (/^\d+(?:\.\d+)?$/.test(s)) return Number(s);
  let total = 0;
  DURATION_PART.lastIndex = 0;
  let pos = 0;
  while (pos < s.length) {
    DURATION_PART.lastIndex = pos;
    const m = DURATION_PART.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]];
    pos = DURATION_PART.lastIndex;
  }
  return total;
}

/**
 * Parses a duration (`500ms`, `10s`, `2m`, `1h`, `1m30s`, or a number of milliseconds) to a number
 * of milliseconds. Throws FulcrumError FULCRUM_E_CONFIG_INVALID when `v` is not a duration.
 */
export function parseDuration(v: string | number): number {
  const ms = tryParseDuration(v);
  if (ms === undefined) {
    throw new FulcrumError('FULCRUM_E_CONFIG_INVALID', `expected a duration like 500ms, 10s, 2m, 1h or a number of milliseconds, got ${JSON.stringify(v)}`);
  }
  return ms;
}

const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOSTNAME_RE = new RegExp(`^${LABEL}(?:\\.${LABEL})*\\.?$`);

/** True when `s` is an RFC 1123 host name (letters, digits, hyphens; labels ≤ 63 chars; ≤ 253 total). */
export function isHostname(s: string): boolean {
  return s.length > 0 && s.length <= 253 && HOSTNAME_RE.test(s);
}

/**
 * Parses `host:port`. IPv6 literals must be bracketed (`[::1]:80`); the returned host has no
 * brackets. Host names (RFC 1123) and IPv4 addresses are accepted. Returns null when `s` is not
 * `host:port` or the port is not an integer in 0-65535 (port 0 = any free port; callers that need
 * a real port check `port >= 1`).
 */
export function parseHostPort(s: string): { host: string; port: number } | null {
  if (typeof s !== 'string') return null;
  let host: string;
  let portText: string;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0 || s[close + 1] !== ':') return null;
    host = s.slice(1, close);
    portText = s.slice(close + 2);
    if (!isIPv6(host)) return null;
  } else {
    const colon = s.lastIndexOf(':');
    if (colon <= 0) return null;
    host = s.slice(0, colon);
    portText = s.slice(colon + 1);
    if (host.includes(':')) return null; // unbracketed IPv6
    if (!isIPv4(host) && !isHostname(host)) return null;
    // A dotted quad that is not a valid IPv4 address (e.g. 999.1.1.1) is not a host name either.
    if (/^[\d.]+$/.test(host) && !isIPv4(host)) return null;
  }
  if (!/^\d{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port > 65535) return null;
  return { host, port };
}

/** True when `host` (as returned by parseHostPort) is a wildcard address (0.0.0.0 or ::). */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || (isIPv6(host) && /^[0:]+$/.test(host));
}

/** True when `s` is an IPv4/IPv6 address or a CIDR block (`10.0.0.0/8`, `fd00::/8`). */
export function isIpOrCidr(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash < 0) return isIP(s) !== 0;
  const ip = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  const family = isIP(ip);
  if (family === 0 || !/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/** RFC 9110 §5.6.2 token: header field names and methods. */
export const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Validates and normalizes a hash key. Returns the normalized key (header names lowercased) or
 * undefined when the syntax is wrong. Keys: `source-ip`, `header:NAME`, `cookie:NAME`,
 * `query:NAME`, `path`, `uri`.
 */
export function normalizeHashKey(s: string): string | undefined {
  if (s === 'source-ip' || s === 'five-tuple' || s === 'path' || s === 'uri') return s;
  const colon = s.indexOf(':');
  if (colon < 0) return undefined;
  const kind = s.slice(0, colon);
  const name = s.slice(colon + 1);
  if (kind === 'header') return TOKEN_RE.test(name) ? `header:${name.toLowerCase()}` : undefined;
  if (kind === 'cookie') return TOKEN_RE.test(name) ? s : undefined;
  if (kind === 'query') return name !== '' && !/[\s&=#]/.test(name) ? s : undefined;
  return undefined;
}

/** Compiles `source` as a JavaScript RegExp; returns the engine's message when it does not compile. */
export function regexError(source: string): string | undefined {
  try {
    new RegExp(source);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * True when `s` is a host match pattern: an exact host name (or IP literal, IPv6 in brackets) or
 * `*.suffix` matching any sub-domain of suffix.
 */
export function isHostPattern(s: string): boolean {
  if (s.startsWith('[') && s.endsWith(']')) return isIPv6(s.slice(1, -1));
  const rest = s.startsWith('*.') ? s.slice(2) : s;
  return isHostname(rest);
}
