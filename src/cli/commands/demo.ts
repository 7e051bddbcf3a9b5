/**
 * `fulcrum demo` (what `npm start` runs): starts the demo backends of examples/demo.yaml (fast, slow,
 * flaky — in server order), then Fulcrum with that config, prints the URLs and a curl line to try.
 * Ctrl-C stops everything cleanly. `fulcrum demo --config FILE` runs FILE instead (no demo backends);
 * `--demo FILE` runs the demo with another config (demo backends on its first pool's addresses; tests
 * use it to run the demo on free ports). `--slow-ms N` (150) and `--fail-rate R` (0.2) tune the backends;
 * `--listen HOST:PORT` and `--admin HOST:PORT` move the balancer's first listener and the admin API
 * (with `--listen` the config file is not reloaded on change or SIGHUP: a reload would move the
 * listener back to the file's address).
 *
 * The demo turns admin writes on: unless the config names its own `admin.auth`, the admin token is
 * FULCRUM_ADMIN_TOKEN when set, else 24 random bytes (base64url) generated at start, and is printed
 * once, with the dashboard URL — nowhere else. The dashboard's traffic generator
 * (POST /api/v1/demo/traffic, admin/dashboard-traffic.ts) is installed; it stops on shutdown.
 */
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { Command } from '../command.ts';
import { parseFlags } from '../args.ts';
import { loadConfigFile, formatProblems } from '../../config/index.ts';
import { serve } from '../serve.ts';
import { DEMO_KINDS, startDemoBackend } from '../demo-backends.ts';
import { installTrafficRoutes, TrafficGenerator } from '../../admin/dashboard-traffic.ts';
import { parseHostPort } from '../../config/values.ts';
import type { Config } from '../../config/schema.ts';

/** The environment variable the demo's admin token is read from (and kept in, for the admin API). */
export const DEMO_TOKEN_ENV = 'FULCRUM_ADMIN_TOKEN';

const DEMO_CONFIG = fileURLToPath(new URL('../../../examples/demo.yaml', import.meta.url));

