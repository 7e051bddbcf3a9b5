/**
 * One proxied L4 connection (`tcp` and `tls-passthrough` listeners): client socket ⇄ server socket.
 *
 * Anchors: HAProxy `mode tcp` (connect, `retries` + redispatch on connect failure, `timeout client`/
 * `timeout server` as one idle timeout, half-closed connections), Envoy `tcp_proxy`
 * (max_connect_attempts, idle_timeout) and `tls_inspector` (peek the ClientHello, route on SNI,
 * forward the peeked bytes untouched), the PROXY protocol (HAProxy's doc/proxy-protocol.txt).
 *
 * States: HEAD (reading the PROXY header and/or the ClientHello, clientHello deadline) → CONNECT
 * (one attempt at a time, connect deadline; on failure the next endpoint through the exclusion set,
 * up to `retries.attempts`) → OPEN (relay both ways) → CLOSED.
 *
 * Hot path (DESIGN.md rule 6): the sockets' listeners are module-level functions shared by every
 * connection (the connection is found through a property on the socket); per connection there are
 * four small closures (two read-buffer choosers, two write-completion callbacks); per chunk only a
 * Buffer view (or a copy of a small read): both sockets read through `onread` into reused buffers (./read-buffers.ts — why, and why
 * the buffers are safe), each chunk is written to the other side at once, and a write the kernel
 * did not take whole pauses the reading side until it completes. So at most a socket buffer per
 * direction sits in memory whatever the peers do. Deadlines (clientHello, connect, idle, drain)
 * are fields the runtime's sweeper checks every 100 ms.
 *
 * Half-close: a FIN from one side ends the write side towards the other (`end()`); the other
 * direction keeps flowing until it ends too; each socket closes itself once both of its directions
 * have ended, and the connection is done when both sockets have closed. An error or reset on either
 * side, or a close before both directions ended, destroys both.
 *
 * Load counters: an endpoint's in-flight count (and `open`) rises when the connect attempt starts
 * (so least-connections and p2c see connections being set up) and falls when the attempt fails or
 * the connection closes; `headerMs` is the connect time, `totalMs` the connection's lifetime.
 * Bookkeeping goes to the endpoint's newest incarnation (`Endpoint.latest()`) across reloads.
 */
import { connect, type Socket } from 'node:net';
import type { ListenerConfig } from '../config/schema.ts';
import type { Endpoint, PoolRuntime } from '../runtime/pool.ts';
import { F_DRAINED } from '../runtime/pool-health.ts';
import type { Deadlined } from '../runtime/sweeper.ts';
import { normalizeIp } from '../l7/http1/forwarded.ts';
import { encodeProxyV1, encodeProxyV2, proxyAddressOf, type ProxyAddress } from './proxy-protocol.ts';
import { EV_BAD_PROXY_HEADER, EV_CLIENT_ABORTED, EV_HEADER_TIMEOUT, takeProxyHeader } from './proxy-accept.ts';
import { parseClientHello } from './client-hello.ts';
import type { SniRouter } from './sni-router.ts';
import { exclusions, l4Key } from './l4-pick.ts';
import { SHARED, copyOf, drop, nextReadBuffer, release, withOnread } from './read-buffers.ts';

/** What the connection needs from its listener (implemented by TcpListener). */
export interface TcpConnHost {
  readonly config: ListenerConfig;
  readonly pools: ReadonlyMap<string, PoolRuntime>;
  /** tls-passthrough: the SNI router (null for `tcp`). */
  readonly sni: SniRouter | null;
  /** `tls-passthrough`: peek the ClientHello before routing. */
  readonly tls: boolean;
  /** The listener accepts (and requires) a PROXY header from its trusted sources. */
  readonly acceptsProxy: boolean;
  /** Counts an event in fulcrum_l4_events_total. */
  count(event: string): void;
  /** The connection is done (bytes already relayed are passed for fulcrum_l4_bytes_total). */
  closed(conn: TcpConn, bytesUp: number, bytesDown: number): void;
}

/** Bytes kept while peeking (PROXY header + ClientHello); more than this without a verdict → closed. */
export const MAX_PEEK = 64 * 1024;

const S_HEAD = 0;
const S_CONNECT = 1;
const S_OPEN = 2;
const S_CLOSED = 3;

