/**
 * Records Ketama test vectors from a REAL nginx (`hash $arg_k consistent`, the upstream hash module
 * of ngx_http_upstream_hash_module.c), for src/balancing/consistent-hash.nginx.test.ts.
 *
 * One nginx process (`daemon off`, `master_process off`, prefix and logs in a temp dir) serves:
 * - one backend server block per address on its own 127.0.0.1 port, answering its own address;
 * - one front server on a free 127.0.0.1 port with one `location /LIST/` per server list, each
 *   proxying to `upstream LIST { hash $arg_k consistent; server ADDRESS weight=W [down]; … }`.
 * Each key is sent as `GET /LIST/?k=KEY` (KEY URL-safe, so nginx's raw `$arg_k` is KEY itself) and
 * the body names the backend nginx chose. The fixture holds the address strings exactly as written
 * in nginx's config — the bytes the ring hashes — so the ports picked at record time are part of it.
 *
 * Usage (writes test/fixtures/ketama/*.json):
 *   PATH=node_modules/.bin:$PATH node tools/record-ketama-vectors.ts [--keys 1000] [--out DIR]
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface VectorServer {
  address: string;
  weight: number;
  down: boolean;
}

export interface ServerListSpec {
  /** Location and upstream name: `[a-z0-9_]+`. */
  name: string;
  description: string;
  /** Backend indices (into the shared backend address list), weight and down flag. */
  servers: { backend: number; weight: number; down?: boolean }[];
}

export interface KetamaFixture {
  list: string;
  description: string;
  nginx: string;
  servers: VectorServer[];
  /** [key, address nginx chose] in the order sent. */
  vectors: [string, string][];
  /** Addresses nginx chose for consecutive requests with an empty key (`?k=`): round robin, not hashed. */
  emptyKey: string[];
}

const NGINX_CANDIDATES = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx', '/usr/bin/nginx'];

/** Path of an nginx binary, or null (Debian package: nginx-light). */
export function findNginx(): string | null {
  for (const p of NGINX_CANDIDATES) if (fs.existsSync(p)) return p;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir !== '' && fs.existsSync(path.join(dir, 'nginx'))) return path.join(dir, 'nginx');
  }
  return null;
}

export function nginxVersion(bin: string): string {
  // nginx -v prints to stderr.
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8', timeout: 5000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
}

