/**
 * Consistent hashing (`consistent-hash`): the Ketama ring (Karger et al. 1997; libketama, 2007),
 * bit-compatible with nginx's `hash $key consistent` (ngx_http_upstream_hash_module.c, nginx 1.22):
 * for the same server list (addresses as written) and weights, every key maps to the server nginx
 * chooses, including stepping clockwise past servers that are down or already tried.
 *
 * The ring, as nginx builds it:
 * - Each server's address as written is split at its last `:` followed only by digits into host
 *   and port (`unix:PATH` → host PATH, no port; no such colon → host = the whole string, no port).
 *   base = CRC-32 state after HOST, one NUL byte, PORT (the Cache::Memcached::Fast scheme).
 * - The server gets weight × 160 points; point j = CRC-32(base ‖ point j−1 as 4 bytes little
 *   endian), point −1 = 0. Weight 0 contributes no points (nginx refuses weight 0 outright).
 * - Points are sorted by hash; of equal hashes the first server in list order keeps the point
 *   (nginx sorts with glibc's stable qsort and keeps the first of each run).
 * - A key's hash is CRC-32 of its bytes; its point is the first point with hash ≥ the key's hash,
 *   wrapping to point 0 past the end.
 * - An unavailable server (down, excluded, refused by a bounded-load filter) is passed over: the
 *   walk moves to the next point clockwise.
 *
 * Deliberate differences from nginx, both outside what nginx does deterministically:
 * - nginx gives up after 20 steps and falls back to weighted round robin; Fulcrum keeps walking the
 *   ring (bounded by the number of points) so a key's fallback stays deterministic. The two differ
 *   only when more than 20 consecutive points belong to unavailable servers — with one of 5 equal
 *   servers down, a chance of 5^−21 per key.
 * - An empty or missing key: like nginx, smooth weighted round robin over the servers (when the pool
 *   lets a missing key through, `hashKeyMissing: round-robin`); should that endpoint be refused by a
 *   filter (bounded load), the ring is walked from a rotating point instead.
 *
 * Weights are static (they set the number of points); slow start does not apply (nginx likewise).
 * Pick cost: CRC-32 of the key (slicing-by-4) plus one read of a bucket index over the top bits of
 * the hash and a scan of about one point — no allocation.
 */
import { registerAlgorithm } from './registry.ts';
import { SmoothWeighted } from './weighted-round-robin.ts';
import type { BalancerEnv, CandidateFilter, EndpointInfo, HashingBalancer, KeyLocation, PickContext } from './types.ts';
import { keyCrc32 } from './key-hash.ts';
import { crc32Fast, crc32Update, crc32UpdateU32LE, gcd } from '../core/hash.ts';

/** Points per unit of weight, as nginx and libketama (160 = 40 MD5 digests × 4 in libketama). */
export const POINTS_PER_WEIGHT = 160;

/** Upper bound on the bucket index's size: 2^16 + 1 entries (256 KiB, the top 16 bits of the hash) for rings of 2^16 points or more. */
const MAX_BUCKET_BITS = 16;

/** Upper bound on the pick's direct-owner table: 2^21 entries of 2 bytes (4 MiB). */
const MAX_DIRECT_BITS = 21;
/** A direct-owner entry meaning "look the point up" (ambiguous bucket, or a slot ≥ 0xffff). */
const LOOK_UP = 0xffff;

/** Steps walked before checking, in O(N), whether any endpoint is choosable at all. */
const WALK_BEFORE_CHECK = 64;

const ALWAYS: CandidateFilter = { accept: () => true };

/**
 * nginx's per-server base: the running CRC-32 (not finalised) of HOST, NUL, PORT of the address as
 * written in the config.
 */
