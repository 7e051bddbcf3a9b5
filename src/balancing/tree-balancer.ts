/**
 * What `least-connections` and `least-time` share: load-based picks served from min segment trees
 * (min-tree.ts) that follow the pool's LoadCounters. The balancer is the counters' watcher —
 * start()/end() refresh one position — and the trees are rebuilt in O(N) when the live weights
 * change (env.weights.version) or the counters changed behind its back (LoadCounters.version).
 * Positions whose score is not finite are flagged and the subclass's O(N) scan decides instead;
 * pools of at most SCAN_MAX endpoints (or listing a slot twice) always scan.
 */
import type { LoadCounters, LoadWatcher } from './load.ts';
import type { Balancer, BalancerEnv, EndpointInfo, PickContext, Weights } from './types.ts';

/** More excluded endpoints than this coming out best in one pick: scan instead. */
export const MAX_MASKED = 32;
/**
 * Pools of at most this many endpoints just scan (measured: at N = 3 the scan costs about what one
 * tree update does, and start()/end() then notify nobody).
 */
export const SCAN_MAX = 16;

export abstract class TreeBalancer implements Balancer, LoadWatcher {
  protected readonly slots: Int32Array;
  /** Live effective weights by slot (env.weights.values), read at every pick. */
  protected readonly weights: Float64Array;
  protected readonly load: LoadCounters;
  protected readonly inFlight: Int32Array;
  /** Position in the endpoint list where the next scan starts (one past the last pick). */
  protected next = 0;
  /** Positions masked during the current pick. */
  protected readonly masked: Int32Array;
  private readonly liveWeights: Weights;
  /** Position of each slot in the endpoint list, −1 when absent. */
  private readonly posOf: Int32Array;
  /** Positions whose score is not finite (flagged), and how many: the trees are not used then. */
  private readonly odd: Uint8Array;
  private oddCount = 0;
  /** A slot listed twice, or a small pool (≤ SCAN_MAX): always scan, no trees kept. */
  private readonly scanOnly: boolean;
  /** LoadCounters.version and Weights.version the trees reflect (−1: never built). */
  private seenLoad = -1;
  private seenWeights = -1;

  constructor(endpoints: readonly EndpointInfo[], env: BalancerEnv) {
    this.slots = Int32Array.from(endpoints, (e) => e.index);
    this.liveWeights = env.weights;
    this.weights = env.weights.values;
    this.load = env.load;
    this.inFlight = env.load.inFlight;
    const n = this.slots.length;
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

  /** Recomputes position p in the trees (only the leaves when `leavesOnly`, before a build). */
  protected abstract refresh(p: number, leavesOnly: boolean): void;
  /** Rebuilds every inner node of the trees from their leaves. */
  protected abstract buildTrees(): void;
  /** The tree-served pick (trees current, no odd position, pool not empty). */
  protected abstract pickTree(ex: Uint8Array | null): number;
  /** The O(N) scan, for the cases the trees do not serve. */
  protected abstract scan(ex: Uint8Array | null): number;

  /** LoadWatcher: endpoint slot i's counters changed (called by LoadCounters). */
  changed(i: number): void {
    const v = this.load.version;
    // Only stay current if nothing was missed; otherwise the next pick rebuilds.
    if (this.seenLoad !== v - 1) return;
    this.seenLoad = v;
    const p = i < this.posOf.length ? this.posOf[i] : -1;
    if (p >= 0) this.refresh(p, false);
  }

  /** Records whether position p's score is finite (o = 0) or not (o = 1). */
  protected flag(p: number, o: number): void {
    const was = this.odd[p];
    if (was !== o) {
      this.odd[p] = o;
      this.oddCount += o - was;
    }
  }

  private rebuild(): void {
    for (let p = 0; p < this.slots.length; p++) this.refresh(p, true);
    this.buildTrees();
    this.seenLoad = this.load.version;
    this.seenWeights = this.liveWeights.version;
    // Claim the counters' change notifications (another balancer over them may have taken them).
    if (this.load.watching !== this) this.load.watch(this);
  }

  pick(ctx: PickContext): number {
    if (this.scanOnly) return this.slots.length === 0 ? -1 : this.scan(ctx.excluded);
    if (this.seenLoad !== this.load.version || this.seenWeights !== this.liveWeights.version) this.rebuild();
    if (this.oddCount !== 0) return this.scan(ctx.excluded);
    return this.pickTree(ctx.excluded);
  }
}
