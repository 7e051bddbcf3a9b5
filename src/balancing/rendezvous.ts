/**
 * Rendezvous hashing (`rendezvous`): highest random weight (Thaler & Ravishankar, "Using name-based
 * mappings to increase hit rates", IEEE/ACM ToN 1998), weighted with the logarithmic method of
 * Schindelhauer & Schomaker ("Weighted distributed hash tables", SPAA 2005): endpoint i scores
 * −w_i / ln(u_i) with u_i uniform in (0, 1); the highest score wins.
 *
 * Quantized keys, memoized winners. Scoring all N endpoints is O(N) by definition (~5–10 µs a pick
 * at N = 1000), far over the 100 ns target, so the scores are computed per BUCKET of keys, not per
 * key: the key's CRC-32 h (keyCrc32: slicing-by-4, or the request's bytes) selects bucket
 * b = h >>> 14 of B = 2^18 = 262,144, and endpoint i scores u_i(b) = (fmix32(bh(b) ^ seed_i) + ½) / 2^32
 * with bh(b) = fmix32(b × 0x9e3779b1), seed_i = fmix32(FNV-1a(address as written)). HRW is then run
 * over buckets: endpoint i owns a w_i / Σw share of the BUCKETS, removing (or excluding) an
 * endpoint moves exactly its own buckets, each to its second-best endpoint, and nothing else moves.
 * A key maps through its bucket, so it is still a pure function of the key bytes, the addresses and
 * the weights: every Fulcrum instance routes a key alike, whatever its list order (exact ties,
 * ~N/2^32 per bucket, go to the lower seed).
 *
 * B is fixed, not a function of N: with B = 2^clamp(⌈log2(256·N)⌉, 16, 18) the bucket of every key
 * would change when N crosses 256 or 512, and removing one endpoint from 257 (or 513) would move
 * ~all keys instead of only its own. The price of quantizing is share noise: the buckets an
 * endpoint wins are binomial, so its share deviates from w/W by a relative sd ≈ 1/√(B × share)
 * (√((1 − share)/(B × share)) exactly): 0.28 % for share 1/3, 0.6 % at 1/10, 2 % at 1/100, 6.2 %
 * at 1/1000 (N = 1000 equal weights: measured 6.0 %, the busiest endpoint 1.24× its fair share,
 * the idlest 0.82×), 20 % at 1/10,000 — a fixed deviation (the same on every instance), not drift. All keys of one bucket share an endpoint (≈ 16,384 CRC values each).
 *
 * The memo: owners[b] (Int32Array of B, memory 4 × B = 1 MiB per balancer; −2 = not computed) is
 * the bucket's winner over the endpoints of weight > 0, ignoring exclusions and filters (−1: none).
 * A keyed pick is keyCrc32 + a weights-version check + one array read + the exclusion check. When
 * the memoized winner is excluded or refused by the filter (pickFiltered: bounded loads), the full
 * scan runs for that bucket with exclusions and filter (not memoized): the exact next best by HRW,
 * so excluding an endpoint and removing it still pick alike. A cold bucket (its first keyed pick
 * after a build or a weight change) pays that scan: O(N), one fmix32 per endpoint, the logarithm
 * skipped for an endpoint whose upper bound (u − 1)/w ≥ ln(u)/w cannot beat the best so far, so only
 * O(log N) logarithms on average — 5.2 µs at N = 1000 on the bench machine (min of 7 runs, key hash
 * included; `node bench/rendezvous-memo.ts`). A warm pick at N = 1000 costs about what hashing the
 * key does: 117 ns with a sliced string key, 76 ns with the key's bytes (same script; N = 3, 100 and
 * 1000 alike in `node bench/algorithms.ts rendezvous`).
 *
 * Weights are live (factory `weighted`): read from env.weights; when env.weights.version moves, the
 * next keyed pick copies them into list order and resets the memo (owners.fill(−2), lazily: 25–55 µs
 * for the 1 MiB at N = 1000). During a slow-start ramp (weights change every 100 ms) keyed picks are
 * therefore O(N) again for the first pick of each bucket after each change. Weight 0 is never chosen.
 *
 * A missing or empty key (as nginx treats an empty `hash` key) is balanced by smooth weighted round
 * robin over the live weights (nginx's), skipping excluded and filter-refused endpoints.
 */
