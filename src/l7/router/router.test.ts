import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileRouter, findCookie, queryParam } from './router.ts';
import type { RequestView, RouteSpec, ValueMatch } from './router.ts';
import { FulcrumError } from '../../core/errors.ts';

interface Req {
  method?: string;
  host?: string;
  path?: string;
  query?: string;
  headers?: Record<string, string>;
  cookie?: string;
}

function view(r: Req): RequestView {
  const headers = r.headers ?? {};
  return {
    method: r.method ?? 'GET',
    host: r.host ?? '',
    path: r.path ?? '/',
    query: r.query ?? '',
    header: (n, nth = 0) => (nth === 0 && Object.hasOwn(headers, n) ? headers[n] : undefined),
    cookie: (n, nth = 0) => (r.cookie === undefined ? undefined : findCookie(r.cookie, n, nth)),
  };
}

const route = (name: string, match: RouteSpec['match'], pool = name): RouteSpec => ({ name, match, targets: [{ pool, weight: 1 }] });

function matches(match: RouteSpec['match'], r: Req): boolean {
  return compileRouter([route('r', match)]).match(view(r)) !== null;
}

test('host: exact, case-insensitive, and wildcard edges', () => {
  assert.equal(matches({ host: ['example.com'] }, { host: 'example.com' }), true);
  assert.equal(matches({ host: ['EXAMPLE.com'] }, { host: 'example.com' }), true);
  assert.equal(matches({ host: ['example.com'] }, { host: 'example.org' }), false);
  assert.equal(matches({ host: ['example.com'] }, { host: '' }), false);
  const w = { host: ['*.Example.com'] };
  assert.equal(matches(w, { host: 'sub.example.com' }), true);
  assert.equal(matches(w, { host: 'a.b.example.com' }), true);
  assert.equal(matches(w, { host: 'example.com' }), false);
  assert.equal(matches(w, { host: '.example.com' }), false);
  assert.equal(matches(w, { host: 'a..example.com' }), false);
  assert.equal(matches(w, { host: 'badexample.com' }), false);
  assert.equal(matches({ host: ['[::1]'] }, { host: '[::1]' }), true);
});

test('path: prefix, exact, regex (unanchored) and all together', () => {
  assert.equal(matches({ path: { prefix: '/api' } }, { path: '/api/v1' }), true);
  assert.equal(matches({ path: { prefix: '/api' } }, { path: '/apix' }), true);
  assert.equal(matches({ path: { prefix: '/api/' } }, { path: '/api' }), false);
  assert.equal(matches({ path: { exact: '/health' } }, { path: '/health' }), true);
  assert.equal(matches({ path: { exact: '/health' } }, { path: '/health/' }), false);
  assert.equal(matches({ path: { regex: 'v[0-9]+' } }, { path: '/api/v12/x' }), true);
  assert.equal(matches({ path: { regex: '^/v[0-9]+$' } }, { path: '/api/v12' }), false);
  assert.equal(matches({ path: { regex: '^/v[0-9]+$' } }, { path: '/v12' }), true);
  assert.equal(matches({ path: { prefix: '/a', regex: 'z$' } }, { path: '/abz' }), true);
  assert.equal(matches({ path: { prefix: '/a', regex: 'z$' } }, { path: '/abc' }), false);
  assert.equal(matches({ path: { prefix: '/%7E' } }, { path: '/~' }), false, 'raw, not decoded');
});

test('method: membership, case-sensitive', () => {
  assert.equal(matches({ method: ['GET', 'HEAD'] }, { method: 'HEAD' }), true);
  assert.equal(matches({ method: ['GET', 'HEAD'] }, { method: 'POST' }), false);
  assert.equal(matches({ method: ['GET'] }, { method: 'get' }), false);
});

test('headers: present, absent, exact, regex; names lowercased', () => {
  const h = { headers: { 'x-env': 'canary-2' } };
  assert.equal(matches({ headers: [{ name: 'X-Env', present: true }] }, h), true);
  assert.equal(matches({ headers: [{ name: 'x-env' }] }, h), true);
  assert.equal(matches({ headers: [{ name: 'x-other' }] }, h), false);
  assert.equal(matches({ headers: [{ name: 'x-env', present: false }] }, h), false);
  assert.equal(matches({ headers: [{ name: 'x-other', present: false }] }, h), true);
  assert.equal(matches({ headers: [{ name: 'x-env', exact: 'canary-2' }] }, h), true);
  assert.equal(matches({ headers: [{ name: 'x-env', exact: 'canary' }] }, h), false);
  assert.equal(matches({ headers: [{ name: 'x-env', regex: '^canary' }] }, h), true);
  assert.equal(matches({ headers: [{ name: 'x-env', regex: '^prod' }] }, h), false);
  assert.equal(matches({ headers: [{ name: 'x-missing', regex: '.*' }] }, h), false);
});

