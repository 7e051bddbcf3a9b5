/**
 * A node:tls client for the https tests: one TLS connection, HTTP/1.1 requests written raw and
 * responses read by Content-Length (keep-alive), the certificate the server chose (CN, serial),
 * the negotiated version and ALPN protocol. Every wait is bounded.
 */
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';

export interface Reply { status: number; headers: Map<string, string>; body: string }

export interface Handshake { ok: boolean; error: string; cn: string; serial: string; version: string; alpn: string | false | null }

export class TlsClient {
  readonly socket: TLSSocket;
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private ended = false;

  private constructor(socket: TLSSocket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.waiter?.();
    });
    socket.on('error', () => {});
  }

  /** Connects to 127.0.0.1:port; rejects when the handshake fails (or after 5 s). */
  static open(port: number, opts: ConnectionOptions = {}): Promise<TlsClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, ...opts });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error('handshake timed out'));
      }, 5000);
      s.once('secureConnect', () => {
        clearTimeout(timer);
        resolve(new TlsClient(s));
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  get cn(): string {
    return String(this.socket.getPeerCertificate().subject?.CN ?? '');
  }

  get serial(): string {
    return this.socket.getPeerX509Certificate()?.serialNumber ?? '';
  }

  /** Sends one request and reads its response (Content-Length framing); 5 s bound. */
  async request(path: string, headers: Record<string, string> = {}, host = 'localhost'): Promise<Reply> {
    const lines = [`GET ${path} HTTP/1.1`, `Host: ${host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    this.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    const deadline = Date.now() + 5000;
    for (let guard = 0; guard < 10_000; guard++) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = this.buf.subarray(0, end).toString('latin1').split('\r\n');
        const map = new Map<string, string>();
        for (const l of head.slice(1)) {
          const i = l.indexOf(':');
          map.set(l.slice(0, i).toLowerCase(), l.slice(i + 1).trim());
        }
        const len = Number(map.get('content-length') ?? '0');
        if (this.buf.length >= end + 4 + len) {
          const body = this.buf.subarray(end + 4, end + 4 + len).toString('utf8');
          this.buf = this.buf.subarray(end + 4 + len);
          return { status: Number(head[0].split(' ')[1]), headers: map, body };
        }
      }
      if (this.ended) throw new Error(`connection closed; got ${JSON.stringify(this.buf.toString('latin1'))}`);
      if (Date.now() > deadline) throw new Error(`no complete response in 5 s; got ${JSON.stringify(this.buf.toString('latin1'))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = null;
    }
    throw new Error('unreachable');
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Runs one handshake and reports what was negotiated (never rejects). */
export async function handshake(port: number, opts: ConnectionOptions = {}): Promise<Handshake> {
  try {
    const c = await TlsClient.open(port, { rejectUnauthorized: false, ...opts });
    const r: Handshake = { ok: true, error: '', cn: c.cn, serial: c.serial, version: c.socket.getProtocol() ?? '', alpn: c.socket.alpnProtocol };
    c.close();
    return r;
  } catch (err) {
    const e = err as Error & { code?: string };
    return { ok: false, error: `${e.code ?? ''} ${e.message}`, cn: '', serial: '', version: '', alpn: false };
  }
}
