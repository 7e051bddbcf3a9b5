/**
 * POST /api/v1/explain: "why would this request go there?", answered without sending traffic and
 * without changing any counter or rotation state. From a request description (listener, method,
 * host, path, query, headers, cookies, source address; for L4 listeners source port and SNI) it
 * reports:
 *
 * - the route that matches, and for each earlier route the condition that failed (the router's own
 *   explain, the same compiled conditions the data path tests);
 * - for each target pool of the route: the algorithm, the hash key and where it lands (key hash,
 *   ring point, Maglev slot, rendezvous scores), every endpoint with its figures (in flight,
 *   weights, EWMAs, share) and whether it is a candidate, the endpoint that would be chosen (a pick
 *   on a copy of the balancer — peek.ts), and every skipped endpoint with its reason (draining,
 *   ejected, down, weight 0, soft-drained, circuit open).
 *
 * For rotating algorithms "would be chosen" means "next"; for random ones, "one draw".
 */
import type { Runtime } from '../runtime/runtime.ts';
import type { PoolRuntime } from '../runtime/pool.ts';
import type { RequestView, Router } from '../l7/router/types.ts';
import { compileRouter } from '../l7/router/router.ts';
import { SniRouter } from '../l4/sni-router.ts';
import type { KeySource } from '../balancing/keys.ts';
import { findCookie, queryParam } from '../l7/router/params.ts';
import { getAlgorithm } from '../balancing/registry.ts';
import { F_DOWN, F_DRAINED, F_EJECTED } from '../runtime/pool-health.ts';
import { endpointState } from './views.ts';
import { withCopy } from './peek.ts';

export interface ExplainRequest {
  listener?: string;
  method?: string;
  host?: string;
  path?: string;
  query?: string | Record<string, string>;
  headers?: Record<string, string | string[]>;
  cookies?: Record<string, string>;
  source?: string;
  /** L4: the client's port (for `five-tuple` keys). */
  sourcePort?: number;
  /** tls-passthrough: the server name the ClientHello would carry. */
  sni?: string;
}

const FIELDS = ['listener', 'method', 'host', 'path', 'query', 'headers', 'cookies', 'source', 'sourcePort', 'sni'];

/** Checks the body's shape; returns problems (path: message) or null. */
export function explainProblems(body: unknown): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return [{ path: '(body)', message: 'expected an object {method, host, path, headers, cookies, query, source, listener}' }];
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!FIELDS.includes(k)) out.push({ path: k, message: `unknown field; expected one of ${FIELDS.join(', ')}` });
  if (b.sourcePort !== undefined && !(Number.isInteger(b.sourcePort) && (b.sourcePort as number) >= 0 && (b.sourcePort as number) <= 65535)) out.push({ path: 'sourcePort', message: 'expected a port 0-65535' });
  for (const k of ['listener', 'method', 'host', 'path', 'source', 'sni']) {
    if (b[k] !== undefined && typeof b[k] !== 'string') out.push({ path: k, message: 'expected a string' });
  }
  if (typeof b.path === 'string' && !b.path.startsWith('/')) out.push({ path: 'path', message: `expected a path starting with "/", got ${JSON.stringify(b.path)}` });
  for (const k of ['headers', 'cookies']) {
    const v = b[k];
    if (v === undefined) continue;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) out.push({ path: k, message: 'expected an object of name: value' });
    else for (const [n, x] of Object.entries(v)) {
      if (typeof x !== 'string' && !(k === 'headers' && Array.isArray(x) && x.every((y) => typeof y === 'string'))) out.push({ path: `${k}.${n}`, message: 'expected a string' });
    }
  }
  if (b.query !== undefined && typeof b.query !== 'string' && (b.query === null || typeof b.query !== 'object' || Array.isArray(b.query))) {
    out.push({ path: 'query', message: 'expected a query string or an object of name: value' });
  }
  return out;
}

/** The described request as the router (RequestView) and key extraction (KeySource) read it. */
class DescribedRequest implements RequestView, KeySource {
  readonly method: string;
  readonly host: string;
  readonly path: string;
  readonly query: string;
  readonly sourceIp: string;
  private readonly headers: Map<string, string[]>;

