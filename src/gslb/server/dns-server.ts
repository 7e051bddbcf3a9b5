/**
 * The DNS server's sockets (the edge): UDP and TCP on one address (RFC 1035 §4.2; TCP framing with
 * a 2-byte length, pipelining and idle timeout per RFC 7766). With port 0 the UDP socket binds first
 * and TCP takes the same port, retrying a bounded number of times when that port is taken for TCP.
 * UDP answers pass the rate limiter; TCP connections are capped (`tcp.maxConnections`) and closed
 * after `tcp.idleTimeout` without a complete query. Answers come from ./wire.ts; the context
 * (zones, steering) can be swapped on reload without touching the sockets.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import { parseAddr, type Addr } from '../cidr.ts';
import { RateLimiter, type RrlConfig } from './rrl.ts';
import { answer, type WireContext, type WireResult } from './wire.ts';

/** Attempts to find a port free for both UDP and TCP when binding port 0. */
export const BIND_ATTEMPTS = 20;
/** Bytes a TCP connection may buffer (one maximal message plus its length). */
const TCP_BUFFER_MAX = 65537;

export interface DnsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly rateLimit: RrlConfig;
  readonly tcp: { readonly maxConnections: number; readonly idleTimeout: number };
}

/** Counters of the server (read by the admin API and /metrics): per-query work is an array increment. */
export class DnsCounters {
  /** Responses per RCODE (0-16), UDP then TCP. */
  private readonly udp = new Float64Array(17);
  private readonly tcp = new Float64Array(17);
  /** Events: dropped (not a query), truncated, rrl_dropped, rrl_slipped, tcp_refused, tcp_idle_closed, internal_error. */
  readonly events = new Map<string, number>();

  count(transport: 'udp' | 'tcp', r: WireResult): void {
    if (r.bytes === null) { this.event('dropped'); return; }
    (transport === 'udp' ? this.udp : this.tcp)[r.rcode]++;
    if (r.truncated) this.event('truncated');
  }

  event(name: string): void {
    this.events.set(name, (this.events.get(name) ?? 0) + 1);
  }

  /** Responses by `transport rcode` (`udp NOERROR`), non-zero ones only. */
  get responses(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [t, arr] of [['udp', this.udp], ['tcp', this.tcp]] as const) {
      arr.forEach((n, rcode) => { if (n > 0) out.set(`${t} ${RCODE_LABEL[rcode] ?? String(rcode)}`, n); });
    }
    return out;
  }
}

const RCODE_LABEL: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 16: 'BADVERS' };

function identityLookup(address: string, _opts: unknown, cb: (err: Error | null, address: string, family: number) => void): void {
  cb(null, address, address.includes(':') ? 6 : 4);
}

export class DnsServer {
  ctx: WireContext;
  readonly counters: DnsCounters;
  private opts: DnsServerOptions;
  private rrl: RateLimiter;
  private udp: UdpSocket | null = null;
  private tcp: Server | null = null;
  private readonly conns = new Set<Socket>();
  port = 0;

  constructor(opts: DnsServerOptions, ctx: WireContext, counters = new DnsCounters()) {
    this.opts = opts;
    this.ctx = ctx;
    this.counters = counters;
    this.rrl = new RateLimiter(opts.rateLimit);
  }

  /** Takes new rate-limit and TCP options (a reload); the sockets stay. */
  reconfigure(rateLimit: RrlConfig, tcp: DnsServerOptions['tcp']): void {
    this.opts = { ...this.opts, rateLimit, tcp };
    this.rrl = new RateLimiter(rateLimit);
  }

  /** Binds UDP and TCP; resolves with the port. Rejects (nothing left bound) when it cannot. */
  async listen(): Promise<number> {
    const { host, port } = this.opts;
    let lastErr: unknown = null;
    for (let attempt = 0; attempt < (port === 0 ? BIND_ATTEMPTS : 1); attempt++) {
      const udp = await this.bindUdp(host, port);
      const p = udp.address().port;
      try {
        this.tcp = await this.bindTcp(host, p);
        this.udp = udp;
        this.port = p;
        return p;
      } catch (err) {
        lastErr = err;
        udp.close();
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') break;
      }
    }
    throw lastErr;
  }

  private bindUdp(host: string, port: number): Promise<UdpSocket> {
    return new Promise((resolve, reject) => {
      // Replies go to the numeric address a datagram came from: a synchronous identity lookup spares
      // every send the default lookup's IP check and process.nextTick hop (measured: ~3% of busy time).
      const s = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', lookup: identityLookup as never });
      s.once('error', reject);
      s.bind(port, host, () => {
        s.off('error', reject);
        s.on('error', () => { /* ICMP errors on send: nothing to do */ });
        s.on('message', (msg, rinfo) => this.onDatagram(s, msg, rinfo.address, rinfo.port));
        resolve(s);
      });
    });
  }

