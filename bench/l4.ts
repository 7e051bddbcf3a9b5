/**
 * `npm run bench:l4` (also run by `npm run bench`): Fulcrum's `tcp` listener side by side with
 * HAProxy `mode tcp` and a direct connection, in ONE run:
 *  1. memory per idle proxied connection: the proxy's RSS growth ÷ N connections held open through
 *     it to a hold server (N = 9,500 by default: the machine's open-file limit is 20,000 per process
 *     and the proxy needs two descriptors per connection), measured first, on a fresh process;
 *  2. keep-alive HTTP through the TCP proxies with wrk (`-t1 -cC`): a 21-byte body (`/`) and a
 *     16 KiB one (`/16k.bin`) from the three nginx backends of `npm run bench`;
 *  3. bulk throughput with iperf3 (`-t 5`, one stream) to one iperf3 server.
 * Proxies are pinned to core 0, backends, wrk and iperf3 to core 1; repetitions are interleaved.
 * Targets of issue 5: L4 req/s ≥ 0.8× HAProxy tcp, iperf3 ≥ 0.8× HAProxy, ≤ 10 KiB per connection.
 * Usage: node bench/l4.ts [--duration S (8)] [--reps N (3)] [--connections C (64)] [--idle N (9500)]
 *        [--only idle,small,large,iperf3 (all)] [--cpu-prof DIR (Fulcrum runs with --cpu-prof into DIR)]
 *        [--node-flags "FLAGS" (extra node/V8 flags for the Fulcrum process, to try runtime settings)]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { freePorts, waitListening } from './lib/net.ts';
import { Children, type Child } from './lib/procs.ts';
import { median } from './lib/report.ts';
import { machineFacts, which } from './lib/tools.ts';
import { REPO_ROOT, pinned, startBackends, type Env } from './lib/targets.ts';
import { renderConfig } from './lib/configs.ts';
import { parseWrk } from './lib/wrk.ts';

const say = (s = ''): void => { process.stdout.write(`${s}\n`); };
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type Target = 'direct' | 'Fulcrum' | 'HAProxy';

interface Opts { duration: number; reps: number; connections: number; idle: number; only: Set<string>; cpuProf: string | null; nodeFlags: string[] }

const STAGES = ['idle', 'small', 'large', 'iperf3'];

function options(): Opts {
  const { values } = parseArgs({
    options: { duration: { type: 'string' }, reps: { type: 'string' }, connections: { type: 'string' }, idle: { type: 'string' }, only: { type: 'string' }, 'cpu-prof': { type: 'string' }, 'node-flags': { type: 'string' } },
  });
  const n = (v: string | undefined, d: number) => (v === undefined ? d : Number(v));
  const o = { duration: n(values.duration, 8), reps: n(values.reps, 3), connections: n(values.connections, 64), idle: n(values.idle, 9500) };
  for (const [k, v] of Object.entries(o)) if (!(Number.isInteger(v) && v > 0)) throw new Error(`--${k} must be a positive integer`);
  const only = new Set(values.only === undefined ? STAGES : values.only.split(','));
  for (const x of only) if (!STAGES.includes(x)) throw new Error(`--only: unknown stage "${x}" (stages: ${STAGES.join(', ')})`);
  const cpuProf = values['cpu-prof'] ?? null;
  if (cpuProf !== null) fs.mkdirSync(cpuProf, { recursive: true });
  const nodeFlags = (values['node-flags'] ?? '').split(/\s+/).filter((f) => f !== '');
  return { ...o, only, cpuProf, nodeFlags };
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function run(children: Children, name: string, cmd: string, args: string[], limitMs: number): Promise<string> {
  const c = children.start(name, cmd, args, null);
  let out = '';
  c.proc.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d; });
  c.proc.stderr?.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const timer = setTimeout(() => { void children.stop(c); }, limitMs);
  await c.exited;
  clearTimeout(timer);
  if (c.exit?.code !== 0) throw new Error(`${name} failed (${c.exit?.code ?? c.exit?.signal}): ${out.trim().slice(0, 300)}`);
  return out;
}

/** A child Node process that accepts and holds connections, printing how many it holds. */
function startHold(children: Children, env: Env, port: number): { child: Child; count: () => number } {
  const script = `const n=require('net');let c=0;n.createServer(s=>{c++;s.on('error',()=>{});s.on('close',()=>c--);s.resume()}).listen(${port},'127.0.0.1');setInterval(()=>process.stdout.write(c+'\\n'),100);`;
  const [cmd, args] = pinned(env, env.loadCore, process.execPath, ['-e', script]);
  const child = children.start('hold', cmd, args, null);
  let last = 0;
  child.proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
    const lines = d.trim().split('\n');
    last = Number(lines[lines.length - 1]);
  });
  return { child, count: () => last };
}

