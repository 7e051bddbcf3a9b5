/**
 * Upstream over HTTP/1.1 (RFC 9112) for requests that arrived over HTTP/2, with node:http and one
 * keep-alive Agent per endpoint (LIFO, `keepAlive.maxIdle` idle sockets, closed after
 * `keepAlive.idleTimeout`). The hand-written HTTP/1.1 path (http1/upstream.ts) stays the one for
 * HTTP/1.1 clients; this side needs stream objects anyway (node:http2 streams), so a well-kept
 * client is used here (DESIGN.md rule 8).
 */
import { Agent, request, type ClientRequest, type IncomingMessage } from 'node:http';
import type { OutgoingHttpHeaders } from 'node:http2';
import type { Socket } from 'node:net';
import type { Endpoint } from '../../runtime/pool.ts';
import type { PoolConfig } from '../../config/schema.ts';
import { connectDetail, type Attempt, type AttemptOwner } from './attempt.ts';
import { clientHeaders } from './headers.ts';

/** Agents by pool config (a reload makes new ones) and endpoint address. */
const agents = new WeakMap<PoolConfig, Map<string, Agent>>();

function agentFor(ep: Endpoint): Agent {
  const cfg = ep.pool.config;
  let byAddr = agents.get(cfg);
  if (byAddr === undefined) {
    byAddr = new Map();
    agents.set(cfg, byAddr);
  }
  let a = byAddr.get(ep.address);
  if (a === undefined) {
    const ka = cfg.keepAlive;
    a = new Agent({ keepAlive: ka.maxIdle > 0, maxFreeSockets: Math.max(1, ka.maxIdle), timeout: ka.idleTimeout, scheduling: 'lifo' });
    byAddr.set(ep.address, a);
  }
  return a;
}

export class H1Attempt implements Attempt {
  private readonly owner: AttemptOwner;
  private readonly req: ClientRequest;
  private res: IncomingMessage | null = null;
  private connected = false;
  private done = false;
  private readonly via: boolean;
  private readonly bodyless: boolean;

  /** Throws when Node refuses the request line or a header (the caller answers 400). */
  constructor(ep: Endpoint, method: string, path: string, headers: OutgoingHttpHeaders, owner: AttemptOwner, via: boolean) {
    this.owner = owner;
    this.via = via;
    this.bodyless = method === 'HEAD';
    this.req = request({
      host: ep.host, port: ep.port, method, path, headers: headers as Record<string, string>,
      agent: agentFor(ep), setHost: false,
    });
    this.req.on('socket', this.onSocket);
    this.req.on('response', this.onResponse);
    this.req.on('error', this.onError);
    this.req.on('drain', this.onDrain);
  }

  private readonly onSocket = (s: Socket): void => {
    if (s.connecting) s.once('connect', this.onConnect);
    else queueMicrotask(this.onConnect);
  };

  private readonly onConnect = (): void => {
    if (this.done || this.connected) return;
    this.connected = true;
    this.owner.onUpConnected();
  };

  private readonly onResponse = (res: IncomingMessage): void => {
    if (this.done) {
      res.resume();
      return;
    }
    this.res = res;
    const st = res.statusCode ?? 502;
    const endStream = this.bodyless || st === 204 || st === 304;
    res.on('data', this.onData);
    res.on('end', this.onEnd);
    res.on('aborted', this.onAborted);
    res.on('error', this.onAborted);
    this.owner.onUpHead(st, clientHeaders(res.headers, st, this.via, '1.1'), endStream);
  };

  private readonly onData = (c: Buffer): void => {
    if (!this.done) this.owner.onUpData(c);
  };

  private readonly onEnd = (): void => {
    if (this.done) return;
    this.done = true;
    const t = (this.res as IncomingMessage).trailers;
    let trailers: OutgoingHttpHeaders | null = null;
    for (const _ in t) {
      trailers = clientHeaders(t, 0, false, '');
      break;
    }
    this.owner.onUpEnd(trailers);
  };

  private readonly onAborted = (): void => {
    if (this.done) return;
    this.done = true;
    this.owner.onUpError(true, false, 'connection closed in the response body', 0, false);
  };

  private readonly onError = (err: Error & { code?: string }): void => {
    if (this.done) return;
    this.done = true;
    const detail = this.connected ? 'connection reset before the response' : connectDetail(err);
    this.owner.onUpError(this.connected, false, detail, 0, this.req.reusedSocket);
  };

  private readonly onDrain = (): void => {
    if (!this.done) this.owner.onUpDrain();
  };

  write(b: Buffer): boolean {
    return this.req.write(b);
  }

  end(): void {
    this.req.end();
  }

  pause(): void {
    this.res?.pause();
  }

  resume(): void {
    this.res?.resume();
  }

  cancel(): void {
    if (this.done) {
      // Response complete but the request body was not: the connection cannot be reused.
      if (!this.req.writableFinished) this.req.destroy();
      return;
    }
    this.done = true;
    this.req.destroy();
  }
}
