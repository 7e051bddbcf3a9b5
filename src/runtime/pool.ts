/**
 * A pool at run time: its endpoints (with their idle upstream connections), the shared load
 * counters and the balancer built from the immutable endpoint list. Rebuilt on config change;
 * counters and idle connections of endpoints that survive (same address) are carried over.
 */
import { ALGORITHM_OPTION_SCHEMAS, type PoolConfig } from '../config/schema.ts';
import { compileKey, type KeyExtractor, type KeySource } from '../balancing/keys.ts';
import { parseHostPort } from '../config/values.ts';
import { getAlgorithm } from '../balancing/registry.ts';
import '../balancing/index.ts';
import { Weights, type Balancer, type HashingBalancer, type PickContext } from '../balancing/types.ts';
import { withBoundedLoad } from '../balancing/bounded-load.ts';
import { SlowStart } from '../balancing/slow-start.ts';
import type { UpstreamConn } from '../l7/http1/upstream.ts';
import { PoolHealth, type HealthEvent, type Outcome } from './pool-health.ts';
import { createAffinity, type Affinity } from '../l7/affinity/index.ts';
import { EndpointStats } from './endpoint-stats.ts';

export class Endpoint {
  readonly index: number;
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  readonly pool: PoolRuntime;
  /** Idle keep-alive connections, most recently used last (LIFO keeps few connections warm). */
  readonly idle: UpstreamConn[] = [];
  /**
   * Open upstream connections (idle + busy + connecting): the HTTP/1.1 engine's raw connections,
   * and for requests that arrived over HTTP/2 the node:http agent sockets and HTTP/2 sessions.
   */
  open = 0;
  /**
   * Of `open`, the idle ones the HTTP/2 engine's upstream clients keep (free agent sockets, HTTP/2
   * sessions with no stream); counted on the endpoint object that opened them (not moved at a reload).
   */
  idleShared = 0;
  /**
   * This endpoint's incarnation in the pool that replaced this one at a reload (same pool name and
   * address), or null. Exchanges that started before the reload finish their bookkeeping (load
   * counters, idle connections) on the newest incarnation: `latest()`.
   */
  next: Endpoint | null = null;

  constructor(pool: PoolRuntime, index: number, address: string, host: string, port: number, weight: number) {
    this.pool = pool;
    this.index = index;
    this.address = address;
    this.host = host;
    this.port = port;
    this.weight = weight;
  }

  /** The newest incarnation of this endpoint (itself when no reload replaced it). */
  latest(): Endpoint {
    let e: Endpoint = this;
    for (let guard = 0; e.next !== null && guard < 1_000_000; guard++) e = e.next;
    return e;
  }

  /** Reports an attempt's outcome to outlier detection, on the newest incarnation (a reload may have replaced this one). */
  recordOutcome(outcome: Outcome, detail: string): void {
    const e = this.latest();
    e.pool.record(e.index, outcome, detail);
  }
}

/** host and port of an address the config has already validated (`host:port`, `[v6]:port`). */
export function splitHostPort(address: string): { host: string; port: number } {
  const hp = parseHostPort(address);
  if (hp === null) throw new Error(`not a host:port address: ${JSON.stringify(address)}`);
  return hp;
}

export class PoolRuntime {
  readonly name: string;
  readonly config: PoolConfig;
  readonly endpoints: Endpoint[];
  /** Load counters (what the balancers read) plus the admin API's latency histogram and rate window. */
  readonly load: EndpointStats;
  /** Effective weights by endpoint slot (configured weights, ramped by slow start). */
  readonly weights: Weights;
  readonly balancer: Balancer;
  /** Slow-start ramps (pools with `slowStart` and a weighted algorithm), ticked by the runtime. */
  readonly slowStart: SlowStart | null;
  /** Hash-key extractor (hashing algorithms), or null. */
  readonly key: KeyExtractor | null;
  /** Answer 503 when the hash key is missing (`hashKeyMissing: reject`) instead of balancing round robin. */
  readonly rejectMissingKey: boolean;
  /** Availability (checks, ejection, drain, panic), gray-failure factors, retry budget, events. */
  readonly health: PoolHealth;
  /** Session affinity (`sticky`), or null. */
  readonly affinity: Affinity | null;
  /** Requests in progress on the pool and those waiting for an upstream connection (circuit breakers). */
  active = 0;
  pending = 0;
  /** Reused pick context (single-threaded: no request holds it across an await). */
  private readonly ctx: PickContext = { key: undefined, keyBytes: null, keyStart: 0, keyEnd: 0, excluded: null };
  /** Scratch exclusion set for picks that combine several masks (retries, soft drain). */
  private readonly scratch: Uint8Array;
  private readonly random: () => number;

