/**
 * Command line of `npm run bench` (bench/run.ts). Defaults: wrk `-t1 -c64 -d10s --latency`,
 * a 2 s warm-up per target, 3 interleaved repetitions, all four targets.
 */
import { parseArgs } from 'node:util';

/** Every target the bench knows, in the order each repetition measures them. */
export const TARGETS = ['direct', 'fulcrum', 'nginx', 'haproxy'] as const;
export type TargetName = (typeof TARGETS)[number];

/** Parsed options of one bench run. */
export interface BenchOptions {
  readonly durationS: number;
  readonly warmupS: number;
  readonly connections: number;
  readonly reps: number;
  readonly only: readonly TargetName[];
  readonly cpuProf: boolean;
  readonly cpuProfDir: string | null;
  readonly keep: boolean;
  /** Fulcrum entry script (default src/cli/main.ts), e.g. dist/cli/main.js or another checkout's. */
  readonly fulcrumMain: string | null;
  readonly help: boolean;
}

export const USAGE = `usage: npm run bench -- [options]      (node bench/run.ts [options])

Measures, back to back in one run with identical wrk settings, a backend directly, Fulcrum,
nginx and HAProxy (each proxy round robin over the same three keep-alive backends).

  --duration D       measured wrk run length, seconds ("10" or "10s"; default 10s)
  --warmup D         warm-up run per target before the measured ones (default 2s)
  --connections N    wrk connections, one wrk thread (default 64)
  --reps N           repetitions per target, interleaved across targets (default 3)
  --only LIST        comma list of ${TARGETS.join(',')} (default: all)
  --cpu-prof         run Fulcrum under node --cpu-prof and print the profile's path
  --cpu-prof-dir DIR where to write the profile (default: a new dir under the OS temp dir)
  --fulcrum FILE     Fulcrum entry script to run (default src/cli/main.ts; e.g. dist/cli/main.js
                     or another checkout's, to compare before/after a change)
  --keep             keep the temp dir with generated configs and logs
  -h, --help         this text
`;

function seconds(flag: string, v: string): number {
  const m = /^(\d+)(s|m)?$/.exec(v.trim());
  if (!m || Number(m[1]) < 1) throw new Error(`${flag}: expected whole seconds like 10 or 10s or 1m, got "${v}"`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

function positiveInt(flag: string, v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`${flag}: expected a positive integer, got "${v}"`);
  return Number(v);
}

/** Parse argv (without node and script); throws with a message naming the bad flag. */
export function parseBenchArgs(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      duration: { type: 'string', default: '10s' },
      warmup: { type: 'string', default: '2s' },
      connections: { type: 'string', default: '64' },
      reps: { type: 'string', default: '3' },
      only: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      'cpu-prof-dir': { type: 'string' },
      keep: { type: 'boolean', default: false },
      fulcrum: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  let only: TargetName[] = [...TARGETS];
  if (values.only !== undefined) {
    const names = values.only.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
    const bad = names.filter((n) => !(TARGETS as readonly string[]).includes(n));
    if (bad.length > 0 || names.length === 0) {
      throw new Error(`--only: unknown target(s) "${bad.join(',')}"; expected a comma list of ${TARGETS.join(',')}`);
    }
    only = TARGETS.filter((t) => names.includes(t));
  }
  return {
    durationS: seconds('--duration', values.duration),
    warmupS: seconds('--warmup', values.warmup),
    connections: positiveInt('--connections', values.connections),
    reps: positiveInt('--reps', values.reps),
    only,
    cpuProf: values['cpu-prof'] || values['cpu-prof-dir'] !== undefined,
    cpuProfDir: values['cpu-prof-dir'] ?? null,
    keep: values.keep,
    fulcrumMain: values.fulcrum ?? null,
    help: values.help,
  };
}
