/**
 * Gray-failure detection: soft drain of servers that are up but slow. A server that is up but slow
 * is more dangerous than a server that is down — health checks pass, outlier detection sees no
 * errors, yet every request it takes is late. Anchor: the "gray failure" notion (Huang et al.,
 * "Gray Failure: The Achilles' Heel of Cloud-Scale Systems", HotOS 2017) applied as a relative
 * latency test against the rest of the pool, with weight steps in the manner of slow start.
 *
 * Pure (DESIGN.md rule 1): no timers, sockets or files. The runtime calls `evaluate()` on its own
 * timer with the per-endpoint latency averages (time to the response head) and which endpoints
 * are in service; the balancer multiplies each endpoint's weight by `factor[slot]`.
 *
 * A slot is slow when its average is at least `factor` × the median of the OTHER participating
 * slots that have data, and at least `minLatency`. With an even number of others the LOWER middle
 * value is taken (the faster of the two middle ones): in small pools, where the median is most
 * easily pulled up by a second slow server, this errs on the side of noticing the slow one. At
 * least one other slot with data is needed; without one nothing is judged and timers restart.
 *
 * Slow for `window` without a break → weight × `step` (never below `minWeight`), then again every
 * `stepInterval` while still slow. Not slow for `window` → weight ÷ `step` (at most 1), then again
 * every `stepInterval`. Steps fall on a grid (window, window + stepInterval, …) from the start of
 * the run, at most one per evaluate; a late evaluate does not bunch up missed steps.
 */
import type { GrayFailureConfig } from '../config/schema.ts';

/** One step of a slot's weight factor. */
export interface GrayEvent {
  readonly slot: number;
  /** Factor before and after the step (1 = full weight). */
  readonly from: number;
  readonly to: number;
  /** `127.0.0.1:9003 latency 480 ms vs pool median 12 ms for 10 s: weight 100% → 50%`. */
  readonly reason: string;
}

/**
 * Gray-failure detector of one pool (slots in config order).
 * Defaults of the config (schema): factor 3, window 10 s, stepInterval 1 s, step 0.5,
 * minWeight 0.05, minLatency 10 ms, enabled true.
 */
export class GrayFailureDetector {
  readonly addresses: readonly string[];
  private readonly cfg: GrayFailureConfig;
  /** Weight multiplier per slot, in [minWeight, 1]; 1 = full weight. */
  readonly factor: Float64Array;
  /** Start of the current slow run (NaN = not in one). */
  private readonly slowSince: Float64Array;
  /** Start of the current not-slow run (NaN = not in one). */
  private readonly fastSince: Float64Array;
  /** When the next step of the current run is due. */
  private readonly nextStep: Float64Array;
  /** Scratch for the sorted latencies of the participating slots. */
  private readonly sorted: Float64Array;

  constructor(addresses: readonly string[], cfg: GrayFailureConfig) {
    const n = addresses.length;
    this.addresses = addresses.slice();
    this.cfg = cfg;
    this.factor = new Float64Array(n).fill(1);
    this.slowSince = new Float64Array(n).fill(NaN);
    this.fastSince = new Float64Array(n).fill(NaN);
    this.nextStep = new Float64Array(n);
    this.sorted = new Float64Array(n);
  }

  /**
   * Judges every slot at `now` (ms) from `latency` (per-slot average time to the response head in
   * ms; 0 = no data) and `participating` (nonzero = available and in service; null = all).
   * Slots that do not participate or have no data keep their factor; their timers restart.
   * Returns the steps taken (at most one per slot).
   */
  evaluate(now: number, latency: ArrayLike<number>, participating: ArrayLike<number> | null): GrayEvent[] {
    const n = this.factor.length;
    const events: GrayEvent[] = [];
    let m = 0;
    for (let i = 0; i < n; i++) {
      if (this.judged(i, latency, participating)) this.sorted[m++] = latency[i];
    }
    const sorted = this.sorted.subarray(0, m).sort();
    for (let i = 0; i < n; i++) {
      if (!this.cfg.enabled || m < 2 || !this.judged(i, latency, participating)) {
        this.slowSince[i] = NaN;
        this.fastSince[i] = NaN;
        continue;
      }
      const lat = latency[i];
      const ref = medianWithout(sorted, lat);
      const slow = lat >= this.cfg.factor * ref && lat >= this.cfg.minLatency;
      const event = slow ? this.slowRun(i, now, lat, ref) : this.fastRun(i, now, lat, ref);
      if (event !== null) events.push(event);
    }
    return events;
  }

