// docs/errors.md and src/core/errors.ts list the same codes with the same statuses, and every
// FULCRUM_E_ code used in src/ is defined (DESIGN.md rule 5).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '../src/core/errors.ts';

const root = new URL('..', import.meta.url).pathname;

test('docs/errors.md lists every code with its status, and nothing else', () => {
  const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8');
  const rows = new Map<string, string>();
  for (const m of doc.matchAll(/^\| `(FULCRUM_E_[A-Z_]+)` \| ([^|]+) \|/gm)) rows.set(m[1], m[2].trim());
  for (const [code, { status }] of Object.entries(ERROR_CODES)) {
    assert.ok(rows.has(code), `${code} missing from docs/errors.md`);
    assert.equal(rows.get(code), status === 0 ? '—' : String(status), `${code} status differs`);
  }
  for (const code of rows.keys()) assert.ok(Object.hasOwn(ERROR_CODES, code), `docs/errors.md lists unknown ${code}`);
});

test('every FULCRUM_E_ code used in src/ is defined', () => {
  const used = new Set<string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) for (const m of readFileSync(p, 'utf8').matchAll(/FULCRUM_E_[A-Z_]+/g)) used.add(m[0]);
    }
  };
  walk(join(root, 'src'));
  assert.ok(used.size > 5);
  for (const code of used) assert.ok(Object.hasOwn(ERROR_CODES, code), `${code} used in src/ but not defined`);
});
