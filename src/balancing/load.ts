/**
 * Per-endpoint load counters: the only shared mutable state on the hot path (DESIGN.md rule 3).
 * Typed arrays indexed by endpoint slot; algorithms read them, the data path writes them. They
 * survive balancer rebuilds and reloads (carryOver), so everything an algorithm learns about an
 * endpoint (EWMAs, the peak-EWMA cost) lives here rather than in the balancer.
 *
 * Peak-EWMA (Finagle's `PeakEwma`, linkerd2-proxy / tower's `PeakEwma`): per endpoint a cost c with
 * the time stamp s of its last update. On each response with round-trip time r (ms) at time t:
 *
 *     w = exp(−max(t − s, 0) / τ)
 *     c = r                     if r > c   (jump to peaks at once)
 *     c = c·w + r·(1 − w)       otherwise  (decay towards r with time constant τ)
 *     s = t
 *
 * and at read time the cost decays towards 0 while no response arrives:
 * cost(t) = c · exp(−max(t − s, 0) / τ) (Finagle reads through `observe(0)`, which is the same).
 * r is the time to the response head (`headerMs`; tower's default completion, and the whole
 * exchange for L4 or failures). Until the first response the cost is unknown (`peakCost` < 0) and
 * the balancer uses its configured prior instead. τ defaults to 10 000 ms (Finagle, Linkerd).
 */

/** Default decay time constant τ of the peak-EWMA cost, in ms (Finagle/Linkerd: 10 s). */
export const DEFAULT_PEAK_EWMA_DECAY_MS = 10_000;

/**
 * Told after start()/end()/setInFlight() changed endpoint i's counters (in-flight count, EWMAs).
 * The least-loaded balancers keep a tree of scores in step with the counters this way.
 */
export interface LoadWatcher {
  changed(i: number): void;
}

export class LoadCounters {
  /** Requests (L7) or connections (L4) currently in progress per endpoint. */
  readonly inFlight: Int32Array;
  /** Completed requests per endpoint (any outcome). */
  readonly total: Float64Array;
  /** Failed requests per endpoint (5xx from Fulcrum's view: connect/reset/timeout/5xx). */
  readonly errors: Float64Array;
  /** EWMA of response time to the last byte, in milliseconds (0 until the first response). */
  readonly latencyEwma: Float64Array;
  /** EWMA of time to the response head, in milliseconds (0 until the first response). */
  readonly headerEwma: Float64Array;
  /** Peak-EWMA cost in ms as of `peakStamp` (not decayed to now); −1 = no response yet. */
  readonly peakCost: Float64Array;
  /** Clock (ms) of the last update of `peakCost`. */
  readonly peakStamp: Float64Array;
  /** Decay time constant τ of the peak-EWMA cost, in ms (default 10 000). */
  private decayMs = DEFAULT_PEAK_EWMA_DECAY_MS;
  /**
   * Increases on every change made through this class (start, end, setInFlight, carryOver into
   * this instance, invalidate). A watcher that has seen every increment knows its derived state is
   * current; one that missed some rebuilds. Writing the arrays directly bypasses it: call
   * invalidate() afterwards (or write before any balancer picks).
   */
  version = 0;
  /** The one watcher told about each change (the least-loaded balancer over these counters). */
  private watcher: LoadWatcher | null = null;

  constructor(size: number, peakEwmaDecayMs: number = DEFAULT_PEAK_EWMA_DECAY_MS) {
    this.inFlight = new Int32Array(size);
    this.total = new Float64Array(size);
    this.errors = new Float64Array(size);
    this.latencyEwma = new Float64Array(size);
    this.headerEwma = new Float64Array(size);
    this.peakCost = new Float64Array(size).fill(-1);
    this.peakStamp = new Float64Array(size);
    this.setPeakEwmaDecay(peakEwmaDecayMs);
  }

  get size(): number {
    return this.inFlight.length;
  }

  /** τ of the peak-EWMA cost in ms (default 10 000). */
  get peakEwmaDecay(): number {
    return this.decayMs;
  }

