/**
 * The router's lazy view of a parsed request head (router/types.ts RequestView). One instance per
 * client connection, reset per request; host/path/query are split on first use only.
 */
import type { RequestHead } from './parser.ts';
import type { RequestView } from '../router/types.ts';
import type { KeySource } from '../../balancing/keys.ts';
import { findCookie, queryParam } from '../router/params.ts';

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
    const h = this.head as RequestHead;
    const names = h.names;
    for (let i = 0; i < names.length; i++) {
      const n = names[i];
      if (n.length === lowerName.length && n.toLowerCase() === lowerName && nth-- === 0) return h.values[i];
    }
    return undefined;
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
