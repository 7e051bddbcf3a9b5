// Config system: every problem kind by exact path, all problems at once, defaults, env
// interpolation, durations, YAML and JSON, JSON Schema and the docs staleness check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import {
  configJsonSchema, formatProblems, parseConfigText, parseDuration, parseHostPort, renderConfigDocs,
  validateConfig, type ConfigResult, type Problem,
} from '../src/config/index.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));

/** A minimal valid config as a plain object; each test mutates a fresh copy. */
function base(): any {
  return {
    listeners: [{ name: 'web', listen: '127.0.0.1:8080', routes: [{ pool: 'api' }] }],
    pools: [{ name: 'api', servers: [{ address: '127.0.0.1:3001' }] }],
  };
}

function problemsOf(r: ConfigResult): Problem[] {
  assert.equal(r.ok, false, 'expected the config to be refused');
  return r.ok ? [] : r.problems;
}

/** Asserts that validating `raw` gives exactly one problem at `path` whose message matches `msg`. */
function expectOne(raw: unknown, path: string, msg: RegExp): void {
  const ps = problemsOf(validateConfig(raw));
  assert.equal(ps.length, 1, `expected one problem, got:\n${formatProblems(ps)}`);
  assert.equal(ps[0].path, path);
  assert.match(ps[0].message, msg);
}

test('a minimal config gets every default', () => {
  const r = validateConfig(base());
  assert.ok(r.ok, r.ok ? '' : formatProblems(r.problems));
  assert.deepEqual(r.config, {
    admin: { listen: '127.0.0.1:9090', enabled: true },
    shutdown: { gracePeriod: 30000 },
    listeners: [{
      name: 'web', protocol: 'http', listen: '127.0.0.1:8080', trustedProxies: [], xForwarded: true, via: false,
      timeouts: { header: 10000, idle: 60000, request: 0, tunnel: 3_600_000, clientHello: 5000 },
      limits: { requestLine: 8192, headerBytes: 32768, headerCount: 100 },
      webSocket: { enabled: true, drainTimeout: 10000, otherUpgrades: [] },
      routes: [{ name: 'route-0', match: {}, targets: [{ pool: 'api', weight: 1 }] }],
      maxConnections: 10000, udp: { sessionTimeout: 30000, maxSessions: 10000 },
      http2: { enabled: true, maxConcurrentStreams: 100, maxHeaderListSize: 65536, maxSessionMemory: 10, maxResets: 200, resetWindow: 10000 },
    }],
    pools: [{
      name: 'api', algorithm: 'round-robin', hashKeyMissing: 'round-robin', servers: [{ address: '127.0.0.1:3001', weight: 1, drain: false }],
      timeouts: { connect: 5000, response: 60000, drain: 0 }, keepAlive: { idleTimeout: 4000, maxIdle: 64 },
      outlierDetection: {
        enabled: true, consecutive5xx: 5, consecutiveGatewayFailure: 5, interval: 10000,
        baseEjectionTime: 30000, maxEjectionTime: 300000, maxEjectionPercent: 10,
      },
      panicThreshold: 50,
      grayFailure: { enabled: true, factor: 3, window: 10000, stepInterval: 1000, step: 0.5, minWeight: 0.01, minLatency: 10 },
      retries: {
        attempts: 2, on: ['connect-failure', 'reset', 'timeout', 502, 503, 504], perTryTimeout: 0,
        backoff: { base: 25, max: 250 }, budget: { ratio: 0.2, minPerSecond: 3 }, bufferBody: 65536,
      },
      circuitBreakers: { maxConnections: 1024, maxPending: 1024, maxRequests: 1024 },
      upstreamProtocol: 'http1',
      maxConnectionsPerServer: 0,
    }],
  });
});