/** `count` distinct free loopback ports (held open together while choosing, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const s = net.createServer();
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve());
      });
      servers.push(s);
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** Keys: `key-<i>`, then UUID-shaped, path-shaped, percent-encoded, long and punctuated ones (deterministic). */
export function makeKeys(count: number): string[] {
  let seed = 0x2545f491;
  const rnd = () => {
    seed ^= seed << 13; seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5; seed >>>= 0;
    return seed;
  };
  const hex = (n: number) => Array.from({ length: n }, () => (rnd() & 15).toString(16)).join('');
  const keys: string[] = [];
  const plain = Math.floor(count * 0.7);
  for (let i = 0; i < plain; i++) keys.push(`key-${i}`);
  const kinds = [
    () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`,
    () => `/img/${hex(2)}/${hex(6)}.png`,
    () => `user%40${hex(5)}.example%2Fx%20y`,
    () => `${hex(2)}`,
    () => `s${'x'.repeat(rnd() % 200)}${hex(4)}`,
    () => `a.b_c~d-${rnd()}`,
    () => `${rnd() % 1000000}`,
  ];
  const seen = new Set(keys);
  for (let guard = 0; keys.length < count && guard < count * 100; guard++) {
    const k = kinds[keys.length % kinds.length]();
    if (seen.has(k)) continue;
    seen.add(k);
    keys.push(k);
  }
  return keys;
}

function nginxConf(dir: string, frontPort: number, backends: string[], lists: ServerListSpec[]): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `  ${t}_temp_path ${dir}/temp-${t};`).join('\n');
  const backendBlocks = backends.map((a) =>
    `  server { listen ${a}; location / { return 200 "${a}"; } }`).join('\n');
  const upstreams = lists.map((l) => [
    `  upstream ${l.name} {`,
    `    hash $arg_k consistent;`,
    ...l.servers.map((s) => `    server ${backends[s.backend]} weight=${s.weight}${s.down ? ' down' : ''} max_fails=0;`),
    `  }`,
  ].join('\n')).join('\n');
  const locations = lists.map((l) =>
    `    location /${l.name}/ { proxy_pass http://${l.name}; proxy_next_upstream off; }`).join('\n');
  return `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
${temp}
${backendBlocks}
${upstreams}
  server {
    listen 127.0.0.1:${frontPort};
${locations}
  }
}
`;
}

function get(agent: http.Agent, port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${p}: timed out after 5 s`)));
    req.on('error', reject);
  });
}

async function waitListening(port: number, child: { exitCode: number | null }, log: () => string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx did not listen on 127.0.0.1:${port} within 5 s: ${log()}`);
}

/**
 * Starts nginx, records every list's vectors for `keys`, stops nginx (by PID) and removes its
 * temp dir. `emptyKeyRequests` requests with `?k=` are sent per list too.
 */
export async function recordKetama(
  bin: string, backendCount: number, lists: ServerListSpec[], keys: readonly string[], emptyKeyRequests = 12,
): Promise<KetamaFixture[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-ketama-'));
  const [front, ...ports] = await freePorts(backendCount + 1);
  const backends = ports.map((p) => `127.0.0.1:${p}`);
  fs.writeFileSync(path.join(dir, 'nginx.conf'), nginxConf(dir, front, backends, lists));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  let stderr = '';
  const child = spawn(bin, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => { stderr += c; });
  const log = () => {
    let f = '';
    try { f = fs.readFileSync(path.join(dir, 'error.log'), 'utf8'); } catch { /* not written yet */ }
    return (stderr + f).slice(-2000);
  };
  try {
    await waitListening(front, child, log);
    const version = nginxVersion(bin);
    const out: KetamaFixture[] = [];
    for (const l of lists) {
      const vectors: [string, string][] = [];
      for (let i = 0; i < keys.length; i += 8) {
        const batch = keys.slice(i, i + 8);
        const res = await Promise.all(batch.map((k) => get(agent, front, `/${l.name}/?k=${k}`)));
        for (let j = 0; j < batch.length; j++) {
          if (res[j].status !== 200) throw new Error(`/${l.name}/?k=${batch[j]}: status ${res[j].status}: ${log()}`);
          vectors.push([batch[j], res[j].body]);
        }
      }
      const emptyKey: string[] = [];
      for (let i = 0; i < emptyKeyRequests; i++) emptyKey.push((await get(agent, front, `/${l.name}/?k=`)).body);
      out.push({
        list: l.name,
        description: l.description,
        nginx: version,
        servers: l.servers.map((s) => ({ address: backends[s.backend], weight: s.weight, down: s.down === true })),
        vectors,
        emptyKey,
      });
    }
    return out;
  } finally {
    agent.destroy();
    if (child.exitCode === null && child.pid !== undefined) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      process.kill(child.pid, 'SIGTERM');
      const t = setTimeout(() => { if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL'); }, 3000);
      await exited;
      clearTimeout(t);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The recorded lists: equal weights, weights 1/2/5, 12 servers, the 12 less one, one server down. */
export const LISTS: ServerListSpec[] = [
  { name: 'equal3', description: '3 servers, equal weight', servers: [0, 1, 2].map((b) => ({ backend: b, weight: 1 })) },
  { name: 'weighted125', description: '3 servers, weights 1, 2 and 5', servers: [{ backend: 0, weight: 1 }, { backend: 1, weight: 2 }, { backend: 2, weight: 5 }] },
  { name: 'twelve', description: '12 servers, equal weight', servers: Array.from({ length: 12 }, (_, b) => ({ backend: b, weight: 1 })) },
  { name: 'twelve_less_one', description: 'the 12 servers of `twelve` with the 6th (backend 5) removed', servers: Array.from({ length: 12 }, (_, b) => ({ backend: b, weight: 1 })).filter((s) => s.backend !== 5) },
  { name: 'one_down', description: '5 servers, weights 1,1,2,1,1, the 2nd marked `down`', servers: [{ backend: 0, weight: 1 }, { backend: 1, weight: 1, down: true }, { backend: 2, weight: 2 }, { backend: 3, weight: 1 }, { backend: 4, weight: 1 }] },
];

/** JSON with one server and one vector per line (readable diffs). */
export function formatFixture(f: KetamaFixture): string {
  const lines = (xs: unknown[]) => xs.map((x) => `    ${JSON.stringify(x)}`).join(',\n');
  return `{
  "list": ${JSON.stringify(f.list)},
  "description": ${JSON.stringify(f.description)},
  "nginx": ${JSON.stringify(f.nginx)},
  "servers": [
${lines(f.servers)}
  ],
  "emptyKey": ${JSON.stringify(f.emptyKey)},
  "vectors": [
${lines(f.vectors)}
  ]
}
`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = (flag: string) => { const i = args.indexOf(flag); return i >= 0 ? args[i + 1] : undefined; };
  const count = Number(at('--keys') ?? 1000);
  const outDir = at('--out') ?? path.join(import.meta.dirname, '..', 'test', 'fixtures', 'ketama');
  const bin = findNginx();
  if (bin === null) throw new Error('nginx not found (Debian package: nginx-light)');
  const fixtures = await recordKetama(bin, 12, LISTS, makeKeys(count));
  fs.mkdirSync(outDir, { recursive: true });
  for (const f of fixtures) {
    const file = path.join(outDir, `${f.list}.json`);
    fs.writeFileSync(file, formatFixture(f));
    console.log(`${file}: ${f.vectors.length} keys over ${f.servers.length} servers (${f.nginx})`);
  }
}

if (import.meta.main) await main();
