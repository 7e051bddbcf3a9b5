/**
 * An HTTP/1.1 listener (`protocol: http`) on a raw net.Server: accepts connections and hands each to
 * a ClientConn. Holds the listener's view of the current snapshot (router + pools), swapped whole.
 *
 * A reload that keeps the listen address calls update(): the socket and every client connection
 * stay; the next request on any connection reads the new snapshot, limits and timeouts. Settings a
 * connection takes when it is accepted (trustedProxies, xForwarded, via, proxyProtocol) apply to new
 * connections.
 *
 * With `proxyProtocol.from`, each accepted socket first goes through ../proxy-stage.ts (PROXY header
 * from trusted sources only); the HTTP connection then takes the carried address as its client
 * address. Without it, the accept path is unchanged: straight to serve().
 */
import { createServer, type BlockList, type Server, type Socket } from 'node:net';
import type { ListenerConfig } from '../../config/schema.ts';
import { ClientConn } from './client.ts';
import type { ClientConnection, ListenerRuntime, ListenerSnapshot } from './listener-runtime.ts';
import type { HeadLimits } from './parser.ts';
import { trustMatcher } from './forwarded.ts';
import { proxyTrustOf } from '../../l4/proxy-accept.ts';
import { startProxyStage, type ProxyStageHost } from '../proxy-stage.ts';
import type { CompiledRoute } from '../router/types.ts';
import type { Endpoint, PoolRuntime } from '../../runtime/pool.ts';
import type { Metrics, RequestSeries } from '../../admin/metrics.ts';
import type { ErrorCode } from '../../core/errors.ts';
import { graceWait, listenOn, registerListenerKind, type ServiceListener, type ServiceSnapshot } from '../../runtime/listener.ts';
import { attachRouteHooks } from '../middlewares/index.ts';

export class HttpListener implements ListenerRuntime, ServiceListener, ProxyStageHost {
  config: ListenerConfig;
  /** `http`; `https` for the TLS listener built on this class (src/l7/tls/https-listener.ts). */
  readonly proto: string = 'http';
  limits: HeadLimits;
  trust: BlockList | null;
  /** Sources allowed to (and required to) send a PROXY header; null: the listener does not accept the PROXY protocol. */
  proxyTrust: BlockList | null;
  readonly conns = new Set<ClientConnection>();
  draining = false;
  snapshot: ListenerSnapshot;
  readonly server: Server;
  readonly metrics: Metrics;
  /** route → endpoint → cached metric children (endpoint null: answered by Fulcrum itself). */
  private readonly series = new Map<CompiledRoute | null, Map<Endpoint | PoolRuntime | null, RequestSeries>>();
  private onIdle: (() => void) | null = null;
  private drained: Promise<void> | null = null;
  /**
   * Connections accepted while a reload binds this (new) listener and has not swapped the snapshot
   * in yet; they are served from activate() on. null once active.
   */
  private held: Socket[] | null = null;

  constructor(config: ListenerConfig, snapshot: ServiceSnapshot, metrics: Metrics) {
    this.config = config;
    this.snapshot = httpSnapshot(snapshot);
    this.metrics = metrics;
    attachRouteHooks(this.snapshot.router, config.name, metrics);
    this.limits = limitsOf(config);
    this.trust = trustMatcher(config.trustedProxies);
    this.proxyTrust = proxyTrustOf(config);
    this.server = this.createServer((socket) => {
      if (this.draining) {
        socket.destroy();
        return;
      }
      if (this.held !== null) {
        socket.pause();
        socket.on('error', ignore);
        this.held.push(socket);
        return;
      }
      this.accept(socket);
    });
  }

  /** The accepting server (a TLS listener returns a tls.Server, whose sockets arrive after the handshake). */
  protected createServer(onSocket: (socket: Socket) => void): Server {
    return createServer({ noDelay: true, allowHalfOpen: true, keepAlive: true }, onSocket);
  }

  /** An accepted connection: PROXY header first when the listener accepts the PROXY protocol, else served at once. */
  protected accept(socket: Socket): void {
    const pt = this.proxyTrust;
    if (pt === null) this.serve(socket);
    else startProxyStage(socket, pt, this);
  }

