/**
 * Parse the text wrk 4.x prints with `--latency` (github.com/wg/wrk, src/wrk.c `print_stats`):
 * `Requests/sec:`, the `Latency Distribution` lines (50% … 99%), `Non-2xx or 3xx responses:` and
 * `Socket errors:`. Latencies are converted to milliseconds.
 */

/** One wrk run's figures. */
export interface WrkResult {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  /** Responses whose status was not 2xx/3xx (0 when wrk printed no such line). */
  readonly non2xx: number;
  /** connect + read + write + timeout errors (0 when wrk printed no such line). */
  readonly socketErrors: number;
}

const UNIT_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };

function latency(text: string, pct: string): number {
  const m = new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(text);
  if (!m) throw new Error(`wrk output has no ${pct}% latency line (was --latency passed?)`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** Parse wrk's stdout; throws when Requests/sec or the 50%/99% lines are missing. */
export function parseWrk(text: string): WrkResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  if (!rps) throw new Error('wrk output has no "Requests/sec:" line');
  const req = /^\s*(\d+) requests in /m.exec(text);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(text);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    rps: Number(rps[1]),
    p50Ms: latency(text, '50'),
    p99Ms: latency(text, '99'),
    requests: req ? Number(req[1]) : 0,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: sock ? Number(sock[1]) + Number(sock[2]) + Number(sock[3]) + Number(sock[4]) : 0,
  };
}
