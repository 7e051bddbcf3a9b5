/**
 * Test backends and clients for the end-to-end tests, on 127.0.0.1 with port 0:
 * - a raw `net` backend that records the exact bytes of every connection and answers each complete
 *   request (framed with the small reader below) through a callback;
 * - node:http backends;
 * - `sendRaw`, a raw client that writes bytes (optionally in chunks with delays) and collects what
 *   comes back until the peer closes, a predicate holds, or a time limit passes;
 * - `RawConn`, a keep-alive client that reads one response at a time;
 * - `parseMessage`, an independent HTTP/1.1 message framer (RFC 9112 §6.3) used by all of the above.
 * Every wait is bounded in time; every server returned has a close() that closes its connections.
 */
import { createServer as createNetServer, connect, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';

// ------------------------------------------------------------------------------------------ framing

export interface Message {
  /** Request line or status line (without CRLF). */
  startLine: string;
  method: string;
  target: string;
  /** `HTTP/1.1` etc. */
  version: string;
  status: number;
  headers: [string, string][];
  /** Raw head bytes, start line to the final CRLF CRLF included. */
  head: Buffer;
  /** Raw body bytes as framed on the wire (chunk framing included). */
  rawBody: Buffer;
  /** Decoded body. */
  body: Buffer;
  trailers: [string, string][];
  /** Chunk sizes in order (chunked bodies only; the final 0 included). */
  chunkSizes: number[];
  framing: 'none' | 'length' | 'chunked' | 'close';
  /** Offset just past the message in the buffer it was parsed from. */
  end: number;
}

export interface ParseOptions {
  response: boolean;
  /** Method of the request a response answers (HEAD → no body). */
  requestMethod?: string;
  /** The peer has closed: a close-delimited body ends at the end of the buffer. */
  eof?: boolean;
}

function parseFieldLines(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of text.split('\r\n')) {
    if (line === '') continue;
    const i = line.indexOf(':');
    out.push([line.slice(0, i), line.slice(i + 1).trim()]);
  }
  return out;
}

/** Frames one message starting at `start`; null when more bytes are needed. */
export function parseMessage(buf: Buffer, start: number, o: ParseOptions): Message | null {
  const he = buf.indexOf('\r\n\r\n', start, 'latin1');
  if (he < 0) return null;
  const headEnd = he + 4;
  const headText = buf.toString('latin1', start, he);
  const nl = headText.indexOf('\r\n');
  const startLine = nl < 0 ? headText : headText.slice(0, nl);
  const headers = nl < 0 ? [] : parseFieldLines(headText.slice(nl + 2));
  const parts = startLine.split(' ');
  const m: Message = {
    startLine, method: '', target: '', version: '', status: 0, headers,
    head: buf.subarray(start, headEnd), rawBody: Buffer.alloc(0), body: Buffer.alloc(0), trailers: [], chunkSizes: [],
    framing: 'none', end: headEnd,
  };
  if (o.response) {
    m.version = parts[0];
    m.status = Number(parts[1]);
  } else {
    m.method = parts[0];
    m.target = parts[1];
    m.version = parts[2];
  }
  const te = headerOf(m, 'transfer-encoding');
  const cl = headerOf(m, 'content-length');
  const noBody = o.response && (o.requestMethod === 'HEAD' || m.status < 200 || m.status === 204 || m.status === 304);
  if (noBody) return m;
  if (te !== undefined && /(^|,)\s*chunked\s*$/i.test(te)) {
    m.framing = 'chunked';
    const bodies: Buffer[] = [];
    let p = headEnd;
    for (let guard = 0; guard < 1_000_000; guard++) {
      const le = buf.indexOf('\r\n', p, 'latin1');
      if (le < 0) return null;
      const size = parseInt(buf.toString('latin1', p, le).split(';')[0].trim(), 16);
      m.chunkSizes.push(size);
      p = le + 2;
      if (size === 0) {
        const tstart = p;
        for (let g2 = 0; g2 < 10_000; g2++) {
          const e = buf.indexOf('\r\n', p, 'latin1');
          if (e < 0) return null;
          if (e === p) {
            m.trailers = parseFieldLines(buf.toString('latin1', tstart, p));
            m.end = p + 2;
            m.rawBody = buf.subarray(headEnd, m.end);
            m.body = Buffer.concat(bodies);
            return m;
          }
          p = e + 2;
        }
        throw new Error('too many trailer lines');
      }
      if (p + size + 2 > buf.length) return null;
      bodies.push(buf.subarray(p, p + size));
      p += size + 2;
    }
    throw new Error('too many chunks');
  }
  if (cl !== undefined) {
    m.framing = 'length';
    const n = Number(cl);
    if (buf.length < headEnd + n) return null;
    m.end = headEnd + n;
    m.body = m.rawBody = buf.subarray(headEnd, m.end);
    return m;
  }
  if (!o.response) return m;
  m.framing = 'close';
  if (!o.eof) return null;
  m.end = buf.length;
  m.body = m.rawBody = buf.subarray(headEnd);
  return m;
}

