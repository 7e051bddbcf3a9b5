/**
 * The control plane of one Fulcrum process: compiles a validated Config into a snapshot (pools,
 * routers), starts the listeners, the admin API and the deadline sweeper, swaps in a new config on
 * reload, and stops them gracefully.
 *
 * Reload (reload.ts plans it): compile every router and bind every new socket first — any failure
 * refuses the reload and leaves the running config untouched — then, in one synchronous step, build
 * the changed pools from the old ones (counters and state of surviving endpoints carried over), hand
 * idle upstream connections to the endpoints' new incarnations, and swap the snapshot of every
 * listener. Listeners that left the config, or moved to another address, drain like a shutdown.
 */
import type { Config } from '../config/schema.ts';
import type { Problem } from '../config/problems.ts';
import { PoolRuntime, splitHostPort } from './pool.ts';
import { Sweeper } from './sweeper.ts';
import { createListener, type ServiceListener } from './listener.ts';
import '../l7/http1/server.ts'; // registers `http`
import '../l7/http2/server.ts'; // registers the HTTP/2 handler of `http` listeners (h2c, ALPN h2)
import '../l4/index.ts'; // registers `tcp`, `tls-passthrough`, `udp`
import '../l7/tls/https-listener.ts'; // registers `https`
import { compileRouter } from '../l7/router/router.ts';
import type { Router } from '../l7/router/types.ts';
import { handOver, retire } from '../l7/http1/upstream.ts';
import { Metrics } from '../admin/metrics.ts';
import { AdminServer } from '../admin/server.ts';
import { FulcrumError, type ErrorCode } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { planReload, summarize, formatSummary, type ReloadSummary } from './reload.ts';
import { EventFeed } from './events.ts';
import type { HealthEvent } from './pool-health.ts';

/** Where a reload comes from: the config file (SIGHUP, watch), or an admin API write. */
export interface ReloadOrigin {
  readonly source: 'file' | 'admin';
  /** Admin writes: what was asked (`drain pool p endpoint 127.0.0.1:8081`). */
  readonly action?: string;
  /** Admin writes: who (token fingerprint, never the token). */
  readonly actor?: string;
  /** Admin writes: the pool concerned, if one. */
  readonly pool?: string;
  /** Admin writes: the endpoint concerned, if one. */
  readonly server?: string;
}
import { GslbRuntime } from '../gslb/runtime.ts';

export interface BoundAddress {
  name: string;
  host: string;
  port: number;
  /** URL scheme of what it serves, for `fulcrum run`'s lines: http, https, tcp, tls (passthrough), udp. */
  scheme?: string;
}

/** The scheme `fulcrum run` prints for a listener protocol (`tls-passthrough` → `tls`). */
export function schemeOf(protocol: string): string {
  return protocol === 'tls-passthrough' ? 'tls' : protocol;
}

/** Outcome of Runtime.reload(). On refusal nothing changed: the running config stays in service. */
export type ReloadResult =
  | {
    ok: true; generation: number; summary: ReloadSummary; message: string; bound: BoundAddress[];
    /** The GSLB DNS server, when this reload bound it (gslb section added, or its address changed); else null. */
    dns: BoundAddress | null;
  }
  | {
    ok: false;
    /** The generation still in service. */
    generation: number;
    code: Extract<ErrorCode, 'FULCRUM_E_CONFIG_INVALID' | 'FULCRUM_E_LISTEN' | 'FULCRUM_E_SHUTTING_DOWN'>;
    problems: Problem[];
  };

