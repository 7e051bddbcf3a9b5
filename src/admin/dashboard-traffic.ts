/**
 * The embedded demo's traffic generator, driven from the dashboard (only `fulcrum demo` installs it):
 *
 *   GET  /api/v1/demo/traffic          status (read)
 *   POST /api/v1/demo/traffic          {"rate": 20, "clients": 4, "durationS": 60}  start (or restart); token
 *   POST /api/v1/demo/traffic/stop     stop; token
 *
 * Requests go to the balancer's first HTTP listener from several loopback source addresses
 * (127.0.0.2 … 127.0.0.9, one per client, bound with `localAddress`), so `ip-hash` and `source-ip`
 * hash keys visibly pin each client to one backend. Bounded: at most MAX_RATE requests/s, MAX_CLIENTS
 * clients, MAX_DURATION_S seconds and MAX_IN_FLIGHT requests open at once (ticks that would exceed it
 * are counted as `skipped`, not queued). Stopped by stop(), at the end of its duration, and on shutdown.
 */
import { Agent, request } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { AdminServer, Ctx } from './server.ts';

export const MAX_RATE = 500;
export const MAX_CLIENTS = 8;
export const MAX_DURATION_S = 600;
export const MAX_IN_FLIGHT = 256;
const TICK_MS = 100;

export interface TrafficTarget { host: string; port: number }

export interface TrafficSettings { rate: number; clients: number; durationS: number }

interface ClientStats { source: string; sent: number; ok: number; errors: number; backends: Record<string, number> }

/** Validates a start body: every problem by field. */
export function trafficProblems(body: unknown): { settings: TrafficSettings | null; problems: { path: string; message: string }[] } {
  const problems: { path: string; message: string }[] = [];
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { settings: null, problems: [{ path: '(body)', message: 'expected {"rate": N, "clients": N, "durationS": N}' }] };
  }
  const b = body as Record<string, unknown>;
  const num = (k: string, dflt: number, min: number, max: number, int: boolean): number => {
    const v = b[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || (int && !Number.isInteger(v)) || v < min || v > max) {
      problems.push({ path: k, message: `expected ${int ? 'an integer' : 'a number'} ${min}–${max}, got ${JSON.stringify(v)}` });
      return dflt;
    }
    return v;
  };
  for (const k of Object.keys(b)) if (!['rate', 'clients', 'durationS'].includes(k)) problems.push({ path: k, message: 'unknown field; expected rate, clients, durationS' });
  const settings = { rate: num('rate', 20, 1, MAX_RATE, false), clients: num('clients', 4, 1, MAX_CLIENTS, true), durationS: num('durationS', 60, 1, MAX_DURATION_S, false) };
  return { settings: problems.length > 0 ? null : settings, problems };
}

export class TrafficGenerator {
  private readonly target: () => TrafficTarget | null;
  private timer: NodeJS.Timeout | null = null;
  private agents: Agent[] = [];
  private settings: TrafficSettings | null = null;
  private startedAt = 0;
  private endsAt = 0;
  private credit = 0;
  private next = 0;
  private inFlight = 0;
  private skipped = 0;
  private stats: ClientStats[] = [];
  private stoppedReason: string | null = null;

  /** `target`: where the balancer listens now (null when it does not). */
  constructor(target: () => TrafficTarget | null) {
    this.target = target;
  }

  get running(): boolean {
    return this.timer !== null;
  }

  start(s: TrafficSettings): void {
    this.stop('restarted');
    this.settings = s;
    this.startedAt = Date.now();
    this.endsAt = this.startedAt + s.durationS * 1000;
    this.credit = 0;
    this.next = 0;
    this.skipped = 0;
    this.stoppedReason = null;
    this.stats = [];
    for (let i = 0; i < s.clients; i++) {
      const source = `127.0.0.${2 + i}`;
      this.stats.push({ source, sent: 0, ok: 0, errors: 0, backends: {} });
      this.agents.push(new Agent({ keepAlive: true, maxSockets: 8, localAddress: source } as ConstructorParameters<typeof Agent>[0]));
    }
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  stop(reason = 'stopped'): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
    this.stoppedReason = reason;
    for (const a of this.agents) a.destroy();
    this.agents = [];
  }