/** Opens `n` connections to `port` in batches and keeps them; resolves once all are connected. */
async function openIdle(port: number, n: number): Promise<Socket[]> {
  const socks: Socket[] = [];
  for (let i = 0; i < n; i += 250) {
    const batch = Array.from({ length: Math.min(250, n - i) }, () => new Promise<Socket>((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    }));
    socks.push(...await Promise.all(batch));
  }
  return socks;
}

async function main(): Promise<number> {
  const o = options();
  const bins = { nginx: which('nginx'), haproxy: which('haproxy'), wrk: which('wrk'), taskset: which('taskset'), iperf3: which('iperf3') };
  say('Fulcrum L4 (tcp) benchmark');
  for (const line of machineFacts(bins)) say(`  ${line}`);
  say(`  iperf3: ${bins.iperf3 ?? 'missing (apt install iperf3)'}`);
  if (bins.wrk === null || bins.nginx === null) { say('skipped: wrk and nginx are needed (apt install wrk nginx-light)'); return 1; }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-bench-l4-'));
  fs.chmodSync(dir, 0o755);
  fs.writeFileSync(path.join(dir, '16k.bin'), Buffer.alloc(16384, 'x'));
  const children = new Children();
  try {
    const [b1, b2, b3, fHttp, fBulk, fIdle, hHttp, hBulk, hIdle, iperf, hold, nginxUnused, hUnused] = await freePorts(13);
    const pin = bins.taskset !== null && os.availableParallelism() >= 2;
    const env: Env = {
      dir, children, bins: { nginx: bins.nginx, haproxy: bins.haproxy, taskset: bins.taskset },
      ports: { b1, b2, b3, nginx: nginxUnused, haproxy: hUnused, fulcrum: fHttp, admin: 0 },
      proxyCore: pin ? 0 : null, loadCore: pin ? 1 : null,
    };
    const down = await startBackends(env);
    if (down !== null) { say(`skipped: backends did not start: ${down}`); return 1; }
    const vars = { B1: b1, B2: b2, B3: b3, IPERF: iperf, HOLD: hold };
    const fConf = renderConfig('fulcrum-tcp.yaml', { ...vars, PORT_HTTP: fHttp, PORT_BULK: fBulk, PORT_IDLE: fIdle }, path.join(dir, 'fulcrum-tcp.yaml'));
    const [fc, fa] = pinned(env, env.proxyCore, process.execPath, [...o.nodeFlags, ...(o.cpuProf === null ? [] : ['--cpu-prof', '--cpu-prof-dir', path.resolve(o.cpuProf)]), path.join(REPO_ROOT, 'src/cli/main.ts'), 'run', '--config', fConf, '--no-watch']);
    const fulcrum = children.start('fulcrum', fc, fa, path.join(dir, 'fulcrum.log'), REPO_ROOT);
    const targets: Record<Target, { http: number; bulk: number; idle: number; child: Child | null }> = {
      direct: { http: b1, bulk: iperf, idle: hold, child: null },
      Fulcrum: { http: fHttp, bulk: fBulk, idle: fIdle, child: fulcrum },
      HAProxy: { http: hHttp, bulk: hBulk, idle: hIdle, child: null },
    };
    const active: Target[] = ['direct', 'Fulcrum'];
    if (bins.haproxy !== null) {
      const hConf = renderConfig('haproxy-tcp.cfg', { ...vars, PORT_HTTP: hHttp, PORT_BULK: hBulk, PORT_IDLE: hIdle }, path.join(dir, 'haproxy-tcp.cfg'));
      const [hc, ha] = pinned(env, env.proxyCore, bins.haproxy, ['-db', '-f', hConf]);
      targets.HAProxy.child = children.start('haproxy', hc, ha, path.join(dir, 'haproxy.log'));
      active.push('HAProxy');
    } else say('skipped: HAProxy (apt install haproxy)');
    for (const t of active) {
      if (!(await waitListening(targets[t].http, () => true))) { say(`${t} did not listen on ${targets[t].http}; log in ${dir}`); return 1; }
    }

    // 1. Memory per idle proxied connection, first (before load leaves garbage behind). A warm-up
    //    round of 500 connections first, so the baseline includes compiled code and pools.
    const holder = startHold(children, env, hold);
    await waitListening(hold, () => true);
    for (const t of o.only.has('idle') ? active.filter((x) => x !== 'direct') : []) {
      const pid = targets[t].child!.proc.pid!;
      const warm = await openIdle(targets[t].idle, 500);
      for (let i = 0; i < 100 && holder.count() < 500; i++) await sleep(100);
      for (const s of warm) s.destroy();
      for (let i = 0; i < 100 && holder.count() > 0; i++) await sleep(100);
      await sleep(2000);
      const before = rssOf(pid);
      const socks = await openIdle(targets[t].idle, o.idle);
      for (let i = 0; i < 200 && holder.count() < o.idle; i++) await sleep(100);
      await sleep(2000);
      const after = rssOf(pid);
      const held = holder.count();
      say(`idle: ${t.padEnd(8)} ${socks.length} client connections, ${held} held at the server; RSS ${(before / 2 ** 20).toFixed(1)} → ${(after / 2 ** 20).toFixed(1)} MiB: ${((after - before) / socks.length / 1024).toFixed(2)} KiB per connection (target ≤ 10)`);
      for (const s of socks) s.destroy();
      for (let i = 0; i < 100 && holder.count() > 0; i++) await sleep(100);
    }

    // 2. wrk through the TCP proxies.
    for (const [label, urlPath, stage] of [['21 B body', '/', 'small'], ['16 KiB body', '/16k.bin', 'large']] as const) {
      if (!o.only.has(stage)) continue;
      const rps = new Map<Target, number[]>(active.map((t) => [t, []]));
      for (let rep = 0; rep <= o.reps; rep++) { // rep 0 is the warm-up
        for (const t of active) {
          const [cmd, args] = pinned(env, env.loadCore, bins.wrk, ['-t1', `-c${o.connections}`, `-d${rep === 0 ? 2 : o.duration}s`, '--latency', `http://127.0.0.1:${targets[t].http}${urlPath}`]);
          const w = parseWrk(await run(children, 'wrk', cmd, args, (o.duration + 30) * 1000));
          if (w.non2xx + w.socketErrors > 0) say(`  note: ${t} had ${w.non2xx} non-2xx and ${w.socketErrors} socket errors`);
          if (rep > 0) {
            rps.get(t)!.push(w.rps);
            say(`rep ${rep}  ${label.padEnd(12)} ${t.padEnd(8)} ${Math.round(w.rps)} req/s`);
          }
        }
      }
      say(`${label}: median req/s ${active.map((t) => `${t} ${Math.round(median(rps.get(t)!))}`).join(', ')}`);
      const f = median(rps.get('Fulcrum')!);
      if (rps.has('HAProxy')) say(`  Fulcrum/HAProxy ${(f / median(rps.get('HAProxy')!)).toFixed(2)} (target ≥ 0.80)`);
      say(`  Fulcrum/direct  ${(f / median(rps.get('direct')!)).toFixed(2)}`);
    }

    // 3. iperf3.
    if (!o.only.has('iperf3')) { /* not asked for */ } else if (bins.iperf3 !== null) {
      const [ic, ia] = pinned(env, env.loadCore, bins.iperf3, ['-s', '-p', String(iperf)]);
      children.start('iperf3-server', ic, ia, path.join(dir, 'iperf3.log'));
      await waitListening(iperf, () => true);
      const gbps = new Map<Target, number[]>(active.map((t) => [t, []]));
      for (let rep = 1; rep <= o.reps; rep++) {
        for (const t of active) {
          const [cmd, args] = pinned(env, env.loadCore, bins.iperf3, ['-c', '127.0.0.1', '-p', String(targets[t].bulk), '-t', '5', '-J']);
          const j = JSON.parse(await run(children, 'iperf3', cmd, args, 60_000)) as { end: { sum_received: { bits_per_second: number } } };
          const g = j.end.sum_received.bits_per_second / 1e9;
          gbps.get(t)!.push(g);
          say(`rep ${rep}  iperf3       ${t.padEnd(8)} ${g.toFixed(2)} Gbit/s`);
        }
      }
      say(`iperf3: median Gbit/s ${active.map((t) => `${t} ${median(gbps.get(t)!).toFixed(2)}`).join(', ')}`);
      if (gbps.has('HAProxy')) say(`  Fulcrum/HAProxy ${(median(gbps.get('Fulcrum')!) / median(gbps.get('HAProxy')!)).toFixed(2)} (target ≥ 0.80)`);
    } else say('skipped: iperf3 (apt install iperf3)');

    return 0;
  } finally {
    await children.stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main().catch((err: unknown) => {
  process.stderr.write(`bench:l4: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
});