  constructor(
    config: PoolConfig,
    prev?: PoolRuntime,
    random: () => number = Math.random,
    now: () => number = Date.now,
    /** Told about every health event (the runtime's event feed); default: the previous incarnation's. */
    onEvent?: ((ev: HealthEvent) => void) | null,
  ) {
    this.name = config.name;
    this.config = config;
    this.endpoints = config.servers.map((s, i) => {
      const { host, port } = splitHostPort(s.address);
      return new Endpoint(this, i, s.address, host, port, s.weight);
    });
    this.load = new EndpointStats(this.endpoints.length);
    this.scratch = new Uint8Array(this.endpoints.length);
    this.random = random;
    this.health = new PoolHealth(config, prev?.health, { now, onEvent: onEvent ?? prev?.health.onEvent ?? null });
    this.weights = new Weights(this.endpoints.map((e) => e.weight));
    if (prev) {
      prev.load.carryOver(prev.endpoints.map((e) => e.address), this.load, this.endpoints.map((e) => e.address));
    }
    const factory = getAlgorithm(config.algorithm);
    if (!factory) throw new Error(`unknown algorithm "${config.algorithm}"`);
    this.key = config.hashKey !== undefined ? compileKey(config.hashKey) : null;
    this.rejectMissingKey = config.hashKeyMissing === 'reject';
    const env = { load: this.load, now, random, weights: this.weights };
    let balancer = factory.create(
      this.endpoints.map((e) => ({ index: e.index, address: e.address, weight: e.weight })),
      env,
      algorithmOptions(config, factory.optionsKey),
    );
    // Decorators chosen by the registry's flags (the config validator refuses other combinations).
    if (config.boundedLoad !== undefined && factory.hashing === true) {
      balancer = withBoundedLoad(balancer as HashingBalancer, env, config.boundedLoad.factor);
    }
    this.balancer = balancer;
    this.affinity = config.sticky === undefined ? null
      : createAffinity(config.sticky, { name: config.name, addresses: this.endpoints.map((e) => e.address) }, prev?.affinity ?? null);
    this.slowStart = config.slowStart !== undefined && factory.weighted === true
      ? new SlowStart(this.weights, this.endpoints.map((e) => e.weight), config.slowStart.window)
      : null;
    if (this.slowStart !== null && prev !== undefined) {
      // Endpoints that joined with this config ramp up; those present before keep their weight.
      const before = new Set(prev.endpoints.map((e) => e.address));
      const t = now();
      for (const e of this.endpoints) if (!before.has(e.address)) this.slowStart.markJoined(e.index, t);
    }
  }

  /** Starts the pool's timer-driven parts (active health checks). Called once the pool is in service. */
  start(): void {
    this.health.start();
  }

  /** Stops what start() started (the pool left service: shutdown, or replaced by a reload). */
  stop(): void {
    this.health.stop();
  }

  /** Periodic work, called by the runtime's sweeper (every 100 ms): slow-start ramps, detectors. */
  tick(now: number): void {
    this.slowStart?.tick(now);
    this.load.tick(now);
    this.health.tick(now, this.load.headerEwma);
  }

