// The package's `bin` (bin/fulcrum.js) runs the CLI on the pinned Node 24; `run` refuses an invalid
// config the same way `validate` does, listing every problem, exit 1; usage errors exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFulcrum } from './helpers/fulcrum.ts';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = (args: string[]) => spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 20_000, env: { ...process.env, FULCRUM_LOG_LEVEL: 'silent' } });

test('bin/fulcrum.js validates the demo config', () => {
  const r = run(['bin/fulcrum.js', 'validate', 'examples/demo.yaml']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'examples/demo.yaml: valid\n');
});

test('run refuses an invalid file with every problem listed, exit 1, nothing bound', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-cli-'));
  try {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, [
      'listeners:',
      '  - name: web',
      '    listen: 127.0.0.1:0',
      '    routes: [ { pool: nope } ]',
      'pools:',
      '  - name: p',
      '    servers: [ { address: 10.0.0.1 }, { address: 127.0.0.1:1, weight: -1 } ]',
    ].join('\n'));
    const r = run(['src/cli/main.ts', 'run', '--config', file]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /invalid configuration \(FULCRUM_E_CONFIG_INVALID\)/);
    assert.match(r.stderr, /^listeners\[0\]\.routes\[0\]\.pool: .*"nope"/m);
    assert.match(r.stderr, /^pools\[0\]\.servers\[0\]\.address: expected host:port, got "10\.0\.0\.1"/m);
    assert.match(r.stderr, /^pools\[0\]\.servers\[1\]\.weight: /m);
    assert.equal(r.stdout, '', 'no listener was started');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('usage errors exit 2 with FULCRUM_E_USAGE', () => {
  const r1 = run(['src/cli/main.ts', 'frobnicate']);
  assert.equal(r1.status, 2);
  assert.match(r1.stderr, /unknown command "frobnicate" \(FULCRUM_E_USAGE\)/);
  const r2 = run(['src/cli/main.ts', 'run']);
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /missing --config FILE \(FULCRUM_E_USAGE\)/);
});

test('run: an address already in use exits 1 with FULCRUM_E_LISTEN', async () => {
  const { createServer } = await import('node:net');
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-cli-'));
  try {
    const file = join(dir, 'busy.yaml');
    writeFileSync(file, `admin: { listen: 127.0.0.1:0 }\nlisteners: [ { name: web, listen: 127.0.0.1:${port}, routes: [ { pool: p } ] } ]\npools: [ { name: p, servers: [ { address: 127.0.0.1:1 } ] } ]\n`);
    const r = run(['src/cli/main.ts', 'run', '--config', file]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot listen: .*EADDRINUSE.* \(FULCRUM_E_LISTEN\)/);
  } finally {
    srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('run: an admin token variable that is not set stops the start with one line naming it (no stack trace, not "cannot listen"), exit 1', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-cli-'));
  try {
    const file = join(dir, 'token.yaml');
    writeFileSync(file, 'admin: { listen: 127.0.0.1:0, auth: { tokenEnv: FULCRUM_TEST_UNSET_TOKEN_VAR } }\n'
      + 'listeners: [ { name: web, listen: 127.0.0.1:0, routes: [ { pool: p } ] } ]\npools: [ { name: p, servers: [ { address: 127.0.0.1:1 } ] } ]\n');
    const r = run(['src/cli/main.ts', 'run', '--config', file]);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr, 'fulcrum: cannot start: admin.auth.tokenEnv: environment variable FULCRUM_TEST_UNSET_TOKEN_VAR is not set or empty (FULCRUM_E_CONFIG_INVALID)\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('run prints each listener with the scheme of what it serves (http, tcp, tls, udp)', async () => {
  const cfg = {
    admin: { listen: '127.0.0.1:0' },
    listeners: [
      { name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ name: 'all', pool: 'p' }] },
      { name: 'raw', protocol: 'tcp', listen: '127.0.0.1:0', pool: 'p' },
      { name: 'sni', protocol: 'tls-passthrough', listen: '127.0.0.1:0', pool: 'p' },
      { name: 'dgram', protocol: 'udp', listen: '127.0.0.1:0', pool: 'p' },
    ],
    pools: [{ name: 'p', servers: [{ address: '127.0.0.1:9' }] }],
  };
  const f = await startFulcrum(cfg);
  try {
    const out = f.stdout();
    assert.match(out, /^listener web http:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(out, /^listener raw tcp:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(out, /^listener sni tls:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(out, /^listener dgram udp:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(out, /^admin http:\/\/127\.0\.0\.1:\d+$/m);
  } finally {
    await f.stop();
  }
});