  private bindTcp(host: string, port: number): Promise<Server> {
    return new Promise((resolve, reject) => {
      const srv = createServer((sock) => this.onConnection(sock));
      srv.once('error', reject);
      srv.listen({ host, port, exclusive: true }, () => {
        srv.off('error', reject);
        srv.on('error', () => { /* accept errors (EMFILE…): the server keeps listening */ });
        resolve(srv);
      });
    });
  }

  /** Parsed source addresses (resolvers are few; bounded, started afresh when full). */
  private readonly addrs = new Map<string, Addr>();

  private onDatagram(s: UdpSocket, msg: Buffer, address: string, port: number): void {
    let src = this.addrs.get(address);
    if (src === undefined) {
      const a = parseAddr(address);
      if (a === null) return;
      if (this.addrs.size >= 4096) this.addrs.clear();
      this.addrs.set(address, a);
      src = a;
    }
    const r = this.safeAnswer(msg, src, true, address);
    this.counters.count('udp', r);
    if (r.bytes === null) return;
    if (this.rrl.enabled) {
      const v = this.rrl.check(src, Date.now());
      if (v === 'drop') { this.counters.event('rrl_dropped'); return; }
      if (v === 'slip') {
        this.counters.event('rrl_slipped');
        // Truncated and empty (header only, TC set): a real client retries over TCP, which is not limited.
        const b = Buffer.from(r.bytes.subarray(0, 12));
        b.writeUInt16BE(b.readUInt16BE(2) | 0x0200, 2);
        b.fill(0, 4, 12);
        s.send(b, port, address);
        return;
      }
    }
    s.send(r.bytes, port, address);
  }

  private safeAnswer(msg: Buffer, src: Addr, udp: boolean, srcKey?: string): WireResult {
    try {
      return answer(msg, src, udp, this.ctx, srcKey);
    } catch {
      // A bug, not the packet's fault (wire.ts catches malformed input): answer SERVFAIL, never crash.
      this.counters.event('internal_error');
      if (msg.length < 12) return { bytes: null, rcode: -1, truncated: false };
      const b = Buffer.alloc(12);
      b.writeUInt16BE(msg.readUInt16BE(0), 0);
      b.writeUInt16BE(0x8000 | (msg.readUInt16BE(2) & 0x7900) | 2, 2);
      return { bytes: b, rcode: 2, truncated: false };
    }
  }

  private onConnection(sock: Socket): void {
    if (this.conns.size >= this.opts.tcp.maxConnections) {
      this.counters.event('tcp_refused');
      sock.destroy();
      return;
    }
    this.conns.add(sock);
    // Idle = no complete query (RFC 7766 §6.2.3): a byte now and then does not keep a connection.
    const idle = setTimeout(() => {
      this.counters.event('tcp_idle_closed');
      sock.destroy();
    }, this.opts.tcp.idleTimeout);
    idle.unref();
    sock.on('close', () => {
      clearTimeout(idle);
      this.conns.delete(sock);
    });
    sock.on('error', () => sock.destroy());
    sock.setNoDelay(true);
    const src = parseAddr(sock.remoteAddress ?? '') ?? new Uint8Array(4);
    let buf: Buffer = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (buf.length > 2 * TCP_BUFFER_MAX) { sock.destroy(); return; }
      for (let guard = 0; guard < 10_000 && buf.length >= 2; guard++) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        idle.refresh();
        const r = this.safeAnswer(Buffer.from(msg), src, false);
        this.counters.count('tcp', r);
        if (r.bytes === null) { sock.destroy(); return; }
        const out = Buffer.allocUnsafe(2 + r.bytes.length);
        out.writeUInt16BE(r.bytes.length, 0);
        r.bytes.copy(out, 2);
        sock.write(out);
      }
    });
  }

  /** Open TCP connections. */
  get tcpConnections(): number {
    return this.conns.size;
  }

  /** Closes both sockets and every TCP connection. */
  close(): Promise<void> {
    const waits: Promise<void>[] = [];
    const udp = this.udp;
    this.udp = null;
    if (udp !== null) waits.push(new Promise((r) => udp.close(() => r())));
    const tcp = this.tcp;
    this.tcp = null;
    if (tcp !== null) waits.push(new Promise((r) => tcp.close(() => r())));
    for (const c of this.conns) c.destroy();
    return Promise.all(waits).then(() => undefined);
  }
}
