/**
 * One HTTP/2 client stream = one request (RFC 9113 §8.1), balanced on its own: the same router,
 * pool pick (with the retry exclusion set), circuit breaker, retry policy and budget, outcome
 * recording (outlier detection), load counters, metrics and error codes as the HTTP/1.1 path
 * (http1/client.ts), upstream over HTTP/1.1 or HTTP/2 (`upstreamProtocol` of the pool).
 *
 * Streaming both ways with flow control; trailers passed on (gRPC `grpc-status`); a reset of
 * either side is passed to the other (RST_STREAM CANCEL upstream when the client resets).
 *
 * The route's middlewares and the pool's session affinity run as on HTTP/1.1 (middlewares/phases.ts):
 * an `Exchange` is made only when the route has hooks or the pool `sticky` — the plain path makes none.
 */
import { constants, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Endpoint, PoolRuntime } from '../../runtime/pool.ts';
import type { CompiledRoute } from '../router/types.ts';
import { ERROR_CODES, type ErrorCode } from '../../core/errors.ts';
import { errorBody, errorHeaders, H2RequestView, requestFields, upstreamHeaders } from './headers.ts';
import type { Exchange } from '../middlewares/exchange.ts';
import { requestPhase } from '../middlewares/phases.ts';
import { connectionGate, GATE_OPEN, GATE_WAIT, hookedResponse, streamExchange } from './stream-hooks.ts';
import type { Answer, HookedRoute } from '../middlewares/index.ts';
import type { Attempt, AttemptOwner } from './attempt.ts';
import { IDEMPOTENT, RetryState } from '../retry-state.ts';
import { H1Attempt } from './upstream-h1.ts';
import { H2Attempt } from './upstream-h2.ts';
import type { H2Conn } from './conn.ts';

