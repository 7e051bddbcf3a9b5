/**
 * One upstream (Fulcrum → endpoint) HTTP/1.1 connection on a raw net.Socket, kept alive and pooled
 * per endpoint. Hand-written instead of undici: the request path writes pre-built heads and pipes
 * body bytes without stream objects, which is where the proxy's time goes (see docs/benchmarks.md).
 *
 * The connection owns its read buffer and the response framing state; the client connection that
 * borrowed it (`owner`) gets callbacks. Listeners are attached once per connection, never per request.
 *
 * Reloads: a connection belongs to the newest incarnation of its endpoint (`Endpoint.latest()`).
 * handOver() moves an endpoint's idle connections and its `open` count to its successor at once;
 * a busy connection follows lazily (home()) when it is released or closes, so `open` and the idle
 * lists stay right. Connections of an endpoint that left the config (retire()) are closed instead
 * of going idle.
 */
import type { ConnectionOptions } from 'node:tls';
import { connect, Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Endpoint } from '../../runtime/pool.ts';
import { connectOptions, upstreamTlsOf, type UpstreamTls } from '../tls/upstream-tls.ts';

/** What a borrowing client connection implements. */
export interface UpstreamOwner {
  onUpstreamConnect(up: UpstreamConn): void;
  onUpstreamData(up: UpstreamConn, chunk: Buffer): void;
  onUpstreamEnd(up: UpstreamConn): void;
  onUpstreamError(up: UpstreamConn, err: Error & { code?: string }): void;
  onUpstreamDrain(up: UpstreamConn): void;
}

/**
 * The one read buffer of every upstream socket (net's `onread`): a chunk passed to
 * `onUpstreamData` is only valid during that call — whatever is kept or written must be copied.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

export const UP_CONNECTING = 0;
export const UP_BUSY = 1;
export const UP_IDLE = 2;
export const UP_CLOSED = 3;

/** Endpoints removed by a reload: their connections close when released instead of going idle. */
const RETIRED = new WeakSet<Endpoint>();

export class UpstreamConn {
  readonly socket: Socket;
  /** The endpoint this connection counts against (re-homed to the newest incarnation after a reload). */
  endpoint: Endpoint;
  state = UP_CONNECTING;
  owner: UpstreamOwner | null = null;
  /** Requests served on this connection so far (0 while the first is in progress). */
  reused = 0;
  /** When the connection went idle (ms, Date.now), for the idle sweeper. */
  idleSince = 0;

  /** `halfOpen`: keep our write side open after the endpoint's FIN (upgraded tunnels relay half-closes). */
  constructor(endpoint: Endpoint, owner: UpstreamOwner, halfOpen = false) {
    // A retry after a reload may still name the old incarnation: count against the newest one.
    if (endpoint.next !== null) endpoint = endpoint.latest();
    this.endpoint = endpoint;
    this.owner = owner;
    endpoint.open++;
    const tls = upstreamTlsOf(endpoint.pool.config);
    if (tls !== null) {
      this.socket = connectTls(tls, endpoint, this, halfOpen);
    } else {
      // Reads land in one shared buffer (no allocation per read); the owner copies what it keeps.
      this.socket = connect({
        host: endpoint.host, port: endpoint.port, noDelay: true, allowHalfOpen: halfOpen,
        onread: { buffer: READ_BUFFER, callback: this.onRead },
      });
      this.socket.on('connect', this.onConnect);
    }
    const socket = this.socket;
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('drain', this.onDrain);
  }

  /** TLS: the handshake is done (the connect deadline covers it). */
  readonly onConnect = (): void => {
    this.state = UP_BUSY;
    this.owner?.onUpstreamConnect(this);
  };

  /** TLS sockets deliver 'data' chunks (their own buffers) instead of onread. */
  readonly onChunk = (chunk: Buffer): void => {
    this.onRead(chunk.length, chunk);
  };

  private readonly onRead = (nread: number, buf: Uint8Array): boolean => {
    const owner = this.owner;
    if (owner !== null) owner.onUpstreamData(this, (buf as Buffer).subarray(0, nread));
    else this.destroy(); // bytes on an idle connection: the backend broke framing; never reuse it
    return true;
  };

  private readonly onEnd = (): void => {
    const owner = this.owner;
    if (owner !== null) owner.onUpstreamEnd(this);
    else this.destroy();
  };

  private readonly onError = (err: Error): void => {
    const owner = this.owner;
    this.owner = null;
    this.markClosed();
    if (owner !== null) owner.onUpstreamError(this, err);
  };

