/**
 * The PROXY protocol in front of the `http` and `https` listeners (HAProxy `bind … accept-proxy`,
 * NGINX `listen … proxy_protocol`): reads the PROXY v1/v2 header off a freshly accepted TCP socket
 * under the shared rules of src/l4/proxy-accept.ts (trusted sources only, header required within
 * `timeouts.clientHello`, LOCAL → the socket's own address), then puts back whatever followed the
 * header (`unshift`) and hands the socket on with the carried source address: to the HTTP/1.1
 * connection (which may pass it to HTTP/2 for h2c), or — on `https` — to the TLS server, since the
 * header precedes the ClientHello.
 *
 * Runs only on listeners with `proxyProtocol`; the plain accept path never reaches this module. A
 * stage is one of the listener's connections until the hand-off: the runtime's sweeper enforces
 * its deadline and a draining listener closes it.
 */
import type { BlockList, Socket } from 'node:net';
import type { ListenerConfig } from '../config/schema.ts';
import type { ClientConnection } from './http1/listener-runtime.ts';
import {
  EV_BAD_PROXY_HEADER, EV_CLIENT_ABORTED, EV_HEADER_TIMEOUT, EV_UNTRUSTED_PROXY, takeProxyHeader, untrustedSource,
} from '../l4/proxy-accept.ts';
import { PROXY_V2_MAX_LENGTH } from '../l4/proxy-protocol.ts';

/** What a stage needs from its listener (HttpListener / HttpsListener). */
export interface ProxyStageHost {
  readonly config: ListenerConfig;
  readonly conns: Set<ClientConnection>;
  /** Counts a PROXY event in fulcrum_l4_events_total{listener, event}. */
  countProxyEvent(event: string): void;
  /** The header was read: serve `socket` (paused, the bytes after the header put back) as coming from `sourceIp` (null: its own address). */
  proxied(socket: Socket, sourceIp: string | null): void;
  onConnClosed(): void;
}

/**
 * Starts reading the PROXY header of `socket` (refused at once when its source is not in `trust`).
 * The socket may be paused (a held connection): the stage resumes it.
 */
export function startProxyStage(socket: Socket, trust: BlockList, host: ProxyStageHost): void {
  if (untrustedSource(trust, socket.remoteAddress)) {
    host.countProxyEvent(EV_UNTRUSTED_PROXY);
    socket.on('error', ignore);
    socket.destroy();
    return;
  }
  new ProxyStage(socket, host);
}

class ProxyStage implements ClientConnection {
  readonly socket: Socket;
  deadline: number;
  requestDeadline = 0;
  private readonly host: ProxyStageHost;
  private buf: Buffer | null = null;
  private done = false;

  constructor(socket: Socket, host: ProxyStageHost) {
    this.socket = socket;
    this.host = host;
    this.deadline = Date.now() + host.config.timeouts.clientHello;
    host.conns.add(this);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', ignore);
    socket.on('close', this.onClose);
    socket.resume();
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.done) return;
    const buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
    const r = takeProxyHeader(buf, PROXY_V2_MAX_LENGTH);
    if (r.status === 'incomplete') {
      this.buf = buf;
      return;
    }
    if (r.status === 'invalid') {
      this.refuse(EV_BAD_PROXY_HEADER);
      return;
    }
    const s = this.socket;
    s.pause();
    this.detach();
    if (r.length < buf.length) s.unshift(buf.subarray(r.length));
    this.host.proxied(s, r.addr === null ? null : r.addr.srcAddr);
  };

  private readonly onEnd = (): void => {
    if (!this.done) this.refuse(EV_CLIENT_ABORTED);
  };

  private readonly onClose = (): void => {
    if (this.done) return;
    this.detach();
    this.host.onConnClosed();
  };

  /** Leaves the listener's connections and the socket's events (hand-off or close). */
  private detach(): void {
    this.done = true;
    this.deadline = 0;
    this.buf = null;
    const s = this.socket;
    s.off('data', this.onData).off('end', this.onEnd).off('error', ignore).off('close', this.onClose);
    this.host.conns.delete(this);
  }

  private refuse(event: string): void {
    this.host.countProxyEvent(event);
    this.detach();
    this.socket.on('error', ignore);
    this.socket.destroy();
    this.host.onConnClosed();
  }

  /** Sweeper: the header did not arrive within `timeouts.clientHello`. */
  onDeadline(): void {
    if (!this.done) this.refuse(EV_HEADER_TIMEOUT);
  }

  /** Listener shutdown: a connection that has not sent its header has nothing in progress. */
  shutdown(): void {
    if (!this.done) {
      this.detach();
      this.socket.on('error', ignore);
      this.socket.destroy();
      this.host.onConnClosed();
    }
  }
}

function ignore(): void {}
