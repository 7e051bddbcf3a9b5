/**
 * Starting the things measured: the three nginx backends, and the proxies under test (nginx,
 * HAProxy, Fulcrum), each from a template in bench/configs/ with ports chosen at run time. A
 * start that fails resolves to a reason string (printed as "skipped: …"), never a throw.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderConfig } from './configs.ts';
import { httpGet, waitListening } from './net.ts';
import { gist, type Child, type Children } from './procs.ts';

/** Repository root (bench/lib/../..). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** What every start needs: the temp dir, ports, binaries and the CPU pinning. */
export interface Env {
  readonly dir: string;
  readonly children: Children;
  readonly ports: { readonly b1: number; readonly b2: number; readonly b3: number; readonly nginx: number; readonly haproxy: number; readonly fulcrum: number; readonly admin: number };
  readonly bins: { readonly nginx: string | null; readonly haproxy: string | null; readonly taskset: string | null };
  /** Core for the proxies (null: unpinned). */
  readonly proxyCore: number | null;
  /** Core for the backends and wrk (null: unpinned). */
  readonly loadCore: number | null;
}

/** `cmd args` prefixed with `taskset -c core` when pinning is on. */
export function pinned(env: Env, core: number | null, cmd: string, args: readonly string[]): [string, string[]] {
  return core === null || env.bins.taskset === null ? [cmd, [...args]] : [env.bins.taskset, ['-c', String(core), cmd, ...args]];
}

function describeExit(c: Child): string {
  const e = c.exit;
  if (e === null) return 'still running';
  if (e.error) return `could not start: ${e.error}`;
  return e.signal ? `killed by ${e.signal}` : `exited with code ${e.code}`;
}

/** Wait until `child` accepts on every port; a reason string when it died or never listened. */
async function ready(child: Child, ports: readonly number[], extraLogs: readonly string[] = []): Promise<string | null> {
  for (const port of ports) {
    if (!(await waitListening(port, () => child.exit === null))) {
      const why = child.exit !== null ? describeExit(child) : `did not accept on 127.0.0.1:${port} within ~10 s`;
      const logs = [child.logFile, ...extraLogs].map((f) => gist(f)).filter((t) => t !== '').join('\n');
      return logs ? `${why}\n${logs.replace(/^/gm, '      | ')}` : why;
    }
  }
  return null;
}

function startNginx(env: Env, name: string, template: string, port: number): Child | string {
  if (env.bins.nginx === null) return 'nginx missing (apt install nginx-light)';
  const conf = renderConfig(template, { DIR: env.dir, PORT: port, B1: env.ports.b1, B2: env.ports.b2, B3: env.ports.b3 }, path.join(env.dir, `${name}.conf`));
  fs.mkdirSync(path.join(env.dir, `${name}-temp`), { recursive: true });
  // -e: the start-up error log, before the config's error_log applies (else /var/log/nginx).
  const [cmd, args] = pinned(env, name === 'backends' ? env.loadCore : env.proxyCore, env.bins.nginx,
    ['-p', env.dir, '-c', conf, '-e', path.join(env.dir, `${name}.error.log`)]);
  return env.children.start(name, cmd, args, path.join(env.dir, `${name}.out.log`));
}

/** Start the backend nginx (three server blocks); null when all three accept, else the reason. */
export async function startBackends(env: Env): Promise<string | null> {
  const c = startNginx(env, 'backends', 'backends.nginx.conf', env.ports.b1);
  if (typeof c === 'string') return c;
  return ready(c, [env.ports.b1, env.ports.b2, env.ports.b3], [path.join(env.dir, 'backends.error.log')]);
}

/** Start nginx as the reverse proxy under test. */
export async function startNginxProxy(env: Env): Promise<string | null> {
  const c = startNginx(env, 'proxy', 'proxy.nginx.conf', env.ports.nginx);
  if (typeof c === 'string') return c;
  return ready(c, [env.ports.nginx], [path.join(env.dir, 'proxy.error.log')]);
}

/** Start HAProxy in the foreground (-db) as the proxy under test. */
export async function startHaproxy(env: Env): Promise<string | null> {
  if (env.bins.haproxy === null) return 'haproxy missing (apt install haproxy)';
  const conf = renderConfig('haproxy.cfg', { PORT: env.ports.haproxy, B1: env.ports.b1, B2: env.ports.b2, B3: env.ports.b3 }, path.join(env.dir, 'haproxy.cfg'));
  const [cmd, args] = pinned(env, env.proxyCore, env.bins.haproxy, ['-db', '-f', conf]);
  return ready(env.children.start('haproxy', cmd, args, path.join(env.dir, 'haproxy.log')), [env.ports.haproxy]);
}

/**
 * Start Fulcrum (`node [--cpu-prof …] ENTRY run --config FILE`, ENTRY default src/cli/main.ts);
 * returns the child or the reason it is skipped.
 */
export async function startFulcrum(env: Env, entry: string | null, cpuProfDir: string | null): Promise<Child | string> {
  const main = path.resolve(REPO_ROOT, entry ?? 'src/cli/main.ts');
  if (!fs.existsSync(main)) return `${main} not found`;
  const conf = renderConfig('fulcrum.yaml', { PORT: env.ports.fulcrum, ADMIN: env.ports.admin, B1: env.ports.b1, B2: env.ports.b2, B3: env.ports.b3 }, path.join(env.dir, 'fulcrum.yaml'));
  const nodeArgs = cpuProfDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`];
  const [cmd, args] = pinned(env, env.proxyCore, process.execPath, [...nodeArgs, main, 'run', '--config', conf]);
  const child = env.children.start('fulcrum', cmd, args, path.join(env.dir, 'fulcrum.log'), REPO_ROOT);
  const why = await ready(child, [env.ports.fulcrum]);
  return why ?? child;
}

/**
 * Sanity check before measuring: `gets` fresh-connection GETs must all answer 200 with a backend's
 * body. Returns the backends seen (round robin shows 1,2,3) or the reason the target is unfit.
 */
export async function checkServes(port: number, gets = 6): Promise<{ seen: number[] } | string> {
  const seen = new Set<number>();
  for (let i = 0; i < gets; i++) {
    let r: { status: number; body: string };
    try {
      r = await httpGet(port);
    } catch (err) {
      return `GET / failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    const m = /^hello from backend (\d)\n$/.exec(r.body);
    if (r.status !== 200 || !m) return `GET / answered ${r.status} ${JSON.stringify(r.body.slice(0, 120))}, expected 200 "hello from backend N"`;
    seen.add(Number(m[1]));
  }
  return { seen: [...seen].sort() };
}
