/**
 * Admin API writes. Every write derives a new config from the one in service, validates the part
 * it changes with the config schema (and the cross-value checks), and applies the result through
 * Runtime.reload — the one path a file reload takes too: refused as a whole (nothing changes) on
 * any problem; endpoints that survive keep their counters, health and connections.
 *
 * Writes: drain / undrain an endpoint, set its weight, add / remove an endpoint, change a pool's
 * algorithm, replace the whole config (YAML or JSON; `${VAR}` references are NOT interpolated for
 * configs sent over the API, so the API cannot read the process environment).
 *
 * A later reload of the config file replaces the whole config, admin changes included (as HAProxy's
 * runtime API changes are lost on reload); the reload event says how many admin changes it replaced.
 */
import { ConfigSchema, type Config, type PoolConfig, type ServerConfig } from '../config/schema.ts';
import { formatPath, issueToProblems, type PathSegment, type Problem } from '../config/problems.ts';
import { parseConfigText } from '../config/load.ts';
import { semanticProblems } from '../config/semantic.ts';
import { getAlgorithm } from '../balancing/registry.ts';
import { parseHostPort } from '../config/values.ts';
import type { Runtime } from '../runtime/runtime.ts';

/** What a write answers: HTTP status, JSON body, and the audit result word. */
export interface WriteOutcome {
  status: number;
  body: unknown;
  /** `applied`, `unchanged`, `refused`, `not found`, `invalid`. */
  result: string;
  action: string;
}

const poolShape = ConfigSchema.shape.pools.unwrap().element.shape;
const serverSchema = poolShape.servers.element;

function invalid(action: string, problems: Problem[]): WriteOutcome {
  return { status: 422, result: 'invalid', action, body: { error: 'invalid change', code: 'FULCRUM_E_CONFIG_INVALID', action, problems } };
}

function notFound(action: string, what: string): WriteOutcome {
  return { status: 404, result: 'not found', action, body: { error: what, action } };
}

/** zod issues of a sub-schema, as problems under `base`. */
function problemsOf(issues: readonly unknown[], base: PathSegment[]): Problem[] {
  return issues.flatMap((issue) => issueToProblems(issue as never, () => undefined)).map((p) => {
    const path = formatPath([...base, ...p.segments]);
    return { path, message: p.message };
  });
}

function findPool(cfg: Config, name: string): { pi: number; pool: PoolConfig } | null {
  const pi = cfg.pools.findIndex((p) => p.name === name);
  return pi < 0 ? null : { pi, pool: cfg.pools[pi] };
}

/** Endpoint `address` of a pool, matched as written, or by host (case-insensitive) and port. */
function findServer(pool: PoolConfig, address: string): number {
  const exact = pool.servers.findIndex((s) => s.address === address);
  if (exact >= 0) return exact;
  const hp = parseHostPort(address);
  if (hp === null) return -1;
  return pool.servers.findIndex((s) => {
    const o = parseHostPort(s.address);
    return o !== null && o.port === hp.port && o.host.toLowerCase() === hp.host.toLowerCase();
  });
}

function withPool(config: Config, pi: number, pool: PoolConfig): Config {
  const pools = config.pools.slice();
  pools[pi] = pool;
  return { ...config, pools };
}

/** A derived change: the new config and what it is, for the reload's event and the audit line. */
interface Change {
  change: true;
  config: Config;
  action: string;
  pool?: string;
  server?: string;
  /** Extra fields of the answer (e.g. `dropped`). */
  extra?: Record<string, unknown>;
}

function change(config: Config, action: string, pool?: string, server?: string, extra?: Record<string, unknown>): Change {
  return { change: true, config, action, pool, server, extra };
}

/**
 * Derives the change from the config in service AT ITS TURN in the runtime's reload queue
 * (Runtime.update), so concurrent writes and file reloads never lose one another's changes, then
 * answers with the reload's outcome.
 */
