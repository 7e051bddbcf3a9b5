/**
 * Upstream over HTTP/1.1 (RFC 9112) for requests that arrived over HTTP/2, with node:http and one
 * keep-alive Agent per endpoint (LIFO, `keepAlive.maxIdle` idle sockets, closed after
 * `keepAlive.idleTimeout`). The hand-written HTTP/1.1 path (http1/upstream.ts) stays the one for
 * HTTP/1.1 clients; this side needs stream objects anyway (node:http2 streams), so a well-kept
 * client is used here (DESIGN.md rule 8).
 *
 * The agents' sockets count in their endpoint's `open` (circuit breaker `maxConnections`, gauge
 * `fulcrum_upstream_connections`) from the socket's creation to its close, and in `idleShared`
 * while they wait in the agent's free list.
 */
import { Agent, request, type AgentOptions, type ClientRequest, type ClientRequestArgs, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { OutgoingHttpHeaders } from 'node:http2';
import type { Socket } from 'node:net';
import type { Endpoint } from '../../runtime/pool.ts';
import type { PoolConfig } from '../../config/schema.ts';
import { connectDetail, type Attempt, type AttemptOwner } from './attempt.ts';
import { clientHeaders } from './headers.ts';

/**
 * An endpoint's agent: its sockets count in the endpoint's `open` from their creation (synchronous
 * in createConnection, so streams arriving in one read see the sockets opened before them).
 */
class CountingAgent extends Agent {
  private readonly ep: Endpoint;

  constructor(options: AgentOptions, ep: Endpoint) {
    super(options);
    this.ep = ep;
    this.on('free', onFree); // after the agent's own listener: the socket is in the free list, or destroyed
  }

  override createConnection(options: ClientRequestArgs, cb?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const s = super.createConnection(options, cb);
    if (s != null) countSocket(s as Socket, this.ep);
    return s;
  }
}

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
    a = new CountingAgent({ keepAlive: ka.maxIdle > 0, maxFreeSockets: Math.max(1, ka.maxIdle), timeout: ka.idleTimeout, scheduling: 'lifo' }, ep);
    byAddr.set(ep.address, a);
  }
  return a;
}

/** Whether the endpoint's agent has an idle socket for the next request (no new connection needed). */
export function h1Idle(ep: Endpoint): boolean {
  const byAddr = agents.get(ep.pool.config);
  const a = byAddr === undefined ? undefined : byAddr.get(ep.address);
  if (a === undefined) return false;
  const free = a.freeSockets[a.getName({ host: ep.host, port: ep.port })];
  return free !== undefined && free.length > 0;
}

/** The endpoint each agent socket counts in (the endpoint object that opened it). */
const socketEndpoint = new WeakMap<Socket, Endpoint>();
/** Agent sockets counted in their endpoint's `idleShared` now. */
const idleSockets = new WeakSet<Socket>();

/** A new agent socket: counted open until it closes. */
function countSocket(s: Socket, ep: Endpoint): void {
  ep = ep.latest(); // a stream that began before a reload may open a socket after it
  socketEndpoint.set(s, ep);
  ep.open++;
  s.once('close', onSocketClose);
}

function onSocketClose(this: Socket): void {
  const ep = socketEndpoint.get(this);
  if (ep === undefined) return;
  socketEndpoint.delete(this);
  if (idleSockets.delete(this)) ep.idleShared--;
  ep.latest().open--; // a reload moved `open` to the newest incarnation (http1/upstream.ts handOver)
}

function onFree(this: Agent, s: Socket, options: Parameters<Agent['getName']>[0]): void {
  const ep = socketEndpoint.get(s);
  if (ep === undefined || s.destroyed || idleSockets.has(s)) return;
  const free = this.freeSockets[this.getName(options)];
  if (free === undefined || !free.includes(s)) return; // destroyed, or handed to a waiting request
  idleSockets.add(s);
  ep.idleShared++;
}

/** A socket taken for a request: no longer idle. */
function taken(s: Socket): void {
  if (!idleSockets.delete(s)) return;
  const ep = socketEndpoint.get(s);
  if (ep !== undefined) ep.idleShared--;
}

export class H1Attempt implements Attempt {
  private readonly owner: AttemptOwner;
  private readonly req: ClientRequest;
  private res: IncomingMessage | null = null;
  private connected = false;
  private done = false;
  private readonly via: boolean;
  private readonly bodyless: boolean;
  private readonly ep: Endpoint;

  /** Throws when Node refuses the request line or a header (the caller answers 400). */
  constructor(ep: Endpoint, method: string, path: string, headers: OutgoingHttpHeaders, owner: AttemptOwner, via: boolean) {
    this.owner = owner;
    this.via = via;
    this.ep = ep;
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
    if (!socketEndpoint.has(s)) countSocket(s, this.ep);
    else taken(s);
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
