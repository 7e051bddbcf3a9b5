/**
 * The configuration schema: the single source of truth for the config file's types, validation,
 * defaults, JSON Schema (./json-schema.ts) and reference docs (./docs.ts, docs/configuration.md).
 * DESIGN.md rule 4. Per-value checks live here; checks that relate several values (unique names,
 * pool references, colliding listen addresses, "exactly one of") live in ./semantic.ts.
 *
 * Every problem a refinement reports is a zod `custom` issue whose message is final
 * (`expected …, got …`); built-in issues are worded by ./problems.ts.
 */
import { z } from 'zod';
import '../balancing/index.ts'; // side effect: every algorithm registers itself
import { algorithmNames } from '../balancing/registry.ts';
import { gslbSchema } from '../gslb/schema.ts';
import {
  MAX_DURATION_MS, TOKEN_RE, isHostPattern, isIpOrCidr, normalizeHashKey, parseHostPort,
  regexError, tryParseDuration,
} from './values.ts';

const show = (v: unknown): string => JSON.stringify(v);

/** A duration: `500ms`, `10s`, `2m`, `1h`, `1m30s`, or a number of milliseconds. Output: ms. */
export const Duration = z
  .union([z.number(), z.string()], { error: 'expected a duration like 500ms, 10s, 2m, 1h or a number of milliseconds' })
  .superRefine((v, ctx) => {
    const ms = tryParseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a duration like 500ms, 10s, 2m, 1h or a number of milliseconds, got ${show(v)}` });
    } else if (ms > MAX_DURATION_MS) {
      ctx.addIssue({ code: 'custom', message: `expected a duration of at most ${MAX_DURATION_MS}ms (about 24.8 days), got ${show(v)}` });
    }
  })
  .transform((v) => tryParseDuration(v) ?? 0)
  .meta({
    id: 'Duration',
    description: 'A length of time: a number of milliseconds, or a string of one or more `<number><unit>` parts with units `ms`, `s`, `m`, `h` (`500ms`, `10s`, `2m`, `1h`, `1m30s`). At most 2147483647 ms (about 24.8 days).',
  });

/** `host:port`; port 1-65535, or 0 (= any free port) when `allowZero`. */
function address(allowZero: boolean) {
  return z.string().superRefine((s, ctx) => {
    const hp = parseHostPort(s);
    if (hp === null) {
      const tail = /:(\d+)$/.exec(s);
      const hint = tail && Number(tail[1]) > 65535 ? ' with a port in 1-65535'
        : !s.startsWith('[') && s.split(':').length > 2 ? ' (IPv6 in brackets: [::1]:80)' : '';
      ctx.addIssue({ code: 'custom', message: `expected host:port${hint}, got ${show(s)}` });
    } else if (hp.port === 0 && !allowZero) {
      ctx.addIssue({ code: 'custom', message: `expected host:port with a port in 1-65535, got ${show(s)}` });
    }
  });
}
/** Address to listen on (port 0 asks the OS for a free port, handy in tests). */
const ListenAddress = address(true);
/** Address of a backend (port 1-65535). */
const ServerAddress = address(false);

/** Names of listeners, pools and routes: `[A-Za-z0-9_.-]+`. */
const Name = z.string().superRefine((s, ctx) => {
  if (!/^[A-Za-z0-9_.-]+$/.test(s)) ctx.addIssue({ code: 'custom', message: `expected a name of letters, digits, "_", "." or "-", got ${show(s)}` });
});

/** A JavaScript regular expression source, compiled at load time to catch syntax errors. */
const Regex = z.string().superRefine((s, ctx) => {
  const err = regexError(s);
  if (err !== undefined) ctx.addIssue({ code: 'custom', message: `expected a valid regular expression, got ${show(s)}: ${err}` });
});

/** An RFC 9110 token (header field name, method). */
function token(what: string) {
  return z.string().superRefine((s, ctx) => {
    if (!TOKEN_RE.test(s)) ctx.addIssue({ code: 'custom', message: `expected ${what} (an RFC 9110 token), got ${show(s)}` });
  });
}

/** Absolute path (starts with `/`). */
const UrlPath = z.string().superRefine((s, ctx) => {
  if (!s.startsWith('/')) ctx.addIssue({ code: 'custom', message: `expected a path starting with "/", got ${show(s)}` });
});

/** Balancing algorithm name, checked against the algorithm registry at parse time. */
export const AlgorithmName = z.string().superRefine((s, ctx) => {
  const known = algorithmNames();
  if (!known.includes(s)) ctx.addIssue({ code: 'custom', message: `unknown algorithm ${show(s)}; expected one of ${known.join(', ')}` });
});

const HashKey = z
  .string()
  .superRefine((s, ctx) => {
    if (normalizeHashKey(s) === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a hash key: source-ip, header:NAME, cookie:NAME, query:NAME, path, uri or five-tuple; got ${show(s)}` });
    }
  })
  .transform((s) => normalizeHashKey(s) ?? s);

const IpOrCidr = z.string().superRefine((s, ctx) => {
  if (!isIpOrCidr(s)) ctx.addIssue({ code: 'custom', message: `expected an IPv4/IPv6 address or CIDR block (10.0.0.0/8, fd00::/8), got ${show(s)}` });
});

/** Non-negative integer with a default. */
function count(dflt: number, min = 0) {
  return z.number().int().min(min).default(dflt);
}

// ---------------------------------------------------------------------------------------------
// Route matching

/** One name/value condition on a header, query parameter or cookie. */
export const ValueMatchSchema = z
  .strictObject({
    name: z.string().min(1).describe('Header, query parameter or cookie name. Header names are case-insensitive (lowercased); query and cookie names are case-sensitive.'),
    exact: z.string().optional().describe('The value must equal this string exactly.'),
    regex: Regex.optional().describe('The value must match this JavaScript regular expression (unanchored: use `^…$` to match the whole value).'),
    present: z.literal(true).optional().describe('`true`: the name must be present, whatever its value.'),
  })
  .meta({
    id: 'ValueMatch',
    description: 'A condition on one header, query parameter or cookie: `name` plus exactly one of `exact`, `regex` or `present: true`. When the name occurs several times, the condition holds if any occurrence satisfies it.',
  });

const HeaderMatch = ValueMatchSchema.transform((m) => ({ ...m, name: m.name.toLowerCase() }));