test('a health check gets HAProxy defaults; status ranges are parsed; a command check needs its path', () => {
  const c = base();
  c.pools[0].healthCheck = { type: 'http', http: { path: '/healthz', expectStatus: [200, '300-302'] } };
  const r = validateConfig(c);
  assert.ok(r.ok, r.ok ? '' : formatProblems(r.problems));
  assert.deepEqual(r.config.pools[0].healthCheck, {
    type: 'http', interval: 2000, jitter: 0.1, timeout: 1000, rise: 2, fall: 3, initial: 'unknown',
    http: { method: 'GET', path: '/healthz', expectStatus: [[200, 200], [300, 302]], tls: false },
  });
  const bad = base();
  bad.pools[0].healthCheck = { type: 'http', http: { expectStatus: ['299-200'] } };
  expectOne(bad, 'pools[0].healthCheck.http.expectStatus[0]', /expected a status code 100-599 or a range like "200-399", got "299-200"/);
  const cmd = base();
  cmd.pools[0].healthCheck = { type: 'command' };
  expectOne(cmd, 'pools[0].healthCheck.command', /needs command.path/);
  const fast = base();
  fast.pools[0].healthCheck = { type: 'tcp', interval: '5ms' };
  expectOne(fast, 'pools[0].healthCheck.interval', /at least 10ms, got "5ms"/);
  const zero = base();
  zero.pools[0].healthCheck = { type: 'tcp', timeout: 0 };
  expectOne(zero, 'pools[0].healthCheck.timeout', /above 0, got 0/);
});

test('L4 listeners: each protocol takes its own fields; pools referenced; udp and tcp ports do not collide', () => {
  const c = base();
  c.listeners.push(
    { name: 'db', protocol: 'tcp', listen: '127.0.0.1:5432', pool: 'api', proxyProtocol: { from: ['10.0.0.0/8'] } },
    { name: 'tls', protocol: 'tls-passthrough', listen: '127.0.0.1:8443', sniRoutes: [{ serverNames: ['A.example.com', '*.example.org'], pool: 'api' }] },
    { name: 'dns', protocol: 'udp', listen: '127.0.0.1:5432', pool: 'api', udp: { maxSessions: 5 } },
  );
  c.pools[0].proxyProtocol = 'v2';
  const r = validateConfig(c);
  assert.ok(r.ok, r.ok ? '' : formatProblems(r.problems));
  assert.deepEqual(r.config.listeners[2].sniRoutes, [{ serverNames: ['a.example.com', '*.example.org'], pool: 'api' }]);
  assert.equal(r.config.listeners[3].udp.maxSessions, 5);
  const noPool = base();
  noPool.listeners[0] = { name: 'db', protocol: 'tcp', listen: '127.0.0.1:5432' };
  expectOne(noPool, 'listeners[0].pool', /^a tcp listener needs pool$/);
  const routesOnTcp = base();
  routesOnTcp.listeners[0].protocol = 'tcp';
  routesOnTcp.listeners[0].pool = 'api';
  expectOne(routesOnTcp, 'listeners[0].routes', /^"routes" applies to http and https listeners, not tcp$/);
  const noRoutes = base();
  delete noRoutes.listeners[0].routes;
  expectOne(noRoutes, 'listeners[0].routes', /^an http listener needs routes$/);
  const badRef = base();
  badRef.listeners.push({ name: 't', protocol: 'tls-passthrough', listen: '127.0.0.1:8443', sniRoutes: [{ serverNames: ['a.b'], pool: 'nope' }] });
  expectOne(badRef, 'listeners[1].sniRoutes[0].pool', /^unknown pool "nope"/);
  const clash = base();
  clash.listeners.push({ name: 't', protocol: 'tcp', listen: '127.0.0.1:8080', pool: 'api' });
  expectOne(clash, 'listeners[1].listen', /collides with listeners\[0\]\.listen/);
  // PROXY protocol in: http and https listeners take it as L4 ones do; udp does not.
  const ppHttp = base();
  ppHttp.listeners[0].proxyProtocol = { from: ['10.0.0.0/8', '::1'] };
  const ok = validateConfig(ppHttp);
  assert.ok(ok.ok, ok.ok ? '' : formatProblems(ok.problems));
  assert.deepEqual(ok.config.listeners[0].proxyProtocol, { from: ['10.0.0.0/8', '::1'] });
  const ppUdp = base();
  ppUdp.listeners.push({ name: 'dns', protocol: 'udp', listen: '127.0.0.1:5353', pool: 'api', proxyProtocol: { from: ['10.0.0.0/8'] } });
  expectOne(ppUdp, 'listeners[1].proxyProtocol', /^"proxyProtocol" applies to http and https and tcp and tls-passthrough listeners, not udp$/);
  const ppEmpty = base();
  ppEmpty.listeners[0].proxyProtocol = { from: [] };
  expectOne(ppEmpty, 'listeners[0].proxyProtocol.from', /./);
});

