/**
 * `geo`: the client's region from its network — the ECS subnet when the resolver sent one, else the
 * resolver's own address — by longest-prefix match in the name's CIDR → region map; the answer is
 * the first up site in that region's preference order (default: the region itself, then the other
 * targets in order), and any other up target after those, so a down site is never answered while
 * another is up. The ECS scope is the widest prefix of the client address for which the map gives
 * the same region (see ../cidr.ts), as gdnsd does. With `geo.mmdb`, clients no map block matches
 * are located by a MaxMind database the edge opened (country code, else continent code → region);
 * the scope is then the database block's prefix, narrowed so it contains no map block.
 */
import { CidrMap } from '../cidr.ts';
import { registerPolicy } from './registry.ts';
import type { PickInput, PickResult } from './types.ts';

registerPolicy({
  name: 'geo',
  compile(config, env) {
    const geo = config.geo;
    if (geo === undefined) throw new Error('policy "geo" needs a geo section (map, preference)');
    const mmdb = geo.mmdb === undefined ? null : env?.mmdb;
    if (mmdb === undefined) throw new Error('geo.mmdb: the database was not opened');
    const mmdbRegions = geo.mmdb?.regions ?? {};
    const sites = config.targets.map((t) => t.site);
    const map = new CidrMap<string>();
    for (const m of geo.map) map.add(m.cidr, m.region);
    const fallbackRegion = geo.default ?? sites[0];
    // Per region: target indices in preference order, then every other target.
    const orders = new Map<string, number[]>();
    const orderFor = (region: string): number[] => {
      let o = orders.get(region);
      if (o === undefined) {
        const pref = geo.preference[region] ?? [region];
        o = pref.map((s) => sites.indexOf(s)).filter((i) => i >= 0);
        for (let i = 0; i < sites.length; i++) if (!o.includes(i)) o.push(i);
        orders.set(region, o);
      }
      return o;
    };
    for (const r of new Set([fallbackRegion, ...geo.map.map((m) => m.region), ...Object.keys(geo.preference), ...Object.values(mmdbRegions)])) orderFor(r);
    return {
      pick({ targets, client }: PickInput): PickResult {
        const m = map.lookup(client.addr);
        const entry = m.entry;
        let scope = m.scope;
        let region = entry === null ? fallbackRegion : entry.value;
        let via = entry === null ? ' (default)' : '';
        if (entry === null && mmdb !== null) {
          const g = mmdb(client.addr);
          const r = (g.country !== null ? mmdbRegions[g.country] : undefined) ?? (g.continent !== null ? mmdbRegions[g.continent] : undefined);
          if (r !== undefined) { region = r; via = ` (mmdb ${g.country ?? g.continent})`; }
          scope = Math.max(scope, Math.min(g.prefix, client.addr.length * 8));
        }
        const order = orderFor(region);
        for (const i of order) {
          if (targets[i].up) {
            return { chosen: [i], scope, why: `region ${region}${via} → ${targets[i].site}` };
          }
        }
        return { chosen: [], scope, why: `region ${region}: no site up` };
      },
    };
  },
});
