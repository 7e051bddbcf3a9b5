/**
 * Rendezvous hashing (`rendezvous`): highest random weight (Thaler & Ravishankar, "Using name-based
 * mappings to increase hit rates", IEEE/ACM ToN 1998), weighted with the logarithmic method of
 * Schindelhauer & Schomaker ("Weighted distributed hash tables", SPAA 2005): endpoint i scores
 * −w_i / ln(h_i(key)) with h_i uniform in (0, 1); the highest score wins. Endpoint i then takes a
 * w_i / Σw share of the keys, and removing (or excluding) an endpoint moves only its own keys, each
 * to its second-best endpoint — no other key moves.
 *
 * Hashes: the key's CRC-32 (slicing-by-4, four bytes per step) is combined with each endpoint's seed (MurmurHash3 fmix32 of the
 * FNV-1a of its address as written) through fmix32, h = (fmix32(key ^ seed) + 0.5) / 2^32. Scores
 * depend on the key and the address only, so every Fulcrum instance, whatever its list order,
 * routes a key alike (exact ties, ~N/2^32 per key, go to the lower seed).
 *
 * Weights are live (factory `weighted`): read from env.weights at every pick, so slow start ramps
 * an endpoint's share without a rebuild (a copy in list order is refreshed when env.weights.version
 * moves); weight 0 is never chosen. A pick scores all N endpoints (O(N), no allocation; ~4 ns per
 * endpoint on the bench machine, one fmix32 each — inherent to rendezvous); the logarithm is skipped for an endpoint whose upper bound
 * (u − 1)/w ≥ ln(u)/w cannot beat the best so far, so only O(log N) logarithms are taken on average.
 *
 * A missing or empty key (as nginx treats an empty `hash` key) is balanced by smooth weighted round
 * robin over the live weights (nginx's), skipping excluded and filter-refused endpoints.
 */
import { registerAlgorithm } from './registry.ts';
import type { BalancerEnv, CandidateFilter, EndpointInfo, HashingBalancer, KeyLocation, PickContext, Weights } from './types.ts';
import { crc32Fast, fnv1a32, mix32 } from '../core/hash.ts';
import { keyCrc32 } from './key-hash.ts';

const ALWAYS: CandidateFilter = { accept: () => true };
const TWO_POW_M32 = 2 ** -32;
/** Relative slack on the pruning bound, so a logarithm 1 ulp off can never prune the true best. */
const SLACK = 1 + 2 ** -30;

export class Rendezvous implements HashingBalancer {
  /** Endpoint slot by list position. */
  private readonly slots: Int32Array;
  /** Per-position seed: fmix32(FNV-1a(address)), as int32 (compared unsigned on ties). */
  private readonly seeds: Int32Array;
  /** Live effective weights by endpoint slot (env.weights.values). */
  private readonly weights: Float64Array;
  /** The live weights object (null without env: weights fixed), for its version. */
  private readonly live: Weights | null;
  /** Weights by list position, copied from `weights` when `live.version` moves (-1: never). */
  private readonly posWeights: Float64Array;
  private posVersion = -1;
  /** Smooth weighted round robin state (by position) for keyless picks. */
  private readonly current: Float64Array;

  /** `env` supplies the live weights; without it the configured weights are used, fixed. */
  constructor(endpoints: readonly EndpointInfo[], env?: BalancerEnv) {
    const n = endpoints.length;
    this.slots = Int32Array.from(endpoints, (e) => e.index);
    this.seeds = Int32Array.from(endpoints, (e) => mix32(fnv1a32(e.address)) | 0);
    this.posWeights = new Float64Array(n);
    this.current = new Float64Array(n);
    if (env !== undefined) {
      this.weights = env.weights.values;
      this.live = env.weights;
    } else {
      this.live = null;
      let size = 0;
      for (const e of endpoints) size = Math.max(size, e.index + 1);
      this.weights = new Float64Array(size);
      for (const e of endpoints) this.weights[e.index] = e.weight;
    }
  }

  pick(ctx: PickContext): number {
    return this.pickFiltered(ctx, ALWAYS);
  }