import { registerAlgorithm } from './registry.ts';
import type { BalancerEnv, CandidateFilter, EndpointInfo, HashingBalancer, KeyLocation, PickContext, Weights } from './types.ts';
import { crc32Fast, fnv1a32, mix32 } from '../core/hash.ts';
import { keyCrc32 } from './key-hash.ts';

/** log2 of the number of key buckets (fixed: see the header on why not a function of N). */
export const BUCKET_BITS = 18;
/** Number of key buckets B = 2^18. */
export const BUCKETS = 1 << BUCKET_BITS;
const SHIFT = 32 - BUCKET_BITS;
/** Odd multiplier (2^32 / golden ratio) spreading bucket numbers before fmix32. */
const BUCKET_MUL = 0x9e3779b1 | 0;
const NOT_COMPUTED = -2;
const TWO_POW_M32 = 2 ** -32;
/** Relative slack on the pruning bound, so a logarithm 1 ulp off can never prune the true best. */
const SLACK = 1 + 2 ** -30;

/** The fixed 32-bit hash of bucket b (in place of the key's CRC in the score), unsigned. */
export function bucketHash(b: number): number {
  return mix32(Math.imul(b, BUCKET_MUL));
}

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
  /** Winner slot per bucket over weight > 0, no exclusions (−1: none; −2: not computed since the weights last moved). */
  private readonly owners: Int32Array;
  /** Smooth weighted round robin state (by position) for keyless picks. */
  private readonly current: Float64Array;

  /** `env` supplies the live weights; without it the configured weights are used, fixed. */
  constructor(endpoints: readonly EndpointInfo[], env?: BalancerEnv) {
    const n = endpoints.length;
    this.slots = Int32Array.from(endpoints, (e) => e.index);
    this.seeds = Int32Array.from(endpoints, (e) => mix32(fnv1a32(e.address)) | 0);
    this.posWeights = new Float64Array(n);
    this.current = new Float64Array(n);
    this.owners = new Int32Array(BUCKETS).fill(NOT_COMPUTED);
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

  /** The key's bucket owner unless excluded, else the best non-excluded endpoint for its bucket. */
  pick(ctx: PickContext): number {
    const h = keyCrc32(ctx);
    if (h < 0) return this.keyless(ctx.excluded, null);
    const b = h >>> SHIFT;
    const o = this.owner(b);
    const ex = ctx.excluded;
    if (ex === null || o < 0 || ex[o] === 0) return o;
    return this.scan(b, ex, null, -1);
  }

  /** The highest-scoring endpoint for the key's bucket that is neither excluded nor refused by `filter`. */
  pickFiltered(ctx: PickContext, filter: CandidateFilter): number {
    const h = keyCrc32(ctx);
    if (h < 0) return this.keyless(ctx.excluded, filter);
    const b = h >>> SHIFT;
    const o = this.owner(b);
    if (o < 0) return -1;
    const ex = ctx.excluded;
    if (ex === null || ex[o] === 0) {
      if (filter.accept(o)) return o;
      return this.scan(b, ex, filter, o); // o already refused: not asked again
    }
    return this.scan(b, ex, filter, -1);
  }

  /**
   * Bucket b's memoized winner (weight > 0, no exclusions; −1: none), computed on first use; the
   * weights are synced first (a version change resets the memo), so a scan after it sees them too.
   */
  private owner(b: number): number {
    const live = this.live;
    if (live === null ? this.posVersion === -1 : live.version !== this.posVersion) this.syncWeights();
    let o = this.owners[b];
    if (o === NOT_COMPUTED) o = this.owners[b] = this.scan(b, null, null, -1);
    return o;
  }

  /** Admin view: expected share of keys per endpoint (its live weight over the sum). Pure. */
  shares(): { slot: number; share: number }[] {
    let sum = 0;
    for (let k = 0; k < this.slots.length; k++) sum += Math.max(0, this.weights[this.slots[k]]);
    return Array.from(this.slots, (slot) => ({ slot, share: sum > 0 ? Math.max(0, this.weights[slot]) / sum : 0 }));
  }

  /**
   * Admin view: the key's bucket, and every endpoint's score ln(u)/w for that bucket under the live
   * weights (the highest choosable one wins); owner = what pick gives with nothing excluded. Pure
   * (neither reads nor writes the memo).
   */
  locate(key: string): KeyLocation {
    const kh = crc32Fast(key);
    const b = kh >>> SHIFT;
    const bh = bucketHash(b) | 0;
    const scores: { slot: number; score: number }[] = [];
    let best = -1;
    let bestS = -Infinity;
    for (let k = 0; k < this.slots.length; k++) {
      const slot = this.slots[k];
      const w = this.weights[slot];
      const u = (mix32(bh ^ this.seeds[k]) + 0.5) * TWO_POW_M32;
      const s = w > 0 ? Math.log(u) / w : -Infinity;
      scores.push({ slot, score: s });
      if (w > 0 && (s > bestS || (s === bestS && best !== -1 && this.seeds[k] >>> 0 < this.seeds[best] >>> 0))) {
        bestS = s;
        best = k;
      }
    }
    return { hash: kh, position: `bucket ${b} of ${BUCKETS} (highest score among all endpoints)`, owner: best === -1 ? -1 : this.slots[best], scores };
  }

  /**
   * Full HRW scan for bucket b: the highest-scoring endpoint of weight > 0 that is not excluded, not
   * the slot `skip` and accepted by `filter` (null: all accepted); −1 if none. O(N), no allocation.
   */
  private scan(b: number, ex: Uint8Array | null, filter: CandidateFilter | null, skip: number): number {
    const bh = bucketHash(b) | 0;
    const slots = this.slots;
    const seeds = this.seeds;
    const pw = this.posWeights;
    const n = pw.length;
    let best = -Infinity;
    let bound = -Infinity;
    let bestK = -1;
    for (let k = 0; k < n; k++) {
      const w = pw[k];
      // fmix32(bh ^ seed), inlined.
      let h = bh ^ seeds[k];
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
        if (slot === skip || (filter !== null && !filter.accept(slot))) continue;
        best = s;
        bound = s * SLACK;
        bestK = k;
      }
    }
    return bestK === -1 ? -1 : slots[bestK];
  }

  /** Copies the live weights into list order and forgets every memoized winner (they were for the old weights). */
  private syncWeights(): void {
    const slots = this.slots;
    const wv = this.weights;
    const pw = this.posWeights;
    for (let k = 0; k < slots.length; k++) pw[k] = wv[slots[k]];
    this.owners.fill(NOT_COMPUTED);
    this.posVersion = this.live === null ? 0 : this.live.version;
  }

  /** nginx's smooth weighted round robin over the live weights (excluded/refused sit out; filter null: none refused). */
  private keyless(ex: Uint8Array | null, filter: CandidateFilter | null): number {
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
      if (filter !== null && !filter.accept(slot)) continue;
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
  summary: 'Highest random weight (weighted, logarithmic method) over 2^18 key buckets, winners memoized: each key goes to its bucket\'s top-scoring endpoint; removing one moves only its keys.',
  hashing: true,
  weighted: true,
  view: 'scores',
  explainNote: 'the choosable endpoint with the highest score for the key\'s bucket (keyless requests: the next in smooth weighted rotation)',
  create: (endpoints, env) => new Rendezvous(endpoints, env),
});
