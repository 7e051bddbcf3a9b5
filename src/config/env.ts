/**
 * `${VAR}` interpolation in the string values of a parsed config file, with the POSIX shell's
 * `${VAR:-default}` form (default used when VAR is unset or empty) and `$${` for a literal `${`.
 * Keys are never interpolated; interpolated values stay strings.
 */
import { formatPath, type PathSegment, type PathedProblem } from './problems.ts';

const REF = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const NAME_RE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/**
 * Returns a copy of `raw` with every `${…}` in string values replaced from `env`, plus one problem
 * per unset variable without default or malformed reference (the text is then left as written).
 */
export function interpolateEnv(raw: unknown, env: NodeJS.ProcessEnv): { value: unknown; problems: PathedProblem[] } {
  const problems: PathedProblem[] = [];
  const walk = (v: unknown, segments: PathSegment[]): unknown => {
    if (typeof v === 'string') return v.includes('${') ? interpolateString(v, segments) : v;
    if (Array.isArray(v)) return v.map((item, i) => walk(item, [...segments, i]));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) out[k] = walk(item, [...segments, k]);
      return out;
    }
    return v;
  };
  const interpolateString = (s: string, segments: PathSegment[]): string => {
    const fail = (message: string): void => { problems.push({ path: formatPath(segments), message, segments }); };
    return s.replace(REF, (whole: string, inner: string | undefined) => {
      if (whole === '$${') return '${';
      if (inner === undefined) { fail('unterminated "${" (write "$${" for a literal "${")'); return whole; }
      const m = NAME_RE.exec(inner);
      if (!m) { fail(`expected \${NAME} or \${NAME:-default}, got ${JSON.stringify(whole)}`); return whole; }
      const [, name, dflt] = m;
      const val = env[name];
      if (dflt !== undefined) return val === undefined || val === '' ? dflt : val;
      if (val === undefined) { fail(`environment variable ${name} is not set (write \${${name}:-default} to give a default)`); return whole; }
      return val;
    });
  };
  return { value: walk(raw, []), problems };
}