  /**
   * Serves one accepted connection (a TLS listener may hand it to HTTP/2 instead). `sourceIp`: the
   * client address from a PROXY header (default: the socket's peer).
   */
  protected serve(socket: Socket, sourceIp?: string): void {
    new ClientConn(socket, this, sourceIp);
  }

  /** ProxyStageHost: the PROXY header of `socket` was read (the socket is paused). */
  proxied(socket: Socket, sourceIp: string | null): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    this.serve(socket, sourceIp ?? undefined);
    socket.resume();
  }

  /** ProxyStageHost: counts a PROXY protocol event as the L4 listeners do. */
  countProxyEvent(event: string): void {
    this.metrics.l4Events.inc({ listener: this.config.name, event });
  }

  /** A reload binds this listener before the swap: hold accepted connections until activate(). */
  hold(): void {
    this.held ??= [];
  }

  /** Serves the held connections (the snapshot is in place now) and every later one. */
  activate(): void {
    const held = this.held;
    this.held = null;
    if (held === null) return;
    for (const socket of held) {
      if (socket.destroyed) continue;
      this.accept(socket);
      socket.resume();
    }
  }

  /** Reload rollback: closes the socket of a listener that never entered service. */
  abandon(): void {
    this.draining = true;
    this.server.close();
    const held = this.held ?? [];
    this.held = null;
    for (const socket of held) socket.destroy();
  }

  /** Binds the listen address; resolves with the bound port (the config may say port 0 in tests). */
  listen(): Promise<number> {
    return listenOn(this.server, this.config.listen);
  }

  /**
   * Reload, same listen address: takes the new settings and snapshot in place (one synchronous
   * swap; a request in progress keeps the snapshot it read). The socket and connections stay.
   */
  update(config: ListenerConfig, snapshot: ServiceSnapshot): void {
    this.config = config;
    this.limits = limitsOf(config);
    this.trust = trustMatcher(config.trustedProxies);
    this.proxyTrust = proxyTrustOf(config);
    this.snapshot = httpSnapshot(snapshot);
    attachRouteHooks(this.snapshot.router, config.name, this.metrics);
    // Cached metric children are keyed by the old routes and endpoints: drop them (the series
    // themselves live in Metrics by label and keep counting).
    this.series.clear();
    // Upgraded tunnels whose server this reload drained or removed get their close deadline.
    for (const c of this.conns) c.onReload?.();
  }

  record(route: CompiledRoute | null, pool: PoolRuntime | null, ep: Endpoint | null, status: number, ms: number): void {
    let byEp = this.series.get(route);
    if (byEp === undefined) {
      byEp = new Map();
      this.series.set(route, byEp);
    }
    const key = ep ?? pool;
    let s = byEp.get(key);
    if (s === undefined) {
      s = this.metrics.seriesFor(this.config.name, route?.name ?? '', pool?.name ?? '', ep?.address ?? '');
      byEp.set(key, s);
    }
    s.record(status, ms / 1000);
  }

  onProtocolError(code: ErrorCode): void {
    this.metrics.protocolErrors.inc({ listener: this.config.name, code });
  }

  onConnClosed(): void {
    if (this.draining && this.conns.size === 0 && this.onIdle !== null) this.onIdle();
  }

  /**
   * Graceful stop: stop accepting, close idle keep-alive connections, let exchanges in progress
   * finish (their connections close after the response). Resolves when no connection is left or
   * the grace period ends (remaining connections are then destroyed).
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
    for (const c of this.conns) c.shutdown();
    if (this.conns.size === 0) return Promise.resolve();
    const wait = graceWait(graceMs, () => {
      for (const c of this.conns) c.socket.destroy();
    });
    this.onIdle = wait.idle;
    return wait.done;
  }
}

function ignore(): void {}

/** An `http` listener always has a router (the config requires `routes`; runtime.ts compiles them). */
function httpSnapshot(s: ServiceSnapshot): ListenerSnapshot {
  if (s.router === null) throw new Error('an http listener needs a router');
  return { router: s.router, pools: s.pools };
}

registerListenerKind('http', (config, snapshot, metrics) => new HttpListener(config, snapshot, metrics));

function limitsOf(config: ListenerConfig): HeadLimits {
  return { requestLine: config.limits.requestLine, headerBytes: config.limits.headerBytes, headerCount: config.limits.headerCount };
}
