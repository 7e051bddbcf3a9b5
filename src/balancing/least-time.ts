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
 * Weight 0 is never chosen; -1 when nothing is choosable.
 *
 * O(log N) per pick, allocation-free: three min segment trees (min-tree.ts) over the endpoint
 * positions — measured endpoints by ewma × (1 + inFlight) / w, unmeasured ones by (1 + inFlight) / w,
 * and measured EWMAs alone (their minimum is what an unmeasured endpoint is scored with). Each
 * tree's first minimum in rotation order is the scan's best of that set, and the two candidates
 * are compared exactly as the scan compares them. The trees follow the LoadCounters (this
 * balancer is their watcher: start()/end() update one position) and are rebuilt in O(N) when the
 * live weights change or the counters changed behind their back (LoadCounters.version). Excluded
 * endpoints that come out as one of the three answers are masked for the pick and the trees asked
 * again; non-finite scores fall back to the O(N) scan, and pools of at most 16 endpoints just scan
 * (cheaper there than keeping the trees).
 */
import { registerAlgorithm } from './registry.ts';
import { ALGORITHM_OPTION_SCHEMAS } from '../config/schema.ts';
import { MinTree } from './min-tree.ts';
import { TreeBalancer } from './tree-balancer.ts';
import type { LoadCounters } from './load.ts';
import type { BalancerEnv, EndpointInfo } from './types.ts';

/** Parsed `leastTime` options: `measure` is `header` (default) or `last-byte`. */
export interface LeastTimeOptions {
  readonly measure: 'header' | 'last-byte';
}

export class LeastTime extends TreeBalancer {
  /** headerEwma or latencyEwma of the pool's LoadCounters, by slot. */
  private readonly ewma: Float64Array;
  /** Measured endpoints: ewma × ((1 + inFlight) / w); +Infinity for the others. */
  private readonly measured: MinTree;
  /** Unmeasured endpoints: (1 + inFlight) / w; +Infinity for the others. */
  private readonly unmeasured: MinTree;
  /** Measured endpoints: ewma; +Infinity for the others. */
  private readonly ewmas: MinTree;

  constructor(endpoints: readonly EndpointInfo[], env: BalancerEnv, options: LeastTimeOptions) {
    super(endpoints, env);
    const load: LoadCounters = env.load;
    this.ewma = options.measure === 'last-byte' ? load.latencyEwma : load.headerEwma;
    const n = this.slots.length;
    this.measured = new MinTree(n);
    this.unmeasured = new MinTree(n);
    this.ewmas = new MinTree(n);
  }

  /** Recomputes position p's keys in the three trees (leaves only when `leavesOnly`). */
  protected refresh(p: number, leavesOnly: boolean): void {
    const slot = this.slots[p];
    const w = this.weights[slot];
    let m = Infinity;
    let u = Infinity;
    let e = Infinity;
    let o = 0;
    if (w > 0) {
      const ew = this.ewma[slot];
      const q = (1 + this.inFlight[slot]) / w;
      if (ew > 0) {
        const s = ew * q;
        // Non-finite ew or score: flagged, the scan decides (same for q below).
        if (s - s === 0 && ew - ew === 0) {
          m = s;
          e = ew;
        } else o = 1;
      } else if (q - q === 0) u = q;
      else o = 1;
    }
    this.flag(p, o);
    if (leavesOnly) {
      this.measured.setLeaf(p, m);
      this.unmeasured.setLeaf(p, u);
      this.ewmas.setLeaf(p, e);
    } else {
      this.measured.update(p, m);
      this.unmeasured.update(p, u);
      this.ewmas.update(p, e);
    }
  }

  private mask(p: number): void {
    this.measured.update(p, Infinity);
    this.unmeasured.update(p, Infinity);
    this.ewmas.update(p, Infinity);
  }

  protected buildTrees(): void {
    this.measured.build();
    this.unmeasured.build();
    this.ewmas.build();
  }

  protected pickTree(ex: Uint8Array | null): number {
    const slots = this.slots;
    const mt = this.measured;
    const ut = this.unmeasured;
    const et = this.ewmas;
    let count = 0;
    let best = -1;
    for (;;) {
      const bestMScore = mt.val[1];
      const bestUScore = ut.val[1];
      const bestM = bestMScore === Infinity ? -1 : mt.firstMinFrom(this.next);
      const bestU = bestUScore === Infinity ? -1 : ut.firstMinFrom(this.next);
      if (ex !== null) {
        // An excluded endpoint among the answers (either best, or the lowest EWMA): mask, ask again.
        let x = -1;
        if (bestM !== -1 && ex[slots[bestM]] !== 0) x = bestM;
        else if (bestU !== -1 && ex[slots[bestU]] !== 0) x = bestU;
        else if (et.val[1] !== Infinity && ex[slots[et.idx[1]]] !== 0) x = et.idx[1];
        if (x !== -1) {
          if (count === this.masked.length) {
            best = -2;
            break;
          }
          this.masked[count++] = x;
          this.mask(x);
          continue;
        }
      }
      // The lowest measured EWMA among the choosable endpoints (+Infinity when none, as the scan).
      const minEwma = et.val[1];
      best = bestM;
      if (bestU !== -1 && (bestM === -1 || minEwma * bestUScore <= bestMScore)) best = bestU;
      break;
    }
    for (let j = 0; j < count; j++) this.refresh(this.masked[j], false);
    if (best === -2) return this.scan(ex);
    if (best === -1) return -1;
    this.next = best + 1;
    return slots[best];
  }

  /** The O(N) scan, for the cases the trees do not serve. */
  protected scan(ex: Uint8Array | null): number {
    const slots = this.slots;
    const weights = this.weights;
    const inFlight = this.inFlight;
    const ewma = this.ewma;
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
  explainNote: 'the endpoint with the lowest EWMA response time × (1 + in-flight) per unit of weight right now',
  weighted: true,
  optionsKey: 'leastTime',
  create: (endpoints, env, options) =>
    new LeastTime(endpoints, env, (options as LeastTimeOptions | undefined) ?? ALGORITHM_OPTION_SCHEMAS.leastTime.parse({})),
});
