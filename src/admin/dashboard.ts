/**
 * The admin dashboard's static assets (src/admin/ui/: plain HTML, CSS and JS modules; no build step,
 * no external network): `GET /` is index.html, `GET /ui/NAME` one of the listed files. Served with
 * their content types, a strict Content-Security-Policy (W3C CSP Level 3: `default-src 'self'`, no
 * inline script or style, no framing), `X-Content-Type-Options: nosniff`, and `Cache-Control:
 * no-cache` with a strong ETag (RFC 9111 §5.2.2.4, RFC 9110 §13.1.2: the browser revalidates and
 * gets 304 while the file is unchanged). The assets carry no data (every figure comes from the API),
 * so they are open even when `admin.auth.protectReads` is on; the Host allowlist still applies.
 *
 * Features the page may offer (the demo's traffic generator) are named in index.html's
 * `<meta name="fulcrum-features">`, so the page never probes an endpoint that may be absent.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Where the assets are: beside this file (checkout), or the package's src/admin/ui (compiled dist/admin/). */
function uiDir(): string {
  for (const rel of ['./ui/', '../../src/admin/ui/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(dir + 'index.html')) return dir;
  }
  return fileURLToPath(new URL('./ui/', import.meta.url));
}

/** The files served, by URL path, with their content types. Nothing else under ui/ is reachable. */
const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/ui/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
  '/ui/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/ui/format.js': { file: 'format.js', type: 'text/javascript; charset=utf-8' },
  '/ui/hashview.js': { file: 'hashview.js', type: 'text/javascript; charset=utf-8' },
  '/ui/traffic.js': { file: 'traffic.js', type: 'text/javascript; charset=utf-8' },
  '/ui/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

/** The page's Content-Security-Policy: same origin only, no inline code, no framing, no forms posting away. */
export const DASHBOARD_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface Asset { body: Buffer; type: string; etag: string }

const cache = new Map<string, Asset>();

/** Whether `path` is a dashboard asset (GET / HEAD; served before the read-protection gate). */
export function isDashboardPath(path: string): boolean {
  return Object.hasOwn(ASSETS, path);
}

function load(path: string, features: readonly string[]): Asset | null {
  const key = `${path}\n${features.join(',')}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const a = ASSETS[path];
  let body: Buffer;
  try {
    body = readFileSync(uiDir() + a.file);
  } catch {
    return null;
  }
  if (a.file === 'index.html') {
    body = Buffer.from(body.toString('utf8').replace('content="__FEATURES__"', `content="${features.join(' ')}"`), 'utf8');
  }
  const asset = { body, type: a.type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
  cache.set(key, asset);
  return asset;
}

/** Answers a dashboard asset request (`features`: extra panels the page may show, e.g. `demo-traffic`). */
export function serveDashboard(req: IncomingMessage, res: ServerResponse, path: string, features: readonly string[]): void {
  const asset = load(path, features);
  const headers: Record<string, string> = {
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'content-security-policy': DASHBOARD_CSP,
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  };
  if (asset === null) {
    const body = 'dashboard asset missing from the installation\n';
    res.writeHead(500, { ...headers, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  headers.etag = asset.etag;
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-type': asset.type, 'content-length': String(asset.body.length) });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}
