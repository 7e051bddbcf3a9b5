/**
 * The `http` health check (HAProxy's `option httpchk` + `http-check expect status/string`, over TLS
 * with `check-ssl verify none`): one HTTP/1.1 request (RFC 9112) with `Connection: close` on a new
 * connection to the check port; it passes when the status is in one of `expectStatus` (default
 * 200-399) and, with `bodyContains`, the first 64 KiB of the (de-chunked) body contain the string.
 *
 * Host header: `http.host`, default the server address as written. Over TLS the SNI is the Host
 * header's name when it is a DNS name (none for an IP address). Interim 1xx responses are skipped;
 * without `bodyContains` the check ends on the status line and headers. Details:
 * `GET /healthz → 200`, `GET /healthz → 503`, `GET /healthz → 200 but body lacks "ok"`,
 * `connect refused`, `connection reset`, `timeout after 1 s`, `GET / → not an HTTP response`.
 */
import type { Socket } from 'node:net';
import { registerCheck } from './registry.ts';
import { connectCheck, sniName, type Finish } from './socket.ts';
import type { CheckResult, CheckTarget, HealthCheckConfig } from './types.ts';

/** Most response-head bytes read (status line and headers). */
const MAX_HEAD = 64 * 1024;
/** Most body bytes searched for `bodyContains` (64 KiB, as the schema states). */
const MAX_BODY = 64 * 1024;
/** Most raw body bytes read (chunk framing included). */
const MAX_RAW_BODY = 2 * MAX_BODY;
/** Methods whose request states an empty body explicitly (some servers want a length). */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?:[ \t].*)?$/;
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

type Framing = 'length' | 'chunked' | 'close';

interface Chunked {
  body: Buffer;
  complete: boolean;
  bad: boolean;
}

/** Decodes as much of a chunked body (RFC 9112 §7.1) as `raw` holds; trailers are ignored. */
export function decodeChunked(raw: Buffer): Chunked {
  const parts: Buffer[] = [];
  let pos = 0;
  for (let guard = 0; guard < raw.length + 1; guard++) {
    const eol = raw.indexOf('\r\n', pos, 'latin1');
    if (eol < 0) break;
    const sizeText = raw.toString('latin1', pos, eol).split(';')[0].trim();
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) return { body: Buffer.concat(parts), complete: false, bad: true };
    const size = parseInt(sizeText, 16);
    if (size === 0) return { body: Buffer.concat(parts), complete: true, bad: false };
    const start = eol + 2;
    const end = start + size;
    parts.push(raw.subarray(start, Math.min(end, raw.length)));
    if (raw.length < end + 2) break;
    pos = end + 2;
  }
  return { body: Buffer.concat(parts), complete: false, bad: false };
}

function headerValues(headText: string, name: string): string[] {
  const out: string[] = [];
  for (const line of headText.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name) out.push(line.slice(colon + 1).trim());
  }
  return out;
}

/** Reads the response on `socket` and finishes the check with its verdict. */
function readResponse(socket: Socket, config: HealthCheckConfig, finish: Finish): void {
  const { method, path, expectStatus, bodyContains } = config.http;
  const what = `${method} ${path}`;
  const needle = bodyContains === undefined ? null : Buffer.from(bodyContains, 'utf8');
  const statusOk = (s: number): boolean => expectStatus.some(([lo, hi]) => s >= lo && s <= hi);
  let buf: Buffer = Buffer.alloc(0);
  let status = 0;
  let framing: Framing = 'close';
  let length = 0;

  /** With the head read: search the body; finish when found, or when it is all read (or `eof`). */
  const judgeBody = (eof: boolean): void => {
    let body: Buffer = buf;
    let complete = eof || buf.length >= MAX_RAW_BODY;
    if (framing === 'chunked') {
      const c = decodeChunked(buf);
      if (c.bad) return finish(false, `${what} → ${status} but bad chunked body`);
      body = c.body;
      complete ||= c.complete;
    } else if (framing === 'length') {
      body = buf.subarray(0, length);
      complete ||= buf.length >= length;
    }
    if (body.length >= MAX_BODY) {
      body = body.subarray(0, MAX_BODY);
      complete = true;
    }
    if (needle !== null && body.includes(needle)) return finish(true, `${what} → ${status}`);
    if (complete) finish(false, `${what} → ${status} but body lacks ${JSON.stringify(bodyContains)}`);
  };

  const onData = (eof: boolean): void => {
    // Heads: skip interim 1xx responses (bounded: each one consumes bytes of a bounded buffer).
    for (let guard = 0; status === 0 && guard < 1000; guard++) {
      const end = buf.indexOf('\r\n\r\n', 0, 'latin1');
      if (end < 0) {
        if (buf.length > MAX_HEAD) return finish(false, `${what} → response head over 64 KiB`);
        if (eof) return finish(false, buf.length === 0 ? `${what} → connection closed without a response` : `${what} → connection closed mid-response`);
        return;
      }
      const headText = buf.toString('latin1', 0, end);
      const eol = headText.indexOf('\r\n');
      const m = STATUS_LINE.exec(eol < 0 ? headText : headText.slice(0, eol));
      if (m === null) return finish(false, `${what} → not an HTTP response`);
      const s = Number(m[1]);
      buf = buf.subarray(end + 4);
      if (s >= 100 && s < 200 && s !== 101) continue;
      status = s;
      if (!statusOk(s)) return finish(false, `${what} → ${s}`);
      if (needle === null) return finish(true, `${what} → ${s}`);
      const te = headerValues(headText, 'transfer-encoding').join(',').toLowerCase();
      const cl = headerValues(headText, 'content-length')[0];
      if (method === 'HEAD' || s === 204 || s === 304) {
        framing = 'length';
        length = 0;
      } else if (te !== '') {
        framing = /(?:^|,)\s*chunked\s*$/.test(te) ? 'chunked' : 'close';
      } else if (cl !== undefined && /^\d+$/.test(cl)) {
        framing = 'length';
        length = Number(cl);
      }
    }
    if (status !== 0) judgeBody(eof);
  };

  socket.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    onData(false);
  });
  socket.on('end', () => onData(true));
}

registerCheck({
  name: 'http',
  run(target: CheckTarget, config: HealthCheckConfig, signal: AbortSignal): Promise<CheckResult> {
    const { method, path, tls } = config.http;
    const host = config.http.host ?? target.address;
    if (!VISIBLE_ASCII.test(host)) {
      return Promise.resolve({ passed: false, detail: `invalid Host header ${JSON.stringify(host)}`, durationMs: 0 });
    }
    const request = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: fulcrum-health-check\r\nAccept: */*\r\n`
      + `${BODY_METHODS.has(method) ? 'Content-Length: 0\r\n' : ''}Connection: close\r\n\r\n`;
    return connectCheck(target, config, signal, { tls, servername: tls ? sniName(host) : undefined }, (socket, finish) => {
      readResponse(socket, config, finish);
      socket.write(request, 'latin1');
    });
  },
});