test('query: raw values, any occurrence of a repeated name, no "=" means empty value', () => {
  const r = { query: 'a=1&b=%20x&flag&a=2&c=' };
  assert.equal(matches({ query: [{ name: 'a', exact: '1' }] }, r), true);
  assert.equal(matches({ query: [{ name: 'a', exact: '2' }] }, r), true, 'the second occurrence matches');
  assert.equal(matches({ query: [{ name: 'a', exact: '3' }] }, r), false);
  assert.equal(matches({ query: [{ name: 'b', exact: '%20x' }] }, r), true);
  assert.equal(matches({ query: [{ name: 'b', exact: ' x' }] }, r), false);
  assert.equal(matches({ query: [{ name: 'flag', present: true }] }, r), true);
  assert.equal(matches({ query: [{ name: 'flag', exact: '' }] }, r), true);
  assert.equal(matches({ query: [{ name: 'c', exact: '' }] }, r), true);
  assert.equal(matches({ query: [{ name: 'fla' }] }, r), false);
  assert.equal(matches({ query: [{ name: 'A' }] }, r), false, 'names are case-sensitive');
  assert.equal(matches({ query: [{ name: 'd', present: false }] }, r), true);
  assert.equal(matches({ query: [{ name: 'b', regex: '^%20' }] }, r), true);
  assert.equal(matches({ query: [{ name: 'a', regex: '^[2-9]$' }] }, r), true);
  assert.equal(matches({ query: [{ name: 'a', regex: '^[3-9]$' }] }, r), false);
  assert.equal(matches({ query: [{ name: 'a' }] }, { query: '' }), false);
  assert.equal(queryParam('x=1&&y', 'y'), '');
  assert.equal(queryParam('x=1=2', 'x'), '1=2');
});

test('cookies: RFC 6265 pairs, trimmed, any occurrence of a repeated name', () => {
  const c = { cookie: 'sid=abc; theme = dark ;flag; sid=later; q="quoted"' };
  assert.equal(matches({ cookies: [{ name: 'sid', exact: 'abc' }] }, c), true);
  assert.equal(matches({ cookies: [{ name: 'theme', exact: 'dark' }] }, c), true);
  assert.equal(matches({ cookies: [{ name: 'flag', exact: '' }] }, c), true);
  assert.equal(matches({ cookies: [{ name: 'q', exact: '"quoted"' }] }, c), true);
  assert.equal(matches({ cookies: [{ name: 'si' }] }, c), false);
  assert.equal(matches({ cookies: [{ name: 'sid', regex: 'later' }] }, c), true, 'the second sid matches');
  assert.equal(matches({ cookies: [{ name: 'sid', regex: 'never' }] }, c), false);
  assert.equal(matches({ cookies: [{ name: 'sid' }] }, {}), false);
  assert.equal(matches({ cookies: [{ name: 'sid', present: false }] }, {}), true);
});

test('no conditions matches everything; first match wins; null when none', () => {
  const r = compileRouter([
    route('api', { path: { prefix: '/api' } }),
    route('api-v1', { path: { prefix: '/api/v1' } }),
    route('site', { host: ['www.a.com'] }),
  ]);
  assert.equal(r.match(view({ path: '/api/v1/x', host: 'www.a.com' }))?.name, 'api');
  assert.equal(r.match(view({ path: '/x', host: 'www.a.com' }))?.index, 2);
  assert.equal(r.match(view({ path: '/x', host: 'b.com' })), null);
  const any = compileRouter([route('any', {})]);
  assert.equal(any.match(view({ method: 'PATCH', host: '', path: '' }))?.name, 'any');
  assert.deepEqual(r.routes.map((x) => x.name), ['api', 'api-v1', 'site']);
});

test('weighted split: 90/10 exact over every 100 picks; weight 0 never chosen', () => {
  const r = compileRouter([
    { name: 'split', match: {}, targets: [{ pool: 'stable', weight: 90 }, { pool: 'canary', weight: 10 }, { pool: 'off', weight: 0 }] },
    { name: 'one', match: {}, targets: [{ pool: 'off', weight: 0 }, { pool: 'only', weight: 3 }] },
  ]);
  const split = r.routes[0];
  for (let round = 0; round < 3; round++) {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      const p = split.pickPool();
      counts[p] = (counts[p] ?? 0) + 1;
    }
    assert.deepEqual(counts, { stable: 90, canary: 10 });
  }
  assert.deepEqual([1, 2, 3].map(() => r.routes[1].pickPool()), ['only', 'only', 'only']);
});