/** A socket carrying its connection (set by this module only; null once the socket is abandoned). */
type ConnSocket = Socket & { fulcrumConn?: TcpConn | null };

export class TcpConn implements Deadlined {
  /** Current state's deadline (clientHello, connect or idle), ms since the epoch; 0 = none. */
  deadline = 0;
  /** Drain deadline (the server was drained by a reload and the pool has `timeouts.drain`); 0 = none. */
  requestDeadline = 0;
  /** The client socket, re-created around the accepted handle to read through `onread`. */
  readonly client: ConnSocket;
  up: ConnSocket | null = null;
  private readonly host: TcpConnHost;
  private state = S_HEAD;
  private readonly idleMs: number;
  /** Bytes read before the server connection is open (peeked ClientHello, early data). */
  private head: Buffer | null = null;
  /** Address from an accepted PROXY header (else derived from the socket on demand). */
  private addr: ProxyAddress | null = null;
  private proxyDone: boolean;
  /** Reads before connecting (PROXY header and/or ClientHello); fixed at accept. */
  private readonly peek: boolean;
  pool: PoolRuntime | null = null;
  /** Endpoint of the current attempt / open connection (its bookkeeping is pending). */
  endpoint: Endpoint | null = null;
  private key: string | undefined = undefined;
  private attempts = 0;
  private tried: Uint8Array | null = null;
  private attemptAt = 0;
  private connectMs = 0;
  private clientEnded = false;
  private upEnded = false;
  private socketsClosed = 0;
  private bytesUp = 0;
  private bytesDown = 0;
  /** Buffers the client / server socket reads into next (SHARED or a private one). */
  private clientBuf: Buffer = SHARED;
  private upBuf: Buffer = SHARED;
  /** A write of the client's / server's bytes is still in progress: that socket is paused until it completes. */
  private upHeld = false;
  private downHeld = false;
  /** Write-completion callbacks (client → server, server → client), made once per connection. */
  private readonly upWritten = (): void => this.onUpWritten();
  private readonly downWritten = (): void => this.onDownWritten();
  private readonly clientBufFn = (): Buffer => this.clientBuf;
  private readonly upBufFn = (): Buffer => this.upBuf;

  /** `accepted`: the socket net.Server accepted (paused on accept); it is re-created to read through `onread`. */
  constructor(accepted: Socket, host: TcpConnHost) {
    this.host = host;
    this.idleMs = host.config.timeouts.idle;
    this.proxyDone = !host.acceptsProxy;
    this.peek = host.tls || host.acceptsProxy;
    const client = (withOnread(accepted, this.clientBufFn, onClientRead) ?? accepted) as ConnSocket;
    this.client = client;
    client.fulcrumConn = this;
    client.on('end', onClientEnd);
    client.on('error', onSocketError);
    client.on('close', onClientClose);
  }

  /** Starts serving the connection. */
  start(): void {
    const client = this.client;
    if (client.destroyed) {
      this.finish(); // closed before it was served
      return;
    }
    if (this.peek) {
      this.deadline = Date.now() + this.host.config.timeouts.clientHello;
      client.resume();
      return;
    }
    // Plain tcp: nothing is read until the server connection is open (the bytes wait in the kernel).
    this.route(this.host.config.pool ?? null);
  }

  /** The connection's address pair: from the PROXY header, else the client socket's. */
  address(): ProxyAddress {
    return (this.addr ??= proxyAddressOf(this.client));
  }

  // ------------------------------------------------------------------ peeking (HEAD)

