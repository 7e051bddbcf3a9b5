/**
 * `npm run bench:dns`: Fulcrum's GSLB DNS server side by side with gdnsd (Debian package gdnsd,
 * plugins `static` and `geoip` with `nets`), configured alike, in ONE run, measured by dnsperf
 * (Debian package dnsperf) over UDP:
 *  - `static`: an A query for a static name (two A records);
 *  - `geo`:    an A query with an EDNS Client Subnet option (203.0.113.0/24) for a geo-steered name.
 * Each server is pinned to core 0 (gdnsd with one UDP and one TCP thread; Fulcrum is one Node
 * process), dnsperf to core 1; the servers run back to back, repetitions interleaved, and the
 * median QPS of each is compared (ratios hold on a noisy machine; absolutes drift).
 * A third target, `node-echo`, is the floor of Node's datagram path on the same core: a bare
 * dgram socket that sends every query back with QR set, doing no DNS work at all — how far
 * Fulcrum is from it says how much of the gap is DNS work and how much is Node's I/O.
 * gdnsd runs as a foreground child with its config, run and state directories in a temp dir.
 * Usage: node bench/dns.ts [--duration S (10)] [--reps N (3)] [--outstanding Q (100)] [--clients C (4)]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';
import * as dnsPacket from 'dns-packet';
import { freePorts } from './lib/net.ts';
import { Children, gist, type Child } from './lib/procs.ts';
import { median } from './lib/report.ts';
import { which } from './lib/tools.ts';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from './lib/targets.ts';

const say = (s = ''): void => { process.stdout.write(`${s}\n`); };
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Opts { duration: number; reps: number; outstanding: number; clients: number }

function options(): Opts {
  const { values } = parseArgs({ options: { duration: { type: 'string' }, reps: { type: 'string' }, outstanding: { type: 'string' }, clients: { type: 'string' } } });
  const n = (v: string | undefined, d: number) => (v === undefined ? d : Number(v));
  const o = { duration: n(values.duration, 10), reps: n(values.reps, 3), outstanding: n(values.outstanding, 100), clients: n(values.clients, 4) };
  for (const [k, v] of Object.entries(o)) if (!(Number.isInteger(v) && v > 0)) throw new Error(`--${k} must be a positive integer`);
  return o;
}

/** ECS option for 203.0.113.0/24 as dnsperf's -E code:hex (family 1, source 24, scope 0, 3 address bytes). */
const ECS_HEX = '8:00011800cb0071';
const SCENARIOS = [
  { name: 'static', query: 'www.example.com A', ecs: false, expect: '192.0.2.1' },
  { name: 'geo', query: 'app.example.com A', ecs: true, expect: '198.51.100.10' },
] as const;

function fulcrumConfig(port: number): object {
  return {
    admin: { enabled: false },
    listeners: [{ name: 'unused', listen: '127.0.0.1:0', routes: [{ pool: 'p' }] }],
    pools: [{ name: 'p', servers: [{ address: '127.0.0.1:9' }] }],
    gslb: {
      listen: `127.0.0.1:${port}`,
      zones: [{ name: 'example.com', records: [{ name: 'www', type: 'A', value: ['192.0.2.1', '192.0.2.2'] }, { name: 'ns1', type: 'A', value: '192.0.2.53' }] }],
      sites: [{ name: 'eu', addresses: ['198.51.100.10'] }, { name: 'us', addresses: ['198.51.100.20'] }],
      names: [{
        name: 'app.example.com', policy: 'geo', ttl: 30, targets: [{ site: 'eu' }, { site: 'us' }],
        geo: { map: [{ cidr: '203.0.113.0/24', region: 'eu' }, { cidr: '198.18.0.0/15', region: 'us' }], default: 'eu', preference: { eu: ['eu', 'us'], us: ['us', 'eu'] } },
      }],
    },
  };
}

