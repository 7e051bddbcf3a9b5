/**
 * Peak-EWMA (`peak-ewma`): Finagle's `Balancers.p2cPeakEwma` and linkerd2-proxy's (tower's)
 * `PeakEwma` — latency-aware power of two choices.
 *
 * Per endpoint i a peak-sensitive EWMA cost c_i of the response time lives in the pool's
 * LoadCounters (so it survives balancer rebuilds and reloads); the data path feeds it on every
 * `end(i, failed, totalMs, headerMs, nowMs)`. Formulas (see load.ts): on a response with rtt r at
 * time t, w = exp(−(t − s_i)/τ); c_i = r if r > c_i, else c_i·w + r·(1 − w); s_i = t. At read time
 * the cost decays towards 0: cost_i(now) = c_i · exp(−(now − s_i)/τ). τ = `peakEwma.decay`
 * (default 10 s; set on the LoadCounters). An endpoint with no response yet costs `peakEwma.prior`
 * (default 30 ms).
 *
 *     load_i = cost_i(now) × (inFlight_i + 1)
 *
 * Choice: P2C (Mitzenmacher 2001) — two DISTINCT choosable endpoints drawn uniformly with
 * env.random; the lower load wins; on equal loads the one with fewer in flight, then the first
 * drawn. One choosable endpoint → it; none → -1. Weights are not used except that weight 0 is never
 * chosen (as Finagle and Linkerd, which do not weight). At most one exp() per pick, allocation-free.
 */
import { registerAlgorithm } from './registry.ts';
import { ALGORITHM_OPTION_SCHEMAS } from '../config/schema.ts';
import type { LoadCounters } from './load.ts';
import type { Balancer, BalancerEnv, EndpointInfo, PickContext } from './types.ts';

/** Parsed `peakEwma` options (ms): `decay` τ (default 10 000), `prior` (default 30). */
export interface PeakEwmaOptions {
  readonly decay: number;
  readonly prior: number;
}

/** Random positions tried per draw when some endpoints are not choosable, before an exact scan. */
export const PEAK_EWMA_REDRAWS = 8;

export class PeakEwma implements Balancer {
  private readonly slots: Int32Array;
  private readonly usable: Uint8Array;
  private readonly allUsable: boolean;
  private readonly env: BalancerEnv;
  private readonly load: LoadCounters;
  private readonly prior: number;

  constructor(endpoints: readonly EndpointInfo[], env: BalancerEnv, options: PeakEwmaOptions) {
    this.slots = Int32Array.from(endpoints, (e) => e.index);
    this.usable = Uint8Array.from(endpoints, (e) => (e.weight > 0 ? 1 : 0));
    this.allUsable = this.usable.every((u) => u === 1);
    this.env = env;
    this.load = env.load;
    this.prior = options.prior;
    // τ lives on the LoadCounters because end() applies it; the balancer is built from the same
    // config section, so it sets it here too (idempotent; the pool runtime may also set it).
    env.load.setPeakEwmaDecay(options.decay);
  }

  /** A uniformly random choosable position other than `avoid`, or -1 when there is none. */
  private draw(ex: Uint8Array | null, avoid: number): number {
    const slots = this.slots;
    const usable = this.usable;
    const n = slots.length;
    for (let t = 0; t < PEAK_EWMA_REDRAWS; t++) {
      let k = Math.floor(this.env.random() * n);
      if (k >= n) k = n - 1;
      if (k !== avoid && usable[k] === 1 && (ex === null || ex[slots[k]] === 0)) return k;
    }
    let c = 0;
    for (let k = 0; k < n; k++) if (k !== avoid && usable[k] === 1 && (ex === null || ex[slots[k]] === 0)) c++;
    if (c === 0) return -1;
    let r = Math.floor(this.env.random() * c);
    if (r >= c) r = c - 1;
    for (let k = 0; k < n; k++) {
      if (k !== avoid && usable[k] === 1 && (ex === null || ex[slots[k]] === 0) && r-- === 0) return k;
    }
    return -1;
  }

  pick(ctx: PickContext): number {
    const slots = this.slots;
    const n = slots.length;
    const ex = ctx.excluded;
    let a: number;
    let b: number;
    if (ex === null && this.allUsable) {
      if (n <= 1) return n === 1 ? slots[0] : -1;
      a = Math.floor(this.env.random() * n);
      if (a >= n) a = n - 1;
      b = Math.floor(this.env.random() * (n - 1));
      if (b >= n - 1) b = n - 2;
      if (b >= a) b++;
    } else {
      a = this.draw(ex, -1);
      if (a === -1) return -1;
      b = this.draw(ex, a);
      if (b === -1) return slots[a];
    }
    const sa = slots[a];
    const sb = slots[b];
    const load = this.load;
    const now = this.env.now();
    const fa = load.inFlight[sa];
    const fb = load.inFlight[sb];
    const ca = load.peakCost[sa];
    const cb = load.peakCost[sb];
    let la: number;
    let lb: number;
    if (ca >= 0 && cb >= 0) {
      // Both measured: cost_x(now) = c_x·exp(−(now − s_x)/τ). Dividing both loads by the common
      // factor exp(−(now − max(s_a, s_b))/τ) leaves ONE exp: the older stamp's cost decays by
      // exp(−|s_a − s_b|/τ). Stamps after `now` count as `now` (no decay backwards in time).
      const ta = load.peakStamp[sa] < now ? load.peakStamp[sa] : now;
      const tb = load.peakStamp[sb] < now ? load.peakStamp[sb] : now;
      la = ca * (fa + 1);
      lb = cb * (fb + 1);
      if (ta < tb) la *= Math.exp((ta - tb) / load.peakEwmaDecay);
      else if (tb < ta) lb *= Math.exp((tb - ta) / load.peakEwmaDecay);
    } else {
      la = load.peakEwmaCost(sa, now, this.prior) * (fa + 1);
      lb = load.peakEwmaCost(sb, now, this.prior) * (fb + 1);
    }
    return lb < la || (lb === la && fb < fa) ? sb : sa;
  }
}

registerAlgorithm({
  name: 'peak-ewma',
  summary: 'Finagle/Linkerd peak-EWMA: P2C on peak-sensitive EWMA latency × (in-flight + 1); decay τ 10 s, prior 30 ms.',
  optionsKey: 'peakEwma',
  create: (endpoints, env, options) =>
    new PeakEwma(endpoints, env, (options as PeakEwmaOptions | undefined) ?? ALGORITHM_OPTION_SCHEMAS.peakEwma.parse({})),
});