test('match and split are normalized', () => {
  const c = base();
  c.pools.push({ name: 'canary', algorithm: 'ip-hash', servers: [{ address: '[::1]:3002' }], hashKey: 'header:X-User' });
  c.listeners[0].routes = [
    {
      name: 'api', pool: 'api',
      match: {
        host: 'API.Example.com', method: ['get', 'Post'], path: { prefix: '/api' },
        headers: [{ name: 'X-Canary', exact: '1' }], query: [{ name: 'V', regex: '^2' }], cookies: [{ name: 'sid', present: true }],
      },
    },
    { split: [{ pool: 'api', weight: 90 }, { pool: 'canary', weight: 10 }] },
  ];
  const r = validateConfig(c);
  assert.ok(r.ok, r.ok ? '' : formatProblems(r.problems));
  const [r0, r1] = r.config.listeners[0].routes!;
  assert.deepEqual(r0, {
    name: 'api',
    targets: [{ pool: 'api', weight: 1 }],
    match: {
      host: ['api.example.com'], method: ['GET', 'POST'], path: { prefix: '/api' },
      headers: [{ name: 'x-canary', exact: '1' }], query: [{ name: 'V', regex: '^2' }], cookies: [{ name: 'sid', present: true }],
    },
  });
  assert.deepEqual(r1, { name: 'route-1', match: {}, targets: [{ pool: 'api', weight: 90 }, { pool: 'canary', weight: 10 }] });
  assert.equal(r.config.pools[1].hashKey, 'header:x-user');
});

test('durations: units, compounds, bare numbers; bad ones refused', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('10s'), 10_000);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('250'), 250);
  assert.equal(parseDuration(42), 42);
  for (const bad of ['5x', '', '-1s', 's', '10 s', '1d']) assert.throws(() => parseDuration(bad), /expected a duration/, bad);
  assert.throws(() => parseDuration(-1), /expected a duration/);

  const c = base();
  c.shutdown = { gracePeriod: '2m' };
  c.pools[0].timeouts = { connect: 250, response: '1m30s' };
  const r = validateConfig(c);
  assert.ok(r.ok);
  assert.equal(r.config.shutdown.gracePeriod, 120_000);
  assert.deepEqual(r.config.pools[0].timeouts, { connect: 250, response: 90_000, drain: 0 });

  const d = base();
  d.listeners[0].timeouts = { idle: '10 minutes' };
  expectOne(d, 'listeners[0].timeouts.idle', /^expected a duration like 500ms, 10s, 2m, 1h or a number of milliseconds, got "10 minutes"$/);
  const e = base();
  e.shutdown = { gracePeriod: '30d' };
  expectOne(e, 'shutdown.gracePeriod', /got "30d"/);
  const f = base();
  f.shutdown = { gracePeriod: '1000h' };
  expectOne(f, 'shutdown.gracePeriod', /at most 2147483647ms/);
});

test('parseHostPort: IPv4, IPv6 in brackets, host names; ports 0-65535', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:80'), { host: '127.0.0.1', port: 80 });
  assert.deepEqual(parseHostPort('[::1]:8080'), { host: '::1', port: 8080 });
  assert.deepEqual(parseHostPort('backend-1.example.com:443'), { host: 'backend-1.example.com', port: 443 });
  assert.deepEqual(parseHostPort('localhost:0'), { host: 'localhost', port: 0 });
  for (const bad of ['10.0.0.1', '::1:80', '[::1]80', 'host:65536', 'host:-1', ':80', 'a b:80', '999.1.1.1:80', '[zz]:80', 'h:8o']) {
    assert.equal(parseHostPort(bad), null, bad);
  }
});

test('bad server address: exact path and wording', () => {
  const c = base();
  c.pools.push({ name: 'b', servers: [{ address: '10.0.0.1' }] });
  c.listeners[0].routes.push({ pool: 'b' });
  expectOne(c, 'pools[1].servers[0].address', /^expected host:port, got "10\.0\.0\.1"$/);
  const d = base();
  d.pools[0].servers[0].address = 'h:70000';
  expectOne(d, 'pools[0].servers[0].address', /port in 1-65535, got "h:70000"/);
  const e = base();
  e.pools[0].servers[0].address = '::1:80';
  expectOne(e, 'pools[0].servers[0].address', /IPv6 in brackets/);
  const f = base();
  f.pools[0].servers[0].address = 'h:0';
  expectOne(f, 'pools[0].servers[0].address', /port in 1-65535/);
});

