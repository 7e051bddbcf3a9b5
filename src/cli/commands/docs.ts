/** `fulcrum docs`: prints the generated configuration reference (the text of docs/configuration.md). */
import type { Command } from '../command.ts';
import { renderConfigDocs } from '../../config/index.ts';

export const command: Command = {
  name: 'docs',
  summary: 'print the generated configuration reference',
  async run(argv: string[]): Promise<number> {
    if (argv.length > 0) {
      process.stderr.write('usage: fulcrum docs (FULCRUM_E_USAGE)\n');
      return 2;
    }
    process.stdout.write(renderConfigDocs());
    return 0;
  },
};
