/**
 * The connection half shared by the `tcp` and `http` checks: connect (plain TCP or TLS with the
 * certificate not verified, as HAProxy's `check-ssl verify none`), enforce the check's timeout and
 * its abort signal, map socket errors to short details (`connect refused`, `connection reset`), and
 * release the socket exactly once. Hand-written on node:net/node:tls rather than through an HTTP
 * client: a check needs the exact bytes it sends (Host header), one request per connection, a cap
 * on what it reads and a hard stop at the timeout — a few lines here, not a connection pool.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { abortDetail, checkPort, timeoutDetail, type CheckResult, type CheckTarget, type HealthCheckConfig } from './types.ts';

/** Ends a check: resolves its result once, clears its timer and destroys its socket. */
export type Finish = (passed: boolean, detail: string) => void;

export interface ConnectOptions {
  /** Connect over TLS (default false). */
  readonly tls?: boolean;
  /** TLS server name (SNI); omitted when undefined (and never sent for an IP address). */
  readonly servername?: string;
}

/** Short details of socket error codes; other codes are shown as they are. */
const ERROR_DETAILS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connect refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed (EAI_AGAIN)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connect timeout (ETIMEDOUT)',
  EADDRNOTAVAIL: 'address not available',
};

function errorCode(err: unknown): string | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // Happy eyeballs (autoSelectFamily) reports an AggregateError of the attempts.
  if (err instanceof AggregateError && err.errors.length > 0) return errorCode(err.errors[0]);
  return undefined;
}

/** `connect refused`, `connection reset`, … for a socket error; `tls` prefixes handshake errors. */
export function socketErrorDetail(err: unknown, handshaking = false): string {
  const code = errorCode(err);
  if (code !== undefined && ERROR_DETAILS[code] !== undefined) return ERROR_DETAILS[code];
  const text = code ?? (err instanceof Error ? err.message : String(err));
  return handshaking ? `TLS handshake failed: ${text}` : text;
}

/** The host name to send as SNI for a Host header value, or undefined when it is an IP address. */
export function sniName(hostHeader: string): string | undefined {
  if (hostHeader.startsWith('[')) return undefined;
  const name = hostHeader.replace(/:\d*$/, '');
  return name === '' || isIP(name) !== 0 ? undefined : name;
}

/**
 * Connects to the target's check port, then calls `onConnect` (after the TLS handshake with
 * `tls`). The check ends when `onConnect`'s code calls `finish`, at `config.timeout`, when `signal`
 * aborts, or on a socket error or close; the socket is destroyed in every case. Never rejects.
 */
export function connectCheck(
  target: CheckTarget, config: HealthCheckConfig, signal: AbortSignal, options: ConnectOptions,
  onConnect: (socket: Socket, finish: Finish) => void,
): Promise<CheckResult> {
  const t0 = performance.now();
  return new Promise<CheckResult>((resolve) => {
    let settled = false;
    let socket: Socket | null = null;
    let timer: NodeJS.Timeout | undefined;
    let tcpUp = false;
    let ready = false;
    const finish: Finish = (passed, detail) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket?.destroy();
      resolve({ passed, detail, durationMs: performance.now() - t0 });
    };
    const onAbort = (): void => finish(false, abortDetail(signal, config.timeout));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    timer = setTimeout(() => finish(false, timeoutDetail(config.timeout)), Math.max(1, config.timeout));
    const host = target.host;
    const port = checkPort(target, config);
    try {
      socket = options.tls === true
        ? tlsConnect({ host, port, servername: options.servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] })
        : netConnect({ host, port });
    } catch (err) {
      return finish(false, socketErrorDetail(err));
    }
    const s = socket;
    s.once('connect', () => { tcpUp = true; });
    s.once(options.tls === true ? 'secureConnect' : 'connect', () => {
      ready = true;
      if (!settled) onConnect(s, finish);
    });
    s.on('error', (err) => finish(false, socketErrorDetail(err, options.tls === true && tcpUp && !ready)));
    s.on('close', () => finish(false, ready ? 'connection closed' : 'connection closed before it was set up'));
  });
}
