/**
 * `npm run bench`: Fulcrum side by side with a backend reached directly, nginx and HAProxy, in ONE
 * run with identical wrk settings (default `-t1 -c64 -d10s --latency`). Every proxy balances round
 * robin over the same three keep-alive nginx backends. Proxies are pinned to core 0, backends and
 * wrk to core 1 (taskset). After a warm-up per target, repetitions are interleaved (rep 1: direct,
 * fulcrum, nginx, haproxy; rep 2: …) so drift hits all alike. Prints req/s per rep, the medians,
 * p50/p99 and the ratios of medians. Missing tools are skipped with the Debian package to install.
 * Method and recorded results: docs/benchmarks.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseBenchArgs, USAGE, type BenchOptions, type TargetName } from './lib/args.ts';
import { freePorts } from './lib/net.ts';
import { Children, type Child } from './lib/procs.ts';
import { median, ratio, table, type Measured, type Run } from './lib/report.ts';
import { busyPct, sampleCpu } from './lib/cpu.ts';
import { PACKAGE_OF, machineFacts, which } from './lib/tools.ts';
import { checkServes, pinned, startBackends, startFulcrum, startHaproxy, startNginxProxy, type Env } from './lib/targets.ts';
import { parseWrk } from './lib/wrk.ts';

const LABEL: Record<TargetName, string> = { direct: 'direct', fulcrum: 'Fulcrum', nginx: 'nginx', haproxy: 'HAProxy' };

const say = (s = ''): void => { process.stdout.write(`${s}\n`); };

/** One wrk run against 127.0.0.1:port, pinned with the backends; bounded to duration + 30 s. */
async function runWrk(env: Env, wrk: string, opts: BenchOptions, port: number, seconds: number): Promise<Run> {
  const [cmd, args] = pinned(env, env.loadCore, wrk,
    ['-t1', `-c${opts.connections}`, `-d${seconds}s`, '--latency', `http://127.0.0.1:${port}/`]);
  const before = sampleCpu();
  const child = env.children.start('wrk', cmd, args, null);
  let out = '';
  let err = '';
  child.proc.stdout?.setEncoding('utf8').on('data', (c: string) => { out += c; });
  child.proc.stderr?.setEncoding('utf8').on('data', (c: string) => { err += c; });
  const timer = setTimeout(() => { void env.children.stop(child); }, (seconds + 30) * 1000);
  await child.exited;
  clearTimeout(timer);
  const after = sampleCpu();
  if (child.exit?.code !== 0) {
    throw new Error(`wrk ${child.exit?.error ?? `exited ${child.exit?.code ?? child.exit?.signal}`}: ${(err || out).trim().slice(0, 300)}`);
  }
  return { ...parseWrk(out), core0Pct: busyPct(before, after, 0), core1Pct: busyPct(before, after, 1) };
}

