// The admin dashboard end to end (issue 7): the embedded demo (`fulcrum demo`) runs as a child
// process on free ports; Debian's chromium, driven by playwright-core, opens the dashboard, enters the
// token printed by the demo once (kept in sessionStorage across a reload), starts the demo traffic
// generator from the page and sees the counts rise, switches the algorithm (consistent-hash: ring
// segments and a what-if share; ip-hash: each of the generator's source addresses pinned to one
// backend), drains a backend and watches its observed share go to zero, and sees 422 and 401
// problems shown to the user. Any console error or page error fails the test, except the browser's
// own "Failed to load resource" lines for the 401/422 answers the test provokes on purpose.
// Screenshots go to test-artifacts/ (gitignored). The asset headers (CSP, types, ETag) and the
// generator's API are checked without a browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, refused } from './helpers/ports.ts';
import { simpleConfig, startFulcrum } from './helpers/fulcrum.ts';
import { startHttpBackend } from './helpers/backends.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const SKIP_BROWSER = !existsSync(CHROMIUM) && process.env.FULCRUM_TEST_STRICT !== '1' ? 'chromium not found (Debian package chromium)' : false;
const ARTIFACTS = join(root, 'test-artifacts');


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | false | undefined> | T | null | false | undefined): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown = null;
  for (let i = 0; i < 10_000 && Date.now() < end; i++) {
    try {
      const v = await probe();
      if (v !== null && v !== false && v !== undefined) return v as T;
      last = v;
    } catch (err) {
      last = err;
    }
    await sleep(200);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

interface Demo {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  admin: string;
  web: number;
  backendPorts: number[];
  token: string;
  exited: Promise<number | null>;
  dir: string;
}

async function startDemo(): Promise<Demo> {
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-dash-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  let yaml = readFileSync(join(root, 'examples/demo.yaml'), 'utf8').replace('listen: 127.0.0.1:5353', 'listen: 127.0.0.1:0');
  for (let i = 0; i < 3; i++) yaml = yaml.replaceAll(`127.0.0.1:910${i + 1}`, `127.0.0.1:${ports[i]}`);
  const file = join(dir, 'demo.yaml');
  writeFileSync(file, yaml);
  const env: NodeJS.ProcessEnv = { ...process.env, FULCRUM_LOG_LEVEL: 'info' };
  delete env.FULCRUM_ADMIN_TOKEN;
  const child = spawn(process.execPath, ['src/cli/main.ts', 'demo', '--demo', file, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--slow-ms', '20', '--fail-rate', '0'], {
    cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c; });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await until('the demo to start', 20_000, () => out.includes('Ctrl-C') || child.exitCode !== null);
    const admin = /Dashboard: (http:\/\/127\.0\.0\.1:\d+)\//.exec(out)?.[1];
    const web = Number(/listener web http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
    const token = /Admin token \(dashboard controls and API writes; shown only here\): (\S+)/.exec(out)?.[1];
    assert.ok(admin !== undefined && web > 0 && token !== undefined, `demo output:\n${out}\n${err}`);
    return { child, out: () => out, err: () => err, admin, web, backendPorts: ports, token, exited, dir };
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
}

async function stopDemo(d: Demo): Promise<void> {
  if (d.child.exitCode === null && d.child.signalCode === null) {
    d.child.kill('SIGINT');
    const code = await Promise.race([d.exited, sleep(15_000).then(() => 'timeout' as const)]);
    if (code === 'timeout') d.child.kill('SIGKILL');
    assert.equal(code, 0, `demo exit code after SIGINT\n${d.err()}`);
  }
  for (const p of [d.web, Number(new URL(d.admin).port), ...d.backendPorts]) assert.ok(await refused(p), `port ${p} still open after Ctrl-C`);
  rmSync(d.dir, { recursive: true, force: true });
}

interface PoolView { name: string; algorithm: string; endpoints: { address: string; requests: number; drain: boolean; observedShare: number | null; state: string }[] }

async function pool(d: Demo, name = 'demo'): Promise<PoolView> {
  const res = await fetch(`${d.admin}/api/v1/pools/${name}`);
  assert.equal(res.status, 200);
  return await res.json() as PoolView;
}

let demo: Demo;
before(async () => { demo = await startDemo(); });
after(async () => { if (demo !== undefined) await stopDemo(demo); });

test('dashboard assets: content types, strict CSP, ETag revalidation, no data without the API', { timeout: 30_000 }, async () => {
  const page = await fetch(`${demo.admin}/`);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
  const csp = page.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(page.headers.get('cache-control'), 'no-cache');
  const html = await page.text();
  assert.match(html, /<meta name="fulcrum-features" content="demo-traffic">/, 'the demo announces its traffic generator');
  assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org)/, 'no external URL in the page');
  assert.doesNotMatch(html, /<script>|style="/, 'no inline script or style');
  const etag = page.headers.get('etag')!;
  assert.match(etag, /^"[\w-]+"$/);
  const again = await fetch(`${demo.admin}/`, { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
  for (const [path, type] of [['/ui/app.js', 'text/javascript; charset=utf-8'], ['/ui/format.js', 'text/javascript; charset=utf-8'],
    ['/ui/hashview.js', 'text/javascript; charset=utf-8'], ['/ui/traffic.js', 'text/javascript; charset=utf-8'], ['/ui/app.css', 'text/css; charset=utf-8'], ['/ui/favicon.svg', 'image/svg+xml']]) {
    const r = await fetch(`${demo.admin}${path}`);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers.get('content-type'), type, path);
    assert.doesNotMatch(await r.text(), /https?:\/\/(?!www\.w3\.org)/, `${path}: no external URL`);
  }
  // Only the listed assets: no path walking, no test file, no type declarations.
  for (const path of ['/ui/format.test.ts', '/ui/format.d.ts', '/ui/../server.ts', '/ui/%2e%2e/server.ts', '/index.html']) {
    assert.equal((await fetch(`${demo.admin}${path}`)).status, 404, path);
  }
  // The DNS-rebinding guard applies to the page too.
  const evil = await new Promise<string>((resolve, reject) => {
    const s = connect(Number(new URL(demo.admin).port), '127.0.0.1', () => s.end('GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n'));
    let b = '';
    s.setEncoding('utf8').on('data', (c: string) => { b += c; }).on('end', () => resolve(b)).on('error', reject);
  });
  assert.match(evil, /^HTTP\/1\.1 421 /);
});

test('demo traffic API: token required, bounded settings (422 with every problem), stop', { timeout: 30_000 }, async () => {
  const url = `${demo.admin}/api/v1/demo/traffic`;
  const anon = await fetch(url, { method: 'POST', body: '{"rate": 5}' });
  assert.equal(anon.status, 401);
  const auth = { authorization: `Bearer ${demo.token}`, 'content-type': 'application/json' };
  const bad = await fetch(url, { method: 'POST', headers: auth, body: JSON.stringify({ rate: 100_000, clients: 9, durationS: 0, extra: 1 }) });
  assert.equal(bad.status, 422);
  const problems = ((await bad.json()) as { problems: { path: string }[] }).problems.map((p) => p.path).sort();
  assert.deepEqual(problems, ['clients', 'durationS', 'extra', 'rate']);
  const before = (await pool(demo)).endpoints.reduce((a, e) => a + e.requests, 0);
  const ok = await fetch(url, { method: 'POST', headers: auth, body: JSON.stringify({ rate: 30, clients: 3, durationS: 30 }) });
  assert.equal(ok.status, 200);
  const st = await until('generator requests answered', 15_000, async () => {
    const s = await (await fetch(url)).json() as { running: boolean; clients: { source: string; ok: number }[] };
    return s.clients.every((c) => c.ok >= 3) ? s : null;
  });
  assert.deepEqual(st.clients.map((c) => c.source), ['127.0.0.2', '127.0.0.3', '127.0.0.4']);
  const stop = await fetch(`${url}/stop`, { method: 'POST', headers: auth });
  assert.equal(stop.status, 200);
  assert.equal(((await stop.json()) as { running: boolean }).running, false);
  const after = (await pool(demo)).endpoints.reduce((a, e) => a + e.requests, 0);
  assert.ok(after - before >= 9, `balancer counted ${after - before} generator requests`);
});

test('dashboard in chromium: live counts, token once, algorithm switch, hash view, what-if, drain, errors shown', { timeout: 180_000, skip: SKIP_BROWSER }, async () => {
  const { chromium } = await import('playwright-core');
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox'] });
  const problems: string[] = [];
  let allowHttpErrors = false;
  try {
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      if (allowHttpErrors && /Failed to load resource: the server responded with a status of (401|422)/.test(m.text())) return;
      problems.push(`console: ${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

    await page.goto(`${demo.admin}/`);
    await until('three backend rows', 15_000, async () => (await page.locator('#backends tbody tr').count()) === 3);
    await until('the stream to be live', 15_000, async () => (await page.locator('#conn').textContent()) === 'live');
    assert.equal(await page.locator('#algo-now').textContent(), 'least-connections');

    // The token, entered once; it survives a reload (sessionStorage), never a cookie.
    await page.getByLabel('Admin token').fill(demo.token);
    await page.getByRole('button', { name: 'Use token' }).click();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('fulcrum-admin-token')), demo.token);
    assert.equal(await page.locator('#token').inputValue(), '', 'the field is cleared');
    assert.deepEqual(await context.cookies(), []);

    // Traffic from the page: the counts rise on the page and in the API.
    await page.getByLabel('Requests/s').fill('40');
    await page.getByLabel('Clients').fill('8');
    await page.getByLabel('Seconds').fill('120');
    await page.getByRole('button', { name: 'Start' }).click();
    const pageTotal = async () => Number((await page.locator('#total-requests').textContent())!.replaceAll(',', ''));
    const first = await until('requests counted on the page', 20_000, async () => { const n = await pageTotal(); return n >= 20 ? n : null; });
    await until('the page count to keep rising', 20_000, async () => (await pageTotal()) >= first + 20);
    const apiTotal = (await pool(demo)).endpoints.reduce((a, e) => a + e.requests, 0);
    assert.ok(apiTotal >= first + 20, `API total ${apiTotal}`);
    await until('in-flight and req/s cells filled', 10_000, async () => (await page.locator('#backends tbody tr .rps').first().textContent())!.endsWith('/s'));
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-1366x768.png'), fullPage: true });

    // Switch to consistent-hash (source-ip): API and page agree; the ring is drawn; what-if shows a share.
    await page.getByLabel('Switch to').selectOption('consistent-hash');
    await page.getByLabel('hash key').fill('source-ip');
    await page.getByRole('button', { name: 'Apply' }).click();
    await until('consistent-hash in the API', 15_000, async () => (await pool(demo)).algorithm === 'consistent-hash');
    await until('consistent-hash on the page', 15_000, async () => (await page.locator('#algo-now').textContent()) === 'consistent-hash');
    await until('the hash view', 10_000, async () => page.locator('#hash').isVisible());
    const arcs = await until('ring segments', 10_000, async () => { const n = await page.locator('#ring path.segment').count(); return n >= 3 ? n : null; });
    const owners = await page.locator('#ring path.segment').evaluateAll((els) => new Set(els.map((e) => e.getAttribute('data-owner'))).size);
    assert.equal(owners, 3, `${arcs} arcs owned by 3 backends`);
    await page.getByLabel('What if this backend is removed?').selectOption({ index: 1 });
    await page.getByRole('button', { name: 'Preview' }).click();
    const moved = Number(await until('the what-if answer', 10_000, async () => page.locator('#whatif-result').getAttribute('data-moved')));
    assert.ok(moved > 0.05 && moved < 0.9, `moved share ${moved}`);
    assert.match((await page.locator('#whatif-result').textContent())!, /would move \d+\.\d% of keys/);
    const wi = await (await fetch(`${demo.admin}/api/v1/pools/demo/whatif?remove=${encodeURIComponent(`127.0.0.1:${demo.backendPorts[1]}`)}`)).json() as { movedShare: number };
    assert.equal(wi.movedShare, moved, 'the page shows the API figure');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-hash-ring.png'), fullPage: true });

    // ip-hash: restart the generator; each source address is answered by one backend only.
    await page.getByLabel('Switch to').selectOption('ip-hash');
    await page.getByRole('button', { name: 'Apply' }).click();
    await until('ip-hash in the API', 15_000, async () => (await pool(demo)).algorithm === 'ip-hash');
    await until('the table drawing', 10_000, async () => (await page.locator('#ring rect.segment').count()) > 0);
    await page.getByRole('button', { name: 'Start' }).click();
    const pinned = await until('every client seen 5 times', 30_000, async () => {
      const s = await (await fetch(`${demo.admin}/api/v1/demo/traffic`)).json() as { clients: { source: string; ok: number; backends: Record<string, number> }[] };
      return s.clients.length === 8 && s.clients.every((c) => c.ok >= 5) ? s.clients : null;
    });
    for (const c of pinned) assert.equal(Object.keys(c.backends).length, 1, `${c.source} answered by ${JSON.stringify(c.backends)}`);
    assert.ok(new Set(pinned.map((c) => Object.keys(c.backends)[0])).size >= 2, 'the clients spread over at least two backends');
    await until('the page lists the pinned clients', 10_000, async () => (await page.locator('#traffic-clients-table tbody tr').count()) === 8);

    // Reload: the token is still there (entered once); drain the busiest backend and watch its share go to zero.
    await page.reload();
    await until('rows after reload', 15_000, async () => (await page.locator('#backends tbody tr').count()) === 3);
    assert.match((await page.locator('#token-state').textContent())!, /token set/);
    const busiest = (await pool(demo)).endpoints.slice().sort((a, b) => (b.observedShare ?? 0) - (a.observedShare ?? 0))[0].address;
    const row = page.locator(`#backends tbody tr[data-address="${busiest}"]`);
    await page.getByRole('button', { name: `Drain ${busiest}` }).click();
    await until('drain in the API', 15_000, async () => (await pool(demo)).endpoints.find((e) => e.address === busiest)!.drain);
    await until('draining on the page', 10_000, async () => (await row.locator('td.state').textContent()) === 'draining');
    await until('its observed share at zero (API)', 40_000, async () => (await pool(demo)).endpoints.find((e) => e.address === busiest)!.observedShare === 0);
    await until('its observed share at zero (page)', 10_000, async () => (await row.locator('.share-text').textContent())!.startsWith('0.0% /'));
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-drained.png'), fullPage: true });
    await page.getByRole('button', { name: `Undrain ${busiest}` }).click();
    await until('undrained', 15_000, async () => !(await pool(demo)).endpoints.find((e) => e.address === busiest)!.drain);

    // Errors shown to the user: 422 with the problem's path, then 401 without a token.
    allowHttpErrors = true;
    await row.getByLabel(`Weight of ${busiest}`, { exact: true }).fill('-1');
    await row.getByRole('button', { name: `Set weight of ${busiest}` }).click();
    await until('the 422 message', 10_000, async () => /Refused \(422\): pools\[0\]\.servers\[\d\]\.weight/.test((await page.locator('#error').textContent()) ?? ''));
    await page.getByRole('button', { name: 'Forget' }).click();
    await page.getByRole('button', { name: `Drain ${busiest}` }).click();
    await until('the 401 message', 10_000, async () => /Not authorised \(401\)/.test((await page.locator('#error').textContent()) ?? ''));
    assert.equal((await pool(demo)).endpoints.find((e) => e.address === busiest)!.drain, false);
    allowHttpErrors = false;

    // Keyboard: the controls are reachable and operable without a mouse.
    await page.getByLabel('Admin token').fill(demo.token);
    await page.getByLabel('Admin token').press('Enter');
    await page.getByRole('button', { name: 'Stop' }).focus();
    await page.keyboard.press('Enter');
    await until('generator stopped', 10_000, async () => {
      const s = await (await fetch(`${demo.admin}/api/v1/demo/traffic`)).json() as { running: boolean };
      return !s.running;
    });
    // Timeline: the admin actions with their reasons.
    await until('admin events in the timeline', 10_000, async () => (await page.locator('#timeline li[data-kind="admin"]').count()) >= 4);
    assert.match((await page.locator('#timeline').textContent())!, /set algorithm of demo to ip-hash/);
    assert.match((await page.locator('#timeline').textContent())!, new RegExp(`drain demo/${busiest.replaceAll('.', '\\.')}`));

    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-1920x1080.png'), fullPage: true });
    const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth') as number;
    assert.ok(overflow <= 0, `no horizontal scroll at 1920 (${overflow}px)`);
    await page.setViewportSize({ width: 1366, height: 768 });
    const overflow1366 = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth') as number;
    assert.ok(overflow1366 <= 0, `no horizontal scroll at 1366 (${overflow1366}px)`);
    await context.close();
  } finally {
    await browser.close();
  }
  assert.deepEqual(problems, [], 'no console or page error');
});

test('dashboard in chromium with protectReads: the token unlocks the stream (fetch reader); rendezvous share drawing; no demo panel', { timeout: 120_000, skip: SKIP_BROWSER }, async () => {
  const { chromium } = await import('playwright-core');
  const backends = [await startHttpBackend((_req, res) => res.end('a')), await startHttpBackend((_req, res) => res.end('b'))];
  const token = 'dash-test-token-7f3a9c';
  const config = simpleConfig(backends.map((b) => b.port), { pool: { algorithm: 'rendezvous', hashKey: 'header:x-user' } }) as { admin: Record<string, unknown> };
  config.admin = { listen: '127.0.0.1:0', auth: { tokenEnv: 'FULCRUM_DASH_TEST_TOKEN', protectReads: true } };
  const fl = await startFulcrum(config, { env: { FULCRUM_DASH_TEST_TOKEN: token } });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox'] });
  const problems: string[] = [];
  try {
    const admin = `http://127.0.0.1:${fl.adminPort}`;
    assert.equal((await fetch(`${admin}/api/v1/pools`)).status, 401, 'reads are protected');
    assert.equal((await fetch(`${admin}/`)).status, 200, 'the page is not');
    assert.equal((await fetch(`${admin}/api/v1/demo/traffic`, { headers: { authorization: `Bearer ${token}` } })).status, 404, 'no generator outside the demo');
    for (let i = 0; i < 20; i++) await (await fetch(`${fl.url('web')}/x`, { headers: { 'x-user': `u${i}` } })).text();
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    let statusRefusals = 0;
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      // The page's first read (GET /api/v1/status) is refused with 401 until the token is entered: expected once.
      if (/status of 401/.test(m.text()) && m.location().url.endsWith('/api/v1/status') && statusRefusals++ === 0) return;
      problems.push(`console: ${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(`${admin}/`);
    await until('the protected-reads message', 10_000, async () => /Reads are protected/.test((await page.locator('#error').textContent()) ?? ''));
    assert.equal(await page.locator('#backends tbody tr').count(), 0, 'nothing shown without the token');
    assert.equal(await page.locator('#traffic').isVisible(), false);
    await page.getByLabel('Admin token').fill(token);
    await page.getByRole('button', { name: 'Use token' }).click();
    await until('rows through the fetch() stream', 15_000, async () => (await page.locator('#backends tbody tr').count()) === 2);
    await until('live', 10_000, async () => (await page.locator('#conn').textContent()) === 'live');
    await until('20 requests on the page', 10_000, async () => (await page.locator('#total-requests').textContent()) === '20');
    assert.equal(await page.locator('#algo-now').textContent(), 'rendezvous');
    await until('rendezvous share arcs', 10_000, async () => (await page.locator('#ring path.segment').count()) === 2);
    assert.match((await page.locator('#ring-desc').textContent())!, /no ring positions/);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-protect-reads.png'), fullPage: true });
    await page.close();
  } finally {
    await browser.close();
    await fl.stop();
    for (const b of backends) await b.close();
  }
  assert.deepEqual(problems, [], 'no console or page error');
});

test('demo token: printed once with the dashboard URL, never in the logs (after every write above)', { timeout: 10_000 }, async () => {
  const out = demo.out();
  assert.equal(out.split(demo.token).length - 1, 1, 'exactly once on stdout');
  assert.match(out, new RegExp(`Dashboard: http://127\\.0\\.0\\.1:\\d+/\nAdmin token [^\n]*: ${demo.token}\n`));
  assert.ok(demo.err().length > 0, 'the log is not empty (audit lines at info)');
  assert.ok(!demo.err().includes(demo.token), 'not in the log');
  assert.match(demo.err(), /start demo traffic 30\/s from 3 clients for 30s/, 'generator starts are audited');
  // Leave a generator running: the `after` hook's Ctrl-C must stop it with the demo (exit 0, every port closed).
  const r = await fetch(`${demo.admin}/api/v1/demo/traffic`, { method: 'POST', headers: { authorization: `Bearer ${demo.token}` }, body: '{"rate": 50, "clients": 2, "durationS": 600}' });
  assert.equal(((await r.json()) as { running: boolean }).running, true);
});

test('dashboard in chromium with a GSLB-only config (no pools): live, says there are no pools, no error', { timeout: 60_000, skip: SKIP_BROWSER }, async () => {
  const { chromium } = await import('playwright-core');
  const fl = await startFulcrum({
    admin: { listen: '127.0.0.1:0' },
    gslb: { listen: '127.0.0.1:0', zones: [{ name: 'example.com', records: [{ name: 'www', type: 'A', value: '192.0.2.1' }] }] },
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox'] });
  const problems: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()} (${m.location().url})`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(`http://127.0.0.1:${fl.adminPort}/`);
    await until('live', 10_000, async () => (await page.locator('#conn').textContent()) === 'live');
    await until('the no-pools note', 10_000, async () => /^config generation 1 · no pools in this config \(GSLB only/.test((await page.locator('#generation').textContent()) ?? ''));
    assert.equal(await page.locator('#backends tbody tr').count(), 0);
    assert.equal(await page.locator('#pool-select option').count(), 0);
    assert.equal(await page.locator('#error').isVisible(), false);
    await page.close();
  } finally {
    await browser.close();
    await fl.stop();
  }
  assert.deepEqual(problems, [], 'no console or page error');
});