export class Runtime {
  /** The config in service (replaced whole by a reload). */
  config: Config;
  /** Pools in service by name (the map is replaced whole by a reload, never mutated). */
  pools = new Map<string, PoolRuntime>();
  /** Listeners in service, in config order (replaced whole by a reload). */
  listeners: ServiceListener[] = [];
  readonly metrics = new Metrics();
  readonly sweeper = new Sweeper();
  readonly log: Logger;
  /** Health events of every pool, reloads and admin actions, with ids (GET /api/v1/events, the stream). */
  readonly feed = new EventFeed();
  /** Admin API changes applied since the config was last loaded from its file (a file reload replaces them). */
  adminChanges: { at: number; action: string; actor: string; generation: number }[] = [];
  /** Bound address of each listener by name (port 0 in the config resolved), for the admin API. */
  readonly bound = new Map<string, BoundAddress>();
  /** When the process started (ms since the epoch). */
  readonly startedAt = Date.now();
  admin: AdminServer | null = null;
  /** The GSLB DNS server (null without a `gslb` section). */
  gslb: GslbRuntime | null = null;
  /** 1 for the config the process started with, +1 per reload carried out. */
  generation = 1;
  /** Listeners a reload removed or moved, still draining, with their drain promise. */
  private readonly retiring = new Map<ServiceListener, Promise<void>>();
  private reloads: Promise<unknown> = Promise.resolve();
  private stopping: Promise<void> | null = null;

  constructor(config: Config, log: Logger) {
    this.config = config;
    this.log = log;
    for (const p of config.pools) this.pools.set(p.name, new PoolRuntime(p, undefined, Math.random, Date.now, this.onHealth));
    this.metrics.setPoolSource(() => this.pools.values());
    this.metrics.setListenerSource(() => this.listeners);
    if (config.gslb !== undefined) this.gslb = new GslbRuntime(config.gslb, log);
    this.metrics.setDnsSource(() => this.gslb?.counters ?? null);
    for (const l of config.listeners) {
      const router = l.routes === undefined ? null : compileRouter(l.routes, `listeners.${l.name}.routes`);
      this.listeners.push(createListener(l, { router, pools: this.pools }, this.metrics));
    }
    this.sweeper.every((now) => this.expireIdleUpstreams(now));
    this.sweeper.every((now) => {
      for (const pool of this.pools.values()) pool.tick(now);
    });
  }

  /**
   * Binds every listener (there may be none: a GSLB-only config), the GSLB DNS server and the admin
   * API. Rejects (and closes what was bound) on the first failure.
   */
  async start(): Promise<{ listeners: BoundAddress[]; dns: BoundAddress | null; admin: BoundAddress | null }> {
    const bound: BoundAddress[] = [];
    for (const pool of this.pools.values()) pool.start();
    try {
      for (const l of this.listeners) {
        const port = await l.listen();
        this.sweeper.watch(l.conns);
        const { host } = splitHostPort(l.config.listen);
        bound.push({ name: l.config.name, host, port, scheme: schemeOf(l.config.protocol) });
        this.bound.set(l.config.name, { name: l.config.name, host, port });
        this.log.info({ listener: l.config.name, address: `${host}:${port}` }, 'listener started');
      }
      let dns: BoundAddress | null = null;
      if (this.gslb !== null) {
        const port = await this.gslb.start();
        const { host } = splitHostPort(this.gslb.config.listen);
        dns = { name: 'gslb', host, port, scheme: 'dns' };
        this.log.info({ address: `${host}:${port}` }, 'GSLB DNS server started (UDP and TCP)');
      }
      let admin: BoundAddress | null = null;
      if (this.config.admin.enabled) {
        this.admin = new AdminServer(this, this.config.admin);
        admin = await this.admin.listen();
        this.log.info({ address: `${admin.host}:${admin.port}` }, 'admin API started');
      }
      return { listeners: bound, dns, admin };
    } catch (err) {
      for (const l of this.listeners) l.abandon();
      this.admin?.close();
      void this.gslb?.stop();
      this.sweeper.stop();
      for (const pool of this.pools.values()) pool.stop();
      throw err;
    }
  }

