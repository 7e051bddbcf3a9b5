/**
 * Config problems: `path: message` lines (DESIGN.md rule 4), e.g.
 * `pools[1].servers[0].address: expected host:port, got "10.0.0.1"`.
 * Turns zod issues into problems worded as "expected X, got Y", and orders problems as the keys
 * appear in the file.
 */
import type { z } from 'zod';

/** One problem of a config: `path` like `listeners[0].routes[1].pool` ("(root)" for the top). */
export type Problem = { path: string; message: string };

export type PathSegment = string | number;

/** A problem with its path as segments (for ordering). */
export type PathedProblem = Problem & { segments: PathSegment[] };

/** Formats path segments: `listeners[0].name`; keys that are not identifiers are quoted. */
export function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of segments) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const key = String(seg);
      if (/^[A-Za-z_$][\w$-]*$/.test(key)) out += out === '' ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out === '' ? '(root)' : out;
}

/** One `path: message` per line (no trailing newline). */
export function formatProblems(problems: readonly Problem[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join('\n');
}

/** Short description of a value for messages: strings quoted, objects by kind. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
  return String(v);
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string', number: 'a number', int: 'an integer', boolean: 'true or false',
  object: 'an object', array: 'an array', bigint: 'an integer',
};

type Issue = z.core.$ZodIssue & { input?: unknown };

/** Converts a zod issue to problems (unrecognized_keys gives one problem per key). */
export function issueToProblems(issue: Issue, knownKeys: (path: PathSegment[]) => string[] | undefined): PathedProblem[] {
  const path = issue.path as PathSegment[];
  const got = describeValue(issue.input);
  return problemsOf(issue, path, got, knownKeys).map((p) => ({ ...p, segments: p.segments ?? path }));
}

function problemsOf(issue: Issue, path: PathSegment[], got: string, knownKeys: (path: PathSegment[]) => string[] | undefined): (Problem & { segments?: PathSegment[] })[] {
  switch (issue.code) {
    case 'custom':
      return [{ path: formatPath(path), message: issue.message }];
    case 'unrecognized_keys': {
      const known = knownKeys(path) ?? [];
      return issue.keys.map((key) => {
        const near = closest(key, known);
        const hint = near !== undefined ? `; did you mean "${near}"?` : known.length > 0 ? `; expected one of ${known.join(', ')}` : '';
        return { path: formatPath([...path, key]), message: `unknown key${hint}`, segments: [...path, key] };
      });
    }
    case 'invalid_type': {
      const want = TYPE_WORDS[issue.expected] ?? issue.expected;
      if (issue.input === undefined) return [{ path: formatPath(path), message: `required: expected ${want}` }];
      return [{ path: formatPath(path), message: `expected ${want}, got ${got}` }];
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'array') {
        const n = Array.isArray(issue.input) ? issue.input.length : 0;
        return [{ path: formatPath(path), message: `expected at least ${min} item${min === 1 ? '' : 's'}, got ${n}` }];
      }
      if (issue.origin === 'string') return [{ path: formatPath(path), message: `expected a non-empty string${min > 1 ? ` of at least ${min} characters` : ''}, got ${got}` }];
      return [{ path: formatPath(path), message: `expected a number ${issue.inclusive ? '>=' : '>'} ${min}, got ${got}` }];
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'array') return [{ path: formatPath(path), message: `expected at most ${max} items` }];
      if (issue.origin === 'string') return [{ path: formatPath(path), message: `expected at most ${max} characters` }];
      return [{ path: formatPath(path), message: `expected a number ${issue.inclusive ? '<=' : '<'} ${max}, got ${got}` }];
    }
    case 'invalid_value': {
      const vals = issue.values.map((v) => JSON.stringify(v));
      const want = vals.length === 1 ? vals[0] : `one of ${vals.join(', ')}`;
      return [{ path: formatPath(path), message: `expected ${want}, got ${got}` }];
    }
    case 'invalid_union':
      return [{ path: formatPath(path), message: `${issue.message}, got ${got}` }];
    default:
      return [{ path: formatPath(path), message: issue.message }];
  }
}

/** Closest candidate within edit distance 2 (for "did you mean"). */
function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) { bestD = d; best = c; }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/**
 * Sorts problems in file order: at each level, array items by index and keys by their position in
 * `raw` (keys absent from the file, e.g. defaulted sections, sort last). Stable; drops duplicates.
 */
export function sortProblems(problems: readonly PathedProblem[], raw: unknown): Problem[] {
  const rank = (segs: PathSegment[]): number[] => {
    const out: number[] = [];
    let node: unknown = raw;
    for (const seg of segs) {
      if (typeof seg === 'number') out.push(seg);
      else if (node !== null && typeof node === 'object' && !Array.isArray(node)) {
        const i = Object.keys(node).indexOf(seg);
        out.push(i < 0 ? 1e9 : i);
      } else out.push(1e9);
      node = node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[seg] : undefined;
    }
    return out;
  };
  const keyed = problems.map((p, i) => ({ p, r: rank(p.segments), i }));
  keyed.sort((a, b) => {
    const n = Math.min(a.r.length, b.r.length);
    for (let k = 0; k < n; k++) if (a.r[k] !== b.r[k]) return a.r[k] - b.r[k];
    return a.r.length - b.r.length || a.i - b.i;
  });
  const seen = new Set<string>();
  const out: Problem[] = [];
  for (const { p } of keyed) {
    const line = `${p.path}: ${p.message}`;
    if (seen.has(line)) continue;
    seen.add(line);
    out.push({ path: p.path, message: p.message });
  }
  return out;
}
