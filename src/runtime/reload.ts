/**
 * Reload planning (pure: no sockets, timers or files): how a new config relates to the one in
 * service — which listeners are kept in place, rebound, added or removed; which pools are kept
 * as they are, rebuilt (counters and state of surviving endpoints carried over) or removed — and
 * the one-line summary the reload logs. The runtime (runtime.ts) carries the plan out.
 *
 * Anchors: HAProxy's and NGINX's reload semantics (validate first, refuse a bad file and keep the
 * running config; keep serving established connections), Envoy's listener drain on removal.
 */
import type { Config, ListenerConfig, PoolConfig } from '../config/schema.ts';

/** A listener of the new config and the listener in service it corresponds to (by name, else by address). */
export interface ListenerPlan<L> {
  /** The new config of the listener. */
  config: ListenerConfig;
  /**
   * `keep`: same listen address — settings and snapshot change in place, socket and connections stay;
   * `rebind`: the address changed — a new socket is bound, then the old one drains;
   * `add`: a new listener.
   */
  action: 'keep' | 'rebind' | 'add';
  /** The listener in service it replaces or updates (null for `add`). */
  old: L | null;
  /** Whether anything of the listener's config changed (for the summary). */
  changed: boolean;
}

export interface ReloadPlan<L> {
  listeners: ListenerPlan<L>[];
  /** Listeners in service that the new config does not have: they drain and close. */
  removed: L[];
  /** Pools whose config is identical: the running PoolRuntime stays in service untouched. */
  keptPools: string[];
  /** Pools whose config changed: rebuilt from the new config with the old one as `prev`. */
  changedPools: string[];
  addedPools: string[];
  removedPools: string[];
  /** The admin section changed: applying it needs a restart. */
  adminChanged: boolean;
}

/** One-line summary counts of a reload. */
export interface ReloadSummary {
  generation: number;
  listeners: { added: string[]; removed: string[]; changed: string[]; unchanged: number };
  pools: { added: string[]; removed: string[]; changed: string[]; unchanged: number };
  adminChanged: boolean;
}

/**
 * Pairs the new config's listeners with those in service: first by name, then a renamed listener
 * by its identical listen address (a port-0 address never pairs by address: each bind is a new port).
 */
export function planReload<L extends { config: ListenerConfig }>(old: Config, next: Config, running: readonly L[]): ReloadPlan<L> {
  const byName = new Map<string, L>();
  for (const l of running) byName.set(l.config.name, l);
  const taken = new Set<L>();
  const pairs: (L | null)[] = next.listeners.map((c) => {
    const l = byName.get(c.name);
    if (l !== undefined) taken.add(l);
    return l ?? null;
  });
  next.listeners.forEach((c, i) => {
    if (pairs[i] !== null || isPortZero(c.listen)) return;
    const l = running.find((r) => !taken.has(r) && r.config.listen === c.listen);
    if (l !== undefined) {
      taken.add(l);
      pairs[i] = l;
    }
  });
  const listeners = next.listeners.map((c, i): ListenerPlan<L> => {
    const l = pairs[i];
    if (l === null) return { config: c, action: 'add', old: null, changed: true };
    return {
      config: c,
      // Another protocol is another kind of listener: bound anew (on the same address the bind
      // fails unless the transports differ, tcp vs udp, and the reload is refused).
      action: l.config.listen === c.listen && l.config.protocol === c.protocol ? 'keep' : 'rebind',
      old: l,
      changed: !deepEqual(l.config, c),
    };
  });
  const removed = running.filter((l) => !taken.has(l));

  const oldPools = new Map<string, PoolConfig>(old.pools.map((p) => [p.name, p]));
  const newNames = new Set(next.pools.map((p) => p.name));
  const keptPools: string[] = [];
  const changedPools: string[] = [];
  const addedPools: string[] = [];
  for (const p of next.pools) {
    const o = oldPools.get(p.name);
    if (o === undefined) addedPools.push(p.name);
    else if (deepEqual(o, p)) keptPools.push(p.name);
    else changedPools.push(p.name);
  }
  const removedPools = old.pools.map((p) => p.name).filter((n) => !newNames.has(n));
  return { listeners, removed, keptPools, changedPools, addedPools, removedPools, adminChanged: !deepEqual(old.admin, next.admin) };
}

/** Summary of a plan once carried out. */
export function summarize<L extends { config: ListenerConfig }>(plan: ReloadPlan<L>, generation: number): ReloadSummary {
  const added: string[] = [];
  const changed: string[] = [];
  let unchanged = 0;
  for (const l of plan.listeners) {
    if (l.action === 'add') added.push(l.config.name);
    else if (l.changed) changed.push(l.config.name);
    else unchanged++;
  }
  return {
    generation,
    listeners: { added, removed: plan.removed.map((l) => l.config.name), changed, unchanged },
    pools: { added: plan.addedPools, removed: plan.removedPools, changed: plan.changedPools, unchanged: plan.keptPools.length },
    adminChanged: plan.adminChanged,
  };
}

/**
 * `config reloaded (generation 3): listeners +1 −0 ~1 =2, pools +0 −1 ~1 =1` followed by the names
 * (`+` added, `−` removed, `~` changed, `=` unchanged).
 */
export function formatSummary(s: ReloadSummary): string {
  const part = (what: string, d: ReloadSummary['listeners']): string => {
    const names = [
      ...d.added.map((n) => `+${n}`), ...d.removed.map((n) => `−${n}`), ...d.changed.map((n) => `~${n}`),
    ];
    return `${what} +${d.added.length} −${d.removed.length} ~${d.changed.length} =${d.unchanged}` +
      (names.length > 0 ? ` (${names.join(' ')})` : '');
  };
  return `config reloaded (generation ${s.generation}): ${part('listeners', s.listeners)}, ${part('pools', s.pools)}`;
}

function isPortZero(listen: string): boolean {
  return /:0$/.test(listen);
}

/** Structural equality of validated config values (plain data: objects, arrays, primitives, RegExp). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (a instanceof RegExp || b instanceof RegExp) {
    return a instanceof RegExp && b instanceof RegExp && a.source === b.source && a.flags === b.flags;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], bb[i])) return false;
    return true;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  if (ak.length !== bk.length) return false;
  for (const k of ak) if (!Object.hasOwn(bo, k) || !deepEqual(ao[k], bo[k])) return false;
  return true;
}
