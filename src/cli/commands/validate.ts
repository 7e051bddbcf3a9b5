/**
 * `fulcrum validate FILE`: exit 0 and `FILE: valid` on stdout when FILE is a valid config;
 * exit 1 with every problem on stderr, one `path: message` per line, then a summary line naming
 * the error code; exit 2 on a usage error.
 */
import type { Command } from '../command.ts';
import { formatProblems, loadConfigFile } from '../../config/index.ts';

export const command: Command = {
  name: 'validate',
  summary: 'check a config file; exit 0 when valid, 1 with every problem listed',
  async run(argv: string[]): Promise<number> {
    if (argv.length === 1 && (argv[0] === '-h' || argv[0] === '--help')) {
      process.stdout.write('usage: fulcrum validate FILE\n');
      return 0;
    }
    if (argv.length !== 1 || argv[0].startsWith('-')) {
      process.stderr.write('usage: fulcrum validate FILE (FULCRUM_E_USAGE)\n');
      return 2;
    }
    const file = argv[0];
    const result = await loadConfigFile(file);
    if (result.ok) {
      process.stdout.write(`${file}: valid\n`);
      return 0;
    }
    const n = result.problems.length;
    const code = result.code ?? 'FULCRUM_E_CONFIG_INVALID';
    process.stderr.write(`${formatProblems(result.problems)}\n${file}: invalid, ${n} problem${n === 1 ? '' : 's'} (${code})\n`);
    return 1;
  },
};
