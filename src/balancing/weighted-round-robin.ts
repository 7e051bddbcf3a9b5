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
import type { Balancer, BalancerEnv, EndpointInfo, PickContext, Weights } from './types.ts';

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

/** Largest period (Σ weights) precomputed into a table: 4 MiB of Int32 at most. */
const MAX_PERIOD = 1 << 20;

/**
 * The `weighted-round-robin` balancer: smooth weighted round robin over the LIVE effective weights
 * (`env.weights.values`, read at every pick, so slow start ramps apply without a rebuild). The
 * total is recomputed on every pick from the weights that take part, as SWRR does anyway; current
 * weights are kept by position and self-correct after a weight change. Fractional weights work.
 *
 * O(1) picks: SWRR is deterministic from its state (the current weights), so while the weights are
 * integers (Σ = W ≤ 2^20) and no weighted endpoint is excluded, the next W picks are simulated once
 * into `table` (O(N·W), amortised over W picks) and each pick reads `table[pos++]`. The O(N) scan
 * stays the source of truth: `current` is only the state at the table's start (`base`), so a pick
 * that cannot use the table (weights changed — `env.weights.version` —, fractional weights, a
 * weighted endpoint excluded) first brings `current` up to date (`resync`), drops the table and
 * scans. The table is rebuilt from the then-current state after W clean scanned picks, which bounds
 * the cost of rebuilding under frequent exclusions to about twice the plain scan. The sequence is
 * exactly the scan's in every case (a property test checks it against a reference SWRR).
 */
export class WeightedRoundRobin implements Balancer {
  private readonly slots: Int32Array;
  private readonly current: Float64Array;
  private readonly weights: Float64Array;
  private readonly live: Weights;
  /** Positions of the next picks from the state `current` (valid while `tableLen > 0`). */
  private table: Int32Array = new Int32Array(0);
  private tableLen = 0;
  /** Picks served from the table since `current` was last brought up to date. */
  private pos = 0;
  /** Weights (by position) the table was simulated with, and their version. */
  private tableWeights: Float64Array;
  private tableVersion = -1;
  /** The table's end state equals its start state: it repeats. Else `end` is the state after it. */
  private cyclic = false;
  private end: Float64Array;
  /** `current` and the table weights are integers, so resync can use counts instead of a replay. */
  private integral = false;
  /** Clean scanned picks since the table was dropped or a build failed; rebuilt at `rebuildAt`. */
  private clean = 0;
  /** 0 at first (build at once); one period after a drop; 1024 picks after a build failed. */
  private rebuildAt = 0;

  constructor(endpoints: readonly EndpointInfo[], env: BalancerEnv) {
    const n = endpoints.length;
    this.slots = Int32Array.from(endpoints, (e) => e.index);
    this.current = new Float64Array(n);
    this.weights = env.weights.values;
    this.live = env.weights;
    this.tableWeights = new Float64Array(n);
    this.end = new Float64Array(n);
  }

  pick(ctx: PickContext): number {
    const ex = ctx.excluded;
    if (this.tableLen > 0 && this.live.version === this.tableVersion && (ex === null || !this.weightedExcluded(ex))) {
      let pos = this.pos;
      if (pos === this.tableLen) {
        if (this.cyclic) pos = 0;
        else {
          this.current.set(this.end);
          this.tableLen = 0;
          this.build();
          return this.pick(ctx);
        }
      }
      this.pos = pos + 1;
      return this.slots[this.table[pos]];
    }
    if (this.tableLen > 0) this.drop();
    const k = this.scan(this.current, ex);
    if (ex === null || !this.weightedExcluded(ex)) {
      if (++this.clean >= this.rebuildAt) this.build();
    } else {
      this.clean = 0;
    }
    return k === -1 ? -1 : this.slots[k];
  }

  /** One SWRR step on `cur` (by position); returns the chosen position or -1. */
  private scan(cur: Float64Array, ex: Uint8Array | null): number {
    const slots = this.slots;
    const w = this.weights;
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
    if (best !== -1) cur[best] -= total;
    return best;
  }

  /** Whether an endpoint with a positive weight is excluded (then the table's sequence is not SWRR's). */
  private weightedExcluded(ex: Uint8Array): boolean {
    const slots = this.slots;
    const w = this.weights;
    for (let k = 0; k < slots.length; k++) {
      const slot = slots[k];
      if (ex[slot] !== 0 && w[slot] > 0) return true;
    }
    return false;
  }

  /** Σ live weights when all are integers, else 0 (no table). */
  private periodOf(): number {
    const slots = this.slots;
    const w = this.weights;
    let total = 0;
    for (let k = 0; k < slots.length; k++) {
      const wk = w[slots[k]];
      if (!(wk > 0)) continue;
      if (!Number.isInteger(wk)) return 0;
      total += wk;
    }
    return total <= MAX_PERIOD ? total : 0;
  }

  /** Simulates the next W picks from `current` into the table (when the weights allow one). */
  private build(): void {
    this.clean = 0;
    const period = this.periodOf();
    if (period === 0) {
      this.rebuildAt = 1024;
      return;
    }
    const n = this.slots.length;
    if (this.table.length < period) this.table = new Int32Array(period);
    const table = this.table;
    const cur = this.end;
    cur.set(this.current);
    for (let i = 0; i < period; i++) table[i] = this.scan(cur, null);
    let cyclic = true;
    let integral = true;
    for (let k = 0; k < n; k++) {
      if (cur[k] !== this.current[k]) cyclic = false;
      if (!Number.isInteger(this.current[k])) integral = false;
      this.tableWeights[k] = this.weights[this.slots[k]] > 0 ? this.weights[this.slots[k]] : 0;
    }
    this.cyclic = cyclic;
    this.integral = integral;
    this.tableLen = period;
    this.tableVersion = this.live.version;
    this.pos = 0;
  }

  /** Brings `current` to the state after the `pos` table picks served, then drops the table. */
  private drop(): void {
    const pos = this.pos;
    const cur = this.current;
    const n = cur.length;
    if (pos > 0) {
      const table = this.table;
      const w = this.tableWeights;
      if (this.integral) {
        // All integers (exact in doubles): current += pos·w − W·(times chosen).
        const total = this.tableLen;
        for (let k = 0; k < n; k++) cur[k] += pos * w[k];
        for (let i = 0; i < pos; i++) cur[table[i]] -= total;
      } else {
        // Replay the same additions in the same order, so rounding matches the scan's.
        for (let i = 0; i < pos; i++) {
          let total = 0;
          for (let k = 0; k < n; k++) {
            if (w[k] > 0) {
              cur[k] += w[k];
              total += w[k];
            }
          }
          cur[table[i]] -= total;
        }
      }
    }
    this.rebuildAt = this.tableLen;
    this.tableLen = 0;
    this.pos = 0;
    this.clean = 0;
  }
}

registerAlgorithm({
  name: 'weighted-round-robin',
  summary: "nginx's smooth weighted round robin: each endpoint chosen in proportion to its weight, interleaved.",
  explainNote: 'the next endpoint of the smooth weighted rotation (not advanced by explain)',
  weighted: true,
  create: (endpoints, env) => new WeightedRoundRobin(endpoints, env),
});
