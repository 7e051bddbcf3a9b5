/**
 * Longest-prefix matching of client addresses against CIDR maps, and the widest ECS scope for which
 * a decision holds (RFC 7871 §7.2.1: the scope prefix length is the number of leading bits of the
 * client address the answer depends on — gdnsd computes it as the depth of the matching node in its
 * network trie). Pure: addresses are 4- or 16-byte arrays. IPv4 and IPv6 are separate maps; an
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) is looked up as IPv4.
 */
import { isIP } from 'node:net';

/** A client address: 4 bytes (IPv4) or 16 bytes (IPv6). */
export type Addr = Uint8Array;

export interface CidrEntry<T> {
  readonly bytes: Addr;
  readonly prefix: number;
  readonly value: T;
}

/** Parses an IPv4/IPv6 address into bytes (IPv4-mapped IPv6 → 4 bytes); null when invalid. */
export function parseAddr(s: string): Addr | null {
  const fam = isIP(s);
  if (fam === 4) return v4(s);
  if (fam !== 6) return null;
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(s);
  if (m) return v4(m[1]);
  const [head, tail] = s.includes('::') ? s.split('::') : [s, null];
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':')).flatMap((g) => {
    if (g.includes('.')) { const b = v4(g); return [(b[0] << 8) | b[1], (b[2] << 8) | b[3]]; }
    return [parseInt(g, 16)];
  });
  const h = parse(head);
  const t = tail === null ? [] : parse(tail);
  const groups = tail === null ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => { out[2 * i] = g >> 8; out[2 * i + 1] = g & 0xff; });
  return out;
}

function v4(s: string): Addr {
  return Uint8Array.from(s.split('.').map(Number));
}

/** Formats bytes as an address (for the admin view and logs). */
export function formatAddr(a: Addr): string {
  if (a.length === 4) return a.join('.');
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((a[i] << 8) | a[i + 1]).toString(16));
  return g.join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:{3,}/, '::');
}

/** `a` with every bit past `prefix` cleared (a copy). */
export function maskAddr(a: Addr, prefix: number): Addr {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - 8 * i));
    out[i] = bits === 0 ? 0 : a[i] & (0xff << (8 - bits));
  }
  return out;
}

/** Number of leading bits `a` and `b` (same length) share. */
export function commonPrefix(a: Addr, b: Addr): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ^ b[i];
    if (x !== 0) return 8 * i + Math.clz32(x) - 24;
  }
  return 8 * a.length;
}

/** A compiled CIDR → value map. */
export class CidrMap<T> {
  private readonly v4: CidrEntry<T>[] = [];
  private readonly v6: CidrEntry<T>[] = [];

  /** `cidr` is `a.b.c.d/n`, `x::/n`, or a bare address (a /32 or /128). Throws on a bad block. */
  add(cidr: string, value: T): void {
    const slash = cidr.indexOf('/');
    const bytes = parseAddr(slash < 0 ? cidr : cidr.slice(0, slash));
    if (bytes === null) throw new Error(`bad CIDR block ${JSON.stringify(cidr)}`);
    let prefix = slash < 0 ? bytes.length * 8 : Number(cidr.slice(slash + 1));
    // An IPv4-mapped block ::ffff:a.b.c.d/n is an IPv4 block of n − 96 bits.
    if (bytes.length === 4 && slash >= 0 && cidr.includes(':')) prefix = Math.max(0, prefix - 96);
    const list = bytes.length === 4 ? this.v4 : this.v6;
    list.push({ bytes: maskAddr(bytes, prefix), prefix, value });
    list.sort((a, b) => b.prefix - a.prefix); // longest prefix first
  }

  get size(): number {
    return this.v4.length + this.v6.length;
  }

  /**
   * The longest-prefix match for `addr`, with the scope: the widest prefix of `addr` whose whole
   * block gets the same answer (no block with another value, nor the matched block's edge, splits
   * it). `same(a, b)` says when two values give the same answer (default ===).
   */
  lookup(addr: Addr, same: (a: T, b: T) => boolean = (a, b) => a === b): { entry: CidrEntry<T> | null; scope: number } {
    const list = addr.length === 4 ? this.v4 : this.v6;
    let entry: CidrEntry<T> | null = null;
    for (const e of list) {
      if (commonPrefix(addr, e.bytes) >= e.prefix) { entry = e; break; }
    }
    let scope = entry === null ? 0 : entry.prefix;
    for (const e of list) {
      if (e === entry) continue;
      if (entry !== null && same(e.value, entry.value)) continue;
      // A block with another answer that a wider prefix of addr would contain, and that is more
      // specific than the match (less specific ones are already excluded by the match itself).
      if (entry !== null && e.prefix <= entry.prefix) continue;
      const cp = commonPrefix(addr, e.bytes);
      if (cp < e.prefix) scope = Math.max(scope, cp + 1);
    }
    return { entry, scope: Math.min(scope, addr.length * 8) };
  }
}