const { NGHTTP2_INTERNAL_ERROR, NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = constants;

export class H2Exchange implements AttemptOwner {
  private readonly conn: H2Conn;
  private readonly stream: ServerHttp2Stream;
  private readonly view: H2RequestView;
  private route: CompiledRoute | null = null;
  private pool: PoolRuntime | null = null;
  private endpoint: Endpoint | null = null;
  private key: string | undefined = undefined;
  private up: Attempt | null = null;
  private connected = false;
  private readonly rs = new RetryState();
  private reqDone: boolean;
  /** The request went to the current attempt's endpoint (it may have acted on it). */
  private sent = false;
  private holdsActive = false;
  /** The current attempt waits for an upstream connection or session: counted in pool.pending. */
  private holdsPending = false;
  private status = 0;
  private readonly startedAt = performance.now();
  private attemptAt = 0;
  private headerAt = 0;
  /** Connect or response-head deadline of the current attempt; backoff delay between attempts. */
  private timer: NodeJS.Timeout | null = null;
  private requestTimer: NodeJS.Timeout | null = null;
  private trailers: OutgoingHttpHeaders | null = null;
  /** Our side of the stream is done (answered, or complete response written). */
  private finished = false;
  private statsDone = false;
  /**
   * Middlewares and affinity: the exchange (null on the plain path: no hooks, no sticky), the
   * fields to send upstream once edited (made at the first attempt, reused by retries), the slot
   * the request is pinned to (-1: none) and whether the first pick honoured it.
   */
  private x: Exchange | null = null;
  private upFields: IncomingHttpHeaders | null = null;
  private pinned = -1;
  private honored = false;
  /** The header block as received, field by field (`rawHeaders` of node:http2: name, value, …). */
  private readonly raw: readonly string[] | undefined;

  constructor(conn: H2Conn, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders?: readonly string[]) {
    this.conn = conn;
    this.stream = stream;
    this.raw = rawHeaders;
    this.view = new H2RequestView(headers, conn.clientIp);
    this.reqDone = stream.endAfterHeaders;
    stream.on('data', this.onBody);
    stream.on('end', this.onBodyEnd);
    stream.on('close', this.onClientClose);
    stream.on('drain', this.onClientDrain);
    stream.on('wantTrailers', this.onWantTrailers);
    stream.on('error', ignore);
    this.start();
  }

  private start(): void {
    const conn = this.conn;
    const listener = conn.listener;
    const v = this.view;
    if (v.method === 'CONNECT') {
      this.answer(501, 'FULCRUM_E_NOT_IMPLEMENTED');
      return;
    }
    const snap = listener.snapshot;
    const route = snap.router.match(v);
    if (route === null) {
      this.answer(404, 'FULCRUM_E_NO_ROUTE');
      return;
    }
    this.route = route;
    const now = Date.now();
    const hooks = (route as HookedRoute).hooks;
    if (hooks != null) {
      const answer = requestPhase(hooks, this.exchange(route), now);
      if (answer !== null) {
        this.answer(answer.status, answer.code, answer);
        return;
      }
    }
    const pool = snap.pools.get(route.pickPool()) as PoolRuntime;
    this.pool = pool;
    if (pool.key !== null) {
      let key = pool.key.extract(v);
      if (key === '') key = undefined;
      if (key === undefined && pool.rejectMissingKey) {
        this.answer(503, 'FULCRUM_E_HASH_KEY_MISSING');
        return;
      }
      this.key = key;
    }
    if (pool.active >= pool.config.circuitBreakers.maxRequests) {
      pool.health.breakerRejected('requests');
      this.answer(503, 'FULCRUM_E_CIRCUIT_OPEN');
      return;
    }
    let ep: Endpoint | null = null;
    const aff = pool.affinity;
    if (aff !== null) {
      this.pinned = aff.pin(this.x ?? this.exchange(route), now);
      if (this.pinned >= 0) ep = pool.pickPinned(this.pinned, null);
    }
    this.honored = ep !== null;
    if (ep === null) ep = pool.pick(this.key, null);
    if (ep === null) {
      this.answer(503, 'FULCRUM_E_NO_HEALTHY_UPSTREAM');
      return;
    }
    pool.active++;
    this.holdsActive = true;
    pool.health.budget.onRequest(now);
    // The body is kept (up to bufferBody) for retries, and over HTTP/2 upstreams also for the one
    // retry of a stream the server refused unprocessed (REFUSED_STREAM, GOAWAY races).
    const rc = pool.config;
    if (!this.reqDone && rc.retries.bufferBody > 0 && (rc.retries.attempts > 1 || rc.upstreamProtocol === 'http2')) this.rs.replay = [];
    const rt = listener.config.timeouts.request;
    if (rt > 0) this.requestTimer = setTimeout(this.onRequestTimeout, rt);
    this.startAttempt(ep);
  }

  /** The stream's Exchange (middlewares, affinity), kept for the response phase. */
  private exchange(route: CompiledRoute): Exchange {
    const x = streamExchange(this.view, this.raw, this.conn.clientIp, route.name);
    this.x = x;
    return x;
  }

  private startAttempt(ep: Endpoint): void {
    const pool = this.pool as PoolRuntime;
    const conn = this.conn;
    const h2 = pool.config.upstreamProtocol === 'http2';
    const gate = connectionGate(pool, ep); // maxPending / maxConnections, as on HTTP/1.1
    if (gate === GATE_OPEN) {
      this.answer(503, 'FULCRUM_E_CIRCUIT_OPEN');
      return;
    }
    if (gate === GATE_WAIT) {
      pool.pending++;
      this.holdsPending = true;
    }
    this.rs.attempt++;
    this.endpoint = ep;
    this.connected = false;
    this.attemptAt = performance.now();
    this.sent = false;
    pool.load.start(ep.index);
    const x = this.x;
    let headers: OutgoingHttpHeaders;
    if (x === null) headers = upstreamHeaders(this.view, conn.forward, h2, ep.address);
    else headers = upstreamHeaders(this.view, conn.forward, h2, ep.address, (this.upFields ??= requestFields(x.names, x.values)), x.target);
    const via = conn.forward.via;
    const bodyless = this.reqDone && this.rs.replayBytes === 0;
    try {
      this.up = h2 ? new H2Attempt(ep, headers, bodyless, this, via)
        : new H1Attempt(ep, this.view.method, x === null ? this.view.uri : x.target, headers, this, via);
    } catch {
      this.up = null;
      this.endAttempt(false);
      this.answer(400, 'FULCRUM_E_BAD_REQUEST');
      return;
    }
    this.setTimer(pool.config.timeouts.connect, this.onConnectTimeout);
    const up = this.up;
    const replay = this.rs.replay;
    if (replay !== null) for (const b of replay) up.write(b);
    if (this.reqDone) {
      if (!h2 || !bodyless) up.end();
    } else this.stream.resume();
  }

  // ---------------------------------------------------------------- request body

  private readonly onBody = (chunk: Buffer): void => {
    if (this.finished && this.up === null) return; // answered: the rest of the body is dropped
    this.rs.keep(chunk, (this.pool as PoolRuntime).config.retries.bufferBody);
    const up = this.up;
    if (up === null) {
      if (!this.finished) this.stream.pause(); // between attempts (backoff): hold the client
      return;
    }
    if (!up.write(chunk)) this.stream.pause();
  };

  private readonly onBodyEnd = (): void => {
    if (this.reqDone) return;
    this.reqDone = true;
    const up = this.up;
    if (up === null) return;
    up.end();
    if (this.connected && this.status === 0) this.armResponseTimer();
  };

  onUpDrain(): void {
    if (!this.reqDone) this.stream.resume();
  }

  // ---------------------------------------------------------------- upstream events

  onUpConnected(): void {
    this.releasePending();
    this.connected = true;
    this.sent = true;
    if (this.reqDone) this.armResponseTimer();
    else this.clearTimer();
  }

  private armResponseTimer(): void {
    const c = (this.pool as PoolRuntime).config;
    const ms = c.retries.perTryTimeout > 0 ? c.retries.perTryTimeout : c.timeouts.response;
    if (ms > 0) this.setTimer(ms, this.onResponseTimeout);
    else this.clearTimer();
  }

  onUpHead(status: number, headers: OutgoingHttpHeaders, endStream: boolean): void {
    this.clearTimer();
    if (status >= 500) {
      this.recordOutcome(status >= 502 && status <= 504 ? 'gateway' : 'error', String(status));
      if (this.retryLater(status)) return;
    } else this.recordOutcome('success', '');
    const x = this.x;
    if (x !== null) headers = this.responseHooks(x, status, headers);
    // HSTS (RFC 6797) of the route, over TLS only, unless the backend set it (docs/tls.md).
    const sts = (this.route as CompiledRoute).spec.hsts;
    if (sts !== undefined && this.conn.forward.proto === 'https' && headers['strict-transport-security'] === undefined) {
      headers['strict-transport-security'] = sts;
    }
    this.status = status;
    this.headerAt = performance.now();
    const s = this.stream;
    if (s.destroyed || s.closed) return;
    try {
      s.respond(headers, endStream ? { endStream: true } : { waitForTrailers: true });
    } catch {
      this.up?.cancel();
      this.up = null;
      this.status = 0;
      this.answer(502, 'FULCRUM_E_UPSTREAM_BAD_RESPONSE');
      return;
    }
    if (endStream) this.complete();
  }

  /** Response phase of the route's middlewares and the pool's affinity: the headers the client gets. */
  private responseHooks(x: Exchange, status: number, headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
    const ep = this.endpoint;
    return hookedResponse(x, status, headers, (this.route as HookedRoute).hooks, this.pool as PoolRuntime,
      ep === null ? -1 : ep.index, this.pinned, this.honored);
  }

  onUpData(chunk: Buffer): void {
    const s = this.stream;
    if (s.destroyed) return;
    if (!s.write(chunk)) this.up?.pause();
  }

  private readonly onClientDrain = (): void => {
    this.up?.resume();
  };

  onUpEnd(trailers: OutgoingHttpHeaders | null): void {
    this.trailers = trailers;
    const s = this.stream;
    if (!s.destroyed && !s.writableEnded) s.end(); // 'wantTrailers' sends the trailers
    this.complete();
  }

  private readonly onWantTrailers = (): void => {
    const t = this.trailers;
    this.trailers = null;
    try {
      this.stream.sendTrailers(t ?? {}); // empty: Node ends the stream with an empty DATA frame
    } catch {
      this.stream.close(NGHTTP2_INTERNAL_ERROR);
    }
  };

  onUpError(connected: boolean, timedOut: boolean, detail: string, rstCode: number, reused: boolean): void {
    const up = this.up;
    this.up = null;
    if (this.status !== 0) {
      // The response had started: the client sees its stream reset, as with any proxy.
      this.recordOutcome('gateway', detail);
      this.finishStats(this.status);
      this.finished = true;
      const s = this.stream;
      if (!s.destroyed && !s.closed) s.close(rstCode !== 0 ? rstCode : NGHTTP2_INTERNAL_ERROR);
      return;
    }
    if (!connected) {
      if (timedOut) this.attemptFailed(504, 'FULCRUM_E_UPSTREAM_CONNECT_TIMEOUT', 'connect-failure', detail);
      else this.attemptFailed(502, 'FULCRUM_E_UPSTREAM_CONNECT', 'connect-failure', detail);
      return;
    }
    // A keep-alive connection the endpoint had closed, or a stream refused unprocessed (RFC 9113
    // §8.7): try once more on the same endpoint when the body, if any, was kept for a replay.
    const rs = this.rs;
    if ((reused || rstCode === NGHTTP2_REFUSED_STREAM) && !rs.retriedSame && (!rs.bodyTouched || rs.replay !== null) &&
        (rstCode === NGHTTP2_REFUSED_STREAM || IDEMPOTENT.has(this.view.method))) {
      rs.retriedSame = true;
      const ep = this.endpoint as Endpoint;
      this.endAttempt(false);
      up?.cancel();
      this.startAttempt(ep);
      return;
    }
    this.attemptFailed(502, 'FULCRUM_E_UPSTREAM_RESET', 'reset', detail);
  }

  private readonly onConnectTimeout = (): void => {
    this.timer = null;
    if (this.connected || this.status !== 0) return;
    this.up?.cancel();
    this.up = null;
    this.attemptFailed(504, 'FULCRUM_E_UPSTREAM_CONNECT_TIMEOUT', 'connect-failure', 'connect timeout');
  };

  private readonly onResponseTimeout = (): void => {
    this.timer = null;
    if (this.status !== 0) return;
    this.up?.cancel();
    this.up = null;
    this.attemptFailed(504, 'FULCRUM_E_UPSTREAM_TIMEOUT', 'timeout', 'response timeout');
  };

  private readonly onRequestTimeout = (): void => {
    this.requestTimer = null;
    if (this.finished) return;
    this.up?.cancel();
    this.up = null;
    if (this.status === 0) {
      if (this.sent) this.recordOutcome('gateway', 'request timeout');
      this.answer(504, 'FULCRUM_E_REQUEST_TIMEOUT');
    } else {
      this.finishStats(this.status);
      this.finished = true;
      this.stream.close(NGHTTP2_CANCEL);
    }
  };

  // ---------------------------------------------------------------- client side

  private readonly onClientClose = (): void => {
    this.clearTimer();
    if (this.requestTimer !== null) clearTimeout(this.requestTimer);
    this.requestTimer = null;
    const up = this.up;
    this.up = null;
    if (!this.finished) {
      // Reset by the client (or its connection went away) before the response was complete.
      if (up !== null) up.cancel();
      if (this.holdsActive || this.endpoint !== null) this.finishStats(499);
      this.finished = true;
      this.conn.onStreamClosed(true);
      return;
    }
    if (up !== null && !this.reqDone) up.cancel();
    this.conn.onStreamClosed(false);
  };

  // ---------------------------------------------------------------- attempts and retries

  private recordOutcome(outcome: 'success' | 'error' | 'gateway', detail: string): void {
    this.endpoint?.recordOutcome(outcome, detail);
  }

  private attemptFailed(status: number, code: ErrorCode, kind: string, detail: string): void {
    this.recordOutcome('gateway', detail);
    if (this.retryLater(kind)) return;
    this.answer(status, code);
  }

  /** As the HTTP/1.1 path: another endpoint, within attempts, retries.on, idempotency and budget. */
  private retryLater(kind: string | number): boolean {
    const pool = this.pool;
    const ep = this.endpoint;
    if (pool === null || ep === null) return false;
    const next = this.rs.next(pool, ep, kind, this.sent, this.view.method, this.key);
    if (next === null) return false;
    this.endAttempt(true);
    const up = this.up;
    this.up = null;
    if (up !== null) up.cancel();
    this.status = 0;
    this.headerAt = 0;
    const delay = this.rs.backoffMs(pool);
    this.clearTimer();
    if (delay < 1) this.startAttempt(next);
    else this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.finished && !this.stream.destroyed) this.startAttempt(next);
    }, delay);
    return true;
  }

  private releasePending(): void {
    if (this.holdsPending) {
      this.holdsPending = false;
      (this.pool as PoolRuntime).pending--;
    }
  }

  private endAttempt(failed: boolean): void {
    this.releasePending();
    const ep = this.endpoint;
    if (ep === null) return;
    this.endpoint = null;
    const ms = performance.now() - this.attemptAt;
    const headerMs = this.headerAt === 0 ? ms : this.headerAt - this.attemptAt;
    const e = ep.latest();
    e.pool.load.end(e.index, failed, ms, headerMs, Date.now());
  }

  // ---------------------------------------------------------------- completion

  /** The response is complete (our side of the stream ended or is ending). */
  private complete(): void {
    if (this.finished) return;
    this.finished = true;
    this.clearTimer();
    this.finishStats(this.status);
    if (!this.reqDone) {
      // The endpoint answered before the request body was complete: stop forwarding it.
      this.up?.cancel();
      this.up = null;
      this.stream.resume();
    }
  }

  private finishStats(status: number): void {
    if (this.statsDone) return;
    this.statsDone = true;
    const ep = this.endpoint;
    this.endAttempt(status >= 500 || status === 0);
    if (this.holdsActive) {
      this.holdsActive = false;
      (this.pool as PoolRuntime).active--;
    }
    this.conn.listener.record(this.route, this.pool, ep, status, performance.now() - this.startedAt);
  }

  /**
   * Answers the stream with a Fulcrum error (plain text naming the stable code); `extra`: a
   * middleware's answer, whose fields (429: Retry-After, RateLimit-Policy, RateLimit) are sent too.
   */
  private answer(status: number, code: ErrorCode, extra?: Answer): void {
    this.clearTimer();
    const s = ERROR_CODES[code].status || status;
    this.status = s;
    this.finishStats(s);
    this.finished = true;
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    if (stream.headersSent) {
      stream.close(NGHTTP2_INTERNAL_ERROR);
      return;
    }
    const body = errorBody(s, code);
    const h = extra === undefined ? errorHeaders(s, code, body) : errorHeaders(s, code, body, extra.names, extra.values);
    // The route's HSTS on Fulcrum's own answers too (502, 503, 429 …), over TLS, as on proxied ones.
    const sts = this.route?.spec.hsts;
    if (sts !== undefined && this.conn.forward.proto === 'https') h['strict-transport-security'] = sts;
    stream.respond(h, { endStream: this.view.method === 'HEAD' });
    if (this.view.method !== 'HEAD') stream.end(body);
    if (!this.reqDone) stream.resume(); // read and drop the rest of the body
  }

  private setTimer(ms: number, fn: () => void): void {
    this.clearTimer();
    this.timer = setTimeout(fn, ms);
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}

function ignore(): void {}
