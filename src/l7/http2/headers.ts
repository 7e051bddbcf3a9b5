/**
 * Header handling for requests that arrive over HTTP/2 (RFC 9113 §8): the router's view of a
 * request's header block, the request headers sent upstream (over HTTP/1.1, RFC 9113 §8.3.1 /
 * RFC 9112, or over HTTP/2), and the response headers and trailers passed back to the client.
 *
 * Connection-specific fields are never forwarded (RFC 9113 §8.2.2; RFC 9110 §7.6.1); `te` goes on
 * to an HTTP/2 upstream only as `trailers` (gRPC requires it). Forwarding fields follow the HTTP/1.1
 * path's rules (http1/forwarded.ts): kept and appended to only from a trusted peer.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import type { RequestView } from '../router/types.ts';
import type { KeySource } from '../../balancing/keys.ts';
import { findCookie, queryParam } from '../router/params.ts';
import { forwardedValue } from '../http1/forwarded.ts';
import { hostName } from '../http1/request-view.ts';

/** Fields that describe one connection only: dropped in both directions. */
const HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer',
  'http2-settings', 'proxy-authenticate', 'proxy-authorization', 'host',
]);

const FORWARDING = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'via']);

/** The router's and hash keys' view of an HTTP/2 request (one per stream; host/path split lazily). */
export class H2RequestView implements RequestView, KeySource {
  readonly headers: IncomingHttpHeaders;
  readonly sourceIp: string;
  readonly method: string;
  readonly uri: string;
  /** `:authority`, or the Host field when a client sent that instead (RFC 9113 §8.3.1). */
  readonly authority: string | null;
  private hostCache: string | null = null;

  constructor(headers: IncomingHttpHeaders, sourceIp: string) {
    this.headers = headers;
    this.sourceIp = sourceIp;
    this.method = str(headers[':method']) ?? '';
    this.uri = str(headers[':path']) ?? '';
    this.authority = str(headers[':authority']) ?? str(headers.host) ?? null;
  }

  get host(): string {
    if (this.hostCache === null) this.hostCache = hostName(this.authority);
    return this.hostCache;
  }

  get path(): string {
    const q = this.uri.indexOf('?');
    return q < 0 ? this.uri : this.uri.slice(0, q);
  }

  get query(): string {
    const t = this.uri;
    const q = t.indexOf('?');
    if (q < 0) return '';
    const hash = t.indexOf('#', q);
    return hash < 0 ? t.slice(q + 1) : t.slice(q + 1, hash);
  }

  queryParam(name: string): string | undefined {
    return queryParam(this.query, name);
  }

  header(lowerName: string, nth = 0): string | undefined {
    if (lowerName === 'host') return nth === 0 ? this.authority ?? undefined : undefined;
    const v = this.headers[lowerName];
    if (v === undefined) return undefined;
    if (Array.isArray(v)) return v[nth];
    return nth === 0 ? v : undefined;
  }

  cookie(name: string, nth = 0): string | undefined {
    const c = this.headers.cookie;
    return c === undefined ? undefined : findCookie(Array.isArray(c) ? c.join('; ') : c, name, nth);
  }
}

