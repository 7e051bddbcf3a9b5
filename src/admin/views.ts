/**
 * The admin API's JSON views of the running process (pure reads of the runtime; no side effect):
 * listeners, routes, pools with live endpoint figures, each pool's algorithm and its key-space
 * view, and the status line. Shapes are documented in docs/admin-api.md; the dashboard reads the
 * same objects from GET /api/v1/pools and the event stream.
 */
import { F_DOWN, F_DRAINED, F_EJECTED } from '../runtime/pool-health.ts';
import type { PoolRuntime } from '../runtime/pool.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { getAlgorithm } from '../balancing/registry.ts';
import type { FeedEvent } from '../runtime/events.ts';

const r3 = (x: number): number => Math.round(x * 1000) / 1000;
const iso = (ms: number): string => new Date(ms).toISOString();

/** One endpoint's state word: `draining` > `ejected` > `down` > `soft-drained` > `up` (`unchecked` when no active check has run). */
export function endpointState(pool: PoolRuntime, i: number): string {
  const f = pool.health.flags[i];
  if ((f & F_DRAINED) !== 0) return 'draining';
  if ((f & F_EJECTED) !== 0) return 'ejected';
  if ((f & F_DOWN) !== 0) return 'down';
  if (pool.health.gray.factor[i] < 1) return 'soft-drained';
  return 'up';
}

/** Expected share of new requests (or keys) per endpoint slot, by the algorithm's view or by weight. */
function expectedShares(pool: PoolRuntime): Map<number, number> {
  const out = new Map<number, number>();
  const fromAlgo = pool.balancer.shares?.();
  if (fromAlgo !== undefined) {
    for (const s of fromAlgo) out.set(s.slot, s.share);
    return out;
  }
  const w = pool.weights.values;
  let sum = 0;
  for (let i = 0; i < w.length; i++) sum += Math.max(0, w[i]);
  for (let i = 0; i < w.length; i++) out.set(i, sum > 0 ? Math.max(0, w[i]) / sum : 0);
  return out;
}

/** The algorithm of a pool and its view: expected share per endpoint (ring arcs, Maglev entries, weights). */
export function algorithmView(pool: PoolRuntime): unknown {
  const factory = getAlgorithm(pool.config.algorithm);
  const shares = expectedShares(pool);
  const kind = pool.balancer.shares === undefined ? 'weights' : factory?.view ?? 'scores';
  return {
    name: pool.config.algorithm,
    summary: factory?.summary ?? '',
    hashing: factory?.hashing === true,
    weighted: factory?.weighted === true,
    hashKey: pool.config.hashKey ?? null,
    hashKeyMissing: pool.config.hashKeyMissing,
    boundedLoad: pool.config.boundedLoad ?? null,
    explainNote: factory?.explainNote ?? null,
    view: kind,
    tableSize: kind === 'table' ? (pool.config.maglev?.tableSize ?? null) : null,
    shares: pool.endpoints.map((e) => ({ address: e.address, share: r3(shares.get(e.index) ?? 0) })),
  };
}

/**
 * The key space of a positional hashing pool cut into `segments` equal arcs (ring) or runs (table),
 * each with the index (into `endpoints`) of the endpoint owning one point of it; null for other pools.
 * The point sits at a golden-ratio offset inside its segment, not at its start: a Maglev endpoint
 * fills table slots along an arithmetic progression (its skip), and sampling every segment's start
 * (an equal stride) can alias with it — 3 in 300 random 3-endpoint tables drew a share ≥ 0.03 off.
 */
export function keyspaceView(pool: PoolRuntime, segments: number): unknown {
  const b = pool.balancer;
  if (b.ownerAt === undefined) return null;
  const slotToPos = new Map(pool.endpoints.map((e, k) => [e.index, k]));
  const owners: number[] = [];
  for (let k = 0; k < segments; k++) owners.push(slotToPos.get(b.ownerAt((k + ((k * 0.6180339887498949) % 1)) / segments)) ?? -1);
  return { pool: pool.name, algorithm: pool.config.algorithm, view: getAlgorithm(pool.config.algorithm)?.view ?? null, segments, endpoints: pool.endpoints.map((e) => e.address), owners };
}

