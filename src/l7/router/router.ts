/**
 * The L7 route matcher: ordered routes, first match wins, every given condition must hold (the
 * model of Traefik routers and Envoy route tables). Compiled once per snapshot into an immutable
 * `Router`; `match` is the hot path and allocates nothing (a regex on a query value slices it).
 * Weighted splits use nginx's smooth weighted round robin, shared with `balancing/`.
 */
import { FulcrumError } from '../../core/errors.ts';
import { SmoothWeighted } from '../../balancing/weighted-round-robin.ts';
import {
  compileValueMatch,
  CookieCondition,
  HeaderCondition,
  HostCondition,
  MethodCondition,
  PathExactCondition,
  PathPrefixCondition,
  PathRegexCondition,
  QueryCondition,
  type Condition,
} from './conditions.ts';
import type { CompiledRoute, RequestView, RouteSpec, Router, ValueMatch } from './types.ts';

export type * from './types.ts';
export { findCookie, queryParam } from './params.ts';

class Route implements CompiledRoute {
  readonly name: string;
  readonly index: number;
  readonly spec: RouteSpec;
  /** Empty = always true. */
  readonly conditions: readonly Condition[];
  private readonly pools: readonly string[];
  private readonly single: string | null;
  private readonly split: SmoothWeighted | null;

  constructor(spec: RouteSpec, index: number, conditions: Condition[]) {
    this.name = spec.name;
    this.index = index;
    this.spec = spec;
    this.conditions = conditions;
    const live = spec.targets.filter((t) => t.weight > 0);
    this.pools = spec.targets.map((t) => t.pool);
    this.single = live.length === 1 ? live[0].pool : null;
    this.split = live.length > 1 ? new SmoothWeighted(spec.targets.map((t) => t.weight)) : null;
  }

  matches(req: RequestView): boolean {
    const c = this.conditions;
    for (let i = 0; i < c.length; i++) if (!c[i].test(req)) return false;
    return true;
  }

  pickPool(): string {
    if (this.single !== null) return this.single;
    // compileRouter guarantees at least one target with weight > 0, so next() is never -1.
    return this.pools[this.split!.next()];
  }
}

class CompiledRouter implements Router {
  readonly routes: readonly Route[];

  constructor(routes: Route[]) {
    this.routes = routes;
  }

  match(req: RequestView): CompiledRoute | null {
    const r = this.routes;
    for (let i = 0; i < r.length; i++) if (r[i].matches(req)) return r[i];
    return null;
  }

  explain(req: RequestView): { route: CompiledRoute | null; rejected: { name: string; reason: string }[] } {
    const rejected: { name: string; reason: string }[] = [];
    for (const route of this.routes) {
      const reasons = route.conditions.filter((c) => !c.test(req)).map((c) => c.why(req));
      if (reasons.length === 0) return { route, rejected };
      rejected.push({ name: route.name, reason: reasons.join('; ') });
    }
    return { route: null, rejected };
  }
}

function regex(src: string, at: string, problems: string[]): RegExp | null {
  try {
    return new RegExp(src);
  } catch (e) {
    problems.push(`${at}: invalid regular expression ${JSON.stringify(src)} (${(e as Error).message})`);
    return null;
  }
}

function valueConditions(
  list: readonly ValueMatch[],
  at: string,
  lowerName: boolean,
  make: (m: ReturnType<typeof compileValueMatch>) => Condition,
  out: Condition[],
  problems: string[],
): void {
  list.forEach((m, j) => {
    const here = `${at}[${j}]`;
    if (m.name === '') problems.push(`${here}.name: must not be empty`);
    if (m.present === false && (m.exact !== undefined || m.regex !== undefined)) {
      problems.push(`${here}: present: false cannot be combined with exact or regex`);
    }
    const re = m.regex === undefined ? null : regex(m.regex, `${here}.regex`, problems);
    out.push(make(compileValueMatch(m, re, lowerName)));
  });
}

function compileConditions(spec: RouteSpec, at: string, problems: string[]): Condition[] {
  const m = spec.match ?? {};
  const out: Condition[] = [];
  if (m.host !== undefined) {
    m.host.forEach((h, j) => {
      const star = h.indexOf('*');
      if (star !== -1 && (star !== 0 || !h.startsWith('*.') || h.length < 3 || h.indexOf('*', 1) !== -1)) {
        problems.push(`${at}.match.host[${j}]: "*" is only allowed as a leading "*." label, got ${JSON.stringify(h)}`);
      }
    });
    out.push(new HostCondition(m.host));
  }
  if (m.path !== undefined) {
    if (m.path.prefix !== undefined) out.push(new PathPrefixCondition(m.path.prefix));
    if (m.path.exact !== undefined) out.push(new PathExactCondition(m.path.exact));
    if (m.path.regex !== undefined) {
      const re = regex(m.path.regex, `${at}.match.path.regex`, problems);
      if (re !== null) out.push(new PathRegexCondition(re));
    }
  }
  if (m.method !== undefined) out.push(new MethodCondition(m.method));
  if (m.headers !== undefined) valueConditions(m.headers, `${at}.match.headers`, true, (v) => new HeaderCondition(v), out, problems);
  if (m.query !== undefined) valueConditions(m.query, `${at}.match.query`, false, (v) => new QueryCondition(v), out, problems);
  if (m.cookies !== undefined) valueConditions(m.cookies, `${at}.match.cookies`, false, (v) => new CookieCondition(v), out, problems);
  return out;
}

/**
 * Compiles a listener's routes (in order) into an immutable `Router`. Throws
 * `FULCRUM_E_CONFIG_INVALID` listing every problem by path (`<where>[i]…`; `where` defaults to
 * `routes`): invalid regexes, misplaced `*` in hosts, empty value names, `present: false` with a value
 * condition, no targets, weights that are not integers ≥ 0, all weights 0, duplicate route names.
 */
export function compileRouter(routes: readonly RouteSpec[], where = 'routes'): Router {
  const problems: string[] = [];
  const seen = new Set<string>();
  const compiled = routes.map((spec, i) => {
    const at = `${where}[${i}]`;
    if (seen.has(spec.name)) problems.push(`${at}.name: duplicate route name ${JSON.stringify(spec.name)}`);
    seen.add(spec.name);
    if (spec.targets.length === 0 && spec.redirect === undefined) problems.push(`${at}.targets: at least one target is required`);
    spec.targets.forEach((t, j) => {
      if (!Number.isInteger(t.weight) || t.weight < 0) problems.push(`${at}.targets[${j}].weight: expected an integer ≥ 0, got ${t.weight}`);
    });
    if (spec.targets.length > 0 && !spec.targets.some((t) => t.weight > 0)) {
      problems.push(`${at}.targets: at least one target needs a weight above 0`);
    }
    return new Route(spec, i, compileConditions(spec, at, problems));
  });
  if (problems.length > 0) {
    throw new FulcrumError('FULCRUM_E_CONFIG_INVALID', `invalid routes: ${problems.length} problem(s)`, problems);
  }
  return new CompiledRouter(compiled);
}
