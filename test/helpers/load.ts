/**
 * Steady load and backend processes for the resilience proofs.
 * - `startBackendProc`: test/fixtures/backend.mjs as a child process (so a test can SIGKILL it),
 *   with run-time control of its delay, status, health status and a hang mode.
 * - `runLoad`: `concurrency` keep-alive client loops paced to `rate` requests per second for
 *   `durationMs`, recording for every request its start time, status (0 = socket error), error
 *   code, latency and which backend answered. Bounded in time; never throws on request errors.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { REPO_ROOT } from './fulcrum.ts';
import { join } from 'node:path';

export interface BackendProc {
  id: string;
  port: number;
  proc: ChildProcess;
  /** Changes its behaviour (any of delay, status, health, hang). */
  ctl(params: Partial<Record<'delay' | 'status' | 'health' | 'hang', number>>): Promise<void>;
  /** SIGKILL (by PID) and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM if still running, bounded wait. */
  stop(): Promise<void>;
}

export async function startBackendProc(id: string): Promise<BackendProc> {
  const proc = spawn(process.execPath, [join(REPO_ROOT, 'test/fixtures/backend.mjs'), id], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`backend ${id} did not start`)), 10_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /\{"port":(\d+)\}/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.once('exit', () => reject(new Error(`backend ${id} exited early`)));
  });
  let alive = true;
  void exited.then(() => { alive = false; });
  const waitExit = (ms: number) => Promise.race([exited, new Promise<void>((r) => setTimeout(r, ms).unref())]);
  return {
    id,
    port,
    proc,
    async ctl(params) {
      const q = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));
      const res = await fetch(`http://127.0.0.1:${port}/__ctl?${q}`, { signal: AbortSignal.timeout(5000) });
      await res.text();
    },
    async kill() {
      if (alive) proc.kill('SIGKILL');
      await waitExit(5000);
    },
    async stop() {
      if (alive) proc.kill('SIGTERM');
      await waitExit(5000);
      if (alive) proc.kill('SIGKILL');
    },
  };
}

export interface Sample {
  /** Start, ms since the load began. */
  t: number;
  status: number;
  error: string;
  ms: number;
  backend: string;
}

export interface LoadOptions {
  port: number;
  path?: string;
  method?: string;
  rate: number;
  durationMs: number;
  concurrency?: number;
  /** Per-request timeout (default 10 s): counted as an error `timeout`. */
  timeoutMs?: number;
}

export interface LoadRun {
  samples: Sample[];
  /** Resolves when every loop has finished. */
  done: Promise<Sample[]>;
  /** Ms since the load began. */
  elapsed(): number;
}

/** Starts the load; `done` resolves with all samples after durationMs (plus in-flight requests). */
export function runLoad(o: LoadOptions): LoadRun {
  const concurrency = o.concurrency ?? 8;
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const samples: Sample[] = [];
  const t0 = performance.now();
  const elapsed = () => performance.now() - t0;
  const gap = (1000 * concurrency) / o.rate; // ms between two requests of one loop
  const one = (): Promise<void> => new Promise((resolve) => {
    const start = elapsed();
    let settled = false;
    const finish = (status: number, error: string, backend: string) => {
      if (settled) return;
      settled = true;
      samples.push({ t: start, status, error, ms: elapsed() - start, backend });
      resolve();
    };
    const req = request({ host: '127.0.0.1', port: o.port, path: o.path ?? '/', method: o.method ?? 'GET', agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => finish(res.statusCode ?? 0, '', String(res.headers['x-backend'] ?? '')));
      res.on('error', (e: NodeJS.ErrnoException) => finish(0, e.code ?? e.message, ''));
    });
    req.setTimeout(o.timeoutMs ?? 10_000, () => {
      req.destroy();
      finish(0, 'timeout', '');
    });
    req.on('error', (e: NodeJS.ErrnoException) => finish(0, e.code ?? e.message, ''));
    req.end();
  });
  const loop = async (k: number): Promise<void> => {
    let next = (k * gap) / concurrency;
    for (let i = 0; i < 1_000_000; i++) {
      const now = elapsed();
      if (now >= o.durationMs) return;
      if (next > now) await new Promise((r) => setTimeout(r, next - now));
      if (elapsed() >= o.durationMs) return;
      next += gap;
      await one();
    }
  };
  const done = Promise.all(Array.from({ length: concurrency }, (_, k) => loop(k))).then(() => {
    agent.destroy();
    return samples;
  });
  return { samples, done, elapsed };
}

/** The p-quantile (0–1) of the values (nearest rank). */
export function quantile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
}

/** Samples that failed from the client's view: a socket error or a status ≥ 500. */
export function failures(samples: Sample[]): Sample[] {
  return samples.filter((s) => s.status === 0 || s.status >= 500);
}