test('unknown keys everywhere (strict objects), with a suggestion', () => {
  const c = base();
  c.listeners[0].rotues = [];
  expectOne(c, 'listeners[0].rotues', /unknown key; did you mean "routes"\?/);
  const d = base();
  d.pools[0].servers[0].wieght = 2;
  expectOne(d, 'pools[0].servers[0].wieght', /did you mean "weight"/);
  const e = base();
  e.listeners[0].routes[0].match = { zzz: 1 };
  expectOne(e, 'listeners[0].routes[0].match.zzz', /unknown key; expected one of host, path, method, headers, query, cookies/);
  const f = base();
  f.extra = true;
  expectOne(f, 'extra', /unknown key/);
});

test('routes: unknown pool, neither/both pool and split, split all zero', () => {
  const c = base();
  c.listeners[0].routes[0].pool = 'nope';
  expectOne(c, 'listeners[0].routes[0].pool', /^unknown pool "nope"; defined pools: api$/);
  const d = base();
  d.listeners[0].routes[0] = { split: [{ pool: 'api', weight: 1 }, { pool: 'ghost', weight: 1 }] };
  expectOne(d, 'listeners[0].routes[0].split[1].pool', /unknown pool "ghost"/);
  const e = base();
  e.listeners[0].routes[0] = { name: 'x' };
  expectOne(e, 'listeners[0].routes[0]', /^expected "pool" or "split"$/);
  const f = base();
  f.listeners[0].routes[0] = { pool: 'api', split: [{ pool: 'api', weight: 1 }] };
  expectOne(f, 'listeners[0].routes[0]', /not both/);
  const g = base();
  g.listeners[0].routes[0] = { split: [{ pool: 'api', weight: 0 }] };
  expectOne(g, 'listeners[0].routes[0].split', /at least one weight > 0/);
});

test('duplicate names: listeners, pools, routes of a listener, server addresses', () => {
  const c = base();
  c.listeners.push({ name: 'web', listen: '127.0.0.1:8081', routes: [{ pool: 'api' }] });
  expectOne(c, 'listeners[1].name', /^duplicate listener name "web" \(also listeners\[0\]\)$/);
  const d = base();
  d.pools.push({ name: 'api', servers: [{ address: '127.0.0.1:3002' }] });
  expectOne(d, 'pools[1].name', /duplicate pool name "api"/);
  const e = base();
  e.listeners[0].routes.push({ name: 'route-0', pool: 'api' });
  expectOne(e, 'listeners[0].routes[1].name', /duplicate route name "route-0"/);
  const f = base();
  f.pools[0].servers.push({ address: 'LOCALHOST:1' }, { address: 'localhost:1' });
  expectOne(f, 'pools[0].servers[2].address', /^duplicate server address "localhost:1" \(also pools\[0\]\.servers\[1\]\)$/);
});

test('listen collisions: listeners, wildcards, the admin address (explicit and default)', () => {
  const c = base();
  c.listeners.push({ name: 'b', listen: '127.0.0.1:8080', routes: [{ pool: 'api' }] });
  expectOne(c, 'listeners[1].listen', /collides with listeners\[0\]\.listen/);
  const d = base();
  d.listeners.push({ name: 'b', listen: '0.0.0.0:8080', routes: [{ pool: 'api' }] });
  expectOne(d, 'listeners[1].listen', /collides/);
  const e = base();
  e.listeners.push({ name: 'b', listen: '[::]:8080', routes: [{ pool: 'api' }] });
  expectOne(e, 'listeners[1].listen', /collides/);
  const f = base();
  f.admin = { listen: '127.0.0.1:8080' };
  expectOne(f, 'admin.listen', /^listen address "127\.0\.0\.1:8080" collides with listeners\[0\]\.listen \("127\.0\.0\.1:8080"\)$/);
  const g = base();
  g.listeners[0].listen = '0.0.0.0:9090';
  expectOne(g, 'listeners[0].listen', /default admin\.listen/);
  // Different ports, different hosts on one port, port 0 and a disabled admin do not collide.
  const h = base();
  h.listeners.push({ name: 'b', listen: '127.0.0.2:8080', routes: [{ pool: 'api' }] });
  h.listeners.push({ name: 'c', listen: '127.0.0.1:0', routes: [{ pool: 'api' }] });
  h.listeners.push({ name: 'd', listen: '127.0.0.1:0', routes: [{ pool: 'api' }] });
  h.listeners.push({ name: 'e', listen: '127.0.0.1:9090', routes: [{ pool: 'api' }] });
  h.admin = { enabled: false };
  assert.ok(validateConfig(h).ok);
});

