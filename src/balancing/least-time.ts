/**
 * Least time (`least-time`): the semantics of nginx's `least_time` directive (NGINX Plus,
 * ngx_http_upstream_module docs): the endpoint with the lowest average response time and fewest
 * active requests, taking weights into account. Fulcrum scores each choosable endpoint
 *
 *     score_i = ewma_i × (1 + inFlight_i) / weight_i
 *
 * with ewma_i the EWMA (alpha 0.2, LoadCounters) of the time to the response head
 * (`measure: header`, default, nginx's `header`) or to the last byte (`measure: last-byte`), and
 * weight_i the live effective weight (`env.weights.values`, so slow start applies).
 *
 * An endpoint with no measurement yet (EWMA 0) counts as best: its EWMA is taken to be the lowest
 * EWMA measured among the choosable endpoints of this pick, so a new endpoint is tried at once but
 * is not flooded while its first responses are still in flight (its score still grows with its
 * in-flight count). When nothing is measured the algorithm is weighted least connections on
 * (1 + inFlight) / weight. Among equal scores an unmeasured endpoint wins, then the one met first
 * in rotation order (the scan starts just after the previous pick — never always the lowest index).
 * Weight 0 is never chosen; -1 when nothing is choosable. One O(N) scan per pick, allocation-free.
 */
import { registerAlgorithm } from './registry.ts';
import { ALGORITHM_OPTION_SCHEMAS } from '../config/schema.ts';
import type { LoadCounters } from './load.ts';
import type { Balancer, BalancerEnv, EndpointInfo, PickContext } from './types.ts';

/** Parsed `leastTime` options: `measure` is `header` (default) or `last-byte`. */
export interface LeastTimeOptions {
  readonly measure: 'header' | 'last-byte';
}

export class LeastTime implements Balancer {
  private readonly slots: Int32Array;
  private readonly weights: Float64Array;
  private readonly inFlight: Int32Array;
  /** headerEwma or latencyEwma of the pool's LoadCounters, by slot. */
  private readonly ewma: Float64Array;
  /** Position where the next scan starts (one past the last pick). */
  private next = 0;

  constructor(endpoints: readonly EndpointInfo[], env: BalancerEnv, options: LeastTimeOptions) {
    const load: LoadCounters = env.load;
    this.slots = Int32Array.from(endpoints, (e) => e.index);
    this.weights = env.weights.values;
    this.inFlight = load.inFlight;
    this.ewma = options.measure === 'last-byte' ? load.latencyEwma : load.headerEwma;
  }

  pick(ctx: PickContext): number {
    const slots = this.slots;
    const weights = this.weights;
    const inFlight = this.inFlight;
    const ewma = this.ewma;
    const ex = ctx.excluded;
    const n = slots.length;
    // Best measured endpoint by ewma × (1 + inFlight) / w; best unmeasured by (1 + inFlight) / w.
    let bestM = -1;
    let bestMScore = 0;
    let bestU = -1;
    let bestUScore = 0;
    let minEwma = Infinity;
    let k = this.next;
    for (let step = 0; step < n; step++) {
      if (k >= n) k = 0;
      const slot = slots[k];
      const w = weights[slot];
      if (w > 0 && (ex === null || ex[slot] === 0)) {
        const e = ewma[slot];
        const q = (1 + inFlight[slot]) / w;
        if (e > 0) {
          if (e < minEwma) minEwma = e;
          const s = e * q;
          if (bestM === -1 || s < bestMScore) {
            bestM = k;
            bestMScore = s;
          }
        } else if (bestU === -1 || q < bestUScore) {
          bestU = k;
          bestUScore = q;
        }
      }
      k++;
    }
    let best = bestM;
    if (bestU !== -1 && (bestM === -1 || minEwma * bestUScore <= bestMScore)) best = bestU;
    if (best === -1) return -1;
    this.next = best + 1;
    return slots[best];
  }
}

registerAlgorithm({
  name: 'least-time',
  summary: "nginx's least_time: lowest EWMA response time × (1 + in-flight) per unit of weight; unmeasured endpoints tried first.",
  weighted: true,
  optionsKey: 'leastTime',
  create: (endpoints, env, options) =>
    new LeastTime(endpoints, env, (options as LeastTimeOptions | undefined) ?? ALGORITHM_OPTION_SCHEMAS.leastTime.parse({})),
});
