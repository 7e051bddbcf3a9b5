/** `fulcrum schema`: prints the JSON Schema (draft 2020-12) of the config file to stdout. */
import type { Command } from '../command.ts';
import { configJsonSchema } from '../../config/index.ts';

export const command: Command = {
  name: 'schema',
  summary: 'print the JSON Schema of the config file',
  async run(argv: string[]): Promise<number> {
    if (argv.length > 0) {
      process.stderr.write('usage: fulcrum schema (FULCRUM_E_USAGE)\n');
      return 2;
    }
    process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    return 0;
  },
};
