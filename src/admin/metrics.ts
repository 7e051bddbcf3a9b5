/**
 * Prometheus metrics via prom-client (Prometheus exposition format). Label sets are bounded by the
 * config (listener, route, pool, endpoint address, status code). Request counts and durations are
 * kept in plain per-series objects (RequestSeries) cached by the listener, so a request costs no label
 * hashing; prom-client renders them at scrape time. Gauges read the live load counters at scrape time instead of being updated per request.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoolRuntime } from '../runtime/pool.ts';
import { F_DOWN, F_DRAINED, F_EJECTED } from '../runtime/pool-health.ts';

/** What the listener gauge reads of a listener in service. */
export interface ListenerGaugeSource {
  readonly config: { readonly name: string; readonly protocol: string };
  readonly conns: { readonly size: number };
}
import type { DnsCounters } from '../gslb/server/dns-server.ts';

/** Duration buckets in seconds (1 ms … 30 s). */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The request counter and duration histogram of one (listener, route, pool, endpoint). Hand-kept
 * counts instead of prom-client children: a request costs a Map update and a bucket increment, and
 * prom-client renders them at scrape time through a custom metric (`RequestSeriesMetric`).
 */
export class RequestSeries {
  readonly labels: { listener: string; route: string; pool: string; endpoint: string };
  readonly codes = new Map<number, number>();
  /** Non-cumulative bucket counts; the last slot is +Inf. */
  readonly buckets = new Float64Array(DURATION_BUCKETS.length + 1);
  sum = 0;
  count = 0;

  constructor(listener: string, route: string, pool: string, endpoint: string) {
    this.labels = { listener, route, pool, endpoint };
  }

  record(status: number, seconds: number): void {
    const codes = this.codes;
    codes.set(status, (codes.get(status) ?? 0) + 1);
    let i = 0;
    const n = DURATION_BUCKETS.length;
    while (i < n && seconds > DURATION_BUCKETS[i]) i++;
    this.buckets[i]++;
    this.sum += seconds;
    this.count++;
  }
}

/**
 * Upgraded connections (WebSocket, and protocols from `webSocket.otherUpgrades`) of one
 * (listener, pool, protocol): open now, opened in total, closed by reason. Plain counts updated at
 * upgrade and close, rendered at scrape time like RequestSeries.
 */
export class TunnelSeries {
  readonly labels: { listener: string; pool: string; protocol: string };
  open = 0;
  total = 0;
  /** Closes by reason: `client`, `server` (that side closed first), `error`, `idle_timeout`, `drain`, `shutdown`, `forced`. */
  readonly closed = new Map<string, number>();

  constructor(listener: string, pool: string, protocol: string) {
    this.labels = { listener, pool, protocol };
  }

  opened(): void {
    this.open++;
    this.total++;
  }

  closedFor(reason: string): void {
    this.open--;
    this.closed.set(reason, (this.closed.get(reason) ?? 0) + 1);
  }
}

type MetricValue = { value: number; labels: Record<string, string | number>; metricName?: string };

export class Metrics {
  readonly registry = new Registry();
  /** Every request series ever recorded, by label key (kept across reloads: counters never reset). */
  private readonly series = new Map<string, RequestSeries>();
  readonly protocolErrors: Counter<'listener' | 'code'>;
  /**
   * L4 listener events by listener and event: `accepted`, `refused_max_connections`,
   * `refused_untrusted_proxy`, `bad_proxy_header`, `bad_client_hello`, `client_hello_timeout`,
   * `no_route`, `no_upstream`, `connect_failed`, `idle_timeout`, `drain_deadline`, `udp_session_refused`, …
   */
  readonly l4Events: Counter<'listener' | 'event'>;
  /** L4 bytes relayed by listener and direction (`upstream`: client → server, `downstream`). */
  readonly l4Bytes: Counter<'listener' | 'direction'>;
  /** Requests answered 429 by a route's rate limit, by listener and route. */
  readonly rateLimited: Counter<'listener' | 'route'>;
  private pools: () => Iterable<PoolRuntime> = () => [];
  /** Upgraded-connection series by label key (kept across reloads). */
  private readonly tunnels = new Map<string, TunnelSeries>();
  private listeners: () => Iterable<ListenerGaugeSource> = () => [];

