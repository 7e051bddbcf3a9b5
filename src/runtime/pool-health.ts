/**
 * The health of one pool's servers at run time — one availability model fed by every source:
 * - active checks (HealthChecker, HAProxy's rise/fall) mark a server down;
 * - outlier ejection from live traffic (OutlierDetector, Envoy's consecutive 5xx / gateway failures);
 * - `drain: true` in the config takes a server out of rotation while its exchanges finish;
 * - gray-failure soft drain (GrayFailureDetector) lowers a slow server's share step by step;
 * - the panic threshold (Envoy): when fewer than `panicThreshold`% of the in-service servers are
 *   available, balance across all of them (fail open) rather than overload the few.
 * Every change is an event with a human-readable reason: logged once, counted for /metrics, kept
 * (the last EVENT_LOG entries) for GET /api/v1/pools. State of servers that survive a reload (same
 * pool, same address) is carried over.
 */
import type { PoolConfig } from '../config/schema.ts';
import { OutlierDetector } from '../health/outlier.ts';
import { GrayFailureDetector } from '../health/gray.ts';
import { RetryBudget } from '../health/retry-budget.ts';
import { HealthChecker, checkConfigEqual } from './health-checks.ts';
import type { HealthTransition } from '../health/state.ts';
import { defaultLogger, type Logger } from '../core/log.ts';

/** Availability flags per server slot. */
export const F_DOWN = 1;
export const F_EJECTED = 2;
export const F_DRAINED = 4;

/** Events kept per pool for the admin API. */
export const EVENT_LOG = 100;

/** How often the gray-failure detector looks at the latency averages (ms). */
const GRAY_EVERY_MS = 250;

export type HealthEventKind = 'health' | 'ejection' | 'gray' | 'panic' | 'drain';

export interface HealthEvent {
  /** Wall-clock time, ms since the epoch. */
  readonly at: number;
  readonly pool: string;
  /** Server address as written, or null for pool-wide events (panic). */
  readonly server: string | null;
  readonly kind: HealthEventKind;
  /** What the server (or pool) turned into: `down`, `up`, `ejected`, `returned`, `weight 50%`, `panic`, `normal`, … */
  readonly to: string;
  readonly reason: string;
}

/** The outcome of one exchange, as outlier detection classifies it. */
export type Outcome = 'success' | 'error' | 'gateway';

export interface PoolHealthOptions {
  readonly now?: () => number;
  readonly log?: Logger;
  /** Told about every event after it is recorded (the runtime's event feed for the admin API). */
  readonly onEvent?: ((ev: HealthEvent) => void) | null;
}

export class PoolHealth {
  readonly pool: string;
  readonly addresses: readonly string[];
  /** F_* flags per slot. */
  readonly flags: Uint8Array;
  /** 1 where a server must not be picked in normal operation (any flag set). */
  readonly mask: Uint8Array;
  /** 1 where a server must not be picked even in panic (drained). */
  readonly drainMask: Uint8Array;
  /** Number of slots with mask 1, and with drainMask 1. */
  unavailable = 0;
  drained = 0;
  /** Balancing across all in-service servers because too few are available. */
  panic = false;
  /** The panic state last logged (events wait until every checked server had its first check). */
  private panicAnnounced = false;
  readonly panicThreshold: number;
  readonly checker: HealthChecker | null;
  readonly outlier: OutlierDetector;
  readonly gray: GrayFailureDetector;
  readonly budget: RetryBudget;
  /** The last EVENT_LOG events, oldest first. */
  events: HealthEvent[] = [];
  /** Events counted by `kind\0server\0to` (for fulcrum_health_events_total; carried over reloads). */
  counts = new Map<string, number>();
  /** Finished active checks by `server\0pass|fail` (fulcrum_health_checks_total; carried over reloads). */
  checkResults = new Map<string, number>();
  /** Requests refused by a circuit breaker, by breaker (`connections`, `pending`, `requests`). */
  breakerRejects = new Map<string, number>();
  /** Retries made and refused by the budget (totals, carried over reloads). */
  retries = 0;
  retriesRefused = 0;
  private readonly weights: readonly number[];
  private readonly now: () => number;
  private readonly log: Logger;
  /** Sink of every event (the runtime's feed), or null. */
  readonly onEvent: ((ev: HealthEvent) => void) | null;
  private lastGray = 0;
  private started = false;

