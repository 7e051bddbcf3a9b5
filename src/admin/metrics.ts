/**
 * Prometheus metrics via prom-client (Prometheus exposition format). Label sets are bounded by the
 * config (listener, route, pool, endpoint address, status code). prom-client children are resolved
 * once per (route, endpoint, code) and cached, so a request costs two increments, no label hashing.
 * Gauges read the live load counters at scrape time instead of being updated per request.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoolRuntime } from '../runtime/pool.ts';

/** Duration buckets in seconds (1 ms … 30 s). */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface CounterChild { inc(v?: number): void }
interface HistogramChild { observe(v: number): void }

/** Cached prom-client children for one (listener, route, pool, endpoint). */
export class SeriesCache {
  private readonly labels: { listener: string; route: string; pool: string; endpoint: string };
  private readonly metrics: Metrics;
  private hist: HistogramChild | null = null;
  private readonly codes = new Map<number, CounterChild>();

  constructor(metrics: Metrics, listener: string, route: string, pool: string, endpoint: string) {
    this.metrics = metrics;
    this.labels = { listener, route, pool, endpoint };
  }

  record(status: number, seconds: number): void {
    let c = this.codes.get(status);
    if (c === undefined) {
      c = this.metrics.requests.labels({ ...this.labels, code: String(status) });
      this.codes.set(status, c);
    }
    c.inc();
    (this.hist ??= this.metrics.duration.labels(this.labels)).observe(seconds);
  }
}

export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<'listener' | 'route' | 'pool' | 'endpoint' | 'code'>;
  readonly duration: Histogram<'listener' | 'route' | 'pool' | 'endpoint'>;
  readonly protocolErrors: Counter<'listener' | 'code'>;
  private pools: () => Iterable<PoolRuntime> = () => [];

  constructor() {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'fulcrum_requests_total',
      help: 'HTTP requests completed, by listener, route, pool, endpoint and status code (499: client went away).',
      labelNames: ['listener', 'route', 'pool', 'endpoint', 'code'],
      registers,
    });
    this.duration = new Histogram({
      name: 'fulcrum_request_duration_seconds',
      help: 'Time from the request head to the end of the response, in seconds.',
      labelNames: ['listener', 'route', 'pool', 'endpoint'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.protocolErrors = new Counter({
      name: 'fulcrum_http_protocol_errors_total',
      help: 'Client connections closed for a protocol error (bad request, limits, header timeout), by code.',
      labelNames: ['listener', 'code'],
      registers,
    });
    const self = this;
    new Gauge({
      name: 'fulcrum_endpoint_in_flight',
      help: 'Requests in progress per endpoint.',
      labelNames: ['pool', 'endpoint'],
      registers,
      collect() {
        this.reset();
        for (const pool of self.pools()) {
          for (const ep of pool.endpoints) this.set({ pool: pool.name, endpoint: ep.address }, pool.load.inFlight[ep.index]);
        }
      },
    });
    new Gauge({
      name: 'fulcrum_upstream_connections',
      help: 'Open upstream connections per endpoint (idle ones included).',
      labelNames: ['pool', 'endpoint', 'state'],
      registers,
      collect() {
        this.reset();
        for (const pool of self.pools()) {
          for (const ep of pool.endpoints) {
            this.set({ pool: pool.name, endpoint: ep.address, state: 'idle' }, ep.idle.length);
            this.set({ pool: pool.name, endpoint: ep.address, state: 'busy' }, ep.open - ep.idle.length);
          }
        }
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'fulcrum_' });
  }

  /** Tells the gauges where the live pools are (the runtime swaps snapshots). */
  setPoolSource(source: () => Iterable<PoolRuntime>): void {
    this.pools = source;
  }
}