const PathMatch = z
  .strictObject({
    prefix: UrlPath.optional().describe('The path starts with this string (`/api` matches `/api`, `/api/x` and `/apix`; write `/api/` to match segment-wise).'),
    exact: UrlPath.optional().describe('The path (without query string) equals this string.'),
    regex: Regex.optional().describe('The path (without query string) matches this JavaScript regular expression (unanchored).'),
  })
  .describe('Condition on the request path (without query string): exactly one of `prefix`, `exact` or `regex`.');

const HostList = z
  .union([z.string(), z.array(z.string()).min(1)], { error: 'expected a host name or a list of host names' })
  .superRefine((v, ctx) => {
    const hosts = typeof v === 'string' ? [v] : v;
    hosts.forEach((h, i) => {
      if (!isHostPattern(h)) {
        ctx.addIssue({ code: 'custom', path: typeof v === 'string' ? [] : [i], message: `expected a host name or "*.domain", got ${show(h)}` });
      }
    });
  })
  .transform((v) => (typeof v === 'string' ? [v] : v).map((h) => h.toLowerCase()));

const MethodList = z
  .union([token('an HTTP method'), z.array(token('an HTTP method')).min(1)], { error: 'expected an HTTP method or a list of methods' })
  .transform((v) => (typeof v === 'string' ? [v] : v).map((m) => m.toUpperCase()));

export const MatchSchema = z
  .strictObject({
    host: HostList.optional().describe('Host name(s) the request\'s Host must equal (port ignored, case-insensitive). `*.example.com` matches any sub-domain of example.com, not example.com itself. Output: lowercased list.'),
    path: PathMatch.optional(),
    method: MethodList.optional().describe('Method(s) the request must use. Output: uppercased list.'),
    headers: z.array(HeaderMatch).optional().describe('Conditions on request headers; all must hold.'),
    query: z.array(ValueMatchSchema).optional().describe('Conditions on query-string parameters; all must hold.'),
    cookies: z.array(ValueMatchSchema).optional().describe('Conditions on cookies (from the Cookie header); all must hold.'),
  })
  .describe('Conditions a request must meet to take the route; every given condition must hold. Omit `match` (or leave it empty) to match every request.');

const SplitTarget = z.strictObject({
  pool: z.string().describe('Name of a pool defined under `pools`.'),
  weight: z.number().int().min(0).describe('Relative share of requests (integer ≥ 0; 0 = none). Not all weights of a split may be 0.'),
}).describe('One weighted target of a traffic split.');

// ---------------------------------------------------------------------------------------------
// Route middlewares (src/l7/middlewares/) and pool affinity (src/l7/affinity/)

/** Request keys a rate limit can count by (the hash-key extractors, five-tuple excepted). */
const RateKey = z.string().superRefine((s, ctx) => {
  const n = normalizeHashKey(s);
  if (n === undefined || n === 'five-tuple') {
    ctx.addIssue({ code: 'custom', message: `expected a rate-limit key: source-ip, header:NAME, cookie:NAME, query:NAME, path or uri; got ${show(s)}` });
  }
}).transform((s) => normalizeHashKey(s) ?? s);

const RATE_RE = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(s|sec|second|m|min|minute|h|hour)\s*$/;
const RATE_UNIT_MS: Record<string, number> = { s: 1000, sec: 1000, second: 1000, m: 60_000, min: 60_000, minute: 60_000, h: 3_600_000, hour: 3_600_000 };

/** `10/s`, `600/m`, `1000/h` (output: { count, windowMs }). */
const Rate = z.string().superRefine((s, ctx) => {
  const m = RATE_RE.exec(s);
  if (m === null || !(Number(m[1]) > 0)) ctx.addIssue({ code: 'custom', message: `expected a rate like 10/s, 600/m or 1000/h (a positive number of requests per second, minute or hour), got ${show(s)}` });
}).transform((s) => {
  const m = RATE_RE.exec(s);
  return m === null ? { count: 1, windowMs: 1000 } : { count: Number(m[1]), windowMs: RATE_UNIT_MS[m[2]] };
});

const RateLimitSchema = z.strictObject({
  key: RateKey.default('source-ip').describe('What requests are counted by, one bucket per value (default `source-ip`): `source-ip`, `header:NAME`, `cookie:NAME`, `query:NAME`, `path` or `uri` (the hash-key forms). A request without the key (header absent…) is not limited, as nginx\'s limit_req with an empty key.'),
  rate: Rate.describe('Sustained rate a key may send: `<n>/s`, `<n>/m` or `<n>/h` (`10/s`, `600/m`). Tokens refill continuously at this rate.'),
  burst: z.number().int().min(1).optional().describe('Bucket size: requests a key may send at once after being idle. Default: the rate\'s count (`600/m` → 600).'),
  maxKeys: count(100000, 1).describe('Buckets kept at most; beyond it full buckets (which carry no state) are dropped first, then the least recently used.'),
  policy: Name.default('default').describe('Policy name in the `RateLimit-Policy` and `RateLimit` response fields.'),
}).describe('Token-bucket rate limit of the route: over the limit a request gets 429 `FULCRUM_E_RATE_LIMITED` with `Retry-After`, `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers). See docs/middlewares.md.');

/** Field names the header rules may not touch (framing and hop-by-hop: Fulcrum derives them). */
const RESERVED_FIELDS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'host']);
const TEMPLATE_VARS = new Set(['client_ip', 'host', 'path', 'method', 'route']);

/** Problem with a field name a header rule names, or undefined. */
function ruleFieldNameProblem(s: string): string | undefined {
  if (!TOKEN_RE.test(s)) return `expected a header field name (an RFC 9110 token), got ${show(s)}`;
  if (RESERVED_FIELDS.has(s.toLowerCase())) return `${show(s)} is managed by Fulcrum (framing, hop-by-hop or Host) and cannot be changed by header rules`;
  return undefined;
}

const RuleFieldName = z.string().superRefine((s, ctx) => {
  const p = ruleFieldNameProblem(s);
  if (p !== undefined) ctx.addIssue({ code: 'custom', message: p });
});

/** A field value: visible ASCII, spaces and tabs; `%{client_ip}`, `%{host}`, `%{path}`, `%{method}`, `%{route}` are replaced per request. */
const RuleFieldValue = z.string().superRefine((s, ctx) => {
  if (/[\r\n\0]/.test(s)) ctx.addIssue({ code: 'custom', message: `expected a header value without CR, LF or NUL, got ${show(s)}` });
  for (const m of s.matchAll(/%\{([^}]*)\}/g)) {
    if (!TEMPLATE_VARS.has(m[1])) ctx.addIssue({ code: 'custom', message: `unknown variable %{${m[1]}}; expected one of ${[...TEMPLATE_VARS].map((v) => `%{${v}}`).join(', ')}` });
  }
});

