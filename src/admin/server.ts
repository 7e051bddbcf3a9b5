/**
 * The admin API (default 127.0.0.1:9090), on node:http — it is not on the data path. Routes are a
 * table of handlers; auth, the dashboard and write endpoints come with the admin issue.
 *
 *   GET /healthz         → 200 `ok` (503 `draining` during shutdown)
 *   GET /api/v1/pools    → pools with endpoints: in-flight, total requests, errors, latency EWMA
 *   GET /metrics         → Prometheus text exposition (prom-client)
 *   GET /api/v1/gslb     → GSLB sites and names (`?client=ADDR` or `?subnet=CIDR`: the answer it would get)
 */
import { F_DRAINED, F_EJECTED } from '../runtime/pool-health.ts';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Runtime, BoundAddress } from '../runtime/runtime.ts';
import { splitHostPort } from '../runtime/pool.ts';

type Handler = (rt: Runtime, req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function text(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The JSON view of every pool (shared by /api/v1/pools and tests). */
export function poolsView(rt: Runtime): unknown {
  return {
    pools: [...rt.pools.values()].map((p) => {
      const h = p.health;
      return {
        name: p.name,
        algorithm: p.config.algorithm,
        panic: h.panic,
        active: p.active,
        pending: p.pending,
        retries: { made: h.retries, refusedByBudget: h.retriesRefused },
        circuitBreakerRejects: Object.fromEntries(h.breakerRejects),
        endpoints: p.endpoints.map((e) => {
          const i = e.index;
          const f = h.flags[i];
          const check = h.checker?.states[i];
          const last = h.checker?.last[i] ?? null;
          return {
            address: e.address,
            weight: e.weight,
            available: f === 0,
            health: check === undefined ? 'unchecked' : check.status,
            lastCheck: last === null ? null : { at: new Date(last.at).toISOString(), passed: last.passed, detail: last.detail, durationMs: Math.round(last.durationMs * 10) / 10 },
            ejected: (f & F_EJECTED) !== 0,
            ejectedUntil: h.outlier.ejected[i] !== 0 ? new Date(h.outlier.ejectedUntil[i]).toISOString() : null,
            drain: (f & F_DRAINED) !== 0,
            weightFactor: h.gray.factor[i],
            inFlight: p.load.inFlight[i],
            requests: p.load.total[i],
            errors: p.load.errors[i],
            latencyEwmaMs: Math.round(p.load.latencyEwma[i] * 1000) / 1000,
            headerEwmaMs: Math.round(p.load.headerEwma[i] * 1000) / 1000,
            connections: { open: e.open, idle: e.idle.length },
          };
        }),
        events: h.events.map((ev) => ({ at: new Date(ev.at).toISOString(), server: ev.server, kind: ev.kind, to: ev.to, reason: ev.reason })),
      };
    }),
  };
}

const ROUTES: Record<string, Handler> = {
  'GET /healthz': (rt, _req, res) => {
    const draining = rt.listeners.some((l) => l.draining);
    text(res, draining ? 503 : 200, draining ? 'draining\n' : 'ok\n');
  },
  'GET /api/v1/pools': (rt, _req, res) => json(res, 200, poolsView(rt)),
  'GET /api/v1/gslb': (rt, req, res) => {
    if (rt.gslb === null) return json(res, 404, { error: 'no gslb section in the config' });
    const q = new URL(req.url ?? '/', 'http://x').searchParams;
    const view = rt.gslb.view(q.get('client') ?? q.get('subnet'));
    json(res, (view as { error?: string }).error !== undefined ? 400 : 200, view);
  },
  'GET /metrics': async (rt, _req, res) => {
    text(res, 200, await rt.metrics.registry.metrics(), rt.metrics.registry.contentType);
  },
};

export class AdminServer {
  private readonly server: Server;
  private readonly listenAddr: string;

  constructor(rt: Runtime, config: { listen: string }) {
    this.listenAddr = config.listen;
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const handler = ROUTES[`${req.method === 'HEAD' ? 'GET' : req.method} ${path}`];
      if (handler === undefined) {
        const known = Object.keys(ROUTES).some((k) => k.endsWith(` ${path}`));
        json(res, known ? 405 : 404, { error: known ? 'method not allowed' : 'not found', path });
        return;
      }
      Promise.resolve(handler(rt, req, res)).catch((err: unknown) => {
        json(res, 500, { error: err instanceof Error ? err.message : String(err) });
      });
    });
    this.server.keepAliveTimeout = 5000;
  }

  listen(): Promise<BoundAddress> {
    const { host, port } = splitHostPort(this.listenAddr);
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.off('error', reject);
        const addr = this.server.address();
        resolve({ name: 'admin', host, port: typeof addr === 'object' && addr !== null ? addr.port : port });
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
