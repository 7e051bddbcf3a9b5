/**
 * The bench's printed result: one row per target (req/s of each repetition, median req/s, median
 * p50 and p99 latency) and the ratios of medians. Ratios are what to read: absolute figures drift
 * with the machine, ratios measured side by side in one run hold.
 */
import type { WrkResult } from './wrk.ts';

/** Median of a non-empty list (mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** One measured wrk run plus the busy share of the proxy core (0) and load core (1) meanwhile. */
export interface Run extends WrkResult {
  readonly core0Pct: number | null;
  readonly core1Pct: number | null;
}

/** A measured target: its label and one run per repetition. */
export interface Measured {
  readonly label: string;
  readonly runs: readonly Run[];
}

const int = (n: number): string => Math.round(n).toString();
const ms = (n: number): string => n.toFixed(2);
const pct = (xs: readonly (number | null)[]): string => {
  const v = xs.filter((x): x is number => x !== null);
  return v.length === 0 ? '-' : Math.round(median(v)).toString();
};

/** Plain-text table (also valid as a Markdown table) of the measured targets. */
export function table(rows: readonly Measured[], reps: number): string {
  const head = ['target', ...Array.from({ length: reps }, (_, i) => `rep ${i + 1} req/s`), 'median req/s', 'p50 ms', 'p99 ms', 'core0 %', 'core1 %', 'errors'];
  const body = rows.map((r) => {
    const errors = r.runs.reduce((n, w) => n + w.non2xx + w.socketErrors, 0);
    return [
      r.label,
      ...Array.from({ length: reps }, (_, i) => (r.runs[i] ? int(r.runs[i].rps) : '-')),
      int(median(r.runs.map((w) => w.rps))),
      ms(median(r.runs.map((w) => w.p50Ms))),
      ms(median(r.runs.map((w) => w.p99Ms))),
      pct(r.runs.map((w) => w.core0Pct)),
      pct(r.runs.map((w) => w.core1Pct)),
      String(errors),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(head), rule, ...body.map(line)].join('\n');
}

/** `A/B` ratio line of median req/s, or a line saying why it is not available. */
export function ratio(a: Measured | undefined, b: Measured | undefined, aName: string, bName: string): string {
  const name = `${aName}/${bName}`.padEnd(16);
  if (!a || !b) return `${name} n/a (${!a ? aName : bName} not measured)`;
  const ma = median(a.runs.map((w) => w.rps));
  const mb = median(b.runs.map((w) => w.rps));
  return `${name} ${(ma / mb).toFixed(2)}  (${int(ma)} / ${int(mb)} req/s)`;
}
