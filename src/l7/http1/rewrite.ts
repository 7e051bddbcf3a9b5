/**
 * Builds the heads Fulcrum sends: the request head towards the endpoint and the response head towards
 * the client. Hop-by-hop fields are removed (RFC 9110 §7.6.1: the fixed list plus every field named in
 * Connection); framing fields are rewritten for the hop (RFC 9112 §6); forwarding fields are set
 * (forwarded.ts). Heads are built as one latin1 string and written with a single socket write.
 */
import { forwardedValue } from './forwarded.ts';

/** Lowercased hop-by-hop fields (RFC 9110 §7.6.1) plus framing fields Fulcrum always re-derives. */
const DROP_ALWAYS = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'proxy-authenticate', 'proxy-authorization',
]);

const FORWARDING = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded']);

/** Inputs for the upstream request head. */
export interface UpstreamHeadInput {
  method: string;
  target: string;
  names: readonly string[];
  values: readonly string[];
  connectionTokens: readonly string[] | null;
  /** Host field value from the client (null when absent: HTTP/1.0). */
  host: string | null;
  chunked: boolean;
  clientIp: string;
  /** The client address as an RFC 7239 node (`forwardedNode(clientIp)`, computed once per connection). */
  clientNode: string;
  /** The client's peer is a trusted proxy: keep and append to its forwarding fields. */
  trusted: boolean;
  /** Set X-Forwarded-* and Forwarded (listener option xForwarded, default true). */
  xForwarded: boolean;
  /** `http` or `https`. */
  proto: string;
  /** Client's HTTP minor version, for Via. */
  clientMinor: number;
  via: boolean;
  /** Used as Host when the client sent none (HTTP/1.0). */
  endpointAddress: string;
  /**
   * An Upgrade passed on (RFC 9110 §7.8; ../websocket/upgrade.ts): its value, sent with
   * `Connection: upgrade`. Null or absent: Connection and Upgrade stay removed (hop-by-hop).
   */
  upgrade?: string | null;
}

/**
 * Lengths of every field name the builders treat specially; a name of another length (with no
 * Connection tokens to honour) is copied without being lowercased — most fields of a request.
 */
const SPECIAL_LENGTH = new Uint8Array(64);
for (const n of [...DROP_ALWAYS, ...FORWARDING, 'via']) SPECIAL_LENGTH[n.length] = 1;

function isPlain(name: string, tokens: readonly string[] | null): boolean {
  return tokens === null && name.length < 64 && SPECIAL_LENGTH[name.length] === 0;
}

function isDropped(lower: string, tokens: readonly string[] | null): boolean {
  if (DROP_ALWAYS.has(lower)) return true;
  return tokens !== null && tokens.includes(lower);
}

/** The request head for the endpoint, always HTTP/1.1 with keep-alive (the default in 1.1). */
export function buildUpstreamHead(r: UpstreamHeadInput): string {
  let head = r.method + ' ' + r.target + ' HTTP/1.1\r\n';
  let xff: string | null = null;
  let xfp: string | null = null;
  let xfh: string | null = null;
  let fwd: string | null = null;
  let via: string | null = null;
  const names = r.names;
  const values = r.values;
  const tokens = r.connectionTokens;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (isPlain(name, tokens)) {
      head += name + ': ' + values[i] + '\r\n';
      continue;
    }
    const lower = name.toLowerCase();
    if (isDropped(lower, tokens)) continue;
    if (r.xForwarded && FORWARDING.has(lower)) {
      if (!r.trusted) continue;
      const v = values[i];
      if (lower === 'x-forwarded-for') xff = xff === null ? v : xff + ', ' + v;
      else if (lower === 'forwarded') fwd = fwd === null ? v : fwd + ', ' + v;
      else if (lower === 'x-forwarded-proto') xfp ??= v;
      else xfh ??= v;
      continue;
    }
    if (lower === 'via') {
      via = via === null ? values[i] : via + ', ' + values[i];
      if (r.via) continue;
    }
    head += name + ': ' + values[i] + '\r\n';
  }
  if (r.host === null) head += 'Host: ' + r.endpointAddress + '\r\n';
  if (r.xForwarded) {
    const ip = r.clientIp;
    head += 'X-Forwarded-For: ' + (xff === null ? ip : xff + ', ' + ip) + '\r\n';
    head += 'X-Forwarded-Proto: ' + (xfp ?? r.proto) + '\r\n';
    if (r.host !== null || xfh !== null) head += 'X-Forwarded-Host: ' + (xfh ?? r.host) + '\r\n';
    let element = 'for=' + r.clientNode;
    if (r.host !== null) element += ';host=' + forwardedValue(r.host);
    element += ';proto=' + r.proto;
    head += 'Forwarded: ' + (fwd === null ? element : fwd + ', ' + element) + '\r\n';
  }
  if (r.via) head += 'Via: ' + (via === null ? '' : via + ', ') + '1.' + r.clientMinor + ' fulcrum\r\n';
  if (r.chunked) head += 'Transfer-Encoding: chunked\r\n';
  if (r.upgrade != null) head += 'Connection: upgrade\r\nUpgrade: ' + r.upgrade + '\r\n';
  return head + '\r\n';
}

