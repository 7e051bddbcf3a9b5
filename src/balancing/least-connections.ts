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
import type { LoadCounters, LoadWatcher } from './load.ts';
import type { Balancer, BalancerEnv, EndpointInfo, PickContext, Weights } from './types.ts';

/** More excluded endpoints than this coming out best in one pick: scan instead. */
const MAX_MASKED = 32;
/**
 * Pools of at most this many endpoints just scan (measured: at N = 3 the scan costs about what one
 * tree update does, and start()/end() then notify nobody).
 */
const SCAN_MAX = 16;

/**
 * Reads `env.load.inFlight` and the live effective weights `env.weights.values` (so slow start
 * applies); weight 0 is never chosen. First pick starts from the first endpoint. O(log N) per pick.
 */
export class LeastConnections implements Balancer, LoadWatcher {
  private readonly slots: Int32Array;
  /** Live effective weights by slot (env.weights.values), read at every pick. */
  private readonly weights: Float64Array;
  private readonly liveWeights: Weights;
  private readonly load: LoadCounters;
  private readonly inFlight: Int32Array;
  /** Position in the endpoint list where the next scan starts (one past the last pick). */
  private next = 0;
  /** inFlight / weight by position; +Infinity when weight ≤ 0 (or masked as excluded). */
  private readonly tree: MinTree;
  /** Position of each slot in the endpoint list, −1 when absent. */
  private readonly posOf: Int32Array;
  /** Positions whose score is not finite (flagged), and how many: the tree is not used then. */
  private readonly odd: Uint8Array;
  private oddCount = 0;
  /** A slot listed twice, or a small pool (≤ SCAN_MAX): always scan, no trees kept. */
  private readonly scanOnly: boolean;
  /** LoadCounters.version and Weights.version the tree reflects (−1: never built). */
  private seenLoad = -1;
  private seenWeights = -1;
  /** Positions masked during the current pick. */
  private readonly masked: Int32Array;

  constructor(endpoints: readonly EndpointInfo[], env: BalancerEnv) {
    this.slots = Int32Array.from(endpoints, (e) => e.index);
    this.liveWeights = env.weights;
    this.weights = env.weights.values;
    this.load = env.load;
    this.inFlight = env.load.inFlight;
    const n = this.slots.length;
    this.tree = new MinTree(n);
    this.odd = new Uint8Array(n);
    this.masked = new Int32Array(Math.min(n, MAX_MASKED));
    let maxSlot = this.load.size - 1;
    for (let p = 0; p < n; p++) if (this.slots[p] > maxSlot) maxSlot = this.slots[p];
    this.posOf = new Int32Array(maxSlot + 1).fill(-1);
    let duplicate = false;
    for (let p = 0; p < n; p++) {
      const s = this.slots[p];
      if (this.posOf[s] !== -1) duplicate = true;
      this.posOf[s] = p;
    }
    this.scanOnly = duplicate || n <= SCAN_MAX;
    if (!this.scanOnly) this.load.watch(this);
  }

  /** LoadWatcher: endpoint slot i's counters changed (called by LoadCounters). */
  changed(i: number): void {
    const v = this.load.version;
    // Only stay current if nothing was missed; otherwise the next pick rebuilds.
    if (this.seenLoad !== v - 1) return;
    this.seenLoad = v;
    const p = i < this.posOf.length ? this.posOf[i] : -1;
    if (p >= 0) this.tree.update(p, this.score(p));
  }

  /** Score of position p, flagging non-finite ones in `odd`. */
  private score(p: number): number {
    const slot = this.slots[p];
    const w = this.weights[slot];
    if (!(w > 0)) return this.flag(p, 0, Infinity);
    const s = this.inFlight[slot] / w;
    return s - s === 0 ? this.flag(p, 0, s) : this.flag(p, 1, Infinity);
  }

  private flag(p: number, o: number, s: number): number {
    const was = this.odd[p];
    if (was !== o) {
      this.odd[p] = o;
      this.oddCount += o - was;
    }
    return s;
  }

  private rebuild(): void {
    const tree = this.tree;
    for (let p = 0; p < this.slots.length; p++) tree.setLeaf(p, this.score(p));
    tree.build();
    this.seenLoad = this.load.version;
    this.seenWeights = this.liveWeights.version;
    // Claim the counters' change notifications (another balancer over them may have taken them).
    if (this.load.watching !== this) this.load.watch(this);
  }

  pick(ctx: PickContext): number {
    if (this.scanOnly) return this.slots.length === 0 ? -1 : this.scan(ctx.excluded);
    if (this.seenLoad !== this.load.version || this.seenWeights !== this.liveWeights.version) this.rebuild();
    if (this.oddCount !== 0) return this.scan(ctx.excluded);
    const tree = this.tree;
    if (tree.val[1] === Infinity) return -1;
    let best = tree.firstMinFrom(this.next);
    const ex = ctx.excluded;
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
  private scan(ex: Uint8Array | null): number {
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
  weighted: true,
  create: (endpoints, env) => new LeastConnections(endpoints, env),
});
