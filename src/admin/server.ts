/**
 * The admin API (default 127.0.0.1:9090), on node:http — it is not on the data path. Routes are a
 * table: exact paths in ROUTES (reads; add a line to extend), paths with parameters in
 * PARAM_ROUTES. Every request passes the same gate first:
 *
 * 1. Host header in the allowlist (DNS rebinding) — else 421;
 * 2. no CORS: no Access-Control-* header is ever sent and OPTIONS (preflight) gets 405;
 * 3. writes need `Authorization: Bearer <token>` (401 + `WWW-Authenticate: Bearer`; 403 when no
 *    token is configured: writes are off); reads too when `admin.auth.protectReads`;
 * 4. every write, and every refused authentication, is one audit log line: who (token
 *    fingerprint), from where, what, and the result — never the token.
 *
 * Endpoints (docs/admin-api.md has examples):
 *   GET  /healthz, /metrics, /api/v1/status, /api/v1/listeners, /api/v1/routes, /api/v1/pools,
 *        /api/v1/pools/{pool}, /api/v1/pools/{pool}/whatif?remove=ADDRESS,
 *        /api/v1/pools/{pool}/keyspace?segments=N,
 *        /api/v1/events?since=ID&limit=N, /api/v1/config, /api/v1/stream,
 *        /api/v1/gslb[?client=ADDR|?subnet=CIDR] (GSLB sites and names; with a client: its answer)
 *   POST /api/v1/explain
 *   POST /api/v1/pools/{pool}/endpoints/{address}/drain | /undrain
 *   PUT  /api/v1/pools/{pool}/endpoints/{address}/weight      {"weight": 3}
 *   POST /api/v1/pools/{pool}/endpoints                       {"address": "host:port", "weight": 1}
 *   DELETE /api/v1/pools/{pool}/endpoints/{address}
 *   PUT  /api/v1/pools/{pool}/algorithm                       {"algorithm": "maglev", "hashKey": "source-ip"}
 *   PUT  /api/v1/config                                       (YAML or JSON body)
 *   GET  /, /ui/*  the dashboard's static assets (dashboard.ts; open, they carry no data)
 * Routes added at run time with addRoute (the demo's traffic generator) pass the same gate.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Runtime, BoundAddress } from '../runtime/runtime.ts';
import { splitHostPort } from '../runtime/pool.ts';
import type { Config } from '../config/schema.ts';
import { AdminAuth } from './auth.ts';
import { eventView, keyspaceView, listenersView, poolView, poolsView, routesView, statusView } from './views.ts';
import { addEndpoint, removeEndpoint, replaceConfig, setAlgorithm, setDrain, setWeight, type WriteOutcome } from './writes.ts';
import { explain, explainProblems, type ExplainRequest } from './explain.ts';
import { EventStream } from './stream.ts';
import { whatIfRemoved } from './whatif.ts';
import { isDashboardPath, serveDashboard } from './dashboard.ts';

export { poolsView } from './views.ts';

/** Request bodies larger than this get 413. */
export const MAX_BODY_BYTES = 1024 * 1024;

type Handler = (rt: Runtime, req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

const SECURITY_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

function json(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...SECURITY_HEADERS, ...extra });
  res.end(text);
}

function text(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...SECURITY_HEADERS });
  res.end(body);
}

/** Exact-path reads. Extend with one line per endpoint. */
const ROUTES: Record<string, Handler> = {
  'GET /healthz': (rt, _req, res) => {
    const draining = rt.listeners.some((l) => l.draining);
    text(res, draining ? 503 : 200, draining ? 'draining\n' : 'ok\n');
  },
  'GET /api/v1/gslb': (rt, req, res) => {
    if (rt.gslb === null) return json(res, 404, { error: 'no gslb section in the config' });
    const q = new URL(req.url ?? '/', 'http://x').searchParams;
    const view = rt.gslb.view(q.get('client') ?? q.get('subnet'));
    json(res, (view as { error?: string }).error !== undefined ? 400 : 200, view);
  },
  'GET /metrics': async (rt, _req, res) => {
    text(res, 200, await rt.metrics.registry.metrics(), rt.metrics.registry.contentType);
  },
  'GET /api/v1/listeners': (rt, _req, res) => json(res, 200, listenersView(rt)),
  'GET /api/v1/routes': (rt, _req, res) => json(res, 200, routesView(rt)),
  'GET /api/v1/pools': (rt, _req, res) => json(res, 200, poolsView(rt)),
  'GET /api/v1/config': (rt, _req, res) => json(res, 200, { generation: rt.generation, config: rt.config }),
};