function str(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** What the upstream request headers depend on besides the client's header block. */
export interface ForwardInput {
  clientIp: string;
  clientNode: string;
  trusted: boolean;
  xForwarded: boolean;
  via: boolean;
  /** `http` or `https` (the client connection). */
  proto: string;
}

/**
 * The request headers for the endpoint. `h2`: pseudo-header fields for an HTTP/2 upstream, else a
 * Host field for HTTP/1.1. Forwarding fields as on the HTTP/1.1 path. `hs` and `path`: the fields
 * and target to send when middlewares or affinity edited them (requestFields), else as received.
 */
export function upstreamHeaders(
  v: H2RequestView, f: ForwardInput, h2: boolean, endpointAddress: string,
  hs: IncomingHttpHeaders = v.headers, path: string = v.uri,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const authority = v.authority ?? endpointAddress;
  if (h2) {
    out[':method'] = v.method;
    out[':path'] = path;
    out[':scheme'] = 'http';
    out[':authority'] = authority;
  } else {
    out.host = authority;
  }
  let xff: string | null = null;
  let xfp: string | null = null;
  let xfh: string | null = null;
  let fwd: string | null = null;
  let via: string | null = null;
  for (const name in hs) {
    if (name.charCodeAt(0) === 58 /* : */) continue;
    const value = hs[name];
    if (value === undefined) continue;
    if (HOP.has(name)) {
      if (name === 'te' && h2 && String(value).toLowerCase().includes('trailers')) out.te = 'trailers';
      continue;
    }
    if (FORWARDING.has(name)) {
      const s = Array.isArray(value) ? value.join(', ') : value;
      if (name === 'via') {
        via = s;
        if (f.via) continue;
      } else if (f.xForwarded) {
        if (!f.trusted) continue;
        if (name === 'x-forwarded-for') xff = s;
        else if (name === 'forwarded') fwd = s;
        else if (name === 'x-forwarded-proto') xfp = s;
        else xfh = s;
        continue;
      }
    }
    // HTTP/2 may split Cookie into several fields; HTTP/1.1 needs one (RFC 9113 §8.2.3). Node has
    // already joined them with "; " in `headers`.
    out[name] = value;
  }
  if (f.xForwarded) {
    const ip = f.clientIp;
    out['x-forwarded-for'] = xff === null ? ip : xff + ', ' + ip;
    out['x-forwarded-proto'] = xfp ?? f.proto;
    if (v.authority !== null || xfh !== null) out['x-forwarded-host'] = xfh ?? v.authority ?? '';
    let element = 'for=' + f.clientNode;
    if (v.authority !== null) element += ';host=' + forwardedValue(v.authority);
    element += ';proto=' + f.proto;
    out.forwarded = fwd === null ? element : fwd + ', ' + element;
  }
  if (f.via) out.via = (via === null ? '' : via + ', ') + '2 fulcrum';
  return out;
}

/**
 * Response headers (or trailers) from the endpoint for the HTTP/2 client: `:status` set from
 * `status` (0 for trailers), pseudo-header and connection-specific fields dropped.
 */
export function clientHeaders(h: Record<string, string | string[] | number | undefined>, status: number, via: boolean, upstreamVersion: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  if (status !== 0) out[':status'] = status;
  let viaIn: string | null = null;
  for (const name in h) {
    if (name.charCodeAt(0) === 58) continue;
    const value = h[name];
    if (value === undefined || HOP.has(name)) continue;
    if (via && status !== 0 && name === 'via') {
      viaIn = Array.isArray(value) ? value.join(', ') : String(value);
      continue;
    }
    out[name] = value;
  }
  if (via && status !== 0) out.via = (viaIn === null ? '' : viaIn + ', ') + upstreamVersion + ' fulcrum';
  return out;
}

/**
 * The request fields of an Exchange (middlewares, affinity) as a header object for upstreamHeaders:
 * names lowercased (a header rule may add `X-Foo`; HTTP/2 field names are lowercase, RFC 9113
 * §8.2.1), pseudo-header fields skipped, several `cookie` fields (HTTP/2 may split them, RFC 9113
 * §8.2.3) joined with "; " into one, other repeated fields kept as a list.
 */
export function requestFields(names: readonly string[], values: readonly string[]): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (let i = 0; i < names.length; i++) {
    const n = names[i].toLowerCase();
    if (n.charCodeAt(0) === 58) continue;
    const v = values[i];
    const had = out[n];
    if (had === undefined) out[n] = v;
    else if (n === 'cookie') out[n] = had + '; ' + v;
    else if (Array.isArray(had)) had.push(v);
    else out[n] = [had, v];
  }
  return out;
}

/** The non-pseudo fields of a header object as two lists (field per value, for an Exchange). */
export function fieldLists(h: OutgoingHttpHeaders | IncomingHttpHeaders, names: string[], values: string[]): void {
  for (const name in h) {
    if (name.charCodeAt(0) === 58) continue;
    const v = h[name];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const e of v) { names.push(name); values.push(String(e)); }
    else { names.push(name); values.push(String(v)); }
  }
}

/**
 * Response fields for the HTTP/2 client from two lists (after response middlewares and affinity):
 * `:status`, names lowercased, repeated fields as a list, connection-specific fields dropped
 * (RFC 9113 §8.2.2) whoever added them.
 */
export function responseFields(status: number, names: readonly string[], values: readonly string[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':status': status };
  for (let i = 0; i < names.length; i++) {
    const n = names[i].toLowerCase();
    if (n.charCodeAt(0) === 58 || HOP.has(n)) continue;
    const v = values[i];
    const had = out[n];
    if (had === undefined) out[n] = v;
    else if (Array.isArray(had)) had.push(v);
    else out[n] = [String(had), v];
  }
  return out;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 404: 'Not Found', 408: 'Request Timeout', 414: 'URI Too Long', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large',
  501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

/** The body of an error Fulcrum answers itself: `502 Bad Gateway: FULCRUM_E_…` (as on HTTP/1.1). */
export function errorBody(status: number, code: string): string {
  return status + ' ' + (STATUS_TEXT[status] ?? 'Error') + ': ' + code + '\n';
}

/** Its response headers: the stable code in `x-fulcrum-error`. */
export function errorHeaders(status: number, code: string, body: string, names?: readonly string[], values?: readonly string[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':status': status, 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length, 'x-fulcrum-error': code };
  // Fields of a middleware's answer (429: Retry-After, RateLimit-Policy, RateLimit), lowercased.
  if (names !== undefined && values !== undefined) {
    for (let i = 0; i < names.length; i++) {
      const n = names[i].toLowerCase();
      if (!HOP.has(n) && n.charCodeAt(0) !== 58) out[n] = values[i];
    }
  }
  return out;
}