  private judged(i: number, latency: ArrayLike<number>, participating: ArrayLike<number> | null): boolean {
    return latency[i] > 0 && (participating === null || participating[i] !== 0);
  }

  private slowRun(i: number, now: number, lat: number, ref: number): GrayEvent | null {
    this.fastSince[i] = NaN;
    if (Number.isNaN(this.slowSince[i])) {
      this.slowSince[i] = now;
      this.nextStep[i] = now + this.cfg.window;
    }
    const from = this.factor[i];
    if (now < this.nextStep[i] || from <= this.cfg.minWeight) return null;
    const to = Math.max(this.cfg.minWeight, from * this.cfg.step);
    return this.take(i, now, from, to, lat, ref, this.slowSince[i]);
  }

  private fastRun(i: number, now: number, lat: number, ref: number): GrayEvent | null {
    this.slowSince[i] = NaN;
    if (Number.isNaN(this.fastSince[i])) {
      this.fastSince[i] = now;
      this.nextStep[i] = now + this.cfg.window;
    }
    const from = this.factor[i];
    if (now < this.nextStep[i] || from >= 1) return null;
    const to = Math.min(1, from / this.cfg.step);
    return this.take(i, now, from, to, lat, ref, this.fastSince[i]);
  }

  private take(i: number, now: number, from: number, to: number, lat: number, ref: number, since: number): GrayEvent {
    this.factor[i] = to;
    const si = this.cfg.stepInterval;
    let next = this.nextStep[i] + si;
    if (si <= 0) next = now;
    else if (next <= now) next += (Math.floor((now - next) / si) + 1) * si;
    this.nextStep[i] = next;
    const reason = `${this.addresses[i]} latency ${ms(lat)} vs pool median ${ms(ref)} for ${span(now - since)}: weight ${pct(from)} → ${pct(to)}`;
    return { slot: i, from, to, reason };
  }

  /**
   * Takes over factors and timers of the endpoints that survive a reload (matched by address),
   * factors clamped into the new [minWeight, 1]. Nothing is carried when this detector is
   * disabled, so turning gray-failure detection off restores every weight.
   */
  carryOver(prev: GrayFailureDetector, prevAddresses: readonly string[] = prev.addresses): void {
    if (!this.cfg.enabled) return;
    const pos = new Map<string, number>();
    for (let i = 0; i < prevAddresses.length; i++) pos.set(prevAddresses[i], i);
    for (let j = 0; j < this.addresses.length; j++) {
      const i = pos.get(this.addresses[j]);
      if (i === undefined) continue;
      this.factor[j] = Math.min(1, Math.max(this.cfg.minWeight, prev.factor[i]));
      this.slowSince[j] = prev.slowSince[i];
      this.fastSince[j] = prev.fastSince[i];
      this.nextStep[j] = prev.nextStep[i];
    }
  }
}

/**
 * Median of `sorted` (ascending, length ≥ 2) with one occurrence of `v` removed; the lower middle
 * value when the remaining count is even.
 */
export function medianWithout(sorted: ArrayLike<number>, v: number): number {
  const m = sorted.length;
  const mid = (m - 2) >> 1; // lower middle index among the m − 1 others
  let lo = 0;
  let hi = m;
  while (lo < hi) {
    const h = (lo + hi) >> 1;
    if (sorted[h] < v) lo = h + 1;
    else hi = h;
  }
  // lo = position of (an occurrence of) v; removing it shifts the elements after it left by one.
  return lo > mid ? sorted[mid] : sorted[mid + 1];
}

/** `480 ms`, `9.5 ms` (one decimal below 10 ms). */
function ms(x: number): string {
  return x < 9.95 ? `${x.toFixed(1)} ms` : `${Math.round(x)} ms`;
}

/** `10 s`; below one second in ms (`500 ms`). */
function span(d: number): string {
  return d < 1000 ? `${Math.round(d)} ms` : `${Math.round(d / 1000)} s`;
}

/** `50%`. */
function pct(f: number): string {
  return `${Math.round(f * 100)}%`;
}
