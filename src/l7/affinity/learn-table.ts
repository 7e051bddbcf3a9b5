/**
 * The learned-affinity table (pure; the clock is passed in): session id → server address, bounded
 * (`maxEntries`, least recently used dropped first) with an idle expiry (`ttlMs` since the entry was
 * last used or learned), as HAProxy's stick tables (`size`, `expire`). A Map kept in use order: its
 * first entry is the least recently used, hence also the one idle the longest.
 */

interface Entry {
  address: string;
  seen: number;
}

export class LearnTable {
  readonly maxEntries: number;
  readonly ttlMs: number;
  private readonly map = new Map<string, Entry>();
  /** Entries dropped because the table was full (not counting expiries). */
  evicted = 0;

  constructor(maxEntries: number, ttlMs: number) {
    this.maxEntries = Math.max(1, maxEntries);
    this.ttlMs = ttlMs;
  }

  get size(): number {
    return this.map.size;
  }

  /** The address learned for `key`, refreshed as used; undefined when unknown or expired. */
  get(key: string, now: number): string | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    this.map.delete(key);
    if (now - e.seen >= this.ttlMs) return undefined;
    e.seen = now;
    this.map.set(key, e);
    return e.address;
  }

  set(key: string, address: string, now: number): void {
    const e = this.map.get(key);
    if (e !== undefined) this.map.delete(key);
    else this.makeRoom(now);
    this.map.set(key, { address, seen: now });
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  /** Drops expired entries from the front, then the least recently used while full. */
  private makeRoom(now: number): void {
    const m = this.map;
    for (const [k, e] of m) {
      if (now - e.seen < this.ttlMs) break;
      m.delete(k);
    }
    while (m.size >= this.maxEntries) {
      const first = m.keys().next();
      if (first.done === true) break;
      m.delete(first.value);
      this.evicted++;
    }
  }
}