test('regex, CIDR, hashKey, weights, algorithm, empty pool, match groups', () => {
  const a = base();
  a.listeners[0].routes[0].match = { path: { regex: '(' } };
  expectOne(a, 'listeners[0].routes[0].match.path.regex', /^expected a valid regular expression, got "\(": Invalid regular expression: \/\(\/: Unterminated group$/);
  const b = base();
  b.listeners[0].trustedProxies = ['10.0.0.0/8', 'fd00::/8', '::1', '192.168.1.1', '10.0.0.0/33'];
  expectOne(b, 'listeners[0].trustedProxies[4]', /expected an IPv4\/IPv6 address or CIDR block.*got "10\.0\.0\.0\/33"/);
  for (const bad of ['header', 'header:', 'ip', 'cookie:a b', 'query:']) {
    const h = base();
    h.pools[0].algorithm = 'ip-hash';
    h.pools[0].hashKey = bad;
    expectOne(h, 'pools[0].hashKey', /expected a hash key/);
  }
  for (const good of ['source-ip', 'header:X-Id', 'cookie:sid', 'query:u', 'path', 'uri', 'five-tuple']) {
    const h = base();
    h.pools[0].algorithm = 'ip-hash';
    h.pools[0].hashKey = good;
    assert.ok(validateConfig(h).ok, good);
  }
  // hashKey and the algorithm's kind must agree; option sections must fit the algorithm.
  const hk = base();
  hk.pools[0].hashKey = 'path';
  expectOne(hk, 'pools[0].hashKey', /^algorithm "round-robin" does not hash a key/);
  const nk = base();
  nk.pools[0].algorithm = 'ip-hash';
  expectOne(nk, 'pools[0].hashKey', /^algorithm "ip-hash" hashes a key: expected hashKey/);
  const bl = base();
  bl.pools[0].boundedLoad = { factor: 1.25 };
  expectOne(bl, 'pools[0].boundedLoad', /^boundedLoad applies to hashing algorithms only/);
  const ss = base();
  ss.pools[0].algorithm = 'ip-hash';
  ss.pools[0].hashKey = 'path';
  ss.pools[0].slowStart = { window: '10s' };
  expectOne(ss, 'pools[0].slowStart', /^slowStart applies to weighted algorithms only, not "ip-hash"/);
  const mg = base();
  mg.pools[0].maglev = { tableSize: 65537 };
  expectOne(mg, 'pools[0].maglev', /^section "maglev" does not apply to algorithm "round-robin"/);
  const w = base();
  w.pools[0].servers[0].weight = -1;
  expectOne(w, 'pools[0].servers[0].weight', /^expected a number >= 0, got -1$/);
  const wi = base();
  wi.pools[0].servers[0].weight = 1.5;
  expectOne(wi, 'pools[0].servers[0].weight', /^expected an integer, got 1\.5$/);
  const al = base();
  al.pools[0].algorithm = 'magic';
  expectOne(al, 'pools[0].algorithm', /^unknown algorithm "magic"; expected one of .*least-connections.*round-robin.*weighted-round-robin/);
  const ep = base();
  ep.pools[0].servers = [];
  expectOne(ep, 'pools[0].servers', /^expected at least 1 item, got 0$/);
  const pm = base();
  pm.listeners[0].routes[0].match = { path: { prefix: '/a', exact: '/a' } };
  expectOne(pm, 'listeners[0].routes[0].match.path', /exactly one of prefix, exact, regex, got prefix and exact/);
  const vm = base();
  vm.listeners[0].routes[0].match = { headers: [{ name: 'x' }] };
  expectOne(vm, 'listeners[0].routes[0].match.headers[0]', /exactly one of exact, regex, present: true, got none/);
  const pr = base();
  pr.listeners[0].routes[0].match = { path: { prefix: 'api' } };
  expectOne(pr, 'listeners[0].routes[0].match.path.prefix', /starting with "\/"/);
  const proto = base();
  proto.listeners[0].protocol = 'sctp';
  expectOne(proto, 'listeners[0].protocol', /^expected one of "http", "https", "tcp", "tls-passthrough", "udp", got "sctp"$/);
  const missing = base();
  delete missing.listeners[0].listen;
  expectOne(missing, 'listeners[0].listen', /^required: expected a string$/);
});

test('five distinct problems are all listed, in file order', () => {
  const c = base();
  c.listeners[0].routes[0].pool = 'nope';                          // 1 unknown pool
  c.listeners[0].timeouts = { header: 'soon' };                     // 2 bad duration
  c.pools[0].servers.push({ address: '10.0.0.1', weight: -2 });     // 3 bad address, 4 bad weight
  c.pools[0].algorithm = 'magic';                                   // 5 unknown algorithm
  const ps = problemsOf(validateConfig(c));
  assert.deepEqual(ps.map((p) => p.path), [
    'listeners[0].routes[0].pool',
    'listeners[0].timeouts.header',
    'pools[0].servers[1].address',
    'pools[0].servers[1].weight',
    'pools[0].algorithm',
  ]);
  assert.equal(formatProblems(ps).split('\n').length, 5);
  assert.match(formatProblems(ps), /^pools\[0\]\.servers\[1\]\.address: expected host:port, got "10\.0\.0\.1"$/m);
});

test('YAML and JSON parse to the same config', () => {
  const yaml = stringify(base());
  const json = JSON.stringify(base());
  const y = parseConfigText(yaml, 'f.yaml', {});
  const j = parseConfigText(json, 'f.json', {});
  const jy = parseConfigText(json, 'f.conf', {}); // unknown extension: YAML, which reads JSON
  assert.ok(y.ok && j.ok && jy.ok);
  assert.deepEqual(y.config, j.config);
  assert.deepEqual(jy.config, j.config);
});

test('syntax errors: FULCRUM_E_CONFIG_READ with line and column', () => {
  const y = parseConfigText('listeners:\n  - name: a\n   bad: [1,\n', 'f.yaml', {});
  const yp = problemsOf(y);
  assert.equal(yp.length, 1);
  assert.match(yp[0].path, /^f\.yaml:\d+:\d+$/);
  assert.match(yp[0].message, /invalid YAML: .*\(FULCRUM_E_CONFIG_READ\)$/);
  assert.equal(!y.ok && y.code, 'FULCRUM_E_CONFIG_READ');
  const dup = problemsOf(parseConfigText('a: 1\na: 2\n', 'f.yml', {}));
  assert.equal(dup[0].path, 'f.yml:2:1');
  assert.match(dup[0].message, /Map keys must be unique/);
  const j = problemsOf(parseConfigText('{\n  "a": 1,\n}', 'f.json', {}));
  assert.equal(j[0].path, 'f.json:3:1');
  assert.match(j[0].message, /invalid JSON.*FULCRUM_E_CONFIG_READ/);
});

test('env interpolation: ${VAR}, ${VAR:-default}, $${ escape, unset variables by path', () => {
  const text = [
    'listeners:',
    '  - name: web',
    '    listen: ${HOST}:${PORT:-8080}',
    '    routes: [{ pool: api, match: { headers: [{ name: x, exact: "$${literal}" }] } }]',
    'pools:',
    '  - name: api',
    '    servers: [{ address: "${BACKEND}" }]',
    '    timeouts: { connect: "${CONNECT:-2s}" }',
  ].join('\n');
  const r = parseConfigText(text, 'f.yaml', { HOST: '127.0.0.5', BACKEND: 'b.internal:81', CONNECT: '' });
  assert.ok(r.ok, r.ok ? '' : formatProblems(r.problems));
  assert.equal(r.config.listeners[0].listen, '127.0.0.5:8080');
  assert.equal(r.config.pools[0].servers[0].address, 'b.internal:81');
  assert.equal(r.config.pools[0].timeouts.connect, 2000);
  assert.equal(r.config.listeners[0].routes![0].match.headers?.[0].exact, '${literal}');

  const bad = parseConfigText(text, 'f.yaml', { HOST: '127.0.0.5' });
  const ps = problemsOf(bad);
  assert.deepEqual(ps, [{
    path: 'pools[0].servers[0].address',
    message: 'environment variable BACKEND is not set (write ${BACKEND:-default} to give a default)',
  }]);
  const malformed = problemsOf(parseConfigText('listeners: "${1X}"\n', 'f.yaml', {}));
  assert.equal(malformed[0].path, 'listeners');
  assert.match(malformed[0].message, /expected \$\{NAME\} or \$\{NAME:-default\}/);
});

test('GSLB only: listeners and pools may be omitted or empty next to a gslb section; neither listeners nor gslb is refused at `listeners`', () => {
  const gslb = { listen: '127.0.0.1:5300', zones: [{ name: 'example.com', records: [{ name: 'www', type: 'A', value: '192.0.2.1' }] }] };
  const r = validateConfig({ gslb });
  assert.ok(r.ok, r.ok ? '' : formatProblems(r.problems));
  assert.deepEqual(r.config.listeners, []);
  assert.deepEqual(r.config.pools, []);
  assert.deepEqual(r.config.admin, { listen: '127.0.0.1:9090', enabled: true });
  assert.equal(r.config.shutdown.gracePeriod, 30_000);
  assert.equal(r.config.gslb!.listen, '127.0.0.1:5300');
  assert.equal(r.config.gslb!.zones[0].ttl, 300);
  const empty = validateConfig({ listeners: [], pools: [], gslb });
  assert.ok(empty.ok, empty.ok ? '' : formatProblems(empty.problems));
  assert.deepEqual(empty.config.listeners, []);
  // A pool defined but used by no listener stays valid, as it always was.
  const unused = validateConfig({ pools: [{ name: 'spare', servers: [{ address: '127.0.0.1:3001' }] }], gslb });
  assert.ok(unused.ok, unused.ok ? '' : formatProblems(unused.problems));
  assert.equal(unused.config.pools[0].algorithm, 'round-robin');
  // Neither listeners nor gslb: one problem, at `listeners`.
  expectOne({}, 'listeners', /^expected at least one listener \(or a gslb section\)$/);
  expectOne({ listeners: [], pools: [] }, 'listeners', /^expected at least one listener \(or a gslb section\)$/);
  expectOne({ pools: base().pools }, 'listeners', /^expected at least one listener \(or a gslb section\)$/);
  // Listeners but no pools: the route's pool reference is what is wrong.
  const noPools = base();
  delete noPools.pools;
  expectOne(noPools, 'listeners[0].routes[0].pool', /^unknown pool "api"; defined pools: none$/);
  // A listeners value of the wrong type is the schema's problem, reported once.
  const ps = problemsOf(validateConfig({ listeners: 'web', gslb }));
  assert.deepEqual(ps.map((p) => p.path), ['listeners']);
  assert.doesNotMatch(ps[0].message, /gslb section/);
  // `fulcrum validate` path: a YAML file with only a gslb section.
  const y = parseConfigText('gslb:\n  listen: 127.0.0.1:5300\n  zones:\n    - name: example.com\n', 'g.yaml', {});
  assert.ok(y.ok, y.ok ? '' : formatProblems(y.problems));
  assert.deepEqual(y.config.listeners, []);
  // The GSLB-only example (docs/gslb.md) is valid.
  const ex = parseConfigText(readFileSync(`${repo}examples/gslb-only.yaml`, 'utf8'), 'examples/gslb-only.yaml', {});
  assert.ok(ex.ok, ex.ok ? '' : formatProblems(ex.problems));
  assert.deepEqual([ex.config.listeners, ex.config.pools], [[], []]);
  assert.deepEqual(ex.config.gslb!.names.map((n) => n.name), ['app.example.com']);
});

test('JSON Schema describes the input file', () => {
  const s = configJsonSchema() as any;
  assert.equal(s.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.equal(s.additionalProperties, false);
  assert.equal(s.required, undefined); // listeners and pools default to [] …
  assert.deepEqual(s.anyOf, [{ required: ['listeners'], properties: { listeners: { minItems: 1 } } }, { required: ['gslb'] }]); // … but listeners or gslb
  const dur = s.$defs.Duration;
  assert.deepEqual(dur.anyOf.map((a: any) => a.type), ['number', 'string']);
  assert.ok(new RegExp(dur.anyOf[1].pattern).test('1m30s'));
  assert.ok(!new RegExp(dur.anyOf[1].pattern).test('5x'));
  const pool = s.properties.pools.items;
  assert.ok(pool.properties.algorithm.enum.includes('round-robin'));
  assert.equal(pool.properties.servers.items.properties.weight.default, 1);
  assert.equal(s.properties.shutdown.properties.gracePeriod.default, '30s');
});

test('docs/configuration.md is the generated reference (run `npm run docs` to update)', () => {
  const onDisk = readFileSync(`${repo}docs/configuration.md`, 'utf8');
  const generated = renderConfigDocs();
  assert.ok(generated.includes('| `gracePeriod` | [duration](#duration) | `30s` |'));
  assert.equal(onDisk, generated, 'docs/configuration.md is stale: run `npm run docs`');
});

test('examples/full.yaml is valid and exercises every section', () => {
  const text = readFileSync(`${repo}examples/full.yaml`, 'utf8');
  const r = parseConfigText(text, 'examples/full.yaml', {});
  assert.ok(r.ok, r.ok ? '' : formatProblems(r.problems));
  const routes = r.config.listeners.flatMap((l) => l.routes ?? []);
  assert.ok(routes.some((x) => x.targets.length > 1), 'a split route');
  assert.ok(routes.some((x) => x.match.headers && x.match.query && x.match.cookies), 'a route with every condition');
});

test('properties: durations sum their parts; host:port round-trips', async () => {
  const fc = (await import('fast-check')).default;
  const unit = fc.constantFrom(['ms', 1], ['s', 1000], ['m', 60_000], ['h', 3_600_000]);
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(1000), unit), { minLength: 1, maxLength: 4 }), (parts) => {
    const text = parts.map(([n, [u]]) => `${n}${u}`).join('');
    const want = parts.reduce((sum, [n, [, ms]]) => sum + n * (ms as number), 0);
    assert.equal(parseDuration(text), want);
  }), { numRuns: 200 });
  fc.assert(fc.property(fc.ipV4(), fc.integer({ min: 0, max: 65535 }), (host, port) => {
    assert.deepEqual(parseHostPort(`${host}:${port}`), { host, port });
    assert.equal(parseHostPort(`${host}:${port + 65536}`), null);
  }), { numRuns: 200 });
  fc.assert(fc.property(fc.ipV6(), fc.integer({ min: 1, max: 65535 }), (host, port) => {
    assert.deepEqual(parseHostPort(`[${host}]:${port}`), { host, port });
  }), { numRuns: 200 });
});