  constructor(d: ExplainRequest) {
    this.method = d.method ?? 'GET';
    const rawPath = d.path ?? '/';
    const q = rawPath.indexOf('?');
    this.path = q < 0 ? rawPath : rawPath.slice(0, q);
    const fromPath = q < 0 ? '' : rawPath.slice(q + 1);
    const extra = typeof d.query === 'string' ? d.query.replace(/^\?/, '')
      : d.query === undefined ? '' : Object.entries(d.query).map(([k, v]) => `${k}=${v}`).join('&');
    this.query = [fromPath, extra].filter((s) => s !== '').join('&');
    this.sourceIp = d.source ?? '127.0.0.1';
    this.headers = new Map();
    for (const [n, v] of Object.entries(d.headers ?? {})) this.headers.set(n.toLowerCase(), Array.isArray(v) ? v : [v]);
    if (d.cookies !== undefined) {
      const line = Object.entries(d.cookies).map(([k, v]) => `${k}=${v}`).join('; ');
      this.headers.set('cookie', [...(this.headers.get('cookie') ?? []), line]);
    }
    const hostHeader = d.host ?? this.headers.get('host')?.[0] ?? '';
    if (d.host !== undefined) this.headers.set('host', [d.host]);
    let h = hostHeader.toLowerCase();
    if (h.startsWith('[')) h = h.slice(0, h.indexOf(']') + 1);
    else if (h.lastIndexOf(':') >= 0) h = h.slice(0, h.lastIndexOf(':'));
    this.host = h;
  }

  get uri(): string {
    return this.query === '' ? this.path : `${this.path}?${this.query}`;
  }

  header(lowerName: string, nth = 0): string | undefined {
    return this.headers.get(lowerName)?.[nth];
  }

  cookie(name: string, nth = 0): string | undefined {
    for (const line of this.headers.get('cookie') ?? []) {
      for (let k = 0; ; k++) {
        const v = findCookie(line, name, k);
        if (v === undefined) break;
        if (nth-- === 0) return v;
      }
    }
    return undefined;
  }

  queryParam(name: string): string | undefined {
    return queryParam(this.query, name);
  }
}

/** An L4 connection or flow as key extraction sees it: client address and five-tuple; no HTTP keys. */
class DescribedFlow implements KeySource {
  readonly path = '';
  readonly uri = '';
  readonly sourceIp: string;
  readonly fiveTuple: string | undefined;

  constructor(d: ExplainRequest, protocol: string, local: { host: string; port: number } | undefined) {
    this.sourceIp = d.source ?? '127.0.0.1';
    this.fiveTuple = d.sourcePort === undefined || local === undefined ? undefined
      : `${protocol === 'udp' ? 'udp' : 'tcp'} ${this.sourceIp} ${d.sourcePort} ${local.host} ${local.port}`;
  }

  header(): undefined {
    return undefined;
  }

  cookie(): undefined {
    return undefined;
  }

  queryParam(): undefined {
    return undefined;
  }
}

/** Why endpoint slot i of the pool may not be chosen now, or null when it is a candidate. */
function skipReason(pool: PoolRuntime, i: number): string | null {
  const h = pool.health;
  const f = h.flags[i];
  const addr = pool.endpoints[i].address;
  const last = (kind: string): string => {
    for (let k = h.events.length - 1; k >= 0; k--) if (h.events[k].server === addr && h.events[k].kind === kind) return h.events[k].reason;
    return '';
  };
  if ((f & F_DRAINED) !== 0) return 'draining: drain is set for this endpoint; requests in progress finish, no new ones';
  if (h.panic) {
    // In panic only drained endpoints are left out.
  } else if ((f & F_EJECTED) !== 0) {
    return `ejected until ${new Date(h.outlier.ejectedUntil[i]).toISOString()}${last('ejection') ? `: ${last('ejection')}` : ''}`;
  } else if ((f & F_DOWN) !== 0) {
    const why = h.checker?.states[i]?.lastReason;
    return `down${why ? `: ${why}` : ' (health check)'}`;
  }
  if (!(pool.weights.values[i] > 0)) return 'weight 0: never chosen';
  const max = pool.config.maxConnectionsPerServer;
  if (max > 0 && pool.endpoints[i].open >= max) return `circuit open: ${pool.endpoints[i].open} of maxConnectionsPerServer ${max} connections`;
  return null;
}