/** `{ Name: value }`: names checked here so a problem names the key's path. */
const RuleFieldMap = z.record(z.string(), RuleFieldValue).superRefine((rec, ctx) => {
  for (const k of Object.keys(rec)) {
    const p = ruleFieldNameProblem(k);
    if (p !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: p });
  }
});

const HeaderEdits = z.strictObject({
  remove: z.array(RuleFieldName).optional().describe('Fields removed (every occurrence, names case-insensitive). Applied first.'),
  set: RuleFieldMap.optional().describe('Fields set: every occurrence replaced by one field with this value. Applied second.'),
  add: RuleFieldMap.optional().describe('Fields appended (existing occurrences kept). Applied last.'),
}).describe('Field edits in one direction. Values are literal except `%{client_ip}`, `%{host}`, `%{path}`, `%{method}` and `%{route}`, replaced per request.');

const HeaderRulesSchema = z.strictObject({
  request: HeaderEdits.optional().describe('Edits of the request sent to the server (before Fulcrum adds X-Forwarded-*, Forwarded and Via).'),
  response: HeaderEdits.optional().describe('Edits of the response sent to the client (responses from a server; not Fulcrum\'s own error responses).'),
}).describe('Request and response header rules of the route. See docs/middlewares.md.');

const RewriteSchema = z.strictObject({
  stripPrefix: UrlPath.optional().describe('Remove this prefix from the path (`/api/users?x=1` → `/users?x=1`); a path equal to the prefix becomes `/`. Paths without the prefix are sent unchanged.'),
  replacePrefix: z.strictObject({
    from: UrlPath.describe('Prefix to replace.'),
    to: UrlPath.describe('Replacement.'),
  }).optional().describe('Replace the prefix `from` by `to` (`/old/x` → `/new/x`).'),
}).superRefine((r, ctx) => {
  if (r.stripPrefix !== undefined && r.replacePrefix !== undefined) ctx.addIssue({ code: 'custom', message: 'expected one of stripPrefix and replacePrefix, not both' });
}).describe('Path rewrite of the route (the query string is kept as received).');

const StickySchema = z.strictObject({
  cookie: TokenName('a cookie name').optional().describe('Insert mode (HAProxy `cookie NAME insert`): Fulcrum sets this cookie on the response naming the chosen server by an opaque keyed hash, and sends later requests carrying it to that server while it is available. The cookie is removed from requests before they reach the server.'),
  mode: z.enum(['insert']).default('insert').describe('`insert`: Fulcrum sets the cookie (the only mode so far).'),
  httpOnly: z.boolean().default(true).describe('Insert mode: add `HttpOnly` to the cookie.'),
  secure: z.boolean().default(false).describe('Insert mode: add `Secure` to the cookie (set it when clients reach Fulcrum over HTTPS).'),
  sameSite: z.enum(['Lax', 'Strict', 'None']).default('Lax').describe('Insert mode: the cookie\'s `SameSite` attribute.'),
  maxAge: Duration.optional().describe('Insert mode: the cookie\'s `Max-Age` (rounded down to seconds). Default: none, a session cookie.'),
  path: UrlPath.default('/').describe('Insert mode: the cookie\'s `Path`.'),
  secret: z.string().min(16).optional().describe('Insert mode: key of the HMAC that makes cookie values (at least 16 characters; write `${FULCRUM_STICKY_SECRET}` to take it from the environment). Default: a random key made at start — pins do not survive a restart and differ between Fulcrum instances.'),
  learn: TokenName('a cookie name').optional().describe('Learn mode: when a server\'s response sets this cookie (`Set-Cookie`, e.g. `JSESSIONID`), remember value → server; later requests carrying the cookie go to that server while it is available.'),
  maxEntries: count(100000, 1).describe('Learn mode: sessions remembered at most (least recently used dropped first).'),
  ttl: Duration.prefault('30m').describe('Learn mode: a session not seen for this long is forgotten.'),
}).superRefine((s, ctx) => {
  if ((s.cookie === undefined) === (s.learn === undefined)) ctx.addIssue({ code: 'custom', message: 'expected exactly one of "cookie" (insert mode) and "learn" (learn mode)' });
}).describe('Session affinity of the pool: requests of a client session keep going to one server. See docs/affinity.md.');

function TokenName(what: string) {
  return z.string().superRefine((s, ctx) => {
    if (!TOKEN_RE.test(s)) ctx.addIssue({ code: 'custom', message: `expected ${what} (an RFC 9110 token), got ${show(s)}` });
  });
}
const RouteRedirect = z.strictObject({
  scheme: z.enum(['https']).default('https').describe('Scheme of the `Location`: `https`.'),
  code: z.union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)]).default(301).describe('Status of the redirect. 301 (as nginx `return 301 https://$host$request_uri`) lets browsers turn a POST into a GET; 308 keeps the method and body.'),
  port: z.number().int().min(1).max(65535).optional().describe('Port written in the `Location` (omitted: the scheme\'s default port, 443).'),
}).describe('Answer matching requests with a redirect to the same host and request target over `scheme` (docs/tls.md). A redirect route takes no `pool` or `split`; it is not allowed on an `https` listener (it would loop).');

const Hsts = z.strictObject({
  maxAge: z.number().int().min(0).default(31536000).describe('`max-age` in seconds (RFC 6797 §6.1.1). Default 31536000 (1 year); 0 tells browsers to forget the policy.'),
  includeSubDomains: z.boolean().default(false).describe('Add `includeSubDomains`.'),
  preload: z.boolean().default(false).describe('Add `preload` (for browsers\' preload lists; needs includeSubDomains and a max-age of at least 1 year to be accepted there).'),
}).describe('Add `Strict-Transport-Security` (RFC 6797) to responses of this route sent over `https` (never over plain http, §7.2), unless the backend set one.');

