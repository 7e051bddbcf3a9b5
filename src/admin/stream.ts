/**
 * GET /api/v1/stream: Server-Sent Events (WHATWG HTML §9.2) for the dashboard. Each client gets
 * at once, then every `intervalMs` (default 1000): an `event: snapshot` with the pools view
 * (endpoint figures, algorithm views; without each pool's event list — the events frames carry those), and an `event: events` with the feed's new events since the
 * last one it got (`id:` is the last event id, so a browser's EventSource reconnects with
 * Last-Event-ID and misses nothing the ring still holds). A comment line every `heartbeatMs`
 * keeps proxies from closing an idle stream. At most `maxClients` streams (503 beyond); all are
 * closed on shutdown.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Runtime } from '../runtime/runtime.ts';
import { eventView, poolsView } from './views.ts';

export interface StreamOptions {
  maxClients: number;
  intervalMs?: number;
  heartbeatMs?: number;
}

interface Client {
  res: ServerResponse;
  lastId: number;
}

export class EventStream {
  private readonly rt: Runtime;
  private readonly clients = new Set<Client>();
  private readonly maxClients: number;
  private readonly intervalMs: number;
  private readonly heartbeatMs: number;
  private timer: NodeJS.Timeout | null = null;
  private beat: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(rt: Runtime, opts: StreamOptions) {
    this.rt = rt;
    this.maxClients = opts.maxClients;
    this.intervalMs = opts.intervalMs ?? 1000;
    this.heartbeatMs = opts.heartbeatMs ?? 15_000;
  }

  get size(): number {
    return this.clients.size;
  }

  /** Serves one stream request (the caller has checked auth and the Host header). */
  open(req: IncomingMessage, res: ServerResponse, since: number | null): void {
    if (this.closed || this.clients.size >= this.maxClients) {
      const body = JSON.stringify({ error: this.closed ? 'shutting down' : `too many stream clients (admin.maxStreamClients ${this.maxClients})` }) + '\n';
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'retry-after': '5' });
      res.end(body);
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      connection: 'keep-alive',
    });
    req.socket.setNoDelay(true);
    req.socket.setTimeout(0);
    const header = req.headers['last-event-id'];
    const resume = since ?? (typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : null);
    const client: Client = { res, lastId: resume ?? Math.max(0, this.rt.feed.lastId() - 50) };
    this.clients.add(client);
    res.write(`retry: 2000\n\n`);
    this.send(client, Date.now());
    const drop = () => this.clients.delete(client);
    res.on('close', drop);
    res.on('error', drop);
    this.timer ??= setInterval(() => this.tick(), this.intervalMs);
    this.beat ??= setInterval(() => {
      for (const c of this.clients) c.res.write(`: heartbeat ${new Date().toISOString()}\n\n`);
    }, this.heartbeatMs);
  }

  private tick(): void {
    if (this.clients.size === 0) {
      this.stopTimers();
      return;
    }
    const now = Date.now();
    const snap = poolsView(this.rt, false);
    for (const c of this.clients) this.send(c, now, snap);
  }

  private send(c: Client, now: number, snap = poolsView(this.rt, false)): void {
    const { events, truncated, last } = this.rt.feed.since(c.lastId, 200);
    let out = `event: snapshot\ndata: ${JSON.stringify({ ...snap, lastEventId: last, at: new Date(now).toISOString() })}\n\n`;
    if (events.length > 0 || truncated) {
      const lastId = events.length > 0 ? events[events.length - 1].id : last;
      out += `id: ${lastId}\nevent: events\ndata: ${JSON.stringify({ truncated, events: events.map(eventView) })}\n\n`;
      c.lastId = lastId;
    }
    // Back-pressure: a client that does not read is dropped rather than buffered without bound.
    if (c.res.writableLength > 4 * 1024 * 1024) {
      c.res.destroy();
      this.clients.delete(c);
      return;
    }
    c.res.write(out);
  }

  private stopTimers(): void {
    if (this.timer !== null) clearInterval(this.timer);
    if (this.beat !== null) clearInterval(this.beat);
    this.timer = null;
    this.beat = null;
  }

  /** Ends every stream (shutdown). */
  close(): void {
    this.closed = true;
    this.stopTimers();
    for (const c of this.clients) {
      c.res.write('event: shutdown\ndata: {}\n\n');
      c.res.end();
    }
    this.clients.clear();
  }
}