function explainPool(pool: PoolRuntime, req: KeySource): Record<string, unknown> {
  const factory = getAlgorithm(pool.config.algorithm);
  const h = pool.health;
  const cb = pool.config.circuitBreakers;
  let key: string | undefined;
  const keyInfo: Record<string, unknown> | null = pool.key === null ? null : { spec: pool.key.spec };
  if (pool.key !== null) {
    key = pool.key.extract(req);
    if (key === '') key = undefined;
    keyInfo!.value = key ?? null;
    keyInfo!.missing = key === undefined;
    if (key === undefined) keyInfo!.whenMissing = pool.rejectMissingKey ? 'rejected: 503 FULCRUM_E_HASH_KEY_MISSING' : 'balanced round robin (hashKeyMissing: round-robin)';
  }
  const location = key !== undefined ? pool.balancer.locate?.(key) : undefined;
  const scoreOf = new Map(location?.scores?.map((s) => [s.slot, s.score]) ?? []);
  const shares = new Map(pool.balancer.shares?.().map((s) => [s.slot, s.share]) ?? []);
  const now = Date.now();
  const skipped: { address: string; reason: string }[] = [];
  const candidates = pool.endpoints.map((e) => {
    const i = e.index;
    const reason = skipReason(pool, i);
    const factor = h.gray.factor[i];
    if (reason !== null) skipped.push({ address: e.address, reason });
    else if (factor < 1) skipped.push({ address: e.address, reason: `soft-drained: weight factor ${factor} (slow compared with the pool), so it keeps only ${Math.round(factor * 100)}% of the picks it wins` });
    return {
      address: e.address,
      state: endpointState(pool, i),
      candidate: reason === null,
      weight: e.weight,
      effectiveWeight: pool.weights.values[i],
      weightFactor: factor,
      inFlight: pool.load.inFlight[i],
      loadPerWeight: pool.weights.values[i] > 0 ? pool.load.inFlight[i] / pool.weights.values[i] : null,
      latencyEwmaMs: Math.round(pool.load.latencyEwma[i] * 1000) / 1000,
      headerEwmaMs: Math.round(pool.load.headerEwma[i] * 1000) / 1000,
      peakEwmaCostMs: pool.load.peakCost[i] < 0 ? null : Math.round(pool.load.peakEwmaCost(i, now, 0) * 1000) / 1000,
      ...(scoreOf.has(i) ? { score: scoreOf.get(i) } : {}),
      ...(shares.has(i) ? { keyShare: Math.round(shares.get(i)! * 10000) / 10000 } : {}),
      ...(location !== undefined && location.owner === i ? { ownsKey: true } : {}),
    };
  });

  const out: Record<string, unknown> = {
    pool: pool.name,
    algorithm: pool.config.algorithm,
    meaning: factory?.explainNote ?? 'the endpoint the next pick returns',
    panic: h.panic,
    key: keyInfo,
    keyPosition: location === undefined ? null : {
      hash: location.hash,
      position: location.position,
      owner: location.owner >= 0 ? pool.endpoints[location.owner]?.address ?? null : null,
    },
    candidates,
    skipped,
    chosen: null as string | null,
  };
  if (pool.active >= cb.maxRequests || pool.pending >= cb.maxPending) {
    out.refused = `circuit open: ${pool.active >= cb.maxRequests ? `requests ${pool.active}/${cb.maxRequests}` : `pending ${pool.pending}/${cb.maxPending}`}: 503 FULCRUM_E_CIRCUIT_OPEN`;
    for (const c of candidates) if (c.candidate) skipped.push({ address: c.address, reason: `circuit open (${out.refused})` });
    return out;
  }
  if (key === undefined && pool.key !== null && pool.rejectMissingKey) {
    out.refused = 'hash key missing: 503 FULCRUM_E_HASH_KEY_MISSING';
    return out;
  }
  // The pick pool.pick() would make, on a copy of the balancer (same exclusion masks).
  const base = h.panic ? h.drainMask : h.mask;
  const anyBase = (h.panic ? h.drained : h.unavailable) !== 0;
  const picked = withCopy(pool.balancer, pool.load, (b, ctx) => {
    ctx.key = key;
    const ex = new Uint8Array(pool.endpoints.length);
    if (anyBase) ex.set(base);
    // Endpoints full by maxConnectionsPerServer are skipped like tried ones (L4).
    for (const e of pool.endpoints) if (skipReason(pool, e.index)?.startsWith('circuit open') === true) ex[e.index] = 1;
    ctx.excluded = ex;
    const first = b.pick(ctx);
    if (first < 0 || h.gray.factor[first] >= 1) return { first, alternate: -1 };
    ex[first] = 1;
    return { first, alternate: b.pick(ctx) };
  });
  if (picked.first < 0) {
    out.refused = 'no endpoint available: 503 FULCRUM_E_NO_HEALTHY_UPSTREAM';
    return out;
  }
  out.chosen = pool.endpoints[picked.first].address;
  const f = h.gray.factor[picked.first];
  if (f < 1) {
    out.chosenProbability = f;
    out.otherwise = picked.alternate >= 0 ? pool.endpoints[picked.alternate].address : null;
  }
  return out;
}