const RouteSchema = z
  .strictObject({
    name: Name.optional().describe('Route name used in logs and metrics. Default: `route-<index>` (0-based position in the listener\'s `routes`).'),
    match: MatchSchema.prefault({}),
    pool: z.string().optional().describe('Send matching requests to this pool. Exactly one of `pool` and `split` is required.'),
    split: z.array(SplitTarget).min(1).optional().describe('Send matching requests to several pools in proportion to their weights (canary, blue/green). Exactly one of `pool` and `split` is required.'),
    rateLimit: RateLimitSchema.optional(),
    headers: HeaderRulesSchema.optional(),
    rewrite: RewriteSchema.optional(),
    redirect: RouteRedirect.optional(),
    hsts: Hsts.optional(),
  })
  .describe('A route: requests meeting `match` go to `pool` or are shared between the pools of `split`. Routes are tried in order; the first match wins.')
  .transform((r) => ({
    name: r.name,
    match: r.match,
    targets: r.split !== undefined
      ? r.split.map((t) => ({ pool: t.pool, weight: t.weight }))
      : r.pool !== undefined ? [{ pool: r.pool, weight: 1 }] : [],
    ...(r.rateLimit !== undefined ? { rateLimit: r.rateLimit } : {}),
    ...(r.headers !== undefined ? { headers: r.headers } : {}),
    ...(r.rewrite !== undefined ? { rewrite: r.rewrite } : {}),
    ...(r.redirect !== undefined ? { redirect: r.redirect } : {}),
    ...(r.hsts !== undefined ? { hsts: hstsValue(r.hsts) } : {}),
  }));

/** The Strict-Transport-Security field value (RFC 6797 §6.1), built once per route. */
function hstsValue(h: { maxAge: number; includeSubDomains: boolean; preload: boolean }): string {
  return `max-age=${h.maxAge}${h.includeSubDomains ? '; includeSubDomains' : ''}${h.preload ? '; preload' : ''}`;
}

// ---------------------------------------------------------------------------------------------
// Listeners

const ListenerTimeouts = z.strictObject({
  header: Duration.prefault('10s').describe('Time allowed to receive a complete request head, from the first byte of the request (and for an idle keep-alive connection, from the end of the previous response); 408 when exceeded.'),
  idle: Duration.prefault('60s').describe('Time a client keep-alive connection may stay idle between requests before it is closed.'),
  request: Duration.prefault(0).describe('Limit on the whole request, from the first byte to the end of the response; 0 = no limit.'),
  tunnel: Duration.prefault('1h').describe('`http`: an upgraded connection (WebSocket, or another protocol allowed by `webSocket.otherUpgrades`) that passes no byte in either direction for this long is closed (HAProxy `timeout tunnel`). 0 = no limit.'),
  clientHello: Duration.prefault('5s').describe('`https`: time allowed for the TLS handshake. `tls-passthrough`: time allowed for the ClientHello (and the PROXY header) to arrive. Any listener with `proxyProtocol`: time allowed for the PROXY header to arrive (on `https` the handshake then has its own period). The connection is closed when exceeded.'),
}).describe('Client-side timeouts of the listener. For `tcp` and `tls-passthrough` listeners `idle` is the time a proxied connection may pass no byte in either direction before both sides are closed.');

const ListenerLimits = z.strictObject({
  requestLine: count(8192, 1).describe('Maximum length of the request line in bytes; longer gets 414.'),
  headerBytes: count(32768, 1).describe('Maximum size of the header section in bytes; larger gets 431.'),
  headerCount: count(100, 1).describe('Maximum number of header fields; more gets 431.'),
}).describe('Size limits on the request head (RFC 9112).');

const WebSocketOptions = z.strictObject({
  enabled: z.boolean().default(true).describe('Pass WebSocket upgrades (RFC 6455: `Connection: upgrade` + `Upgrade: websocket`) to the backend and tunnel the connection after its `101 Switching Protocols`. `false`: the Upgrade header is removed and the request goes on as plain HTTP.'),
  drainTimeout: Duration.prefault('10s').describe('When the listener shuts down, or the tunnel\'s server is drained or removed by a reload, open WebSockets are closed this long afterwards with a Close frame 1001 (Going Away) to both peers. Keep it below `shutdown.gracePeriod`.'),
  otherUpgrades: z.array(token('an Upgrade protocol name')).default([]).transform((a) => a.map((t) => t.toLowerCase()))
    .describe('Upgrade protocol names besides `websocket` passed to the backend (e.g. `h2c`, a custom protocol); after a 101 they are tunnelled as opaque bytes (closed with a TCP FIN at the drain deadline). Default none: the Upgrade header is removed and the request goes on as plain HTTP.'),
}).describe('`http`: HTTP/1.1 Upgrade to WebSocket (and optionally other protocols), tunnelled after the backend\'s 101.');
const Http2Options = z.strictObject({
  enabled: z.boolean().default(true).describe('Serve HTTP/2 on this `http` listener: cleartext prior-knowledge h2c (the client opens with the HTTP/2 connection preface) and, on TLS listeners, ALPN `h2`. `false`: HTTP/1.1 only.'),
  maxConcurrentStreams: count(100, 1).describe('Streams a client may have open at once on one connection (SETTINGS_MAX_CONCURRENT_STREAMS); more are refused with RST_STREAM REFUSED_STREAM.'),
  maxHeaderListSize: count(65536, 1024).describe('Largest header list of a request in bytes, as HTTP/2 counts it (name + value + 32 per field; SETTINGS_MAX_HEADER_LIST_SIZE); a larger one is reset with ENHANCE_YOUR_CALM (HPACK-bomb guard).'),
  maxSessionMemory: count(10, 1).describe('Memory one HTTP/2 connection may hold for headers, frames and buffers, in MiB; beyond it new streams are refused (ENHANCE_YOUR_CALM).'),
  maxResets: count(200, 1).describe('Rapid-reset guard (CVE-2023-44487): streams a client may reset (RST_STREAM) before the response is complete within `resetWindow`; one more and the connection gets GOAWAY ENHANCE_YOUR_CALM and is closed.'),
  resetWindow: Duration.prefault('10s').describe('Window over which `maxResets` counts client stream resets.'),
}).describe('HTTP/2 on `http` listeners (docs/http2.md): on by default, with these per-connection limits.');

const SniRoute = z.strictObject({
  serverNames: HostList.describe('Server names (SNI) taking this route: exact names, or `*.example.com` for any sub-domain. Case-insensitive. Output: lowercased list.'),
  pool: z.string().describe('Pool the connection goes to.'),
}).describe('A TLS-passthrough route: connections whose ClientHello names one of `serverNames` go to `pool`. Routes are tried in order.');

const UdpOptions = z.strictObject({
  sessionTimeout: Duration.prefault('30s').describe('A flow (client address and port) with no datagram in either direction for this long is forgotten and its upstream socket closed.'),
  maxSessions: count(10000, 1).describe('Flows tracked at most; datagrams of new flows beyond it are dropped (counted).'),
}).describe('`udp` listeners: the per-flow session table.');

