/**
 * Cross-value checks of the `gslb` section (DESIGN.md rule 4), on the raw input like
 * src/config/semantic.ts which calls this: unique zone, site and name names; targets, geo regions
 * and preferences naming defined sites; GSLB names inside a zone and not shadowing static records;
 * record values of the right shape; policy sections that fit the policy; check endpoints.
 */
import { isIP } from 'node:net';
import { formatPath, type PathSegment } from '../config/problems.ts';
import { isDomainName, normalizeName } from './schema.ts';
import { ownerName, rdata } from './zones.ts';
import { openMmdb } from './mmdb.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
type Add = (segments: PathSegment[], message: string) => void;

export function gslbProblems(gslb: unknown, add: Add): void {
  if (!isObj(gslb)) return;
  const at = (...s: PathSegment[]): PathSegment[] => ['gslb', ...s];
  const zones = arr(gslb.zones);
  const zoneNames: string[] = [];
  unique(zones, at('zones'), 'zone', add, (z) => (typeof z.name === 'string' && isDomainName(z.name) ? normalizeName(z.name) : undefined));
  const staticOwners = new Map<string, PathSegment[]>();
  zones.forEach((z, zi) => {
    if (!isObj(z) || typeof z.name !== 'string' || !isDomainName(z.name)) return;
    const apex = normalizeName(z.name);
    zoneNames.push(apex);
    arr(z.records).forEach((r, ri) => {
      if (!isObj(r) || typeof r.name !== 'string' || typeof r.type !== 'string') return;
      const owner = ownerName(r.name, apex);
      if (!isDomainName(owner)) add(at('zones', zi, 'records', ri, 'name'), `expected a relative name, "@" or an absolute name ending in ".", got ${JSON.stringify(r.name)}`);
      else if (owner !== apex && !owner.endsWith(`.${apex}`)) add(at('zones', zi, 'records', ri, 'name'), `${JSON.stringify(owner)} is outside zone ${JSON.stringify(apex)}`);
      staticOwners.set(`${owner} ${r.type}`, at('zones', zi, 'records', ri));
      for (const [vi, v] of (typeof r.value === 'string' ? [r.value] : arr(r.value)).entries()) {
        if (typeof v !== 'string') continue;
        const where = at('zones', zi, 'records', ri, 'value', ...(typeof r.value === 'string' ? [] : [vi]));
        if ((r.type === 'A' && isIP(v) !== 4) || (r.type === 'AAAA' && isIP(v) !== 6)) add(where, `expected an ${r.type === 'A' ? 'IPv4' : 'IPv6'} address, got ${JSON.stringify(v)}`);
        else if ((r.type === 'CNAME' || r.type === 'NS') && !isDomainName(v)) add(where, `expected a domain name, got ${JSON.stringify(v)}`);
        else {
          try { rdata(r.type, v, 'x'); } catch (err) { add(where, (err as Error).message.replace(/^x\.value: /, '')); }
        }
      }
    });
  });
  const sites = arr(gslb.sites);
  unique(sites, at('sites'), 'site', add, (s) => (typeof s.name === 'string' ? s.name : undefined));
  const siteNames = new Set(sites.flatMap((s) => (isObj(s) && typeof s.name === 'string' ? [s.name] : [])));
  const known = [...siteNames].join(', ') || 'none';
  const siteRef = (segments: PathSegment[], v: unknown): void => {
    if (typeof v === 'string' && !siteNames.has(v)) add(segments, `unknown site ${JSON.stringify(v)}; defined sites: ${known}`);
  };
  sites.forEach((s, si) => {
    if (!isObj(s) || !isObj(s.healthCheck)) return;
    if (s.endpoints === undefined && s.healthCheck.port === undefined) add(at('sites', si, 'healthCheck', 'port'), 'a site checked without "endpoints" needs healthCheck.port (each address is checked on that port)');
    if (s.healthCheck.type === 'command' && s.healthCheck.command === undefined) add(at('sites', si, 'healthCheck', 'command'), 'a health check of type "command" needs command.path');
  });
  const names = arr(gslb.names);
  unique(names, at('names'), 'GSLB name', add, (n) => (typeof n.name === 'string' && isDomainName(n.name) ? normalizeName(n.name) : undefined));
  names.forEach((n, ni) => {
    if (!isObj(n)) return;
    if (typeof n.name === 'string' && isDomainName(n.name)) {
      const name = normalizeName(n.name);
      if (zoneNames.length > 0 && !zoneNames.some((z) => name === z || name.endsWith(`.${z}`))) add(at('names', ni, 'name'), `${JSON.stringify(name)} is in none of the zones (${zoneNames.join(', ')})`);
      for (const t of ['A', 'AAAA', 'CNAME']) {
        const other = staticOwners.get(`${name} ${t}`);
        if (other !== undefined) add(at('names', ni, 'name'), `${JSON.stringify(name)} also has a static ${t} record (${formatPath(other)}); a GSLB name answers A and AAAA itself`);
      }
    }
    arr(n.targets).forEach((t, ti) => { if (isObj(t)) siteRef(at('names', ni, 'targets', ti, 'site'), t.site); });
    const policy = n.policy ?? 'failover';
    if (policy === 'geo' && n.geo === undefined) add(at('names', ni, 'geo'), 'policy "geo" needs a geo section (map of cidr → region, preference)');
    if (policy !== 'geo' && n.geo !== undefined) add(at('names', ni, 'geo'), `section "geo" applies to policy "geo" only, not ${JSON.stringify(policy)}`);
    if (policy !== 'latency' && n.latency !== undefined) add(at('names', ni, 'latency'), `section "latency" applies to policy "latency" only, not ${JSON.stringify(policy)}`);
    if (policy !== 'weighted' && n.consistent !== undefined) add(at('names', ni, 'consistent'), `"consistent" applies to policy "weighted" only, not ${JSON.stringify(policy)}`);
    if (isObj(n.geo)) {
      const g = n.geo;
      if (isObj(g.mmdb)) {
        if (typeof g.mmdb.path === 'string' && g.mmdb.path !== '') {
          try {
            openMmdb(g.mmdb.path);
          } catch (err) {
            add(at('names', ni, 'geo', 'mmdb', 'path'), (err as Error).message);
          }
        }
        if (isObj(g.mmdb.regions)) for (const [code, r] of Object.entries(g.mmdb.regions)) siteRef(at('names', ni, 'geo', 'mmdb', 'regions', code), r);
      }
      arr(g.map).forEach((m, mi) => { if (isObj(m)) siteRef(at('names', ni, 'geo', 'map', mi, 'region'), m.region); });
      siteRef(at('names', ni, 'geo', 'default'), g.default);
      if (isObj(g.preference)) {
        for (const [region, list] of Object.entries(g.preference)) {
          siteRef(at('names', ni, 'geo', 'preference', region), region);
          arr(list).forEach((s, i) => siteRef(at('names', ni, 'geo', 'preference', region, i), s));
        }
      }
    }
    if (isObj(n.latency)) {
      arr(n.latency.table).forEach((row, ri) => {
        if (isObj(row) && isObj(row.rtt)) for (const s of Object.keys(row.rtt)) siteRef(at('names', ni, 'latency', 'table', ri, 'rtt', s), s);
      });
    }
  });
}

function unique(items: unknown[], base: PathSegment[], what: string, add: Add, keyOf: (o: Obj) => string | undefined): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    if (!isObj(item)) return;
    const k = keyOf(item);
    if (k === undefined) return;
    const first = seen.get(k);
    if (first !== undefined) add([...base, i, 'name'], `duplicate ${what} ${JSON.stringify(k)} (also ${formatPath([...base, first])})`);
    else seen.set(k, i);
  });
}
