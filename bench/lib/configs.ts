/**
 * Render the config templates in bench/configs/: `{{NAME}}` placeholders replaced by the run's
 * ports and temp dir. An unknown or unfilled placeholder is an error, never a silent blank.
 */
import fs from 'node:fs';
import path from 'node:path';

const CONFIG_DIR = new URL('../configs/', import.meta.url);

/** Fill template `name` (a file in bench/configs/) with `vars` and write it to `outFile`. */
export function renderConfig(name: string, vars: Record<string, string | number>, outFile: string): string {
  const text = fs.readFileSync(new URL(name, CONFIG_DIR), 'utf8');
  const out = text.replace(/\{\{([A-Z0-9_]+)\}\}/g, (_, key: string) => {
    if (!Object.hasOwn(vars, key)) throw new Error(`${name}: no value for {{${key}}}`);
    return String(vars[key]);
  });
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, out);
  return outFile;
}
