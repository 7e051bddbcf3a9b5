// The `command` check with real child processes (/bin/sh scripts in a temp dir): exit 0 passes and
// the FULCRUM_* variables are set, other exits and signals fail with their detail, a missing
// executable says so, and a command that outlives its timeout (or an abort) is SIGKILLed and
// reaped — its PID is gone when the check resolves.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig, formatProblems } from '../../config/index.ts';
import type { HealthCheckConfig } from '../../config/schema.ts';
import { getCheck } from './index.ts';
import type { CheckTarget } from './types.ts';

function checkConfig(input: object): HealthCheckConfig {
  const r = validateConfig({
    listeners: [{ name: 'web', listen: '127.0.0.1:8080', routes: [{ pool: 'p' }] }],
    pools: [{ name: 'p', servers: [{ address: '127.0.0.1:1' }], healthCheck: input }],
  });
  if (!r.ok) throw new Error(formatProblems(r.problems));
  return r.config.pools[0].healthCheck!;
}

const target: CheckTarget = { pool: 'web-pool', address: 'localhost:8081', host: 'localhost', port: 8081 };
const command = getCheck('command')!;
const never = new AbortController().signal;
const dir = mkdtempSync(join(tmpdir(), 'fulcrum-hc-cmd-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** True when no process has this PID (kill(pid, 0) fails with ESRCH). */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as { code?: string }).code === 'ESRCH';
  }
}

const envCheck = script('env-check.sh', [
  '[ "$FULCRUM_POOL" = "web-pool" ] || exit 3',
  '[ "$FULCRUM_SERVER" = "localhost:8081" ] || exit 4',
  '[ "$FULCRUM_HOST" = "localhost" ] || exit 5',
  '[ "$FULCRUM_PORT" = "$1" ] || exit 1',
  '[ -n "$PATH" ] || exit 6',
  'exit 0',
].join('\n'));

test('command: exit 0 passes; the FULCRUM_* variables carry the pool, server, host and check port', async () => {
  const r = await command.run(target, checkConfig({ type: 'command', port: 9999, command: { path: envCheck, args: ['9999'] } }), never);
  assert.deepEqual([r.passed, r.detail], [true, 'exit 0']);
  const own = await command.run(target, checkConfig({ type: 'command', command: { path: envCheck, args: ['8081'] } }), never);
  assert.deepEqual([own.passed, own.detail], [true, 'exit 0'], 'without `port`, FULCRUM_PORT is the server port');
});

test('command: a non-zero exit fails with its status', async () => {
  const r = await command.run(target, checkConfig({ type: 'command', port: 9999, command: { path: envCheck, args: ['1234'] } }), never);
  assert.deepEqual([r.passed, r.detail], [false, 'exit 1']);
  const two = await command.run(target, checkConfig({ type: 'command', command: { path: 'sh', args: ['-c', 'exit 2'] } }), never);
  assert.deepEqual([two.passed, two.detail], [false, 'exit 2'], 'a bare name is looked up in PATH');
});

test('command: killed by a signal; cannot run', async () => {
  const term = await command.run(target, checkConfig({ type: 'command', command: { path: '/bin/sh', args: ['-c', 'kill -TERM $$'] } }), never);
  assert.deepEqual([term.passed, term.detail], [false, 'killed by SIGTERM']);
  const missing = join(dir, 'no-such-check');
  const enoent = await command.run(target, checkConfig({ type: 'command', command: { path: missing } }), never);
  assert.deepEqual([enoent.passed, enoent.detail], [false, `cannot run ${missing}: ENOENT`]);
  const notExec = join(dir, 'not-executable');
  writeFileSync(notExec, 'exit 0\n');
  const eacces = await command.run(target, checkConfig({ type: 'command', command: { path: notExec } }), never);
  assert.deepEqual([eacces.passed, eacces.detail], [false, `cannot run ${notExec}: EACCES`]);
});

const sleeper = script('sleeper.sh', 'echo $$ > "$1"\nexec sleep 30');

async function readPid(file: string): Promise<number> {
  for (let i = 0; i < 200; i++) {
    try {
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (pid > 0) return pid;
    } catch { /* not written yet */ }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`no PID in ${file}`);
}

test('command: a command that outlives the timeout is SIGKILLed and reaped', async () => {
  const pidFile = join(dir, 'timeout.pid');
  const t0 = performance.now();
  const r = await command.run(target, checkConfig({ type: 'command', timeout: 300, command: { path: sleeper, args: [pidFile] } }), never);
  const took = performance.now() - t0;
  assert.deepEqual([r.passed, r.detail], [false, 'timeout after 300 ms']);
  assert.ok(took >= 290 && took < 300 + 300, `took ${took.toFixed(0)} ms`);
  const pid = await readPid(pidFile);
  assert.equal(gone(pid), true, `process ${pid} is still there`);
});

test('command: an abort kills the command at once', async () => {
  const pidFile = join(dir, 'abort.pid');
  const ac = new AbortController();
  const p = command.run(target, checkConfig({ type: 'command', timeout: 10_000, command: { path: sleeper, args: [pidFile] } }), ac.signal);
  const pid = await readPid(pidFile);
  assert.equal(gone(pid), false, 'running before the abort');
  const t0 = performance.now();
  ac.abort();
  const r = await p;
  assert.deepEqual([r.passed, r.detail], [false, 'aborted']);
  assert.ok(performance.now() - t0 < 200);
  assert.equal(gone(pid), true, `process ${pid} is still there`);
});
