/**
 * Fulcrum command line. Each command is one module in ./commands exporting a `Command`;
 * this file only lists them (no switch on names elsewhere).
 */
import type { Command } from './command.ts';

const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  run: () => import('./commands/run.ts'),
  demo: () => import('./commands/demo.ts'),
  validate: () => import('./commands/validate.ts'),
  schema: () => import('./commands/schema.ts'),
  docs: () => import('./commands/docs.ts'),
};

function usage(): string {
  return [
    'usage: fulcrum <command> [options]',
    '',
    'commands:',
    '  run --config FILE     run the balancer with FILE (YAML or JSON); SIGHUP or a change to FILE reloads it',
    '      [--no-watch]      reload on SIGHUP only',
    '  demo [--config FILE]  run the embedded demo (demo backends + balancer + admin); with --config, run FILE',
    '  validate FILE         check FILE; exit 0 when valid, 1 with every problem listed',
    '  schema                print the JSON Schema of the config file',
    '  docs                  print the generated configuration reference (docs/configuration.md)',
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    process.stderr.write(`fulcrum: unknown command "${name}" (FULCRUM_E_USAGE)\n\n${usage()}`);
    return 2;
  }
  const { command } = await load();
  return command.run(rest);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      process.stderr.write(`fulcrum: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
