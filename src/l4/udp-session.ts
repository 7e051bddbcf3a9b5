/**
 * One UDP flow of a `udp` listener: the client's address and port, the endpoint the flow's first
 * datagram picked, and one upstream dgram socket connect()ed to that endpoint. A connected socket
 * (connect(2) on a datagram socket, POSIX) receives only the endpoint's datagrams — nobody else can
 * inject replies into the flow — and the kernel reports an ICMP port unreachable for it as
 * ECONNREFUSED on the socket (Linux udp(7)), which an unconnected socket never sees.
 *
 * Also the flow's KeySource (FlowKey) for hash keys: `source-ip`, and `five-tuple` written
 * `udp SRCIP SRCPORT DSTIP DSTPORT` (src/balancing/keys.ts).
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Endpoint } from '../runtime/pool.ts';
import type { Deadlined } from '../runtime/sweeper.ts';
import type { KeySource } from '../balancing/keys.ts';

/** What a session reports to the listener that owns it. */
export interface SessionOwner {
  /** A datagram from the endpoint, to be sent to the client. */
  fromUpstream(s: UdpSession, msg: Buffer): void;
  /** The upstream socket is connected (err null; queued datagrams may go) or could not be (err). */
  upstreamConnected(s: UdpSession, err: Error | null): void;
  /** An error on the upstream socket (ECONNREFUSED: the endpoint's port is unreachable). */
  upstreamError(s: UdpSession, err: NodeJS.ErrnoException): void;
  /** The sweeper found the session idle past its deadline. */
  expire(s: UdpSession, now: number): void;
}

/** Datagrams a session queues while its upstream socket connects; more are dropped (counted). */
export const PENDING_MAX = 64;

export class UdpSession implements Deadlined {
  /** Client address and port (the flow's identity in the listener's table). */
  readonly address: string;
  readonly port: number;
  /** The endpoint picked for the flow; moved to its newest incarnation after a reload (Endpoint.latest()). */
  ep: Endpoint;
  readonly upstream: Socket;
  /** Clock (ms) when the session opened. */
  readonly opened: number;
  /** Last datagram either way + sessionTimeout (ms); the sweeper calls onDeadline past it. */
  deadline: number;
  /** Unused by UDP (no request notion); the sweeper reads it. */
  requestDeadline = 0;
  /** Client datagrams waiting for the upstream socket to connect; null once connected. */
  pending: Buffer[] | null = [];
  /** A datagram came back from the endpoint (reported once as a success to outlier detection). */
  answered = false;
  closed = false;
  private readonly owner: SessionOwner;

  constructor(owner: SessionOwner, address: string, port: number, ep: Endpoint, now: number, timeoutMs: number) {
    this.owner = owner;
    this.address = address;
    this.port = port;
    this.ep = ep;
    this.opened = now;
    this.deadline = now + timeoutMs;
    // A host name resolves over IPv4 (udp4); an IPv6 literal needs a udp6 socket.
    const s = createSocket({ type: isIPv6(ep.host) ? 'udp6' : 'udp4' });
    this.upstream = s;
    s.on('message', (msg: Buffer) => owner.fromUpstream(this, msg));
    s.on('error', (err: NodeJS.ErrnoException) => owner.upstreamError(this, err));
    s.connect(ep.port, ep.host, (err?: Error) => owner.upstreamConnected(this, err ?? null));
  }

  onDeadline(now: number): void {
    this.owner.expire(this, now);
  }

  /** Closes the upstream socket (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = null;
    try {
      this.upstream.close();
    } catch {
      // already closed by the runtime
    }
  }
}

/**
 * The KeySource of the flow being opened: reused for every new flow of a listener (the pick reads
 * it synchronously). `fiveTuple` is built only when a `five-tuple` key asks for it.
 */
export class FlowKey implements KeySource {
  sourceIp = '';
  sourcePort = 0;
  /** The listener's bound address and port (on a wildcard address, the wildcard: Node does not expose the datagram's destination). */
  localIp = '';
  localPort = 0;
  readonly path = '';
  readonly uri = '';

  get fiveTuple(): string {
    return `udp ${this.sourceIp} ${this.sourcePort} ${this.localIp} ${this.localPort}`;
  }

  header(): string | undefined {
    return undefined;
  }

  cookie(): string | undefined {
    return undefined;
  }

  queryParam(): string | undefined {
    return undefined;
  }
}
