/**
 * Passive health: outlier ejection from live traffic, after Envoy's outlier detection
 * (consecutive-5xx and consecutive-gateway-failure detectors, ejection time growing with the number
 * of ejections, `max_ejection_percent` with at least one host always ejectable).
 *
 * Pure (DESIGN.md rule 1): no timers, sockets or files. The request path calls `record()` with the
 * outcome of each attempt; the runtime calls `tick()` on its own timer to return hosts whose
 * ejection time is over and to let ejection counts decay. Times are passed in (ms).
 *
 * Decisions beyond Envoy's documents, written down here:
 * - A counter at or above its threshold tries to eject on every further failure of the run (not
 *   only when it first reaches the threshold), so a server held back by `maxEjectionPercent` is
 *   ejected as soon as room frees up. The `ejection-skipped` event is reported once per run.
 * - Outcomes recorded while a slot is ejected (requests that were already in flight) are ignored;
 *   the failure run after its return starts from zero.
 * - The decay clock of the ejection count starts when the slot returns to service.
 * - When both counters reach their thresholds on the same failure, the gateway one is reported.
 * - A 5xx that is not a gateway failure breaks the run of gateway failures (it is "consecutive"),
 *   while it continues the run of 5xx.
 */
import type { OutlierDetectionConfig } from '../config/schema.ts';

/** Outcome of one attempt: a 2xx–4xx response, another 5xx, or a gateway failure. */
export type OutlierOutcome = 'success' | 'error' | 'gateway';

/** A change (or a refused change) of a slot's ejection, with a human-readable reason. */
export interface OutlierEvent {
  readonly slot: number;
  readonly kind: 'ejected' | 'returned' | 'ejection-skipped';
  readonly reason: string;
}

/**
 * Outlier detection over the endpoints of one pool (slots in config order).
 * Defaults of the config (schema): consecutive5xx 5, consecutiveGatewayFailure 5, interval 10 s,
 * baseEjectionTime 30 s, maxEjectionTime 300 s, maxEjectionPercent 10, enabled true.
 */
export class OutlierDetector {
  readonly addresses: readonly string[];
  private readonly cfg: OutlierDetectionConfig;
  /** 1 when the slot is ejected (out of service), else 0. */
  readonly ejected: Uint8Array;
  /** Consecutive 5xx outcomes (errors and gateway failures) of the current run. */
  readonly consecutive5xx: Uint32Array;
  /** Consecutive gateway failures of the current run. */
  readonly consecutiveGateway: Uint32Array;
  /** Number of ejections (the multiplier of baseEjectionTime); decays by one per quiet interval. */
  readonly ejectionCount: Uint32Array;
  /** When an ejected slot's ejection is over (ms); meaningless when not ejected. */
  readonly ejectedUntil: Float64Array;
  /** Start of the current decay interval of ejectionCount (ms). */
  private readonly decayFrom: Float64Array;
  /** 1 when this run of failures already reported an `ejection-skipped`. */
  private readonly skipReported: Uint8Array;
  private ejectedNow = 0;

  constructor(addresses: readonly string[], cfg: OutlierDetectionConfig) {
    const n = addresses.length;
    this.addresses = addresses.slice();
    this.cfg = cfg;
    this.ejected = new Uint8Array(n);
    this.consecutive5xx = new Uint32Array(n);
    this.consecutiveGateway = new Uint32Array(n);
    this.ejectionCount = new Uint32Array(n);
    this.ejectedUntil = new Float64Array(n);
    this.decayFrom = new Float64Array(n);
    this.skipReported = new Uint8Array(n);
  }

  /** Number of slots ejected right now. */
  get ejectedCount(): number {
    return this.ejectedNow;
  }

  /**
   * Records the outcome of one attempt on `slot` at `now` (ms). `error`: a 5xx response that is
   * not a gateway failure; `gateway`: 502/503/504 from the server, or a connect failure, reset or
   * timeout. `detail` describes the failure for the reason (`connect refused`, `503`).
   * Returns the ejection (or refused ejection) it caused, or null.
   */
  record(slot: number, outcome: OutlierOutcome, now: number, detail?: string): OutlierEvent | null {
    if (!this.cfg.enabled || this.ejected[slot] === 1) return null;
    if (outcome === 'success') {
      this.consecutive5xx[slot] = 0;
      this.consecutiveGateway[slot] = 0;
      this.skipReported[slot] = 0;
      return null;
    }
    const c5 = ++this.consecutive5xx[slot];
    const cg = outcome === 'gateway' ? ++this.consecutiveGateway[slot] : (this.consecutiveGateway[slot] = 0);
    const suffix = detail ? ` (${detail})` : '';
    let cause: string;
    if (cg >= this.cfg.consecutiveGatewayFailure) cause = `${cg} consecutive gateway failures${suffix}`;
    else if (c5 >= this.cfg.consecutive5xx) cause = `${c5} consecutive 5xx${suffix}`;
    else return null;
    return this.eject(slot, now, cause);
  }

