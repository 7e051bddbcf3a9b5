/**
 * The GSLB service at run time: sites with their health checks, the steered names, the zones and
 * the DNS server, built from the `gslb` config section. The runtime (src/runtime/runtime.ts) starts
 * it, hands it a new config on reload (sites keep their health state when their check config is
 * unchanged; the sockets stay unless `listen` or the TCP options changed) and stops it.
 * `view()` is the admin API's GET /api/v1/gslb.
 */
import type { GslbConfig } from './schema.ts';
import type { Logger } from '../core/log.ts';
import { SiteHealth, type SiteEvent } from './sites.ts';
import { SteeredName } from './steering.ts';
import { Zone, ZoneSet } from './zones.ts';
import { DnsCounters, DnsServer } from './server/dns-server.ts';
import type { WireContext } from './server/wire.ts';
import type { ClientView } from './policies/types.ts';
import { maskAddr, parseAddr } from './cidr.ts';
import { openMmdb } from './mmdb.ts';
import type { GeoLookup } from './policies/types.ts';
import { splitHostPort } from '../runtime/pool.ts';

/** How often check durations are folded into the sites' RTT averages (ms). */
const SAMPLE_MS = 250;
/** Site events kept for the admin API. */
const EVENT_LOG = 100;

interface Built {
  sites: Map<string, SiteHealth>;
  names: Map<string, SteeredName>;
  ctx: WireContext;
}

export class GslbRuntime {
  config: GslbConfig;
  sites = new Map<string, SiteHealth>();
  names = new Map<string, SteeredName>();
  server: DnsServer | null = null;
  readonly counters = new DnsCounters();
  events: SiteEvent[] = [];
  private ctx: WireContext;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;

  /** Throws an Error naming the problem when the config cannot be compiled (bad record value, policy refusal). */
  constructor(config: GslbConfig, log: Logger) {
    this.config = config;
    this.log = log;
    const b = this.build(config, null);
    this.sites = b.sites;
    this.names = b.names;
    this.ctx = b.ctx;
  }

  private build(config: GslbConfig, prev: Map<string, SiteHealth> | null): Built {
    const onEvent = (e: SiteEvent): void => {
      this.events.push(e);
      // A site changed state: exact-bytes answers may be stale.
      if (e.endpoint === null) this.ctx?.exact?.clear();
      if (this.events.length > EVENT_LOG) this.events.splice(0, this.events.length - EVENT_LOG);
    };
    const sites = new Map<string, SiteHealth>();
    for (const s of config.sites) sites.set(s.name, new SiteHealth(s, this.log, onEvent, prev?.get(s.name)));
    const names = new Map<string, SteeredName>();
    const databases = new Map<string, GeoLookup>();
    config.names.forEach((n, i) => {
      try {
        const path = n.geo?.mmdb?.path;
        let mmdb: GeoLookup | undefined;
        if (path !== undefined) {
          try {
            mmdb = databases.get(path) ?? openMmdb(path);
          } catch (err) {
            throw new Error(`geo.mmdb.path: ${(err as Error).message}`);
          }
          databases.set(path, mmdb);
        }
        names.set(n.name, new SteeredName(n, sites, { mmdb }));
      } catch (err) {
        throw new Error(`gslb.names[${i}].${err instanceof Error ? err.message : String(err)}`);
      }
    });
    const zones = new ZoneSet(config.zones.map((z, i) => {
      try {
        return new Zone(z, config.names.map((n) => n.name).filter((n) => n === z.name || n.endsWith(`.${z.name}`)));
      } catch (err) {
        throw new Error(`gslb.zones[${i}].${err instanceof Error ? err.message : String(err)}`);
      }
    }));
    const random = Math.random;
    const ctx: WireContext = {
      zones,
      ednsUdpSize: config.ednsUdpSize,
      cache: new Map(),
      exact: new Map(),
      steer: (name, family, client) => names.get(name)!.decide(family, client, Date.now(), random),
    };
    return { sites, names, ctx };
  }

  private serverOptions(config: GslbConfig) {
    const { host, port } = splitHostPort(config.listen);
    return { host, port, rateLimit: config.rateLimit, tcp: config.tcp };
  }

  /** Starts the health checks and binds the DNS server; resolves with the port. */
  async start(): Promise<number> {
    this.server = new DnsServer(this.serverOptions(this.config), this.ctx, this.counters);
    const port = await this.server.listen();
    for (const s of this.sites.values()) s.start();
    this.timer = setInterval(() => { for (const s of this.sites.values()) s.sample(); }, SAMPLE_MS);
    this.timer.unref();
    return port;
  }

