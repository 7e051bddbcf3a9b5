/**
 * A side-effect-free pick for the admin API's explain: the pool's balancer is copied (its own
 * state — rotation positions, smooth-weighted current weights, min trees, bounded-load scratch —
 * deep-copied; the shared load counters and live weights referenced, read only) and the copy
 * picks. The real balancer's state is untouched, so "would be chosen" is exactly what the real
 * pick would return next (round robin: the next in rotation) without moving any rotation. The
 * one shared object a pick may write, the load counters' watcher registration, is restored.
 *
 * Algorithms that draw random numbers (random, p2c, peak-ewma) consume Math.random like any other
 * caller; their answer is one draw (each factory's `explainNote` says so).
 */
import { LoadCounters } from '../balancing/load.ts';
import { Weights, type Balancer, type PickContext } from '../balancing/types.ts';

function copy(v: unknown, memo: Map<object, unknown>): unknown {
  if (v === null || typeof v !== 'object') return v; // primitives; functions are shared
  if (v instanceof LoadCounters || v instanceof Weights) return v; // shared, read by picks
  const seen = memo.get(v);
  if (seen !== undefined) return seen;
  if (ArrayBuffer.isView(v)) {
    const c = (v as unknown as { slice(): unknown }).slice();
    memo.set(v, c);
    return c;
  }
  if (Array.isArray(v)) {
    const c: unknown[] = [];
    memo.set(v, c);
    for (const x of v) c.push(copy(x, memo));
    return c;
  }
  if (v instanceof Map) {
    const c = new Map();
    memo.set(v, c);
    for (const [k, x] of v) c.set(k, copy(x, memo));
    return c;
  }
  if (v instanceof Set) {
    const c = new Set();
    memo.set(v, c);
    for (const x of v) c.add(copy(x, memo));
    return c;
  }
  const c = Object.create(Object.getPrototypeOf(v)) as Record<PropertyKey, unknown>;
  memo.set(v, c);
  for (const k of Reflect.ownKeys(v)) {
    const d = Object.getOwnPropertyDescriptor(v, k)!;
    if ('value' in d) d.value = copy(d.value, memo);
    Object.defineProperty(c, k, d);
  }
  return c;
}

/** A deep copy of `b` that can pick without touching `b` (see the file header). */
export function balancerCopy(b: Balancer): Balancer {
  return copy(b, new Map()) as Balancer;
}

/**
 * Runs `fn` with a copy of the balancer, then restores the load counters' watcher (a tree-based
 * copy may claim it while rebuilding).
 */
export function withCopy<T>(b: Balancer, load: LoadCounters, fn: (copy: Balancer, ctx: PickContext) => T): T {
  const watcher = load.watching;
  const version = load.version;
  try {
    return fn(balancerCopy(b), { key: undefined, excluded: null });
  } finally {
    load.watch(watcher);
    // Nothing the copy did may look like a change of the counters to the real balancer.
    if (load.version !== version) load.invalidate();
  }
}