  constructor(config: PoolConfig, prev?: PoolHealth, opts: PoolHealthOptions = {}) {
    this.pool = config.name;
    this.addresses = config.servers.map((s) => s.address);
    this.weights = config.servers.map((s) => s.weight);
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? defaultLogger();
    this.onEvent = opts.onEvent ?? null;
    const n = this.addresses.length;
    this.flags = new Uint8Array(n);
    this.mask = new Uint8Array(n);
    this.drainMask = new Uint8Array(n);
    this.panicThreshold = config.panicThreshold;
    this.outlier = new OutlierDetector(this.addresses, config.outlierDetection);
    this.gray = new GrayFailureDetector(this.addresses, config.grayFailure);
    this.budget = new RetryBudget(config.retries.budget);
    const hc = config.healthCheck;
    this.checker = hc === undefined ? null : new HealthChecker(
      config.name,
      hc,
      config.servers.map((s) => {
        const at = s.address.lastIndexOf(':');
        const host = s.address.slice(0, at).replace(/^\[(.*)\]$/, '$1');
        return { pool: config.name, address: s.address, host, port: Number(s.address.slice(at + 1)) };
      }),
      (slot, t) => this.onCheck(slot, t),
      { onResult: (slot, passed) => this.countCheck(slot, passed) },
    );
    if (prev !== undefined) {
      this.events = prev.events;
      this.counts = prev.counts;
      this.checkResults = prev.checkResults;
      this.breakerRejects = prev.breakerRejects;
      this.retries = prev.retries;
      this.retriesRefused = prev.retriesRefused;
      this.outlier.carryOver(prev.outlier, prev.addresses);
      this.gray.carryOver(prev.gray, prev.addresses);
      if (this.checker !== null && prev.checker !== null && checkConfigEqual(config.healthCheck, prev.checker.config)) {
        this.checker.adopt(prev.checker);
      }
    }
    for (let i = 0; i < n; i++) {
      let f = 0;
      if (config.servers[i].drain) f |= F_DRAINED;
      if (this.outlier.ejected[i] !== 0) f |= F_EJECTED;
      if (this.checker !== null && !this.checker.states[i].available) f |= F_DOWN;
      this.flags[i] = f;
    }
    if (prev !== undefined) {
      // Drain changes made by this reload are events too.
      const before = new Map(prev.addresses.map((a, i) => [a, prev.flags[i]]));
      for (let i = 0; i < n; i++) {
        const was = before.get(this.addresses[i]);
        if (was === undefined) continue;
        const drained = (this.flags[i] & F_DRAINED) !== 0;
        if (drained !== ((was & F_DRAINED) !== 0)) {
          this.emit(i, 'drain', drained ? 'draining' : 'in service', drained ? 'drain: true in the config: no new requests, those in progress finish' : 'drain removed from the config');
        }
      }
      this.panicAnnounced = prev.panicAnnounced;
    } else {
      for (let i = 0; i < n; i++) {
        if ((this.flags[i] & F_DRAINED) !== 0) this.emit(i, 'drain', 'draining', 'drain: true in the config');
      }
    }
    this.refresh();
  }

