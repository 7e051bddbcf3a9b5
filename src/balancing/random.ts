/**
 * Random (`random`): each pick draws an endpoint at random — uniformly when all choosable weights
 * are equal, in proportion to the effective weights (env.weights) otherwise, as nginx's `random`
 * and HAProxy's `random` with weights. Randomness comes from env.random (uniform in [0, 1)).
 *
 * Weighted draws use cumulative sums over the endpoints' effective weights, cached and rebuilt in
 * place (no allocation) when env.weights.version changes; a draw is a binary search for the first
 * cumulative sum above r × total, so an endpoint of weight 0 (an empty interval) is never drawn.
 * Excluded endpoints: up to REDRAWS fresh draws, then one exact weighted draw among the endpoints
 * that remain (an O(N) scan), so the distribution over the non-excluded endpoints stays weighted.
 */
import { registerAlgorithm } from './registry.ts';
import type { Balancer, BalancerEnv, EndpointInfo, PickContext } from './types.ts';

/** Fresh draws tried when the drawn endpoint is excluded, before the exact scan. */
export const RANDOM_REDRAWS = 4;

export class RandomBalancer implements Balancer {
  private readonly slots: Int32Array;
  /** Cumulative effective weights by position (cum[k] = Σ_{j ≤ k} w_j). */
  private readonly cum: Float64Array;
  private readonly env: BalancerEnv;
  private version = -1;
  /** All weights equal and > 0: a draw is floor(r × n). */
  private uniform = true;
  private total = 0;

  constructor(endpoints: readonly EndpointInfo[], env: BalancerEnv) {
    this.slots = Int32Array.from(endpoints, (e) => e.index);
    this.cum = new Float64Array(endpoints.length);
    this.env = env;
  }

  private rebuild(): void {
    const w = this.env.weights.values;
    const slots = this.slots;
    const n = slots.length;
    let sum = 0;
    let uniform = n > 0;
    const w0 = n > 0 ? w[slots[0]] : 0;
    for (let k = 0; k < n; k++) {
      const wk = w[slots[k]] > 0 ? w[slots[k]] : 0;
      if (wk !== w0 || wk === 0) uniform = false;
      sum += wk;
      this.cum[k] = sum;
    }
    this.total = sum;
    this.uniform = uniform;
    this.version = this.env.weights.version;
  }

  /** One draw over all endpoints (ignoring exclusions): a position, or -1 when total weight is 0. */
  private draw(): number {
    const n = this.slots.length;
    if (this.uniform) {
      const k = Math.floor(this.env.random() * n);
      return k < n ? k : n - 1;
    }
    if (this.total <= 0) return -1;
    const r = this.env.random() * this.total;
    const cum = this.cum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid] > r) hi = mid;
      else lo = mid + 1;
    }
    // r rounded up to total: take the last endpoint with weight > 0.
    while (lo > 0 && cum[lo] === cum[lo - 1]) lo--;
    return lo;
  }

  pick(ctx: PickContext): number {
    if (this.version !== this.env.weights.version) this.rebuild();
    const slots = this.slots;
    const ex = ctx.excluded;
    for (let t = 0; t <= RANDOM_REDRAWS; t++) {
      const k = this.draw();
      if (k === -1) return -1;
      if (ex === null || ex[slots[k]] === 0) return slots[k];
    }
    // Exact weighted draw among the non-excluded endpoints (ex is set: a draw would have passed).
    if (ex === null) return -1;
    const w = this.env.weights.values;
    const n = slots.length;
    let rest = 0;
    for (let k = 0; k < n; k++) if (ex[slots[k]] === 0 && w[slots[k]] > 0) rest += w[slots[k]];
    if (rest <= 0) return -1;
    let r = this.env.random() * rest;
    let last = -1;
    for (let k = 0; k < n; k++) {
      const wk = w[slots[k]];
      if (ex[slots[k]] !== 0 || !(wk > 0)) continue;
      last = slots[k];
      r -= wk;
      if (r < 0) return last;
    }
    return last;
  }
}

registerAlgorithm({
  name: 'random',
  summary: 'A random endpoint per pick: uniform when weights are equal, weighted otherwise.',
  weighted: true,
  create: (endpoints, env) => new RandomBalancer(endpoints, env),
});
