/**
 * `fulcrum demo` (what `npm start` runs): starts the demo backends of examples/demo.yaml (fast, slow,
 * flaky — in server order), then Fulcrum with that config, prints the URLs and a curl line to try.
 * Ctrl-C stops everything cleanly. `fulcrum demo --config FILE` runs FILE instead (no demo backends);
 * `--demo FILE` runs the demo with another config (demo backends on its first pool's addresses; tests
 * use it to run the demo on free ports). `--slow-ms N` (150) and `--fail-rate R` (0.2) tune the backends.
 */
import { fileURLToPath } from 'node:url';
import type { Server } from 'node:http';
import type { Command } from '../command.ts';
import { parseFlags } from '../args.ts';
import { loadConfigFile, formatProblems } from '../../config/index.ts';
import { serve } from '../serve.ts';
import { DEMO_KINDS, startDemoBackend } from '../demo-backends.ts';

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
    const code = await serve(result.config, { file, onStarted: () => {
      const l = result.config.listeners[0].listen;
      process.stdout.write(
        `\nFulcrum demo is running. Try:\n  curl -i http://${l}/hello\n  curl http://${result.config.admin.listen}/api/v1/pools\n` +
        `  curl http://${result.config.admin.listen}/metrics\nCtrl-C stops everything.\n`,
      );
    } });
    await Promise.all(backends.map((b) => new Promise((r) => { b.closeAllConnections(); b.close(r); })));
    return code;
  },
};
