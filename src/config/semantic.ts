/**
 * Checks that relate several values of a config (DESIGN.md rule 4): unique listener, pool, route
 * and server names/addresses; routes naming defined pools; "exactly one of" groups; listen
 * addresses that would collide at bind time (a wildcard 0.0.0.0:P or [::]:P collides with any
 * host on port P, as a Linux dual-stack bind does).
 *
 * A config needs at least one listener unless it has a `gslb` section (Fulcrum as a DNS server
 * alone); then `listeners` and `pools` may be omitted or empty.
 *
 * Runs on the raw (interpolated) input, independently of the schema pass, so both report in one
 * go. Every access is guarded: values of the wrong type are the schema's to report.
 */
import { formatPath, type PathSegment, type PathedProblem } from './problems.ts';
import { isWildcardHost, parseHostPort, tryParseDuration } from './values.ts';
import { getAlgorithm } from '../balancing/registry.ts';
import { listenerTlsProblems, poolTlsProblems } from '../l7/tls/validate.ts';
import { gslbProblems } from '../gslb/semantic.ts';


type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const DEFAULT_ADMIN_LISTEN = '127.0.0.1:9090';

/** Returns every cross-value problem of `raw` (empty when there is none). */
export function semanticProblems(raw: unknown): PathedProblem[] {
  const out: PathedProblem[] = [];
  const add = (segments: PathSegment[], message: string): void => {
    out.push({ path: formatPath(segments), message, segments });
  };
  if (!isObj(raw)) return out;

  const pools = arr(raw.pools);
  const listeners = arr(raw.listeners);
  // Without listeners Fulcrum serves nothing unless it is a DNS server (GSLB only): then listeners
  // and pools may be omitted. A value of the wrong type is the schema's to report.
  if ((raw.listeners === undefined || (Array.isArray(raw.listeners) && raw.listeners.length === 0)) && raw.gslb === undefined) {
    add(['listeners'], 'expected at least one listener (or a gslb section)');
  }
  uniqueNames(pools, ['pools'], 'pool', add);
  uniqueNames(listeners, ['listeners'], 'listener', add);

  const poolNames = new Set<string>();
  for (const p of pools) if (isObj(p) && typeof p.name === 'string') poolNames.add(p.name);
  const knownPools = [...poolNames].join(', ') || 'none';
  const checkPoolRef = (segments: PathSegment[], name: unknown): void => {
    if (typeof name === 'string' && !poolNames.has(name)) add(segments, `unknown pool ${JSON.stringify(name)}; defined pools: ${knownPools}`);
  };

  listeners.forEach((l, li) => {
    if (!isObj(l)) return;
    checkProtocolFields(l, li, add);
    listenerTlsProblems(l, li, add);
    checkPoolRef(['listeners', li, 'pool'], l.pool);
    arr(l.sniRoutes).forEach((r, ri) => { if (isObj(r)) checkPoolRef(['listeners', li, 'sniRoutes', ri, 'pool'], r.pool); });
    const routes = arr(l.routes);
    const routeNames = new Map<string, number>();
    routes.forEach((r, ri) => {
      if (!isObj(r)) return;
      const at: PathSegment[] = ['listeners', li, 'routes', ri];
      const name = typeof r.name === 'string' ? r.name : `route-${ri}`;
      const first = routeNames.get(name);
      if (first !== undefined) add(r.name !== undefined ? [...at, 'name'] : at, `duplicate route name ${JSON.stringify(name)} (also routes[${first}] of this listener)`);
      else routeNames.set(name, ri);

      const hasPool = r.pool !== undefined;
      const hasSplit = r.split !== undefined;
      if (r.redirect !== undefined) {
        // A redirect route answers by itself (docs/tls.md); on an https listener it would loop.
        if (hasPool || hasSplit) add(at, 'a redirect route takes no "pool" or "split"');
        if (l.protocol === 'https') add([...at, 'redirect'], 'a redirect to https on an https listener would loop');
      } else if (hasPool && hasSplit) add(at, 'expected either "pool" or "split", not both');
      else if (!hasPool && !hasSplit) add(at, 'expected "pool" or "split"');
      checkPoolRef([...at, 'pool'], r.pool);
      if (Array.isArray(r.split)) {
        r.split.forEach((t, ti) => { if (isObj(t)) checkPoolRef([...at, 'split', ti, 'pool'], t.pool); });
        const weights = r.split.map((t) => (isObj(t) ? t.weight : undefined));
        if (weights.length > 0 && weights.every((w) => w === 0)) add([...at, 'split'], 'expected at least one weight > 0, got all weights 0');
      }
      if (isObj(r.match)) checkMatch(r.match, [...at, 'match'], add);
    });
  });

  // Pools that HTTP routes reach, and pools that L4 listeners reach: `sticky` (cookies, learned
  // sessions) only means something for HTTP; on a pool only L4 listeners use it would be silently
  // ignored (HAProxy warns "'cookie' statement ignored … requires HTTP mode"; here it is an error).
  const httpPools = new Set<unknown>();
  const l4Pools = new Set<unknown>();
  for (const l of listeners) {
    if (!isObj(l)) continue;
    if (l.protocol === undefined || l.protocol === 'http' || l.protocol === 'https') {
      for (const r of arr(l.routes)) {
        if (!isObj(r)) continue;
        httpPools.add(r.pool);
        for (const t of arr(r.split)) if (isObj(t)) httpPools.add(t.pool);
      }
    } else {
      l4Pools.add(l.pool);
      for (const r of arr(l.sniRoutes)) if (isObj(r)) l4Pools.add(r.pool);
    }
  }

  pools.forEach((p, pi) => {
    if (!isObj(p)) return;
    if (p.sticky !== undefined && l4Pools.has(p.name) && !httpPools.has(p.name)) {
      add(['pools', pi, 'sticky'], `sticky sessions need HTTP (a cookie or a learned header); pool ${JSON.stringify(p.name)} is used only by tcp/tls-passthrough/udp listeners — for L4 affinity use a hashing algorithm with hashKey source-ip`);
    }
    checkAlgorithmOptions(p, pi, add);
    checkHealthCheck(p, pi, add);
    poolTlsProblems(p, pi, add);
    const seen = new Map<string, number>();
    arr(p.servers).forEach((s, si) => {
      if (!isObj(s) || typeof s.address !== 'string') return;
      const hp = parseHostPort(s.address);
      if (hp === null) return;
      const key = `${hp.host.toLowerCase()}:${hp.port}`;
      const first = seen.get(key);
      if (first !== undefined) add(['pools', pi, 'servers', si, 'address'], `duplicate server address ${JSON.stringify(s.address)} (also pools[${pi}].servers[${first}])`);
      else seen.set(key, si);
    });
  });

  checkListenCollisions(raw, listeners, add);
  gslbProblems(raw.gslb, add);
  return out;
}

