/**
 * Token buckets by key (pure: the clock is passed in). The classic token bucket (Turner 1986; the
 * shaping algorithm of RFC 2697's committed burst): a key's bucket holds up to `burst` tokens,
 * refills continuously at `ratePerMs`, and a request takes one token or is refused. A bucket that
 * has refilled to `burst` carries no state (it equals a fresh one), so the table drops full buckets
 * first when it reaches `maxKeys`, then the least recently used one.
 *
 * Refill is computed lazily from the time of the last take (no timers); the table is a Map kept in
 * use order (a hit moves the key to the end), so its first entry is the least recently used.
 */

/** One key's bucket: tokens left at `at` (ms). */
interface Bucket {
  tokens: number;
  at: number;
}

export interface TakeResult {
  /** The request may pass. */
  allowed: boolean;
  /** Whole tokens left after this request (0 when refused). */
  remaining: number;
  /** Refused: ms until one token is back. Allowed: ms until the bucket is full again. */
  waitMs: number;
}

export class TokenBuckets {
  readonly ratePerMs: number;
  readonly burst: number;
  readonly maxKeys: number;
  private readonly buckets = new Map<string, Bucket>();
  /** Time of the last sweep for full buckets (sweeps are at most one per refill time). */
  private lastSweep = -Infinity;
  /** Buckets dropped to make room (full ones and least recently used ones). */
  evictedFull = 0;
  evictedUsed = 0;
  /** One result object reused per call (single-threaded callers read it before the next take). */
  private readonly result: TakeResult = { allowed: true, remaining: 0, waitMs: 0 };

  /**
   * @param ratePerMs tokens added per millisecond (> 0)
   * @param burst bucket size (≥ 1)
   * @param maxKeys buckets kept at most (≥ 1)
   */
  constructor(ratePerMs: number, burst: number, maxKeys: number) {
    if (!(ratePerMs > 0) || !(burst >= 1) || !(maxKeys >= 1)) throw new RangeError('token bucket: rate > 0, burst ≥ 1 and maxKeys ≥ 1 required');
    this.ratePerMs = ratePerMs;
    this.burst = burst;
    this.maxKeys = maxKeys;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Tokens `key` would have at `now` (burst for an unknown key). */
  peek(key: string, now: number): number {
    const b = this.buckets.get(key);
    return b === undefined ? this.burst : this.level(b, now);
  }

  private level(b: Bucket, now: number): number {
    const dt = now - b.at;
    const t = dt > 0 ? b.tokens + dt * this.ratePerMs : b.tokens; // a clock that went back refills nothing
    return t > this.burst ? this.burst : t;
  }

  /** Takes one token for `key` at time `now` (ms). The returned object is reused by the next call. */
  take(key: string, now: number): TakeResult {
    const r = this.result;
    let b = this.buckets.get(key);
    let tokens: number;
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) this.makeRoom(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
      tokens = this.burst;
    } else {
      tokens = this.level(b, now);
      // Keep the Map in use order: the first entry is the least recently used.
      this.buckets.delete(key);
      this.buckets.set(key, b);
    }
    if (now > b.at) b.at = now;
    if (tokens >= 1) {
      tokens -= 1;
      b.tokens = tokens;
      r.allowed = true;
      r.remaining = Math.floor(tokens);
      r.waitMs = (this.burst - tokens) / this.ratePerMs;
    } else {
      b.tokens = tokens;
      r.allowed = false;
      r.remaining = 0;
      r.waitMs = (1 - tokens) / this.ratePerMs;
    }
    return r;
  }

  /** Drops full buckets (at most one sweep per refill time), else the least recently used bucket. */
  private makeRoom(now: number): void {
    const refillMs = this.burst / this.ratePerMs;
    if (now - this.lastSweep >= refillMs || now < this.lastSweep) {
      this.lastSweep = now;
      for (const [k, b] of this.buckets) {
        if (this.level(b, now) >= this.burst) {
          this.buckets.delete(k);
          this.evictedFull++;
        }
      }
      if (this.buckets.size < this.maxKeys) return;
    }
    const oldest = this.buckets.keys().next();
    if (oldest.done !== true) {
      this.buckets.delete(oldest.value);
      this.evictedUsed++;
    }
  }
}
