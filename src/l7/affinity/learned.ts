/**
 * Learned affinity (HAProxy `stick store-response res.cook(JSESSIONID)` + `stick match
 * req.cook(JSESSIONID)`; nginx Plus `sticky learn`): when a server's response sets the session
 * cookie (`learn`, e.g. JSESSIONID), the value → server mapping is stored in a bounded table with an
 * idle expiry (learn-table.ts); a later request carrying that cookie goes to the same server while
 * it is available, else it is balanced (the new server will set its own session). A Set-Cookie that
 * deletes the cookie (empty value, Max-Age ≤ 0) forgets the session. The cookie passes to the
 * server unchanged. The table is per pool and per process; a reload keeps it (entries store the
 * server's address, not its slot).
 */
import type { StickyConfig } from '../../config/schema.ts';
import type { Exchange } from '../middlewares/exchange.ts';
import type { Affinity, AffinityPool } from './index.ts';
import { LearnTable } from './learn-table.ts';
import { setCookiePair } from './cookies.ts';

export class LearnAffinity implements Affinity {
  readonly name: string;
  readonly table: LearnTable;
  private readonly slots: Map<string, number>;
  private readonly addresses: readonly string[];

  constructor(config: StickyConfig, pool: AffinityPool, prev: LearnAffinity | null) {
    this.name = config.learn as string;
    this.table = prev !== null && prev.name === this.name && prev.table.maxEntries === config.maxEntries && prev.table.ttlMs === config.ttl
      ? prev.table
      : new LearnTable(config.maxEntries, config.ttl);
    this.addresses = pool.addresses;
    this.slots = new Map(pool.addresses.map((a, i) => [a, i]));
  }

  get sessions(): number {
    return this.table.size;
  }

  pin(x: Exchange, now: number): number {
    const v = x.view.cookie(this.name);
    if (v === undefined || v === '') return -1;
    const address = this.table.get(v, now);
    if (address === undefined) return -1;
    return this.slots.get(address) ?? -1;
  }

  onResponse(x: Exchange, slot: number, _pinned: number, _honored: boolean, now: number): void {
    const names = x.respNames;
    for (let i = 0; i < names.length; i++) {
      const n = names[i];
      if (n.length !== 10 || n.toLowerCase() !== 'set-cookie') continue;
      const c = setCookiePair(x.respValues[i]);
      if (c === null || c.name !== this.name) continue;
      if (c.deletes) this.table.delete(c.value !== '' ? c.value : (x.view.cookie(this.name) ?? ''));
      else this.table.set(c.value, this.addresses[slot], now);
    }
  }
}
