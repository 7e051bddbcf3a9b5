/**
 * Real third-party peers (HAProxy, nginx …) started by a test: locate the binary, start it with a
 * temp config, wait until it listens, stop it by PID. Every wait is bounded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';

/** The haproxy binary on PATH (or in /usr/sbin, /usr/local/sbin), or null. */
export function findHaproxy(): string | null {
  for (const d of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin']) {
    const p = path.join(d, 'haproxy');
    if (d && fs.existsSync(p)) return p;
  }
  return null;
}

/** Waits (≤ 100 tries, 50 ms apart) until 127.0.0.1:`port` accepts; rejects when `proc` exits first. */
export async function waitPort(port: number, proc: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`exited ${proc.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} not listening: ${log()}`);
}

/**
 * Starts a peer; resolves once it listens on `port`. `stop()` (idempotent, bounded) SIGKILLs it by
 * PID and removes `dir`; it is also pushed on `cleanup` for the test file's `after` hook.
 */
export async function startChild(
  bin: string, args: string[], dir: string, port: number, cleanup: (() => Promise<void> | void)[],
): Promise<{ proc: ChildProcess; stop(): Promise<void> }> {
  let err = '';
  const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  let stopping: Promise<void> | null = null;
  const stop = () => (stopping ??= (async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      try { process.kill(proc.pid!, 'SIGKILL'); } catch { /* already gone */ }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  })());
  cleanup.push(stop);
  await waitPort(port, proc, () => err.slice(-1500));
  return { proc, stop };
}
