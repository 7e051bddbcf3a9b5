// Header rules and path rewrite end to end (docs/middlewares.md): a real Fulcrum process in front of
// a raw backend that records the exact request bytes. Request and response fields are removed, set
// and added per route (with %{…} variables); prefixes are stripped or replaced with the query kept
// byte for byte; a route without rules forwards fields and target unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFulcrum, simpleConfig } from './helpers/fulcrum.ts';
import { headerOf, headersOf, request, startRawBackend } from './helpers/backends.ts';

test('header rules: add / set / remove on requests and responses; plain route untouched', { timeout: 60_000 }, async () => {
  const be = await startRawBackend(() =>
    'HTTP/1.1 200 OK\r\nServer: backend/1.0\r\nX-Frame-Options: SAMEORIGIN\r\nX-Extra: kept\r\nX-Frame-Options: again\r\nContent-Length: 2\r\n\r\nok');
  const f = await startFulcrum(simpleConfig([be.port], {
    listener: {
      routes: [
        {
          name: 'ruled', match: { path: { prefix: '/ruled' } }, pool: 'p',
          headers: {
            request: {
              remove: ['X-Internal'],
              set: { 'X-Env': 'prod', 'User-Agent': 'fulcrum-test' },
              add: { 'X-Client': '%{client_ip}', 'X-Route': '%{route} %{method} %{host}%{path}', 'X-Env-Extra': 'literal $ and % and {}' },
            },
            response: {
              remove: ['Server'],
              set: { 'X-Frame-Options': 'DENY' },
              add: { 'X-Served-By': 'fulcrum', 'X-Peer': '%{client_ip}' },
            },
          },
        },
        { name: 'plain', pool: 'p' },
      ],
    },
  }));
  try {
    const port = f.port('web');
    const r = await request(port, 'GET /ruled/a?q=1 HTTP/1.1\r\nHost: App.Test:8080\r\nX-Internal: secret\r\nX-Env: dev\r\nx-internal: secret2\r\nX-Env: dev2\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'ok');
    // Response side.
    assert.deepEqual(headersOf(r, 'server'), []);
    assert.deepEqual(headersOf(r, 'x-frame-options'), ['DENY']);
    assert.deepEqual(headersOf(r, 'x-extra'), ['kept']);
    assert.deepEqual(headersOf(r, 'x-served-by'), ['fulcrum']);
    assert.deepEqual(headersOf(r, 'x-peer'), ['127.0.0.1']);
    // Request side, as the backend received it.
    const got = be.requests.at(-1)!;
    assert.equal(got.target, '/ruled/a?q=1');
    assert.deepEqual(headersOf(got, 'x-internal'), []);
    assert.deepEqual(headersOf(got, 'x-env'), ['prod']);
    assert.deepEqual(headersOf(got, 'user-agent'), ['fulcrum-test']);
    assert.deepEqual(headersOf(got, 'x-client'), ['127.0.0.1']);
    assert.deepEqual(headersOf(got, 'x-route'), ['ruled GET app.test/ruled/a']);
    assert.deepEqual(headersOf(got, 'x-env-extra'), ['literal $ and % and {}']);
    assert.equal(headerOf(got, 'accept'), '*/*');
    assert.equal(headerOf(got, 'host'), 'App.Test:8080', 'Host passes unchanged');
    assert.equal(headerOf(got, 'x-forwarded-for'), '127.0.0.1', 'forwarding fields still added');

    // The plain route: fields and target pass byte for byte, response untouched.
    const p = await request(port, 'GET /plain?x=%2F HTTP/1.1\r\nHost: app.test\r\nX-Internal: secret\r\nX-Env: dev\r\n\r\n');
    assert.deepEqual(headersOf(p, 'server'), ['backend/1.0']);
    assert.deepEqual(headersOf(p, 'x-frame-options'), ['SAMEORIGIN', 'again']);
    assert.deepEqual(headersOf(p, 'x-served-by'), []);
    const pg = be.requests.at(-1)!;
    assert.ok(pg.head.toString('latin1').startsWith('GET /plain?x=%2F HTTP/1.1\r\nHost: app.test\r\nX-Internal: secret\r\nX-Env: dev\r\n'), pg.head.toString('latin1'));
  } finally {
    await f.stop();
    await be.close();
  }
});

test('path rewrite: stripPrefix and replacePrefix keep the query string byte for byte', { timeout: 60_000 }, async () => {
  const be = await startRawBackend(() => 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  const f = await startFulcrum(simpleConfig([be.port], {
    listener: {
      routes: [
        { name: 'api', match: { path: { prefix: '/api' } }, pool: 'p', rewrite: { stripPrefix: '/api' } },
        { name: 'old', match: { path: { prefix: '/old/' } }, pool: 'p', rewrite: { replacePrefix: { from: '/old/', to: '/new/v2/' } } },
        { name: 'plain', pool: 'p' },
      ],
    },
  }));
  try {
    const port = f.port('web');
    const cases: [string, string][] = [
      ['/api/users?x=1&y=%2F&z=a%20b', '/users?x=1&y=%2F&z=a%20b'],
      ['/api', '/'],
      ['/api?q=1', '/?q=1'],
      ['/api/', '/'],
      ['/apix/y', '/x/y'],
      ['/old/a/b?z=%26', '/new/v2/a/b?z=%26'],
      ['/old/', '/new/v2/'],
      ['/plain/api/x?k=v', '/plain/api/x?k=v'],
    ];
    for (const [sent, expected] of cases) {
      const r = await request(port, `GET ${sent} HTTP/1.1\r\nHost: app.test\r\n\r\n`);
      assert.equal(r.status, 200, sent);
      const got = be.requests.at(-1)!;
      assert.equal(got.target, expected, `${sent} → ${expected}`);
      assert.ok(got.head.toString('latin1').startsWith(`GET ${expected} HTTP/1.1\r\n`));
    }
  } finally {
    await f.stop();
    await be.close();
  }
});

test('header rules: a bad rule is refused at load with its path', { timeout: 30_000 }, async () => {
  await assert.rejects(
    startFulcrum(simpleConfig([1], { listener: { routes: [{ name: 'r', pool: 'p', headers: { request: { set: { 'Content-Length': '1' }, add: { 'X-A': '%{nope}' } } } }] } })),
    (err: Error) => {
      assert.match(err.message, /listeners\[0\]\.routes\[0\]\.headers\.request\.set\.Content-Length.*managed by Fulcrum/);
      assert.match(err.message, /listeners\[0\]\.routes\[0\]\.headers\.request\.add\.X-A.*unknown variable %\{nope\}/);
      return true;
    },
  );
});
