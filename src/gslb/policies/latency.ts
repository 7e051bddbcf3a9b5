/**
 * `latency`: the up site with the lowest round-trip time for the client's network. RTTs come from an
 * optional per-network table (longest prefix wins) and otherwise from the health checks' measured
 * connect/response times to each site (an EWMA kept by the runtime). Hysteresis (as Route 53's
 * latency records are damped): the site last answered for that network stays until another up
 * site is faster by more than `hysteresis` × its RTT, so answers do not flap on noise. The choice
 * is kept per network in the name's PolicyState (bounded by the table size + 1).
 */
import { CidrMap } from '../cidr.ts';
import { registerPolicy } from './registry.ts';
import type { PickInput, PickResult } from './types.ts';

registerPolicy({
  name: 'latency',
  compile(config) {
    const opts = config.latency ?? { hysteresis: 0.2, table: [] };
    const sites = config.targets.map((t) => t.site);
    const table = new CidrMap<{ key: string; rtt: Record<string, number> }>();
    for (const row of opts.table) table.add(row.cidr, { key: row.cidr, rtt: row.rtt });
    const h = opts.hysteresis;
    return {
      pick({ targets, client, state }: PickInput): PickResult {
        const { entry, scope } = table.lookup(client.addr, (a, b) => a === b);
        const key = entry === null ? '*' : entry.value.key;
        const rttOf = (i: number): number => {
          const fixed = entry?.value.rtt[sites[i]];
          const r = fixed ?? targets[i].rttMs;
          return Number.isFinite(r) ? r : Infinity;
        };
        let best = -1;
        for (let i = 0; i < targets.length; i++) {
          if (!targets[i].up) continue;
          if (best < 0 || rttOf(i) < rttOf(best)) best = i;
        }
        if (best < 0) return { chosen: [], scope, why: 'no site up' };
        const current = state[key] as number | undefined;
        let pick = best;
        if (current !== undefined && current !== best && targets[current]?.up) {
          const cur = rttOf(current);
          if (!(rttOf(best) < cur * (1 - h))) pick = current;
        }
        state[key] = pick;
        const ms = rttOf(pick);
        return { chosen: [pick], scope, why: `${targets[pick].site} rtt ${ms === Infinity ? 'unknown' : `${Math.round(ms * 10) / 10} ms`}${pick !== best ? ' (kept: hysteresis)' : ''}` };
      },
    };
  },
});
