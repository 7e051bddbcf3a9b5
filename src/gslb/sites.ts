/**
 * Health of GSLB sites at run time: the edge that feeds a site's active checks (the same
 * HealthChecker and check kinds as pool servers, src/runtime/health-checks.ts) into a site state —
 * up while at least one endpoint is up, and not drained — plus what the policies and the
 * health-driven TTL read: an RTT average from the checks' measured durations, the time of the last
 * change, and whether a check run is in progress against the current state (unstable).
 */
import { HealthChecker } from '../runtime/health-checks.ts';
import type { CheckTarget } from '../health/checks/types.ts';
import type { HealthCheckConfig } from '../config/schema.ts';
import type { SiteConfig } from './schema.ts';
import type { Logger } from '../core/log.ts';

/** Weight of a new RTT sample in the average. */
const RTT_ALPHA = 0.3;

export interface SiteEvent {
  readonly at: number;
  readonly site: string;
  readonly endpoint: string | null;
  readonly to: string;
  readonly reason: string;
}

export class SiteHealth {
  readonly name: string;
  readonly config: SiteConfig;
  readonly v4: readonly string[];
  readonly v6: readonly string[];
  readonly endpoints: readonly string[];
  readonly checker: HealthChecker | null;
  /** Up: not drained and (no checks, or at least one endpoint available). */
  up: boolean;
  /** Wall-clock ms of the last up/down change (0 = never). */
  changedAt = 0;
  /** Average of the checks' durations (ms), NaN before the first passing check. */
  rttMs = Number.NaN;
  /** `at` of the last check record folded into rttMs, per endpoint. */
  private readonly seen: number[];
  private readonly log: Logger;
  private readonly onEvent: (e: SiteEvent) => void;

  constructor(config: SiteConfig, log: Logger, onEvent: (e: SiteEvent) => void, prev?: SiteHealth) {
    this.name = config.name;
    this.config = config;
    this.log = log;
    this.onEvent = onEvent;
    this.v4 = config.addresses.filter((a) => !a.includes(':'));
    this.v6 = config.addresses.filter((a) => a.includes(':'));
    const hc = config.healthCheck as HealthCheckConfig | undefined;
    this.endpoints = hc === undefined ? [] : config.endpoints ?? config.addresses.map((a) => (a.includes(':') ? `[${a}]:${hc.port}` : `${a}:${hc.port}`));
    this.seen = this.endpoints.map(() => 0);
    this.checker = hc === undefined ? null : new HealthChecker(`gslb:${config.name}`, hc, this.endpoints.map((address): CheckTarget => {
      const at = address.lastIndexOf(':');
      return { pool: `gslb:${config.name}`, address, host: address.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(at + 1)) };
    }), (slot, t) => {
      this.onEvent({ at: Date.now(), site: this.name, endpoint: this.endpoints[slot], to: t.to, reason: t.reason });
      this.refresh();
    });
    if (prev !== undefined) {
      if (this.checker !== null && prev.checker !== null) this.checker.adopt(prev.checker);
      this.changedAt = prev.changedAt;
      this.rttMs = prev.rttMs;
    }
    this.up = this.compute();
    if (prev !== undefined && prev.up !== this.up) this.changedAt = Date.now();
  }

  private compute(): boolean {
    if (this.config.drain) return false;
    if (this.checker === null) return true;
    return this.checker.states.some((s) => s.available);
  }

  private refresh(): void {
    const up = this.compute();
    if (up === this.up) return;
    this.up = up;
    this.changedAt = Date.now();
    this.log.warn({ site: this.name, to: up ? 'up' : 'down' }, `GSLB site ${this.name} ${up ? 'up' : 'down'}`);
    this.onEvent({ at: this.changedAt, site: this.name, endpoint: null, to: up ? 'up' : 'down', reason: up ? 'an endpoint is up' : 'every endpoint is down' });
  }

  /** True while a check run disagrees with the current state (failures while up, passes while down) or the state changed within `windowMs`. */
  unstable(now: number, windowMs: number): boolean {
    if (this.changedAt !== 0 && now - this.changedAt < windowMs) return true;
    if (this.checker === null) return false;
    return this.checker.states.some((s) => (s.status === 'healthy' ? s.failures > 0 : s.status === 'unhealthy' && s.passes > 0));
  }

  /** Folds new check durations into the RTT average (called periodically). */
  sample(): void {
    const c = this.checker;
    if (c === null) return;
    for (let i = 0; i < c.last.length; i++) {
      const l = c.last[i];
      if (l === null || l.at === this.seen[i]) continue;
      this.seen[i] = l.at;
      if (!l.passed) continue;
      this.rttMs = Number.isNaN(this.rttMs) ? l.durationMs : this.rttMs + RTT_ALPHA * (l.durationMs - this.rttMs);
    }
  }

  start(): void {
    this.checker?.start();
  }

  stop(): void {
    this.checker?.stop();
  }
}
