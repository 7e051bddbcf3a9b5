/**
 * One client (downstream) HTTP/1.1 connection and the exchange it is running: parse the request head
 * (RFC 9112, parser.ts), route, pick an endpoint, borrow a pooled upstream connection, stream the
 * request body up and the response back with back-pressure, then keep both connections alive.
 *
 * Hot-path discipline (DESIGN.md rule 6): one object per connection holds all per-request state
 * (no per-request closures, promises, stream objects or timers); deadlines are checked by one
 * coarse sweeper (sweeper.ts); requests on a connection are served in order (pipelining).
 */
import type { Socket } from 'node:net';
import { ChunkedScanner } from './chunked.ts';
import { HttpParseError, parseRequestHead, parseResponseHead, type RequestHead, type ResponseHead } from './parser.ts';
import {
  buildClientHead, buildUpstreamHead, errorResponse, FRAME_CHUNKED, FRAME_CLOSE, FRAME_NONE, FRAME_RECHUNK,
  type ClientHeadInput, type UpstreamHeadInput,
} from './rewrite.ts';
import { forwardedNode, isTrusted, normalizeIp } from './forwarded.ts';
import { takeIdle, UpstreamConn, type UpstreamOwner } from './upstream.ts';
import { IDEMPOTENT, RetryState } from '../retry-state.ts';
import type { Endpoint, PoolRuntime } from '../../runtime/pool.ts';
import type { KeyExtractor } from '../../balancing/keys.ts';
import type { CompiledRoute } from '../router/types.ts';
import type { ListenerRuntime } from './listener-runtime.ts';
import { RequestViewImpl } from './request-view.ts';
import { Dechunker } from './dechunk.ts';
import { ERROR_CODES, type ErrorCode } from '../../core/errors.ts';
import { Exchange } from '../middlewares/exchange.ts';
import { requestPhase, responsePhase } from '../middlewares/phases.ts';
import type { HookedRoute } from '../middlewares/index.ts';
import { Tunnel } from '../websocket/tunnel.ts';
import { acceptedUpgrade, upgradeToForward, upgradeValue } from '../websocket/upgrade.ts';
import { h2Handler } from '../h2-hook.ts';
import type { HttpListener } from './server.ts';

/** The HTTP/2 connection preface (RFC 9113 §3.4): prior-knowledge h2c starts with it. */
const EMPTY = Buffer.alloc(0);
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
import { redirectResponse, withHsts } from '../tls/redirect.ts';

const ST_HEAD = 0; // waiting for (the rest of) a request head
const ST_CONNECT = 1; // request accepted, upstream connection being opened
const ST_EXCHANGE = 2; // upstream attached: request going up and/or response coming back
const ST_CLOSED = 3;
const ST_TUNNEL = 4; // switched protocols (101): the socket belongs to `tunnel` (../websocket/tunnel.ts)

const BODY_NONE = 0;
const BODY_LENGTH = 1;
const BODY_CHUNKED = 2;
const BODY_CLOSE = 3; // response only: delimited by upstream close

/** How long a closed connection waits for the client's FIN before it is destroyed (ms). */
const LINGER_MS = 2000;

/** Request bytes buffered before the upstream is ready (or pipelined) before reading pauses. */
const MAX_PENDING = 64 * 1024;


/** What failed in an attempt, for `retries.on` (statuses are retried by number). */
const RETRY_CONNECT = 'connect-failure';
const RETRY_RESET = 'reset';
const RETRY_TIMEOUT = 'timeout';

export class ClientConn implements UpstreamOwner {
  readonly socket: Socket;
  readonly listener: ListenerRuntime;
  readonly clientIp: string;
  readonly clientNode: string;
  readonly trusted: boolean;
  state = ST_HEAD;
  /** Absolute deadline (ms since epoch) for the current state; 0 = none. Checked by the sweeper. */
  deadline = 0;
  /** Whole-request deadline (listener timeouts.request), 0 = none. */
  requestDeadline = 0;
  /** Buffered unparsed bytes (partial head or pipelined requests). */
  private buf: Buffer | null = null;
  private paused = false;
  private closing = false;
  private clientEnded = false;

  // Current request
  private req: RequestHead | null = null;
  private readonly view = new RequestViewImpl();
  private route: CompiledRoute | null = null;
  private pool: PoolRuntime | null = null;
  private endpoint: Endpoint | null = null;
  private up: UpstreamConn | null = null;
  private upHead = '';
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private reqMode = BODY_NONE;
  private reqRemaining = 0;
  private reqDone = true;
  private bodySent = false;
  /** The request head went out to the current attempt's endpoint (it may have acted on it). */
  private headSent = false;
  private key: string | undefined = undefined;
  /** The key was picked as bytes (Pool.spanKey): extract its string on a retry. */
  private keyLater = false;
  /** Attempts, endpoints tried, the body kept for a replay: the retry state shared with HTTP/2. */
  private readonly rs = new RetryState();
  /** The endpoint chosen for the next attempt while the backoff delay runs. */
  private nextEp: Endpoint | null = null;
  /** This request counts in pool.active / pool.pending (circuit breakers). */
  private holdsActive = false;
  private holdsPending = false;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Start of the current attempt (performance.now()), for the endpoint's latency. */
  private attemptAt = 0;
  private readonly reqScanner = new ChunkedScanner();
  private startedAt = 0;
  /** performance.now() when the response head arrived (0 before). */
  private headerAt = 0;
  private keepAlive = true;
  /** Upgrade value passed to the endpoint for the current request (../websocket/upgrade.ts), or null. */
  private upgrade: string | null = null;
  /** Set once the connection switched protocols. */
  private tunnel: Tunnel | null = null;

  // Current response
  private resp: ResponseHead | null = null;
  private respBuf: Buffer | null = null;
  private respMode = BODY_NONE;
  private respFraming = FRAME_NONE;
  private respRemaining = 0;
  private readonly respScanner = new ChunkedScanner(true);
  private dechunker: Dechunker | null = null;
  private status = 0;