/** First value of a header (case-insensitive name), or undefined. */
export function headerOf(m: Message, name: string): string | undefined {
  const l = name.toLowerCase();
  return m.headers.find(([n]) => n.toLowerCase() === l)?.[1];
}

/** All values of a header (case-insensitive name). */
export function headersOf(m: Message, name: string): string[] {
  const l = name.toLowerCase();
  return m.headers.filter(([n]) => n.toLowerCase() === l).map(([, v]) => v);
}

/** Parses every complete response in `buf` (1xx interim responses included, in order). */
export function parseResponses(buf: Buffer, methods: string[] = [], eof = true): Message[] {
  const out: Message[] = [];
  let p = 0;
  let mi = 0;
  while (p < buf.length && out.length < 10_000) {
    const m = parseMessage(buf, p, { response: true, requestMethod: methods[mi], eof });
    if (m === null) break;
    out.push(m);
    if (m.status >= 200) mi++;
    p = m.end;
  }
  return out;
}

// ------------------------------------------------------------------------------------------ raw backend

export interface RawConnRecord {
  socket: Socket;
  /** Every byte received on this connection, in order. */
  chunks: Buffer[];
  /** Complete requests framed so far on this connection. */
  requests: Message[];
  closed: boolean;
  bytes(): Buffer;
}

/** What the raw backend's callback may return: bytes to write, optionally then close. */
export type RawReply = string | Buffer | { data: string | Buffer; close?: boolean; delayMs?: number } | null | undefined;

export interface RawBackend {
  port: number;
  address: string;
  conns: RawConnRecord[];
  /** All requests in arrival order. */
  requests: Message[];
  /** Total bytes received over all connections. */
  totalBytes(): number;
  close(): Promise<void>;
}

/**
 * A backend on a raw net.Server: records all bytes of each connection and, for each complete request
 * (framed by parseMessage), calls `reply`; a returned string/Buffer is written as is (latin1 for strings).
 */
export function startRawBackend(reply: (req: Message, conn: RawConnRecord) => RawReply, opts: { idleCloseMs?: number } = {}): Promise<RawBackend> {
  const conns: RawConnRecord[] = [];
  const requests: Message[] = [];
  const server: NetServer = createNetServer({ allowHalfOpen: true }, (socket) => {
    const rec: RawConnRecord = {
      socket, chunks: [], requests: [], closed: false,
      bytes: () => Buffer.concat(rec.chunks),
    };
    conns.push(rec);
    let buf: Buffer = Buffer.alloc(0);
    let idleTimer: NodeJS.Timeout | null = null;
    const armIdle = () => {
      if (opts.idleCloseMs === undefined) return;
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = setTimeout(() => socket.end(), opts.idleCloseMs);
    };
    armIdle();
    socket.on('data', (d: Buffer) => {
      if (idleTimer) clearTimeout(idleTimer);
      rec.chunks.push(d);
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      for (let guard = 0; guard < 1000; guard++) {
        const m = parseMessage(buf, 0, { response: false });
        if (m === null) break;
        // keep the message's own bytes (buf is replaced below)
        const copy = parseMessage(Buffer.from(buf.subarray(0, m.end)), 0, { response: false })!;
        buf = buf.subarray(m.end);
        rec.requests.push(copy);
        requests.push(copy);
        const r = reply(copy, rec);
        if (r === null || r === undefined) continue;
        const data = typeof r === 'string' || Buffer.isBuffer(r) ? r : r.data;
        const close = typeof r === 'object' && !Buffer.isBuffer(r) && r.close === true;
        const delay = typeof r === 'object' && !Buffer.isBuffer(r) ? r.delayMs ?? 0 : 0;
        const send = () => {
          if (socket.destroyed) return;
          socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
          if (close) socket.end();
          else armIdle();
        };
        if (delay > 0) setTimeout(send, delay);
        else send();
      }
    });
    socket.on('end', () => { if (!socket.writableEnded) socket.end(); });
    socket.on('error', () => {});
    socket.on('close', () => {
      rec.closed = true;
      if (idleTimer) clearTimeout(idleTimer);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        port,
        address: `127.0.0.1:${port}`,
        conns,
        requests,
        totalBytes: () => conns.reduce((n, c) => n + c.chunks.reduce((k, b) => k + b.length, 0), 0),
        close: () => new Promise<void>((res) => {
          for (const c of conns) c.socket.destroy();
          server.close(() => res());
        }),
      });
    });
  });
}

/** A complete response with Content-Length (latin1 body). */
export function okResponse(body = 'ok', extra = ''): string {
  return `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\n${extra}\r\n${body}`;
}

// ------------------------------------------------------------------------------------------ node:http backend

export interface HttpBackend {
  port: number;
  address: string;
  server: HttpServer;
  /** Number of TCP connections accepted. */
  connections(): number;
  close(): Promise<void>;
}

