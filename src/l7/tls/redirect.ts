/**
 * Route options that go with TLS termination: the redirect of plain-http requests to https (as
 * nginx `return 301 https://$host$request_uri`, RFC 9110 §15.4) and the Strict-Transport-Security
 * header on https responses (RFC 6797 §7.1; never on plain http, §7.2).
 */

const HOST_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::\d{1,5})?$/;
const REASONS: Record<number, string> = {
  301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
};

/**
 * The complete redirect response for a request to `host` (the Host field, port dropped) and
 * `target` (origin-form kept as is; absolute-form reduced to path and query; `*` → `/`). null when
 * the request has no usable Host (the caller answers 400).
 */
export function redirectResponse(r: { scheme: string; code: number; port?: number }, host: string | null, target: string, keepAlive: boolean, headOnly: boolean): string | null {
  if (host === null || !HOST_RE.test(host)) return null;
  const bare = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
  let path = target;
  if (!path.startsWith('/')) {
    if (path === '*') path = '/';
    else {
      try {
        const u = new URL(path);
        path = u.pathname + u.search;
      } catch {
        return null;
      }
    }
  }
  const location = `${r.scheme}://${bare}${r.port !== undefined && r.port !== 443 ? `:${r.port}` : ''}${path}`;
  if (/[\x00-\x20\x7f]/.test(location)) return null;
  const body = headOnly ? '' : `${r.code} ${REASONS[r.code] ?? 'Redirect'}: ${location}\n`;
  const len = headOnly ? `${r.code} ${REASONS[r.code] ?? 'Redirect'}: ${location}\n`.length : body.length;
  return `HTTP/1.1 ${r.code} ${REASONS[r.code] ?? 'Redirect'}\r\nLocation: ${location}\r\nContent-Type: text/plain; charset=utf-8\r\n`
    + `Content-Length: ${len}\r\n${keepAlive ? '' : 'Connection: close\r\n'}\r\n${body}`;
}

/** `head` (a complete response head) with Strict-Transport-Security added, unless the backend sent one. */
export function withHsts(head: string, names: readonly string[], value: string): string {
  for (let i = 0; i < names.length; i++) {
    if (names[i].length === 25 && names[i].toLowerCase() === 'strict-transport-security') return head;
  }
  return head.slice(0, -2) + 'Strict-Transport-Security: ' + value + '\r\n\r\n';
}
