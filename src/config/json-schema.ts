/**
 * JSON Schema (draft 2020-12) of the config FILE as written (zod `io: 'input'`): durations as
 * strings or numbers, optional keys with their defaults. For editors (yaml-language-server,
 * VS Code `$schema`) and `fulcrum schema`. Decorations zod cannot infer from refinements (the
 * duration pattern, the registered algorithm names, "exactly one of" groups, listeners or gslb) are added here.
 */
import { z } from 'zod';
import { algorithmNames } from '../balancing/registry.ts';
import { AlgorithmName, ConfigSchema, Duration, SCHEMA_PARTS } from './schema.ts';
import { DURATION_PATTERN } from './values.ts';

const oneOfRequired = (keys: readonly string[]): object[] => keys.map((k) => ({ required: [k] }));

/** The JSON Schema of the config file, with `$schema`, `$id`-free, titles and `$defs`. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ConfigSchema, {
    io: 'input',
    target: 'draft-2020-12',
    unrepresentable: 'any',
    override(ctx) {
      const js = ctx.jsonSchema as Record<string, unknown>;
      const zs = ctx.zodSchema as unknown;
      if (zs === ConfigSchema) {
        // Listeners are optional only next to a gslb section (src/config/semantic.ts checks the same).
        js.anyOf = [{ required: ['listeners'], properties: { listeners: { minItems: 1 } } }, { required: ['gslb'] }];
      } else if (zs === Duration) {
        delete js.type;
        js.anyOf = [
          { type: 'number', minimum: 0, maximum: 2147483647, description: 'milliseconds' },
          { type: 'string', pattern: DURATION_PATTERN },
        ];
      } else if (zs === AlgorithmName) {
        js.enum = algorithmNames();
      } else if (zs === SCHEMA_PARTS.route) {
        js.oneOf = oneOfRequired(['pool', 'split']);
      } else if (zs === SCHEMA_PARTS.path) {
        js.oneOf = oneOfRequired(['prefix', 'exact', 'regex']);
      } else if (zs === SCHEMA_PARTS.valueMatch) {
        js.oneOf = oneOfRequired(['exact', 'regex', 'present']);
      }
    },
  }) as Record<string, unknown>;
  return { $schema: schema.$schema, title: 'Fulcrum configuration', ...schema };
}
