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
import { TwoChoices, TWO_CHOICE_REDRAWS } from './two-choices.ts';

/** Parsed `peakEwma` options (ms): `decay` τ (default 10 000), `prior` (default 30). */
export interface PeakEwmaOptions {
  readonly decay: number;
  readonly prior: number;
}

/** Random positions tried per draw when some endpoints are not choosable, before an exact scan. */
export const PEAK_EWMA_REDRAWS = TWO_CHOICE_REDRAWS;

export class PeakEwma implements Balancer {
  private readonly two: TwoChoices;
  private readonly env: BalancerEnv;
  private readonly load: LoadCounters;
  private readonly prior: number;

  constructor(endpoints: readonly EndpointInfo[], env: BalancerEnv, options: PeakEwmaOptions) {
    this.two = new TwoChoices(endpoints, env.random);
    this.env = env;
    this.load = env.load;
    this.prior = options.prior;
    // τ lives on the LoadCounters because end() applies it; the balancer is built from the same
    // config section, so it sets it here too (idempotent; the pool runtime may also set it).
    env.load.setPeakEwmaDecay(options.decay);
  }

  pick(ctx: PickContext): number {
    const two = this.two;
    if (!two.draw(ctx.excluded)) return -1;
    const slots = two.slots;
    if (two.b === -1) return slots[two.a];
    const a = two.a;
    const b = two.b;
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
  explainNote: 'one random draw of two candidates, the lower peak-EWMA cost wins: another draw may differ',
  optionsKey: 'peakEwma',
  create: (endpoints, env, options) =>
    new PeakEwma(endpoints, env, (options as PeakEwmaOptions | undefined) ?? ALGORITHM_OPTION_SCHEMAS.peakEwma.parse({})),
});
