// The embedded demo (`npm start` = `fulcrum demo`): three demo backends (fast, slow, flaky) behind
// Fulcrum, URLs printed, Ctrl-C (SIGINT) stops everything and exits 0. Runs demo.yaml's shape on free
// ports (`--demo FILE`) instead of the fixed 8080/9090 so the test cannot collide with anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, refused } from './helpers/ports.ts';
import { dig, HAVE_DIG } from './helpers/gslb.ts';

const root = fileURLToPath(new URL('..', import.meta.url));


test('demo: backends fast/slow/flaky behind Fulcrum; SIGINT stops everything with exit 0', { timeout: 45_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-demo-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  let yaml = readFileSync(join(root, 'examples/demo.yaml'), 'utf8')
    .replace('listen: 127.0.0.1:9090', 'listen: 127.0.0.1:0')
    .replace('listen: 127.0.0.1:8080', 'listen: 127.0.0.1:0')
    .replace('listen: 127.0.0.1:5353', 'listen: 127.0.0.1:0');
  for (let i = 0; i < 3; i++) yaml = yaml.replaceAll(`127.0.0.1:910${i + 1}`, `127.0.0.1:${ports[i]}`);
  const file = join(dir, 'demo.yaml');
  writeFileSync(file, yaml);
  const child = spawn(process.execPath, ['src/cli/main.ts', 'demo', '--demo', file, '--fail-rate', '1', '--slow-ms', '20'], {
    cwd: root, env: { ...process.env, FULCRUM_LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let gone = false;
  child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c; });
  child.stderr.setEncoding('utf8').on('data', (c: string) => { err += c; });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => { gone = true; r(code); }));
  try {
    // Up to 20 s for the banner: a loaded CI machine (testssl, chromium in parallel) once needed
    // more than 10 s to start the process; a demo that dies early ends the wait at once.
    for (let i = 0; i < 200 && !out.includes('Ctrl-C') && !gone; i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, /demo backend fast http:\/\/127\.0\.0\.1:\d+/, `stdout: ${out}\nstderr: ${err}`);
    assert.match(out, /curl -i http:\/\//);
    const port = Number(/listener web http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
    const admin = Number(/admin http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
    assert.ok(port > 0 && admin > 0, out);
    const kinds = new Map<string, number[]>();
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/hello/${i}`);
      const kind = res.headers.get('x-demo-backend') ?? '?';
      await res.text();
      kinds.set(kind, [...(kinds.get(kind) ?? []), res.status]);
    }
    assert.deepEqual([...kinds.keys()].sort(), ['fast', 'flaky', 'slow']);
    assert.ok(kinds.get('flaky')!.every((s) => s === 500), 'flaky fails with --fail-rate 1');
    assert.ok(kinds.get('fast')!.every((s) => s === 200) && kinds.get('slow')!.every((s) => s === 200));
    const pools = await (await fetch(`http://127.0.0.1:${admin}/api/v1/pools`)).json() as { pools: { name: string; endpoints: { requests: number; errors: number }[] }[] };
    const demo = pools.pools.find((p) => p.name === 'demo')!;
    assert.equal(demo.endpoints.reduce((a, e) => a + e.requests, 0), 30);
    assert.equal(demo.endpoints[2].errors, kinds.get('flaky')!.length);
    // The demo's GSLB: app.demo.test steered by ECS subnet to the fast (127.0.0.11) and slow (127.0.0.12) sites.
    const gslb = await (await fetch(`http://127.0.0.1:${admin}/api/v1/gslb`)).json() as { port: number };
    assert.ok(gslb.port > 0, JSON.stringify(gslb));
    if (HAVE_DIG) {
      const want: [string, string][] = [['203.0.113.0/24', '127.0.0.11'], ['198.51.100.0/24', '127.0.0.12']];
      for (const [subnet, addr] of want) {
        let got: string[] = [];
        for (let i = 0; i < 50 && got[0] !== addr; i++) { // sites start unknown: answered once their first check passes
          got = (await dig(gslb.port, ['app.demo.test', 'A', `+subnet=${subnet}`, '+nocookie'])).answers.map((a) => a.data);
          if (got[0] !== addr) await new Promise((r) => setTimeout(r, 100));
        }
        assert.deepEqual(got, [addr], `app.demo.test for ${subnet}`);
      }
    } else if (process.env.FULCRUM_TEST_STRICT === '1') assert.fail('dig is required (Debian package bind9-dnsutils)');
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    for (const p of [port, gslb.port, ...ports]) assert.ok(await refused(p), `port ${p} still open after Ctrl-C`);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