function gdnsdConfig(dir: string, port: number): void {
  for (const d of ['zones', 'run', 'state']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.writeFileSync(path.join(dir, 'config'), `options => {
  listen => [ 127.0.0.1:${port} ]
  run_dir => ${path.join(dir, 'run')}
  state_dir => ${path.join(dir, 'state')}
  udp_threads => 1
  tcp_threads => 1
}
plugins => {
  geoip => {
    maps => {
      bench => {
        datacenters => [eu, us]
        nets => { 203.0.113.0/24 => [eu, us], 198.18.0.0/15 => [us, eu], 0.0.0.0/0 => [eu, us] }
      }
    }
    resources => {
      app => { map => bench, dcmap => { eu => 198.51.100.10, us => 198.51.100.20 } }
    }
  }
}
`);
  fs.writeFileSync(path.join(dir, 'zones', 'example.com'), `$TTL 300
@ SOA ns1 hostmaster 1 3600 600 604800 30
@ NS ns1
ns1 A 192.0.2.53
www A 192.0.2.1
www A 192.0.2.2
app 30 DYNA geoip!app
`);
}

/** Sends one query until an answer with `expect` comes back (bounded ~10 s); false when never. */
async function answers(port: number, name: string, expect: string): Promise<boolean> {
  const s = createSocket('udp4');
  s.on('error', () => {});
  let ok = false;
  s.on('message', (m) => {
    try { ok ||= (dnsPacket.decode(m).answers ?? []).some((a) => (a as { data: string }).data === expect); } catch { /* keep trying */ }
  });
  const q = dnsPacket.encode({
    type: 'query', id: 1, questions: [{ type: 'A', class: 'IN', name }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, options: [{ code: 8, data: Buffer.from([0, 1, 24, 0, 203, 0, 113]) }] } as unknown as dnsPacket.Answer],
  });
  for (let i = 0; i < 100 && !ok; i++) {
    s.send(q, port, '127.0.0.1');
    await sleep(100);
  }
  s.close();
  return ok;
}

/** True once 127.0.0.1:port sends a datagram back (bounded ~10 s). */
async function echoes(port: number): Promise<boolean> {
  const s = createSocket('udp4');
  s.on('error', () => {});
  let ok = false;
  s.on('message', () => { ok = true; });
  for (let i = 0; i < 100 && !ok; i++) {
    s.send(Buffer.alloc(12), port, '127.0.0.1');
    await sleep(100);
  }
  s.close();
  return ok;
}

interface PerfResult { qps: number; avgMs: number; maxMs: number; lost: number; sent: number }

function parseDnsperf(text: string): PerfResult | null {
  const num = (re: RegExp) => { const m = re.exec(text); return m ? Number(m[1]) : NaN; };
  const qps = num(/Queries per second:\s+([\d.]+)/);
  if (Number.isNaN(qps)) return null;
  return {
    qps,
    avgMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    maxMs: num(/Average Latency \(s\):.*max ([\d.]+)/) * 1000,
    lost: num(/Queries lost:\s+(\d+)/),
    sent: num(/Queries sent:\s+(\d+)/),
  };
}