  /**
   * Middlewares and affinity (null when the route has no hooks and the pool no affinity: the plain
   * path). `xObj` is allocated on first use and reused by the connection's later requests.
   */
  private x: Exchange | null = null;
  private xObj: Exchange | null = null;
  /** Affinity: the slot the request is pinned to (-1: none) and whether the first pick honoured it. */
  private pinned = -1;
  private honored = false;

  private readonly upIn: UpstreamHeadInput;
  private readonly clientIn: ClientHeadInput;
  /** mTLS subject header line for the upstream (`''`: none verified), null when the listener does not send one. */
  private readonly certLine: string | null;

  /** `sourceIp`: the client address carried by a PROXY header (../proxy-stage.ts); default the socket's peer. */
  constructor(socket: Socket, listener: ListenerRuntime, sourceIp?: string) {
    this.socket = socket;
    this.listener = listener;
    this.clientIp = normalizeIp(sourceIp ?? socket.remoteAddress);
    this.clientNode = forwardedNode(this.clientIp);
    this.trusted = isTrusted(listener.trust, this.clientIp);
    const cfg = listener.config;
    this.upIn = {
      method: '', target: '', names: [], values: [], connectionTokens: null, host: null, chunked: false,
      clientIp: this.clientIp, clientNode: this.clientNode, trusted: this.trusted, xForwarded: cfg.xForwarded,
      proto: listener.proto, clientMinor: 1, via: cfg.via, endpointAddress: '', upgrade: null,
    };
    this.clientIn = {
      status: 0, reason: '', names: [], values: [], connectionTokens: null, framing: FRAME_NONE,
      keepAlive: true, clientMinor: 1, via: cfg.via, upstreamMinor: 1, upgrade: null,
    };
    this.certLine = listener.certSubjectLine?.(socket) ?? null;
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('drain', this.onDrain);
    this.deadline = Date.now() + listener.config.timeouts.header;
    listener.conns.add(this);
  }

  // ---------------------------------------------------------------- client socket events

  private readonly onData = (chunk: Buffer): void => {
    if (this.state === ST_HEAD) this.feedHead(chunk);
    else if (this.state === ST_CLOSED) return; // lingering close: input is discarded
    else if (!this.reqDone) this.feedBody(chunk, 0, chunk.length);
    else this.stash(chunk, 0, chunk.length);
  };

  private readonly onEnd = (): void => {
    this.clientEnded = true;
    if (this.state === ST_CLOSED) {
      this.socket.destroy(); // both sides done
    } else if (this.state === ST_HEAD) {
      if (this.buf !== null) this.fail(400, 'FULCRUM_E_BAD_REQUEST');
      else this.closeConn();
    } else if (!this.reqDone) {
      this.abort(); // request body cut short
    }
    // otherwise the response is still delivered; the connection closes after it
  };

  private readonly onError = (): void => {
    // 'close' follows and does the cleanup
  };

  private readonly onClose = (): void => {
    const t = this.tunnel;
    if (t !== null) {
      t.onClientClose(); // tunnelDone() forgets the connection once the upstream side is closed too
      return;
    }
    if (this.state !== ST_HEAD && this.state !== ST_CLOSED && (this.endpoint !== null || this.holdsActive)) {
      this.finishStats(499);
    }
    this.clearRetry();
    this.state = ST_CLOSED;
    this.deadline = 0;
    const up = this.up;
    this.up = null;
    if (up !== null) up.destroy();
    this.listener.conns.delete(this);
    this.listener.onConnClosed();
  };

  private readonly onDrain = (): void => {
    const up = this.up;
    if (up !== null && up.socket.isPaused()) up.socket.resume();
  };

  // ---------------------------------------------------------------- request head

  private feedHead(chunk: Buffer): void {
    let buf: Buffer;
    if (this.buf === null) {
      buf = chunk;
      if (this.deadline === 0 || this.keepAliveIdle) {
        this.keepAliveIdle = false;
        this.deadline = Date.now() + this.listener.config.timeouts.header;
      }
    } else {
      buf = Buffer.concat([this.buf, chunk]);
    }
    if (this.first && buf[0] === 0x50 && this.h2Preface(buf)) return;
    this.parseHead(buf);
  }

  /** No request has started on this connection yet (only the first bytes may be the HTTP/2 preface). */
  private first = true;

  /**
   * Prior-knowledge h2c (RFC 9113 §3.3): a connection that opens with the HTTP/2 preface is handed,
   * with the bytes read so far, to the HTTP/2 server (h2-hook.ts). Returns false when `buf` is not
   * (the start of) the preface or HTTP/2 is off; then the HTTP/1.1 parser answers it.
   */
  private h2Preface(buf: Buffer): boolean {
    const n = Math.min(buf.length, H2_PREFACE.length);
    if (buf.compare(H2_PREFACE, 0, n, 0, n) !== 0) return false;
    const h2 = h2Handler();
    if (h2 === null || !this.listener.config.http2.enabled) return false;
    if (n < H2_PREFACE.length) {
      this.buf = buf; // wait for the rest of the preface (header deadline applies)
      return true;
    }
    const s = this.socket;
    s.pause();
    s.off('data', this.onData).off('end', this.onEnd).off('error', this.onError).off('close', this.onClose).off('drain', this.onDrain);
    this.state = ST_CLOSED;
    this.deadline = 0;
    this.buf = null;
    this.listener.conns.delete(this);
    h2(s, this.listener as HttpListener, buf, this.clientIp);
    return true;
  }

  /** Set while the connection waits for the next request on keep-alive (idle timeout applies). */
  private keepAliveIdle = false;

  private parseHead(buf: Buffer): void {
    let head: RequestHead | null;
    try {
      head = parseRequestHead(buf, 0, buf.length, this.listener.limits);
    } catch (err) {
      this.buf = null;
      if (err instanceof HttpParseError) this.fail(err.status, err.code);
      else this.fail(400, 'FULCRUM_E_BAD_REQUEST');
      return;
    }
    if (head === null) {
      this.buf = buf;
      return;
    }
    this.buf = null;
    this.startRequest(head, buf, head.headEnd, buf.length);
    // The pick has read the key's bytes (synchronously, above); the head must not keep the
    // received buffer alive for the rest of the exchange or an idle keep-alive connection.
    head.raw = EMPTY;
  }

