/**
 * Consistent hashing with bounded loads (`boundedLoad: { factor }` on a hashing pool): Mirrokni,
 * Thorup, Zadimoghaddam, "Consistent Hashing with Bounded Loads" (SODA 2018, arXiv 1608.01350),
 * applied as a decorator around any HashingBalancer, as Envoy's `hash_balance_factor` does.
 *
 * The paper gives every bin the capacity ⌈c · m / n⌉ where m is the number of balls placed
 * *including the one being placed*, n the number of bins and c = 1 + ε > 1; a ball whose bin is
 * full moves on to the next bin in its own probe order. Fulcrum maps balls to requests (or L4
 * connections) in flight and bins to choosable endpoints (weight > 0 and not in ctx.excluded):
 *
 *   cap = ceil(factor × (T + 1) / n)        T = Σ inFlight over the choosable endpoints
 *
 * and an endpoint i is refused when inFlight[i] + 1 > cap. When the choosable endpoints' weights
 * differ, the bins are weighted (as Envoy respects host weights): cap_i = ceil(factor × (T + 1) ×
 * w_i / W), W = Σ w over the choosable endpoints; with equal weights this is exactly the formula
 * above. Since Σ cap_i ≥ factor × (T + 1) > T, some choosable endpoint always has room when
 * factor ≥ 1, so a full walk never comes back empty; if the inner walk still returns nothing (it
 * gave up, or every candidate was refused) the least loaded choosable endpoint (inFlight ÷ weight)
 * is taken. Weights are read from env.weights (so a slow-start ramp also lowers the cap).
 *
 * Cost: the inner walk, plus O(N) to sum the in-flight counters (as Envoy's) — but only when a
 * candidate already has requests in flight: every cap is ≥ 1, so an idle endpoint always fits and
 * a lightly loaded pool pays nothing extra. The filter handed to the inner balancer is this object
 * itself: nothing is allocated per pick.
 */
import type { BalancerEnv, CandidateFilter, HashingBalancer, KeyLocation, PickContext } from './types.ts';

/** Default factor of the `boundedLoad` section (c = 1.25, as the schema's default). */
export const DEFAULT_BOUNDED_LOAD_FACTOR = 1.25;

class BoundedLoad implements HashingBalancer, CandidateFilter {
  private readonly inner: HashingBalancer;
  private readonly env: BalancerEnv;
  private readonly factor: number;
  /** Per pick: the outer caller's filter (pickFiltered) or null. */
  private outer: CandidateFilter | null = null;
  /** Per pick: cap for every endpoint (uniform weights) … */
  private cap = 0;
  /** … or, when weights differ, cap_i = ceil(scale × w_i) with scale = factor × (T + 1) / W. */
  private scale = 0;
  private uniform = true;
  /** Per pick: choosable endpoints (0 → nothing fits), ctx.excluded, and whether totals are summed. */
  private n = 0;
  private excluded: Uint8Array | null = null;
  private computed = false;

  constructor(inner: HashingBalancer, env: BalancerEnv, factor: number) {
    if (!(factor >= 1)) throw new Error(`bounded-load factor must be ≥ 1, got ${factor}`);
    this.inner = inner;
    this.env = env;
    this.factor = factor;
  }

  /** The cap that applies to endpoint `i` for the current pick (valid once `computed`). */
  capOf(i: number): number {
    return this.uniform ? this.cap : Math.ceil(this.scale * this.env.weights.values[i]);
  }

  accept(i: number): boolean {
    // Weight 0 (e.g. dropped since the inner table was built) is not a bin: never chosen.
    if (!(this.env.weights.values[i] > 0)) return false;
    const load = this.env.load.inFlight[i];
    // Every cap is ≥ 1 (factor ≥ 1, T + 1 ≥ 1), so an idle endpoint always fits: the O(N) totals
    // are only summed when a candidate already has something in flight.
    if (load !== 0) {
      if (!this.computed) this.compute();
      if (this.n === 0 || load + 1 > this.capOf(i)) return false;
    }
    return this.outer === null || this.outer.accept(i);
  }

  pick(ctx: PickContext): number {
    return this.run(ctx, null);
  }

  pickFiltered(ctx: PickContext, filter: CandidateFilter): number {
    return this.run(ctx, filter);
  }

  /** Sums in-flight and weights over the choosable endpoints and derives the caps. */
  private compute(): void {
    const ex = this.excluded;
    const w = this.env.weights.values;
    const inFlight = this.env.load.inFlight;
    const size = w.length < inFlight.length ? w.length : inFlight.length;
    let total = 0;
    let weightSum = 0;
    let n = 0;
    let first = -1;
    let uniform = true;
    for (let i = 0; i < size; i++) {
      const wi = w[i];
      if (wi > 0 && (ex === null || ex[i] === 0)) {
        total += inFlight[i];
        weightSum += wi;
        n++;
        if (first === -1) first = wi;
        else if (wi !== first) uniform = false;
      }
    }
    this.n = n;
    this.uniform = uniform;
    this.cap = n === 0 ? 0 : Math.ceil((this.factor * (total + 1)) / n);
    this.scale = n === 0 ? 0 : (this.factor * (total + 1)) / weightSum;
    this.computed = true;
  }

  /** Admin views pass through to the wrapped hashing balancer. */
  shares(): { slot: number; share: number }[] {
    return this.inner.shares?.() ?? [];
  }

  ownerAt(fraction: number): number {
    return this.inner.ownerAt?.(fraction) ?? -1;
  }

  locate(key: string): KeyLocation {
    return this.inner.locate?.(key) ?? { hash: 0, position: 'unknown', owner: -1 };
  }

  private run(ctx: PickContext, outer: CandidateFilter | null): number {
    this.excluded = ctx.excluded;
    this.outer = outer;
    this.computed = false;
    const chosen = this.inner.pickFiltered(ctx, this);
    this.outer = null;
    this.excluded = null;
    if (chosen !== -1) return chosen;
    // Every candidate refused: the least loaded choosable endpoint the outer filter accepts.
    const ex = ctx.excluded;
    const w = this.env.weights.values;
    const inFlight = this.env.load.inFlight;
    const size = w.length < inFlight.length ? w.length : inFlight.length;
    let best = -1;
    let bestLoad = 0;
    let bestWeight = 1;
    for (let i = 0; i < size; i++) {
      const wi = w[i];
      if (!(wi > 0) || (ex !== null && ex[i] !== 0)) continue;
      if (outer !== null && !outer.accept(i)) continue;
      const load = inFlight[i];
      if (best === -1 || load * bestWeight < bestLoad * wi) {
        best = i;
        bestLoad = load;
        bestWeight = wi;
      }
    }
    return best;
  }
}

/**
 * Wraps a hashing balancer so that no endpoint takes more than its bounded-load cap (see the file
 * header for the exact formula); a key whose preferred endpoint is full walks on to the inner
 * balancer's next candidate. `factor` ≥ 1 (default in config: 1.25).
 */
export function withBoundedLoad(inner: HashingBalancer, env: BalancerEnv, factor: number): HashingBalancer {
  return new BoundedLoad(inner, env, factor);
}
