import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rewritePrefix } from './path-rewrite.ts';
import { compileRouteHooks, middlewareKeys } from './index.ts';
import { Exchange } from './exchange.ts';
import { RequestViewImpl } from '../http1/request-view.ts';
import { parseRequestHead } from '../http1/parser.ts';
import { ConfigSchema } from '../../config/schema.ts';

test('rewritePrefix: strip and replace, query kept, other paths untouched', () => {
  assert.equal(rewritePrefix('/api/u?x=1', '/api', ''), '/u?x=1');
  assert.equal(rewritePrefix('/api', '/api', ''), '/');
  assert.equal(rewritePrefix('/api?x', '/api', ''), '/?x');
  assert.equal(rewritePrefix('/other', '/api', ''), '/other');
  assert.equal(rewritePrefix('/old/a?b', '/old', '/new'), '/new/a?b');
  assert.equal(rewritePrefix('/old/a', '/old/', '/new/'), '/new/a');
  assert.equal(rewritePrefix('/old', '/old', '/new'), '/new');
  assert.equal(rewritePrefix('*', '/api', ''), '*');
});

test('registry: every kind registered once, in order; a route without sections has no hooks', () => {
  assert.deepEqual(middlewareKeys(), ['rateLimit', 'rewrite', 'headers']);
  assert.equal(compileRouteHooks({ name: 'r', match: {}, targets: [] }, { listener: 'l', route: 'r', metrics: null }), null);
});

function routeOf(route: object): Record<string, unknown> {
  const cfg = ConfigSchema.parse({ listeners: [{ name: 'l', listen: '127.0.0.1:0', routes: [{ pool: 'p', ...route }] }], pools: [{ name: 'p', servers: [{ address: '127.0.0.1:1' }] }] });
  return cfg.listeners[0].routes![0] as unknown as Record<string, unknown>;
}

function exchangeFor(raw: string): Exchange {
  const buf = Buffer.from(raw, 'latin1');
  const head = parseRequestHead(buf, 0, buf.length, { requestLine: 8192, headerBytes: 32768, headerCount: 100 })!;
  const view = new RequestViewImpl();
  view.reset(head, '10.1.2.3');
  const x = new Exchange(view);
  x.reset(head.target, head.names, head.values, '10.1.2.3', 'r');
  return x;
}

test('hooks: rate limit answers 429 with the draft fields; header rules edit copies, not the parsed head', () => {
  const hooks = compileRouteHooks(routeOf({
    rateLimit: { rate: '2/s', burst: 1 },
    headers: { request: { remove: ['x-a'], add: { 'X-Ip': '%{client_ip}' } }, response: { set: { Server: 'f' } } },
  }), { listener: 'l', route: 'r', metrics: null })!;
  assert.equal(hooks.request!.length, 2);
  assert.equal(hooks.response!.length, 1);
  const x = exchangeFor('GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\n');
  const original = x.names;
  assert.equal(hooks.request![0].onRequest!(x, 1000), null);
  assert.equal(hooks.request![1].onRequest!(x, 1000), null);
  assert.deepEqual([...x.names], ['Host', 'X-Ip']);
  assert.deepEqual([...x.values], ['h', '10.1.2.3']);
  assert.deepEqual([...original], ['Host', 'X-A'], 'the parsed head is not changed');
  const a = hooks.request![0].onRequest!(x, 1100);
  assert.ok(a !== null);
  assert.equal(a.status, 429);
  assert.equal(a.code, 'FULCRUM_E_RATE_LIMITED');
  assert.deepEqual([...a.names], ['Retry-After', 'RateLimit-Policy', 'RateLimit']);
  assert.deepEqual([...a.values], ['1', '"default";q=2;w=1', '"default";r=0;t=1']);
  x.startResponse(['Server', 'Date'], ['backend', 'x']);
  hooks.response![0].onResponse!(x);
  assert.deepEqual([...x.respNames], ['Date', 'Server']);
  assert.deepEqual([...x.respValues], ['x', 'f']);
});