  private readonly onClose = (): void => {
    const owner = this.owner;
    this.owner = null;
    const wasOpen = this.state !== UP_CLOSED;
    this.markClosed();
    if (owner !== null && wasOpen) owner.onUpstreamError(this, Object.assign(new Error('upstream closed'), { code: 'ECONNRESET' }));
  };

  private readonly onDrain = (): void => {
    this.owner?.onUpstreamDrain(this);
  };

  /** The newest incarnation of this connection's endpoint; re-homes the connection to it. */
  private home(): Endpoint {
    let ep = this.endpoint;
    if (ep.next !== null) {
      ep = ep.latest();
      this.endpoint = ep; // its `open` count already includes this connection (handOver)
    }
    return ep;
  }

  private markClosed(): void {
    if (this.state === UP_CLOSED) return;
    const ep = this.home();
    if (this.state === UP_IDLE) {
      const idle = ep.idle;
      const i = idle.lastIndexOf(this);
      if (i >= 0) idle.splice(i, 1);
    }
    this.state = UP_CLOSED;
    ep.open--;
  }

  /**
   * Returns the connection to its endpoint's idle list (caller guarantees the exchange completed
   * cleanly). After a reload it lands on the endpoint's newest incarnation (and that pool's
   * `keepAlive.maxIdle`); the connection of an endpoint the reload removed is closed.
   */
  release(maxIdle: number, now: number): void {
    this.owner = null;
    if (this.state === UP_CLOSED || this.socket.destroyed) return;
    let ep = this.endpoint;
    if (ep.next !== null) {
      ep = this.home();
      maxIdle = ep.pool.config.keepAlive.maxIdle;
    }
    if (ep.idle.length >= maxIdle || RETIRED.has(ep)) {
      this.destroy();
      return;
    }
    this.state = UP_IDLE;
    this.reused++;
    this.idleSince = now;
    ep.idle.push(this);
    if (this.socket.isPaused()) this.socket.resume();
  }

  /** Takes this idle connection for a new exchange. */
  acquire(owner: UpstreamOwner): void {
    this.owner = owner;
    this.state = UP_BUSY;
  }

  destroy(): void {
    this.owner = null;
    this.markClosed();
    this.socket.destroy();
  }
}

/** Opens a TLS connection to `endpoint` for `up` (pools[].tls; see ../tls/upstream-tls.ts). */
function connectTls(tls: UpstreamTls, endpoint: Endpoint, up: UpstreamConn, halfOpen: boolean): Socket {
  if (tls.error !== null) {
    // The pool's CA or client certificate could not be read: the attempt fails like a refused connect.
    const s = new Socket();
    const err = Object.assign(new Error(`tls setup: ${tls.error.message}`), { code: 'ERR_TLS_SETUP' });
    process.nextTick(() => s.destroy(err));
    return s;
  }
  // allowHalfOpen (upgrade tunnels) is passed on to the TLSSocket by tls.connect, though its option type omits it.
  const s = tlsConnect({ ...connectOptions(tls, endpoint.host, endpoint.port, endpoint.address), allowHalfOpen: halfOpen } as ConnectionOptions);
  s.setNoDelay(true);
  s.on('secureConnect', up.onConnect);
  s.on('data', up.onChunk);
  s.on('session', (session: Buffer) => tls.sessions.set(endpoint.address, session));
  return s;
}

/**
 * Reload: `next` succeeds `prev` (same pool name and address). Links the incarnations, moves the
 * idle connections (oldest first, so LIFO reuse order is kept) and the open-connection count.
 * Busy connections re-home themselves when they are released or close.
 */
export function handOver(prev: Endpoint, next: Endpoint): void {
  if (prev === next || prev.next !== null) return;
  prev.next = next;
  const idle = prev.idle;
  for (let i = 0; i < idle.length; i++) {
    const up = idle[i];
    up.endpoint = next;
    next.idle.push(up);
  }
  idle.length = 0;
  next.open += prev.open;
  prev.open = 0;
}

/**
 * Reload: `ep` left the config. Its idle connections close now; busy ones close when their
 * exchange ends (release() refuses to keep them).
 */
export function retire(ep: Endpoint): void {
  RETIRED.add(ep);
  for (let guard = ep.idle.length; ep.idle.length > 0 && guard >= 0; guard--) ep.idle[ep.idle.length - 1].destroy();
}

/** Takes the most recently used idle connection of an endpoint, or null. */
export function takeIdle(endpoint: Endpoint): UpstreamConn | null {
  const idle = endpoint.idle;
  while (idle.length > 0) {
    const up = idle.pop()!;
    if (up.state === UP_IDLE && !up.socket.destroyed && up.socket.readable) return up;
    up.destroy();
  }
  return null;
}
