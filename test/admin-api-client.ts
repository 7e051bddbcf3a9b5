/**
 * A small admin API client for the admin-api tests, on node:http so a test can set any Host header
 * (fetch cannot). Every call is bounded by a 10 s timeout.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

export interface CallResult {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  /** Raw body text (sent as is) instead of JSON. */
  raw?: string;
  contentType?: string;
  headers?: Record<string, string>;
  host?: string;
}

export function call(port: number, method: string, path: string, o: CallOptions = {}): Promise<CallResult> {
  const payload = o.raw !== undefined ? o.raw : o.body !== undefined ? JSON.stringify(o.body) : undefined;
  const headers: Record<string, string> = { host: o.host ?? `127.0.0.1:${port}`, ...o.headers };
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
  if (payload !== undefined) {
    headers['content-type'] = o.contentType ?? 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => {
        let json: unknown = undefined;
        try {
          json = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 10 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** GET through the proxy listener; returns status and body. */
export async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const r = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  return { status: r.status, body: await r.text() };
}