/** The whole explanation (see the file header); `error` set when the listener is unknown. */
export function explain(rt: Runtime, d: ExplainRequest): { status: number; body: unknown } {
  const listener = d.listener === undefined
    ? rt.listeners.find((l) => l.config.protocol === 'http') ?? rt.listeners[0]
    : rt.listeners.find((l) => l.config.name === d.listener);
  if (listener === undefined) {
    const error = d.listener === undefined ? 'no listener to explain a request on: the config has none (GSLB only)' : `no listener named ${JSON.stringify(d.listener)}`;
    return { status: 404, body: { error, listeners: rt.listeners.map((l) => l.config.name) } };
  }
  const req = new DescribedRequest(d);
  const lc = listener.config;
  const request = { method: req.method, host: req.host, path: req.path, query: req.query, source: req.sourceIp };
  if (lc.routes === undefined) {
    // L4: the SNI route (tls-passthrough) or the listener's pool; keys from the client address.
    const flow = new DescribedFlow(d, lc.protocol, rt.bound.get(lc.name));
    let poolName = lc.pool;
    let sni: Record<string, unknown> | null = null;
    if (lc.sniRoutes !== undefined && lc.sniRoutes.length > 0) {
      const routed = d.sni === undefined ? null : new SniRouter(lc.sniRoutes).route(d.sni);
      sni = { serverName: d.sni ?? null, route: routed, fallback: routed === null ? (lc.pool ?? null) : null };
      if (routed !== null) poolName = routed;
    }
    const pool = poolName === undefined ? undefined : rt.pools.get(poolName);
    return {
      status: 200,
      body: {
        listener: lc.name, protocol: lc.protocol,
        request: { source: flow.sourceIp, sourcePort: d.sourcePort ?? null, fiveTuple: flow.fiveTuple ?? null, sni: d.sni ?? null },
        route: null, rejectedRoutes: [], sni,
        note: lc.protocol === 'tls-passthrough' ? 'connections go to the pool of the first SNI route naming the server name, else the listener\'s pool' : `${lc.protocol} listeners send every connection to the listener's pool`,
        ...(pool === undefined ? { refused: 'no pool for this connection: it would be closed' } : {}),
        targets: pool === undefined ? [] : [{ weight: 1, ...explainPool(pool, flow) }],
      },
    };
  }
  // The router of the snapshot in service: compiled from the same routes as the listener's.
  const router = routerOf(rt, lc.name);
  const { route, rejected } = router.explain(req);
  return {
    status: 200,
    body: {
      listener: lc.name,
      protocol: lc.protocol,
      request,
      route: route === null ? null : { name: route.name, index: route.index },
      rejectedRoutes: rejected,
      ...(route === null ? { refused: 'no route matched: 404 FULCRUM_E_NO_ROUTE' } : {}),
      targets: route === null ? [] : route.spec.targets.filter((t) => t.weight > 0).map((t) => {
        const pool = rt.pools.get(t.pool);
        return pool === undefined ? { pool: t.pool, weight: t.weight, refused: 'pool not in service' } : { weight: t.weight, ...explainPool(pool, req) };
      }),
    },
  };
}

/** Compiled routers by listener, cached per config generation (explain must not touch the live router's split rotation). */
const routers = new WeakMap<object, Map<string, Router>>();
function routerOf(rt: Runtime, name: string): Router {
  let byName = routers.get(rt.config);
  if (byName === undefined) {
    byName = new Map();
    routers.set(rt.config, byName);
  }
  let r = byName.get(name);
  if (r === undefined) {
    const lc = rt.config.listeners.find((l) => l.name === name)!;
    r = compileRouter(lc.routes!, `listeners.${name}.routes`);
    byName.set(name, r);
  }
  return r;
}