const ProxyProtocolAccept = z.strictObject({
  from: z.array(IpOrCidr).min(1).describe('Sources allowed to (and required to) send a PROXY protocol v1 or v2 header; connections from any other address are refused.'),
}).describe('`http`, `https`, `tcp` and `tls-passthrough` listeners: accept the PROXY protocol (v1 or v2, detected; on `https` it precedes the TLS handshake) from these sources, as behind an L4 balancer (AWS NLB, HAProxy `send-proxy`). The address it carries is the client address everywhere: X-Forwarded-For/Forwarded, `trustedProxies`, `source-ip` hash keys, rate limits, affinity (L4: the PROXY header sent on to servers); a v2 LOCAL header (the balancer\'s health check) keeps the connection\'s own address. docs/proxy-protocol.md.');

const FilePath = z.string().min(1);

const TlsCertificate = z.strictObject({
  cert: FilePath.describe('PEM file of the certificate, followed by its intermediates (the chain sent to clients).'),
  key: FilePath.describe('PEM file of the private key (unencrypted). Must match `cert`.'),
  serverNames: HostList.optional().describe('Server names (SNI) this certificate answers: exact names or `*.example.com` (one label). Default: the certificate\'s subjectAltName DNS names (its CN when it has none).'),
  default: z.boolean().optional().describe('Use this certificate when the client sends no SNI or a name no certificate covers. Default: the first certificate.'),
}).describe('A certificate and its key. Files are re-read when they change on disk (and on every config reload); a file that fails to load keeps the previous certificate in service.');

const TlsClientAuth = z.strictObject({
  ca: FilePath.describe('PEM bundle of the CAs that sign accepted client certificates.'),
  required: z.boolean().default(true).describe('`true`: a handshake without a valid client certificate fails. `false`: the certificate is asked for and verified, but a client without one (or with an invalid one) is still served.'),
  forwardSubject: token('a header name').optional().describe('Name of a request header (e.g. `X-Client-Cert-Subject`) that carries the verified client certificate\'s subject to the backend (any such header from the client is removed). Default: not sent.'),
}).describe('Client certificate verification (mutual TLS).');

const ListenerTls = z.strictObject({
  certificates: z.array(TlsCertificate).min(1).describe('Certificates, chosen by the ClientHello\'s SNI: exact name, then `*.domain`, then the default.'),
  minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2').describe('Lowest TLS version accepted (TLS 1.3 is always offered and preferred). TLS 1.2 uses ECDHE key exchange with AEAD ciphers only (docs/tls.md).'),
  clientAuth: TlsClientAuth.optional(),
}).describe('`https`: TLS termination (docs/tls.md). ALPN offers `h2` when HTTP/2 is available, and `http/1.1`. The handshake must complete within `timeouts.clientHello`.');

const ListenerSchema = z.strictObject({
  name: Name.describe('Unique listener name (`[A-Za-z0-9_.-]+`), used in logs and metrics.'),
  protocol: z.enum(['http', 'https', 'tcp', 'tls-passthrough', 'udp']).default('http').describe('Protocol served: `http` (HTTP/1.1 reverse proxy, needs `routes`), `https` (the same behind TLS termination, needs `routes` and `tls`), `tcp` (L4 proxy to `pool`), `tls-passthrough` (L4, routed by the ClientHello\'s SNI with `sniRoutes`, `pool` as the default; TLS is not terminated), `udp` (datagrams to `pool`, per-flow sessions).'),
  listen: ListenAddress.describe('Address to bind, `host:port` (IPv6 as `[::1]:8080`; `0.0.0.0` / `[::]` for all interfaces; port 0 = any free port). Must not collide with another listener or the admin API.'),
  trustedProxies: z.array(IpOrCidr).default([]).describe('IP addresses or CIDR blocks (IPv4/IPv6) of proxies in front of Fulcrum. X-Forwarded-*/Forwarded headers are kept and extended only when the peer is trusted; otherwise they are replaced.'),
  xForwarded: z.boolean().default(true).describe('Set X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host and Forwarded (RFC 7239) on proxied requests.'),
  via: z.boolean().default(false).describe('Add `Via: 1.1 fulcrum` to proxied requests and responses (RFC 9110 §7.6.3).'),
  timeouts: ListenerTimeouts.prefault({}),
  limits: ListenerLimits.prefault({}),
  webSocket: WebSocketOptions.prefault({}),
  routes: z.array(RouteSchema).min(1)
    .describe('`http` and `https`: ordered list of routes; the first route whose `match` holds takes the request (404 when none does). Required for `http` and `https`, not allowed for other protocols.')
    .transform((rs) => rs.map((r, i) => ({ ...r, name: r.name ?? `route-${i}` })))
    .optional(),
  pool: z.string().optional().describe('`tcp` and `udp`: the pool connections (flows) go to (required). `tls-passthrough`: the pool for connections without SNI or whose SNI matches no `sniRoutes` (without it they are closed).'),
  sniRoutes: z.array(SniRoute).optional().describe('`tls-passthrough`: routes by the ClientHello\'s server name, tried in order.'),
  maxConnections: count(10000, 1).describe('`tcp` and `tls-passthrough`: client connections open at most; beyond it new connections are closed at once (counted).'),
  proxyProtocol: ProxyProtocolAccept.optional(),
  udp: UdpOptions.prefault({}),
  http2: Http2Options.prefault({}),
  tls: ListenerTls.optional(),
}).describe('A listener: an address Fulcrum accepts client connections (or datagrams) on, and where they go.');

// ---------------------------------------------------------------------------------------------
// Pools

