// `npm run build` emits a runnable dist/ for publishing: the compiled CLI validates a config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

test('the build compiles to JavaScript that runs without type stripping', { timeout: 120_000 }, () => {
  // Inside the checkout so the compiled files resolve node_modules as a published package would.
  const out = join(root, '.test-dist');
  rmSync(out, { recursive: true, force: true });
  try {
    const tsc = join(root, 'node_modules', '.bin', 'tsc');
    const b = spawnSync(tsc, ['-p', 'tsconfig.build.json', '--outDir', out], { cwd: root, encoding: 'utf8', timeout: 110_000 });
    assert.equal(b.status, 0, b.stdout + b.stderr);
    assert.ok(existsSync(join(out, 'cli', 'main.js')));
    assert.ok(existsSync(join(out, 'cli', 'main.d.ts')), 'declarations are emitted');
    const r = spawnSync(process.execPath, ['--no-experimental-strip-types', join(out, 'cli', 'main.js'), 'validate', 'examples/demo.yaml'], { cwd: root, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'examples/demo.yaml: valid\n');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
