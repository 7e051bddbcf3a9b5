/**
 * Load counters with the admin API's live figures on top (LoadCounters stays what the balancers
 * read; this subclass only adds bookkeeping at end() and in the sweeper's tick):
 *
 * - a per-endpoint latency histogram with fixed buckets (octaves from 10 µs to ~168 s, each cut in
 *   4 equal parts — HdrHistogram's layout with 2 significant bits; 96 buckets in one Uint32Array
 *   row per endpoint): a few integer operations and one increment per request. Two generations
 *   (current and previous, rotated every ROTATE_MS) so p50/p99 describe the last 10–20 s, not the
 *   process's whole life. A quantile is reported as its bucket's geometric middle (relative error
 *   ≤ 12%).
 * - a ring of once-a-second samples of the request and error totals, so req/s and the error rate
 *   are measured over a recent window (RATE_WINDOW_S) rather than since start.
 *
 * Both survive reloads for endpoints that keep their address (carryOver).
 */
import { LoadCounters } from '../balancing/load.ts';

/** Buckets per endpoint: 4 per octave from 0.01 ms. */
export const LATENCY_BUCKETS = 96;
const BUCKETS_PER_OCTAVE = 4;
const MIN_MS = 0.01;
/** Histogram generations rotate this often (ms). */
export const ROTATE_MS = 10_000;
/** req/s and error rate are measured over (up to) this many seconds. */
export const RATE_WINDOW_S = 10;

interface Sample {
  readonly at: number;
  readonly total: Float64Array;
  readonly errors: Float64Array;
}

/**
 * Bucket of a duration in ms: octave o = ⌊log2(t / 10 µs)⌋ from the integer's leading zeros, and
 * which quarter of [2^o, 2^(o+1)) from the next two bits — integer operations only.
 */
export function bucketOf(ms: number): number {
  const u = ms >= 2e7 ? 0x7fffffff : (ms * (1 / MIN_MS)) | 0;
  if (u <= 1) return 0;
  const o = 31 - Math.clz32(u);
  const sub = o >= 2 ? (u >>> (o - 2)) & 3 : (u << (2 - o)) & 3;
  const b = o * BUCKETS_PER_OCTAVE + sub;
  return b < LATENCY_BUCKETS ? b : LATENCY_BUCKETS - 1;
}

/** Geometric middle of bucket b, in ms. */
function middleOf(b: number): number {
  const o = (b / BUCKETS_PER_OCTAVE) | 0;
  const sub = b % BUCKETS_PER_OCTAVE;
  const lo = 2 ** o * (1 + sub / BUCKETS_PER_OCTAVE);
  const hi = 2 ** o * (1 + (sub + 1) / BUCKETS_PER_OCTAVE);
  return MIN_MS * Math.sqrt(lo * hi);
}

export class EndpointStats extends LoadCounters {
  private cur: Uint32Array;
  private prev: Uint32Array;
  private rotatedAt = 0;
  private samples: Sample[] = [];
  private lastSample = 0;

  constructor(size: number) {
    super(size);
    this.cur = new Uint32Array(size * LATENCY_BUCKETS);
    this.prev = new Uint32Array(size * LATENCY_BUCKETS);
  }

  override end(i: number, failed: boolean, totalMs: number, headerMs: number = totalMs, nowMs: number = 0): void {
    super.end(i, failed, totalMs, headerMs, nowMs);
    this.cur[i * LATENCY_BUCKETS + bucketOf(totalMs)]++;
  }

  /** Periodic (the sweeper, every 100 ms): rotates the histogram generations, samples the totals once a second. */
  tick(now: number): void {
    if (this.rotatedAt === 0) this.rotatedAt = now;
    else if (now - this.rotatedAt >= ROTATE_MS) {
      const old = this.prev;
      this.prev = this.cur;
      old.fill(0);
      this.cur = old;
      this.rotatedAt = now;
    }
    if (now - this.lastSample >= 1000) {
      this.lastSample = now;
      this.samples.push({ at: now, total: this.total.slice(), errors: this.errors.slice() });
      if (this.samples.length > RATE_WINDOW_S + 1) this.samples.shift();
    }
  }

  /** Latency quantile q (0–1) of endpoint i over the last 10–20 s, in ms; null without data. */
  quantile(i: number, q: number): number | null {
    const base = i * LATENCY_BUCKETS;
    let n = 0;
    for (let b = 0; b < LATENCY_BUCKETS; b++) n += this.cur[base + b] + this.prev[base + b];
    if (n === 0) return null;
    const rank = Math.max(1, Math.ceil(q * n));
    let seen = 0;
    for (let b = 0; b < LATENCY_BUCKETS; b++) {
      seen += this.cur[base + b] + this.prev[base + b];
      if (seen >= rank) return middleOf(b);
    }
    return null;
  }

  /**
   * Requests per second and error ratio of endpoint i over the sample window (oldest sample to
   * now), from the live totals; 0 before the first sample.
   */
  rate(i: number, now: number): { perSecond: number; errorRate: number; windowS: number } {
    const s = this.samples[0];
    if (s === undefined || i >= s.total.length) return { perSecond: 0, errorRate: 0, windowS: 0 };
    const dt = (now - s.at) / 1000;
    const dn = this.total[i] - s.total[i];
    const de = this.errors[i] - s.errors[i];
    return { perSecond: dt > 0 ? dn / dt : 0, errorRate: dn > 0 ? de / dn : 0, windowS: Math.round(dt * 10) / 10 };
  }

  override carryOver(oldAddresses: readonly string[], next: LoadCounters, newAddresses: readonly string[]): void {
    super.carryOver(oldAddresses, next, newAddresses);
    if (!(next instanceof EndpointStats)) return;
    const pos = new Map<string, number>();
    for (let i = 0; i < oldAddresses.length; i++) pos.set(oldAddresses[i], i);
    const B = LATENCY_BUCKETS;
    next.samples = this.samples.map((s) => ({ at: s.at, total: new Float64Array(newAddresses.length), errors: new Float64Array(newAddresses.length) }));
    for (let j = 0; j < newAddresses.length; j++) {
      const i = pos.get(newAddresses[j]);
      if (i === undefined) {
        // A new endpoint: its window starts from zero totals.
        continue;
      }
      next.cur.set(this.cur.subarray(i * B, (i + 1) * B), j * B);
      next.prev.set(this.prev.subarray(i * B, (i + 1) * B), j * B);
      this.samples.forEach((s, k) => {
        next.samples[k].total[j] = s.total[i];
        next.samples[k].errors[j] = s.errors[i];
      });
    }
    next.rotatedAt = this.rotatedAt;
    next.lastSample = this.lastSample;
  }
}