/** What a route handler gets (also routes added with AdminServer.addRoute). */
export interface Ctx {
  rt: Runtime;
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: string[];
  actor: string;
  admin: AdminServer;
}

interface ParamRoute {
  method: string;
  pattern: RegExp;
  /** Needs the token (a write). */
  write: boolean;
  handle(c: Ctx): void | Promise<void>;
}

const SEG = '([^/]+)';
const route = (method: string, path: string, write: boolean, handle: ParamRoute['handle']): ParamRoute =>
  ({ method, pattern: new RegExp(`^${path.replaceAll('{}', SEG)}$`), write, handle });

/** Reads and writes with path parameters, and the reads that need the server (status, events, stream, explain). */
const PARAM_ROUTES: ParamRoute[] = [
  route('GET', '/api/v1/status', false, (c) => json(c.res, 200, statusView(c.rt, c.admin.auth.protectReads, c.admin.auth.hasToken))),
  route('GET', '/api/v1/events', false, (c) => {
    const since = intParam(c.url, 'since', 0);
    const limit = intParam(c.url, 'limit', 200);
    if (since === null || limit === null) return json(c.res, 400, { error: 'since and limit must be integers ≥ 0' });
    const r = c.rt.feed.since(since, Math.min(Math.max(limit, 1), 1000));
    json(c.res, 200, { last: r.last, truncated: r.truncated, events: r.events.map(eventView) });
  }),
  route('GET', '/api/v1/stream', false, (c) => {
    const since = c.url.searchParams.has('since') ? intParam(c.url, 'since', 0) : null;
    c.admin.stream.open(c.req, c.res, since);
  }),
  route('GET', '/api/v1/pools/{}', false, (c) => {
    const pool = c.rt.pools.get(c.params[0]);
    if (pool === undefined) return json(c.res, 404, { error: `no pool named ${JSON.stringify(c.params[0])}` });
    json(c.res, 200, poolView(pool));
  }),
  route('GET', '/api/v1/pools/{}/keyspace', false, (c) => {
    const pool = c.rt.pools.get(c.params[0]);
    if (pool === undefined) return json(c.res, 404, { error: `no pool named ${JSON.stringify(c.params[0])}` });
    const segments = intParam(c.url, 'segments', 360);
    if (segments === null || segments < 1 || segments > 4096) return json(c.res, 400, { error: 'segments must be an integer 1-4096' });
    const v = keyspaceView(pool, segments);
    if (v === null) return json(c.res, 404, { error: `pool ${JSON.stringify(pool.name)} (${pool.config.algorithm}) has no positional key space (ring or table)` });
    json(c.res, 200, v);
  }),
  route('GET', '/api/v1/pools/{}/whatif', false, (c) => {
    const pool = c.rt.pools.get(c.params[0]);
    if (pool === undefined) return json(c.res, 404, { error: `no pool named ${JSON.stringify(c.params[0])}` });
    const remove = c.url.searchParams.get('remove');
    if (remove === null) return json(c.res, 400, { error: 'expected ?remove=ADDRESS' });
    const r = whatIfRemoved(pool, remove);
    json(c.res, r.status, r.body);
  }),
  route('POST', '/api/v1/explain', false, async (c) => {
    const body = await readJson(c);
    if (body === undefined) return;
    const problems = explainProblems(body);
    if (problems.length > 0) return json(c.res, 422, { error: 'invalid request description', problems });
    const r = explain(c.rt, body as ExplainRequest);
    json(c.res, r.status, r.body);
  }),
  route('POST', '/api/v1/pools/{}/endpoints/{}/drain', true, (c) => write(c, () => setDrain(c.rt, c.params[0], c.params[1], true, c.actor))),
  route('POST', '/api/v1/pools/{}/endpoints/{}/undrain', true, (c) => write(c, () => setDrain(c.rt, c.params[0], c.params[1], false, c.actor))),
  route('PUT', '/api/v1/pools/{}/endpoints/{}/weight', true, async (c) => {
    const body = await readJson(c);
    if (body !== undefined) await write(c, () => setWeight(c.rt, c.params[0], c.params[1], body, c.actor));
  }),
  route('POST', '/api/v1/pools/{}/endpoints', true, async (c) => {
    const body = await readJson(c);
    if (body !== undefined) await write(c, () => addEndpoint(c.rt, c.params[0], body, c.actor));
  }),
  route('DELETE', '/api/v1/pools/{}/endpoints/{}', true, (c) => write(c, () => removeEndpoint(c.rt, c.params[0], c.params[1], c.actor))),
  route('PUT', '/api/v1/pools/{}/algorithm', true, async (c) => {
    const body = await readJson(c);
    if (body !== undefined) await write(c, () => setAlgorithm(c.rt, c.params[0], body, c.actor));
  }),
  route('PUT', '/api/v1/config', true, async (c) => {
    const raw = await readBody(c);
    if (raw === undefined) return;
    const type = (c.req.headers['content-type'] ?? '').toLowerCase();
    await write(c, () => replaceConfig(c.rt, raw, type.includes('json'), c.actor));
  }),
];

