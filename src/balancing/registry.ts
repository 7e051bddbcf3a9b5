/**
 * The one registry of balancing algorithms. Each algorithm file calls `registerAlgorithm` at import;
 * `./index.ts` imports them all. Adding an algorithm = one new file + one import line in index.ts.
 */
import type { AlgorithmFactory } from './types.ts';

const registry = new Map<string, AlgorithmFactory>();

export function registerAlgorithm(factory: AlgorithmFactory): void {
  if (registry.has(factory.name)) throw new Error(`algorithm "${factory.name}" registered twice`);
  registry.set(factory.name, factory);
}

export function getAlgorithm(name: string): AlgorithmFactory | undefined {
  return registry.get(name);
}

export function algorithmNames(): string[] {
  return [...registry.keys()].sort();
}