function isPrime(n: number): boolean {
  if (n < 2 || n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

const ServerSchema = z.strictObject({
  address: ServerAddress.describe('Backend address, `host:port` (IPv6 as `[::1]:3000`; host names are resolved when connecting). Unique within the pool.'),
  weight: count(1).describe('Relative weight for weighted algorithms (integer ≥ 0; 0 = never chosen, like a drained server).'),
  drain: z.boolean().default(false).describe('Drain the server: no new requests or connections go to it; those in progress finish. Change it with a reload.'),
}).describe('One backend server of a pool.');

const PoolTimeouts = z.strictObject({
  connect: Duration.prefault('5s').describe('Time allowed to establish the TCP connection to a server; 504 when exceeded (L4: the next server is tried).'),
  response: Duration.prefault('60s').describe('Time allowed from the end of sending the request to the response head; 504 when exceeded. 0 = no limit.'),
  drain: Duration.prefault(0).describe('L4: connections to a drained server are closed after this long; 0 = they live until they end.'),
}).describe('Upstream timeouts of the pool.');

const PoolKeepAlive = z.strictObject({
  idleTimeout: Duration.prefault('4s').describe('Close an idle upstream connection after this long. Keep it below the backend\'s own keep-alive timeout so Fulcrum never reuses a connection the backend is closing.'),
  maxIdle: count(64).describe('Maximum idle connections kept per server; 0 disables upstream keep-alive.'),
}).describe('Upstream keep-alive connection reuse, per server.');

/** A percentage 0–100. */
function percent(dflt: number) {
  return z.number().min(0).max(100).default(dflt);
}

/** An HTTP status range `200`, `200-399` (output: [low, high]). */
const StatusRange = z.union([z.number().int(), z.string()], { error: 'expected a status code like 200 or a range like "200-399"' })
  .superRefine((v, ctx) => {
    if (parseStatusRange(v) === null) ctx.addIssue({ code: 'custom', message: `expected a status code 100-599 or a range like "200-399", got ${show(v)}` });
  })
  .transform((v) => parseStatusRange(v) ?? [0, 0]);

function parseStatusRange(v: number | string): [number, number] | null {
  const m = typeof v === 'number' ? [String(v), String(v), String(v)] : /^\s*(\d{3})\s*(?:-\s*(\d{3})\s*)?$/.exec(v);
  if (m === null) return null;
  const lo = Number(m[1]);
  const hi = Number(m[2] ?? m[1]);
  return lo >= 100 && hi <= 599 && lo <= hi ? [lo, hi] : null;
}

const HttpCheckOptions = z.strictObject({
  method: token('an HTTP method').default('GET').transform((m) => m.toUpperCase()).describe('Request method of the check.'),
  path: UrlPath.default('/').describe('Request target of the check (path and optional query).'),
  host: z.string().min(1).optional().describe('Host header of the check. Default: the server address as written (`host:port`).'),
  expectStatus: z.array(StatusRange).min(1).prefault(['200-399']).describe('Status codes that pass: codes (`200`) or ranges (`"200-399"`). Default: 200-399, as HAProxy.'),
  bodyContains: z.string().min(1).optional().describe('The response body (first 64 KiB) must contain this string to pass.'),
  tls: z.boolean().optional().describe('Check over TLS (HTTPS). The server certificate is not verified (a health check asks "is it up", as HAProxy `check-ssl verify none`). Default: true when the pool has `tls.enabled`, else false.'),
}).describe('Options of an `http` health check.');

const CommandCheckOptions = z.strictObject({
  path: z.string().min(1).describe('Executable to run (absolute path, or a name looked up in PATH). It gets FULCRUM_POOL, FULCRUM_SERVER (address), FULCRUM_HOST and FULCRUM_PORT (the check port) in its environment; exit status 0 = healthy. Killed (SIGKILL) at the timeout.'),
  args: z.array(z.string()).default([]).describe('Arguments passed to the executable.'),
}).describe('Options of a `command` health check.');

const HealthCheckSchema = z.strictObject({
  type: z.enum(['tcp', 'http', 'command']).describe('`tcp`: the connection is accepted; `http`: a request gets an expected status (and body); `command`: an executable exits 0.'),
  interval: Duration.prefault('2s').describe('Time between two checks of a server (HAProxy `inter`).'),
  jitter: z.number().min(0).max(1).default(0.1).describe('Random spread of each interval as a fraction of it (0.1 = ±10%), so checks of many servers do not run in lockstep.'),
  timeout: Duration.prefault('1s').describe('A check that takes longer fails (and its connection or process is closed or killed).'),
  rise: count(2, 1).describe('Consecutive passing checks that bring a down server back (HAProxy `rise`).'),
  fall: count(3, 1).describe('Consecutive failing checks that take a server down (HAProxy `fall`).'),
  port: z.number().int().min(1).max(65535).optional().describe('Port to check instead of the server\'s own (HAProxy `port`).'),
  initial: z.enum(['unknown', 'healthy', 'unhealthy']).default('unknown').describe('State before the first check. `unknown`: not sent traffic until a check passes, the first pass makes it healthy (HAProxy-like); `healthy`: assumed up until `fall` failures; `unhealthy`: needs `rise` passes.'),
  http: HttpCheckOptions.prefault({}),
  command: CommandCheckOptions.optional(),
}).describe('Active health checks of the pool\'s servers. Without this section servers are not checked actively (passive outlier detection still applies).');

const OutlierDetectionSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Eject servers that fail live traffic (Envoy outlier detection).'),
  consecutive5xx: count(5, 1).describe('Consecutive 5xx outcomes (a 5xx response or a gateway failure) that eject a server.'),
  consecutiveGatewayFailure: count(5, 1).describe('Consecutive gateway failures (502/503/504 from the server, or connect refused/reset/timeout) that eject a server.'),
  interval: Duration.prefault('10s').describe('Every interval without a new ejection lowers a server\'s ejection count by one (so the next ejection is shorter).'),
  baseEjectionTime: Duration.prefault('30s').describe('An ejection lasts baseEjectionTime × the server\'s number of ejections, up to maxEjectionTime.'),
  maxEjectionTime: Duration.prefault('300s').describe('Upper bound of one ejection.'),
  maxEjectionPercent: percent(10).describe('At most this percentage of the pool\'s servers is ejected at once; at least one server may always be ejected (Envoy).'),
}).describe('Passive health: outlier ejection from live traffic, with Envoy\'s semantics and defaults.');

const GrayFailureSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Soft-drain servers that are up but much slower than the rest of the pool.'),
  factor: z.number().min(1.1).max(1000).default(3).describe('A server is slow when its response-time average (to the response head) is at least factor × the median of the other available servers.'),
  window: Duration.prefault('10s').describe('A server must stay slow this long before its weight is lowered, and fast this long before it is raised again.'),
  stepInterval: Duration.prefault('1s').describe('Time between two steps of lowering (or raising) the weight.'),
  step: z.number().gt(0).lt(1).default(0.5).describe('Each step multiplies the weight by this factor (lowering) or divides it (raising).'),
  minWeight: z.number().gt(0).max(1).default(0.01).describe('The weight factor never goes below this (the server still sees some traffic, so its recovery is noticed).'),
  minLatency: Duration.prefault('10ms').describe('A server whose average is below this is never called slow (ignores noise between fast servers).'),
}).describe('Gray-failure detection: soft drain of slow servers — weight lowered step by step, restored step by step when they recover.');

