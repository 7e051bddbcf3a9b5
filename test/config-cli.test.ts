// CLI `validate`, `schema` and `docs` as real child processes (exit codes and output bytes).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderConfigDocs } from '../src/config/index.ts';

const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'fulcrum-config-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type Run = { code: number; stdout: string; stderr: string };

/** Runs `node src/cli/main.ts ...args` (10 s limit) with a clean environment plus `env`. */
function fulcrum(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [main, ...args], { timeout: 10_000, env: { PATH: process.env.PATH ?? '', ...env } }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const VALID = `
listeners:
  - name: web
    listen: 127.0.0.1:8080
    routes: [{ pool: api }]
pools:
  - name: api
    servers: [{ address: "\${BACKEND:-127.0.0.1:3001}" }]
`;

test('validate: a valid file exits 0 and prints "FILE: valid"', async () => {
  const p = file('ok.yaml', VALID);
  const r = await fulcrum(['validate', p]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${p}: valid\n`);
  assert.equal(r.stderr, '');
});

test('validate: a JSON file is read as JSON', async () => {
  const p = file('ok.json', JSON.stringify({
    listeners: [{ name: 'web', listen: '127.0.0.1:8080', routes: [{ pool: 'api' }] }],
    pools: [{ name: 'api', servers: [{ address: '127.0.0.1:3001' }] }],
  }));
  const r = await fulcrum(['validate', p]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${p}: valid\n`);
});

test('validate: an invalid file exits 1 with every problem, one per line', async () => {
  const p = file('bad.yaml', `
listeners:
  - name: web
    listen: 127.0.0.1:8080
    routes:
      - pool: nope
      - match: { path: { regex: "[" } }
        pool: api
pools:
  - name: api
    algorithm: magic
    servers:
      - { address: 127.0.0.1:3001 }
      - { address: 10.0.0.1 }
  - name: b
    servers: [{ address: "\${MISSING}" }]
`);
  const r = await fulcrum(['validate', p]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  assert.deepEqual(lines.slice(0, -1).map((l) => l.slice(0, l.indexOf(': '))), [
    'listeners[0].routes[0].pool',
    'listeners[0].routes[1].match.path.regex',
    'pools[0].algorithm',
    'pools[0].servers[1].address',
    'pools[1].servers[0].address',
  ]);
  assert.ok(lines.includes('pools[0].servers[1].address: expected host:port, got "10.0.0.1"'));
  assert.ok(lines.includes('pools[1].servers[0].address: environment variable MISSING is not set (write ${MISSING:-default} to give a default)'));
  assert.equal(lines.at(-1), `${p}: invalid, 5 problems (FULCRUM_E_CONFIG_INVALID)`);

  const withEnv = await fulcrum(['validate', p], { MISSING: '127.0.0.1:4000' });
  assert.equal(withEnv.stderr.trimEnd().split('\n').length, 5, 'four problems + summary once MISSING is set');
});

test('validate: YAML syntax error and unreadable file give FULCRUM_E_CONFIG_READ with position', async () => {
  const p = file('syntax.yaml', 'listeners:\n  - name: web\n    listen: [127.0.0.1:8080\n');
  const r = await fulcrum(['validate', p]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: invalid YAML: .*\\(FULCRUM_E_CONFIG_READ\\)\n`));
  const missing = await fulcrum(['validate', join(dir, 'absent.yaml')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /absent\.yaml: cannot read the file: ENOENT .*FULCRUM_E_CONFIG_READ/);
});

test('validate: usage errors exit 2', async () => {
  const r = await fulcrum(['validate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /FULCRUM_E_USAGE/);
});

test('schema prints parseable JSON Schema with $schema', async () => {
  const r = await fulcrum(['schema']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.equal(s.type, 'object');
  assert.ok(s.properties.listeners && s.properties.pools);
});

test('docs prints the generated reference', async () => {
  const r = await fulcrum(['docs']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, renderConfigDocs());
  assert.match(r.stdout, /^# Configuration reference\n/);
});
