/**
 * A min segment tree (tournament tree) over positions 0..n-1 with Float64Array storage: point
 * update and "first minimum in rotation order" in O(log n), allocation-free. It lets the
 * least-loaded algorithms (least-connections, least-time) pick in O(log N) instead of scanning all
 * endpoints, with the same choice as the scan: the scan from `start` keeps the first strictly
 * smaller score it meets, i.e. the leftmost position ≥ start holding the global minimum, else the
 * leftmost position < start holding it.
 *
 * Layout: the classic implicit binary heap (node k has children 2k and 2k+1, leaves at
 * size..2·size−1 with size the power of two ≥ n). Each node holds the minimum of its leaves and
 * the leftmost position holding it. Padding leaves hold +Infinity. Keys must not be NaN (callers
 * store +Infinity for "not choosable" and handle non-finite scores themselves).
 */
export class MinTree {
  /** Number of positions. */
  readonly n: number;
  /** Leaves start at this index (power of two ≥ max(n, 1)). */
  readonly size: number;
  /** Minimum key under each node; `val[1]` is the global minimum (+Infinity when n = 0). */
  readonly val: Float64Array;
  /** Leftmost position holding `val[k]` under node k. */
  readonly idx: Int32Array;

  constructor(n: number) {
    let size = 1;
    while (size < n) size <<= 1;
    this.n = n;
    this.size = size;
    this.val = new Float64Array(2 * size).fill(Infinity);
    this.idx = new Int32Array(2 * size);
    for (let p = 0; p < size; p++) this.idx[size + p] = p;
    this.build();
  }

  /** Sets a leaf without fixing its ancestors (call build() after a batch of these). */
  setLeaf(pos: number, key: number): void {
    this.val[this.size + pos] = key;
  }

  /** Key at a position. */
  get(pos: number): number {
    return this.val[this.size + pos];
  }

  /** Recomputes every inner node from the leaves: O(n). */
  build(): void {
    for (let k = this.size - 1; k >= 1; k--) this.pull(k);
  }

  /** Node k takes the smaller of its children; strictly less on the right, so ties keep the left (lower) position. */
  private pull(k: number): void {
    const val = this.val;
    const idx = this.idx;
    const l = 2 * k;
    const r = l + 1;
    if (val[r] < val[l]) {
      val[k] = val[r];
      idx[k] = idx[r];
    } else {
      val[k] = val[l];
      idx[k] = idx[l];
    }
  }

  /** Sets the key at `pos` and fixes its ancestors: O(log n), nothing done if unchanged. */
  update(pos: number, key: number): void {
    const val = this.val;
    let k = this.size + pos;
    if (val[k] === key) return;
    val[k] = key;
    for (k >>= 1; k >= 1; k >>= 1) this.pull(k);
  }

  /** The global minimum key (+Infinity when empty). */
  min(): number {
    return this.val[1];
  }

  /**
   * The leftmost position ≥ start holding the global minimum, else the leftmost position < start
   * holding it (start ≥ n counts as 0): what a cyclic scan from `start` keeping the first strict
   * minimum returns. O(log n). The caller checks min() for +Infinity (nothing choosable).
   */
  firstMinFrom(start: number): number {
    const val = this.val;
    const idx = this.idx;
    const m = val[1];
    if (start <= 0 || start >= this.n) return idx[1];
    // Bottom-up walk over [start, size): the nodes taken on the left boundary come in increasing
    // position order, so the first one holding m holds the answer (its leftmost argmin).
    let l = start + this.size;
    let r = 2 * this.size;
    while (l < r) {
      if ((l & 1) !== 0) {
        if (val[l] === m) return idx[l];
        l++;
      }
      l >>= 1;
      r >>= 1;
    }
    return idx[1];
  }
}
