/**
 * Least connections (`least-connections`): the endpoint with the fewest requests in flight per unit
 * of weight (inFlight / weight, as nginx's least_conn). Ties are broken by rotation: the choice is
 * the first minimum met scanning cyclically from just after the previous pick, so equally loaded
 * endpoints take turns instead of the lowest index taking everything (which matters when the data
 * path has not yet counted the previous pick as in flight).
 *
 * O(log N) per pick: the scores sit in a min segment tree (min-tree.ts) kept in step with the
 * LoadCounters (this balancer is their watcher: start()/end() update one leaf) and rebuilt in O(N)
 * when the live weights change (env.weights.version) or the counters changed behind its back
 * (LoadCounters.version). Excluded endpoints (ctx.excluded) that come out best are masked for the
 * pick and the tree asked again. Non-finite scores (absurd weights) fall back to the O(N) scan, and
 * pools of at most 16 endpoints just scan (cheaper there than keeping the tree).
 * Same choices as the scan: scores compare as inFlight / weight, which orders exactly as nginx's
 * inFlight_a × weight_b < inFlight_b × weight_a for integer weights (all configured weights).
 */
import { registerAlgorithm } from './registry.ts';
import { MinTree } from './min-tree.ts';
import { TreeBalancer } from './tree-balancer.ts';
import type { BalancerEnv, EndpointInfo } from './types.ts';

/**
 * Reads `env.load.inFlight` and the live effective weights `env.weights.values` (so slow start
 * applies); weight 0 is never chosen. First pick starts from the first endpoint. O(log N) per pick.
 */
export class LeastConnections extends TreeBalancer {
  /** inFlight / weight by position; +Infinity when weight ≤ 0 (or masked as excluded). */
  private readonly tree: MinTree;

  constructor(endpoints: readonly EndpointInfo[], env: BalancerEnv) {
    super(endpoints, env);
    this.tree = new MinTree(this.slots.length);
  }

  /** Score of position p (inFlight / weight; +Infinity when weight ≤ 0), flagging non-finite ones. */
  private score(p: number): number {
    const slot = this.slots[p];
    const w = this.weights[slot];
    let s = Infinity;
    let o = 0;
    if (w > 0) {
      const r = this.inFlight[slot] / w;
      if (r - r === 0) s = r;
      else o = 1;
    }
    this.flag(p, o);
    return s;
  }

  protected refresh(p: number, leavesOnly: boolean): void {
    if (leavesOnly) this.tree.setLeaf(p, this.score(p));
    else this.tree.update(p, this.score(p));
  }

  protected buildTrees(): void {
    this.tree.build();
  }

  protected pickTree(ex: Uint8Array | null): number {
    const tree = this.tree;
    if (tree.val[1] === Infinity) return -1;
    let best = tree.firstMinFrom(this.next);
    if (ex !== null && ex[this.slots[best]] !== 0) {
      best = this.pickExcluding(ex, best);
      if (best === -2) return this.scan(ex);
      if (best === -1) return -1;
    }
    this.next = best + 1;
    return this.slots[best];
  }

  /**
   * The best position not excluded, given that `first` (the tree's best) is excluded: masks
   * excluded winners one at a time and asks again, then restores them. −1 when none is left, −2
   * when too many had to be masked (the caller scans).
   */
  private pickExcluding(ex: Uint8Array, first: number): number {
    const tree = this.tree;
    const slots = this.slots;
    const masked = this.masked;
    let count = 0;
    let best = first;
    let result = -1;
    for (;;) {
      if (count === masked.length) {
        result = -2;
        break;
      }
      masked[count++] = best;
      tree.update(best, Infinity);
      if (tree.val[1] === Infinity) break;
      best = tree.firstMinFrom(this.next);
      if (ex[slots[best]] === 0) {
        result = best;
        break;
      }
    }
    for (let j = 0; j < count; j++) tree.update(masked[j], this.score(masked[j]));
    return result;
  }

  /** The O(N) scan (nginx's cross-multiplied comparison), for the cases the tree does not serve. */
  protected scan(ex: Uint8Array | null): number {
    const n = this.slots.length;
    const inFlight = this.inFlight;
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
  explainNote: 'the endpoint with the fewest requests in flight per unit of weight right now (ties: the next in rotation)',
  weighted: true,
  create: (endpoints, env) => new LeastConnections(endpoints, env),
});