test('sticky on a pool that only L4 listeners use is refused (it would be ignored); shared with HTTP it is kept', () => {
  const l4 = base();
  l4.listeners.push({ name: 'raw', protocol: 'tcp', listen: '127.0.0.1:9000', pool: 'db' });
  l4.pools.push({ name: 'db', servers: [{ address: '127.0.0.1:5432' }], sticky: { cookie: 'SRV' } });
  expectOne(l4, 'pools[1].sticky', /sticky sessions need HTTP .*pool "db" is used only by tcp\/tls-passthrough\/udp listeners/);
  const sni = base();
  sni.listeners.push({ name: 't', protocol: 'tls-passthrough', listen: '127.0.0.1:8443', sniRoutes: [{ serverNames: ['a.example'], pool: 'db' }] });
  sni.pools.push({ name: 'db', servers: [{ address: '127.0.0.1:5432' }], sticky: { cookie: 'SRV' } });
  expectOne(sni, 'pools[1].sticky', /used only by tcp\/tls-passthrough\/udp listeners/);
  const shared = base();
  shared.listeners.push({ name: 'raw', protocol: 'tcp', listen: '127.0.0.1:9000', pool: 'api' });
  shared.pools[0].sticky = { cookie: 'SRV' };
  const r = validateConfig(shared);
  assert.ok(r.ok, r.ok ? '' : formatProblems(r.problems));
});
