/**
 * Drawing two distinct random choosable endpoints — the sampling step of the power of two choices
 * (Mitzenmacher 2001), shared by `p2c` and `peak-ewma`. Allocation-free: `draw()` leaves the two
 * positions in `a` and `b`.
 *
 * With nothing excluded and every weight > 0 the first is floor(r1 × n) and the second
 * floor(r2 × (n − 1)), shifted up by one when ≥ the first — two distinct endpoints from exactly two
 * random numbers. Otherwise each draw tries up to REDRAWS random positions, then takes the
 * floor(r × c)-th of the c endpoints still choosable (O(N)).
 */
import type { EndpointInfo } from './types.ts';

/** Random positions tried per draw when some endpoints are not choosable, before the exact scan. */
export const TWO_CHOICE_REDRAWS = 8;

export class TwoChoices {
  /** Endpoint slot by position. */
  readonly slots: Int32Array;
  private readonly usable: Uint8Array;
  private readonly allUsable: boolean;
  private readonly random: () => number;
  /** Positions of the last draw (b = -1 when only one endpoint was choosable). */
  a = -1;
  b = -1;

  constructor(endpoints: readonly EndpointInfo[], random: () => number) {
    this.slots = Int32Array.from(endpoints, (e) => e.index);
    this.usable = Uint8Array.from(endpoints, (e) => (e.weight > 0 ? 1 : 0));
    this.allUsable = this.usable.every((u) => u === 1);
    this.random = random;
  }

  /** Draws two distinct choosable positions into a and b; false when none is choosable. */
  draw(ex: Uint8Array | null): boolean {
    const n = this.slots.length;
    if (ex === null && this.allUsable) {
      if (n <= 1) {
        this.a = n === 1 ? 0 : -1;
        this.b = -1;
        return n === 1;
      }
      let a = Math.floor(this.random() * n);
      if (a >= n) a = n - 1;
      let b = Math.floor(this.random() * (n - 1));
      if (b >= n - 1) b = n - 2;
      if (b >= a) b++;
      this.a = a;
      this.b = b;
      return true;
    }
    this.a = this.one(ex, -1);
    if (this.a === -1) return false;
    this.b = this.one(ex, this.a);
    return true;
  }

  /** A random choosable position other than `avoid`, or -1. */
  private one(ex: Uint8Array | null, avoid: number): number {
    const slots = this.slots;
    const usable = this.usable;
    const n = slots.length;
    for (let t = 0; t < TWO_CHOICE_REDRAWS; t++) {
      let k = Math.floor(this.random() * n);
      if (k >= n) k = n - 1;
      if (k !== avoid && usable[k] === 1 && (ex === null || ex[slots[k]] === 0)) return k;
    }
    let c = 0;
    for (let k = 0; k < n; k++) if (k !== avoid && usable[k] === 1 && (ex === null || ex[slots[k]] === 0)) c++;
    if (c === 0) return -1;
    let r = Math.floor(this.random() * c);
    if (r >= c) r = c - 1;
    for (let k = 0; k < n; k++) {
      if (k !== avoid && usable[k] === 1 && (ex === null || ex[slots[k]] === 0) && r-- === 0) return k;
    }
    return -1;
  }
}
