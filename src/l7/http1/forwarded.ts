/**
 * Forwarding headers for the proxied request: X-Forwarded-For/-Proto/-Host and RFC 7239 `Forwarded`.
 * Client-supplied values are kept (and appended to) only when the direct peer is a configured trusted
 * proxy; from anyone else they are dropped and replaced, so a client cannot forge its address.
 * Trusted ranges use node:net's BlockList (no hand-written CIDR code).
 */
import { BlockList, isIPv6 } from 'node:net';

/** Builds a matcher for IPs/CIDRs (`10.0.0.0/8`, `::1`, `127.0.0.1`). Empty list → null (trust nobody). */
export function trustMatcher(entries: readonly string[]): BlockList | null {
  if (entries.length === 0) return null;
  const list = new BlockList();
  for (const e of entries) {
    const slash = e.indexOf('/');
    const ip = slash < 0 ? e : e.slice(0, slash);
    const type = isIPv6(ip) ? 'ipv6' : 'ipv4';
    if (slash < 0) list.addAddress(ip, type);
    else list.addSubnet(ip, Number(e.slice(slash + 1)), type);
  }
  return list;
}

/** Strips the IPv4-mapped IPv6 prefix Node reports for dual-stack sockets. */
export function normalizeIp(ip: string | undefined): string {
  if (!ip) return '';
  return ip.startsWith('::ffff:') && ip.indexOf('.') > 0 ? ip.slice(7) : ip;
}

export function isTrusted(list: BlockList | null, ip: string): boolean {
  if (list === null || ip === '') return false;
  return list.check(ip, isIPv6(ip) ? 'ipv6' : 'ipv4');
}

/** RFC 7239 §6: IPv6 nodes are bracketed and quoted; values that are not tokens are quoted. */
export function forwardedNode(ip: string): string {
  return isIPv6(ip) ? `"[${ip}]"` : ip;
}

const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

let lastIn = '';
let lastOut = '';

/** Quotes a Forwarded parameter value unless it is a token. Memoizes the last value (the Host repeats). */
export function forwardedValue(v: string): string {
  if (v === lastIn) return lastOut;
  const out = TOKEN_RE.test(v) ? v : `"${v.replace(/(["\\])/g, '\\$1')}"`;
  lastIn = v;
  lastOut = out;
  return out;
}
