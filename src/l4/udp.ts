/**
 * The `udp` listener: datagrams to `pool`, one session per flow (client address and port), in the
 * manner of NGINX's stream `proxy` over UDP and Envoy's UDP proxy filter.
 *
 * - The first datagram of a flow picks the endpoint: pool.pick(key) with the pool's hash key read
 *   from the flow (`source-ip`, `five-tuple`), so the health model applies (down, ejected and
 *   drained servers are never picked). The session gets its own upstream socket connected to the
 *   endpoint (udp-session.ts); later datagrams of the flow go through it, and whatever the endpoint
 *   sends back goes out of the listener's socket to that client.
 * - Load counters: load.start() when a session opens, load.end() when it closes, so
 *   `least-connections` and `p2c` balance sessions (in-flight = open sessions).
 * - Idle expiry: no datagram either way for `udp.sessionTimeout` → the session is forgotten and its
 *   socket closed. Deadlines are checked by the runtime's sweeper (`conns`, every 100 ms: expiry is
 *   up to 100 ms late) instead of a timer per session: a datagram only moves a number.
 * - `udp.maxSessions`: datagrams of new flows beyond it are dropped (`udp_session_refused`).
 * - ICMP port unreachable from the endpoint (ECONNREFUSED) → pool.record('gateway'), session closed;
 *   the client's next datagram opens a new session. A datagram that reaches a session whose endpoint
 *   is now down or ejected (outside panic), or no longer in the listener's pool after a reload, moves
 *   the flow to a new pick (Envoy does the same); a drained endpoint keeps its sessions.
 * - Reload in place (update()): sessions keep their upstream sockets; bookkeeping follows
 *   Endpoint.latest(). New sessionTimeout applies from a session's next datagram, new maxSessions
 *   to new flows.
 * - shutdown(graceMs): the socket closes and every session with it, at once. UDP has no exchange in
 *   progress to wait for, and a reply could not leave through a closed listener socket anyway; a
 *   lost datagram is what UDP clients already retry. graceMs is therefore not used.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { ListenerConfig } from '../config/schema.ts';
import type { Metrics } from '../admin/metrics.ts';
import { splitHostPort, type PoolRuntime } from '../runtime/pool.ts';
import { F_DOWN, F_EJECTED } from '../runtime/pool-health.ts';
import { registerListenerKind, type ServiceListener, type ServiceSnapshot } from '../runtime/listener.ts';
import { FlowKey, PENDING_MAX, UdpSession, type SessionOwner } from './udp-session.ts';
import {
  UdpCounters, E_CLOSED, E_CONNECT_FAILED, E_DROPPED, E_EXPIRED, E_NO_UPSTREAM, E_OPENED, E_REFUSED,
  E_REROUTED, E_SOCKET_ERROR, E_UNREACHABLE, E_UPSTREAM_ERROR,
} from './udp-counters.ts';

/** Datagrams kept while a reload holds a freshly bound listener (until activate()); more are dropped. */
export const HOLD_MAX = 256;

/**
 * SO_RCVBUF asked for the listener's socket: 4 MiB (the kernel caps it at net.core.rmem_max;
 * Linux's default of ~208 KiB holds only a few hundred small datagrams, so a burst of new flows
 * while sessions are being opened would be dropped by the kernel, uncounted).
 */
export const RECV_BUFFER_BYTES = 4 * 1024 * 1024;

/** The sessions, iterable for the sweeper (Set semantics: deleting while it iterates is safe). */
type SessionSet = Set<UdpSession>;

export class UdpListener implements ServiceListener, SessionOwner {
  config: ListenerConfig;
  readonly conns: SessionSet = new Set();
  draining = false;
  readonly socket: Socket;
  /** Sessions by client address, then client port (no key string built per datagram). */
  private readonly table = new Map<string, Map<number, UdpSession>>();
  /** The pool flows go to (null only if the config named a pool that does not exist). */
  private pool: PoolRuntime | null;
  private timeoutMs: number;
  private maxSessions: number;
  private readonly counters: UdpCounters;
  private readonly flow = new FlowKey();
  /** Datagrams received while a reload holds this listener; null once active. */
  private held: { msg: Buffer; address: string; port: number }[] | null = null;
  private socketClosed = false;