/** Framing Fulcrum uses towards the client for a response body. */
export const FRAME_NONE = 0; // no body (HEAD, 1xx, 204, 304) or Content-Length passed through
export const FRAME_CHUNKED = 1; // upstream chunked, forwarded as received
export const FRAME_RECHUNK = 2; // upstream delimited by close, re-framed as chunked for HTTP/1.1 clients
export const FRAME_CLOSE = 3; // delimited by close towards an HTTP/1.0 client

export interface ClientHeadInput {
  status: number;
  reason: string;
  names: readonly string[];
  values: readonly string[];
  connectionTokens: readonly string[] | null;
  framing: number;
  keepAlive: boolean;
  clientMinor: number;
  via: boolean;
  upstreamMinor: number;
  /** A 101 switching to this Upgrade value: `Connection: upgrade` + `Upgrade` instead of keep-alive fields. */
  upgrade?: string | null;
}

const REASONS: Record<number, string> = { 101: 'Switching Protocols', 200: 'OK', 204: 'No Content', 304: 'Not Modified', 404: 'Not Found' };

/** The response head for the client (HTTP/1.1 status line; Connection set for this hop). */
export function buildClientHead(r: ClientHeadInput): string {
  let head = 'HTTP/1.1 ' + r.status + ' ' + (r.reason === '' ? (REASONS[r.status] ?? '') : r.reason) + '\r\n';
  const names = r.names;
  const values = r.values;
  const tokens = r.connectionTokens;
  let via: string | null = null;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (isPlain(name, tokens)) {
      head += name + ': ' + values[i] + '\r\n';
      continue;
    }
    const lower = name.toLowerCase();
    if (isDropped(lower, tokens)) continue;
    if (r.via && lower === 'via') {
      via = via === null ? values[i] : via + ', ' + values[i];
      continue;
    }
    head += name + ': ' + values[i] + '\r\n';
  }
  if (r.via) head += 'Via: ' + (via === null ? '' : via + ', ') + '1.' + r.upstreamMinor + ' fulcrum\r\n';
  if (r.framing === FRAME_CHUNKED || r.framing === FRAME_RECHUNK) head += 'Transfer-Encoding: chunked\r\n';
  if (r.upgrade != null) head += 'Connection: upgrade\r\nUpgrade: ' + r.upgrade + '\r\n';
  else if (!r.keepAlive) head += 'Connection: close\r\n';
  else if (r.clientMinor === 0) head += 'Connection: keep-alive\r\n';
  return head + '\r\n';
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 404: 'Not Found', 408: 'Request Timeout', 414: 'URI Too Long', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout',
};

/**
 * A complete error response generated by Fulcrum; the body names the stable error code. `extraHead`:
 * more header lines (`Name: value\r\n` each), e.g. a rate limit's Retry-After.
 */
export function errorResponse(status: number, code: string, keepAlive: boolean, headOnly = false, extraHead = ''): string {
  const text = STATUS_TEXT[status] ?? 'Error';
  const body = status + ' ' + text + ': ' + code + '\n';
  return 'HTTP/1.1 ' + status + ' ' + text + '\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ' +
    body.length + '\r\nX-Fulcrum-Error: ' + code + '\r\n' + extraHead + (keepAlive ? '' : 'Connection: close\r\n') + '\r\n' +
    (headOnly ? '' : body);
}