async function main(): Promise<void> {
  const o = options();
  const bins = { dnsperf: which('dnsperf'), gdnsd: which('gdnsd'), taskset: which('taskset') };
  say('# GSLB / DNS bench: Fulcrum vs gdnsd, dnsperf over UDP');
  say(`date:     ${new Date().toISOString()}`);
  say(`node:     ${process.version}`);
  say(`cpu:      ${os.cpus()[0]?.model ?? 'unknown'} × ${os.availableParallelism()}`);
  const version = (bin: string | null, flag: string, re: RegExp): string => {
    if (bin === null) return 'missing';
    const r = spawnSync(bin, [flag], { encoding: 'utf8', timeout: 5000 });
    return re.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[0] ?? bin;
  };
  say(`dnsperf:  ${bins.dnsperf === null ? 'missing (apt install dnsperf)' : version(bins.dnsperf, '-h', /Version \S+/)}`);
  say(`gdnsd:    ${bins.gdnsd === null ? 'missing (apt install gdnsd)' : version(bins.gdnsd, '-h', /gdnsd version \S+/)}`);
  say(`pinning:  ${bins.taskset === null ? 'none (taskset missing: apt install util-linux)' : 'servers on core 0, dnsperf on core 1'}`);
  say(`run:      ${o.reps} × ${o.duration} s per server and scenario, dnsperf -c ${o.clients} -q ${o.outstanding}`);
  if (bins.dnsperf === null) { say('skipped: dnsperf missing (apt install dnsperf)'); return; }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-bench-dns-'));
  const children = new Children();
  const onSignal = () => { void children.stopAll().then(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const pin = (core: number, cmd: string, args: string[]): [string, string[]] => (bins.taskset === null ? [cmd, args] : [bins.taskset, ['-c', String(core), cmd, ...args]]);
  try {
    const [fPort, gPort, ePort] = await freePorts(3);
    const cfgFile = path.join(dir, 'fulcrum.json');
    fs.writeFileSync(cfgFile, JSON.stringify(fulcrumConfig(fPort), null, 2));
    const servers: { name: string; port: number; child: Child | null }[] = [];
    {
      const [cmd, args] = pin(0, process.execPath, [path.join(REPO_ROOT, 'src/cli/main.ts'), 'run', '--no-watch', '--config', cfgFile]);
      const child = children.start('Fulcrum', cmd, args, path.join(dir, 'fulcrum.log'), REPO_ROOT);
      if (await answers(fPort, 'app.example.com', '198.51.100.10')) servers.push({ name: 'Fulcrum', port: fPort, child });
      else say(`Fulcrum: skipped: no answer on 127.0.0.1:${fPort}\n${gist(child.logFile)}`);
    }
    {
      const echo = path.join(dir, 'echo.mjs');
      fs.writeFileSync(echo, `import { createSocket } from 'node:dgram';
const s = createSocket({ type: 'udp4', lookup: (a, o, cb) => cb(null, a, 4) });
s.on('message', (m, r) => { m[2] |= 0x80; s.send(m, r.port, r.address); });
s.bind(${ePort}, '127.0.0.1');
`);
      const [cmd, args] = pin(0, process.execPath, [echo]);
      const child = children.start('node-echo', cmd, args, path.join(dir, 'echo.log'));
      if (await echoes(ePort)) servers.push({ name: 'node-echo', port: ePort, child });
      else say(`node-echo: skipped: no echo on 127.0.0.1:${ePort}\n${gist(child.logFile)}`);
    }
    if (bins.gdnsd !== null) {
      const gdir = path.join(dir, 'gdnsd');
      gdnsdConfig(gdir, gPort);
      const [cmd, args] = pin(0, bins.gdnsd, ['-c', gdir, 'start']);
      const child = children.start('gdnsd', cmd, args, path.join(dir, 'gdnsd.log'));
      if (await answers(gPort, 'app.example.com', '198.51.100.10')) servers.push({ name: 'gdnsd', port: gPort, child });
      else say(`gdnsd: skipped: no answer on 127.0.0.1:${gPort}\n${gist(child.logFile)}`);
    } else say('gdnsd: skipped: missing (apt install gdnsd)');
    const results = new Map<string, PerfResult[]>();
    for (const sc of SCENARIOS) fs.writeFileSync(path.join(dir, `${sc.name}.txt`), `${sc.query}\n`);
    // Warm-up (not recorded): 2 s of each scenario on each server, so the JIT has compiled the path.
    for (let rep = -1; rep < o.reps; rep++) {
      for (const sc of SCENARIOS) {
        for (const srv of servers) {
          const [cmd, args] = pin(1, bins.dnsperf, [
            '-s', '127.0.0.1', '-p', String(srv.port), '-d', path.join(dir, `${sc.name}.txt`), '-l', String(rep < 0 ? 2 : o.duration),
            '-c', String(o.clients), '-q', String(o.outstanding), ...(sc.ecs ? ['-E', ECS_HEX] : []),
          ]);
          const c = children.start(`dnsperf ${srv.name} ${sc.name}`, cmd, args, null);
          let out = '';
          c.proc.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d; });
          c.proc.stderr?.setEncoding('utf8').on('data', (d: string) => { out += d; });
          const timer = setTimeout(() => { void children.stop(c); }, (o.duration + 30) * 1000);
          await c.exited;
          clearTimeout(timer);
          const r = parseDnsperf(out);
          if (r === null) { say(`${srv.name} ${sc.name}: dnsperf failed: ${out.trim().slice(0, 300)}`); continue; }
          if (rep < 0) continue;
          const key = `${sc.name}\0${srv.name}`;
          results.set(key, [...(results.get(key) ?? []), r]);
          say(`rep ${rep + 1} ${sc.name.padEnd(6)} ${srv.name.padEnd(7)} ${r.qps.toFixed(0).padStart(7)} QPS  avg ${r.avgMs.toFixed(3)} ms  max ${r.maxMs.toFixed(1)} ms  lost ${r.lost}/${r.sent}`);
          await sleep(500);
        }
      }
    }
    say('');
    // The ratio is taken per repetition (the two servers ran back to back), then the median of
    // those: on a shared machine the load moves between repetitions far more than within one.
    // node-echo answers nothing (the query comes back with QR set): a floor, not a DNS server.
    say('| scenario | server | QPS (median) | avg latency (median) | runs (QPS) | ratio to gdnsd per run | median ratio |');
    say('|:--|:--|--:|--:|:--|:--|--:|');
    for (const sc of SCENARIOS) {
      const g = results.get(`${sc.name}\0gdnsd`) ?? [];
      for (const srv of servers) {
        const rs = results.get(`${sc.name}\0${srv.name}`) ?? [];
        if (rs.length === 0) continue;
        const ratios = g.length === rs.length ? rs.map((r, i) => r.qps / g[i].qps) : [];
        const q = median(rs.map((r) => r.qps));
        say(`| ${sc.name} | ${srv.name} | ${q.toFixed(0)} | ${median(rs.map((r) => r.avgMs)).toFixed(3)} ms | ${rs.map((r) => r.qps.toFixed(0)).join(', ')} | ${ratios.map((x) => x.toFixed(2)).join(', ') || '—'} | ${ratios.length > 0 ? `${median(ratios).toFixed(2)}×` : '—'} |`);
      }
    }
  } finally {
    await children.stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