async function perform(rt: Runtime, actor: string, derive: (current: Config) => Change | WriteOutcome): Promise<WriteOutcome> {
  let derived: Change | WriteOutcome | null = null;
  const r = await rt.update((current) => {
    derived = derive(current);
    return 'change' in derived ? { config: derived.config, origin: { source: 'admin', action: derived.action, actor, pool: derived.pool, server: derived.server } } : null;
  });
  const d = derived as Change | WriteOutcome | null;
  if (d === null) return { status: 503, result: 'refused', action: 'change', body: { error: 'shutting down' } };
  if (!('change' in d)) return d;
  const action = d.action;
  if (r === null) return { status: 500, result: 'refused', action, body: { error: 'internal error' } };
  if (!r.ok) {
    const status = r.code === 'FULCRUM_E_CONFIG_INVALID' ? 422 : r.code === 'FULCRUM_E_SHUTTING_DOWN' ? 503 : 409;
    return { status, result: 'refused', action, body: { error: 'change refused; the running config stays in service', code: r.code, action, generation: r.generation, problems: r.problems } };
  }
  return { status: 200, result: 'applied', action, body: { ok: true, action, generation: r.generation, summary: r.summary, message: r.message, ...d.extra } };
}

function unchanged(rt: Runtime, action: string, why: string): WriteOutcome {
  return { status: 200, result: 'unchanged', action, body: { ok: true, action, generation: rt.generation, unchanged: true, message: why } };
}

/** Drain (`on` true) or undrain an endpoint: `drain` in its config entry. */
export async function setDrain(rt: Runtime, poolName: string, address: string, on: boolean, actor: string): Promise<WriteOutcome> {
  return perform(rt, actor, (cfg) => {
    const verb = on ? 'drain' : 'undrain';
    const found = findPool(cfg, poolName);
    if (found === null) return notFound(`${verb} (unknown pool)`, `no pool named ${JSON.stringify(poolName)}`);
    const si = findServer(found.pool, address);
    if (si < 0) return notFound(`${verb} (unknown endpoint of ${poolName})`, `pool ${JSON.stringify(poolName)} has no endpoint ${JSON.stringify(address)}`);
    const action = `${verb} ${poolName}/${found.pool.servers[si].address}`;
    if (found.pool.servers[si].drain === on) return unchanged(rt, action, `already ${on ? 'draining' : 'in service'}`);
    const servers = found.pool.servers.map((s, i) => (i === si ? { ...s, drain: on } : s));
    return change(withPool(cfg, found.pi, { ...found.pool, servers }), action, poolName, found.pool.servers[si].address);
  });
}

/** Sets an endpoint's configured weight (integer ≥ 0). */
export async function setWeight(rt: Runtime, poolName: string, address: string, body: unknown, actor: string): Promise<WriteOutcome> {
  return perform(rt, actor, (cfg) => {
    const weight = isObj(body) ? body.weight : undefined;
    const found = findPool(cfg, poolName);
    if (found === null) return notFound('set weight (unknown pool)', `no pool named ${JSON.stringify(poolName)}`);
    const si = findServer(found.pool, address);
    if (si < 0) return notFound(`set weight (unknown endpoint of ${poolName})`, `pool ${JSON.stringify(poolName)} has no endpoint ${JSON.stringify(address)}`);
    // Audit text carries validated values only (never whatever a caller put in a field).
    let action = `set weight of ${poolName}/${found.pool.servers[si].address} (invalid value)`;
    if (!isObj(body) || Object.keys(body).some((k) => k !== 'weight')) return invalid(action, [{ path: '(body)', message: 'expected {"weight": <integer ≥ 0>}' }]);
    const cur = found.pool.servers[si];
    const parsed = serverSchema.safeParse({ address: cur.address, weight, drain: cur.drain }, { reportInput: true });
    if (!parsed.success) return invalid(action, problemsOf(parsed.error.issues, ['pools', found.pi, 'servers', si]));
    action = `set weight of ${poolName}/${cur.address} to ${parsed.data.weight}`;
    if (cur.weight === parsed.data.weight) return unchanged(rt, action, `weight already ${cur.weight}`);
    const servers = found.pool.servers.map((s, i) => (i === si ? { ...s, weight: parsed.data.weight } : s));
    return change(withPool(cfg, found.pi, { ...found.pool, servers }), action, poolName, cur.address);
  });
}