const RetriesSchema = z.strictObject({
  attempts: count(2, 1).describe('Attempts in total, the first included (1 = no retry).'),
  on: z.array(z.union([z.enum(['connect-failure', 'reset', 'timeout']), z.number().int().min(500).max(599)])).default(['connect-failure', 'reset', 'timeout', 502, 503, 504])
    .describe('What is retried on another server: `connect-failure` (refused, unreachable, connect timeout), `reset` (closed or reset before any response byte), `timeout` (no response head within the per-try timeout), and 5xx status codes. A request whose body was already sent is retried only for idempotent methods, and only when its body fitted in `bufferBody`.'),
  perTryTimeout: Duration.prefault(0).describe('Time allowed per attempt for the response head; 0 = the pool\'s `timeouts.response`.'),
  backoff: z.strictObject({
    base: Duration.prefault('25ms').describe('Base delay before a retry.'),
    max: Duration.prefault('250ms').describe('Largest delay.'),
  }).prefault({}).describe('Exponential backoff with full jitter: a delay uniform in [0, min(max, base × 2^(retry−1))].'),
  budget: z.strictObject({
    ratio: z.number().min(0).max(1).default(0.2).describe('Retries allowed as a fraction of requests (over the last 10 s).'),
    minPerSecond: count(3).describe('Retries allowed per second regardless of the ratio.'),
  }).prefault({}).describe('Retry budget (Finagle/Linkerd): retries cannot amplify an outage.'),
  bufferBody: count(65536).describe('Request bodies up to this many bytes are kept for a retry; a larger body that has been sent is not retried.'),
}).describe('Retries on another server.');

const CircuitBreakersSchema = z.strictObject({
  maxConnections: count(1024, 1).describe('Upstream connections open to the pool\'s servers at most (idle ones included).'),
  maxPending: count(1024, 1).describe('Requests waiting for an upstream connection at most.'),
  maxRequests: count(1024, 1).describe('Requests in progress on the pool at most.'),
}).describe('Circuit breakers (Envoy): beyond a limit the request gets 503 FULCRUM_E_CIRCUIT_OPEN at once.');

/** Maglev's lookup table size: a prime (default 65537, the paper's). */
const MaglevOptions = z.strictObject({
  tableSize: z.number().int().min(3).max(16_777_259).default(65537).superRefine((n, ctx) => {
    if (!isPrime(n)) ctx.addIssue({ code: 'custom', message: `expected a prime table size (e.g. 65537, 655373), got ${n}` });
  }).describe('Size M of the lookup table, a prime well above 100 × the number of servers (default 65537).'),
}).describe('Options of `maglev`.');

const PeakEwmaOptions = z.strictObject({
  decay: Duration.prefault('10s').describe('Decay time constant τ of the latency average (Finagle/Linkerd default 10 s).'),
  prior: Duration.prefault('30ms').describe('Latency assumed for an endpoint with no measurement yet.'),
}).describe('Options of `peak-ewma`.');

const LeastTimeOptions = z.strictObject({
  measure: z.enum(['header', 'last-byte']).default('header').describe('Response time averaged: to the response head (`header`) or to the last byte of the body (`last-byte`), as nginx\'s least_time.'),
}).describe('Options of `least-time`.');

const BoundedLoadOptions = z.strictObject({
  factor: z.number().min(1).max(100).default(1.25).describe('No endpoint takes more than ceil(factor × average in-flight); a key that lands on a full endpoint walks on to the next candidate.'),
}).describe('Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam 2016) for `consistent-hash`, `maglev` and `rendezvous`.');

const SlowStartOptions = z.strictObject({
  window: Duration.prefault('30s').describe('Time over which the effective weight ramps linearly from near 0 to the configured weight.'),
}).describe('Slow start for weighted algorithms: an endpoint that joins or recovers ramps its weight up.');

/** Parsed option sections of algorithms, defaults applied (used when a pool omits the section). */
export const ALGORITHM_OPTION_SCHEMAS = {
  maglev: MaglevOptions,
  peakEwma: PeakEwmaOptions,
  leastTime: LeastTimeOptions,
} as const;

const PoolTls = z.strictObject({
  enabled: z.boolean().default(true).describe('Connect to the servers over TLS (HTTP listeners\' upstream connections; L4 listeners ignore it).'),
  verify: z.boolean().default(true).describe('Verify the server certificate against the system CA bundle plus `ca`, and its name against `serverName`. `false` accepts any certificate (test setups only).'),
  ca: FilePath.optional().describe('PEM bundle of extra CAs trusted for the servers\' certificates (added to the system bundle).'),
  serverName: z.string().min(1).optional().describe('Name sent as SNI and checked in the server certificate. Default: the host of the server address (no SNI for an IP address, which is then checked against the certificate\'s IP entries).'),
  cert: FilePath.optional().describe('PEM client certificate presented to the servers (with `key`).'),
  key: FilePath.optional().describe('PEM private key of `cert`.'),
}).describe('TLS to the pool\'s servers (docs/tls.md). Health checks of type `http` use TLS too unless `healthCheck.http.tls` says otherwise.');

const PoolSchema = z.strictObject({
  name: Name.describe('Unique pool name (`[A-Za-z0-9_.-]+`), referenced by routes.'),
  algorithm: AlgorithmName.default('round-robin').describe('Balancing algorithm (a registered name; see docs/algorithms.md).'),
  hashKey: HashKey.optional().describe('Key hashed by hashing algorithms: `source-ip`, `header:NAME`, `cookie:NAME`, `query:NAME`, `path` or `uri` (path and query). Header names are lowercased. Required by hashing algorithms.'),
  hashKeyMissing: z.enum(['round-robin', 'reject']).default('round-robin').describe('When a request lacks the hash key: balance it round robin (`round-robin`, as nginx does) or answer 503 (`reject`).'),
  boundedLoad: BoundedLoadOptions.optional(),
  slowStart: SlowStartOptions.optional(),
  maglev: MaglevOptions.optional(),
  peakEwma: PeakEwmaOptions.optional(),
  leastTime: LeastTimeOptions.optional(),
  servers: z.array(ServerSchema).min(1).describe('The backend servers (at least one).'),
  timeouts: PoolTimeouts.prefault({}),
  keepAlive: PoolKeepAlive.prefault({}),
  healthCheck: HealthCheckSchema.optional(),
  outlierDetection: OutlierDetectionSchema.prefault({}),
  panicThreshold: percent(50).describe('When fewer than this percentage of the pool\'s servers are available, balance across all of them (fail open) instead of overloading the few; 0 disables.'),
  grayFailure: GrayFailureSchema.prefault({}),
  retries: RetriesSchema.prefault({}),
  circuitBreakers: CircuitBreakersSchema.prefault({}),
  proxyProtocol: z.enum(['v1', 'v2']).optional().describe('L4 (`tcp`, `tls-passthrough`): send a PROXY protocol header of this version to the server first, so it sees the client\'s address.'),
  sticky: StickySchema.optional(),
  upstreamProtocol: z.enum(['http1', 'http2']).default('http1').describe('Protocol of requests that arrived over HTTP/2 towards the servers: `http1` (HTTP/1.1 keep-alive connections) or `http2` (cleartext h2c with prior knowledge, one multiplexed connection per server). gRPC needs `http2`. Requests from HTTP/1.1 clients always go upstream over HTTP/1.1.'),
  maxConnectionsPerServer: count(0).describe('L4: connections open to one server at most (a full server is skipped like a tried one); 0 = no limit.'),
  tls: PoolTls.optional(),
}).describe('A pool: a set of backend servers and how to spread requests over them.')
  // An http health check of a TLS pool speaks TLS unless it says otherwise.
  .overwrite((p) => {
    if (p.healthCheck !== undefined && p.healthCheck.http.tls === undefined) p.healthCheck.http.tls = p.tls?.enabled === true;
    return p;
  });