  private startRequest(head: RequestHead, buf: Buffer, bodyStart: number, end: number): void {
    const listener = this.listener;
    const now = Date.now();
    this.first = false;
    this.req = head;
    this.startedAt = performance.now();
    this.headerAt = 0;
    this.requestDeadline = listener.config.timeouts.request > 0 ? now + listener.config.timeouts.request : 0;
    this.deadline = 0;
    this.keepAlive = head.keepAlive && !listener.draining;
    this.status = 0;
    this.resp = null;
    this.respBuf = null;
    this.bodySent = false;
    this.headSent = false;
    this.rs.reset();
    this.route = null;
    this.pool = null;
    this.endpoint = null;
    // body framing of the request
    if (head.chunked) {
      this.reqMode = BODY_CHUNKED;
      this.reqScanner.reset();
      this.reqDone = false;
    } else if (head.contentLength > 0) {
      this.reqMode = BODY_LENGTH;
      this.reqRemaining = head.contentLength;
      this.reqDone = false;
    } else {
      this.reqMode = BODY_NONE;
      this.reqDone = true;
    }
    this.state = ST_CONNECT;
    this.upgrade = head.upgrade ? upgradeToForward(head, listener.config.webSocket) : null;

    const snap = listener.snapshot;
    this.view.reset(head, this.clientIp);
    const route = snap.router.match(this.view);
    if (route === null) {
      this.reject(404, 'FULCRUM_E_NO_ROUTE', buf, bodyStart, end);
      return;
    }
    this.route = route;
    this.x = null;
    if (route.spec.redirect !== undefined) {
      this.redirect(route.spec.redirect, head, buf, bodyStart, end);
      return;
    }
    const hooks = (route as HookedRoute).hooks;
    if (hooks != null) {
      const answer = requestPhase(hooks, this.exchange(head, route), now);
      if (answer !== null) {
        this.reject(answer.status, answer.code, buf, bodyStart, end, fieldLines(answer.names, answer.values));
        return;
      }
    }
    const pool = snap.pools.get(route.pickPool())!;
    this.pool = pool;
    let key: string | undefined;
    // The key as bytes in the request buffer when the key kind allows (no string cut out; a retry
    // extracts the string later, the buffer being gone by then): spanned = 1 present, 0 missing.
    let spanned = -1;
    if (pool.key !== null) {
      spanned = pool.spanKey(this.view);
      if (spanned < 0) {
        key = pool.key.extract(this.view);
        if (key === '') key = undefined; // an empty key counts as missing (nginx balances it round robin)
      }
      const missing = spanned < 0 ? key === undefined : spanned === 0;
      if (missing && pool.rejectMissingKey) {
        this.reject(503, 'FULCRUM_E_HASH_KEY_MISSING', buf, bodyStart, end);
        return;
      }
    }
    if (pool.active >= pool.config.circuitBreakers.maxRequests) {
      pool.health.breakerRejected('requests');
      this.reject(503, 'FULCRUM_E_CIRCUIT_OPEN', buf, bodyStart, end);
      return;
    }
    this.key = key;
    this.keyLater = spanned === 1;
    let ep: Endpoint | null = null;
    this.pinned = -1;
    const aff = pool.affinity;
    if (aff !== null) {
      this.pinned = aff.pin(this.x ?? this.exchange(head, route), now);
      if (this.pinned >= 0) ep = pool.pickPinned(this.pinned, null);
    }
    this.honored = ep !== null;
    if (ep === null) ep = spanned >= 0 ? pool.pickSpanned(null) : pool.pick(key, null);
    if (ep === null) {
      this.reject(503, 'FULCRUM_E_NO_HEALTHY_UPSTREAM', buf, bodyStart, end);
      return;
    }
    pool.active++;
    this.holdsActive = true;
    pool.health.budget.onRequest(now);
    if (!this.reqDone && pool.config.retries.attempts > 1 && pool.config.retries.bufferBody > 0) this.rs.replay = [];
    // One input object per connection, refilled per request (no object literal per request).
    const u = this.upIn;
    u.method = head.method;
    const x = this.x as Exchange | null; // set by exchange() above (TS keeps the earlier null narrowing)
    if (x === null) {
      u.target = head.target;
      u.names = head.names;
      u.values = head.values;
    } else {
      u.target = x.target;
      u.names = x.names;
      u.values = x.values;
    }
    u.connectionTokens = head.connectionTokens;
    // The client's own copy of the mTLS subject header is dropped (as a Connection token would be).
    if (this.certLine !== null) u.connectionTokens = [...(head.connectionTokens ?? []), listener.clientCertHeader as string];
    u.host = head.host;
    u.chunked = head.chunked;
    u.clientMinor = head.minor;
    u.upgrade = this.upgrade;
    if (!this.startAttempt(ep)) return;
    if (bodyStart < end) {
      if (this.reqDone) this.stash(buf, bodyStart, end);
      else this.feedBody(buf, bodyStart, end);
    }
    if (this.upHeadOut) {
      this.upHeadOut = false;
      this.headSent = true;
      (this.up as UpstreamConn).socket.write(this.upHead, 'latin1');
    }
    if (bodyStart >= end && this.reqDone) this.onRequestSent();
  }

  /** The connection's Exchange, reset for this request (middlewares, affinity). */
  private exchange(head: RequestHead, route: CompiledRoute): Exchange {
    const x = (this.xObj ??= new Exchange(this.view));
    x.reset(head.target, head.names, head.values, this.clientIp, route.name);
    this.x = x;
    return x;
  }

