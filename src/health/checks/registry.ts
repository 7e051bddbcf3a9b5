/**
 * The one registry of health-check kinds (DESIGN.md rule 2). Each kind's file calls
 * `registerCheck` at import; ./index.ts imports them all. Adding a kind = one new file + one import
 * line in index.ts (and its name in the schema's `healthCheck.type`).
 */
import type { CheckKind } from './types.ts';

const registry = new Map<string, CheckKind>();

/** Registers a kind under `kind.name`; a second kind with the same name is a programming error. */
export function registerCheck(kind: CheckKind): void {
  if (registry.has(kind.name)) throw new Error(`health check "${kind.name}" registered twice`);
  registry.set(kind.name, kind);
}

/** The kind registered under `name`, or undefined. */
export function getCheck(name: string): CheckKind | undefined {
  return registry.get(name);
}

/** Names of the registered kinds, sorted. */
export function checkNames(): string[] {
  return [...registry.keys()].sort();
}