export function startHttpBackend(handler: (req: IncomingMessage, res: ServerResponse) => void, opts: { keepAliveTimeout?: number } = {}): Promise<HttpBackend> {
  const server = createHttpServer(handler);
  if (opts.keepAliveTimeout !== undefined) server.keepAliveTimeout = opts.keepAliveTimeout;
  let count = 0;
  server.on('connection', () => { count++; });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        port, address: `127.0.0.1:${port}`, server, connections: () => count,
        close: () => new Promise<void>((res) => {
          server.closeAllConnections();
          server.close(() => res());
        }),
      });
    });
  });
}

// ------------------------------------------------------------------------------------------ raw client

export type Piece = string | Buffer | { delayMs: number };

export interface RawResult {
  /** Everything received. */
  bytes: Buffer;
  /** The peer closed (FIN or reset) before the time limit. */
  closed: boolean;
  /** The connection was reset / errored (code), or null. */
  error: string | null;
  /** Milliseconds from connect to close (or to the end of the wait). */
  elapsedMs: number;
}

export interface SendOptions {
  localAddress?: string;
  /** Give up waiting after this long (default 5000 ms); `closed` is then false unless it closed. */
  timeoutMs?: number;
  /** Resolve as soon as this returns true for the bytes received so far. */
  until?: (bytes: Buffer) => boolean;
  /** Half-close (FIN) after the last piece. */
  end?: boolean;
}

/**
 * Connects to 127.0.0.1:port, writes the pieces (strings are latin1; `{delayMs}` waits), and collects
 * the bytes received until the server closes, `until` holds, or `timeoutMs` passes.
 */
export function sendRaw(port: number, data: Piece | Piece[], opts: SendOptions = {}): Promise<RawResult> {
  const pieces = Array.isArray(data) ? data : [data];
  const timeoutMs = opts.timeoutMs ?? 5000;
  return new Promise((resolve) => {
    const t0 = performance.now();
    const chunks: Buffer[] = [];
    let done = false;
    let error: string | null = null;
    const socket = connect({ host: '127.0.0.1', port, localAddress: opts.localAddress, allowHalfOpen: true });
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ bytes: Buffer.concat(chunks), closed, error, elapsedMs: performance.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      if (opts.until?.(Buffer.concat(chunks))) finish(false);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', (e: NodeJS.ErrnoException) => { error = e.code ?? e.message; });
    socket.on('connect', async () => {
      for (const p of pieces) {
        if (done || socket.destroyed) return;
        if (typeof p === 'object' && !Buffer.isBuffer(p)) await sleep(p.delayMs);
        else socket.write(typeof p === 'string' ? Buffer.from(p, 'latin1') : p);
      }
      if (opts.end && !socket.destroyed) socket.end();
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * A keep-alive client connection: write a request, read exactly one response (1xx skipped unless
 * asked). Each read is bounded by `timeoutMs` (default 5000).
 */
export class RawConn {
  readonly socket: Socket;
  private buf: Buffer = Buffer.alloc(0);
  private eof = false;
  closed = false;
  private waiter: (() => void) | null = null;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    socket.on('end', () => { this.eof = true; this.waiter?.(); });
    socket.on('close', () => { this.eof = true; this.closed = true; this.waiter?.(); });
    socket.on('error', () => {});
  }

  /**
   * Connects to 127.0.0.1:port. Like most clients, the socket closes its side when the server
   * closes (`allowHalfOpen` false) unless `allowHalfOpen` is true.
   */
  static open(port: number, localAddress?: string, allowHalfOpen = false): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, localAddress, allowHalfOpen });
      s.once('connect', () => resolve(new RawConn(s)));
      s.once('error', reject);
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Reads the next response (answering a `method` request). Rejects on timeout or close before a complete message. */
  async read(method = 'GET', timeoutMs = 5000, keepInterim = false): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (let guard = 0; guard < 100_000; guard++) {
      const m = parseMessage(this.buf, 0, { response: true, requestMethod: method, eof: this.eof });
      if (m !== null) {
        const copy = parseMessage(Buffer.from(this.buf.subarray(0, m.end)), 0, { response: true, requestMethod: method, eof: true })!;
        this.buf = this.buf.subarray(m.end);
        if (m.status >= 100 && m.status < 200 && !keepInterim) continue;
        return copy;
      }
      if (this.eof) throw new Error(`connection closed before a complete response; got ${JSON.stringify(this.buf.toString('latin1'))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no complete response within ${timeoutMs} ms; got ${JSON.stringify(this.buf.toString('latin1'))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => { clearTimeout(t); this.waiter = null; resolve(); };
      });
    }
    throw new Error('read loop bound exceeded');
  }

  /** Bytes received and not yet consumed by read(). */
  rest(): Buffer {
    return this.buf;
  }

  /** Waits until the server closes the connection; true if it did within `timeoutMs`. */
  async waitClosed(timeoutMs = 2000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.eof && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiter = () => { clearTimeout(t); this.waiter = null; resolve(); };
      });
    }
    return this.eof;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One request on a fresh connection; returns the parsed response (and closes). */
export async function request(port: number, raw: string | Buffer, method = 'GET', localAddress?: string): Promise<Message> {
  const c = await RawConn.open(port, localAddress);
  try {
    c.write(raw);
    return await c.read(method);
  } finally {
    c.close();
  }
}