  /** Response phase of the route's middlewares and the pool's affinity; the client head gets their fields. */
  private responseHooks(x: Exchange, head: ResponseHead, c: ClientHeadInput): void {
    const ep = this.endpoint;
    responsePhase(x, head.names, head.values, (this.route as HookedRoute).hooks, (this.pool as PoolRuntime).affinity,
      ep === null ? -1 : ep.index, this.pinned, this.honored, Date.now());
    c.names = x.respNames;
    c.values = x.respValues;
  }

  /** The upstream request head is due on an attached connection (joined with the first body bytes). */
  private upHeadOut = false;

  /**
   * Starts an attempt on `ep`: builds the upstream head for it and borrows or opens a connection.
   * Returns false when the request was answered instead (a circuit breaker is open).
   */
  private startAttempt(ep: Endpoint): boolean {
    const pool = this.pool as PoolRuntime;
    const idle = this.upgrade === null ? takeIdle(ep) : null; // an upgrade gets a fresh connection
    if (idle === null) {
      const cb = pool.config.circuitBreakers;
      const breaker = pool.pending >= cb.maxPending ? 'pending' : pool.openConnections() >= cb.maxConnections ? 'connections' : '';
      if (breaker !== '') {
        pool.health.breakerRejected(breaker);
        this.upstreamFailed(503, 'FULCRUM_E_CIRCUIT_OPEN');
        return false;
      }
    }
    this.rs.attempt++;
    this.endpoint = ep;
    this.attemptAt = performance.now();
    this.headSent = false;
    pool.load.start(ep.index);
    this.upIn.endpointAddress = ep.address;
    this.upHead = buildUpstreamHead(this.upIn);
    if (this.certLine !== null && this.certLine !== '') this.upHead = this.upHead.slice(0, -2) + this.certLine + '\r\n';
    if (idle !== null) {
      idle.acquire(this);
      this.up = idle;
      this.state = ST_EXCHANGE;
      this.upHeadOut = true; // written with the first body bytes (startRequest), or by writeUpHead
    } else {
      this.up = new UpstreamConn(ep, this, this.upgrade !== null);
      this.state = ST_CONNECT;
      pool.pending++;
      this.holdsPending = true;
      this.deadline = Date.now() + pool.config.timeouts.connect;
    }
    return true;
  }

  private releasePending(): void {
    if (this.holdsPending) {
      this.holdsPending = false;
      (this.pool as PoolRuntime).pending--;
    }
  }

  /** A redirect route (docs/tls.md): answers 30x with the https Location, like reject() otherwise. */
  private redirect(r: { scheme: string; code: number; port?: number }, head: RequestHead, buf: Buffer, bodyStart: number, end: number): void {
    if (!this.reqDone) this.keepAlive = false;
    const resp = redirectResponse(r, head.host, head.target, this.keepAlive, head.method === 'HEAD');
    if (resp === null) {
      this.reject(400, 'FULCRUM_E_BAD_REQUEST', buf, bodyStart, end);
      return;
    }
    this.status = r.code;
    this.socket.write(resp, 'latin1');
    this.finishStats(r.code);
    if (this.keepAlive && this.reqDone && bodyStart < end) this.stash(buf, bodyStart, end);
    this.endExchange();
  }

  /** Answers the request with an error without contacting any endpoint; skips its body. */
  private reject(status: number, code: ErrorCode, buf: Buffer, bodyStart: number, end: number, extraHead = ''): void {
    this.status = status;
    if (!this.reqDone) {
      // We do not read a body we are not going to forward: answer and close.
      this.keepAlive = false;
    }
    this.respondError(status, code, extraHead);
    this.finishStats(status);
    // Bytes after a body-less request are the next pipelined requests: keep them for endExchange.
    if (this.keepAlive && this.reqDone && bodyStart < end) this.stash(buf, bodyStart, end);
    this.endExchange();
  }

  // ---------------------------------------------------------------- request body