/** Which listener fields each protocol needs and takes. */
function checkProtocolFields(l: Obj, li: number, add: (s: PathSegment[], m: string) => void): void {
  const protocol = l.protocol === undefined ? 'http' : l.protocol;
  if (typeof protocol !== 'string' || !['http', 'https', 'tcp', 'tls-passthrough', 'udp'].includes(protocol)) return; // the schema reports it
  const at = (k: string): PathSegment[] => ['listeners', li, k];
  const only = (k: string, protocols: string[]) => {
    if (l[k] !== undefined && !protocols.includes(protocol)) add(at(k), `"${k}" applies to ${protocols.join(' and ')} listeners, not ${protocol}`);
  };
  if ((protocol === 'http' || protocol === 'https') && l.routes === undefined) add(at('routes'), `an ${protocol} listener needs routes`);
  if (protocol === 'https' && l.tls === undefined) add(at('tls'), 'an https listener needs tls (certificates)');
  if ((protocol === 'tcp' || protocol === 'udp') && l.pool === undefined) add(at('pool'), `a ${protocol} listener needs pool`);
  if (protocol === 'tls-passthrough' && l.pool === undefined && l.sniRoutes === undefined) add(at('sniRoutes'), 'a tls-passthrough listener needs sniRoutes or a default pool');
  only('routes', ['http', 'https']);
  only('tls', ['https']);
  only('pool', ['tcp', 'tls-passthrough', 'udp']);
  only('sniRoutes', ['tls-passthrough']);
  only('proxyProtocol', ['http', 'https', 'tcp', 'tls-passthrough']);
  only('maxConnections', ['tcp', 'tls-passthrough']);
  only('udp', ['udp']);
  for (const k of ['trustedProxies', 'xForwarded', 'via', 'limits']) only(k, ['http', 'https']);
}

function uniqueNames(items: unknown[], base: PathSegment[], what: string, add: (s: PathSegment[], m: string) => void): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    if (!isObj(item) || typeof item.name !== 'string') return;
    const first = seen.get(item.name);
    if (first !== undefined) add([...base, i, 'name'], `duplicate ${what} name ${JSON.stringify(item.name)} (also ${formatPath([...base, first])})`);
    else seen.set(item.name, i);
  });
}

function exactlyOne(obj: Obj, keys: readonly string[], isSet: (k: string) => boolean, at: PathSegment[], label: string, add: (s: PathSegment[], m: string) => void): void {
  const given = keys.filter((k) => obj[k] !== undefined && isSet(k));
  if (given.length !== 1) {
    add(at, `expected exactly one of ${label}, got ${given.length === 0 ? 'none' : given.join(' and ')}`);
  }
}

function checkMatch(match: Obj, at: PathSegment[], add: (s: PathSegment[], m: string) => void): void {
  if (isObj(match.path)) exactlyOne(match.path, ['prefix', 'exact', 'regex'], () => true, [...at, 'path'], 'prefix, exact, regex', add);
  for (const kind of ['headers', 'query', 'cookies'] as const) {
    arr(match[kind]).forEach((vm, i) => {
      if (!isObj(vm)) return;
      exactlyOne(vm, ['exact', 'regex', 'present'], (k) => k !== 'present' || vm.present === true, [...at, kind, i], 'exact, regex, present: true', add);
    });
  }
}