/** Adds an endpoint `{address, weight?, drain?}` at the end of the pool's list. */
export async function addEndpoint(rt: Runtime, poolName: string, body: unknown, actor: string): Promise<WriteOutcome> {
  return perform(rt, actor, (cfg) => {
    const found = findPool(cfg, poolName);
    if (found === null) return notFound('add endpoint (unknown pool)', `no pool named ${JSON.stringify(poolName)}`);
    const at: PathSegment[] = ['pools', found.pi, 'servers', found.pool.servers.length];
    const parsed = serverSchema.safeParse(body, { reportInput: true });
    if (!parsed.success) return invalid(`add endpoint to ${poolName} (invalid entry)`, problemsOf(parsed.error.issues, at));
    const server: ServerConfig = parsed.data;
    const action = `add endpoint ${server.address} to ${poolName}`;
    const dup = findServer(found.pool, server.address);
    if (dup >= 0) return invalid(action, [{ path: formatPath([...at, 'address']), message: `duplicate server address ${JSON.stringify(server.address)} (also pools[${found.pi}].servers[${dup}])` }]);
    return change(withPool(cfg, found.pi, { ...found.pool, servers: [...found.pool.servers, server] }), action, poolName, server.address);
  });
}

/** Removes an endpoint (a pool keeps at least one). Exchanges in progress on it finish. */
export async function removeEndpoint(rt: Runtime, poolName: string, address: string, actor: string): Promise<WriteOutcome> {
  return perform(rt, actor, (cfg) => {
    const found = findPool(cfg, poolName);
    if (found === null) return notFound('remove endpoint (unknown pool)', `no pool named ${JSON.stringify(poolName)}`);
    const si = findServer(found.pool, address);
    if (si < 0) return notFound(`remove endpoint (unknown endpoint of ${poolName})`, `pool ${JSON.stringify(poolName)} has no endpoint ${JSON.stringify(address)}`);
    const action = `remove endpoint ${found.pool.servers[si].address} from ${poolName}`;
    if (found.pool.servers.length === 1) {
      return invalid(action, [{ path: `pools[${found.pi}].servers`, message: 'expected at least 1 item, got 0 (a pool keeps at least one server; drain it instead)' }]);
    }
    const servers = found.pool.servers.filter((_, i) => i !== si);
    return change(withPool(cfg, found.pi, { ...found.pool, servers }), action, poolName, found.pool.servers[si].address);
  });
}

/** Pool fields that belong to one algorithm or family (dropped when the new algorithm does not take them). */
const ALGO_FIELDS = ['hashKey', 'boundedLoad', 'slowStart', 'maglev', 'peakEwma', 'leastTime'] as const;

/**
 * Changes a pool's algorithm: body `{algorithm, hashKey?, boundedLoad?, slowStart?, maglev?,
 * peakEwma?, leastTime?}`. Fields the new algorithm does not take are dropped from the pool (and
 * listed in the answer); a hashing algorithm needs a hashKey (given, or the pool's own).
 */
