/**
 * The `tcp` and `tls-passthrough` listeners: a raw net.Server whose accepted connections are
 * proxied byte for byte to a pool (TcpConn, ./tcp-conn.ts). `tls-passthrough` first peeks the
 * ClientHello and routes on its SNI (./sni-router.ts) without terminating TLS.
 *
 * Anchors: HAProxy `mode tcp` / `maxconn` / `accept-proxy`, Envoy `tcp_proxy` and `tls_inspector`.
 * Lifecycle as the http listener (src/l7/http1/server.ts): hold/activate/abandon around a reload's
 * swap, update() swaps config and snapshot in place (open connections keep their server; connections
 * to a server the reload drained get the pool's drain deadline), shutdown(graceMs) stops accepting
 * and lets connections end within the grace period before destroying the rest.
 *
 * Accept path: `maxConnections` (beyond it: closed at once, `refused_max_connections`), then with
 * `proxyProtocol.from` the source must be trusted (else `refused_untrusted_proxy`), then TcpConn.
 */
import { createServer, type BlockList, type Server, type Socket } from 'node:net';
import type { Counter } from 'prom-client';
import type { ListenerConfig } from '../config/schema.ts';
import type { PoolRuntime } from '../runtime/pool.ts';
import type { Metrics } from '../admin/metrics.ts';
import { graceWait, listenOn, registerListenerKind, type ServiceListener, type ServiceSnapshot } from '../runtime/listener.ts';
import { EV_UNTRUSTED_PROXY, proxyTrustOf, untrustedSource } from './proxy-accept.ts';
import { SniRouter } from './sni-router.ts';
import { TcpConn, type TcpConnHost } from './tcp-conn.ts';

type CounterChild = ReturnType<Counter<'listener' | 'event'>['labels']>;

export class TcpListener implements ServiceListener, TcpConnHost {
  config: ListenerConfig;
  readonly tls: boolean;
  readonly conns = new Set<TcpConn>();
  draining = false;
  pools: ReadonlyMap<string, PoolRuntime>;
  sni: SniRouter | null;
  acceptsProxy: boolean;
  private trust: BlockList | null;
  readonly server: Server;
  private readonly metrics: Metrics;
  /** Metric children by event name (and the two byte directions), rebuilt when the name changes. */
  private events = new Map<string, CounterChild>();
  private bytesUp: CounterChild;
  private bytesDown: CounterChild;
  private onIdle: (() => void) | null = null;
  private drained: Promise<void> | null = null;
  /** Connections accepted while a reload binds this listener, served from activate() on. */
  private held: Socket[] | null = null;

  constructor(config: ListenerConfig, snapshot: ServiceSnapshot, metrics: Metrics) {
    this.config = config;
    this.tls = config.protocol === 'tls-passthrough';
    this.metrics = metrics;
    this.pools = snapshot.pools;
    this.sni = sniRouterOf(config);
    this.trust = proxyTrustOf(config);
    this.acceptsProxy = this.trust !== null;
    this.bytesUp = metrics.l4Bytes.labels({ listener: config.name, direction: 'upstream' });
    this.bytesDown = metrics.l4Bytes.labels({ listener: config.name, direction: 'downstream' });
    // pauseOnConnect: a plain tcp connection reads nothing before its server connection is open.
    this.server = createServer({ noDelay: true, allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
      if (this.draining) {
        socket.destroy();
        return;
      }
      if (this.held !== null) {
        socket.on('error', ignore);
        this.held.push(socket);
        return;
      }
      this.accept(socket);
    });
  }

  private accept(socket: Socket): void {
    if (this.conns.size >= this.config.maxConnections) {
      this.count('refused_max_connections');
      socket.on('error', ignore);
      socket.destroy();
      return;
    }
    const trust = this.trust;
    if (trust !== null && untrustedSource(trust, socket.remoteAddress)) {
      this.count(EV_UNTRUSTED_PROXY);
      socket.on('error', ignore);
      socket.destroy();
      return;
    }
    this.count('accepted');
    const c = new TcpConn(socket, this);
    this.conns.add(c);
    c.start();
  }

  count(event: string): void {
    let child = this.events.get(event);
    if (child === undefined) {
      child = this.metrics.l4Events.labels({ listener: this.config.name, event });
      this.events.set(event, child);
    }
    child.inc();
  }

  closed(conn: TcpConn, bytesUp: number, bytesDown: number): void {
    if (bytesUp > 0) this.bytesUp.inc(bytesUp);
    if (bytesDown > 0) this.bytesDown.inc(bytesDown);
    this.conns.delete(conn);
    if (this.draining && this.conns.size === 0 && this.onIdle !== null) this.onIdle();
  }

  hold(): void {
    this.held ??= [];
  }

  activate(): void {
    const held = this.held;
    this.held = null;
    if (held === null) return;
    for (const socket of held) {
      if (socket.destroyed) continue;
      socket.off('error', ignore);
      this.accept(socket);
    }
  }

  abandon(): void {
    this.draining = true;
    this.server.close();
    const held = this.held ?? [];
    this.held = null;
    for (const socket of held) socket.destroy();
  }

  listen(): Promise<number> {
    return listenOn(this.server, this.config.listen);
  }

  /**
   * Reload, same address: new settings for new connections (routes, trust, limits, timeouts read
   * at accept), open connections keep their server. Connections whose server this reload drained
   * or removed get the pool's `timeouts.drain` deadline (or lose it when the drain was lifted).
   */
  update(config: ListenerConfig, snapshot: ServiceSnapshot): void {
    if (config.name !== this.config.name) {
      this.events = new Map();
      this.bytesUp = this.metrics.l4Bytes.labels({ listener: config.name, direction: 'upstream' });
      this.bytesDown = this.metrics.l4Bytes.labels({ listener: config.name, direction: 'downstream' });
    }
    this.config = config;
    this.pools = snapshot.pools;
    this.sni = sniRouterOf(config);
    this.trust = proxyTrustOf(config);
    this.acceptsProxy = this.trust !== null;
    const now = Date.now();
    for (const c of this.conns) c.checkDrain(now, snapshot.pools);
  }

  /**
   * Graceful stop: stop accepting; open connections go on until they end or the grace period is
   * over (then they are destroyed). Resolves when none is left.
   */
  shutdown(graceMs: number): Promise<void> {
    this.drained ??= this.drain(graceMs);
    return this.drained;
  }

  private drain(graceMs: number): Promise<void> {
    this.draining = true;
    this.server.close();
    const held = this.held;
    this.held = null;
    if (held !== null) for (const socket of held) socket.destroy();
    if (this.conns.size === 0) return Promise.resolve();
    const wait = graceWait(graceMs, () => {
      for (const c of [...this.conns]) c.destroy();
    });
    this.onIdle = wait.idle;
    return wait.done;
  }
}

function ignore(): void {}

function sniRouterOf(config: ListenerConfig): SniRouter | null {
  return config.protocol === 'tls-passthrough' && config.sniRoutes !== undefined && config.sniRoutes.length > 0
    ? new SniRouter(config.sniRoutes)
    : null;
}

registerListenerKind('tcp', (config, snapshot, metrics) => new TcpListener(config, snapshot, metrics));
registerListenerKind('tls-passthrough', (config, snapshot, metrics) => new TcpListener(config, snapshot, metrics));
