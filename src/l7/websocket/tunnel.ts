/**
 * The byte tunnel an HTTP/1.1 client connection becomes after the backend's `101 Switching
 * Protocols` (RFC 9110 §7.8; for WebSocket RFC 6455 §4): client socket ⇄ upstream socket, both
 * directions relayed untouched with back-pressure (a write the socket does not take whole pauses
 * the reading side until 'drain'), until both sides have closed.
 *
 * Half-close (as the L4 tcp proxy, src/l4/tcp-conn.ts): a FIN from one side ends the write side
 * towards the other; the other direction keeps flowing until it ends too. An error or reset on
 * either side, or a close before both directions ended, destroys both.
 *
 * WebSocket tunnels scan frame headers in both directions (frames.ts; payloads are skipped, never
 * copied), so a drain or shutdown can end them cleanly: at the deadline a Close frame with status
 * 1001 (Going Away) goes to the client (unmasked) and to the backend (masked, §5.3), each written
 * between two frames of its direction — when a frame is being relayed the Close waits for its end;
 * bytes after it are not relayed (an endpoint sends nothing after its Close, §5.5.1) — and both
 * sockets get a FIN. Peers that do not close within CLOSE_LINGER_MS, or a direction still inside a
 * frame then, get the TCP connection closed. Tunnels of other protocols (`webSocket.otherUpgrades`)
 * are opaque: they get a FIN both ways at the deadline.
 *
 * Accounting: the tunnel keeps the exchange's hold on its endpoint's in-flight count and on the
 * pool's `active` count (circuit breakers) for its whole life; at the end the endpoint's counters
 * get the handshake time (time to the 101) as the exchange's latency, not the tunnel's lifetime.
 * Deadlines are fields of the host connection, checked by the runtime's sweeper (no timers here).
 */
import type { Socket } from 'node:net';
import type { UpstreamConn, UpstreamOwner } from '../http1/upstream.ts';
import type { Endpoint, PoolRuntime } from '../../runtime/pool.ts';
import { F_DRAINED } from '../../runtime/pool-health.ts';
import type { TunnelSeries } from '../../admin/metrics.ts';
import { CLOSE_GOING_AWAY, FrameScanner, closeFrame } from './frames.ts';

/** How long peers get to close after Fulcrum's Close frames / FIN before both sockets are destroyed (ms). */
export const CLOSE_LINGER_MS = 2000;

/** What the tunnel needs from the client connection that switched protocols (ClientConn). */
export interface TunnelHost {
  /** Idle deadline (ms since the epoch; 0 = none), checked by the sweeper. */
  deadline: number;
  /** Drain / close deadline (ms since the epoch; 0 = none), checked by the sweeper. */
  requestDeadline: number;
  readonly socket: Socket;
  /** Both sockets are closed and the bookkeeping is done: the host forgets the connection. */
  tunnelDone(): void;
}

export interface TunnelInit {
  endpoint: Endpoint;
  /** The pool whose `active` count the exchange holds. */
  pool: PoolRuntime;
  /** Time from the attempt's start to the 101 (ms): the latency reported to the load counters. */
  handshakeMs: number;
  /** Frame-aware (WebSocket) or opaque. */
  websocket: boolean;
  /** `timeouts.tunnel` (ms; 0 = none). */
  idleMs: number;
  /** `webSocket.drainTimeout` (ms). */
  drainMs: number;
  series: TunnelSeries | null;
}

const T_OPEN = 0;
const T_CLOSING = 1; // drain/shutdown deadline reached: Close frames placed (or waiting for a frame end)
const T_DONE = 2;

export class Tunnel implements UpstreamOwner {
  private readonly host: TunnelHost;
  private readonly client: Socket;
  private readonly up: UpstreamConn;
  private readonly init: TunnelInit;
  /** Frame scanners client → server (`upScan`) and server → client (`downScan`); null when opaque. */
  private readonly upScan: FrameScanner | null;
  private readonly downScan: FrameScanner | null;
  private state = T_OPEN;
  private clientEnded = false;
  private upEnded = false;
  private clientClosed = false;
  private upClosed = false;
  /** Fulcrum's Close (or FIN) has been written towards the server / the client (T_CLOSING). */
  private upPlaced = false;
  private downPlaced = false;
  /** Which side started closing (`client`, `server`), or a reason Fulcrum decided; '' = none yet. */
  private reason = '';
  /** Why a drain deadline is set: `drain` (server drained or removed) or `shutdown`; '' = none. */
  private pendingClose = '';

