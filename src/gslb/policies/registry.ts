/**
 * The one registry of GSLB policies (DESIGN.md rule 2). Each policy file calls `registerPolicy` at
 * import; ./index.ts imports them all. Adding a policy = one new file + one import line in index.ts.
 */
import type { PolicyFactory } from './types.ts';

const registry = new Map<string, PolicyFactory>();

export function registerPolicy(factory: PolicyFactory): void {
  if (registry.has(factory.name)) throw new Error(`GSLB policy "${factory.name}" registered twice`);
  registry.set(factory.name, factory);
}

export function getPolicy(name: string): PolicyFactory | undefined {
  return registry.get(name);
}

export function policyNames(): string[] {
  return [...registry.keys()].sort();
}
