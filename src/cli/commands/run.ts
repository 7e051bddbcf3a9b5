/**
 * `fulcrum run --config FILE [--no-watch]`: validate FILE (refusing it with every problem listed) and
 * serve it. SIGHUP reloads FILE; so does a change to it unless `--no-watch` is given.
 */
import type { Command } from '../command.ts';
import { parseFlags } from '../args.ts';
import { loadConfigFile, formatProblems } from '../../config/index.ts';
import { serve } from '../serve.ts';

export const command: Command = {
  name: 'run',
  summary: 'run the balancer with a config file',
  async run(argv) {
    let file: string | undefined;
    let watch = true;
    try {
      const { values, positionals } = parseFlags(argv, { config: { type: 'string', short: 'c' }, 'no-watch': { type: 'boolean' } }, true);
      file = values.config ?? positionals[0];
      watch = values['no-watch'] !== true;
    } catch (err) {
      process.stderr.write(`fulcrum run: ${(err as Error).message} (FULCRUM_E_USAGE)\n`);
      return 2;
    }
    if (file === undefined) {
      process.stderr.write('fulcrum run: missing --config FILE (FULCRUM_E_USAGE)\n');
      return 2;
    }
    const result = await loadConfigFile(file);
    if (!result.ok) {
      process.stderr.write(`${file}: invalid configuration (${result.code ?? 'FULCRUM_E_CONFIG_INVALID'})\n${formatProblems(result.problems)}\n`);
      return 1;
    }
    return serve(result.config, { file, watch });
  },
};
