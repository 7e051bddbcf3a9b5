/**
 * Runs a real Fulcrum child process (`node src/cli/main.ts run --config F`) for end-to-end tests:
 * the config is written as JSON to a fresh temp dir, the process is spawned with the repo root as
 * cwd, and startFulcrum resolves once every `listener NAME SCHEME://HOST:PORT` (and `admin …`) line
 * has been printed. Every wait is bounded; stop() ends the process by its PID only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root, derived from this file's location (test/helpers/ → ../../). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface StartOptions {
  /** Extra environment variables (FULCRUM_LOG_LEVEL defaults to `silent`). */
  env?: Record<string, string>;
  /** How long to wait for the listener lines (default 10 000 ms). */
  startTimeoutMs?: number;
  /** Extra arguments after `run --config FILE` (e.g. `--no-watch`). */
  args?: string[];
}

export interface FulcrumProcess {
  proc: ChildProcess;
  pid: number;
  /** `http://127.0.0.1:PORT` of the named listener. */
  url(listener: string): string;
  port(listener: string): number;
  /** Port of the admin API (0 when the admin API is disabled). */
  adminPort: number;
  /** The config file the process runs (rewrite it and send SIGHUP, or let the watch see it, to reload). */
  configFile: string;
  stdout(): string;
  stderr(): string;
  /** The JSON log lines written on stderr so far (needs FULCRUM_LOG_LEVEL other than `silent`). */
  logs(): LogLine[];
  /** Polls `cond` every 20 ms until it holds; rejects after `timeoutMs` naming `what`. */
  waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void>;
  /** Resolves with the exit code (null when killed by a signal) once the process has exited. */
  exited: Promise<number | null>;
  /** True once the process has exited. */
  hasExited(): boolean;
  /** Waits (without signalling) up to `timeoutMs` for the exit; rejects on timeout. */
  waitExit(timeoutMs: number): Promise<number | null>;
  /**
   * Sends `signal` (default SIGTERM) and waits up to `timeoutMs` (default 10 000) for the exit;
   * after that the process is SIGKILLed. Resolves with the exit code (null if killed by a signal).
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

/** Starts Fulcrum with `config` (an object; written as JSON). Rejects with stderr on failure. */
export async function startFulcrum(config: object, opts: StartOptions = {}): Promise<FulcrumProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'fulcrum-e2e-'));
  const file = join(dir, 'fulcrum.json');
  await writeFile(file, JSON.stringify(config, null, 2));
  const cfg = config as { listeners?: { name: string }[]; admin?: { enabled?: boolean } };
  const listenerNames = (cfg.listeners ?? []).map((l) => l.name);
  const wantAdmin = cfg.admin?.enabled !== false;

  const proc = spawn(process.execPath, ['src/cli/main.ts', 'run', '--config', file, ...(opts.args ?? [])], {
    cwd: REPO_ROOT,
    env: { ...process.env, FULCRUM_LOG_LEVEL: 'silent', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const ports = new Map<string, number>();
  let adminPort = 0;
  let exitedFlag = false;
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => {
      exitedFlag = true;
      resolve(code);
      void rm(dir, { recursive: true, force: true });
    });
  });
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => { err += d; });
  proc.stdout!.setEncoding('utf8');

  const ready = new Promise<void>((resolve, reject) => {
    const check = () => {
      for (const line of out.split('\n')) {
        const m = /^listener (\S+) (?:https?|tcp|tls|udp):\/\/[^\s]+:(\d+)$/.exec(line);
        if (m) ports.set(m[1], Number(m[2]));
        const a = /^admin http:\/\/[^\s]+:(\d+)$/.exec(line);
        if (a) adminPort = Number(a[1]);
      }
      if (listenerNames.every((n) => ports.has(n)) && (!wantAdmin || adminPort !== 0)) resolve();
    };
    proc.stdout!.on('data', (d: string) => { out += d; check(); });
    void exited.then((code) => reject(new Error(`fulcrum exited with ${code} before it was ready\nstdout: ${out}\nstderr: ${err}`)));
    const timer = setTimeout(() => reject(new Error(`fulcrum not ready after ${opts.startTimeoutMs ?? 10_000} ms\nstdout: ${out}\nstderr: ${err}`)), opts.startTimeoutMs ?? 10_000);
    timer.unref();
  });
  try {
    await ready;
  } catch (e) {
    if (!exitedFlag) proc.kill('SIGKILL');
    await exited;
    throw e;
  }

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<number | null> => {
    if (exitedFlag) return exited;
    proc.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
    const r = await Promise.race([exited, killed]);
    clearTimeout(timer);
    if (r === 'timeout') {
      proc.kill('SIGKILL');
      await exited;
      throw new Error(`fulcrum did not exit within ${timeoutMs} ms of ${signal}; stderr: ${err}`);
    }
    return r;
  };

  return {
    proc,
    pid: proc.pid!,
    url: (name) => `http://127.0.0.1:${portOf(ports, name)}`,
    port: (name) => portOf(ports, name),
    adminPort,
    configFile: file,
    stdout: () => out,
    stderr: () => err,
    logs: () => parseLogLines(err),
    waitFor: (cond, timeoutMs, what) => waitUntil(cond, timeoutMs, () => `${what}\nstderr: ${err.slice(-4000)}`),
    exited,
    hasExited: () => exitedFlag,
    waitExit: async (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      const t = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
      const r = await Promise.race([exited, t]);
      clearTimeout(timer);
      if (r === 'timeout') throw new Error(`fulcrum still running after ${timeoutMs} ms`);
      return r;
    },
    stop,
  };
}

/** One pino log line (JSON) of a Fulcrum process. */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** The JSON lines of a Fulcrum process's stderr (other lines are skipped). */
export function parseLogLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const v = JSON.parse(line) as LogLine;
      if (typeof v.msg === 'string') out.push(v);
    } catch {
      // a line cut in the middle (still being written): skipped until complete
    }
  }
  return out;
}

/** Polls `cond` every 20 ms until it holds; rejects after `timeoutMs` with `describe()`. */
export async function waitUntil(cond: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let guard = 0; guard < 1_000_000; guard++) {
    if (cond()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${describe()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function portOf(ports: Map<string, number>, name: string): number {
  const p = ports.get(name);
  if (p === undefined) throw new Error(`no listener named ${name}`);
  return p;
}

/** Resident set size of a process in bytes, read from /proc/<pid>/status (VmRSS); -1 when unavailable. */
export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : -1;
  } catch {
    return -1;
  }
}

/**
 * A minimal valid config: one listener `web` on 127.0.0.1:0 routing everything to pool `p` with
 * the given backend ports; admin on 127.0.0.1:0. `listener` and `pool` are merged over the defaults.
 */
export function simpleConfig(backendPorts: number[], o: { listener?: object; pool?: object; extraPools?: object[]; shutdown?: object } = {}): object {
  return {
    admin: { listen: '127.0.0.1:0' },
    ...(o.shutdown ? { shutdown: o.shutdown } : {}),
    listeners: [{
      name: 'web',
      protocol: 'http',
      listen: '127.0.0.1:0',
      routes: [{ name: 'all', pool: 'p' }],
      ...o.listener,
    }],
    pools: [
      { name: 'p', servers: backendPorts.map((port) => ({ address: `127.0.0.1:${port}` })), ...o.pool },
      ...(o.extraPools ?? []),
    ],
  };
}

/** GET on the admin API; returns status and body text (bounded by a 5 s timeout). */
export async function adminGet(adminPort: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${adminPort}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}
