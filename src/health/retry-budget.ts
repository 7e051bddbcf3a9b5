/**
 * Retry budget, after Finagle's RetryBudget and Linkerd's retry budgets: retries may add at most
 * `ratio` of the recent requests plus a small floor of `minPerSecond`, so retries cannot multiply
 * the load on a pool that is already failing. And the delay before a retry: exponential backoff
 * with "full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015).
 *
 * Pure (DESIGN.md rule 1): no timers; `now` (ms) and `random` are passed in.
 *
 * The window slides in ten buckets of windowMs/10 (bounded memory, O(1) per call): a request
 * stops counting between 0.9 × windowMs and windowMs after it was made, depending on where in
 * its bucket it fell — at exactly windowMs after the start of its bucket at the latest.
 */

const BUCKETS = 10;

/** Budget parameters (the `retries.budget` section of a pool's config). */
export interface RetryBudgetOptions {
  /** Retries allowed as a fraction of requests in the window (default 0.2). */
  readonly ratio: number;
  /** Retries allowed per second regardless of the ratio (default 3). */
  readonly minPerSecond: number;
}

/**
 * A retry budget over a sliding window (default 10 s): a retry is allowed while
 * retries < ratio × requests + minPerSecond × windowMs / 1000 within the window.
 */
export class RetryBudget {
  private readonly ratio: number;
  private readonly reserve: number;
  private readonly width: number;
  private readonly requestBuckets = new Float64Array(BUCKETS);
  private readonly retryBuckets = new Float64Array(BUCKETS);
  private requestSum = 0;
  private retrySum = 0;
  /** Index of the bucket (time / width) last written; -Infinity before any call. */
  private epoch = -Infinity;
  private allowedTotal = 0;
  private refusedTotal = 0;

  constructor(options: RetryBudgetOptions, windowMs = 10_000) {
    if (!(windowMs > 0)) throw new Error(`retry budget window must be > 0 ms, got ${windowMs}`);
    this.ratio = options.ratio;
    this.reserve = (options.minPerSecond * windowMs) / 1000;
    this.width = windowMs / BUCKETS;
  }

  /** Retries allowed since creation. */
  get retries(): number {
    return this.allowedTotal;
  }

  /** Retries refused since creation. */
  get refused(): number {
    return this.refusedTotal;
  }

  /** Moves the window to `now`, emptying the buckets that fell out of it. */
  private advance(now: number): number {
    const e = Math.floor(now / this.width);
    if (e <= this.epoch) return ((this.epoch % BUCKETS) + BUCKETS) % BUCKETS; // time never goes back
    const gap = e - this.epoch;
    if (gap >= BUCKETS) {
      this.requestBuckets.fill(0);
      this.retryBuckets.fill(0);
      this.requestSum = 0;
      this.retrySum = 0;
    } else {
      for (let k = this.epoch + 1; k <= e; k++) {
        const b = ((k % BUCKETS) + BUCKETS) % BUCKETS;
        this.requestSum -= this.requestBuckets[b];
        this.retrySum -= this.retryBuckets[b];
        this.requestBuckets[b] = 0;
        this.retryBuckets[b] = 0;
      }
    }
    this.epoch = e;
    return ((e % BUCKETS) + BUCKETS) % BUCKETS;
  }

  /** Counts a request (its first attempt) at `now`. */
  onRequest(now: number): void {
    const b = this.advance(now);
    this.requestBuckets[b]++;
    this.requestSum++;
  }

  /** Asks for a retry at `now`: true (and counted) when the budget allows it, else false. */
  tryRetry(now: number): boolean {
    const b = this.advance(now);
    // Allowed only if the window stays within the allowance with this retry counted.
    if (this.retrySum + 1 <= this.ratio * this.requestSum + this.reserve) {
      this.retryBuckets[b]++;
      this.retrySum++;
      this.allowedTotal++;
      return true;
    }
    this.refusedTotal++;
    return false;
  }

  /** Requests counted in the window ending at `now`. */
  requestsInWindow(now: number): number {
    this.advance(now);
    return this.requestSum;
  }

  /** Retries counted in the window ending at `now`. */
  retriesInWindow(now: number): number {
    this.advance(now);
    return this.retrySum;
  }
}

/**
 * Delay before retry number `retry` (1 for the first): full jitter, a uniform draw in
 * [0, min(maxMs, baseMs × 2^(retry − 1))). Defaults of the config: base 25 ms, max 250 ms.
 */
export function backoffDelay(retry: number, baseMs: number, maxMs: number, random: () => number): number {
  const exp = Math.min(Math.max(retry - 1, 0), 52); // 2^52 × any base is past any max; avoids 0 × ∞
  return random() * Math.min(maxMs, baseMs * 2 ** exp);
}