  /**
   * Takes over `client` (its data/end/drain listeners; the host keeps 'close' and calls
   * onClientClose) and `up` (this tunnel becomes its owner). `early`: client bytes read before the
   * switch; `first`: server bytes that came with the 101 head (both may be empty).
   */
  constructor(host: TunnelHost, up: UpstreamConn, init: TunnelInit, early: Buffer | null, first: Buffer | null) {
    this.host = host;
    this.client = host.socket;
    this.up = up;
    this.init = init;
    this.upScan = init.websocket ? new FrameScanner() : null;
    this.downScan = init.websocket ? new FrameScanner() : null;
    up.owner = this;
    const c = this.client;
    c.on('data', this.onClientData);
    c.on('end', this.onClientEnd);
    c.on('drain', this.onClientDrain);
    host.requestDeadline = 0;
    this.touch();
    init.series?.opened();
    if (first !== null && first.length > 0) this.fromUpstream(first);
    if (early !== null && early.length > 0) this.fromClient(early);
    if (c.isPaused() && !up.socket.writableNeedDrain) c.resume();
    if (up.socket.isPaused() && !c.writableNeedDrain) up.socket.resume();
  }

  private touch(): void {
    this.host.deadline = this.init.idleMs > 0 ? Date.now() + this.init.idleMs : 0;
  }

  // ---------------------------------------------------------------- client → server

  private readonly onClientData = (chunk: Buffer): void => {
    this.fromClient(chunk);
  };

  private fromClient(chunk: Buffer): void {
    if (this.state === T_DONE || this.upPlaced) return; // after Fulcrum's Close: not relayed
    const sc = this.upScan;
    if (this.state === T_CLOSING && sc !== null) {
      const at = sc.scan(chunk, 0, chunk.length, true);
      if (at >= 0) {
        if (at > 0) this.writeUp(chunk.subarray(0, at));
        this.placeUp();
        return;
      }
    } else {
      this.touch();
      if (sc !== null) {
        sc.scan(chunk, 0, chunk.length);
        if (sc.closeSeen && this.reason === '') this.reason = 'client';
      }
    }
    this.writeUp(chunk);
  }

  private writeUp(b: Buffer): void {
    const s = this.up.socket;
    if (s.writableEnded || s.destroyed) return;
    if (!s.write(b)) this.client.pause();
  }

  private readonly onClientEnd = (): void => {
    this.endFromClient();
  };

  /** The client's FIN (also when it came before the switch): passed on to the server. */
  endFromClient(): void {
    if (this.clientEnded) return;
    this.clientEnded = true;
    if (this.reason === '') this.reason = 'client';
    const s = this.up.socket;
    if (!s.writableEnded && !s.destroyed) s.end();
    this.upPlaced = true;
  }

  private readonly onClientDrain = (): void => {
    const s = this.up.socket;
    if (s.isPaused() && !this.upClosed) s.resume();
  };

  /** The host's client socket closed. */
  onClientClose(): void {
    this.clientClosed = true;
    if (this.state === T_DONE) return;
    // Closing after Fulcrum's Close, a client that ended cleanly leaves the server until the
    // linger deadline to close its side; any other close of the client cuts the server side too.
    if (!this.clientEnded || (this.state === T_OPEN && !this.upEnded)) {
      if (this.state === T_OPEN) this.markReason('error');
      if (!this.upClosed) this.destroyUp();
    }
    this.maybeFinish();
  }

  // ---------------------------------------------------------------- server → client (UpstreamOwner)

  onUpstreamConnect(_up: UpstreamConn): void {}

  onUpstreamData(_up: UpstreamConn, chunk: Buffer): void {
    this.fromUpstream(chunk);
  }

  /** `chunk` may be the upstream's shared read buffer: what is written is copied. */
  private fromUpstream(chunk: Buffer): void {
    if (this.state === T_DONE || this.downPlaced) return;
    const sc = this.downScan;
    if (this.state === T_CLOSING && sc !== null) {
      const at = sc.scan(chunk, 0, chunk.length, true);
      if (at >= 0) {
        if (at > 0) this.writeDown(chunk.subarray(0, at));
        this.placeDown();
        return;
      }
    } else {
      this.touch();
      if (sc !== null) {
        sc.scan(chunk, 0, chunk.length);
        if (sc.closeSeen && this.reason === '') this.reason = 'server';
      }
    }
    this.writeDown(chunk);
  }

  private writeDown(b: Buffer): void {
    const c = this.client;
    if (c.writableEnded || c.destroyed) return;
    const out = Buffer.allocUnsafe(b.length); // the upstream read buffer is shared: copy what is written
    b.copy(out);
    if (!c.write(out)) this.up.socket.pause();
  }

  onUpstreamEnd(_up: UpstreamConn): void {
    this.upEnded = true;
    if (this.reason === '') this.reason = 'server';
    const c = this.client;
    if (!c.writableEnded && !c.destroyed) c.end();
    this.downPlaced = true;
  }

  onUpstreamDrain(_up: UpstreamConn): void {
    if (this.client.isPaused() && !this.clientClosed) this.client.resume();
  }

