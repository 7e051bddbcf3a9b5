/**
 * Least connections (`least-connections`): the endpoint with the fewest requests in flight per unit
 * of weight (inFlight / weight, compared as inFlight_a × weight_b < inFlight_b × weight_a, as
 * nginx's least_conn). Ties are broken by rotation: the scan starts just after the previous pick,
 * so equally loaded endpoints take turns instead of the lowest index taking everything (which
 * matters when the data path has not yet counted the previous pick as in flight).
 */
import { registerAlgorithm } from './registry.ts';
import type { LoadCounters } from './load.ts';
import type { Balancer, BalancerEnv, EndpointInfo, PickContext } from './types.ts';

/**
 * Reads `env.load.inFlight` and the live effective weights `env.weights.values` (so slow start
 * applies); weight 0 is never chosen. First pick scans from the first endpoint. O(N) per pick.
 */
export class LeastConnections implements Balancer {
  private readonly slots: Int32Array;
  /** Live effective weights by slot (env.weights.values), read at every pick. */
  private readonly weights: Float64Array;
  private readonly load: LoadCounters;
  /** Position in the endpoint list where the next scan starts (one past the last pick). */
  private next = 0;

  constructor(endpoints: readonly EndpointInfo[], env: BalancerEnv) {
    this.slots = Int32Array.from(endpoints, (e) => e.index);
    this.weights = env.weights.values;
    this.load = env.load;
  }

  pick(ctx: PickContext): number {
    const n = this.slots.length;
    const ex = ctx.excluded;
    const inFlight = this.load.inFlight;
    let best = -1;
    let bestLoad = 0;
    let bestWeight = 1;
    let k = this.next;
    for (let step = 0; step < n; step++) {
      if (k >= n) k = 0;
      const slot = this.slots[k];
      const w = this.weights[slot];
      if (w > 0 && (ex === null || ex[slot] === 0)) {
        const load = inFlight[slot];
        // Strictly less: among equals the first met in rotation order wins.
        if (best === -1 || load * bestWeight < bestLoad * w) {
          best = k;
          bestLoad = load;
          bestWeight = w;
        }
      }
      k++;
    }
    if (best === -1) return -1;
    this.next = best + 1;
    return this.slots[best];
  }
}

registerAlgorithm({
  name: 'least-connections',
  summary: 'Fewest requests in flight per unit of weight; ties broken by rotation.',
  weighted: true,
  create: (endpoints, env) => new LeastConnections(endpoints, env),
});
