/**
 * Random (`random`): each pick draws an endpoint at random — uniformly when all choosable weights
 * are equal, in proportion to the effective weights (env.weights) otherwise, as nginx's `random`
 * and HAProxy's `random` with weights. Randomness comes from env.random (uniform in [0, 1)).
 *
 * Weighted draws use Walker's alias method (Vose's construction, "A Linear Algorithm for Generating
 * Random Numbers with a Given Distribution", 1991): tables rebuilt in place (no allocation) when
 * env.weights.version changes; a draw is one random number r: column i = floor(r × n), and the
 * fraction of r × n decides between column i and its alias — O(1) whatever N. A weight-0 endpoint
 * has probability 0 in its own column and is never anyone's alias, so it is never drawn.
 * Excluded endpoints: up to REDRAWS fresh draws, then one exact weighted draw among the endpoints
 * that remain (an O(N) scan), so the distribution over the non-excluded endpoints stays weighted.
 */
import { registerAlgorithm } from './registry.ts';
import type { Balancer, BalancerEnv, EndpointInfo, PickContext } from './types.ts';

/** Fresh draws tried when the drawn endpoint is excluded, before the exact scan. */
export const RANDOM_REDRAWS = 4;

export class RandomBalancer implements Balancer {
  private readonly slots: Int32Array;
  /** Alias tables by position: keep column k with probability prob[k], else take alias[k]. */
  private readonly prob: Float64Array;
  private readonly alias: Int32Array;
  /** Scratch work lists for the construction (preallocated). */
  private readonly small: Int32Array;
  private readonly large: Int32Array;
  private readonly env: BalancerEnv;
  private version = -1;
  /** All weights equal and > 0: a draw is floor(r × n). */
  private uniform = true;
  private total = 0;

  constructor(endpoints: readonly EndpointInfo[], env: BalancerEnv) {
    this.slots = Int32Array.from(endpoints, (e) => e.index);
    const n = endpoints.length;
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    this.small = new Int32Array(n);
    this.large = new Int32Array(n);
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
    }
    this.total = sum;
    this.uniform = uniform;
    this.version = this.env.weights.version;
    if (!uniform && sum > 0) this.buildAlias(w, sum);
  }

  /** Vose's alias construction over the scaled weights p_k = w_k × n / total. */
  private buildAlias(w: Float64Array, total: number): void {
    const slots = this.slots;
    const n = slots.length;
    const prob = this.prob;
    const alias = this.alias;
    const small = this.small;
    const large = this.large;
    let ns = 0;
    let nl = 0;
    for (let k = 0; k < n; k++) {
      const wk = w[slots[k]] > 0 ? w[slots[k]] : 0;
      prob[k] = (wk * n) / total;
      alias[k] = k;
      if (prob[k] < 1) small[ns++] = k;
      else large[nl++] = k;
    }
    while (ns > 0 && nl > 0) {
      const s = small[--ns];
      const l = large[--nl];
      alias[s] = l;
      prob[l] = prob[l] + prob[s] - 1;
      if (prob[l] < 1) small[ns++] = l;
      else large[nl++] = l;
    }
    // Leftovers are 1 up to rounding. A weight-0 column can only be left over through rounding:
    // give it the last large column as alias so it is never drawn itself.
    while (nl > 0) prob[large[--nl]] = 1;
    while (ns > 0) {
      const s = small[--ns];
      if (w[slots[s]] > 0) prob[s] = 1;
      else {
        prob[s] = 0;
        alias[s] = this.anyPositive(w);
      }
    }
  }

  private anyPositive(w: Float64Array): number {
    const slots = this.slots;
    for (let k = slots.length - 1; k >= 0; k--) if (w[slots[k]] > 0) return k;
    return 0;
  }

  /** One draw over all endpoints (ignoring exclusions): a position, or -1 when total weight is 0. */
  private draw(): number {
    const n = this.slots.length;
    if (this.uniform) {
      const k = Math.floor(this.env.random() * n);
      return k < n ? k : n - 1;
    }
    if (this.total <= 0) return -1;
    const x = this.env.random() * n;
    let k = Math.floor(x);
    if (k >= n) k = n - 1;
    return x - k < this.prob[k] ? k : this.alias[k];
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
  explainNote: "one random draw: another draw may differ (each candidate's chance is its weight share)",
  weighted: true,
  create: (endpoints, env) => new RandomBalancer(endpoints, env),
});