  /** Bytes in HEAD (peeking) or CONNECT (kept until the server connection opens); `chunk` is a copy. */
  onHeadData(chunk: Buffer): void {
    const buf = this.head === null ? chunk : Buffer.concat([this.head, chunk]);
    this.head = buf;
    if (this.state !== S_HEAD) {
      // Early data while connecting: keep it, stop reading (resumed once open).
      this.client.pause();
      return;
    }
    let off = 0;
    if (!this.proxyDone) {
      const r = takeProxyHeader(buf, MAX_PEEK);
      if (r.status === 'incomplete') return;
      if (r.status === 'invalid') {
        this.refuse(EV_BAD_PROXY_HEADER);
        return;
      }
      this.proxyDone = true;
      // null for LOCAL (the sender's own health check) or UNKNOWN: the connection's own addresses.
      this.addr = r.addr;
      off = r.length;
    }
    let sni: string | null = null;
    if (this.host.tls) {
      const hello = off === 0 ? buf : buf.subarray(off);
      if (hello.length === 0) {
        this.head = null;
        return;
      }
      const r = parseClientHello(hello);
      if (r.status === 'incomplete') {
        this.head = hello;
        if (hello.length > MAX_PEEK) this.refuse('bad_client_hello');
        return;
      }
      if (r.status === 'invalid') {
        this.refuse('bad_client_hello');
        return;
      }
      sni = r.sni;
    }
    this.head = off === 0 ? buf : off < buf.length ? buf.subarray(off) : null;
    this.client.pause();
    this.route(this.host.tls ? this.sniPool(sni) : this.host.config.pool ?? null);
  }

  private sniPool(sni: string | null): string | null {
    const router = this.host.sni;
    if (sni !== null && router !== null) {
      const p = router.route(sni);
      if (p !== null) return p;
    }
    return this.host.config.pool ?? null;
  }

  /** Closes the client without contacting a server, counting `event`. */
  private refuse(event: string): void {
    this.host.count(event);
    this.abort();
  }

  // ------------------------------------------------------------------ routing and connecting

  private route(poolName: string | null): void {
    const pool = poolName === null ? undefined : this.host.pools.get(poolName);
    if (pool === undefined) {
      this.refuse('no_route');
      return;
    }
    this.pool = pool;
    if (pool.key !== null) {
      const key = l4Key(pool, this.addr !== null ? this.addr.srcAddr : normalizeIp(this.client.remoteAddress), this);
      if (key === undefined && pool.rejectMissingKey) {
        this.refuse('hash_key_missing');
        return;
      }
      this.key = key;
    }
    this.connectNext();
  }

  /** Picks the next endpoint (tried and full ones excluded) and starts a connect attempt. */
  private connectNext(): void {
    let pool = this.pool as PoolRuntime;
    const cur = this.host.pools.get(pool.name);
    if (cur !== undefined && cur !== pool) pool = this.adopt(cur);
    if (this.attempts >= pool.config.retries.attempts) {
      this.refuse('connect_failed');
      return;
    }
    const ep = pool.pick(this.key, exclusions(pool, this.tried));
    if (ep === null) {
      this.refuse(this.attempts === 0 ? 'no_upstream' : 'connect_failed');
      return;
    }
    if (this.attempts > 0) pool.health.retries++;
    this.attempts++;
    this.endpoint = ep;
    const e = ep.latest();
    e.open++;
    e.pool.load.start(e.index);
    this.attemptAt = performance.now();
    this.state = S_CONNECT;
    this.deadline = Date.now() + pool.config.timeouts.connect;
    const up = connect({
      host: e.host, port: e.port, noDelay: true, allowHalfOpen: true,
      onread: { buffer: this.upBufFn, callback: onUpRead },
    }) as ConnSocket;
    up.fulcrumConn = this;
    this.up = up;
    up.on('connect', onUpConnect);
    up.on('end', onUpEnd);
    up.on('error', onSocketError);
    up.on('close', onUpClose);
  }

  /** A reload replaced the pool between two attempts: continue on the new one (tried slots mapped by address). */
  private adopt(next: PoolRuntime): PoolRuntime {
    const prev = this.pool as PoolRuntime;
    const tried = this.tried;
    if (tried !== null) {
      const t = new Uint8Array(next.endpoints.length);
      for (const e of next.endpoints) {
        const old = prev.endpoints.find((p) => p.address === e.address);
        if (old !== undefined && tried[old.index] !== 0) t[e.index] = 1;
      }
      this.tried = t;
    }
    this.pool = next;
    return next;
  }

  /** The current attempt failed (refused, reset, timeout): record it, try the next endpoint. */
  private attemptFailed(detail: string): void {
    const up = this.up;
    if (up !== null) {
      this.up = null;
      up.fulcrumConn = null;
      up.destroy();
    }
    const e = this.endpoint;
    if (e !== null) {
      this.endpoint = null;
      const ms = performance.now() - this.attemptAt;
      const l = e.latest();
      l.open--;
      l.pool.load.end(l.index, true, ms, ms, Date.now());
      l.pool.record(l.index, 'gateway', detail);
      // `e` is the slot pick() returned from this.pool: the exclusion set is in its index space.
      (this.tried ??= new Uint8Array((this.pool as PoolRuntime).endpoints.length))[e.index] = 1;
    }
    if (!(this.pool as PoolRuntime).config.retries.on.includes('connect-failure')) {
      this.refuse('connect_failed');
      return;
    }
    this.connectNext();
  }

