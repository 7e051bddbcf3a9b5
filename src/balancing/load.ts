/**
 * Per-endpoint load counters: the only shared mutable state on the hot path (DESIGN.md rule 3).
 * Typed arrays indexed by endpoint slot; algorithms read them, the data path writes them.
 */
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

  constructor(size: number) {
    this.inFlight = new Int32Array(size);
    this.total = new Float64Array(size);
    this.errors = new Float64Array(size);
    this.latencyEwma = new Float64Array(size);
    this.headerEwma = new Float64Array(size);
  }

  get size(): number {
    return this.inFlight.length;
  }

  start(i: number): void {
    this.inFlight[i]++;
  }

  /**
   * Ends one request on endpoint i: `totalMs` to the last byte, `headerMs` to the response head
   * (equal to totalMs when there was no head, e.g. a failure), `nowMs` the clock (ms). EWMAs use
   * alpha 0.2.
   */
  end(i: number, failed: boolean, totalMs: number, headerMs: number = totalMs, nowMs: number = 0): void {
    this.inFlight[i]--;
    this.total[i]++;
    if (failed) this.errors[i]++;
    const prev = this.latencyEwma[i];
    this.latencyEwma[i] = prev === 0 ? totalMs : prev + 0.2 * (totalMs - prev);
    const prevH = this.headerEwma[i];
    this.headerEwma[i] = prevH === 0 ? headerMs : prevH + 0.2 * (headerMs - prevH);
    void nowMs;
  }

  /** Copies the counters of endpoints that survive a reload (by address) into a new instance. */
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
    }
  }
}