  constructor() {
    const registers = [this.registry];
    const all = this.series;
    this.registry.registerMetric({
      name: 'fulcrum_requests_total',
      get: async () => {
        const values: MetricValue[] = [];
        for (const ser of all.values()) {
          for (const [code, n] of ser.codes) values.push({ value: n, labels: { ...ser.labels, code } });
        }
        return {
          name: 'fulcrum_requests_total', type: 'counter', aggregator: 'sum', values,
          help: 'HTTP requests completed, by listener, route, pool, endpoint and status code (499: client went away).',
        };
      },
    } as never);
    this.registry.registerMetric({
      name: 'fulcrum_request_duration_seconds',
      get: async () => {
        const values: MetricValue[] = [];
        for (const ser of all.values()) {
          let cum = 0;
          for (let i = 0; i < DURATION_BUCKETS.length; i++) {
            cum += ser.buckets[i];
            values.push({ value: cum, labels: { ...ser.labels, le: DURATION_BUCKETS[i] }, metricName: 'fulcrum_request_duration_seconds_bucket' });
          }
          values.push({ value: ser.count, labels: { ...ser.labels, le: '+Inf' }, metricName: 'fulcrum_request_duration_seconds_bucket' });
          values.push({ value: ser.sum, labels: ser.labels, metricName: 'fulcrum_request_duration_seconds_sum' });
          values.push({ value: ser.count, labels: ser.labels, metricName: 'fulcrum_request_duration_seconds_count' });
        }
        return {
          name: 'fulcrum_request_duration_seconds', type: 'histogram', aggregator: 'sum', values,
          help: 'Time from the request head to the end of the response, in seconds.',
        };
      },
    } as never);
    this.protocolErrors = new Counter({
      name: 'fulcrum_http_protocol_errors_total',
      help: 'Client connections closed for a protocol error (bad request, limits, header timeout), by code.',
      labelNames: ['listener', 'code'],
      registers,
    });
    this.l4Events = new Counter({
      name: 'fulcrum_l4_events_total',
      help: 'L4 (tcp, tls-passthrough, udp) listener events: connections accepted, refused, closed for a reason; also the PROXY protocol events of http and https listeners.',
      labelNames: ['listener', 'event'],
      registers,
    });
    this.l4Bytes = new Counter({
      name: 'fulcrum_l4_bytes_total',
      help: 'Bytes relayed by L4 listeners, by direction (upstream: client to server; downstream: server to client).',
      labelNames: ['listener', 'direction'],
      registers,
    });
    this.rateLimited = new Counter({
      name: 'fulcrum_rate_limited_total',
      help: 'Requests answered 429 FULCRUM_E_RATE_LIMITED by a route\'s rate limit, by listener and route.',
      labelNames: ['listener', 'route'],
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
            const idle = ep.idle.length + ep.idleShared;
            this.set({ pool: pool.name, endpoint: ep.address, state: 'idle' }, idle);
            this.set({ pool: pool.name, endpoint: ep.address, state: 'busy' }, Math.max(0, ep.open - idle));
          }
        }
      },
    });
    this.registry.registerMetric({
      name: 'fulcrum_health_events_total',
      get: async () => {
        const values: MetricValue[] = [];
        for (const pool of self.pools()) {
          for (const [key, n] of pool.health.counts) {
            const [kind, endpoint, to] = key.split('\0');
            values.push({ value: n, labels: { pool: pool.name, endpoint, kind, to } });
          }
        }
        return {
          name: 'fulcrum_health_events_total', type: 'counter', aggregator: 'sum', values,
          help: 'Health events by pool, endpoint (empty for pool-wide events), kind (health, ejection, gray, panic, drain) and new state.',
        };
      },
    } as never);
    new Gauge({
      name: 'fulcrum_endpoint_available',
      help: 'Whether the endpoint may take new requests (1) or is down, ejected or drained (0).',
      labelNames: ['pool', 'endpoint'],
      registers,
      collect() {
        this.reset();
        for (const pool of self.pools()) {
          for (const ep of pool.endpoints) this.set({ pool: pool.name, endpoint: ep.address }, pool.health.flags[ep.index] === 0 ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'fulcrum_endpoint_weight_factor',
      help: 'Gray-failure soft-drain factor of the endpoint\'s share (1 = full).',
      labelNames: ['pool', 'endpoint'],
      registers,
      collect() {
        this.reset();
        for (const pool of self.pools()) {
          for (const ep of pool.endpoints) this.set({ pool: pool.name, endpoint: ep.address }, pool.health.gray.factor[ep.index]);
        }
      },
    });
    new Gauge({
      name: 'fulcrum_pool_panic',
      help: 'Whether the pool is in panic (too few available endpoints: balancing across all).',
      labelNames: ['pool'],
      registers,
      collect() {
        this.reset();
        for (const pool of self.pools()) this.set({ pool: pool.name }, pool.health.panic ? 1 : 0);
      },
    });
    new Gauge({
      name: 'fulcrum_sticky_sessions',
      help: 'Sessions remembered by a pool\'s learned affinity (sticky.learn).',
      labelNames: ['pool'],
      registers,
      collect() {
        this.reset();
        for (const pool of self.pools()) {
          const a = pool.affinity;
          if (a !== null && a.sessions >= 0) this.set({ pool: pool.name }, a.sessions);
        }
      },
    });
    this.registry.registerMetric({
      name: 'fulcrum_retries_total',
      get: async () => {
        const values: MetricValue[] = [];
        for (const pool of self.pools()) {
          values.push({ value: pool.health.retries, labels: { pool: pool.name, result: 'made' } });
          values.push({ value: pool.health.retriesRefused, labels: { pool: pool.name, result: 'refused_by_budget' } });
        }
        return { name: 'fulcrum_retries_total', type: 'counter', aggregator: 'sum', values, help: 'Retries made on another endpoint, and retries the retry budget refused.' };
      },
    } as never);
    this.registry.registerMetric({
      name: 'fulcrum_circuit_breaker_rejects_total',
      get: async () => {
        const values: MetricValue[] = [];
        for (const pool of self.pools()) {
          for (const [breaker, n] of pool.health.breakerRejects) values.push({ value: n, labels: { pool: pool.name, breaker } });
        }
        return { name: 'fulcrum_circuit_breaker_rejects_total', type: 'counter', aggregator: 'sum', values, help: 'Requests answered 503 FULCRUM_E_CIRCUIT_OPEN, by pool and breaker (requests, pending, connections).' };
      },
    } as never);
    const tunnels = this.tunnels;
    this.registry.registerMetric({
      name: 'fulcrum_websocket_connections',
      get: async () => ({
        name: 'fulcrum_websocket_connections', type: 'gauge', aggregator: 'sum',
        values: [...tunnels.values()].map((t) => ({ value: t.open, labels: t.labels })),
        help: 'Upgraded connections (WebSocket; protocol label for webSocket.otherUpgrades) open now, by listener and pool.',
      }),
    } as never);
    this.registry.registerMetric({
      name: 'fulcrum_websocket_connections_total',
      get: async () => ({
        name: 'fulcrum_websocket_connections_total', type: 'counter', aggregator: 'sum',
        values: [...tunnels.values()].map((t) => ({ value: t.total, labels: t.labels })),
        help: 'Upgraded connections established (backend answered 101), by listener and pool.',
      }),
    } as never);
    this.registry.registerMetric({
      name: 'fulcrum_websocket_closed_total',
      get: async () => {
        const values: MetricValue[] = [];
        for (const t of tunnels.values()) for (const [reason, n] of t.closed) values.push({ value: n, labels: { ...t.labels, reason } });
        return {
          name: 'fulcrum_websocket_closed_total', type: 'counter', aggregator: 'sum', values,
          help: 'Upgraded connections closed, by reason: client or server (that side closed first), error, idle_timeout, drain (server drained: 1001), shutdown (1001), forced (no frame boundary in time: TCP closed).',
        };
      },
    } as never);
    const flagGauge = (name: string, help: string, flag: number): void => {
      new Gauge({
        name, help, labelNames: ['pool', 'endpoint'], registers,
        collect() {
          this.reset();
          for (const pool of self.pools()) {
            for (const ep of pool.endpoints) this.set({ pool: pool.name, endpoint: ep.address }, (pool.health.flags[ep.index] & flag) !== 0 ? 1 : 0);
          }
        },
      });
    };
    new Gauge({
      name: 'fulcrum_endpoint_up',
      help: 'Whether the endpoint passes its active health checks (1), or is down (0); 1 for endpoints without active checks.',
      labelNames: ['pool', 'endpoint'],
      registers,
      collect() {
        this.reset();
        for (const pool of self.pools()) {
          for (const ep of pool.endpoints) this.set({ pool: pool.name, endpoint: ep.address }, (pool.health.flags[ep.index] & F_DOWN) !== 0 ? 0 : 1);
        }
      },
    });
    flagGauge('fulcrum_endpoint_ejected', 'Whether outlier detection has ejected the endpoint (1) or not (0).', F_EJECTED);
    flagGauge('fulcrum_endpoint_draining', 'Whether the endpoint is drained (1: no new requests) or not (0).', F_DRAINED);
    this.registry.registerMetric({
      name: 'fulcrum_health_checks_total',
      get: async () => {
        const values: MetricValue[] = [];
        for (const pool of self.pools()) {
          for (const [key, n] of pool.health.checkResults) {
            const [endpoint, result] = key.split('\0');
            values.push({ value: n, labels: { pool: pool.name, endpoint, result } });
          }
        }
        return { name: 'fulcrum_health_checks_total', type: 'counter', aggregator: 'sum', values, help: 'Active health checks finished, by pool, endpoint and result (pass, fail).' };
      },
    } as never);
    this.registry.registerMetric({
      name: 'fulcrum_retry_budget_exhausted_total',
      get: async () => {
        const values: MetricValue[] = [];
        for (const pool of self.pools()) values.push({ value: pool.health.retriesRefused, labels: { pool: pool.name } });
        return { name: 'fulcrum_retry_budget_exhausted_total', type: 'counter', aggregator: 'sum', values, help: 'Retries the retry budget refused (the budget was exhausted), by pool.' };
      },
    } as never);
    new Gauge({
      name: 'fulcrum_circuit_breaker_open',
      help: 'Whether a circuit breaker of the pool is open now (1): requests in progress or pending at their limit.',
      labelNames: ['pool', 'breaker'],
      registers,
      collect() {
        this.reset();
        for (const pool of self.pools()) {
          const cb = pool.config.circuitBreakers;
          this.set({ pool: pool.name, breaker: 'requests' }, pool.active >= cb.maxRequests ? 1 : 0);
          this.set({ pool: pool.name, breaker: 'pending' }, pool.pending >= cb.maxPending ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'fulcrum_listener_connections',
      help: 'Client connections open per listener (udp: flows with a session).',
      labelNames: ['listener', 'protocol'],
      registers,
      collect() {
        this.reset();
        for (const l of self.listeners()) this.set({ listener: l.config.name, protocol: l.config.protocol }, l.conns.size);
      },
    });
    // Process metrics under their conventional names (process_*, nodejs_*), as every Node exporter.
    collectDefaultMetrics({ register: this.registry });
    // prom-client's gauges named *_total break the naming rule (`promtool check metrics` flags
    // them); the same figures stay available by type in nodejs_active_{handles,requests,resources}.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
  }

  /** The series for these labels (created on first use; callers cache it). */
  seriesFor(listener: string, route: string, pool: string, endpoint: string): RequestSeries {
    const key = listener + '\0' + route + '\0' + pool + '\0' + endpoint;
    let s = this.series.get(key);
    if (s === undefined) {
      s = new RequestSeries(listener, route, pool, endpoint);
      this.series.set(key, s);
    }
    return s;
  }

  /** The upgraded-connection series for these labels (created on first use). */
  tunnelSeries(listener: string, pool: string, protocol: string): TunnelSeries {
    const key = listener + '\0' + pool + '\0' + protocol;
    let t = this.tunnels.get(key);
    if (t === undefined) {
      t = new TunnelSeries(listener, pool, protocol);
      this.tunnels.set(key, t);
    }
    return t;
  }

  /** Tells the listener gauge where the listeners in service are. */
  setListenerSource(source: () => Iterable<ListenerGaugeSource>): void {
    this.listeners = source;
  }

  /** Tells the gauges where the live pools are (the runtime swaps snapshots). */
  /** Source of the GSLB DNS server's counters (null without a gslb section). */
  private dns: () => DnsCounters | null = () => null;

  /** Sets where fulcrum_dns_responses_total and fulcrum_dns_events_total read from (the runtime's GSLB service). */
  setDnsSource(source: () => DnsCounters | null): void {
    this.dns = source;
    const read = (pick: (c: DnsCounters) => Map<string, number>, label: (k: string) => Record<string, string>) => (): MetricValue[] => {
      const c = this.dns();
      return c === null ? [] : [...pick(c)].map(([k, value]) => ({ value, labels: label(k) }));
    };
    const responses = read((c) => c.responses, (k) => { const [transport, rcode] = k.split(' '); return { transport, rcode }; });
    const events = read((c) => c.events, (event) => ({ event }));
    this.registry.registerMetric({
      name: 'fulcrum_dns_responses_total',
      get: async () => ({ name: 'fulcrum_dns_responses_total', type: 'counter', aggregator: 'sum', values: responses(), help: 'GSLB DNS responses sent, by transport (udp, tcp) and RCODE.' }),
    } as never);
    this.registry.registerMetric({
      name: 'fulcrum_dns_events_total',
      get: async () => ({ name: 'fulcrum_dns_events_total', type: 'counter', aggregator: 'sum', values: events(), help: 'GSLB DNS server events: dropped (not a query), truncated, rrl_dropped, rrl_slipped, tcp_refused, tcp_idle_closed.' }),
    } as never);
  }

  setPoolSource(source: () => Iterable<PoolRuntime>): void {
    this.pools = source;
  }
}