async function bench(opts: BenchOptions, children: Children, dir: string): Promise<number> {
  const bins = { nginx: which('nginx'), haproxy: which('haproxy'), wrk: which('wrk'), taskset: which('taskset') };
  say('Fulcrum side-by-side benchmark');
  for (const line of machineFacts(bins)) say(`  ${line}`);

  const nproc = os.availableParallelism();
  const pin = bins.taskset !== null && nproc >= 2;
  say(`  pinning: ${pin
    ? 'proxies (Fulcrum, nginx, HAProxy) on core 0 (taskset -c 0); backends and wrk on core 1 (taskset -c 1)'
    : `none — ${bins.taskset === null ? `taskset missing (apt install ${PACKAGE_OF.taskset})` : `only ${nproc} core`}; figures are less comparable`}`);
  say(`  wrk: -t1 -c${opts.connections} -d${opts.durationS}s --latency; warm-up ${opts.warmupS}s per target; ${opts.reps} reps interleaved`);
  say(`  targets: ${opts.only.join(', ')}`);
  say();

  if (bins.wrk === null) { say(`skipped: everything — wrk missing (apt install ${PACKAGE_OF.wrk})`); return 1; }
  if (bins.nginx === null) { say(`skipped: everything — the backends are nginx, and nginx is missing (apt install ${PACKAGE_OF.nginx})`); return 1; }

  const [b1, b2, b3, nginx, haproxy, fulcrum, admin] = await freePorts(7);
  const env: Env = {
    dir, children, bins, ports: { b1, b2, b3, nginx, haproxy, fulcrum, admin },
    proxyCore: pin ? 0 : null, loadCore: pin ? 1 : null,
  };
  const backendsDown = await startBackends(env);
  if (backendsDown !== null) { say(`skipped: everything — the backends did not start: ${backendsDown}`); return 1; }
  say(`backends: nginx on 127.0.0.1:${b1}, :${b2}, :${b3} (1 worker)`);

  const profDir = opts.cpuProf ? opts.cpuProfDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-cpuprof-')) : null;
  if (profDir !== null) fs.mkdirSync(profDir, { recursive: true });
  let fulcrumChild: Child | null = null;

  // Start every selected target, then check it serves the backends' body before measuring.
  const ports: Record<TargetName, number> = { direct: b1, fulcrum, nginx, haproxy };
  const active: TargetName[] = [];
  const skipped: string[] = [];
  for (const t of opts.only) {
    let why: string | null = null;
    if (t === 'nginx') why = await startNginxProxy(env);
    else if (t === 'haproxy') why = await startHaproxy(env);
    else if (t === 'fulcrum') {
      const r = await startFulcrum(env, opts.fulcrumMain, profDir);
      if (typeof r === 'string') why = r; else fulcrumChild = r;
    }
    if (why === null) {
      const served = await checkServes(ports[t]);
      if (typeof served === 'string') why = served;
      else say(`${LABEL[t].padEnd(8)} 127.0.0.1:${ports[t]} serves 200; backends seen over 6 new connections: ${served.seen.join(',')}`);
    }
    if (why === null) active.push(t); else skipped.push(`skipped: ${LABEL[t]} — ${why}`);
  }
  for (const s of skipped) say(s);
  if (active.length === 0) {
    if (profDir !== null && opts.cpuProfDir === null) fs.rmSync(profDir, { recursive: true, force: true });
    say('nothing to measure');
    return 1;
  }

  say();
  for (const t of active) {
    const w = await runWrk(env, bins.wrk, opts, ports[t], opts.warmupS);
    say(`warm-up  ${LABEL[t].padEnd(8)} ${Math.round(w.rps)} req/s`);
  }
  const runs = new Map<TargetName, Run[]>(active.map((t) => [t, []]));
  for (let rep = 1; rep <= opts.reps; rep++) {
    for (const t of active) {
      const w = await runWrk(env, bins.wrk, opts, ports[t], opts.durationS);
      runs.get(t)!.push(w);
      const errs = w.non2xx + w.socketErrors > 0 ? `  (non-2xx ${w.non2xx}, socket errors ${w.socketErrors})` : '';
      const cpu = w.core0Pct === null || w.core1Pct === null ? '' : `  core0 ${Math.round(w.core0Pct)}% core1 ${Math.round(w.core1Pct)}%`;
      say(`rep ${rep}    ${LABEL[t].padEnd(8)} ${Math.round(w.rps)} req/s  p50 ${w.p50Ms.toFixed(2)} ms  p99 ${w.p99Ms.toFixed(2)} ms${cpu}${errs}`);
    }
  }

  if (fulcrumChild !== null) await children.stop(fulcrumChild, 10_000); // let --cpu-prof write its file

  const rows: Measured[] = active.map((t) => ({ label: LABEL[t], runs: runs.get(t)! }));
  const by = (t: TargetName): Measured | undefined => (runs.has(t) ? { label: LABEL[t], runs: runs.get(t)! } : undefined);
  say();
  say(`Results (${opts.reps} reps; req/s median of reps; p50/p99 = median of the reps' wrk percentiles;`);
  say('core0/core1 % = median busy share of core 0 (proxy) and core 1 (backends + wrk) during the runs):');
  say(table(rows, opts.reps));
  for (const s of skipped) say(s.split('\n')[0]);
  say();
  say('Ratios of median req/s:');
  say(`  ${ratio(by('fulcrum'), by('nginx'), 'Fulcrum', 'nginx')}`);
  say(`  ${ratio(by('fulcrum'), by('haproxy'), 'Fulcrum', 'HAProxy')}`);
  say(`  ${ratio(by('fulcrum'), by('direct'), 'Fulcrum', 'direct')}`);
  say(`  ${ratio(by('nginx'), by('direct'), 'nginx', 'direct')}`);
  say(`  ${ratio(by('haproxy'), by('direct'), 'HAProxy', 'direct')}`);
  const idle0 = runs.get('direct')?.map((w) => w.core0Pct).filter((x): x is number => x !== null) ?? [];
  if (env.proxyCore !== null && idle0.length > 0 && median(idle0) > 20) {
    say(`note: core 0 was ${Math.round(median(idle0))}% busy while only the backends and wrk ran (direct): other load on the machine skews this run`);
  }
  const errors = rows.filter((r) => r.runs.some((w) => w.non2xx + w.socketErrors > 0)).map((r) => r.label);
  if (errors.length > 0) say(`note: ${errors.join(', ')} had non-2xx responses or socket errors; their req/s is not comparable`);

  if (profDir !== null && fulcrumChild === null) {
    say('cpu profile: none (Fulcrum was not measured)');
    if (opts.cpuProfDir === null) fs.rmSync(profDir, { recursive: true, force: true });
  } else if (profDir !== null) {
    const profiles = fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(profDir, f));
    say(profiles.length > 0
      ? `cpu profile: ${profiles.join(', ')}`
      : `cpu profile: none written in ${profDir} (Fulcrum must exit cleanly on SIGTERM for --cpu-prof to write it)`);
  }
  return 0;
}

async function main(): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseBenchArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) { process.stdout.write(USAGE); return 0; }

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-bench-'));
  fs.chmodSync(dir, 0o755); // nginx workers drop to "nobody" when run as root and must reach it
  const children = new Children();
  let cleaning: Promise<void> | null = null;
  const cleanup = (): Promise<void> => (cleaning ??= (async () => {
    await children.stopAll();
    if (opts.keep) process.stderr.write(`bench: kept ${dir}\n`);
    else fs.rmSync(dir, { recursive: true, force: true });
  })());
  const onSignal = (sig: NodeJS.Signals): void => {
    process.stderr.write(`\nbench: ${sig}, stopping what it started\n`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await bench(opts, children, dir);
  } catch (err) {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    await cleanup();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

process.exitCode = await main();
