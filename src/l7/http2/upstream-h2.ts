/**
 * Upstream over HTTP/2 (RFC 9113, cleartext with prior knowledge, §3.3) with node:http2: one
 * multiplexed client session per endpoint, reused by every stream. A session that gets GOAWAY, an
 * error or is closed is forgotten at once (the next stream opens a new one); streams above the
 * GOAWAY's last stream id fail with REFUSED_STREAM and may be retried. A session that does not
 * connect within the pool's `timeouts.connect` is destroyed; an idle one (no stream for
 * `keepAlive.idleTimeout`) is closed.
 *
 * A session counts in its endpoint's `open` (circuit breaker `maxConnections`, gauge
 * `fulcrum_upstream_connections`) from its creation to its close, and in `idleShared` while it has
 * no stream.
 */
import { connect as h2connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import type { Endpoint } from '../../runtime/pool.ts';
import { connectDetail, type Attempt, type AttemptOwner } from './attempt.ts';
import { clientHeaders } from './headers.ts';

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = constants;
const FLAG_END_STREAM = 0x1;

/** One client session to an endpoint. */
class UpSession {
  readonly session: ClientHttp2Session;
  readonly ep: Endpoint;
  connected = false;
  timedOut = false;
  /** Streams in progress. */
  streams = 0;
  error: (Error & { code?: string }) | null = null;
  /** GOAWAY error code from the endpoint (0 = none or NO_ERROR). */
  goawayCode = 0;
  private readonly waiting = new Set<H2Attempt>();
  private socket: Socket | null = null;
  private connectTimer: NodeJS.Timeout | null;
  private idleTimer: NodeJS.Timeout | null = null;
  /** Counted in `ep.open` (until closed) and in `ep.idleShared` (while it has no stream). */
  private counted = true;
  private idle = false;

  constructor(ep: Endpoint) {
    this.ep = ep;
    ep.latest().open++; // a stream that began before a reload may open a session after it
    const cfg = ep.pool.config;
    this.session = h2connect('http://' + ep.address, {
      createConnection: () => (this.socket = netConnect({ host: ep.host, port: ep.port, noDelay: true })),
      settings: { enablePush: false },
      maxSessionMemory: 32,
    });
    this.session.on('connect', this.onConnect);
    this.session.on('error', this.onError);
    this.session.on('goaway', this.onGoaway);
    this.session.on('close', this.onClose);
    this.connectTimer = setTimeout(this.onConnectTimeout, cfg.timeouts.connect);
    this.connectTimer.unref();
  }

  private readonly onConnect = (): void => {
    this.connected = true;
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    for (const a of this.waiting) a.connected();
    this.waiting.clear();
  };

  private readonly onConnectTimeout = (): void => {
    this.connectTimer = null;
    if (this.connected) return;
    this.timedOut = true;
    this.forget();
    this.session.destroy();
    // A socket still connecting would otherwise wait for the kernel's SYN retries (minutes) and
    // hold the process at shutdown.
    this.socket?.destroy();
  };

  private readonly onError = (err: Error & { code?: string }): void => {
    this.error ??= err;
    this.forget();
  };

  private readonly onGoaway = (code: number): void => {
    this.goawayCode = code;
    this.forget();
  };

  private readonly onClose = (): void => {
    this.forget();
    this.setIdle(false);
    if (this.counted) {
      this.counted = false;
      this.ep.latest().open--; // a reload moved `open` to the newest incarnation (http1/upstream.ts handOver)
    }
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.connectTimer = null;
    this.idleTimer = null;
  };

  private readonly onIdle = (): void => {
    this.idleTimer = null;
    if (this.streams === 0) {
      this.forget();
      this.session.close();
    }
  };

  private setIdle(idle: boolean): void {
    if (this.idle === idle) return;
    this.idle = idle;
    this.ep.idleShared += idle ? 1 : -1;
  }

  /** No new stream goes to this session. */
  forget(): void {
    if (sessions.get(this.ep) === this) sessions.delete(this.ep);
  }

  usable(): boolean {
    return !this.session.closed && !this.session.destroyed && this.goawayCode === 0 && !this.timedOut && this.error === null;
  }

  streamStarted(a: H2Attempt): void {
    if (this.streams++ === 0) this.session.ref();
    this.setIdle(false);
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    if (!this.connected) this.waiting.add(a);
  }

  streamEnded(a: H2Attempt): void {
    this.streams--;
    this.waiting.delete(a);
    if (this.streams === 0) this.session.unref(); // an idle session does not keep the process up (shutdown)
    if (this.streams === 0 && this.usable() && this.counted) {
      this.setIdle(true);
      this.idleTimer = setTimeout(this.onIdle, this.ep.pool.config.keepAlive.idleTimeout);
      this.idleTimer.unref();
    }
  }
}

/** The current session of each endpoint (the endpoint object of the snapshot the stream read). */
const sessions = new Map<Endpoint, UpSession>();

/** The endpoint's session state for a new stream: 0 none (a new one is needed), 1 connecting, 2 ready. */
export function h2SessionState(ep: Endpoint): number {
  const s = sessions.get(ep);
  if (s === undefined || !s.usable()) return 0;
  return s.connected ? 2 : 1;
}

function sessionFor(ep: Endpoint): UpSession {
  let s = sessions.get(ep);
  if (s === undefined || !s.usable()) {
    s = new UpSession(ep);
    sessions.set(ep, s);
  }
  return s;
}

export class H2Attempt implements Attempt {
  private readonly owner: AttemptOwner;
  private readonly up: UpSession;
  private readonly stream: ClientHttp2Stream;
  private readonly via: boolean;
  private done = false;
  private headSeen = false;
  private trailers: OutgoingHttpHeaders | null = null;

  /** Throws when node:http2 refuses a header (the caller answers 400). */
  constructor(ep: Endpoint, headers: OutgoingHttpHeaders, endStream: boolean, owner: AttemptOwner, via: boolean) {
    this.owner = owner;
    this.via = via;
    let up = sessionFor(ep);
    let stream: ClientHttp2Stream;
    try {
      stream = up.session.request(headers, { endStream });
    } catch {
      // The session went away between our check and the request (GOAWAY not yet seen): one fresh
      // session; a second failure is the request's own (a header node:http2 refuses).
      up.forget();
      up = sessionFor(ep);
      stream = up.session.request(headers, { endStream });
    }
    this.up = up;
    this.stream = stream;
    up.streamStarted(this);
    const s = this.stream;
    s.on('response', this.onResponse);
    s.on('data', this.onData);
    s.on('trailers', this.onTrailers);
    s.on('end', this.onEnd);
    s.on('error', ignore);
    s.on('close', this.onClose);
    s.on('drain', this.onDrain);
    if (up.connected) queueMicrotask(() => this.connected());
  }

  /** Called by the session once connected. */
  connected(): void {
    if (!this.done) this.owner.onUpConnected();
  }

  private readonly onResponse = (h: IncomingHttpHeaders, flags: number): void => {
    if (this.done) return;
    const st = Number(h[':status']);
    if (st >= 100 && st < 200) return; // interim (node passes 1xx as 'headers', not here)
    this.headSeen = true;
    const end = (flags & FLAG_END_STREAM) !== 0;
    if (end) this.done = true;
    this.owner.onUpHead(st, clientHeaders(h, st, this.via, '2'), end);
  };

  private readonly onData = (c: Buffer): void => {
    if (!this.done) this.owner.onUpData(c);
  };

  private readonly onTrailers = (t: IncomingHttpHeaders): void => {
    this.trailers = clientHeaders(t, 0, false, '');
  };

  private readonly onEnd = (): void => {
    if (this.done) return;
    if (!this.headSeen) return; // ended without a response head: reported by onClose as a reset
    // A reset also ends the readable side: that is not a complete response (onClose reports it).
    const code = this.stream.rstCode;
    if (code !== undefined && code !== 0) return;
    this.done = true;
    this.owner.onUpEnd(this.trailers);
  };

  private readonly onClose = (): void => {
    this.up.streamEnded(this);
    if (this.done) return;
    this.done = true;
    const up = this.up;
    const code = this.stream.rstCode ?? 0;
    if (!up.connected) {
      const err = up.error;
      this.owner.onUpError(false, up.timedOut, up.timedOut ? 'connect timeout' : err !== null ? connectDetail(err) : 'connect failed', 0, false);
      return;
    }
    const detail = code === NGHTTP2_REFUSED_STREAM ? 'stream refused' : code !== 0 ? `stream reset (HTTP/2 error ${code})` : 'connection closed before the response';
    this.owner.onUpError(true, false, detail, code !== 0 ? code : up.goawayCode, false);
  };

  private readonly onDrain = (): void => {
    if (!this.done) this.owner.onUpDrain();
  };

  write(b: Buffer): boolean {
    if (this.stream.writableEnded || this.stream.destroyed) return true;
    return this.stream.write(b);
  }

  end(): void {
    if (!this.stream.writableEnded && !this.stream.destroyed) this.stream.end();
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  cancel(): void {
    this.done = true;
    if (!this.stream.closed && !this.stream.destroyed) this.stream.close(NGHTTP2_CANCEL);
  }
}

function ignore(): void {}