export const command: Command = {
  name: 'demo',
  summary: 'run the embedded demo',
  async run(argv) {
    let values;
    try {
      values = parseFlags(argv, {
        config: { type: 'string', short: 'c' },
        demo: { type: 'string' },
        'slow-ms': { type: 'string' },
        'fail-rate': { type: 'string' },
        listen: { type: 'string' },
        admin: { type: 'string' },
      }).values;
    } catch (err) {
      process.stderr.write(`fulcrum demo: ${(err as Error).message} (FULCRUM_E_USAGE)\n`);
      return 2;
    }
    const file = values.config ?? values.demo ?? DEMO_CONFIG;
    const result = await loadConfigFile(file);
    if (!result.ok) {
      process.stderr.write(`${file}: invalid configuration (${result.code ?? 'FULCRUM_E_CONFIG_INVALID'})\n${formatProblems(result.problems)}\n`);
      return 1;
    }
    if (values.config !== undefined) return serve(result.config, { file: values.config });

    const slowMs = Number(values['slow-ms'] ?? 150);
    const failRate = Number(values['fail-rate'] ?? 0.2);
    if (!(slowMs >= 0) || !(failRate >= 0 && failRate <= 1)) {
      process.stderr.write('fulcrum demo: --slow-ms must be ≥ 0 and --fail-rate within 0..1 (FULCRUM_E_USAGE)\n');
      return 2;
    }
    for (const [flag, v] of [['--listen', values.listen], ['--admin', values.admin]] as const) {
      if (v !== undefined && parseHostPort(v) === null) {
        process.stderr.write(`fulcrum demo: ${flag} expects host:port, got ${JSON.stringify(v)} (FULCRUM_E_USAGE)\n`);
        return 2;
      }
    }
    // The demo puts its backends on a pool's addresses and points its URLs at the first listener:
    // a config without either (GSLB only) runs with --config, not as the demo.
    if (result.config.pools.length === 0 || result.config.listeners.length === 0) {
      process.stderr.write(`fulcrum demo: ${file} has no ${result.config.pools.length === 0 ? 'pool' : 'listener'} for the demo backends and URLs; run it with --config FILE instead (FULCRUM_E_USAGE)\n`);
      return 2;
    }
    let config: Config = result.config;
    if (values.listen !== undefined) config = { ...config, listeners: config.listeners.map((l, i) => (i === 0 ? { ...l, listen: values.listen! } : l)) };
    // Writes on: a token from the environment or generated now (the config's own admin.auth wins).
    let token: { value: string; generated: boolean } | null = null;
    if (config.admin.auth === undefined) {
      const fromEnv = process.env[DEMO_TOKEN_ENV]?.trim();
      token = fromEnv ? { value: fromEnv, generated: false } : { value: randomBytes(24).toString('base64url'), generated: true };
      process.env[DEMO_TOKEN_ENV] = token.value;
      config = { ...config, admin: { ...config.admin, auth: { tokenEnv: DEMO_TOKEN_ENV } } };
    }
    if (values.admin !== undefined) config = { ...config, admin: { ...config.admin, listen: values.admin } };
    const demoPool = result.config.pools.find((p) => p.name === 'demo') ?? result.config.pools[0];
    const backends: Server[] = [];
    try {
      for (let i = 0; i < demoPool.servers.length; i++) {
        const kind = DEMO_KINDS[i % DEMO_KINDS.length];
        backends.push(await startDemoBackend(kind, demoPool.servers[i].address, { slowMs, failRate }));
        process.stdout.write(`demo backend ${kind} http://${demoPool.servers[i].address}\n`);
      }
    } catch (err) {
      process.stderr.write(`fulcrum demo: cannot start demo backend: ${(err as Error).message} (FULCRUM_E_LISTEN)\n`);
      for (const b of backends) b.close();
      return 1;
    }
    let traffic: TrafficGenerator | null = null;
    const stopTraffic = () => traffic?.stop('shutdown');
    const code = await serve(config, { file: values.listen === undefined ? file : undefined, onStarted: (rt) => {
      const first = config.listeners[0];
      const addr = (b: { host: string; port: number } | undefined | null, dflt: string) => (b ? `${b.host.includes(':') ? `[${b.host}]` : b.host}:${b.port}` : dflt);
      const l = addr(rt.bound.get(first.name), first.listen);
      if (rt.admin !== null) {
        traffic = new TrafficGenerator(() => {
          const b = rt.bound.get(first.name);
          if (b === undefined || rt.listeners.some((x) => x.draining)) return null;
          // A wildcard bind is reached on loopback (the generator's sources are 127.0.0.x).
          return { host: b.host === '0.0.0.0' || b.host === '::' || b.host === '[::]' ? '127.0.0.1' : b.host, port: b.port };
        });
        installTrafficRoutes(rt.admin, traffic);
        process.once('SIGINT', stopTraffic);
        process.once('SIGTERM', stopTraffic);
      }
      const a = rt.admin === null ? config.admin.listen : addr(rt.admin.boundAddress, config.admin.listen);
      process.stdout.write(
        `\nFulcrum demo is running. Try:\n  curl -i http://${l}/hello\n  curl http://${a}/api/v1/pools\n` +
        `  curl http://${a}/metrics\n` +
        `Dashboard: http://${a}/\n` +
        (token === null ? '' : token.generated
          ? `Admin token (dashboard controls and API writes; shown only here): ${token.value}\n`
          : `Admin token: the value of ${DEMO_TOKEN_ENV}\n`) +
        `Ctrl-C stops everything.\n`,
      );
    } });
    stopTraffic();
    process.off('SIGINT', stopTraffic);
    process.off('SIGTERM', stopTraffic);
    await Promise.all(backends.map((b) => new Promise((r) => { b.closeAllConnections(); b.close(r); })));
    return code;
  },
};
