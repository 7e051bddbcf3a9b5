/**
 * Renders the configuration reference (docs/configuration.md) from the JSON Schema, itself derived
 * from the zod schema (DESIGN.md rule 4: one source of truth). One table per object section:
 * key, type, default, description (from `.describe()`). `npm run docs` writes the file;
 * test/config.test.ts fails when the file differs from this output.
 */
import { configJsonSchema } from './json-schema.ts';

type JS = Record<string, unknown> & {
  type?: string | string[]; properties?: Record<string, JS>; items?: JS; required?: string[];
  description?: string; default?: unknown; $ref?: string; anyOf?: JS[]; enum?: unknown[];
  const?: unknown; minimum?: number; minItems?: number;
};

const INTRO = `# Configuration reference

<!-- Generated from src/config/schema.ts by \`npm run docs\` (\`fulcrum docs\`). Do not edit by hand:
     a test fails when this file differs from the generated text. -->

Fulcrum reads one configuration file, YAML or JSON (chosen by the extension: \`.json\` is JSON,
\`.yaml\`, \`.yml\` and anything else is YAML 1.2, which also reads JSON). Keys are camelCase.
Check a file without running it:

\`\`\`sh
fulcrum validate fulcrum.yaml      # exit 0 and "fulcrum.yaml: valid", or exit 1 and every problem
fulcrum schema > fulcrum.schema.json  # JSON Schema for editor completion and checking
\`\`\`

A file that is not valid is refused as a whole, with every problem listed by path, one per line
(\`FULCRUM_E_CONFIG_INVALID\`):

\`\`\`text
pools[1].servers[0].address: expected host:port, got "10.0.0.1"
listeners[0].routes[2].pool: unknown pool "canary"; defined pools: api, web
\`\`\`

A file that cannot be read or parsed is reported with \`FULCRUM_E_CONFIG_READ\` and the line and
column of the syntax error. A complete, commented example is in [examples/full.yaml](../examples/full.yaml).

## Value syntaxes

- **Environment variables.** In any string value, \`\${NAME}\` is replaced by the environment variable
  NAME; \`\${NAME:-default}\` uses \`default\` when NAME is unset or empty. An unset variable without a
  default is a problem reported at its path. \`$\${\` writes a literal \`\${\`. Keys are never
  interpolated, and the result stays a string (durations and addresses accept strings).
- **Durations** (type [duration](#duration)): \`500ms\`, \`10s\`, \`2m\`, \`1h\`, compounds like \`1m30s\`,
  or a bare number of milliseconds (\`250\` = 250 ms). Parsed to milliseconds.
- **Addresses** are \`host:port\`: an IPv4 address, a host name, or an IPv6 address in brackets
  (\`[::1]:8080\`). Server ports are 1-65535; listen addresses may use port 0 (any free port).
- **Names** of listeners, pools and routes use letters, digits, \`_\`, \`.\` and \`-\`.

## Checks across values

Besides the type of each value, Fulcrum refuses a file when:

- there is no listener and no \`gslb\` section (a GSLB-only file may omit \`listeners\` and \`pools\`);
- two listeners, two pools, or two routes of one listener have the same name;
- a route names a pool (in \`pool\` or \`split\`) that \`pools\` does not define;
- a route has neither \`pool\` nor \`split\`, or both; all the weights of a \`split\` are 0;
- a \`path\` condition has other than exactly one of \`prefix\`, \`exact\`, \`regex\`, or a header, query or
  cookie condition other than exactly one of \`exact\`, \`regex\`, \`present: true\`;
- a pool lists the same server address twice;
- two listen addresses collide (listeners and the admin API, including its default
  \`127.0.0.1:9090\` when enabled): same host and port, or a wildcard host (\`0.0.0.0\`, \`[::]\`)
  and any host on the same port.
`;