// ---------------------------------------------------------------------------------------------
// Top level

/** A loopback host: `localhost`, 127.0.0.0/8, `::1` (the admin API is open to reads there by default). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

const AdminAuthSchema = z.strictObject({
  tokenEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name' }).optional()
    .describe('Name of the environment variable holding the bearer token of write calls (the token itself never goes in the config). Exactly one of `tokenEnv` and `tokenFile` enables auth.'),
  tokenFile: z.string().min(1).optional()
    .describe('File holding the bearer token (its first line; surrounding whitespace trimmed). Read at start.'),
  protectReads: z.boolean().optional()
    .describe('Reads (GET, explain, the event stream, /metrics) need the token too. Default: false on a loopback address, true otherwise.'),
}).describe('Admin API authentication: every write needs `Authorization: Bearer <token>`; the token is compared in constant time and never logged.');

const AdminSchema = z.strictObject({
  listen: ListenAddress.default('127.0.0.1:9090').describe('Address of the admin API and dashboard, `host:port`. Keep it on loopback or a management network; a non-loopback address needs `auth` (a token).'),
  enabled: z.boolean().default(true).describe('Serve the admin API.'),
  auth: AdminAuthSchema.optional(),
  allowedHosts: z.array(z.string().min(1)).optional().describe('Extra host names the Host header of an admin request may carry (DNS-rebinding guard). Always allowed: `localhost`, `127.0.0.1`, `[::1]` and the bound address. Others get 421.'),
  maxStreamClients: z.number().int().min(1).optional().describe('Event-stream (`GET /api/v1/stream`) clients connected at once at most; more get 503. Default 16.'),
}).superRefine((a, ctx) => {
  const hp = parseHostPort(a.listen);
  if (a.auth !== undefined && (a.auth.tokenEnv === undefined) === (a.auth.tokenFile === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['auth'], message: `expected exactly one of tokenEnv, tokenFile, got ${a.auth.tokenEnv === undefined ? 'none' : 'both'}` });
  }
  if (a.enabled && hp !== null && !isLoopbackHost(hp.host) && (a.auth === undefined || (a.auth.tokenEnv === undefined && a.auth.tokenFile === undefined))) {
    ctx.addIssue({ code: 'custom', path: ['listen'], message: `a non-loopback admin address (${show(a.listen)}) needs auth.tokenEnv or auth.tokenFile: the admin API can change the running config` });
  }
}).describe('The admin API (REST, Prometheus metrics, event stream, dashboard).');

const ShutdownSchema = z.strictObject({
  gracePeriod: Duration.prefault('30s').describe('On SIGTERM/SIGINT, stop accepting, let in-flight requests finish for up to this long, then close what remains.'),
}).describe('Graceful shutdown.');

/** The whole configuration file. */
export const ConfigSchema = z.strictObject({
  $schema: z.string().optional().describe('Ignored; lets editors find the JSON Schema (`fulcrum schema > fulcrum.schema.json`).'),
  admin: AdminSchema.prefault({}),
  shutdown: ShutdownSchema.prefault({}),
  // prefault, not default: the JSON Schema (io 'input') keeps a prefault's value as `default` where
  // it drops a default of a transforming schema, and the reference shows `[]`.
  listeners: z.array(ListenerSchema).prefault([]).describe('Listeners. At least one, unless a `gslb` section is configured: a GSLB-only config (docs/gslb.md) runs Fulcrum as an authoritative DNS server alone, without listeners or pools.'),
  pools: z.array(PoolSchema).prefault([]).describe('Pools of backend servers. Every pool a listener or route names must be defined here; a pool no listener uses is allowed (kept ready for a reload).'),
  gslb: gslbSchema({ Duration, ListenAddress, ServerAddress, HealthCheck: HealthCheckSchema }).optional(),
}).describe('Fulcrum configuration file.');

/** Schemas the JSON Schema export decorates (identity-compared). */
export const SCHEMA_PARTS = { route: RouteSchema, path: PathMatch, valueMatch: ValueMatchSchema } as const;

/** A parsed, validated configuration: defaults filled, durations in ms, routes normalized. */
export type Config = z.output<typeof ConfigSchema>;
export type ListenerConfig = Config['listeners'][number];
/** Route output: `name` always set; `targets` from `pool` (weight 1) or `split`. */
export type RouteConfig = NonNullable<ListenerConfig['routes']>[number];
export type MatchConfig = RouteConfig['match'];
export type PoolConfig = Config['pools'][number];
export type ServerConfig = PoolConfig['servers'][number];
export type HealthCheckConfig = NonNullable<PoolConfig['healthCheck']>;
export type OutlierDetectionConfig = PoolConfig['outlierDetection'];
export type GrayFailureConfig = PoolConfig['grayFailure'];
export type RetriesConfig = PoolConfig['retries'];
export type CircuitBreakersConfig = PoolConfig['circuitBreakers'];
export type StickyConfig = NonNullable<PoolConfig['sticky']>;
export type RateLimitConfig = NonNullable<RouteConfig['rateLimit']>;
export type HeaderRulesConfig = NonNullable<RouteConfig['headers']>;
export type HeaderEditsConfig = NonNullable<HeaderRulesConfig['request']>;
export type RewriteConfig = NonNullable<RouteConfig['rewrite']>;
/** Header/query/cookie condition; header names lowercased. */
export type ValueMatch = z.output<typeof ValueMatchSchema>;
/** Config file as written (before defaults and normalization). */
export type ConfigInput = z.input<typeof ConfigSchema>;
