/**
 * The control plane of one Fulcrum process: compiles a validated Config into a snapshot (pools,
 * routers), starts the listeners, the admin API and the deadline sweeper, and stops them gracefully.
 */
import type { Config } from '../config/schema.ts';
import { PoolRuntime, splitHostPort } from './pool.ts';
import { Sweeper } from './sweeper.ts';
import { HttpListener } from '../l7/http1/server.ts';
import { compileRouter } from '../l7/router/router.ts';
import { Metrics } from '../admin/metrics.ts';
import { AdminServer } from '../admin/server.ts';
import type { Logger } from '../core/log.ts';

export interface BoundAddress {
  name: string;
  host: string;
  port: number;
}

export class Runtime {
  readonly config: Config;
  readonly pools = new Map<string, PoolRuntime>();
  readonly listeners: HttpListener[] = [];
  readonly metrics = new Metrics();
  readonly sweeper = new Sweeper();
  readonly log: Logger;
  admin: AdminServer | null = null;
  private stopping: Promise<void> | null = null;

  constructor(config: Config, log: Logger) {
    this.config = config;
    this.log = log;
    for (const p of config.pools) this.pools.set(p.name, new PoolRuntime(p));
    this.metrics.setPoolSource(() => this.pools.values());
    for (const l of config.listeners) {
      const router = compileRouter(l.routes, `listeners.${l.name}.routes`);
      this.listeners.push(new HttpListener(l, { router, pools: this.pools }, this.metrics));
    }
    this.sweeper.every((now) => this.expireIdleUpstreams(now));
    this.sweeper.every((now) => {
      for (const pool of this.pools.values()) pool.tick(now);
    });
  }

  /** Binds every listener and the admin API. Rejects (and closes what was bound) on the first failure. */
  async start(): Promise<{ listeners: BoundAddress[]; admin: BoundAddress | null }> {
    const bound: BoundAddress[] = [];
    try {
      for (const l of this.listeners) {
        const port = await l.listen();
        this.sweeper.watch(l.conns);
        const { host } = splitHostPort(l.config.listen);
        bound.push({ name: l.config.name, host, port });
        this.log.info({ listener: l.config.name, address: `${host}:${port}` }, 'listener started');
      }
      let admin: BoundAddress | null = null;
      if (this.config.admin.enabled) {
        this.admin = new AdminServer(this, this.config.admin);
        admin = await this.admin.listen();
        this.log.info({ address: `${admin.host}:${admin.port}` }, 'admin API started');
      }
      return { listeners: bound, admin };
    } catch (err) {
      for (const l of this.listeners) l.server.close();
      this.admin?.close();
      this.sweeper.stop();
      throw err;
    }
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
      await Promise.all(this.listeners.map((l) => l.shutdown(graceMs)));
      for (const pool of this.pools.values()) {
        for (const ep of pool.endpoints) while (ep.idle.length > 0) ep.idle[0].destroy();
      }
      this.sweeper.stop();
      await this.admin?.close();
      this.log.info('stopped');
    })();
    return this.stopping;
  }
}