test('explain gives a reason per earlier route', () => {
  const r = compileRouter([
    route('a', { host: ['b.com', '*.c.com'] }),
    route('b', { path: { prefix: '/api' }, method: ['POST'] }),
    route('c', { headers: [{ name: 'x-v', exact: '2' }], query: [{ name: 'k' }], cookies: [{ name: 's', regex: '^z' }] }),
    route('d', { path: { exact: '/y', regex: '^/z' } }),
    route('e', {}),
  ]);
  const e = r.explain(view({ host: 'a.com', path: '/x', method: 'GET', headers: { 'x-v': '1' }, cookie: 's=a' }));
  assert.equal(e.route?.name, 'e');
  assert.deepEqual(e.rejected, [
    { name: 'a', reason: 'host "a.com" not in [b.com, *.c.com]' },
    { name: 'b', reason: 'path "/x" does not start with "/api"; method "GET" not in [POST]' },
    { name: 'c', reason: 'header "x-v" value "1" is not "2"; query parameter "k" is missing; cookie "s" value "a" does not match /^z/' },
    { name: 'd', reason: 'path "/x" is not "/y"; path "/x" does not match /^\\/z/' },
  ]);
  const none = compileRouter([route('p', { headers: [{ name: 'x', present: false }] })]).explain(view({ headers: { x: '1' } }));
  assert.deepEqual(none, { route: null, rejected: [{ name: 'p', reason: 'header "x" is present' }] });
});

test('bad routes are refused with every problem listed by path', () => {
  try {
    compileRouter(
      [
        { name: 'a', match: { path: { regex: '(' }, host: ['a.*.com'] }, targets: [] },
        { name: 'a', match: { query: [{ name: '', present: false, exact: 'x' }] }, targets: [{ pool: 'p', weight: 0 }, { pool: 'q', weight: 1.5 }] },
      ],
      'listeners[0].routes',
    );
    assert.fail('expected a throw');
  } catch (err) {
    assert.ok(err instanceof FulcrumError);
    assert.equal(err.code, 'FULCRUM_E_CONFIG_INVALID');
    assert.deepEqual(
      err.details.map((d) => d.replace(/ \(.*\)$/, '')),
      [
        'listeners[0].routes[0].targets: at least one target is required',
        'listeners[0].routes[0].match.host[0]: "*" is only allowed as a leading "*." label, got "a.*.com"',
        'listeners[0].routes[0].match.path.regex: invalid regular expression "("',
        'listeners[0].routes[1].name: duplicate route name "a"',
        'listeners[0].routes[1].targets[1].weight: expected an integer ≥ 0, got 1.5',
        'listeners[0].routes[1].match.query[0].name: must not be empty',
        'listeners[0].routes[1].match.query[0]: present: false cannot be combined with exact or regex',
      ],
    );
  }
});

// ---- property: match() agrees with a slow, obviously-correct reference ----

function refQuery(query: string, name: string): string[] {
  const out: string[] = [];
  for (const seg of query.split('&')) {
    const i = seg.indexOf('=');
    if ((i < 0 ? seg : seg.slice(0, i)) === name) out.push(i < 0 ? '' : seg.slice(i + 1));
  }
  return out;
}

function refCookie(header: string | undefined, name: string): string[] {
  const out: string[] = [];
  if (header === undefined) return out;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if ((i < 0 ? part : part.slice(0, i)).trim() === name) out.push(i < 0 ? '' : part.slice(i + 1).trim());
  }
  return out;
}

/** Any-occurrence semantics: a repeated name satisfies the condition when one occurrence does. */
function refAny(m: ValueMatch, vs: string[]): boolean {
  if (m.present === false) return vs.length === 0;
  return vs.some((v) => refValue(m, v));
}

function refValue(m: ValueMatch, v: string | undefined): boolean {
  if (m.present === false) return v === undefined;
  if (v === undefined) return false;
  return (m.exact === undefined || m.exact === v) && (m.regex === undefined || new RegExp(m.regex).test(v));
}

function refHost(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  if (!p.startsWith('*.')) return p === host;
  const suffix = p.slice(1);
  if (!host.endsWith(suffix)) return false;
  const labels = host.slice(0, host.length - suffix.length).split('.');
  return labels[labels.length - 1] !== '';
}

