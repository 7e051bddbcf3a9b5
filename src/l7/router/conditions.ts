/**
 * Precompiled route conditions (pure; DESIGN.md rule 1). Each condition is built once per snapshot
 * with its regexes compiled and its sets built, so `test` allocates nothing (except the value slice
 * a regex on a query parameter needs). `why` is for diagnostics only and may allocate.
 * Semantics follow the usual L7 routers (Traefik rules, Envoy route matches, nginx server_name).
 */
import { queryValueEnd, queryValueStart } from './params.ts';
import type { RequestView, ValueMatch } from './types.ts';

export interface Condition {
  test(req: RequestView): boolean;
  /** Why the condition fails for `req` (call only when `test` is false). */
  why(req: RequestView): string;
}

const q = (s: string | undefined): string => (s === undefined ? 'undefined' : JSON.stringify(s));

/** Host: exact names (case-insensitive) and `*.suffix` wildcards needing at least one label before the suffix. */
export class HostCondition implements Condition {
  private readonly exact: Set<string>;
  /** Wildcard suffixes with their leading dot, e.g. `.example.com`. */
  private readonly suffixes: string[];
  private readonly listed: string;

  constructor(hosts: readonly string[]) {
    this.exact = new Set();
    this.suffixes = [];
    for (const h of hosts) {
      const lower = h.toLowerCase();
      if (lower.startsWith('*.')) this.suffixes.push(lower.slice(1));
      else this.exact.add(lower);
    }
    this.listed = `[${hosts.join(', ')}]`;
  }

  test(req: RequestView): boolean {
    const host = req.host;
    if (this.exact.has(host)) return true;
    const sfx = this.suffixes;
    for (let i = 0; i < sfx.length; i++) {
      const s = sfx[i];
      const before = host.length - s.length;
      if (before > 0 && host.endsWith(s) && host.charCodeAt(before - 1) !== 46 /* . */) return true;
    }
    return false;
  }

  why(req: RequestView): string {
    return `host ${q(req.host)} not in ${this.listed}`;
  }
}

export class PathPrefixCondition implements Condition {
  private readonly prefix: string;
  constructor(prefix: string) {
    this.prefix = prefix;
  }
  test(req: RequestView): boolean {
    return req.path.startsWith(this.prefix);
  }
  why(req: RequestView): string {
    return `path ${q(req.path)} does not start with ${q(this.prefix)}`;
  }
}

export class PathExactCondition implements Condition {
  private readonly path: string;
  constructor(path: string) {
    this.path = path;
  }
  test(req: RequestView): boolean {
    return req.path === this.path;
  }
  why(req: RequestView): string {
    return `path ${q(req.path)} is not ${q(this.path)}`;
  }
}

export class PathRegexCondition implements Condition {
  private readonly re: RegExp;
  constructor(re: RegExp) {
    this.re = re;
  }
  test(req: RequestView): boolean {
    return this.re.test(req.path);
  }
  why(req: RequestView): string {
    return `path ${q(req.path)} does not match ${String(this.re)}`;
  }
}

export class MethodCondition implements Condition {
  private readonly methods: Set<string>;
  private readonly listed: string;
  constructor(methods: readonly string[]) {
    this.methods = new Set(methods);
    this.listed = `[${methods.join(', ')}]`;
  }
  test(req: RequestView): boolean {
    return this.methods.has(req.method);
  }
  why(req: RequestView): string {
    return `method ${q(req.method)} not in ${this.listed}`;
  }
}

/** The parts of a ValueMatch, compiled. `present` false = must be absent; true = must exist (then exact/regex apply). */
export interface CompiledValueMatch {
  readonly name: string;
  readonly exact: string | undefined;
  readonly re: RegExp | null;
  readonly present: boolean;
}

export function compileValueMatch(m: ValueMatch, re: RegExp | null, lowerName: boolean): CompiledValueMatch {
  // With neither exact nor regex, absent `present` means "must exist".
  return { name: lowerName ? m.name.toLowerCase() : m.name, exact: m.exact, re, present: m.present !== false };
}

function valueWhy(kind: string, m: CompiledValueMatch, v: string | undefined): string {
  const what = `${kind} ${q(m.name)}`;
  if (!m.present) return `${what} is present`;
  if (v === undefined) return `${what} is missing`;
  if (m.exact !== undefined && v !== m.exact) return `${what} value ${q(v)} is not ${q(m.exact)}`;
  return `${what} value ${q(v)} does not match ${String(m.re)}`;
}

function valueTest(m: CompiledValueMatch, v: string | undefined): boolean {
  if (v === undefined) return !m.present;
  if (!m.present) return false;
  if (m.exact !== undefined && v !== m.exact) return false;
  return m.re === null || m.re.test(v);
}

/** Occurrences of one name looked at, at most (the parser caps a head at 100 fields by default). */
const MAX_OCCURRENCES = 1000;

/**
 * Any-occurrence test: a repeated header or cookie satisfies the condition when one of its
 * occurrences does (absence conditions: when there is none at all).
 */
function anyOccurrence(m: CompiledValueMatch, req: RequestView, cookie: boolean): boolean {
  const first = cookie ? req.cookie(m.name, 0) : req.header(m.name, 0);
  if (first === undefined) return !m.present;
  if (!m.present) return false;
  if (valueTest(m, first)) return true;
  for (let i = 1; i < MAX_OCCURRENCES; i++) {
    const v = cookie ? req.cookie(m.name, i) : req.header(m.name, i);
    if (v === undefined) return false;
    if (valueTest(m, v)) return true;
  }
  return false;
}

export class HeaderCondition implements Condition {
  private readonly m: CompiledValueMatch;
  constructor(m: CompiledValueMatch) {
    this.m = m;
  }
  test(req: RequestView): boolean {
    return anyOccurrence(this.m, req, false);
  }
  why(req: RequestView): string {
    return valueWhy('header', this.m, req.header(this.m.name));
  }
}

export class CookieCondition implements Condition {
  private readonly m: CompiledValueMatch;
  constructor(m: CompiledValueMatch) {
    this.m = m;
  }
  test(req: RequestView): boolean {
    return anyOccurrence(this.m, req, true);
  }
  why(req: RequestView): string {
    return valueWhy('cookie', this.m, req.cookie(this.m.name));
  }
}

/** Query parameter: compares in place in the raw query, slicing only when a regex must run. */
export class QueryCondition implements Condition {
  private readonly m: CompiledValueMatch;
  constructor(m: CompiledValueMatch) {
    this.m = m;
  }
  test(req: RequestView): boolean {
    const m = this.m;
    const query = req.query;
    let start = queryValueStart(query, m.name);
    if (start === -1) return !m.present;
    if (!m.present) return false;
    // Any occurrence of a repeated parameter may satisfy the condition.
    for (let i = 0; i < MAX_OCCURRENCES && start !== -1; i++) {
      const end = queryValueEnd(query, start);
      const exactOk = m.exact === undefined || (end - start === m.exact.length && query.startsWith(m.exact, start));
      if (exactOk && (m.re === null || m.re.test(query.slice(start, end)))) return true;
      start = end >= query.length ? -1 : queryValueStart(query, m.name, end + 1);
    }
    return false;
  }
  why(req: RequestView): string {
    const query = req.query;
    const start = queryValueStart(query, this.m.name);
    const v = start === -1 ? undefined : query.slice(start, queryValueEnd(query, start));
    return valueWhy('query parameter', this.m, v);
  }
}
