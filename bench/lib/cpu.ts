/**
 * Per-core CPU busy share over an interval, from Linux /proc/stat (proc(5): user nice system idle
 * iowait irq softirq steal …, in USER_HZ ticks). Printed beside each run so a reader can see
 * whether the proxy's core (0) or the load core (1: backends + wrk) was the one that saturated.
 */
import fs from 'node:fs';

/** Ticks per core: [busy, total]; null where /proc/stat is unavailable. */
export type CpuSample = Map<number, [number, number]> | null;

/** Read /proc/stat now. */
export function sampleCpu(): CpuSample {
  let text: string;
  try { text = fs.readFileSync('/proc/stat', 'utf8'); } catch { return null; }
  const out = new Map<number, [number, number]>();
  for (const m of text.matchAll(/^cpu(\d+)\s+(.*)$/gm)) {
    const f = m[2].trim().split(/\s+/).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = f[3] + (f[4] ?? 0);
    out.set(Number(m[1]), [total - idle, total]);
  }
  return out;
}

/** Busy percentage of `core` between two samples, or null. */
export function busyPct(a: CpuSample, b: CpuSample, core: number): number | null {
  const x = a?.get(core);
  const y = b?.get(core);
  if (!x || !y || y[1] <= x[1]) return null;
  return (100 * (y[0] - x[0])) / (y[1] - x[1]);
}
