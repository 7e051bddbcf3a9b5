/**
 * IP hash (`ip-hash`): hash(key) mod N over the choosable endpoints — the classic, NON-consistent
 * baseline. Removing one of N endpoints remaps about (N−1)/N of the keys (every key whose modulus
 * changes); prefer `consistent-hash`, `maglev` or `rendezvous` when affinity must survive changes.
 * Key hash: MurmurHash3 x86_32 of the key's latin1 bytes. Default key `source-ip`. Endpoints are taken with multiplicity = weight (weight 2 = two slots).
 * An excluded endpoint's key walks to the next slot (linear probing), so a retry never re-picks it.
 */
import { registerAlgorithm } from './registry.ts';
import type { CandidateFilter, EndpointInfo, HashingBalancer, KeyLocation, PickContext } from './types.ts';
import { murmur3 } from '../core/hash.ts';
import { keyMurmur3 } from './key-hash.ts';

const ALWAYS: CandidateFilter = { accept: () => true };

export class IpHash implements HashingBalancer {
  /** Endpoint slot per table position (weight-many positions per endpoint). */
  private readonly table: Int32Array;
  private rr = 0;

  constructor(endpoints: readonly EndpointInfo[]) {
    const slots: number[] = [];
    for (const e of endpoints) for (let w = 0; w < e.weight; w++) slots.push(e.index);
    this.table = Int32Array.from(slots);
  }

  pick(ctx: PickContext): number {
    return this.pickFiltered(ctx, ALWAYS);
  }

  /** Admin view: each endpoint's share of the table (weight-many positions each). Pure. */
  shares(): { slot: number; share: number }[] {
    const acc = new Map<number, number>();
    for (const s of this.table) acc.set(s, (acc.get(s) ?? 0) + 1);
    return [...acc].map(([slot, k]) => ({ slot, share: k / this.table.length }));
  }

  /** Admin view: the endpoint at table position ⌊fraction × N⌋. Pure. */
  ownerAt(fraction: number): number {
    const n = this.table.length;
    return n === 0 ? -1 : this.table[Math.min(n - 1, Math.floor(fraction * n))];
  }

  /** Admin view: the key's MurmurHash3 and its position hash mod N. Pure. */
  locate(key: string): KeyLocation {
    const h = murmur3(key) >>> 0;
    const n = this.table.length;
    if (n === 0) return { hash: h, position: 'empty table', owner: -1 };
    return { hash: h, position: `position ${h % n} of ${n} (hash mod N)`, owner: this.table[h % n] };
  }

  pickFiltered(ctx: PickContext, filter: CandidateFilter): number {
    const t = this.table;
    const n = t.length;
    if (n === 0) return -1;
    const ex = ctx.excluded;
    let i: number;
    const h = keyMurmur3(ctx);
    if (h < 0) {
      i = this.rr;
      this.rr = i + 1 >= n ? 0 : i + 1;
    } else {
      i = h % n;
    }
    for (let step = 0; step < n; step++) {
      const slot = t[i];
      if ((ex === null || ex[slot] === 0) && filter.accept(slot)) return slot;
      if (++i === n) i = 0;
    }
    return -1;
  }
}

registerAlgorithm({
  name: 'ip-hash',
  summary: 'hash(key) mod N: the non-consistent baseline; removing one of N endpoints remaps ≈ (N−1)/N of keys.',
  hashing: true,
  view: 'table',
  explainNote: 'the endpoint at hash mod N, or the next choosable position (keyless requests: the next in rotation)',
  create: (endpoints) => new IpHash(endpoints),
});