  /** Starts the active checks (if any). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.checker?.start();
  }

  stop(): void {
    this.checker?.stop();
  }

  /** Recomputes the masks and the panic state from the flags. */
  private refresh(): void {
    const n = this.flags.length;
    let unavailable = 0;
    let drained = 0;
    let inService = 0;
    let available = 0;
    for (let i = 0; i < n; i++) {
      const f = this.flags[i];
      this.mask[i] = f !== 0 ? 1 : 0;
      this.drainMask[i] = (f & F_DRAINED) !== 0 ? 1 : 0;
      if (f !== 0) unavailable++;
      if ((f & F_DRAINED) !== 0) drained++;
      if ((f & F_DRAINED) === 0 && this.weights[i] > 0) {
        inService++;
        if (f === 0) available++;
      }
    }
    this.unavailable = unavailable;
    this.drained = drained;
    this.panic = this.panicThreshold > 0 && inService > 0 && available * 100 < this.panicThreshold * inService;
    // At startup servers with checks are `unknown` until their first check (a few ms): no event for that.
    const settling = this.checker !== null && this.checker.states.some((s) => s.status === 'unknown');
    const panic = this.panic;
    if (panic !== this.panicAnnounced && !settling) {
      this.panicAnnounced = panic;
      const pct = inService === 0 ? 0 : Math.round((available * 100) / inService);
      this.emit(-1, 'panic', panic ? 'panic' : 'normal', panic
        ? `${available} of ${inService} servers available (${pct}% < panicThreshold ${this.panicThreshold}%): balancing across all of them`
        : `${available} of ${inService} servers available (${pct}% ≥ panicThreshold ${this.panicThreshold}%): unavailable servers excluded again`);
    }
  }

  /** Sets or clears a flag; refreshes even when unchanged (an unknown server that turned unhealthy settles the panic state). */
  private setFlag(slot: number, flag: number, on: boolean): void {
    this.flags[slot] = on ? this.flags[slot] | flag : this.flags[slot] & ~flag;
    this.refresh();
  }

  private countCheck(slot: number, passed: boolean): void {
    const key = `${this.addresses[slot]}\0${passed ? 'pass' : 'fail'}`;
    this.checkResults.set(key, (this.checkResults.get(key) ?? 0) + 1);
  }

  private onCheck(slot: number, t: HealthTransition): void {
    this.emit(slot, 'health', t.to === 'healthy' ? 'up' : 'down', t.reason);
    this.setFlag(slot, F_DOWN, t.to !== 'healthy');
  }

  /** The data path's report of one finished exchange (outlier detection). */
  record(slot: number, outcome: Outcome, detail: string): void {
    const e = this.outlier.record(slot, outcome, this.now(), detail);
    if (e === null) return;
    this.emit(slot, 'ejection', e.kind === 'ejected' ? 'ejected' : e.kind === 'returned' ? 'returned' : 'ejection skipped', e.reason);
    if (e.kind === 'ejected') this.setFlag(slot, F_EJECTED, true);
  }

  /** Periodic work: ejections that ran out, gray-failure steps. */
  tick(now: number, headerEwma: ArrayLike<number>): void {
    for (const e of this.outlier.tick(now)) {
      this.emit(e.slot, 'ejection', e.kind === 'returned' ? 'returned' : e.kind, e.reason);
      if (e.kind === 'returned') this.setFlag(e.slot, F_EJECTED, false);
    }
    if (now - this.lastGray >= GRAY_EVERY_MS) {
      this.lastGray = now;
      // Servers out of rotation neither get steps nor serve as the reference.
      const participating = this.unavailable === 0 ? null : invert(this.mask);
      for (const e of this.gray.evaluate(now, headerEwma, participating)) {
        this.emit(e.slot, 'gray', `weight ${Math.round(e.to * 100)}%`, e.reason);
      }
    }
  }

  /** Notes a request refused by a circuit breaker. */
  breakerRejected(breaker: string): void {
    this.breakerRejects.set(breaker, (this.breakerRejects.get(breaker) ?? 0) + 1);
  }

  /** Records, logs once and counts one event; slot −1 = the pool itself. */
  private emit(slot: number, kind: HealthEventKind, to: string, reason: string): void {
    const server = slot < 0 ? null : this.addresses[slot];
    const ev: HealthEvent = { at: Date.now(), pool: this.pool, server, kind, to, reason };
    this.events.push(ev);
    if (this.events.length > EVENT_LOG) this.events.splice(0, this.events.length - EVENT_LOG);
    const key = `${kind}\0${server ?? ''}\0${to}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    const quiet = kind === 'health' && to === 'up' || kind === 'ejection' && to === 'returned';
    const fields = { pool: this.pool, server: server ?? undefined, event: kind, to };
    if (quiet) this.log.info(fields, reason);
    else this.log.warn(fields, reason);
    this.onEvent?.(ev);
  }
}

function invert(mask: Uint8Array): Uint8Array {
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = mask[i] === 0 ? 1 : 0;
  return out;
}