export async function setAlgorithm(rt: Runtime, poolName: string, body: unknown, actor: string): Promise<WriteOutcome> {
  return perform(rt, actor, (cfg) => {
    const name = isObj(body) ? body.algorithm : undefined;
    const found = findPool(cfg, poolName);
    if (found === null) return notFound('set algorithm (unknown pool)', `no pool named ${JSON.stringify(poolName)}`);
    let action = `set algorithm of ${poolName} (invalid value)`;
    const base: PathSegment[] = ['pools', found.pi];
    if (!isObj(body)) return invalid(action, [{ path: '(body)', message: 'expected {"algorithm": NAME, …}' }]);
    const extra = Object.keys(body).filter((k) => k !== 'algorithm' && !(ALGO_FIELDS as readonly string[]).includes(k));
    if (extra.length > 0) return invalid(action, extra.map((k) => ({ path: formatPath([...base, k]), message: `not settable here; expected algorithm, ${ALGO_FIELDS.join(', ')}` })));
    const problems: Problem[] = [];
    const algo = poolShape.algorithm.safeParse(name, { reportInput: true });
    if (!algo.success) problems.push(...problemsOf(algo.error.issues, [...base, 'algorithm']));
    const given: Record<string, unknown> = {};
    for (const k of ALGO_FIELDS) {
      if (body[k] === undefined) continue;
      const r = poolShape[k].safeParse(body[k], { reportInput: true });
      if (!r.success) problems.push(...problemsOf(r.error.issues, [...base, k]));
      else given[k] = r.data;
    }
    if (problems.length > 0 || !algo.success) return invalid(action, problems);
    action = `set algorithm of ${poolName} to ${algo.data}`;
    const factory = getAlgorithm(algo.data)!;
    // Keep the pool's own sections that still apply, take the given ones, drop the rest.
    const next: Record<string, unknown> = { ...found.pool, algorithm: algo.data };
    const dropped: string[] = [];
    for (const k of ALGO_FIELDS) {
      const applies = k === 'hashKey' || k === 'boundedLoad' ? factory.hashing === true : k === 'slowStart' ? factory.weighted === true : factory.optionsKey === k;
      const value = given[k] ?? (found.pool as Record<string, unknown>)[k];
      if (given[k] !== undefined && !applies) {
        problems.push({ path: formatPath([...base, k]), message: `does not apply to algorithm ${JSON.stringify(algo.data)}` });
      }
      if (applies && value !== undefined) next[k] = value;
      else {
        if (next[k] !== undefined) dropped.push(k);
        delete next[k];
      }
    }
    // The cross-value checks of the pool (hashKey required by hashing algorithms, sections that fit).
    const probe: Record<string, unknown> = { name: found.pool.name, algorithm: algo.data };
    for (const k of ALGO_FIELDS) if (next[k] !== undefined) probe[k] = next[k];
    // Only the pool's own problems: the probe config has no listener, which is not this write's concern.
    for (const p of semanticProblems({ pools: [probe] }).filter((q) => q.segments[0] === 'pools')) {
      problems.push({ path: formatPath([...base, ...p.segments.slice(2)]), message: p.message });
    }
    if (problems.length > 0) return invalid(action, problems);
    if (algo.data === found.pool.algorithm && ALGO_FIELDS.every((k) => JSON.stringify(next[k]) === JSON.stringify((found.pool as Record<string, unknown>)[k]))) {
      return unchanged(rt, action, `algorithm already ${algo.data}`);
    }
    return change(withPool(cfg, found.pi, next as PoolConfig), action, poolName, undefined, dropped.length > 0 ? { dropped } : undefined);
  });
}

/**
 * Replaces the whole config with `text` (JSON when `json`, else YAML), validated exactly as
 * `fulcrum validate` does (every problem by path), without `${VAR}` interpolation.
 */
export async function replaceConfig(rt: Runtime, text: string, json: boolean, actor: string): Promise<WriteOutcome> {
  const action = 'replace the config';
  const parsed = parseConfigText(text, json ? 'admin-api.json' : 'admin-api.yaml', {});
  if (!parsed.ok) {
    const status = parsed.code === 'FULCRUM_E_CONFIG_READ' ? 400 : 422;
    return { status, result: 'invalid', action, body: { error: 'config refused; the running config stays in service', code: parsed.code ?? 'FULCRUM_E_CONFIG_INVALID', action, problems: parsed.problems } };
  }
  const config = parsed.config;
  return perform(rt, actor, () => change(config, action));
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