  /**
   * Picks an endpoint or returns null when none may take the request. Servers that are down,
   * ejected or drained are never picked (in panic only drained ones are left out), nor those in
   * `tried` (slots already attempted by this request). A soft-drained server (gray failure, weight
   * factor f < 1) keeps a pick with probability f; otherwise the pick is made again without it.
   */
  pick(key: string | undefined, tried: Uint8Array | null): Endpoint | null {
    const ctx = this.ctx;
    ctx.key = key;
    ctx.keyBytes = null;
    return this.pickWith(tried);
  }

  /**
   * HTTP/1.1: locates the hash key of `src` as bytes in the request buffer for pickSpanned()
   * (the same request, synchronously after). Returns −1 when the source or the key kind has no
   * bytes (use `key.extract` and pick()), 0 when the key is missing or empty, 1 when present.
   * Only when `key` is not null.
   */
  spanKey(src: KeySource): number {
    const ctx = this.ctx;
    if (!(this.key as KeyExtractor).span(src, ctx)) {
      ctx.keyBytes = null;
      return -1;
    }
    return (ctx.keyEnd as number) > (ctx.keyStart as number) ? 1 : 0;
  }

  /** pick() with the key spanKey() located; the span is cleared (the buffer is not kept). */
  pickSpanned(tried: Uint8Array | null): Endpoint | null {
    this.ctx.key = undefined;
    const ep = this.pickWith(tried);
    this.ctx.keyBytes = null;
    return ep;
  }

  private pickWith(tried: Uint8Array | null): Endpoint | null {
    const h = this.health;
    const base = h.panic ? h.drainMask : h.mask;
    const anyBase = (h.panic ? h.drained : h.unavailable) !== 0;
    const ctx = this.ctx;
    if (tried === null) ctx.excluded = anyBase ? base : null;
    else {
      const x = this.scratch;
      for (let i = 0; i < x.length; i++) x[i] = base[i] | tried[i];
      ctx.excluded = x;
    }
    let i = this.balancer.pick(ctx);
    if (i >= 0) {
      const f = h.gray.factor[i];
      if (f < 1 && this.random() >= f) {
        const x = this.scratch;
        if (ctx.excluded !== x) {
          if (ctx.excluded === null) x.fill(0);
          else x.set(ctx.excluded);
          ctx.excluded = x;
        }
        x[i] = 1;
        const j = this.balancer.pick(ctx);
        if (j >= 0) i = j;
      }
    }
    return i < 0 ? null : this.endpoints[i];
  }

  /**
   * The endpoint in `slot` when it may take a request (affinity): not down, ejected or drained,
   * not in `tried`, configured weight above 0; null otherwise (the caller balances). A gray-failure
   * soft drain does not break a pin (HAProxy honours a cookie unless the server is down or in maintenance).
   */
  pickPinned(slot: number, tried: Uint8Array | null): Endpoint | null {
    if (slot < 0 || slot >= this.endpoints.length) return null;
    if (this.health.flags[slot] !== 0 || (tried !== null && tried[slot] !== 0)) return null;
    if (this.endpoints[slot].weight === 0) return null;
    return this.endpoints[slot];
  }

  /** Open upstream connections of the pool (idle included), for `circuitBreakers.maxConnections`. */
  openConnections(): number {
    let n = 0;
    for (const e of this.endpoints) n += e.open;
    return n;
  }

  /** Reports the outcome of an exchange with endpoint `i` (outlier detection). */
  record(i: number, outcome: Outcome, detail: string): void {
    this.health.record(i, outcome, detail);
  }
}

/** The pool's option section for the algorithm (defaults from the schema when the pool omits it). */
function algorithmOptions(config: PoolConfig, key: string | undefined): unknown {
  if (key === undefined) return undefined;
  const given = (config as unknown as Record<string, unknown>)[key];
  if (given !== undefined) return given;
  const schemas = ALGORITHM_OPTION_SCHEMAS as Record<string, { parse(v: unknown): unknown }>;
  return Object.hasOwn(schemas, key) ? schemas[key].parse({}) : undefined;
}