  onUpConnect(): void {
    const e = (this.endpoint as Endpoint).latest();
    const now = Date.now();
    this.connectMs = performance.now() - this.attemptAt;
    e.pool.record(e.index, 'success', 'connected');
    this.state = S_OPEN;
    this.deadline = now + this.idleMs;
    this.checkDrain(now, this.host.pools);
    const up = this.up as ConnSocket;
    const pp = (this.pool as PoolRuntime).config.proxyProtocol;
    const head = this.head;
    if (pp !== undefined || head !== null) {
      up.cork();
      if (pp !== undefined) up.write(pp === 'v2' ? encodeProxyV2(this.address()) : encodeProxyV1(this.address()));
      if (head !== null) {
        this.head = null;
        this.bytesUp += head.length;
        up.write(head);
      }
      up.uncork();
    }
    if (this.clientEnded) up.end();
    this.client.resume();
  }

  // ------------------------------------------------------------------ relaying (OPEN)

  /** Client → server: `n` bytes read into `buf`. Returns false to pause the client (write in progress). */
  relayUp(n: number, buf: Buffer): boolean {
    this.bytesUp += n;
    this.deadline = Date.now() + this.idleMs;
    const up = this.up as Socket;
    up.write(buf === SHARED ? copyOf(buf, n) : buf.subarray(0, n), this.upWritten);
    const pending = up.writableLength !== 0;
    this.clientBuf = nextReadBuffer(this.clientBuf, n, pending);
    if (!pending) return true;
    this.upHeld = true;
    return false;
  }

  /** Server → client: `n` bytes read into `buf`. Returns false to pause the server socket. */
  relayDown(n: number, buf: Buffer): boolean {
    this.bytesDown += n;
    this.deadline = Date.now() + this.idleMs;
    const client = this.client;
    client.write(buf === SHARED ? copyOf(buf, n) : buf.subarray(0, n), this.downWritten);
    const pending = client.writableLength !== 0;
    this.upBuf = nextReadBuffer(this.upBuf, n, pending);
    if (!pending) return true;
    this.downHeld = true;
    return false;
  }

  private onUpWritten(): void {
    if (!this.upHeld) return;
    this.upHeld = false;
    if (this.state === S_OPEN) this.client.resume();
  }

  private onDownWritten(): void {
    if (!this.downHeld) return;
    this.downHeld = false;
    if (this.state === S_OPEN) (this.up as Socket).resume();
  }

  onClientEnd(): void {
    this.clientEnded = true;
    if (this.state === S_OPEN) (this.up as Socket).end();
    else if (this.state === S_HEAD) this.refuse(EV_CLIENT_ABORTED); // FIN before the header was complete
    // CONNECT: the FIN is passed on once the server connection is open.
  }

  onUpEnd(): void {
    this.upEnded = true;
    this.client.end();
  }

  /** A socket closed: normal once both directions ended, else the other side is torn down. */
  onSocketClose(): void {
    if (this.state === S_CLOSED) return;
    if (this.state === S_OPEN && this.clientEnded && this.upEnded) {
      if (++this.socketsClosed === 2) {
        // Both sockets closed after both directions ended: every write completed.
        release(this.clientBuf);
        release(this.upBuf);
        this.clientBuf = this.upBuf = SHARED;
        this.finish();
      }
      return;
    }
    this.abort();
  }

  onUpCloseBeforeOpen(): void {
    if (this.state === S_CONNECT) this.attemptFailed('connection closed');
  }

  onError(err: Error & { code?: string }, fromUp: boolean): void {
    if (this.state === S_CLOSED) return;
    if (fromUp && this.state === S_CONNECT) {
      this.attemptFailed(err.code ?? err.message);
      return;
    }
    this.abort();
  }

  // ------------------------------------------------------------------ deadlines, drain, end

