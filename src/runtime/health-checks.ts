/**
 * Scheduling of active health checks — the edge (timers, sockets, processes) that feeds the pure
 * rise/fall state machine of src/health/state.ts. One HealthChecker per pool with a `healthCheck`
 * section; one check at a time per server (the next is scheduled when the previous one finished,
 * as HAProxy's `inter`), every `interval` ± `jitter` so the checks of many servers do not run in
 * lockstep (Envoy's `interval_jitter_percent`). The first round runs within FIRST_ROUND_MS of
 * start(), so a pool whose servers start `unknown` becomes routable fast. Check kinds come from the
 * registry (src/health/checks/). All timers are unref()'d: checks never keep the process alive.
 */
import type { HealthCheckConfig } from '../config/schema.ts';
import { getCheck } from '../health/checks/index.ts';
import { timeoutDetail, type CheckKind, type CheckResult, type CheckTarget } from '../health/checks/types.ts';
import { HealthState, type HealthTransition } from '../health/state.ts';

/** The first check of every server runs at most this long after start() (ms; less when the interval is shorter). */
export const FIRST_ROUND_MS = 100;
/** Shortest time between two checks of one server (ms), whatever `interval` says. */
export const MIN_INTERVAL_MS = 10;
/** The scheduler's watchdog aborts a check this long after its timeout, should the check not end by itself (ms). */
export const WATCHDOG_GRACE_MS = 250;

/** The last check of one server. */
export interface CheckRecord {
  /** When it finished, ms since the epoch. */
  readonly at: number;
  readonly passed: boolean;
  readonly detail: string;
  readonly durationMs: number;
}

export interface HealthCheckerOptions {
  /** Uniform random numbers in [0, 1) for the first-round spread and the jitter (default Math.random). */
  readonly random?: () => number;
  /** Wall clock for `CheckRecord.at` (default Date.now). */
  readonly now?: () => number;
  /** Told about every finished check (for the health-check results counter). */
  readonly onResult?: (slot: number, passed: boolean) => void;
}

/** Delay of a server's first check after start(): uniform over [0, min(FIRST_ROUND_MS, interval)) for r in [0, 1). */
export function firstDelay(interval: number, r: number): number {
  return r * Math.min(FIRST_ROUND_MS, Math.max(MIN_INTERVAL_MS, interval));
}

/** Delay until a server's next check: interval × (1 + jitter·(2r − 1)), interval at least MIN_INTERVAL_MS; ≥ 1 ms. */
export function nextDelay(interval: number, jitter: number, r: number): number {
  return Math.max(1, Math.max(MIN_INTERVAL_MS, interval) * (1 + jitter * (2 * r - 1)));
}

function stableJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'undefined';
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`).join(',')}}`;
}

/** True when two check configs are the same (key order ignored); two absent configs are equal. */
export function checkConfigEqual(a: HealthCheckConfig | undefined, b: HealthCheckConfig | undefined): boolean {
  return stableJson(a) === stableJson(b);
}

/** Active health checks of one pool's servers. */
export class HealthChecker {
  readonly pool: string;
  readonly config: HealthCheckConfig;
  /** Slot i = server i of the pool. */
  readonly targets: readonly CheckTarget[];
  /** Rise/fall state per slot (thresholds and initial state from the config, or adopted). */
  readonly states: HealthState[];
  /** The last finished check per slot (null before the first; adopted across a reload). */
  readonly last: (CheckRecord | null)[];
  private readonly kind: CheckKind;
  private readonly onChange: (slot: number, t: HealthTransition) => void;
  private readonly onResult: ((slot: number, passed: boolean) => void) | null;
  private readonly random: () => number;
  private readonly now: () => number;
  /** Timer of the next check per slot. */
  private readonly timers: (NodeJS.Timeout | null)[];
  /** Check in flight per slot (its controller), and its watchdog. */
  private readonly inflight: (AbortController | null)[];
  private readonly watchdogs: (NodeJS.Timeout | null)[];
  /** Slots whose state a newer checker took over (adopt): this one no longer checks them. */
  private readonly handedOver: boolean[];
  /** Slots whose state this checker took over from an older one. */
  private readonly adopted: boolean[];
  private running = false;
  private stopped = false;

  /**
   * `onChange` is called on every transition of a server's state (never after stop(); it must not
   * throw). Throws when `config.type` names no registered check kind.
   */
  constructor(
    poolName: string, config: HealthCheckConfig, targets: readonly CheckTarget[],
    onChange: (slot: number, t: HealthTransition) => void, options: HealthCheckerOptions = {},
  ) {
    const kind = getCheck(config.type);
    if (kind === undefined) throw new Error(`unknown health check type ${JSON.stringify(config.type)}`);
    this.kind = kind;
    this.pool = poolName;
    this.config = config;
    this.targets = targets;
    this.onChange = onChange;
    this.onResult = options.onResult ?? null;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    const n = targets.length;
    const thresholds = { rise: config.rise, fall: config.fall, initial: config.initial };
    this.states = targets.map(() => new HealthState(thresholds));
    this.last = new Array<CheckRecord | null>(n).fill(null);
    this.timers = new Array<NodeJS.Timeout | null>(n).fill(null);
    this.inflight = new Array<AbortController | null>(n).fill(null);
    this.watchdogs = new Array<NodeJS.Timeout | null>(n).fill(null);
    this.handedOver = new Array<boolean>(n).fill(false);
    this.adopted = new Array<boolean>(n).fill(false);
  }