  private eject(slot: number, now: number, cause: string): OutlierEvent | null {
    const n = this.ejected.length;
    const allowed = this.ejectedNow === 0 || ((this.ejectedNow + 1) * 100) / n <= this.cfg.maxEjectionPercent;
    if (!allowed) {
      if (this.skipReported[slot] === 1) return null;
      this.skipReported[slot] = 1;
      return {
        slot,
        kind: 'ejection-skipped',
        reason: `${cause} but ${this.ejectedNow} of ${n} servers already ejected (maxEjectionPercent ${this.cfg.maxEjectionPercent})`,
      };
    }
    const count = ++this.ejectionCount[slot];
    const ms = Math.min(this.cfg.maxEjectionTime, this.cfg.baseEjectionTime * count);
    this.ejected[slot] = 1;
    this.ejectedNow++;
    this.ejectedUntil[slot] = now + ms;
    this.resetRun(slot);
    return { slot, kind: 'ejected', reason: `${cause}: ejected for ${duration(ms)} (ejection ${count})` };
  }

  private resetRun(slot: number): void {
    this.consecutive5xx[slot] = 0;
    this.consecutiveGateway[slot] = 0;
    this.skipReported[slot] = 0;
  }

  /**
   * Advances time to `now` (ms): returns to service the slots whose ejection time is over, and
   * lowers by one the ejection count of a slot in service for every `interval` since its return
   * or its last decrement. Returns the `returned` events.
   */
  tick(now: number): OutlierEvent[] {
    const events: OutlierEvent[] = [];
    const interval = this.cfg.interval;
    for (let i = 0; i < this.ejected.length; i++) {
      if (this.ejected[i] === 1) {
        if (now < this.ejectedUntil[i]) continue;
        this.ejected[i] = 0;
        this.ejectedNow--;
        this.decayFrom[i] = now;
        this.resetRun(i);
        events.push({ slot: i, kind: 'returned', reason: 'ejection time over: back in service' });
      } else if (this.ejectionCount[i] > 0) {
        const elapsed = now - this.decayFrom[i];
        if (interval <= 0) {
          this.ejectionCount[i] = 0;
        } else if (elapsed >= interval) {
          const k = Math.floor(elapsed / interval);
          this.ejectionCount[i] = Math.max(0, this.ejectionCount[i] - k);
          this.decayFrom[i] += k * interval;
        }
      }
    }
    return events;
  }

  /**
   * Takes over the state of the endpoints that survive a reload (matched by address) from the
   * detector of the previous config: counters, ejections in force (with their end time) and
   * ejection counts. Nothing is carried when this detector is disabled, so turning outlier
   * detection off returns every server to service.
   */
  carryOver(prev: OutlierDetector, prevAddresses: readonly string[] = prev.addresses): void {
    if (!this.cfg.enabled) return;
    const pos = new Map<string, number>();
    for (let i = 0; i < prevAddresses.length; i++) pos.set(prevAddresses[i], i);
    for (let j = 0; j < this.addresses.length; j++) {
      const i = pos.get(this.addresses[j]);
      if (i === undefined) continue;
      if (this.ejected[j] === 1) this.ejectedNow--;
      this.ejected[j] = prev.ejected[i];
      if (this.ejected[j] === 1) this.ejectedNow++;
      this.consecutive5xx[j] = prev.consecutive5xx[i];
      this.consecutiveGateway[j] = prev.consecutiveGateway[i];
      this.ejectionCount[j] = prev.ejectionCount[i];
      this.ejectedUntil[j] = prev.ejectedUntil[i];
      this.decayFrom[j] = prev.decayFrom[i];
      this.skipReported[j] = prev.skipReported[i];
    }
  }
}

/** `30 s`, `1.5 s`, `250 ms`. */
function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  return Number.isInteger(s) ? `${s} s` : `${s.toFixed(1)} s`;
}