export function ketamaBase(address: string): number {
  let host = address;
  let port = '';
  if (address.length >= 5 && address.slice(0, 5).toLowerCase() === 'unix:') {
    host = address.slice(5);
  } else {
    const len = address.length;
    for (let j = 0; j < len; j++) {
      const c = address.charCodeAt(len - j - 1);
      if (c === 0x3a) {
        host = address.slice(0, len - j - 1);
        port = address.slice(len - j);
        break;
      }
      if (c < 0x30 || c > 0x39) break;
    }
  }
  let h = crc32Update(0xffffffff, host);
  h = crc32Update(h, '\0');
  return crc32Update(h, port);
}

/** The `count` ring points of one server, in generation order (unsorted), written into `out` at `at`. */
export function ketamaPoints(address: string, count: number, out: Uint32Array, at: number): void {
  const base = ketamaBase(address);
  let prev = 0;
  for (let j = 0; j < count; j++) {
    prev = (crc32UpdateU32LE(base, prev) ^ 0xffffffff) >>> 0;
    out[at + j] = prev;
  }
}

/** The Ketama ring over the endpoints' addresses; immutable once built. */
export class ConsistentHash implements HashingBalancer {
  /** Point hashes, ascending and distinct. */
  readonly points: Uint32Array;
  /** Endpoint slot owning each point (parallel to `points`). */
  readonly owners: Int32Array;
  /** Slots of the endpoints that have points (weight > 0), in list order. */
  private readonly members: Int32Array;
  /**
   * Bucket index of the points: buckets[b] = first point whose top bits (hash >>> shift) are ≥ b,
   * buckets[2^bits] = the number of points; 2^bits ≈ the number of points (at most 2^16).
   */
  private readonly buckets: Int32Array;
  /**
   * `points` and `owners` interleaved (point k at 2k, its owner at 2k + 1): a lookup reads a point
   * and its owner from one cache line instead of two (the ring of N = 1000 is ~2.5 MB).
   */
  private readonly ring: Uint32Array;
  private readonly shift: number;
  /**
   * The pick's shortcut, over finer buckets (about 8 per point, at most 2^21 two-byte entries =
   * 4 MiB): the owner that every hash of the bucket maps to — when the bucket holds no point, or
   * only points of the owner of the first point after it — else LOOK_UP (find the point). At
   * N = 1000 about 6 keys in 7 then cost one read of this table instead of a read of `buckets` and
   * one of `ring`, which miss the cache in turn. Results are identical: it is a precomputed
   * findPoint for those buckets (tested against the ring lookup).
   */
  private readonly direct: Uint16Array;
  private readonly directShift: number;
  /** Stride and position of the fallback rotation over the points. */
  private readonly stride: number;
  private rr = 0;
  /** Keyless picks: smooth weighted round robin over the members, as nginx does for an empty key. */
  private readonly keyless: SmoothWeighted;

  constructor(endpoints: readonly EndpointInfo[], env?: BalancerEnv) {
    void env;
    let total = 0;
    let nMembers = 0;
    for (const e of endpoints) {
      if (e.weight > 0) {
        total += e.weight * POINTS_PER_WEIGHT;
        nMembers++;
      }
    }
    const raw = new Uint32Array(total);
    const rawOwner = new Int32Array(total);
    this.members = new Int32Array(nMembers);
    this.keyless = new SmoothWeighted(endpoints.filter((e) => e.weight > 0).map((e) => e.weight));
    let at = 0;
    let m = 0;
    for (const e of endpoints) {
      if (!(e.weight > 0)) continue;
      const count = e.weight * POINTS_PER_WEIGHT;
      ketamaPoints(e.address, count, raw, at);
      rawOwner.fill(e.index, at, at + count);
      this.members[m++] = e.index;
      at += count;
    }
    // Sort by (hash, generation order): a stable sort, as glibc's qsort is for nginx.
    const order = sortedOrder(raw);
    const points = new Uint32Array(total);
    const owners = new Int32Array(total);
    let n = 0;
    for (let k = 0; k < total; k++) {
      const src = order[k];
      if (n > 0 && points[n - 1] === raw[src]) continue; // nginx keeps the first of equal hashes
      points[n] = raw[src];
      owners[n] = rawOwner[src];
      n++;
    }
    this.points = n === total ? points : points.slice(0, n);
    this.owners = n === total ? owners : owners.slice(0, n);
    let bits = 1;
    while (bits < MAX_BUCKET_BITS && 1 << bits < n) bits++;
    this.shift = 32 - bits;
    const nb = 1 << bits;
    const buckets = new Int32Array(nb + 1);
    const pts = this.points;
    for (let b = 0, i = 0; b <= nb; b++) {
      while (i < n && pts[i] >>> this.shift < b) i++;
      buckets[b] = i;
    }
    this.buckets = buckets;
    const ring = new Uint32Array(2 * n);
    for (let k = 0; k < n; k++) {
      ring[2 * k] = pts[k];
      ring[2 * k + 1] = this.owners[k];
    }
    this.ring = ring;
    let dbits = bits;
    while (dbits < MAX_DIRECT_BITS && 1 << dbits < 8 * n) dbits++;
    this.directShift = 32 - dbits;
    this.direct = directOwners(pts, this.owners, dbits);
    let s = n <= 1 ? 1 : Math.floor(n * 0.6180339887498949) | 1;
    while (n > 1 && gcd(s, n) !== 1) s += 2;
    this.stride = s;
  }