function checkListenCollisions(raw: Obj, listeners: unknown[], add: (s: PathSegment[], m: string) => void): void {
  type Bound = { segments: PathSegment[]; text: string; host: string; port: number; udp: boolean };
  const bound: Bound[] = [];
  // UDP and TCP ports are separate: a udp listener collides only with another udp listener.
  const collides = (a: Bound, b: Bound): boolean =>
    a.udp === b.udp && a.port === b.port && (a.host === b.host || isWildcardHost(a.host) || isWildcardHost(b.host));
  const consider = (segments: PathSegment[], text: unknown, report: PathSegment[] | null, udp = false): void => {
    if (typeof text !== 'string') return;
    const hp = parseHostPort(text);
    if (hp === null || hp.port === 0) return; // port 0: the OS picks a free port
    const me: Bound = { segments, text, host: hp.host.toLowerCase(), port: hp.port, udp };
    const other = bound.find((b) => collides(b, me));
    if (other !== undefined) {
      add(report ?? segments, `listen address ${JSON.stringify(text)} collides with ${formatPath(other.segments)} (${JSON.stringify(other.text)})`);
    } else bound.push(me);
  };
  listeners.forEach((l, li) => { if (isObj(l)) consider(['listeners', li, 'listen'], l.listen, null, l.protocol === 'udp'); });
  // The GSLB DNS server binds its address for both TCP and UDP.
  if (isObj(raw.gslb) && typeof raw.gslb.listen === 'string') {
    consider(['gslb', 'listen'], raw.gslb.listen, null, false);
    consider(['gslb', 'listen'], raw.gslb.listen, null, true);
  }
  const admin = isObj(raw.admin) ? raw.admin : {};
  if (admin.enabled === false) return;
  if (admin.listen !== undefined) consider(['admin', 'listen'], admin.listen, null);
  else {
    // The default admin address binds too: report on the listener that takes it.
    const hp = parseHostPort(DEFAULT_ADMIN_LISTEN)!;
    const me: Bound = { segments: ['admin', 'listen'], text: DEFAULT_ADMIN_LISTEN, host: hp.host, port: hp.port, udp: false };
    const other = bound.find((b) => collides(b, me));
    if (other !== undefined) {
      add(other.segments, `listen address ${JSON.stringify(other.text)} collides with the default admin.listen (${JSON.stringify(DEFAULT_ADMIN_LISTEN)}); move one of them`);
    }
  }
}

/** Algorithm option sections of a pool must fit its algorithm (the registry says which do). */
function checkAlgorithmOptions(p: Obj, pi: number, add: (segments: PathSegment[], message: string) => void): void {
  const name = typeof p.algorithm === 'string' ? p.algorithm : 'round-robin';
  const algo = getAlgorithm(name);
  if (algo === undefined) return; // the schema reports the unknown name
  const at: PathSegment[] = ['pools', pi];
  if (algo.hashing === true && p.hashKey === undefined) add([...at, 'hashKey'], `algorithm ${JSON.stringify(name)} hashes a key: expected hashKey (source-ip, header:NAME, cookie:NAME, query:NAME, path or uri)`);
  if (algo.hashing !== true && p.hashKey !== undefined) add([...at, 'hashKey'], `algorithm ${JSON.stringify(name)} does not hash a key; hashKey is only used by hashing algorithms`);
  if (p.boundedLoad !== undefined && algo.hashing !== true) add([...at, 'boundedLoad'], `boundedLoad applies to hashing algorithms only (consistent-hash, maglev, rendezvous), not ${JSON.stringify(name)}`);
  if (p.slowStart !== undefined && algo.weighted !== true) add([...at, 'slowStart'], `slowStart applies to weighted algorithms only, not ${JSON.stringify(name)}`);
  for (const key of ['maglev', 'peakEwma', 'leastTime']) {
    if (p[key] !== undefined && algo.optionsKey !== key) add([...at, key], `section "${key}" does not apply to algorithm ${JSON.stringify(name)}`);
  }
}

/** A `command` check needs its executable, and only a `command` check takes one. */
function checkHealthCheck(p: Obj, pi: number, add: (segments: PathSegment[], message: string) => void): void {
  const hc = p.healthCheck;
  if (isObj(hc) && hc.type === 'command' && hc.command === undefined) {
    add(['pools', pi, 'healthCheck', 'command'], 'a health check of type "command" needs command.path (the executable to run)');
  }
  if (isObj(hc)) {
    const interval = hc.interval === undefined ? 2000 : tryParseDuration(hc.interval as string | number);
    if (interval !== undefined && interval < 10) add(['pools', pi, 'healthCheck', 'interval'], `expected an interval of at least 10ms, got ${JSON.stringify(hc.interval)}`);
    const timeout = hc.timeout === undefined ? 1000 : tryParseDuration(hc.timeout as string | number);
    if (timeout === 0) add(['pools', pi, 'healthCheck', 'timeout'], `expected a timeout above 0, got ${JSON.stringify(hc.timeout)}`);
  }
  if (isObj(hc) && hc.type !== 'command' && hc.command !== undefined) {
    add(['pools', pi, 'healthCheck', 'command'], `section "command" applies to type "command" only, not ${JSON.stringify(hc.type)}`);
  }
}