  /** Sets τ (ms, > 0; the pool runtime sets it from `peakEwma.decay`). Non-positive → default. */
  setPeakEwmaDecay(ms: number): void {
    this.decayMs = ms > 0 && Number.isFinite(ms) ? ms : DEFAULT_PEAK_EWMA_DECAY_MS;
  }

  /** Registers the one watcher told after each change (null: none). Replaces any previous one. */
  watch(w: LoadWatcher | null): void {
    this.watcher = w;
  }

  /** The current watcher, or null. */
  get watching(): LoadWatcher | null {
    return this.watcher;
  }

  /** Marks the counters as changed in bulk (after writing the arrays directly): watchers rebuild. */
  invalidate(): void {
    this.version++;
  }

  start(i: number): void {
    this.inFlight[i]++;
    this.version++;
    const w = this.watcher;
    if (w !== null) w.changed(i);
  }

  /** Sets endpoint i's in-flight count (tests, simulators) and tells the watcher. */
  setInFlight(i: number, n: number): void {
    this.inFlight[i] = n;
    this.version++;
    const w = this.watcher;
    if (w !== null) w.changed(i);
  }

  /**
   * Ends one request on endpoint i: `totalMs` to the last byte, `headerMs` to the response head
   * (equal to totalMs when there was no head, e.g. a failure), `nowMs` the clock (ms). EWMAs use
   * alpha 0.2; the peak-EWMA cost is fed `headerMs` at `nowMs` (formulas in the header comment).
   */
  end(i: number, failed: boolean, totalMs: number, headerMs: number = totalMs, nowMs: number = 0): void {
    this.inFlight[i]--;
    this.total[i]++;
    if (failed) this.errors[i]++;
    const prev = this.latencyEwma[i];
    this.latencyEwma[i] = prev === 0 ? totalMs : prev + 0.2 * (totalMs - prev);
    const prevH = this.headerEwma[i];
    this.headerEwma[i] = prevH === 0 ? headerMs : prevH + 0.2 * (headerMs - prevH);
    const c = this.peakCost[i];
    if (c < 0 || headerMs > c) {
      this.peakCost[i] = headerMs;
    } else {
      const dt = nowMs - this.peakStamp[i];
      const w = dt > 0 ? Math.exp(-dt / this.decayMs) : 1;
      this.peakCost[i] = c * w + headerMs * (1 - w);
    }
    this.peakStamp[i] = nowMs;
    this.version++;
    const w = this.watcher;
    if (w !== null) w.changed(i);
  }

  /**
   * The peak-EWMA cost of endpoint i decayed to `nowMs` (c · exp(−(now − s)/τ)), or `prior` when
   * no response has been seen yet. Pure read; allocation-free.
   */
  peakEwmaCost(i: number, nowMs: number, prior: number): number {
    const c = this.peakCost[i];
    if (c < 0) return prior;
    const dt = nowMs - this.peakStamp[i];
    return dt > 0 ? c * Math.exp(-dt / this.decayMs) : c;
  }

  /**
   * Copies the counters of endpoints that survive a reload (by address) into a new instance,
   * including the peak-EWMA cost and its stamp. τ stays the new instance's own (new config).
   */
  carryOver(oldAddresses: readonly string[], next: LoadCounters, newAddresses: readonly string[]): void {
    const pos = new Map<string, number>();
    for (let i = 0; i < oldAddresses.length; i++) pos.set(oldAddresses[i], i);
    for (let j = 0; j < newAddresses.length; j++) {
      const i = pos.get(newAddresses[j]);
      if (i === undefined) continue;
      next.inFlight[j] = this.inFlight[i];
      next.total[j] = this.total[i];
      next.errors[j] = this.errors[i];
      next.latencyEwma[j] = this.latencyEwma[i];
      next.headerEwma[j] = this.headerEwma[i];
      next.peakCost[j] = this.peakCost[i];
      next.peakStamp[j] = this.peakStamp[i];
    }
    // τ is not copied: it comes from the new config (constructor or setPeakEwmaDecay).
    next.version++;
  }
}
