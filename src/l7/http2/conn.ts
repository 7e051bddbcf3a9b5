/**
 * One HTTP/2 client connection (RFC 9113) on an `http` listener, served by node:http2's server
 * session (frames, HPACK, flow control, SETTINGS limits are nghttp2's). Fulcrum adds what an edge
 * proxy needs on top:
 * - rapid-reset protection (CVE-2023-44487): client resets of streams whose response was not
 *   complete are counted over `http2.resetWindow`; beyond `http2.maxResets` the connection gets
 *   GOAWAY ENHANCE_YOUR_CALM and is closed;
 * - deadlines through the runtime's sweeper: `timeouts.header` for the first stream after the
 *   preface, `timeouts.idle` while no stream is open (then GOAWAY NO_ERROR and close);
 * - graceful shutdown: GOAWAY, streams in progress finish.
 */
import { constants, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { HttpListener } from '../http1/server.ts';
import type { ClientConnection } from '../http1/listener-runtime.ts';
import { forwardedNode, isTrusted, normalizeIp } from '../http1/forwarded.ts';
import type { ForwardInput } from './headers.ts';
import { H2Exchange } from './stream.ts';

const { NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_NO_ERROR } = constants;

/** How long a closing connection may take to finish its streams after GOAWAY on idle/linger (ms). */
const LINGER_MS = 2000;

export class H2Conn implements ClientConnection {
  readonly socket: Socket;
  readonly listener: HttpListener;
  readonly clientIp: string;
  readonly forward: ForwardInput;
  session: ServerHttp2Session | null = null;
  deadline: number;
  requestDeadline = 0;
  /** Streams open now. */
  private streams = 0;
  private resets = 0;
  private resetWindowStart = 0;
  private closing = false;
  private closedAt = 0;

  /** `clientIp`: the client address from a PROXY header (default: the socket's peer). */
  constructor(socket: Socket, listener: HttpListener, clientIp?: string) {
    this.socket = socket;
    this.listener = listener;
    const ip = normalizeIp(clientIp ?? socket.remoteAddress);
    this.clientIp = ip;
    const cfg = listener.config;
    this.forward = {
      clientIp: ip, clientNode: forwardedNode(ip), trusted: isTrusted(listener.trust, ip),
      xForwarded: cfg.xForwarded, via: cfg.via, proto: (socket as { encrypted?: boolean }).encrypted === true ? 'https' : listener.proto,
    };
    this.deadline = Date.now() + cfg.timeouts.header;
  }

  /** Takes the session node:http2 created for this socket. */
  attach(session: ServerHttp2Session): void {
    this.session = session;
    session.on('stream', this.onStream);
    session.on('error', ignore);
    session.on('frameError', ignore);
    session.on('close', this.onClose);
    this.listener.conns.add(this);
    if (this.listener.draining) this.shutdown();
  }

  private readonly onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]): void => {
    this.streams++;
    this.deadline = 0;
    if (this.closing && this.listener.draining) {
      // GOAWAY was sent; a stream the client opened before seeing it is refused (safe to retry).
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      stream.on('close', () => this.onStreamClosed(false));
      return;
    }
    new H2Exchange(this, stream, headers, rawHeaders);
  };

  /** Called once per stream when it closes; `reset`: the client reset it before the response completed. */
  onStreamClosed(reset: boolean): void {
    this.streams--;
    if (reset && !this.closing) this.countReset();
    if (this.streams === 0 && !this.closing) this.deadline = Date.now() + this.listener.config.timeouts.idle;
  }

  private countReset(): void {
    const h = this.listener.config.http2;
    const now = Date.now();
    if (now - this.resetWindowStart > h.resetWindow) {
      this.resetWindowStart = now;
      this.resets = 0;
    }
    if (++this.resets <= h.maxResets) return;
    this.listener.onProtocolError('FULCRUM_E_RAPID_RESET');
    this.closing = true;
    this.closedAt = now;
    this.deadline = now + LINGER_MS;
    const s = this.session;
    if (s !== null && !s.destroyed) s.destroy(new Error('rapid reset'), NGHTTP2_ENHANCE_YOUR_CALM);
  }

  /** Sweeper: header deadline before the first stream, idle deadline with no stream, linger after close. */
  onDeadline(now: number): void {
    const s = this.session;
    if (this.closing || s === null) {
      if (now - this.closedAt >= LINGER_MS) {
        this.deadline = 0;
        if (s !== null && !s.destroyed) s.destroy();
        else this.socket.destroy();
      }
      return;
    }
    if (this.streams > 0) {
      this.deadline = 0;
      return;
    }
    this.goAway(now);
  }

  private goAway(now: number): void {
    const s = this.session;
    this.closing = true;
    this.closedAt = now;
    this.deadline = now + LINGER_MS + (this.streams > 0 ? this.listener.config.timeouts.idle : 0);
    if (s !== null && !s.closed && !s.destroyed) {
      s.goaway(NGHTTP2_NO_ERROR);
      s.close();
    }
  }

  /** Graceful shutdown: GOAWAY now; streams in progress finish, then the connection closes. */
  shutdown(): void {
    if (this.closing) return;
    this.goAway(Date.now());
    // Streams in progress may take the grace period; the listener destroys what is left after it.
    this.deadline = 0;
  }

  private readonly onClose = (): void => {
    this.deadline = 0;
    if (this.listener.conns.delete(this)) this.listener.onConnClosed();
    if (!this.socket.destroyed) this.socket.destroy();
  };
}

function ignore(): void {}

/** node:http2 server options from the listener's `http2` section and head limits. */
export function serverOptions(listener: HttpListener): Parameters<typeof import('node:http2').createServer>[0] {
  const h = listener.config.http2;
  return {
    maxSessionMemory: h.maxSessionMemory,
    // Pseudo-header fields count as pairs too.
    maxHeaderListPairs: listener.config.limits.headerCount + 4,
    maxSessionRejectedStreams: 100,
    maxSessionInvalidFrames: 1000,
    settings: {
      maxConcurrentStreams: h.maxConcurrentStreams,
      maxHeaderListSize: h.maxHeaderListSize,
      enablePush: false,
    },
  };
}

export type { Http2Server };