  /**
   * Puts a new gslb config in service. Compiles first (throws, nothing changed, on a problem); binds
   * a new server only when the listen address changed (the same text, or the port the server holds,
   * keeps the sockets). Returns the port when a new server was bound, else null.
   */
  async reload(config: GslbConfig): Promise<number | null> {
    const b = this.build(config, this.sites);
    const next = this.serverOptions(config);
    const cur = this.serverOptions(this.config);
    const rebind = next.host !== cur.host || (next.port !== cur.port && next.port !== this.server?.port);
    let fresh: DnsServer | null = null;
    if (rebind) {
      fresh = new DnsServer(this.serverOptions(config), b.ctx, this.counters);
      await fresh.listen();
    }
    const old = { sites: this.sites, server: this.server };
    this.sites = b.sites;
    this.names = b.names;
    this.ctx = b.ctx;
    this.config = config;
    if (fresh !== null) this.server = fresh;
    else if (this.server !== null) {
      this.server.ctx = b.ctx;
      this.server.reconfigure(config.rateLimit, config.tcp);
    }
    for (const s of this.sites.values()) s.start();
    for (const s of old.sites.values()) if (!this.sites.has(s.name) || this.sites.get(s.name) !== s) s.stop();
    if (fresh !== null) await old.server?.close();
    return fresh === null ? null : fresh.port;
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const s of this.sites.values()) s.stop();
    await this.server?.close();
  }

  /**
   * The admin view: per site its health; per name its sites and, for `client` (an address or a
   * CIDR subnet, as an ECS subnet would be), the answer it would get now.
   */
  view(client: string | null): unknown {
    let cv: ClientView | null = null;
    let clientError: string | null = null;
    if (client !== null) {
      const slash = client.indexOf('/');
      const addr = parseAddr(slash < 0 ? client : client.slice(0, slash));
      const max = addr === null ? 0 : addr.length * 8;
      const prefix = slash < 0 ? max : Number(client.slice(slash + 1));
      if (addr === null || !Number.isInteger(prefix) || prefix < 0 || prefix > max || (slash >= 0 && !/^\d+$/.test(client.slice(slash + 1)))) {
        clientError = `expected an IPv4/IPv6 address or subnet (203.0.113.7, 203.0.113.0/24), got ${JSON.stringify(client)}`;
      } else cv = { addr: maskAddr(addr, prefix), prefix };
    }
    const now = Date.now();
    return {
      listen: this.config.listen,
      port: this.server?.port ?? 0,
      ...(clientError !== null ? { error: clientError } : {}),
      client: cv === null ? null : client,
      sites: [...this.sites.values()].map((s) => ({
        name: s.name,
        up: s.up,
        drain: s.config.drain,
        addresses: s.config.addresses,
        rttMs: Number.isNaN(s.rttMs) ? null : Math.round(s.rttMs * 10) / 10,
        changedAt: s.changedAt === 0 ? null : new Date(s.changedAt).toISOString(),
        unstable: s.unstable(now, 60_000),
        endpoints: s.endpoints.map((e, i) => {
          const st = s.checker!.states[i];
          const last = s.checker!.last[i];
          return { address: e, health: st.status, lastCheck: last === null ? null : { at: new Date(last.at).toISOString(), passed: last.passed, detail: last.detail, durationMs: Math.round(last.durationMs * 10) / 10 } };
        }),
      })),
      names: [...this.names.values()].map((n) => {
        const out: Record<string, unknown> = {
          name: n.config.name,
          policy: n.config.policy,
          ttl: n.config.ttl,
          targets: n.sites.map((s) => ({ site: s.name, up: s.up })),
          healthy: n.sites.filter((s) => s.up).map((s) => s.name),
        };
        if (cv !== null) {
          // A copy of the policy state: asking must not move the latency policy's choice.
          const probe = Object.create(n, { state: { value: { ...n.state } } }) as SteeredName;
          const fam = n.sites.some((s) => s.v4.length > 0) ? 'A' : 'AAAA';
          const d = probe.decide(fam, cv, now, Math.random);
          out.answer = { type: fam, sites: d.sites, addresses: d.answers.map((a) => (a as { data: string }).data), ttl: d.ttl, scope: d.scope, servfail: d.servfail, failOpen: d.failOpen, why: d.why };
        }
        return out;
      }),
      counters: { responses: Object.fromEntries(this.counters.responses), events: Object.fromEntries(this.counters.events), tcpConnections: this.server?.tcpConnections ?? 0 },
      events: this.events.map((e) => ({ at: new Date(e.at).toISOString(), site: e.site, endpoint: e.endpoint, to: e.to, reason: e.reason })),
    };
  }
}
