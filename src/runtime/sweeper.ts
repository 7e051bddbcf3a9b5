/**
 * One coarse timer for all deadlines (header read, idle keep-alive, connect, response head, whole
 * request) and for closing idle upstream connections. Per-request timers would cost an allocation
 * and a timer-list insert per request; a 100 ms sweep costs a few comparisons per connection.
 */
export interface Deadlined {
  deadline: number;
  requestDeadline: number;
  onDeadline(now: number): void;
}

/** Sweep period in milliseconds: deadlines fire at most this late. */
export const SWEEP_MS = 100;

export class Sweeper {
  private readonly sets = new Set<Iterable<Deadlined>>();
  private readonly tasks = new Set<(now: number) => void>();
  private timer: NodeJS.Timeout | null = null;

  /** Watches a live collection of connections (e.g. a listener's connection set). */
  watch(conns: Iterable<Deadlined>): void {
    this.sets.add(conns);
    this.start();
  }

  unwatch(conns: Iterable<Deadlined>): void {
    this.sets.delete(conns);
  }

  /** Runs `task(now)` on every sweep (idle upstream expiry, …). */
  every(task: (now: number) => void): void {
    this.tasks.add(task);
    this.start();
  }

  private start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  sweep(now = Date.now()): void {
    for (const set of this.sets) {
      for (const c of set) {
        if ((c.deadline !== 0 && now >= c.deadline) || (c.requestDeadline !== 0 && now >= c.requestDeadline)) {
          c.onDeadline(now);
        }
      }
    }
    for (const t of this.tasks) t(now);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
