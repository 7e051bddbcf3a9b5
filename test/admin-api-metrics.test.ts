// /metrics after real traffic has produced every series family (HTTP requests and durations,
// in-flight, endpoint up/ejected/draining, health-check results, retries, retry-budget exhaustion,
// circuit-breaker rejects, L4 connections and bytes, process metrics), checked by
// `promtool check metrics` (Debian package prometheus) and by the naming rules it does not check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { startFulcrum } from './helpers/fulcrum.ts';
import { startHttpBackend } from './helpers/backends.ts';
import { call, get } from './admin-api-client.ts';

const HAVE_PROMTOOL = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
const SKIP = !HAVE_PROMTOOL && process.env.FULCRUM_TEST_STRICT !== '1' ? 'promtool not found (Debian package prometheus)' : false;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('metrics: every family after real traffic, valid for promtool check metrics', { timeout: 60_000, skip: SKIP }, async () => {
  let release: (() => void) | null = null;
  const live = await startHttpBackend((req, res) => {
    if (req.url === '/hold') { release = () => res.end('held'); return; }
    res.end('ok');
  });
  const gone = await startHttpBackend((_req, res) => res.end('gone'));
  const dead = gone.address;
  await gone.close();
  const echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  const echoPort = (echo.address() as { port: number }).port;
  const cfg = {
    admin: { listen: '127.0.0.1:0' },
    listeners: [
      {
        name: 'web', listen: '127.0.0.1:0',
        routes: [
          { name: 'retry', match: { path: { prefix: '/retry' } }, pool: 'r' },
          { name: 'budget', match: { path: { prefix: '/budget' } }, pool: 'rb' },
          { name: 'cb', match: { path: { prefix: '/hold' } }, pool: 'cb' },
          { name: 'all', pool: 'p' },
        ],
      },
      { name: 'tcp', protocol: 'tcp', listen: '127.0.0.1:0', pool: 'echo' },
    ],
    pools: [
      { name: 'p', servers: [{ address: live.address }, { address: `127.0.0.1:${echoPort}`, drain: true }], healthCheck: { type: 'tcp', interval: '100ms' } },
      { name: 'hc', servers: [{ address: dead }], healthCheck: { type: 'tcp', interval: '100ms' } },
      { name: 'r', servers: [{ address: dead }, { address: live.address }] },
      { name: 'rb', servers: [{ address: dead }, { address: live.address }], retries: { budget: { ratio: 0, minPerSecond: 0 } } },
      { name: 'cb', servers: [{ address: live.address }], circuitBreakers: { maxRequests: 1 } },
      { name: 'echo', servers: [{ address: `127.0.0.1:${echoPort}` }] },
    ],
  };
  const f = await startFulcrum(cfg);
  try {
    for (let i = 0; i < 4; i++) assert.equal((await get(`${f.url('web')}/x`)).status, 200);
    assert.equal((await get(`${f.url('web')}/retry`)).status, 200); // dead first, retried on live
    assert.equal((await get(`${f.url('web')}/budget`)).status, 502); // the budget refuses the retry
    const held = get(`${f.url('web')}/hold`);
    for (let i = 0; i < 250 && release === null; i++) await sleep(20);
    assert.equal((await get(`${f.url('web')}/hold`)).status, 503); // circuit breaker: maxRequests 1
    (release as unknown as () => void)();
    assert.equal((await held).status, 200);
    const echoed = await new Promise<string>((resolve, reject) => {
      const s = connect(f.port('tcp'), '127.0.0.1', () => s.end('ping over L4'));
      let got = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => { got += d; });
      s.on('end', () => resolve(got));
      s.on('error', reject);
    });
    assert.equal(echoed, 'ping over L4');

    // Health checks have run (pass on p, fail on hc) and the L4 connection is accounted.
    let text = '';
    for (let i = 0; i < 100; i++) {
      text = (await call(f.adminPort, 'GET', '/metrics')).text;
      if (/^fulcrum_health_checks_total\{pool="hc",endpoint="[^"]+",result="fail"\} [1-9]/m.test(text) && /^fulcrum_l4_bytes_total\{listener="tcp",direction="downstream"\} [1-9]/m.test(text)) break;
      await sleep(50);
    }
    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
    assert.equal(promtool.status, 0, `promtool: ${promtool.stdout}${promtool.stderr}`);
    assert.equal((promtool.stdout + promtool.stderr).trim(), '');

    const sample = (re: RegExp): number => {
      const line = text.split('\n').find((l) => re.test(l));
      assert.ok(line, `no sample matching ${re}`);
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    assert.ok(sample(/^fulcrum_requests_total\{listener="web",route="all",pool="p",endpoint="[^"]+",code="200"\} /) >= 4);
    assert.ok(sample(/^fulcrum_request_duration_seconds_bucket\{listener="web",route="all",pool="p",endpoint="[^"]+",le="\+Inf"\} /) >= 4);
    assert.equal(sample(/^fulcrum_endpoint_in_flight\{pool="p",endpoint="[^"]+"\} /), 0);
    assert.equal(sample(/^fulcrum_endpoint_up\{pool="hc",endpoint="[^"]+"\} /), 0);
    assert.equal(sample(/^fulcrum_endpoint_up\{pool="p",endpoint="127\.0\.0\.1:\d+"\} /), 1);
    assert.equal(sample(/^fulcrum_endpoint_ejected\{pool="p",endpoint="[^"]+"\} /), 0);
    assert.equal(sample(new RegExp(`^fulcrum_endpoint_draining\\{pool="p",endpoint="127\\.0\\.0\\.1:${echoPort}"\\} `)), 1);
    assert.ok(sample(/^fulcrum_health_checks_total\{pool="p",endpoint="[^"]+",result="pass"\} /) >= 1);
    assert.ok(sample(/^fulcrum_health_checks_total\{pool="hc",endpoint="[^"]+",result="fail"\} /) >= 1);
    assert.equal(sample(/^fulcrum_retries_total\{pool="r",result="made"\} /), 1);
    assert.equal(sample(/^fulcrum_retry_budget_exhausted_total\{pool="rb"\} /), 1);
    assert.equal(sample(/^fulcrum_circuit_breaker_rejects_total\{pool="cb",breaker="requests"\} /), 1);
    assert.equal(sample(/^fulcrum_circuit_breaker_open\{pool="cb",breaker="requests"\} /), 0);
    assert.equal(sample(/^fulcrum_l4_events_total\{listener="tcp",event="accepted"\} /), 1);
    assert.equal(sample(/^fulcrum_l4_bytes_total\{listener="tcp",direction="upstream"\} /), 12);
    assert.equal(sample(/^fulcrum_l4_bytes_total\{listener="tcp",direction="downstream"\} /), 12);
    assert.ok(sample(/^fulcrum_listener_connections\{listener="web",protocol="http"\} /) >= 0);
    assert.ok(sample(/^process_cpu_seconds_total /) > 0);
    assert.ok(sample(/^process_resident_memory_bytes /) > 0);
    assert.ok(sample(/^nodejs_heap_size_used_bytes /) > 0);

    // Conventions promtool does not enforce: fulcrum_ prefix, counters end in _total, gauges do
    // not, base units (seconds, bytes) in the names of time and size families.
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => ({ name: m[1], type: m[2] }));
    for (const { name, type } of types) {
      assert.match(name, /^(fulcrum|process|nodejs)_[a-z0-9_]+$/);
      if (type === 'counter') assert.match(name, /_total$/, name);
      else assert.doesNotMatch(name, /_total$/, name);
      assert.doesNotMatch(name, /_(ms|milliseconds|kb|mb)(_|$)/, name);
    }
  } finally {
    await f.stop();
    await live.close();
    await new Promise<void>((r) => echo.close(() => r()));
  }
});
