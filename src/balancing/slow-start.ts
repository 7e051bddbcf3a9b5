/**
 * Slow start (`slowStart: { window }`) for weighted algorithms: an endpoint that joins the pool or
 * recovers from being down ramps its EFFECTIVE weight linearly from a small floor up to its
 * configured weight over the window (nginx's `server … slow_start=TIME`, NGINX Plus; Envoy's
 * slow_start_config with aggression 1). Endpoints present when the pool starts are not ramped
 * (as nginx). Pure: the caller passes the clock; the pool runtime calls `tick(now)` every 100 ms
 * and `markJoined(i, now)` when endpoint i joins or recovers.
 *
 *     f = (now − joined_i) / window
 *     weight_i = configured_i                                 when f ≥ 1 (ramp over)
 *     weight_i = max(configured_i × f, floor_i)               otherwise
 *     floor_i  = max(configured_i × 0.01, 1e-3)               (never 0: the endpoint is still tried)
 *
 * Effective weights are written with `Weights.set`, which the weighted algorithms read at pick
 * time (and which bumps `Weights.version`). Configured weight 0 stays 0 (never chosen).
 */
import type { Weights } from './types.ts';

/** Share of the configured weight an endpoint starts its ramp at (1 %). */
export const SLOW_START_FLOOR_SHARE = 0.01;
/** Absolute lower bound of the starting weight, so a ramping endpoint is never weight 0. */
export const SLOW_START_MIN_WEIGHT = 1e-3;

export class SlowStart {
  private readonly weights: Weights;
  private readonly configured: Float64Array;
  private readonly windowMs: number;
  /** Clock (ms) at which each endpoint joined; NaN = not ramping. */
  private readonly joinedAt: Float64Array;
  /** Endpoints currently ramping (tick() returns at once when 0). */
  private ramping = 0;

  /**
   * `configured`: configured weights by endpoint slot; `windowMs`: ramp duration (≤ 0 disables the
   * ramp: markJoined restores the configured weight at once).
   */
  constructor(weights: Weights, configured: readonly number[], windowMs: number) {
    this.weights = weights;
    this.configured = Float64Array.from(configured, (w) => (w > 0 ? w : 0));
    this.windowMs = windowMs;
    this.joinedAt = new Float64Array(configured.length).fill(NaN);
  }

  /** Starts (or restarts) endpoint i's ramp at `nowMs`; its weight drops to the floor at once. */
  markJoined(i: number, nowMs: number): void {
    const c = this.configured[i];
    if (!(this.windowMs > 0) || c === 0) {
      this.stop(i);
      this.weights.set(i, c);
      return;
    }
    if (Number.isNaN(this.joinedAt[i])) this.ramping++;
    this.joinedAt[i] = nowMs;
    this.weights.set(i, floorOf(c));
  }

  /** True while endpoint i is ramping. */
  isRamping(i: number): boolean {
    return !Number.isNaN(this.joinedAt[i]);
  }

  /** Effective weight of endpoint i at `nowMs` by the formula above (no side effect). */
  weightAt(i: number, nowMs: number): number {
    const c = this.configured[i];
    const t0 = this.joinedAt[i];
    if (Number.isNaN(t0)) return c;
    const f = (nowMs - t0) / this.windowMs;
    if (f >= 1) return c;
    const w = c * f;
    const floor = floorOf(c);
    return w > floor ? w : floor;
  }

  /** Writes every ramping endpoint's weight at `nowMs` into the Weights; ends finished ramps. */
  tick(nowMs: number): void {
    if (this.ramping === 0) return;
    const n = this.joinedAt.length;
    for (let i = 0; i < n; i++) {
      const t0 = this.joinedAt[i];
      if (Number.isNaN(t0)) continue;
      const w = this.weightAt(i, nowMs);
      this.weights.set(i, w);
      if (nowMs - t0 >= this.windowMs) this.stop(i);
    }
  }

  private stop(i: number): void {
    if (!Number.isNaN(this.joinedAt[i])) {
      this.joinedAt[i] = NaN;
      this.ramping--;
    }
  }
}

function floorOf(configured: number): number {
  const f = configured * SLOW_START_FLOOR_SHARE;
  return f > SLOW_START_MIN_WEIGHT ? f : SLOW_START_MIN_WEIGHT;
}