function refMatch(spec: RouteSpec, r: Req): boolean {
  const m = spec.match;
  const v = view(r);
  if (m.host && !m.host.some((h) => refHost(h, v.host))) return false;
  if (m.path?.prefix !== undefined && v.path.slice(0, m.path.prefix.length) !== m.path.prefix) return false;
  if (m.path?.exact !== undefined && v.path !== m.path.exact) return false;
  if (m.path?.regex !== undefined && !new RegExp(m.path.regex).test(v.path)) return false;
  if (m.method && !m.method.includes(v.method)) return false;
  if (m.headers && !m.headers.every((h) => refValue(h, r.headers?.[h.name.toLowerCase()]))) return false;
  if (m.query && !m.query.every((q) => refAny(q, refQuery(v.query, q.name)))) return false;
  if (m.cookies && !m.cookies.every((c) => refAny(c, refCookie(r.cookie, c.name)))) return false;
  return true;
}

const names = ['a', 'b', 'ab'];
const values = ['', '1', '2', '12', 'x y', '%41'];
const valueMatch = (names: string[]) =>
  fc.oneof(
    fc.record({ name: fc.constantFrom(...names), present: fc.boolean() }),
    fc.record({ name: fc.constantFrom(...names), exact: fc.constantFrom(...values) }),
    fc.record({ name: fc.constantFrom(...names), regex: fc.constantFrom('^1', '2$', '^$', 'y', '%') }),
    fc.record({ name: fc.constantFrom(...names), exact: fc.constantFrom(...values), regex: fc.constantFrom('1', '^$') }),
  ) as fc.Arbitrary<ValueMatch>;
const paths = ['/', '/api', '/api/', '/api/v1', '/apix', '/x/api', ''];
const matchArb = fc.record(
  {
    host: fc.array(fc.constantFrom('a.com', 'A.com', '*.a.com', '*.b.a.com', 'x.com'), { minLength: 1, maxLength: 3 }),
    path: fc.record({ prefix: fc.constantFrom(...paths), exact: fc.constantFrom(...paths), regex: fc.constantFrom('^/api', 'v1$', 'x', '^/$') }, { requiredKeys: [] }),
    method: fc.array(fc.constantFrom('GET', 'POST', 'PUT'), { minLength: 1, maxLength: 2 }),
    headers: fc.array(valueMatch(['x-a', 'X-B']), { maxLength: 2 }),
    query: fc.array(valueMatch(names), { maxLength: 2 }),
    cookies: fc.array(valueMatch(names), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const pairs = (sep: fc.Arbitrary<string>, eqOptional: boolean) =>
  fc.array(fc.tuple(fc.constantFrom(...names, 'c'), fc.constantFrom(...values.filter((x) => !x.includes(';') && !x.includes('&'))), fc.boolean(), sep), { maxLength: 4 }).map((ps) =>
    ps.map(([n, v, noEq, s], i) => (i === 0 ? '' : s) + (eqOptional && noEq ? n : `${n}=${v}`)).join(''),
  );
const reqArb: fc.Arbitrary<Req> = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'get'),
  host: fc.constantFrom('a.com', 'b.a.com', 'c.b.a.com', 'x.com', '', '.a.com', 'a..a.com', 'ba.com'),
  path: fc.constantFrom(...paths, '/api/v1/x', '/API'),
  query: pairs(fc.constantFrom('&', '&&'), true),
  headers: fc.record({ 'x-a': fc.constantFrom(...values), 'x-b': fc.constantFrom(...values) }, { requiredKeys: [] }),
  cookie: fc.option(pairs(fc.constantFrom(';', '; ', ' ;  '), true), { nil: undefined }),
});

test('property: match() agrees with a slow reference implementation', () => {
  fc.assert(
    fc.property(fc.array(matchArb, { minLength: 0, maxLength: 4 }), fc.array(reqArb, { minLength: 1, maxLength: 10 }), (matchList, reqs) => {
      const specs = matchList.map((m, i) => route(`r${i}`, m));
      const router = compileRouter(specs);
      for (const r of reqs) {
        const expected = specs.findIndex((s) => refMatch(s, r));
        const got = router.match(view(r));
        assert.equal(got === null ? -1 : got.index, expected);
        const ex = router.explain(view(r));
        assert.equal(ex.route === null ? -1 : ex.route.index, expected);
        assert.equal(ex.rejected.length, expected === -1 ? specs.length : expected);
      }
    }),
    { numRuns: 1000 },
  );
});
