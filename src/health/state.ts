/**
 * Pure health state of one endpoint (DESIGN.md rule 1: no timers, sockets or files): the rise/fall
 * counter of HAProxy's health checks. `fall` consecutive failures take a healthy endpoint down;
 * `rise` consecutive successes bring a down one back. Checks and their timers live at the edge and
 * feed `record()`; every change of state comes back as a transition with a human-readable reason
 * (`GET /healthz → 503 three times`), which the edge logs once, counts and shows in the admin API.
 *
 * Initial state (`initial`): `unknown` (default, as HAProxy's first check decides — not routed until
 * a check passes, and the very first pass makes it healthy at once; `fall` failures in a row make it
 * unhealthy), `healthy` (assumed up until `fall` failures) or `unhealthy` (needs `rise` passes).
 */

export type HealthStatus = 'unknown' | 'healthy' | 'unhealthy';

export interface HealthThresholds {
  /** Consecutive passing checks that bring an unhealthy endpoint back (default 2, HAProxy's). */
  readonly rise: number;
  /** Consecutive failing checks that take a healthy endpoint down (default 3, HAProxy's). */
  readonly fall: number;
  /** State before the first check (default `unknown`). */
  readonly initial: HealthStatus;
}

export const DEFAULT_THRESHOLDS: HealthThresholds = Object.freeze({ rise: 2, fall: 3, initial: 'unknown' as const });

/** A change of state and why it happened. */
export interface HealthTransition {
  readonly from: HealthStatus;
  readonly to: HealthStatus;
  readonly reason: string;
}

const TIMES = ['', 'once', 'twice', 'three times', 'four times', 'five times'];

/** `once`, `twice`, `three times`, …, `12 times`. */
export function times(n: number): string {
  return n < TIMES.length ? TIMES[n] : `${n} times`;
}

/** The rise/fall state machine of one endpoint. */
export class HealthState {
  private readonly rise: number;
  private readonly fall: number;
  status: HealthStatus;
  /** Consecutive passes / failures of the current run (one of them is 0). */
  passes = 0;
  failures = 0;
  /** Details of the current run of failures (for the reason), bounded by `fall`. */
  private readonly failureDetails: string[] = [];
  /** Reason of the last transition ('' before any). */
  lastReason = '';

  constructor(thresholds: HealthThresholds = DEFAULT_THRESHOLDS) {
    if (!(thresholds.rise >= 1 && thresholds.fall >= 1)) throw new Error('rise and fall must be ≥ 1');
    this.rise = thresholds.rise;
    this.fall = thresholds.fall;
    this.status = thresholds.initial;
  }

  /** True when the endpoint may take traffic. */
  get available(): boolean {
    return this.status === 'healthy';
  }

  /**
   * Records one check result. `detail` describes it (`GET /healthz → 503`, `connect refused`,
   * `timeout after 1 s`). Returns the transition it caused, or null.
   */
  record(passed: boolean, detail: string): HealthTransition | null {
    if (passed) {
      this.failures = 0;
      this.failureDetails.length = 0;
      this.passes++;
      if (this.status === 'unknown') return this.move('healthy', `first check passed (${detail})`);
      if (this.status === 'unhealthy' && this.passes >= this.rise) {
        return this.move('healthy', `${detail}: passed ${times(this.passes)} in a row`);
      }
      return null;
    }
    this.passes = 0;
    this.failures++;
    if (this.failureDetails.length < this.fall) this.failureDetails.push(detail);
    if (this.status !== 'unhealthy' && this.failures >= this.fall) {
      return this.move('unhealthy', this.failureReason());
    }
    return null;
  }

  private failureReason(): string {
    const d = this.failureDetails;
    if (d.every((x) => x === d[0])) return `${d[0]} ${times(d.length)}`;
    return `${d.join('; ')} (${d.length} failures in a row)`;
  }

  private move(to: HealthStatus, reason: string): HealthTransition {
    const from = this.status;
    this.status = to;
    this.lastReason = reason;
    this.passes = 0;
    this.failures = 0;
    this.failureDetails.length = 0;
    return { from, to, reason };
  }
}
