/**
 * A small seeded pseudo-random generator (mulberry32, Tommy Ettinger's 32-bit generator) for
 * deterministic tests, benchmarks and the simulator: the balancing code takes `random` from its
 * environment, so a seeded one makes every pick reproducible. Not for anything secret.
 */

/** Returns a generator of uniform numbers in [0, 1) from a 32-bit seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