  /** True between start() and stop(). */
  get isRunning(): boolean {
    return this.running;
  }

  /**
   * Takes over the state (`states`, `last`) of servers that `prev` checks too — same address, and
   * only when both check configs are equal — so a reload keeps health. `prev` stops checking those
   * servers at once (one writer per state). Call before start(); returns the number adopted.
   */
  adopt(prev: HealthChecker): number {
    if (this.running || this.stopped) throw new Error('adopt() must be called before start()');
    if (prev === this || !checkConfigEqual(prev.config, this.config)) return 0;
    const bySlot = new Map<string, number[]>();
    prev.targets.forEach((t, j) => {
      if (prev.handedOver[j]) return;
      const list = bySlot.get(t.address);
      if (list === undefined) bySlot.set(t.address, [j]);
      else list.push(j);
    });
    let count = 0;
    for (let i = 0; i < this.targets.length; i++) {
      const j = bySlot.get(this.targets[i].address)?.shift();
      if (j === undefined) continue;
      prev.release(j);
      this.states[i] = prev.states[j];
      this.last[i] = prev.last[j];
      this.adopted[i] = true;
      count++;
    }
    return count;
  }

  /**
   * Starts checking: fresh servers within FIRST_ROUND_MS, adopted ones one interval after their
   * last check. Does nothing when running, or once stopped.
   */
  start(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    const { interval } = this.config;
    const now = this.now();
    for (let i = 0; i < this.targets.length; i++) {
      if (this.handedOver[i]) continue;
      const l = this.last[i];
      const delay = this.adopted[i] && l !== null
        ? Math.min(interval, Math.max(0, l.at + interval - now))
        : firstDelay(interval, this.random());
      this.schedule(i, delay);
    }
  }

  /** Clears every timer and aborts the checks in flight (sockets destroyed, processes SIGKILLed). Idempotent; final. */
  stop(): void {
    this.running = false;
    this.stopped = true;
    for (let i = 0; i < this.targets.length; i++) this.cancel(i, 'health checker stopped');
  }

  /** Stops checking slot `j` for good: a newer checker took its state over. */
  private release(j: number): void {
    this.handedOver[j] = true;
    this.cancel(j, 'health state handed over to a new checker');
  }

  private cancel(slot: number, why: string): void {
    const timer = this.timers[slot];
    if (timer !== null) clearTimeout(timer);
    this.timers[slot] = null;
    const watchdog = this.watchdogs[slot];
    if (watchdog !== null) clearTimeout(watchdog);
    this.watchdogs[slot] = null;
    const ac = this.inflight[slot];
    this.inflight[slot] = null;
    ac?.abort(new DOMException(why, 'AbortError'));
  }

  private schedule(slot: number, delay: number): void {
    const t = setTimeout(() => this.launch(slot), delay);
    t.unref();
    this.timers[slot] = t;
  }

  private launch(slot: number): void {
    this.timers[slot] = null;
    if (!this.running || this.handedOver[slot] || this.inflight[slot] !== null) return;
    const ac = new AbortController();
    this.inflight[slot] = ac;
    const { timeout } = this.config;
    const watchdog = setTimeout(() => {
      ac.abort(new DOMException(`health check took over ${timeout} ms`, 'TimeoutError'));
      this.settle(slot, ac, { passed: false, detail: timeoutDetail(timeout), durationMs: timeout + WATCHDOG_GRACE_MS });
    }, timeout + WATCHDOG_GRACE_MS);
    watchdog.unref();
    this.watchdogs[slot] = watchdog;
    let p: Promise<CheckResult>;
    try {
      p = this.kind.run(this.targets[slot], this.config, ac.signal);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (r) => this.settle(slot, ac, r),
      (err: unknown) => this.settle(slot, ac, { passed: false, detail: `check error: ${err instanceof Error ? err.message : String(err)}`, durationMs: 0 }),
    );
  }

  /** Records the result of the check `ac` of `slot` (ignored when that check was cancelled or already settled). */
  private settle(slot: number, ac: AbortController, r: CheckResult): void {
    if (this.inflight[slot] !== ac) return;
    this.inflight[slot] = null;
    const watchdog = this.watchdogs[slot];
    if (watchdog !== null) clearTimeout(watchdog);
    this.watchdogs[slot] = null;
    this.last[slot] = { at: this.now(), passed: r.passed, detail: r.detail, durationMs: r.durationMs };
    this.schedule(slot, nextDelay(this.config.interval, this.config.jitter, this.random()));
    this.onResult?.(slot, r.passed);
    const t = this.states[slot].record(r.passed, r.detail);
    if (t !== null) this.onChange(slot, t);
  }
}