  constructor(config: ListenerConfig, snapshot: ServiceSnapshot, metrics: Metrics) {
    this.config = config;
    this.pool = poolOf(config, snapshot);
    this.timeoutMs = config.udp.sessionTimeout;
    this.maxSessions = config.udp.maxSessions;
    this.counters = new UdpCounters(metrics, config.name);
    const { host } = splitHostPort(config.listen);
    this.socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', recvBufferSize: RECV_BUFFER_BYTES });
    this.socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.fromClient(msg, rinfo.address, rinfo.port));
  }

  /** Binds the listen address; resolves with the bound port (port 0 in the config: any free port). */
  listen(): Promise<number> {
    const { host, port } = splitHostPort(this.config.listen);
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.socket.once('error', onError);
      // exclusive: under node:cluster a shared datagram socket would hand one flow's datagrams to
      // several workers, each with its own session table; bind per process instead (fails loudly).
      this.socket.bind({ address: host, port, exclusive: true }, () => {
        this.socket.off('error', onError);
        // After the bind, errors are those of sends to clients: counted, never fatal.
        this.socket.on('error', () => this.counters.event(E_SOCKET_ERROR));
        const a = this.socket.address();
        this.flow.localIp = a.address;
        this.flow.localPort = a.port;
        resolve(a.port);
      });
    });
  }

  /** A reload binds this listener before the swap: keep datagrams (up to HOLD_MAX) until activate(). */
  hold(): void {
    this.held ??= [];
  }

  /** Serves the held datagrams (the snapshot is in place now) and every later one. */
  activate(): void {
    const held = this.held;
    this.held = null;
    if (held === null) return;
    for (const d of held) this.fromClient(d.msg, d.address, d.port);
  }

  /** Reload rollback: closes the socket of a listener that never entered service. */
  abandon(): void {
    this.draining = true;
    this.held = null;
    this.closeSocket();
  }

  /** Reload, same address: new pool, timeout and cap in place; sessions keep their upstream sockets. */
  update(config: ListenerConfig, snapshot: ServiceSnapshot): void {
    if (config.name !== this.config.name) {
      this.counters.flush();
      this.counters.listener = config.name;
    }
    this.config = config;
    this.pool = poolOf(config, snapshot);
    this.timeoutMs = config.udp.sessionTimeout;
    this.maxSessions = config.udp.maxSessions;
  }

  /** Closes the socket and every session at once (see the header comment); graceMs is not used. */
  shutdown(_graceMs: number): Promise<void> {
    this.draining = true;
    this.held = null;
    this.closeSocket();
    for (const s of this.conns) this.close(s, false, Date.now(), E_CLOSED);
    this.counters.flush();
    return Promise.resolve();
  }

  // ------------------------------------------------------------------------------ datagram path

  private fromClient(msg: Buffer, address: string, port: number): void {
    if (this.held !== null) {
      if (this.held.length < HOLD_MAX) this.held.push({ msg, address, port });
      else this.counters.event(E_DROPPED);
      return;
    }
    if (this.draining) return;
    const now = Date.now();
    let s: UdpSession | null | undefined = this.table.get(address)?.get(port);
    if (s !== undefined && !this.usable(s)) {
      this.close(s, false, now, E_REROUTED);
      s = undefined;
    }
    if (s === undefined) {
      s = this.open(address, port, now);
      if (s === null) return;
    }
    s.deadline = now + this.timeoutMs;
    this.counters.up(msg.length);
    const pending = s.pending;
    if (pending === null) s.upstream.send(msg);
    else if (pending.length < PENDING_MAX) pending.push(msg);
    else this.counters.event(E_DROPPED);
  }

  /**
   * Whether a session may keep its endpoint: still in the listener's pool (its newest incarnation,
   * after a reload) and not down or ejected — unless the pool is in panic. Drained: it may.
   */
  private usable(s: UdpSession): boolean {
    let ep = s.ep;
    if (ep.pool !== this.pool) {
      ep = ep.latest();
      if (ep.pool !== this.pool) return false;
      s.ep = ep;
    }
    const h = ep.pool.health;
    return (h.flags[ep.index] & (F_DOWN | F_EJECTED)) === 0 || h.panic;
  }

  /** A new flow: pick an endpoint and open its session, or drop the datagram (counted) and return null. */
  private open(address: string, port: number, now: number): UdpSession | null {
    if (this.conns.size >= this.maxSessions) {
      this.counters.event(E_REFUSED);
      return null;
    }
    const pool = this.pool;
    if (pool === null) {
      this.counters.event(E_NO_UPSTREAM);
      return null;
    }
    let key: string | undefined;
    if (pool.key !== null) {
      this.flow.sourceIp = address;
      this.flow.sourcePort = port;
      key = pool.key.extract(this.flow);
      if (key === undefined && pool.rejectMissingKey) {
        this.counters.event(E_NO_UPSTREAM);
        return null;
      }
    }
    const ep = pool.pick(key, null);
    if (ep === null) {
      this.counters.event(E_NO_UPSTREAM);
      return null;
    }
    const s = new UdpSession(this, address, port, ep, now, this.timeoutMs);
    pool.load.start(ep.index);
    let byPort = this.table.get(address);
    if (byPort === undefined) {
      byPort = new Map();
      this.table.set(address, byPort);
    }
    byPort.set(port, s);
    this.conns.add(s);
    this.counters.event(E_OPENED);
    return s;
  }

  /** Forgets a session, closes its socket and ends its load on the endpoint's newest incarnation. */
  private close(s: UdpSession, failed: boolean, now: number, event: number): void {
    if (s.closed) return;
    s.close();
    this.conns.delete(s);
    const byPort = this.table.get(s.address);
    if (byPort !== undefined && byPort.get(s.port) === s) {
      byPort.delete(s.port);
      if (byPort.size === 0) this.table.delete(s.address);
    }
    const ep = s.ep.latest();
    const life = now - s.opened;
    ep.pool.load.end(ep.index, failed, life, life, now);
    this.counters.event(event);
  }

  // ------------------------------------------------------------------------- session callbacks

  fromUpstream(s: UdpSession, msg: Buffer): void {
    if (s.closed || this.socketClosed) return;
    s.deadline = Date.now() + this.timeoutMs;
    if (!s.answered) {
      s.answered = true;
      const ep = s.ep.latest();
      ep.pool.record(ep.index, 'success', 'udp reply');
    }
    this.counters.down(msg.length);
    this.socket.send(msg, s.port, s.address);
  }

  upstreamConnected(s: UdpSession, err: Error | null): void {
    if (s.closed) return;
    if (err !== null) {
      const ep = s.ep.latest();
      ep.pool.record(ep.index, 'gateway', `udp connect failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`);
      this.close(s, true, Date.now(), E_CONNECT_FAILED);
      return;
    }
    const pending = s.pending;
    s.pending = null;
    if (pending !== null) for (const msg of pending) s.upstream.send(msg);
  }

  upstreamError(s: UdpSession, err: NodeJS.ErrnoException): void {
    if (s.closed) return;
    const ep = s.ep.latest();
    const refused = err.code === 'ECONNREFUSED';
    ep.pool.record(ep.index, 'gateway', refused ? 'udp port unreachable' : `udp ${err.code ?? err.message}`);
    this.close(s, true, Date.now(), refused ? E_UNREACHABLE : E_UPSTREAM_ERROR);
  }

  expire(s: UdpSession, now: number): void {
    this.close(s, false, now, E_EXPIRED);
  }

  private closeSocket(): void {
    if (this.socketClosed) return;
    this.socketClosed = true;
    try {
      this.socket.close();
    } catch {
      // a socket whose bind failed may be closed already
    }
  }
}

function poolOf(config: ListenerConfig, snapshot: ServiceSnapshot): PoolRuntime | null {
  return config.pool === undefined ? null : snapshot.pools.get(config.pool) ?? null;
}

registerListenerKind('udp', (config, snapshot, metrics) => new UdpListener(config, snapshot, metrics));