function intParam(url: URL, name: string, dflt: number): number | null {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return dflt;
  return /^\d{1,15}$/.test(v) ? Number(v) : null;
}

/** The request body as text (413 beyond MAX_BODY_BYTES; undefined when answered). */
async function readBody(c: Ctx): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of c.req) {
    n += (chunk as Buffer).length;
    if (n > MAX_BODY_BYTES) {
      json(c.res, 413, { error: `request body over ${MAX_BODY_BYTES} bytes` }, { connection: 'close' });
      c.req.destroy();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The request body as JSON (400 with the parse error when it is not; undefined when answered). */
async function readJson(c: Ctx): Promise<unknown> {
  const raw = await readBody(c);
  if (raw === undefined) return undefined;
  try {
    return raw.trim() === '' ? {} : JSON.parse(raw);
  } catch (err) {
    json(c.res, 400, { error: `invalid JSON body: ${(err as Error).message}` });
    return undefined;
  }
}

/** Runs a write, answers it and writes its audit line. */
async function write(c: Ctx, run: () => Promise<WriteOutcome>): Promise<void> {
  const out = await run();
  // The feed's `admin` event comes from the runtime's reload (one per applied or refused change).
  c.admin.audit(c, out.action, out.result, out.status);
  json(c.res, out.status, out.body);
}

export class AdminServer {
  private readonly server: Server;
  private readonly listenAddr: string;
  private readonly rt: Runtime;
  readonly auth: AdminAuth;
  readonly stream: EventStream;
  /** Routes added at run time (after PARAM_ROUTES), and the dashboard features they enable. */
  private readonly extraRoutes: ParamRoute[] = [];
  readonly features: string[] = [];
  /** The bound address once listening (port 0 resolved). */
  boundAddress: BoundAddress | null = null;

  /** Throws (naming the variable or file, never the token) when a configured token cannot be loaded. */
  constructor(rt: Runtime, config: Config['admin'] | { listen: string }) {
    this.rt = rt;
    this.listenAddr = config.listen;
    const admin: Config['admin'] = { enabled: true, ...config };
    this.auth = new AdminAuth(admin);
    this.stream = new EventStream(rt, { maxClients: admin.maxStreamClients ?? 16 });
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const rt = this.rt;
    if (!this.auth.hostAllowed(req)) {
      json(res, 421, { error: 'Host header not allowed for the admin API (DNS-rebinding guard); add it to admin.allowedHosts' });
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://admin.invalid');
    } catch {
      json(res, 400, { error: 'bad request target' });
      return;
    }
    const path = url.pathname;
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    if (method === 'GET' && isDashboardPath(path)) {
      serveDashboard(req, res, path, this.features);
      return;
    }
    const exact = ROUTES[`${method} ${path}`];
    let match: { r: ParamRoute; params: string[] } | null = null;
    if (exact === undefined) {
      for (const r of [...PARAM_ROUTES, ...this.extraRoutes]) {
        if (r.method !== method) continue;
        const m = r.pattern.exec(path);
        if (m === null) continue;
        try {
          match = { r, params: m.slice(1).map((s) => decodeURIComponent(s)) };
        } catch {
          json(res, 400, { error: 'bad percent-encoding in the path' });
          return;
        }
        break;
      }
    }
    if (exact === undefined && match === null) {
      const known = Object.keys(ROUTES).some((k) => k.endsWith(` ${path}`)) || [...PARAM_ROUTES, ...this.extraRoutes].some((r) => r.pattern.test(path));
      // OPTIONS (CORS preflight) lands here too: 405 without any Access-Control-* header.
      json(res, known ? 405 : 404, { error: known ? 'method not allowed' : 'not found', path });
      return;
    }
    const isWrite = match?.r.write === true;
    const ctx: Ctx = { rt, req, res, url, params: match?.params ?? [], actor: 'anonymous', admin: this };
    // /healthz stays open (it tells nothing but "ok" / "draining"; outside checkers poll it).
    if (isWrite || (this.auth.protectReads && path !== '/healthz')) {
      if (isWrite && !this.auth.hasToken) {
        this.audit(ctx, `${method} ${path}`, 'refused: writes are disabled (no admin.auth token configured)', 403);
        json(res, 403, { error: 'writes are disabled: configure admin.auth.tokenEnv or admin.auth.tokenFile' });
        return;
      }
      const a = this.auth.check(req);
      if (!a.ok) {
        this.audit(ctx, `${method} ${path}`, `refused: ${a.reason}`, 401);
        json(res, 401, { error: a.reason }, { 'www-authenticate': `Bearer realm="fulcrum-admin"${req.headers.authorization === undefined ? '' : ', error="invalid_token"'}` });
        return;
      }
      ctx.actor = a.actor;
    }
    const run = exact !== undefined ? () => exact(rt, req, res) : () => match!.r.handle(ctx);
    Promise.resolve().then(run).catch((err: unknown) => {
      rt.log.error({ err: err instanceof Error ? err.message : String(err), path }, 'admin API error');
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  }

  /**
   * Adds a route (`{}` stands for one path segment) behind the same gate as the built-in ones;
   * `write` routes need the token. `feature`, when given, is announced to the dashboard page.
   */
  addRoute(method: string, path: string, write: boolean, handle: (c: Ctx) => void | Promise<void>, feature?: string): void {
    this.extraRoutes.push(route(method, path, write, handle));
    if (feature !== undefined && !this.features.includes(feature)) this.features.push(feature);
  }

  /** One audit line per write or refused authentication: who, from where, what, result (never the token). */
  audit(c: Ctx, action: string, result: string, status: number): void {
    this.rt.log.info({
      audit: { actor: c.actor, from: c.req.socket.remoteAddress ?? null, method: c.req.method, path: c.url.pathname, action, result, status },
    }, `admin ${result === 'applied' || result === 'unchanged' ? 'write' : 'refusal'}: ${action} → ${result}`);
  }

  listen(): Promise<BoundAddress> {
    const { host, port } = splitHostPort(this.listenAddr);
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.off('error', reject);
        const addr = this.server.address();
        const bound = typeof addr === 'object' && addr !== null ? addr.port : port;
        this.boundAddress = { name: 'admin', host, port: bound };
        resolve(this.boundAddress);
      });
    });
  }

  close(): Promise<void> {
    this.stream.close();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
