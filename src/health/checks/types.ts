/**
 * The plug-in interface of active health checks (DESIGN.md rule 2): a check kind (`tcp`, `http`,
 * `command`) is one file that registers a `CheckKind` by name in ./registry.ts. The scheduler
 * (src/runtime/health-checks.ts) runs a kind once per interval per server and feeds the result to
 * the pure rise/fall state machine (src/health/state.ts). Ideas from HAProxy's `check`,
 * `check-ssl`, `option httpchk`/`http-check expect` and `external-check`; Envoy's health checkers.
 *
 * Contract of `run()`: it never rejects; it fails by itself after `config.timeout` (closing its
 * socket, SIGKILLing its process), and as soon as `signal` aborts (the scheduler's watchdog, or
 * stop()), releasing everything it holds before it resolves.
 */
import type { HealthCheckConfig } from '../../config/schema.ts';

export type { HealthCheckConfig };

/** The server a check probes. */
export interface CheckTarget {
  /** Name of the pool the server belongs to. */
  readonly pool: string;
  /** The server address as written in the config (`host:port`, `[v6]:port`). */
  readonly address: string;
  /** Host part of the address (IPv6 without brackets). */
  readonly host: string;
  /** The server's own port; a check uses `config.port` instead when set. */
  readonly port: number;
}

/** The outcome of one check. */
export interface CheckResult {
  readonly passed: boolean;
  /**
   * What happened, for people: `GET /healthz → 200`, `GET /healthz → 503`,
   * `GET /healthz → 200 but body lacks "ok"`, `connect refused`, `connection reset`,
   * `timeout after 1 s`, `exit 1`, `killed by SIGTERM`, `cannot run /x: ENOENT`.
   */
  readonly detail: string;
  /** Wall time the check took, in milliseconds. */
  readonly durationMs: number;
}

/** One kind of check, registered by name (`HealthCheckConfig.type`). */
export interface CheckKind {
  readonly name: string;
  /** Runs one check of `target`. Never rejects; see the file header for timeouts and aborts. */
  run(target: CheckTarget, config: HealthCheckConfig, signal: AbortSignal): Promise<CheckResult>;
}

/** The port a check connects to (or passes to a command): `config.port`, else the server's. */
export function checkPort(target: CheckTarget, config: HealthCheckConfig): number {
  return config.port ?? target.port;
}

/** `200 ms`, `1 s`, `1.5 s`: a duration as the details show it. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** `timeout after 1 s` — the detail of a check that ran out of time. */
export function timeoutDetail(timeoutMs: number): string {
  return `timeout after ${formatMs(timeoutMs)}`;
}

/**
 * Detail of a check stopped by its signal: a timeout when the signal's reason is a TimeoutError
 * (the scheduler's watchdog, `AbortSignal.timeout`), else `aborted`.
 */
export function abortDetail(signal: AbortSignal, timeoutMs: number): string {
  const r: unknown = signal.reason;
  return r instanceof Error && r.name === 'TimeoutError' ? timeoutDetail(timeoutMs) : 'aborted';
}