  private feedBody(buf: Buffer, start: number, end: number): void {
    if (this.reqMode === BODY_LENGTH) {
      const n = Math.min(this.reqRemaining, end - start);
      this.sendUp(start === 0 && n === buf.length ? buf : buf.subarray(start, start + n));
      this.reqRemaining -= n;
      if (this.reqRemaining === 0) {
        this.reqDone = true;
        this.onRequestSent();
        if (start + n < end) this.stash(buf, start + n, end);
      }
      return;
    }
    let stop: number;
    try {
      stop = this.reqScanner.scan(buf, start, end);
    } catch (err) {
      const e = err as HttpParseError;
      if (this.status === 0 && this.resp === null) {
        this.dropUpstream();
        this.finishStats(400);
        this.fail(e.status ?? 400, e.code ?? 'FULCRUM_E_BAD_REQUEST');
      } else this.abort();
      return;
    }
    if (stop < 0) {
      this.sendUp(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
      return;
    }
    this.sendUp(buf.subarray(start, stop));
    this.reqDone = true;
    this.onRequestSent();
    if (stop < end) this.stash(buf, stop, end);
  }

  private sendUp(b: Buffer): void {
    if (b.length === 0) return;
    this.rs.keep(b, (this.pool as PoolRuntime).config.retries.bufferBody);
    const up = this.up;
    if (up === null) return; // request answered (error) or between attempts (the replay has the bytes)
    if (this.state === ST_CONNECT) {
      this.pending.push(b);
      this.pendingBytes += b.length;
      if (this.pendingBytes > MAX_PENDING) this.pauseClient();
      return;
    }
    this.bodySent = true;
    let ok: boolean;
    if (this.upHeadOut) {
      this.upHeadOut = false;
      this.headSent = true;
      ok = up.socket.write(joinHead(this.upHead, b));
    } else ok = up.socket.write(b);
    if (!ok) this.pauseClient();
  }

  /** The whole request has been handed to the upstream socket: start the response deadline. */
  private onRequestSent(): void {
    if (this.resp === null && this.state === ST_EXCHANGE && this.pool !== null) {
      const c = this.pool.config;
      this.deadline = Date.now() + (c.retries.perTryTimeout > 0 ? c.retries.perTryTimeout : c.timeouts.response);
    }
  }

  /** Keeps bytes that arrived after the current request (pipelining) until it completes. */
  private stash(buf: Buffer, start: number, end: number): void {
    const part = buf.subarray(start, end);
    this.buf = this.buf === null ? Buffer.from(part) : Buffer.concat([this.buf, part]);
    if (this.buf.length > MAX_PENDING) this.pauseClient();
  }

  private pauseClient(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private resumeClient(): void {
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  // ---------------------------------------------------------------- upstream events

  onUpstreamConnect(up: UpstreamConn): void {
    if (up !== this.up) return;
    this.state = ST_EXCHANGE;
    this.deadline = 0;
    this.releasePending();
    this.headSent = true;
    const s = up.socket;
    if (this.pending.length === 0) {
      s.write(this.upHead, 'latin1');
    } else {
      s.cork();
      s.write(this.upHead, 'latin1');
      for (const b of this.pending) s.write(b);
      s.uncork();
      this.bodySent = true;
      this.pending = [];
      this.pendingBytes = 0;
      if (s.writableNeedDrain) this.pauseClient();
      else this.resumeClient();
    }
    if (this.reqDone) this.onRequestSent();
  }

  onUpstreamDrain(up: UpstreamConn): void {
    if (up === this.up && !this.reqDone) this.resumeClient();
  }

  onUpstreamData(up: UpstreamConn, chunk: Buffer): void {
    if (up !== this.up) return;
    if (this.resp === null) this.feedResponseHead(chunk);
    else this.feedResponseBody(chunk, 0, chunk.length);
  }

  private feedResponseHead(chunk: Buffer): void {
    let buf = this.respBuf === null ? chunk : Buffer.concat([this.respBuf, chunk]);
    let start = 0;
    const method = (this.req as RequestHead).method;
    for (let guard = 0; guard < 1000; guard++) {
      let head: ResponseHead | null;
      try {
        head = parseResponseHead(buf, start, buf.length, this.listener.limits, method);
      } catch {
        this.upstreamFailed(502, 'FULCRUM_E_UPSTREAM_BAD_RESPONSE');
        return;
      }
      if (head === null) {
        this.respBuf = Buffer.from(start === 0 ? buf : buf.subarray(start)); // copy: buf may be the shared read buffer
        return;
      }
      if (head.status >= 100 && head.status < 200) {
        if (head.status === 101) {
          if (this.upgrade !== null) this.switchProtocols(head, buf);
          else this.upstreamFailed(502, 'FULCRUM_E_UPSTREAM_BAD_RESPONSE');
          return;
        }
        // Interim response: relay to HTTP/1.1 clients, keep reading the final one.
        if ((this.req as RequestHead).minor >= 1) this.socket.write(Buffer.from(buf.subarray(start, head.headEnd)));
        start = head.headEnd;
        continue;
      }
      this.respBuf = null;
      this.startResponse(head, buf, head.headEnd, buf.length);
      return;
    }
  }

  private startResponse(head: ResponseHead, buf: Buffer, bodyStart: number, end: number): void {
    const st = head.status;
    if (st >= 500) {
      this.recordOutcome(st >= 502 && st <= 504 ? 'gateway' : 'error', String(st));
      // A status listed in retries.on: drop this response and try another endpoint, if one may be tried.
      if (this.retryLater(st)) return;
    } else this.recordOutcome('success', '');
    this.resp = head;
    this.status = head.status;
    this.deadline = 0;
    this.headerAt = performance.now();
    const req = this.req as RequestHead;
    // A response that arrives before the request body finished: answer, then close (the rest of
    // the request body cannot be reused on this connection).
    if (!this.reqDone || this.listener.draining) this.keepAlive = false;
    let framing = FRAME_NONE;
    if (head.noBody) {
      this.respMode = BODY_NONE;
    } else if (head.chunked) {
      this.respMode = BODY_CHUNKED;
      this.respScanner.reset();
      if (req.minor >= 1) framing = FRAME_CHUNKED;
      else {
        // HTTP/1.0 clients cannot read chunked framing; Fulcrum forwards the body and closes.
        framing = FRAME_CLOSE;
        this.keepAlive = false;
        (this.dechunker ??= new Dechunker()).reset();
      }
    } else if (head.contentLength >= 0) {
      this.respMode = BODY_LENGTH;
      this.respRemaining = head.contentLength;
    } else {
      this.respMode = BODY_CLOSE;
      if (req.minor >= 1) framing = FRAME_RECHUNK;
      else {
        framing = FRAME_CLOSE;
        this.keepAlive = false;
      }
    }
    this.respFraming = framing;
    const c = this.clientIn;
    c.status = head.status;
    c.reason = head.reason;
    c.names = head.names;
    c.values = head.values;
    c.connectionTokens = head.connectionTokens;
    c.framing = framing;
    c.keepAlive = this.keepAlive;
    c.clientMinor = req.minor;
    c.upstreamMinor = head.minor;
    if (this.x !== null) this.responseHooks(this.x, head, c);
    let clientHead = buildClientHead(c);
    const sts = (this.route as CompiledRoute).spec.hsts;
    if (sts !== undefined && this.listener.proto === 'https') clientHead = withHsts(clientHead, head.names, sts);
    const s = this.socket;
    if (this.respMode === BODY_NONE || this.respMode === BODY_LENGTH && this.respRemaining === 0) {
      s.write(clientHead, 'latin1');
      this.responseDone(bodyStart === end);
      return;
    }
    if (bodyStart < end) {
      this.headOut = clientHead;
      this.feedResponseBody(buf, bodyStart, end);
      if (this.headOut !== null) this.flushHead();
    } else {
      s.write(clientHead, 'latin1');
    }
  }

  /** Response head not yet written: it goes out with the first body bytes in one write. */
  private headOut: string | null = null;

  private flushHead(): void {
    const h = this.headOut as string;
    this.headOut = null;
    this.socket.write(h, 'latin1');
  }

  private feedResponseBody(buf: Buffer, start: number, end: number): void {
    const mode = this.respMode;
    if (mode === BODY_LENGTH) {
      const n = Math.min(this.respRemaining, end - start);
      this.writeClient(start === 0 && n === buf.length ? buf : buf.subarray(start, start + n));
      this.respRemaining -= n;
      if (this.respRemaining === 0) this.responseDone(start + n === end);
      return;
    }
    if (mode === BODY_CHUNKED) {
      let stop: number;
      try {
        stop = this.respScanner.scan(buf, start, end);
      } catch {
        this.abort();
        return;
      }
      if (stop < 0) {
        this.writeDechunkOrRaw(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
        return;
      }
      this.writeDechunkOrRaw(buf.subarray(start, stop));
      this.responseDone(stop === end);
      return;
    }
    // BODY_CLOSE
    const part = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
    if (part.length === 0) return;
    if (this.respFraming === FRAME_RECHUNK) {
      if (this.headOut !== null) this.flushHead();
      const s = this.socket;
      s.cork();
      s.write(part.length.toString(16) + '\r\n', 'latin1');
      s.write(copyOf(part));
      const ok = s.write('\r\n', 'latin1');
      s.uncork();
      if (!ok) this.up?.socket.pause();
    } else this.writeClient(part);
  }

  /** Chunked bytes go through as received; for HTTP/1.0 clients the framing is kept out (see dechunk.ts). */
  private writeDechunkOrRaw(b: Buffer): void {
    if (this.respFraming === FRAME_CLOSE) this.writeClient((this.dechunker ??= new Dechunker()).feed(b));
    else this.writeClient(b);
  }

  private writeClient(b: Buffer): void {
    const h = this.headOut;
    if (h !== null) {
      this.headOut = null;
      const ok = b.length === 0 ? this.socket.write(h, 'latin1') : this.socket.write(joinHead(h, b));
      if (!ok) this.up?.socket.pause();
      return;
    }
    if (b.length === 0) return;
    if (!this.socket.write(copyOf(b))) this.up?.socket.pause();
  }

  onUpstreamEnd(up: UpstreamConn): void {
    if (up !== this.up) return;
    if (this.resp !== null && this.respMode === BODY_CLOSE) {
      if (this.respFraming === FRAME_RECHUNK) this.socket.write('0\r\n\r\n', 'latin1');
      this.responseDone(false);
      return;
    }
    this.onUpstreamError(up, Object.assign(new Error('upstream closed the connection'), { code: 'EPIPE' }));
  }

  onUpstreamError(up: UpstreamConn, _err: Error & { code?: string }): void {
    if (up !== this.up) return;
    if (this.resp !== null) {
      this.abort(); // response already started: the client sees a cut connection, as with any proxy
      return;
    }
    if (this.state === ST_CONNECT) {
      this.attemptFailed(502, 'FULCRUM_E_UPSTREAM_CONNECT', RETRY_CONNECT, connectDetail(_err));
      return;
    }
    // A pooled connection the endpoint closed while we reused it: retry once on a fresh connection
    // when nothing of the request body has gone out and the method is idempotent.
    const req = this.req as RequestHead;
    if (up.reused > 0 && !this.rs.retriedSame && !this.bodySent && this.respBuf === null && IDEMPOTENT.has(req.method)) {
      this.rs.retriedSame = true;
      up.destroy();
      this.up = new UpstreamConn(this.endpoint as Endpoint, this);
      this.state = ST_CONNECT;
      this.pool!.pending++;
      this.holdsPending = true;
      this.deadline = Date.now() + (this.pool as PoolRuntime).config.timeouts.connect;
      return;
    }
    this.attemptFailed(502, 'FULCRUM_E_UPSTREAM_RESET', RETRY_RESET, 'connection reset before the response');
  }

  // ---------------------------------------------------------------- completion and errors

  /** Called by the sweeper when `deadline` or `requestDeadline` has passed. */
  onDeadline(now: number): void {
    if (this.tunnel !== null) {
      this.tunnel.onDeadline(now);
      return;
    }
    if (this.state === ST_CLOSED) {
      if (this.deadline !== 0 && now >= this.deadline) this.socket.destroy(); // linger over
      return;
    }
    if (this.requestDeadline !== 0 && now >= this.requestDeadline && this.state !== ST_HEAD) {
      if (this.resp === null) {
        if (this.headSent) this.recordOutcome('gateway', 'request timeout');
        this.upstreamFailed(504, 'FULCRUM_E_REQUEST_TIMEOUT');
      } else this.abort();
      return;
    }
    if (this.deadline === 0 || now < this.deadline) return;
    if (this.state === ST_HEAD) {
      if (this.buf !== null && this.buf.length > 0) this.fail(408, 'FULCRUM_E_HEADER_TIMEOUT');
      else this.socket.destroy(); // idle keep-alive connection: close quietly
    } else if (this.state === ST_CONNECT) {
      this.attemptFailed(504, 'FULCRUM_E_UPSTREAM_CONNECT_TIMEOUT', RETRY_CONNECT, 'connect timeout');
    } else if (this.resp === null) {
      this.attemptFailed(504, 'FULCRUM_E_UPSTREAM_TIMEOUT', RETRY_TIMEOUT, 'response timeout');
    }
  }

  // ---------------------------------------------------------------- attempts and retries

  /** Reports the current attempt's outcome to outlier detection (on the endpoint's newest incarnation). */
  private recordOutcome(outcome: 'success' | 'error' | 'gateway', detail: string): void {
    this.endpoint?.recordOutcome(outcome, detail);
  }

  /** The current attempt failed before any response byte: retry it elsewhere, or answer the error. */
  private attemptFailed(status: number, code: ErrorCode, kind: string, detail: string): void {
    this.recordOutcome('gateway', detail);
    if (this.retryLater(kind)) return;
    this.upstreamFailed(status, code);
  }

  /**
   * Starts a retry of the request on another endpoint when `retries` allow it: attempts left, `kind`
   * listed in retries.on, the request safe to repeat (nothing sent yet, or an idempotent method whose
   * body, if any, was kept), another endpoint choosable, and the retry budget not spent. The next
   * attempt starts after the backoff delay. Returns false (nothing changed) otherwise.
   */
  private retryLater(kind: string | number): boolean {
    const pool = this.pool;
    const ep = this.endpoint;
    const req = this.req;
    if (pool === null || ep === null || req === null) return false;
    if (this.keyLater) {
      this.keyLater = false;
      this.key = (pool.key as KeyExtractor).extract(this.view) || undefined;
    }
    const next = this.rs.next(pool, ep, kind, this.headSent, req.method, this.key);
    if (next === null) return false;
    // Close the failed attempt: its endpoint's counters, its connection.
    this.endAttempt(true);
    this.dropUpstream();
    this.releasePending();
    this.resp = null;
    this.respBuf = null;
    this.status = 0;
    this.headerAt = 0;
    this.headSent = false;
    this.state = ST_CONNECT;
    this.deadline = 0;
    this.nextEp = next;
    const delay = this.rs.backoffMs(pool);
    if (delay < 1) this.nextAttempt();
    else this.retryTimer = setTimeout(this.onRetryTimer, delay);
    return true;
  }

  private readonly onRetryTimer = (): void => {
    this.retryTimer = null;
    if (this.state === ST_CONNECT && this.up === null) this.nextAttempt();
  };

  private clearRetry(): void {
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    this.nextEp = null;
  }

  /** Runs the next attempt on the endpoint retryLater chose, replaying the kept request body. */
  private nextAttempt(): void {
    const ep = this.nextEp;
    this.nextEp = null;
    if (ep === null) return;
    if (!this.startAttempt(ep)) return;
    const replay = this.rs.replay;
    if (this.state === ST_CONNECT) {
      // onUpstreamConnect writes the head and the pending body bytes.
      if (replay !== null && replay.length > 0) {
        this.pending = replay.slice();
        this.pendingBytes = this.rs.replayBytes;
      }
      return;
    }
    // An idle keep-alive connection: head and kept body go out now.
    const s = (this.up as UpstreamConn).socket;
    this.upHeadOut = false;
    this.headSent = true;
    s.cork();
    s.write(this.upHead, 'latin1');
    if (replay !== null) for (const b of replay) s.write(b);
    s.uncork();
    if (replay !== null && replay.length > 0) this.bodySent = true;
    if (this.reqDone) this.onRequestSent();
  }

  /** Ends the current attempt's bookkeeping on its endpoint (load counters, latency). */
  private endAttempt(failed: boolean): void {
    const ep = this.endpoint;
    if (ep === null) return;
    this.endpoint = null;
    const t = performance.now();
    const ms = t - this.attemptAt;
    const headerMs = this.headerAt === 0 ? ms : this.headerAt - this.attemptAt;
    const e = ep.latest();
    e.pool.load.end(e.index, failed, ms, headerMs, Date.now());
  }

  /** The exchange failed before any response byte reached the client: answer with an error. */
  private upstreamFailed(status: number, code: ErrorCode): void {
    this.clearRetry();
    this.releasePending();
    this.dropUpstream();
    if (!this.reqDone) this.keepAlive = false;
    this.status = status;
    this.respondError(status, code);
    this.finishStats(status);
    this.endExchange();
  }

  private dropUpstream(): void {
    const up = this.up;
    this.up = null;
    if (up !== null) up.destroy();
    this.pending = [];
    this.pendingBytes = 0;
  }

  private respondError(status: number, code: ErrorCode, extraHead = ''): void {
    const req = this.req;
    // The route's HSTS on Fulcrum's own answers too (502, 503, 429 …), over TLS, as on proxied ones.
    const sts = this.route?.spec.hsts;
    if (sts !== undefined && this.listener.proto === 'https') extraHead += 'Strict-Transport-Security: ' + sts + '\r\n';
    this.socket.write(errorResponse(status, code, this.keepAlive, req !== null && req.method === 'HEAD', extraHead), 'latin1');
  }

  /** A protocol error from the client: answer (when possible) and close. */
  private fail(status: number, code: ErrorCode): void {
    if (this.state === ST_CLOSED) return;
    const s = ERROR_CODES[code].status || status;
    this.listener.onProtocolError(code);
    this.state = ST_CLOSED;
    this.deadline = 0;
    this.buf = null;
    this.socket.write(errorResponse(s, code, false), 'latin1');
    this.closeConn();
  }

  /** Something broke mid-stream: cut both sides. */
  private abort(): void {
    if (this.endpoint !== null && this.state !== ST_HEAD && this.state !== ST_CLOSED) this.finishStats(this.status || 502);
    this.endpoint = null;
    this.dropUpstream();
    this.state = ST_CLOSED;
    this.socket.destroy();
  }

  private responseDone(clean: boolean): void {
    const up = this.up;
    this.up = null;
    if (up !== null) {
      const resp = this.resp as ResponseHead;
      if (clean && this.reqDone && resp.keepAlive && this.respMode !== BODY_CLOSE && this.upgrade === null) {
        up.release(this.pool!.config.keepAlive.maxIdle, Date.now());
      } else up.destroy();
    }
    this.finishStats(this.status);
    this.endExchange();
  }

  private finishStats(status: number): void {
    const ep = this.endpoint;
    this.endAttempt(status >= 500 || status === 0);
    this.releasePending();
    if (this.holdsActive) {
      this.holdsActive = false;
      (this.pool as PoolRuntime).active--;
    }
    this.listener.record(this.route, this.pool, ep, status, performance.now() - this.startedAt);
  }

  /** Back to reading the next request, or close. */
  private endExchange(): void {
    this.clearRetry();
    this.req = null;
    this.resp = null;
    this.route = null;
    this.pool = null;
    this.endpoint = null;
    this.x = null;
    this.requestDeadline = 0;
    if (this.state === ST_CLOSED) return;
    if (!this.keepAlive || this.closing || (this.clientEnded && (this.buf === null || this.buf.length === 0))) {
      this.closeConn();
      return;
    }
    this.state = ST_HEAD;
    this.keepAliveIdle = true;
    this.deadline = Date.now() + this.listener.config.timeouts.idle;
    const pending = this.buf;
    this.buf = null;
    this.resumeClient();
    if (pending !== null && pending.length > 0) {
      this.keepAliveIdle = false;
      this.deadline = Date.now() + this.listener.config.timeouts.header;
      this.parseHead(pending);
    }
  }

  /**
   * Closes our side after what was written, then waits up to LINGER_MS for the client to close its
   * side (reading and discarding input, so a client still sending does not get a reset that would
   * destroy the response in flight — a lingering close), then destroys the socket.
   */
  private closeConn(): void {
    this.state = ST_CLOSED;
    this.buf = null;
    this.requestDeadline = 0;
    this.deadline = Date.now() + LINGER_MS;
    this.resumeClient();
    this.socket.end();
    if (this.clientEnded) this.socket.destroySoon();
  }

  /** Graceful shutdown: close now if idle, else after the current exchange. */
  shutdown(): void {
    this.closing = true;
    if (this.tunnel !== null) {
      this.tunnel.shutdown(Date.now());
      return;
    }
    if (this.state === ST_HEAD && this.buf === null) this.closeConn();
  }

  // ---------------------------------------------------------------- switched protocols (101)

  /**
   * The endpoint answered an upgrade request with 101 (RFC 9110 §15.2.2): relay the 101 head and
   * hand both sockets to a Tunnel (../websocket/tunnel.ts), which keeps this exchange's hold on the
   * endpoint's in-flight count and the pool's `active` count. A 101 naming a protocol the request
   * did not offer gets 502. `buf` may be the upstream's shared read buffer (the tunnel copies).
   */
  private switchProtocols(head: ResponseHead, buf: Buffer): void {
    const proto = acceptedUpgrade(head, this.upgrade as string);
    if (proto === null) {
      this.upstreamFailed(502, 'FULCRUM_E_UPSTREAM_BAD_RESPONSE');
      return;
    }
    this.recordOutcome('success', '');
    const up = this.up as UpstreamConn;
    const ep = this.endpoint as Endpoint;
    const pool = this.pool as PoolRuntime;
    const t = performance.now();
    const c = this.clientIn;
    c.status = 101;
    c.reason = head.reason;
    c.names = head.names;
    c.values = head.values;
    c.connectionTokens = head.connectionTokens;
    c.framing = FRAME_NONE;
    c.clientMinor = 1;
    c.upstreamMinor = head.minor;
    c.upgrade = upgradeValue(head);
    // The 101 is the upgrade's response: response header rules and the sticky cookie apply to it.
    if (this.x !== null) this.responseHooks(this.x, head, c);
    const clientHead = buildClientHead(c);
    c.upgrade = null;
    this.socket.write(clientHead, 'latin1');
    this.releasePending();
    this.listener.record(this.route, pool, ep, 101, t - this.startedAt);
    // The connection is no longer HTTP: its listeners, buffers and deadlines pass to the tunnel.
    const early = this.buf;
    this.buf = null;
    this.state = ST_TUNNEL;
    this.deadline = 0;
    this.requestDeadline = 0;
    this.endpoint = null;
    this.holdsActive = false;
    this.up = null;
    this.req = null;
    this.resp = null;
    this.respBuf = null;
    this.route = null;
    this.pool = null;
    this.paused = false;
    const s = this.socket;
    s.off('data', this.onData);
    s.off('end', this.onEnd);
    s.off('drain', this.onDrain);
    const cfg = this.listener.config;
    const tunnel = new Tunnel(this, up, {
      endpoint: ep, pool, handshakeMs: t - this.attemptAt, websocket: proto === 'websocket',
      idleMs: cfg.timeouts.tunnel, drainMs: cfg.webSocket.drainTimeout,
      series: this.listener.metrics?.tunnelSeries(cfg.name, pool.name, proto) ?? null,
    }, early, buf.subarray(head.headEnd));
    this.tunnel = tunnel;
    if (this.clientEnded) tunnel.endFromClient();
    if (this.closing) tunnel.shutdown(Date.now());
    else tunnel.checkDrain(Date.now(), this.listener.snapshot.pools);
  }

  /** The tunnel is over (both sockets closed): forget the connection. */
  tunnelDone(): void {
    this.state = ST_CLOSED;
    this.deadline = 0;
    this.requestDeadline = 0;
    this.listener.conns.delete(this);
    this.listener.onConnClosed();
  }

  /** After a reload (HttpListener.update): a tunnel checks whether its server was drained or removed. */
  onReload(): void {
    if (this.tunnel !== null) this.tunnel.checkDrain(Date.now(), this.listener.snapshot.pools);
  }

}

/** `Name: value\r\n` lines of a middleware's answer. */
function fieldLines(names: readonly string[], values: readonly string[]): string {
  let s = '';
  for (let i = 0; i < names.length; i++) s += names[i] + ': ' + values[i] + '\r\n';
  return s;
}

/** `connect refused`, `connect unreachable`, … from a socket error. */
function connectDetail(err: Error & { code?: string }): string {
  switch (err.code) {
    case 'ECONNREFUSED': return 'connect refused';
    case 'EHOSTUNREACH': case 'ENETUNREACH': return 'connect unreachable';
    case 'ECONNRESET': return 'connection reset while connecting';
    default: return `connect failed (${err.code ?? err.message})`;
  }
}

/** Largest body part copied behind a head to save a write; larger parts go in a second write. */
const JOIN_MAX = 16 * 1024;

/** One buffer holding a latin1 head and the first body bytes: one write (one syscall) instead of two. */
function joinHead(head: string, body: Buffer): Buffer {
  if (body.length > JOIN_MAX) return Buffer.concat([Buffer.from(head, 'latin1'), body]);
  const out = Buffer.allocUnsafe(head.length + body.length);
  out.write(head, 0, 'latin1');
  body.copy(out, head.length);
  return out;
}

/** A private copy of upstream bytes (the read buffer is shared; small copies come from Node's pool). */
function copyOf(b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(b.length);
  b.copy(out);
  return out;
}