export function endpointsView(pool: PoolRuntime, now = Date.now()): unknown[] {
  const h = pool.health;
  const load = pool.load;
  const expected = expectedShares(pool);
  const rates = pool.endpoints.map((e) => load.rate(e.index, now));
  const totalRate = rates.reduce((a, r) => a + r.perSecond, 0);
  return pool.endpoints.map((e, k) => {
    const i = e.index;
    const f = h.flags[i];
    const check = h.checker?.states[i];
    const last = h.checker?.last[i] ?? null;
    const lastEvent = findLast(h.events, (ev) => ev.server === e.address);
    const p50 = load.quantile(i, 0.5);
    const p99 = load.quantile(i, 0.99);
    return {
      address: e.address,
      weight: e.weight,
      effectiveWeight: r3(pool.weights.values[i]),
      state: endpointState(pool, i),
      available: f === 0,
      health: check === undefined ? 'unchecked' : check.status,
      healthReason: check === undefined || check.lastReason === '' ? null : check.lastReason,
      lastCheck: last === null ? null : { at: iso(last.at), passed: last.passed, detail: last.detail, durationMs: Math.round(last.durationMs * 10) / 10 },
      ejected: (f & F_EJECTED) !== 0,
      ejectedUntil: h.outlier.ejected[i] !== 0 ? iso(h.outlier.ejectedUntil[i]) : null,
      drain: (f & F_DRAINED) !== 0,
      weightFactor: h.gray.factor[i],
      softDrained: h.gray.factor[i] < 1,
      lastEvent: lastEvent === undefined ? null : { at: iso(lastEvent.at), kind: lastEvent.kind, to: lastEvent.to, reason: lastEvent.reason },
      inFlight: load.inFlight[i],
      requests: load.total[i],
      errors: load.errors[i],
      reqPerSec: r3(rates[k].perSecond),
      errorRate: r3(rates[k].errorRate),
      rateWindowS: rates[k].windowS,
      latencyEwmaMs: r3(load.latencyEwma[i]),
      headerEwmaMs: r3(load.headerEwma[i]),
      latencyP50Ms: p50 === null ? null : r3(p50),
      latencyP99Ms: p99 === null ? null : r3(p99),
      expectedShare: r3(expected.get(i) ?? 0),
      observedShare: totalRate > 0 ? r3(rates[k].perSecond / totalRate) : null,
      connections: { open: e.open, idle: e.idle.length },
    };
  });
}

function findLast<T>(xs: readonly T[], pred: (x: T) => boolean): T | undefined {
  for (let i = xs.length - 1; i >= 0; i--) if (pred(xs[i])) return xs[i];
  return undefined;
}

export function poolView(pool: PoolRuntime, now = Date.now(), withEvents = true): unknown {
  const h = pool.health;
  const cb = pool.config.circuitBreakers;
  return {
    name: pool.name,
    algorithm: pool.config.algorithm,
    algorithmView: algorithmView(pool),
    panic: h.panic,
    active: pool.active,
    pending: pool.pending,
    circuitBreakers: { maxRequests: cb.maxRequests, maxPending: cb.maxPending, maxConnections: cb.maxConnections, open: pool.active >= cb.maxRequests || pool.pending >= cb.maxPending },
    retries: { made: h.retries, refusedByBudget: h.retriesRefused },
    circuitBreakerRejects: Object.fromEntries(h.breakerRejects),
    endpoints: endpointsView(pool, now),
    ...(withEvents ? { events: h.events.map((ev) => ({ at: iso(ev.at), server: ev.server, kind: ev.kind, to: ev.to, reason: ev.reason })) } : {}),
  };
}

/** The JSON view of every pool (GET /api/v1/pools; the stream's snapshots). */
export function poolsView(rt: Runtime, withEvents = true): { generation: number; at: string; pools: unknown[] } {
  const now = Date.now();
  return { generation: rt.generation, at: iso(now), pools: [...rt.pools.values()].map((p) => poolView(p, now, withEvents)) };
}

export function listenersView(rt: Runtime): unknown {
  return {
    listeners: rt.listeners.map((l) => {
      const c = l.config;
      const b = rt.bound.get(c.name);
      return {
        name: c.name,
        protocol: c.protocol,
        listen: c.listen,
        bound: b === undefined ? null : `${b.host.includes(':') ? `[${b.host}]` : b.host}:${b.port}`,
        connections: l.conns.size,
        draining: l.draining,
        routes: c.routes?.map((r) => r.name) ?? null,
        pool: c.pool ?? null,
        sniRoutes: c.sniRoutes ?? null,
      };
    }),
  };
}

export function routesView(rt: Runtime): unknown {
  return {
    listeners: rt.config.listeners.filter((l) => l.routes !== undefined).map((l) => ({
      listener: l.name,
      routes: l.routes!.map((r, i) => ({ index: i, name: r.name, match: r.match, targets: r.targets })),
    })),
  };
}

export function eventView(ev: FeedEvent): unknown {
  return { id: ev.id, at: iso(ev.at), kind: ev.kind, pool: ev.pool, server: ev.server, to: ev.to, reason: ev.reason, ...(ev.actor !== undefined ? { actor: ev.actor } : {}) };
}

export function statusView(rt: Runtime, protectReads: boolean, writesEnabled: boolean): unknown {
  return {
    generation: rt.generation,
    startedAt: iso(rt.startedAt),
    uptimeS: Math.round((Date.now() - rt.startedAt) / 1000),
    pid: process.pid,
    node: process.version,
    lastEventId: rt.feed.lastId(),
    adminChangesSinceFileLoad: rt.adminChanges.map((c) => ({ at: iso(c.at), action: c.action, actor: c.actor, generation: c.generation })),
    auth: { protectReads, writesEnabled },
  };
}