  status(): unknown {
    const s = this.settings;
    return {
      running: this.running,
      settings: s,
      limits: { maxRate: MAX_RATE, maxClients: MAX_CLIENTS, maxDurationS: MAX_DURATION_S, maxInFlight: MAX_IN_FLIGHT },
      startedAt: s === null ? null : new Date(this.startedAt).toISOString(),
      endsAt: s === null ? null : new Date(this.endsAt).toISOString(),
      stoppedReason: this.running ? null : this.stoppedReason,
      inFlight: this.inFlight,
      skipped: this.skipped,
      sent: this.stats.reduce((a, c) => a + c.sent, 0),
      clients: this.stats,
    };
  }

  private tick(): void {
    const s = this.settings!;
    if (Date.now() >= this.endsAt) return this.stop('duration reached');
    const t = this.target();
    if (t === null) return this.stop('the balancer is not listening');
    this.credit += (s.rate * TICK_MS) / 1000;
    while (this.credit >= 1) {
      this.credit -= 1;
      if (this.inFlight >= MAX_IN_FLIGHT) {
        this.skipped++;
        continue;
      }
      const k = this.next++ % this.agents.length;
      this.send(t, k);
    }
  }

  private send(t: TrafficTarget, k: number): void {
    const c = this.stats[k];
    c.sent++;
    this.inFlight++;
    let done = false;
    const finish = (ok: boolean, backend: string | null) => {
      if (done) return;
      done = true;
      this.inFlight--;
      if (ok) c.ok++;
      else c.errors++;
      if (backend !== null) c.backends[backend] = (c.backends[backend] ?? 0) + 1;
    };
    const req = request({ host: t.host, port: t.port, path: `/demo-traffic/${c.source}/${c.sent}`, agent: this.agents[k], localAddress: c.source, headers: { 'user-agent': 'fulcrum-demo-traffic' }, timeout: 15_000 }, (res) => {
      const b = res.headers['x-demo-backend'];
      res.resume();
      res.on('end', () => finish((res.statusCode ?? 0) < 500, typeof b === 'string' ? b : `status ${res.statusCode}`));
      res.on('error', () => finish(false, null));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => finish(false, null));
    req.end();
  }
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(text);
}

async function readJson(c: Ctx): Promise<{ ok: true; value: unknown } | { ok: false }> {
  let raw = '';
  for await (const chunk of c.req) {
    raw += (chunk as Buffer).toString('utf8');
    if (raw.length > 4096) {
      answer(c.res, 413, { error: 'request body over 4096 bytes' });
      return { ok: false };
    }
  }
  try {
    return { ok: true, value: raw.trim() === '' ? {} : JSON.parse(raw) };
  } catch (err) {
    answer(c.res, 400, { error: `invalid JSON body: ${(err as Error).message}` });
    return { ok: false };
  }
}

/** Installs the generator's routes on the admin server (feature `demo-traffic` for the dashboard). */
export function installTrafficRoutes(admin: AdminServer, gen: TrafficGenerator): void {
  admin.addRoute('GET', '/api/v1/demo/traffic', false, (c) => answer(c.res, 200, gen.status()), 'demo-traffic');
  admin.addRoute('POST', '/api/v1/demo/traffic', true, async (c) => {
    const body = await readJson(c);
    if (!body.ok) return;
    const r = trafficProblems(body.value);
    if (r.settings === null) return answer(c.res, 422, { error: 'invalid traffic settings', problems: r.problems });
    gen.start(r.settings);
    admin.audit(c, `start demo traffic ${r.settings.rate}/s from ${r.settings.clients} clients for ${r.settings.durationS}s`, 'applied', 200);
    answer(c.res, 200, gen.status());
  });
  admin.addRoute('POST', '/api/v1/demo/traffic/stop', true, (c) => {
    gen.stop();
    admin.audit(c, 'stop demo traffic', 'applied', 200);
    answer(c.res, 200, gen.status());
  });
}