  /** The upstream socket errored or closed (UpstreamConn reports a close as an error). */
  onUpstreamError(_up: UpstreamConn, _err: Error & { code?: string }): void {
    this.upClosed = true;
    if (this.state === T_DONE) return;
    if (this.state === T_OPEN && !(this.clientEnded && this.upEnded)) {
      this.markReason('error');
      if (!this.clientClosed) {
        this.client.destroy(); // 'close' → onClientClose → finish
        return;
      }
    }
    this.maybeFinish();
  }

  // ---------------------------------------------------------------- drain, shutdown, deadlines

  /** Graceful shutdown of the listener: the tunnel is closed `drainTimeout` from now. */
  shutdown(now: number): void {
    if (this.state !== T_OPEN || this.pendingClose === 'shutdown') return;
    this.pendingClose = 'shutdown';
    this.host.requestDeadline = now + this.init.drainMs;
  }

  /**
   * After a reload: when the tunnel's server was drained (`drain: true`) or removed, the tunnel is
   * closed `drainTimeout` after this was first seen; a drain lifted before that cancels it.
   */
  checkDrain(now: number, pools: ReadonlyMap<string, PoolRuntime>): void {
    if (this.state !== T_OPEN || this.pendingClose === 'shutdown') return;
    const e = this.init.endpoint.latest();
    const drained = pools.get(e.pool.name) !== e.pool || (e.pool.health.flags[e.index] & F_DRAINED) !== 0;
    if (drained && this.pendingClose === '') {
      this.pendingClose = 'drain';
      this.host.requestDeadline = now + this.init.drainMs;
    } else if (!drained && this.pendingClose === 'drain') {
      this.pendingClose = '';
      this.host.requestDeadline = 0;
    }
  }

  /** Sweeper: a deadline of the host passed. */
  onDeadline(now: number): void {
    const h = this.host;
    if (this.state === T_CLOSING) {
      if (h.requestDeadline !== 0 && now >= h.requestDeadline) {
        if (!(this.upPlaced && this.downPlaced)) this.reason = 'forced';
        this.destroyBoth();
      }
    } else if (this.state === T_OPEN) {
      if (h.requestDeadline !== 0 && now >= h.requestDeadline) this.startClose(now);
      else if (h.deadline !== 0 && now >= h.deadline) {
        this.reason = 'idle_timeout';
        this.destroyBoth();
      }
    }
  }

  /** The drain/shutdown deadline passed: Close frames (WebSocket) or FINs (opaque) both ways. */
  private startClose(now: number): void {
    this.state = T_CLOSING;
    this.reason = this.pendingClose === '' ? 'drain' : this.pendingClose;
    this.host.deadline = 0;
    this.host.requestDeadline = now + CLOSE_LINGER_MS;
    const up = this.upScan;
    const down = this.downScan;
    // A direction whose peer already sent its Close needs none from Fulcrum; an opaque one gets a FIN.
    if (up === null || up.atBoundary || up.closeSeen) this.placeUp();
    if (down === null || down.atBoundary || down.closeSeen) this.placeDown();
  }

  private placeUp(): void {
    if (this.upPlaced) return;
    this.upPlaced = true;
    const s = this.up.socket;
    if (s.writableEnded || s.destroyed) return;
    const sc = this.upScan;
    if (sc !== null && !sc.closeSeen && !sc.broken) s.end(closeFrame(CLOSE_GOING_AWAY, this.closeText(), true));
    else s.end();
  }

  private placeDown(): void {
    if (this.downPlaced) return;
    this.downPlaced = true;
    const c = this.client;
    if (c.writableEnded || c.destroyed) return;
    const sc = this.downScan;
    if (sc !== null && !sc.closeSeen && !sc.broken) c.end(closeFrame(CLOSE_GOING_AWAY, this.closeText(), false));
    else c.end();
    if (this.up.socket.isPaused()) this.up.socket.resume(); // keep reading (and discarding) until the server closes
  }

  private closeText(): string {
    return this.reason === 'shutdown' ? 'shutting down' : 'server drained';
  }

  // ---------------------------------------------------------------- end

  private markReason(r: string): void {
    if (this.reason === '' || this.reason === 'client' || this.reason === 'server') this.reason = r;
  }

  private destroyUp(): void {
    this.upClosed = true;
    this.up.destroy(); // no callback: destroy() clears the owner first
  }

  private destroyBoth(): void {
    if (!this.upClosed) this.destroyUp();
    if (!this.clientClosed) this.client.destroy(); // 'close' → onClientClose → finish
    else this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.state === T_DONE || !this.clientClosed || !this.upClosed) return;
    this.state = T_DONE;
    const h = this.host;
    h.deadline = 0;
    h.requestDeadline = 0;
    const init = this.init;
    const e = init.endpoint.latest();
    e.pool.load.end(e.index, false, init.handshakeMs, init.handshakeMs, Date.now());
    init.pool.active--;
    init.series?.closedFor(this.reason === '' ? 'error' : this.reason);
    h.tunnelDone();
  }
}
