/**
 * The router's lazy view of a parsed request head (router/types.ts RequestView). One instance per
 * client connection, reset per request; host/path/query are split on first use only.
 */
import type { RequestHead } from './parser.ts';
import type { RequestView } from '../router/types.ts';
import type { KeySource, KeySpan } from '../../balancing/keys.ts';
import { cookieSpan, findCookie, queryParam, queryValueEnd, queryValueStart } from '../router/params.ts';

const SPAN = { start: 0, end: 0 };

export class RequestViewImpl implements RequestView, KeySource {
  private head: RequestHead | null = null;
  private hostCache: string | null = null;
  private qIndex = -2;
  sourceIp = '';

  reset(head: RequestHead, sourceIp: string): void {
    this.head = head;
    this.hostCache = null;
    this.qIndex = -2;
    this.sourceIp = sourceIp;
  }

  get uri(): string {
    return (this.head as RequestHead).target;
  }

  queryParam(name: string): string | undefined {
    return queryParam(this.query, name);
  }

  get method(): string {
    return (this.head as RequestHead).method;
  }

  get host(): string {
    if (this.hostCache === null) this.hostCache = hostName((this.head as RequestHead).host);
    return this.hostCache;
  }

  private queryIndex(): number {
    if (this.qIndex === -2) this.qIndex = (this.head as RequestHead).target.indexOf('?');
    return this.qIndex;
  }

  get path(): string {
    const t = (this.head as RequestHead).target;
    const q = this.queryIndex();
    return q < 0 ? t : t.slice(0, q);
  }

  get query(): string {
    const t = (this.head as RequestHead).target;
    const q = this.queryIndex();
    if (q < 0) return '';
    const hash = t.indexOf('#', q);
    return hash < 0 ? t.slice(q + 1) : t.slice(q + 1, hash);
  }

  header(lowerName: string, nth = 0): string | undefined {
    const i = this.fieldIndex(lowerName, nth);
    return i < 0 ? undefined : (this.head as RequestHead).values[i];
  }

  /** Index of the `nth` field named `lowerName` (case-insensitive), or −1. */
  private fieldIndex(lowerName: string, nth: number): number {
    const names = (this.head as RequestHead).names;
    for (let i = 0; i < names.length; i++) {
      const n = names[i];
      if (n.length === lowerName.length && n.toLowerCase() === lowerName && nth-- === 0) return i;
    }
    return -1;
  }

  // Hash keys as bytes (balancing/keys.ts KeySpan): the same bytes as the strings above, located in
  // the buffer the head was parsed from. Only the first occurrence counts, as in extract().

  headerSpan(lowerName: string, out: KeySpan): boolean {
    const h = this.head as RequestHead;
    const i = this.fieldIndex(lowerName, 0);
    out.keyBytes = h.raw;
    out.keyStart = i < 0 ? 0 : h.valueAt[i];
    out.keyEnd = i < 0 ? 0 : h.valueAt[i] + h.values[i].length;
    return true;
  }

  cookieSpan(name: string, out: KeySpan): boolean {
    const h = this.head as RequestHead;
    const names = h.names;
    out.keyBytes = h.raw;
    for (let i = 0; i < names.length; i++) {
      const n = names[i];
      if (n.length === 6 && n.toLowerCase() === 'cookie' && cookieSpan(h.values[i], name, 0, SPAN)) {
        out.keyStart = h.valueAt[i] + SPAN.start;
        out.keyEnd = h.valueAt[i] + SPAN.end;
        return true;
      }
    }
    out.keyStart = out.keyEnd = 0;
    return true;
  }

  querySpan(name: string, out: KeySpan): boolean {
    const h = this.head as RequestHead;
    const t = h.target;
    const q = this.queryIndex();
    out.keyBytes = h.raw;
    out.keyStart = out.keyEnd = 0;
    if (q < 0) return true;
    const hash = t.indexOf('#', q);
    const limit = hash < 0 ? t.length : hash;
    const start = queryValueStart(t, name, q + 1, limit);
    if (start >= 0) {
      out.keyStart = h.targetAt + start;
      out.keyEnd = h.targetAt + queryValueEnd(t, start, limit);
    }
    return true;
  }

  pathSpan(out: KeySpan): boolean {
    const h = this.head as RequestHead;
    const q = this.queryIndex();
    out.keyBytes = h.raw;
    out.keyStart = h.targetAt;
    out.keyEnd = h.targetAt + (q < 0 ? h.target.length : q);
    return true;
  }

  uriSpan(out: KeySpan): boolean {
    const h = this.head as RequestHead;
    out.keyBytes = h.raw;
    out.keyStart = h.targetAt;
    out.keyEnd = h.targetAt + h.target.length;
    return true;
  }

  cookie(name: string, nth = 0): string | undefined {
    const h = this.head as RequestHead;
    const names = h.names;
    for (let i = 0; i < names.length; i++) {
      const n = names[i];
      if (n.length === 6 && n.toLowerCase() === 'cookie') {
        // Occurrences in this Cookie field, then later ones.
        for (let k = 0; k <= nth; k++) {
          const v = findCookie(h.values[i], name, k);
          if (v === undefined) {
            nth -= k;
            break;
          }
          if (k === nth) return v;
        }
      }
    }
    return undefined;
  }
}

/**
 * The host a route matches: the Host (HTTP/1.1) or :authority (HTTP/2) value lowercased, without
 * its port (`[v6]` kept whole); '' when the request has none.
 */
export function hostName(raw: string | null): string {
  let h = raw === null ? '' : raw.toLowerCase();
  if (h.startsWith('[')) {
    const close = h.indexOf(']');
    if (close > 0) h = h.slice(0, close + 1);
  } else {
    const colon = h.lastIndexOf(':');
    if (colon >= 0) h = h.slice(0, colon);
  }
  return h;
}
