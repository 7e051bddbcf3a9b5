/**
 * Loading a config: read the file, parse YAML (JSON when the name ends in .json; YAML 1.2 also reads
 * JSON), interpolate `${ENV}`, validate with the schema and the cross-value checks, and return the
 * typed config or every problem (FULCRUM_E_CONFIG_READ for unreadable/unparsable files,
 * FULCRUM_E_CONFIG_INVALID otherwise).
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { ErrorCode } from '../core/errors.ts';
import { interpolateEnv } from './env.ts';
import { issueToProblems, sortProblems, type PathedProblem, type Problem } from './problems.ts';
import { ConfigSchema, type Config } from './schema.ts';
import { semanticProblems } from './semantic.ts';
import { knownKeysAt } from './walk.ts';

/**
 * Outcome of loading or validating a config. On failure `problems` lists every problem found
 * (never empty) and `code` says which kind of failure it is.
 */
export type ConfigResult =
  | { ok: true; config: Config }
  | { ok: false; problems: Problem[]; code?: Extract<ErrorCode, 'FULCRUM_E_CONFIG_READ' | 'FULCRUM_E_CONFIG_INVALID'> };

function invalid(problems: Problem[]): ConfigResult {
  return { ok: false, problems, code: 'FULCRUM_E_CONFIG_INVALID' };
}

function readFailure(where: string, message: string): ConfigResult {
  return { ok: false, problems: [{ path: where, message: `${message} (FULCRUM_E_CONFIG_READ)` }], code: 'FULCRUM_E_CONFIG_READ' };
}

function validate(raw: unknown, extra: PathedProblem[]): ConfigResult {
  const problems: PathedProblem[] = [...extra];
  const parsed = ConfigSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(...issueToProblems(issue, knownKeysAt));
    }
  }
  problems.push(...semanticProblems(raw));
  // A path whose ${VAR} could not be interpolated has that as its one problem.
  const envPaths = new Set(extra.map((p) => p.path));
  const kept = problems.filter((p) => !envPaths.has(p.path) || extra.includes(p));
  if (kept.length > 0 || !parsed.success) return invalid(sortProblems(kept, raw));
  return { ok: true, config: parsed.data };
}

/**
 * Validates an already-parsed config value (no env interpolation): fills defaults, converts
 * durations to ms, normalizes routes, and collects every problem at once.
 */
export function validateConfig(raw: unknown): ConfigResult {
  return validate(raw, []);
}

/**
 * Parses config text. `sourceName` picks the syntax (`.json` → JSON, anything else → YAML, which
 * also reads JSON) and prefixes syntax errors (`name:line:col`). `${VAR}` references are resolved
 * from `env` (default process.env).
 */
export function parseConfigText(text: string, sourceName: string, env: NodeJS.ProcessEnv = process.env): ConfigResult {
  let raw: unknown;
  if (sourceName.toLowerCase().endsWith('.json')) {
    try {
      raw = JSON.parse(text);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      const lc = /\(line (\d+) column (\d+)\)/.exec(msg);
      return readFailure(lc ? `${sourceName}:${lc[1]}:${lc[2]}` : sourceName, `invalid JSON: ${msg.replace(/\s*\(line \d+ column \d+\)/, '')}`);
    }
  } else {
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    const err = doc.errors[0];
    if (err !== undefined) {
      const pos = err.linePos?.[0];
      const where = pos ? `${sourceName}:${pos.line}:${pos.col}` : sourceName;
      const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more syntax error${doc.errors.length > 2 ? 's' : ''})` : '';
      return readFailure(where, `invalid YAML: ${err.message.split(/ at line \d+, column \d+:|\n/)[0]}${more}`);
    }
    raw = doc.toJS({ maxAliasCount: 100 });
  }
  const { value, problems } = interpolateEnv(raw, env);
  return validate(value, problems);
}

/** Reads and parses the config file at `path` (see parseConfigText). Never throws. */
export async function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Promise<ConfigResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return readFailure(path, `cannot read the file: ${e.code ?? ''}${e.code ? ' ' : ''}${e.message.replace(/^\w+: /, '')}`);
  }
  return parseConfigText(text, path, env);
}