/** GitHub-style heading anchor. */
function slug(heading: string): string {
  return heading.toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-');
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (v: unknown): string => `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;

function refName(ref: string): string {
  return ref.slice(ref.lastIndexOf('/') + 1);
}

/** True when `s` (after $ref resolution: none) is an object with its own section. */
function isObjectSchema(s: JS | undefined): boolean {
  return s !== undefined && s.type === 'object' && s.properties !== undefined;
}

function typeText(s: JS, childPath: string | undefined): string {
  if (s.$ref !== undefined) {
    const name = refName(s.$ref);
    return name === 'Duration' ? '[duration](#duration)' : `[${name}](#${slug(name)})`;
  }
  if (s.const !== undefined) return code(s.const);
  if (s.enum !== undefined) return s.enum.length === 1 ? code(s.enum[0]) : `one of ${s.enum.map(code).join(', ')}`;
  if (s.anyOf !== undefined) return s.anyOf.map((a) => typeText(a, childPath)).join(' or ');
  if (isObjectSchema(s) && childPath !== undefined) return `[object](#${slug(childPath)})`;
  if (s.type === 'array' && s.items !== undefined) {
    const inner = typeText(s.items, childPath);
    const min = s.minItems !== undefined && s.minItems > 0 ? ` (≥ ${s.minItems})` : '';
    return (/^\w+$/.test(inner) ? `${inner}[]` : `list of ${inner}`) + min;
  }
  const t = Array.isArray(s.type) ? s.type.join(' or ') : (s.type ?? 'any');
  return t === 'integer' && s.minimum !== undefined ? `integer ≥ ${s.minimum}` : t;
}

function defaultText(s: JS, required: boolean): string {
  if (required) return '**required**';
  if (s.default === undefined) return '—';
  if (isObjectSchema(s) && typeof s.default === 'object' && s.default !== null && Object.keys(s.default).length === 0) return 'see below';
  return code(s.default);
}

/** The object a property leads to (directly or as array items), for its own section. */
function childObject(s: JS): JS | undefined {
  if (isObjectSchema(s)) return s;
  if (s.type === 'array' && s.items !== undefined && isObjectSchema(s.items)) return s.items;
  return undefined;
}

function renderObject(s: JS, heading: string, out: string[]): void {
  out.push(`## ${heading}`, '');
  if (s.description !== undefined) out.push(s.description, '');
  const props = Object.entries(s.properties ?? {});
  const required = new Set(s.required ?? []);
  out.push('| Key | Type | Default | Description |', '| --- | --- | --- | --- |');
  const children: [string, JS][] = [];
  for (const [key, prop] of props) {
    const child = childObject(prop);
    const childHeading = child ? `\`${heading === 'Top level' ? '' : `${heading.replace(/`/g, '')}.`}${key}${prop.type === 'array' ? '[]' : ''}\`` : undefined;
    if (child && childHeading) children.push([childHeading, child]);
    const desc = prop.description ?? (prop.type === 'array' ? prop.items?.description : undefined) ?? '';
    out.push(`| \`${key}\` | ${cell(typeText(prop, childHeading))} | ${cell(defaultText(prop, required.has(key)))} | ${cell(desc)} |`);
  }
  out.push('');
  for (const [h, child] of children) renderObject(child, h, out);
}

/** The configuration reference in Markdown (the content of docs/configuration.md). */
export function renderConfigDocs(): string {
  const schema = configJsonSchema() as JS;
  const out: string[] = [INTRO];
  renderObject(schema, 'Top level', out);
  const defs = (schema.$defs ?? {}) as Record<string, JS>;
  out.push('## Shared types', '');
  for (const [name, def] of Object.entries(defs)) {
    if (isObjectSchema(def)) {
      const body: string[] = [];
      renderObject(def, name, body);
      out.push(...body.map((l) => (l.startsWith('## ') ? `#${l}` : l)));
    } else {
      out.push(`### ${name}`, '');
      if (def.description !== undefined) out.push(def.description, '');
    }
  }
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}