  /** Sweeper: a deadline passed. */
  onDeadline(now: number): void {
    const s = this.state;
    if (s === S_HEAD) {
      this.refuse(EV_HEADER_TIMEOUT);
    } else if (s === S_CONNECT) {
      if (this.deadline !== 0 && now >= this.deadline) this.attemptFailed('connect timeout');
    } else if (s === S_OPEN) {
      if (this.requestDeadline !== 0 && now >= this.requestDeadline) this.refuse('drain_deadline');
      else if (this.deadline !== 0 && now >= this.deadline) this.refuse('idle_timeout');
    }
  }

  /**
   * Sets or clears the drain deadline: the server of this open connection is drained (or left the
   * config) and its pool has `timeouts.drain` > 0 → closed that long after the drain was seen.
   */
  checkDrain(now: number, pools: ReadonlyMap<string, PoolRuntime>): void {
    const ep = this.endpoint;
    if (this.state !== S_OPEN || ep === null) return;
    const e = ep.latest();
    const gone = pools.get(e.pool.name) !== e.pool;
    const drained = gone || (e.pool.health.flags[e.index] & F_DRAINED) !== 0;
    if (!drained) {
      this.requestDeadline = 0;
      return;
    }
    const ms = e.pool.config.timeouts.drain;
    if (ms === 0) this.requestDeadline = 0;
    else if (this.requestDeadline === 0) this.requestDeadline = now + ms;
  }

  /** Destroys both sockets and finishes. */
  abort(): void {
    if (this.state === S_CLOSED) return;
    const up = this.up;
    if (up !== null) up.destroy();
    this.client.destroy();
    // A destroyed socket's unfinished write may still refer to its private buffer: not reused.
    drop(this.clientBuf);
    drop(this.upBuf);
    this.clientBuf = this.upBuf = SHARED;
    this.finish();
  }

  /** Listener shutdown after the grace period. */
  destroy(): void {
    this.abort();
  }

  private finish(): void {
    const wasConnecting = this.state === S_CONNECT;
    this.state = S_CLOSED;
    this.deadline = 0;
    this.requestDeadline = 0;
    this.head = null;
    const e = this.endpoint;
    if (e !== null) {
      this.endpoint = null;
      const ms = performance.now() - this.attemptAt;
      const l = e.latest();
      l.open--;
      // A client that left while the connect was in progress says nothing about the server.
      l.pool.load.end(l.index, false, ms, wasConnecting ? ms : this.connectMs, Date.now());
    }
    this.host.closed(this, this.bytesUp, this.bytesDown);
  }

  get isOpen(): boolean {
    return this.state === S_OPEN;
  }
}

// ---------------------------------------------------------------------- shared socket listeners
// `this` is the socket (EventEmitter calls listeners with the emitter as `this`).

function onClientRead(this: ConnSocket, nread: number, buf: Uint8Array): boolean {
  const c = this.fulcrumConn;
  if (c == null) return true;
  if (c.isOpen) return c.relayUp(nread, buf as Buffer);
  c.onHeadData(copyOf(buf as Buffer, nread));
  return true;
}

function onClientEnd(this: ConnSocket): void {
  this.fulcrumConn?.onClientEnd();
}


function onClientClose(this: ConnSocket): void {
  this.fulcrumConn?.onSocketClose();
}

function onUpConnect(this: ConnSocket): void {
  const c = this.fulcrumConn;
  if (c != null && c.up === this) c.onUpConnect();
}

function onUpRead(this: ConnSocket, nread: number, buf: Uint8Array): boolean {
  const c = this.fulcrumConn;
  if (c == null || !c.isOpen) return true;
  return c.relayDown(nread, buf as Buffer);
}

function onUpEnd(this: ConnSocket): void {
  const c = this.fulcrumConn;
  if (c != null && c.isOpen) c.onUpEnd();
}

function onUpClose(this: ConnSocket): void {
  const c = this.fulcrumConn;
  if (c == null || c.up !== this) return;
  if (c.isOpen) c.onSocketClose();
  else c.onUpCloseBeforeOpen();
}

function onSocketError(this: ConnSocket, err: Error): void {
  const c = this.fulcrumConn;
  if (c == null) return;
  const fromUp = c.up === this;
  if (!fromUp && c.client !== this) return;
  c.onError(err, fromUp);
}