  /**
   * Index of the first point with hash ≥ h, wrapping to 0 past the last point: what nginx's
   * ngx_http_upstream_find_chash_point returns (points are distinct, so its early exit on equality
   * lands on the same index). One read of the bucket index (the top bits of h) and a short forward
   * scan within the bucket — about one point per bucket on average — instead of a binary search
   * whose ~18 dependent reads miss the cache on a large ring.
   */
  findPoint(h: number): number {
    const r = this.ring;
    const b = h >>> this.shift;
    let i = this.buckets[b];
    const end = this.buckets[b + 1];
    while (i < end && r[2 * i] < h) i++;
    return i === this.points.length ? 0 : i;
  }

  pick(ctx: PickContext): number {
    const h = keyCrc32(ctx);
    if (h >= 0 && this.points.length !== 0) {
      // Fast path: the key's own point, when its owner is not excluded (else the walk below).
      let slot = this.direct[h >>> this.directShift];
      if (slot === LOOK_UP) slot = this.ring[2 * this.findPoint(h) + 1];
      const ex = ctx.excluded;
      if (ex === null || ex[slot] === 0) return slot;
    }
    return this.pickFiltered(ctx, ALWAYS);
  }

  pickFiltered(ctx: PickContext, filter: CandidateFilter): number {
    const n = this.points.length;
    if (n === 0) return -1;
    const h = keyCrc32(ctx);
    let i: number;
    if (h < 0) {
      const k = this.keyless.next(ctx.excluded, this.members);
      if (k >= 0 && filter.accept(this.members[k])) return this.members[k];
      if (k < 0) return -1;
      i = this.rr;
      this.rr += this.stride;
      if (this.rr >= n) this.rr -= n;
    } else {
      i = this.findPoint(h);
    }
    const ring = this.ring;
    const ex = ctx.excluded;
    for (let step = 0; step < n; step++) {
      const slot = ring[2 * i + 1];
      if ((ex === null || ex[slot] === 0) && filter.accept(slot)) return slot;
      if (++i === n) i = 0;
      if (step === WALK_BEFORE_CHECK && !this.anyChoosable(ex, filter)) return -1;
    }
    return -1;
  }

  /** Admin view: each endpoint's share of the 2^32 hash space (the arcs ending at its points). Pure. */
  shares(): { slot: number; share: number }[] {
    const pts = this.points;
    const n = pts.length;
    const acc = new Map<number, number>();
    for (let k = 0; k < n; k++) {
      const arc = k === 0 ? pts[0] + 2 ** 32 - pts[n - 1] : pts[k] - pts[k - 1];
      acc.set(this.owners[k], (acc.get(this.owners[k]) ?? 0) + (n === 1 ? 2 ** 32 : arc));
    }
    return [...acc].map(([slot, a]) => ({ slot, share: a / 2 ** 32 }));
  }

