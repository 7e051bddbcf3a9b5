/**
 * Weighted round robin (`weighted-round-robin`): nginx's smooth weighted round robin
 * (ngx_http_upstream_round_robin.c, 2012). On every pick each choosable endpoint's current weight
 * grows by its weight; the largest current weight wins (first in list order on a tie) and loses the
 * total of the weights that took part. Weights {5,1,1} give exactly a a b a c a a, then repeat:
 * over every `total` consecutive picks each endpoint is chosen exactly `weight` times, and heavy
 * endpoints are interleaved rather than bunched.
 *
 * Excluded endpoints sit out a pick: their current weight is left untouched and their weight is not
 * part of that pick's total (as nginx skips down peers). Unlike nginx, the effective weight is not
 * lowered on failures; health and outlier detection exclude endpoints instead.
 */
import { registerAlgorithm } from './registry.ts';
import type { Balancer, BalancerEnv, EndpointInfo, PickContext } from './types.ts';

/**
 * The smooth weighted round robin state over a fixed list of weights, by position. Shared with the
 * L7 router's weighted route targets. Weights must be integers ≥ 0; weight 0 is never chosen.
 */
export class SmoothWeighted {
  readonly weights: Float64Array;
  private readonly current: Float64Array;

  constructor(weights: readonly number[]) {
    this.weights = Float64Array.from(weights, (w) => (w > 0 ? w : 0));
    this.current = new Float64Array(weights.length);
  }

  /**
   * Returns the chosen position, or -1 when every position has weight 0 or is excluded.
   * `excluded` (optional) is indexed through `slots` when given, else by position.
   */
  next(excluded: Uint8Array | null = null, slots: Int32Array | null = null): number {
    const w = this.weights;
    const cur = this.current;
    const n = w.length;
    let total = 0;
    let best = -1;
    for (let k = 0; k < n; k++) {
      const wk = w[k];
      if (wk === 0) continue;
      if (excluded !== null && excluded[slots === null ? k : slots[k]] !== 0) continue;
      cur[k] += wk;
      total += wk;
      if (best === -1 || cur[k] > cur[best]) best = k;
    }
    if (best !== -1) cur[best] -= total;
    return best;
  }
}

/**
 * The `weighted-round-robin` balancer: smooth weighted round robin over the LIVE effective weights
 * (`env.weights.values`, read at every pick, so slow start ramps apply without a rebuild). The
 * total is recomputed on every pick from the weights that take part, as SWRR does anyway; current
 * weights are kept by position and self-correct after a weight change. Fractional weights work.
 */
export class WeightedRoundRobin implements Balancer {
  private readonly slots: Int32Array;
  private readonly current: Float64Array;
  private readonly weights: Float64Array;

  constructor(endpoints: readonly EndpointInfo[], env: BalancerEnv) {
    this.slots = Int32Array.from(endpoints, (e) => e.index);
    this.current = new Float64Array(endpoints.length);
    this.weights = env.weights.values;
  }

  pick(ctx: PickContext): number {
    const slots = this.slots;
    const w = this.weights;
    const cur = this.current;
    const ex = ctx.excluded;
    const n = slots.length;
    let total = 0;
    let best = -1;
    for (let k = 0; k < n; k++) {
      const slot = slots[k];
      const wk = w[slot];
      if (!(wk > 0)) continue;
      if (ex !== null && ex[slot] !== 0) continue;
      cur[k] += wk;
      total += wk;
      if (best === -1 || cur[k] > cur[best]) best = k;
    }
    if (best === -1) return -1;
    cur[best] -= total;
    return slots[best];
  }
}

registerAlgorithm({
  name: 'weighted-round-robin',
  summary: "nginx's smooth weighted round robin: each endpoint chosen in proportion to its weight, interleaved.",
  weighted: true,
  create: (endpoints, env) => new WeightedRoundRobin(endpoints, env),
});