  /** The highest-scoring endpoint that is neither excluded nor refused by `filter` (one pass). */
  pickFiltered(ctx: PickContext, filter: CandidateFilter): number {
    const h = keyCrc32(ctx);
    if (h < 0) return this.keyless(ctx.excluded, filter);
    const kh = h | 0;
    const live = this.live;
    if (live === null ? this.posVersion === -1 : live.version !== this.posVersion) this.syncWeights();
    const slots = this.slots;
    const seeds = this.seeds;
    const pw = this.posWeights;
    const n = pw.length;
    const ex = ctx.excluded;
    let best = -Infinity;
    let bound = -Infinity;
    let bestK = -1;
    for (let k = 0; k < n; k++) {
      const w = pw[k];
      // fmix32(kh ^ seed), inlined.
      let h = kh ^ seeds[k];
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
      const u = ((h >>> 0) + 0.5) * TWO_POW_M32;
      // ln(u) ≤ u − 1: when (u − 1)/w is already below the best, so is ln(u)/w. Tested before the
      // weight and exclusion checks (it skips most endpoints; w ≤ 0 is pruned here once bound is
      // finite, NaN never is, and the checks below catch whatever passes).
      if (u - 1 < bound * w) continue;
      if (!(w > 0)) continue;
      const slot = slots[k];
      if (ex !== null && ex[slot] !== 0) continue;
      const s = Math.log(u) / w;
      if (s > best || (s === best && seeds[k] >>> 0 < seeds[bestK] >>> 0)) {
        if (!filter.accept(slot)) continue;
        best = s;
        bound = s * SLACK;
        bestK = k;
      }
    }
    return bestK === -1 ? -1 : slots[bestK];
  }

  /** Admin view: expected share of keys per endpoint (its live weight over the sum). Pure. */
  shares(): { slot: number; share: number }[] {
    let sum = 0;
    for (let k = 0; k < this.slots.length; k++) sum += Math.max(0, this.weights[this.slots[k]]);
    return Array.from(this.slots, (slot) => ({ slot, share: sum > 0 ? Math.max(0, this.weights[slot]) / sum : 0 }));
  }

  /** Admin view: every endpoint's score ln(u)/w for the key (the highest choosable one wins). Pure. */
  locate(key: string): KeyLocation {
    const kh = crc32Fast(key) | 0;
    const scores: { slot: number; score: number }[] = [];
    let best = -1;
    let bestS = -Infinity;
    for (let k = 0; k < this.slots.length; k++) {
      const slot = this.slots[k];
      const w = this.weights[slot];
      let h = kh ^ this.seeds[k];
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
      const u = ((h >>> 0) + 0.5) * TWO_POW_M32;
      const s = w > 0 ? Math.log(u) / w : -Infinity;
      scores.push({ slot, score: s });
      if (s > bestS || (s === bestS && best !== -1 && this.seeds[k] >>> 0 < this.seeds[best] >>> 0)) {
        bestS = s;
        best = k;
      }
    }
    return { hash: kh >>> 0, position: 'highest score among all endpoints', owner: best === -1 ? -1 : this.slots[best], scores };
  }

  /** Copies the live weights into list order (the keyed scan then reads them without the slot indirection). */
  private syncWeights(): void {
    const slots = this.slots;
    const wv = this.weights;
    const pw = this.posWeights;
    for (let k = 0; k < slots.length; k++) pw[k] = wv[slots[k]];
    this.posVersion = this.live === null ? 0 : this.live.version;
  }

  /** nginx's smooth weighted round robin over the live weights (excluded/refused sit out). */
  private keyless(ex: Uint8Array | null, filter: CandidateFilter): number {
    const slots = this.slots;
    const wv = this.weights;
    const cur = this.current;
    let total = 0;
    let best = -1;
    for (let k = 0; k < slots.length; k++) {
      const slot = slots[k];
      const w = wv[slot];
      if (!(w > 0)) continue;
      if (ex !== null && ex[slot] !== 0) continue;
      if (!filter.accept(slot)) continue;
      cur[k] += w;
      total += w;
      if (best === -1 || cur[k] > cur[best]) best = k;
    }
    if (best === -1) return -1;
    cur[best] -= total;
    return slots[best];
  }
}

registerAlgorithm({
  name: 'rendezvous',
  summary: 'Highest random weight (weighted, logarithmic method): each key goes to its top-scoring endpoint; removing one moves only its keys.',
  hashing: true,
  weighted: true,
  view: 'scores',
  explainNote: 'the choosable endpoint with the highest score for the key (keyless requests: the next in smooth weighted rotation)',
  create: (endpoints, env) => new Rendezvous(endpoints, env),
});