  /** Admin view: the owner of the hash-space position `fraction` (the first point at or after it). Pure. */
  ownerAt(fraction: number): number {
    if (this.points.length === 0) return -1;
    return this.owners[this.findPoint(Math.min(2 ** 32 - 1, Math.floor(fraction * 2 ** 32)) >>> 0)];
  }

  /** Admin view: the key's CRC-32 and the first ring point at or after it. Pure. */
  locate(key: string): KeyLocation {
    const h = crc32Fast(key) >>> 0;
    if (this.points.length === 0) return { hash: h, position: 'empty ring', owner: -1 };
    const i = this.findPoint(h);
    return { hash: h, position: `ring point ${i} of ${this.points.length} (point hash ${this.points[i] >>> 0}, key hash ${h})`, owner: this.owners[i] };
  }

  /** Whether any endpoint with points is neither excluded nor refused (bounds a hopeless walk). */
  private anyChoosable(ex: Uint8Array | null, filter: CandidateFilter): boolean {
    const mem = this.members;
    for (let k = 0; k < mem.length; k++) {
      const slot = mem[k];
      if ((ex === null || ex[slot] === 0) && filter.accept(slot)) return true;
    }
    return false;
  }
}

/**
 * For each of the 2^bits buckets of the hash space (top `bits` bits), the one owner every hash in
 * it maps to, or −1 when hashes of the bucket map to different owners. A hash h in bucket b maps to
 * the first point ≥ h: one of the points inside b, or the first point after b (wrapping to point
 * 0), so b is unambiguous when all of those share an owner.
 */
function directOwners(pts: Uint32Array, owners: Int32Array, bits: number): Uint16Array {
  const n = pts.length;
  const nb = 1 << bits;
  const out = new Uint16Array(n === 0 ? 1 : nb);
  if (n === 0) {
    out[0] = LOOK_UP;
    return out;
  }
  const shift = 32 - bits;
  const entry = (o: number): number => (o >= 0 && o < LOOK_UP ? o : LOOK_UP);
  // One pass over the points: the empty buckets before a point map to its owner (a native fill);
  // a bucket holding points keeps an owner only while its points and the next point agree.
  let prev = -1; // bucket of the previous point
  for (let k = 0; k < n; k++) {
    const b = pts[k] >>> shift;
    const o = entry(owners[k]);
    if (b !== prev) {
      if (prev >= 0 && out[prev] !== o) out[prev] = LOOK_UP; // the point after bucket prev
      out.fill(o, prev + 1, b);
      out[b] = o;
      prev = b;
    } else if (out[b] !== o) {
      out[b] = LOOK_UP;
    }
  }
  // Past the last point the ring wraps to point 0.
  const first = entry(owners[0]);
  if (out[prev] !== first) out[prev] = LOOK_UP;
  out.fill(first, prev + 1, nb);
  return out;
}

/** Indices of `h` ordered by (value, index). */
function sortedOrder(h: Uint32Array): Uint32Array {
  const n = h.length;
  const out = new Uint32Array(n);
  if (n < 2 ** 21) {
    // Pack (hash, index) into one exactly representable double (≤ 2^53) and sort numerically.
    const packed = new Float64Array(n);
    for (let k = 0; k < n; k++) packed[k] = h[k] * 2 ** 21 + k;
    packed.sort();
    for (let k = 0; k < n; k++) out[k] = packed[k] % 2 ** 21;
    return out;
  }
  for (let k = 0; k < n; k++) out[k] = k;
  return out.sort((a, b) => h[a] - h[b] || a - b);
}

registerAlgorithm({
  name: 'consistent-hash',
  summary: "Ketama ring, bit-compatible with nginx's `hash $key consistent`: 160 points per weight unit; removing a server moves only its keys.",
  hashing: true,
  view: 'ring',
  explainNote: 'the owner of the first ring point at or after the key\'s hash that is choosable (keyless requests: the next in smooth weighted rotation)',
  create: (endpoints, env) => new ConsistentHash(endpoints, env),
});