  /**
   * Puts a validated config in service. Reloads run one at a time, in call order. Refused (with
   * every problem, nothing changed) when a router does not compile, a new listen address cannot be
   * bound, or shutdown has begun. Unchanged listeners keep their sockets and connections; pools
   * whose config is identical stay as they are; endpoints that survive in a changed pool keep
   * their counters, EWMAs and health state, and their idle upstream connections.
   */
  reload(config: Config, origin: ReloadOrigin = { source: 'file' }): Promise<ReloadResult> {
    const run = this.reloads.then(() => this.reloadNow(config)).then((r) => {
      this.noteReload(r, origin);
      return r;
    });
    this.reloads = run.catch(() => undefined);
    return run;
  }

  /**
   * Admin writes: `derive` runs on the config in service at its turn in the reload queue (after
   * every reload queued before it), and its config is put in service like reload()'s. So two
   * writes, or a write and a file reload, never lose each other's change. `derive` returning null
   * answers null without a reload.
   */
  update(derive: (current: Config) => { config: Config; origin: ReloadOrigin } | null): Promise<ReloadResult | null> {
    const run = this.reloads.then(async () => {
      const d = derive(this.config);
      if (d === null) return null;
      const r = await this.reloadNow(d.config);
      this.noteReload(r, d.origin);
      return r;
    });
    this.reloads = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(config: Config): Promise<ReloadResult> {
    const refuse = (code: Extract<ReloadResult, { ok: false }>['code'], problems: Problem[]): ReloadResult =>
      ({ ok: false, generation: this.generation, code, problems });
    if (this.stopping !== null) return refuse('FULCRUM_E_SHUTTING_DOWN', [{ path: '(root)', message: 'shutting down: reload ignored' }]);
    const plan = planReload(this.config, config, this.listeners);

    // 1. Compile every router (refuse with all problems).
    const problems: Problem[] = [];
    const routers: (Router | null)[] = config.listeners.map((l, i) => {
      if (l.routes === undefined) return null;
      try {
        return compileRouter(l.routes, `listeners[${i}].routes`);
      } catch (err) {
        if (err instanceof FulcrumError && err.details.length > 0) problems.push(...err.details.map(toProblem));
        else problems.push({ path: `listeners[${i}].routes`, message: err instanceof Error ? err.message : String(err) });
        return null as unknown as Router;
      }
    });
    if (problems.length > 0) return refuse('FULCRUM_E_CONFIG_INVALID', problems);

    // 2. Bind every new socket (added listeners, and listeners whose address changed). Connections
    //    they accept wait (held) until the swap below.
    const fresh = new Map<number, ServiceListener>();
    const bound: BoundAddress[] = [];
    for (let i = 0; i < plan.listeners.length; i++) {
      const p = plan.listeners[i];
      if (p.action === 'keep') continue;
      const l = createListener(p.config, { router: routers[i], pools: this.pools }, this.metrics);
      l.hold();
      fresh.set(i, l);
      try {
        const port = await l.listen();
        const { host } = splitHostPort(p.config.listen);
        bound.push({ name: p.config.name, host, port, scheme: schemeOf(p.config.protocol) });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        problems.push({ path: `listeners[${i}].listen`, message: `cannot bind ${p.config.listen}: ${e.code ?? e.message} (FULCRUM_E_LISTEN)` });
        break;
      }
    }
    const rollback = (): void => {
      for (const l of fresh.values()) l.abandon();
    };
    if (problems.length > 0) {
      rollback();
      return refuse('FULCRUM_E_LISTEN', problems);
    }
    if (this.stopping !== null) {
      rollback();
      return refuse('FULCRUM_E_SHUTTING_DOWN', [{ path: '(root)', message: 'shutting down: reload ignored' }]);
    }
    // 2b. GSLB: compiled and (when its address changed) bound before anything is swapped.
    const gslbResult = await this.reloadGslb(config);
    if ('problem' in gslbResult) {
      rollback();
      return refuse(gslbResult.code, [gslbResult.problem]);
    }

    // 3. From here on, synchronous: no request runs between building the pools and the swap.
    const oldPools = this.pools;
    const pools = new Map<string, PoolRuntime>();
    const entering: PoolRuntime[] = [];
    try {
      for (const pc of config.pools) {
        const prev = oldPools.get(pc.name);
        if (prev !== undefined && plan.keptPools.includes(pc.name)) {
          pools.set(pc.name, prev);
        } else {
          const pool = new PoolRuntime(pc, prev, Math.random, Date.now, this.onHealth);
          pools.set(pc.name, pool);
          entering.push(pool);
        }
      }
    } catch (err) {
      rollback();
      return refuse('FULCRUM_E_CONFIG_INVALID', [{ path: 'pools', message: err instanceof Error ? err.message : String(err) }]);
    }
    const leaving: PoolRuntime[] = [];
    for (const [name, prev] of oldPools) {
      const next = pools.get(name);
      if (next === prev) continue;
      leaving.push(prev);
      const byAddress = new Map(next === undefined ? [] : next.endpoints.map((e) => [e.address, e]));
      for (const ep of prev.endpoints) {
        const successor = byAddress.get(ep.address);
        if (successor !== undefined) handOver(ep, successor);
        else retire(ep);
      }
    }

    // 4. The swap.
    const listeners: ServiceListener[] = [];
    const retired: ServiceListener[] = [...plan.removed];
    plan.listeners.forEach((p, i) => {
      const snapshot = { router: routers[i], pools };
      const l = fresh.get(i);
      if (l === undefined) {
        (p.old as ServiceListener).update(p.config, snapshot);
        listeners.push(p.old as ServiceListener);
        return;
      }
      l.update(p.config, snapshot);
      l.activate();
      this.sweeper.watch(l.conns);
      listeners.push(l);
      if (p.old !== null) retired.push(p.old);
    });
    this.listeners = listeners;
    this.pools = pools;
    this.config = config;
    this.generation++;

    // 5. Lifecycle: new pools start, replaced and removed ones stop; old sockets drain.
    for (const pool of entering) pool.start();
    for (const pool of leaving) pool.stop();
    for (const l of retired) this.retire(l, config.shutdown.gracePeriod);
    for (const b of bound) this.bound.set(b.name, b);
    for (const name of [...this.bound.keys()]) if (!config.listeners.some((l) => l.name === name)) this.bound.delete(name);
    for (const b of bound) this.log.info({ listener: b.name, address: `${b.host}:${b.port}` }, 'listener started');
    if (plan.adminChanged) {
      this.log.warn({ admin: config.admin }, 'admin section changed: the admin API keeps its current address until a restart');
    }
    const summary = summarize(plan, this.generation);
    return { ok: true, generation: this.generation, summary, message: formatSummary(summary), bound, dns: gslbResult.dns };
  }

  /** Health events of every pool go to the feed. */
  private readonly onHealth = (ev: HealthEvent): void => {
    this.feed.push({ at: ev.at, kind: ev.kind, pool: ev.pool, server: ev.server, to: ev.to, reason: ev.reason });
  };

  /**
   * Records a reload in the feed. Admin writes are remembered; a reload from the file replaces the
   * whole config, so admin changes made since the last file load are gone (said in the event).
   */
  private noteReload(r: ReloadResult, origin: ReloadOrigin): void {
    const admin = origin.source === 'admin';
    const what = admin ? origin.action ?? 'change' : 'config file reload';
    const pool = origin.pool ?? null;
    if (!r.ok) {
      const first = r.problems[0];
      this.feed.push({
        kind: admin ? 'admin' : 'reload', pool: pool !== null && this.pools.has(pool) ? pool : null, server: origin.server ?? null, to: 'refused', actor: origin.actor,
        reason: `${what} refused (${r.code}): ${r.problems.length} problem(s)${first ? `, first ${first.path}: ${first.message}` : ''}; generation ${r.generation} stays in service`,
      });
      return;
    }
    if (admin) {
      this.adminChanges.push({ at: Date.now(), action: what, actor: origin.actor ?? 'unknown', generation: r.generation });
      this.feed.push({ kind: 'admin', pool: pool !== null && this.pools.has(pool) ? pool : null, server: origin.server ?? null, to: `generation ${r.generation}`, actor: origin.actor, reason: `${what}: ${r.message}` });
      return;
    }
    const lost = this.adminChanges.length;
    this.adminChanges = [];
    this.feed.push({
      kind: 'reload', pool: null, server: null, to: `generation ${r.generation}`,
      reason: `${what}: ${r.message}${lost > 0 ? ` (replaces ${lost} admin API change${lost === 1 ? '' : 's'} made since the last file load)` : ''}`,
    });
  }

  /**
   * Applies the `gslb` section of a reloaded config (added, changed, removed); a problem refuses the
   * reload. `dns` is the DNS server's address when this bound one (added, or moved), else null.
   */
  private async reloadGslb(config: Config): Promise<{ code: 'FULCRUM_E_CONFIG_INVALID' | 'FULCRUM_E_LISTEN'; problem: Problem } | { dns: BoundAddress | null }> {
    const next = config.gslb;
    if (JSON.stringify(next) === JSON.stringify(this.config.gslb)) return { dns: null };
    const boundAt = (port: number | null): BoundAddress | null =>
      (port === null || next === undefined ? null : { name: 'gslb', host: splitHostPort(next.listen).host, port, scheme: 'dns' });
    try {
      if (next === undefined) {
        await this.gslb?.stop();
        this.gslb = null;
        return { dns: null };
      } else if (this.gslb === null) {
        const g = new GslbRuntime(next, this.log);
        const port = await g.start();
        this.gslb = g;
        return { dns: boundAt(port) };
      }
      return { dns: boundAt(await this.gslb.reload(next)) };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (typeof e.code === 'string' && e.code.startsWith('E')) {
        return { code: 'FULCRUM_E_LISTEN', problem: { path: 'gslb.listen', message: `cannot bind ${next?.listen}: ${e.code} (FULCRUM_E_LISTEN)` } };
      }
      const m = /^(gslb\.[^:]+): (.*)$/s.exec(e.message);
      return { code: 'FULCRUM_E_CONFIG_INVALID', problem: m ? { path: m[1], message: m[2] } : { path: 'gslb', message: e.message } };
    }
  }

  /** A listener left service: stop accepting, drain its connections, then forget it. */
  private retire(l: ServiceListener, graceMs: number): void {
    this.log.info({ listener: l.config.name, connections: l.conns.size }, 'listener draining');
    const done = l.shutdown(graceMs).then(() => {
      this.sweeper.unwatch(l.conns);
      this.retiring.delete(l);
      this.log.info({ listener: l.config.name }, 'listener closed');
    });
    this.retiring.set(l, done);
  }

  private expireIdleUpstreams(now: number): void {
    for (const pool of this.pools.values()) {
      const limit = now - pool.config.keepAlive.idleTimeout;
      for (const ep of pool.endpoints) {
        const idle = ep.idle;
        // Oldest idle connections sit at the front (LIFO reuse from the back).
        while (idle.length > 0 && idle[0].idleSince <= limit) idle[0].destroy();
      }
    }
  }

  /**
   * Graceful shutdown (SIGTERM/SIGINT): stop accepting, close idle client connections, let
   * exchanges in progress finish within the grace period, then close upstream and admin sockets.
   */
  shutdown(graceMs = this.config.shutdown.gracePeriod): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info({ graceMs }, 'shutting down: no new connections, finishing requests in progress');
      await Promise.all([...this.listeners.map((l) => l.shutdown(graceMs)), ...this.retiring.values()]);
      for (const pool of this.pools.values()) {
        pool.stop();
        for (const ep of pool.endpoints) while (ep.idle.length > 0) ep.idle[0].destroy();
      }
      this.sweeper.stop();
      await this.gslb?.stop();
      await this.admin?.close();
      this.log.info('stopped');
    })();
    return this.stopping;
  }
}

/** `listeners[0].routes[1].match.path: …` → path and message. */
function toProblem(detail: string): Problem {
  const i = detail.indexOf(': ');
  return i < 0 ? { path: '(root)', message: detail } : { path: detail.slice(0, i), message: detail.slice(i + 2) };
}
