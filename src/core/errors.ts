/**
 * Fulcrum's one error class with stable codes. Every code maps to an HTTP status (used when the
 * error ends a proxied request) and is listed in docs/errors.md (a test keeps the two in sync).
 */

/** Stable error codes and the HTTP status each one produces on the data path. */
export const ERROR_CODES = {
  FULCRUM_E_CONFIG_INVALID: { status: 0, summary: 'The configuration failed validation; every problem is listed with its path.' },
  FULCRUM_E_CONFIG_READ: { status: 0, summary: 'The configuration file could not be read or parsed as YAML/JSON.' },
  FULCRUM_E_USAGE: { status: 0, summary: 'The command line was not understood.' },
  FULCRUM_E_LISTEN: { status: 0, summary: 'A listener could not bind its address (in use, permission, bad address).' },
  FULCRUM_E_NO_ROUTE: { status: 404, summary: 'No route of the listener matched the request.' },
  FULCRUM_E_NO_HEALTHY_UPSTREAM: { status: 503, summary: 'The pool has no endpoint available to take the request.' },
  FULCRUM_E_CIRCUIT_OPEN: { status: 503, summary: 'A circuit breaker of the pool is open (too many connections, pending or in-progress requests).' },
  FULCRUM_E_HASH_KEY_MISSING: { status: 503, summary: 'The request lacks the pool\'s hash key and the pool says `hashKeyMissing: reject`.' },
  FULCRUM_E_UPSTREAM_CONNECT: { status: 502, summary: 'Connecting to the chosen endpoint failed (refused, unreachable).' },
  FULCRUM_E_UPSTREAM_CONNECT_TIMEOUT: { status: 504, summary: 'Connecting to the chosen endpoint took longer than the pool\'s connect timeout.' },
  FULCRUM_E_UPSTREAM_RESET: { status: 502, summary: 'The endpoint closed or reset the connection before a complete response head.' },
  FULCRUM_E_UPSTREAM_TIMEOUT: { status: 504, summary: 'The endpoint did not send a response head within the pool\'s response timeout.' },
  FULCRUM_E_UPSTREAM_BAD_RESPONSE: { status: 502, summary: 'The endpoint sent a response that is not valid HTTP/1.1.' },
  FULCRUM_E_REQUEST_TIMEOUT: { status: 504, summary: 'The whole request exceeded the listener\'s request timeout.' },
  FULCRUM_E_BAD_REQUEST: { status: 400, summary: 'The request is not valid HTTP/1.1 (RFC 9112); the connection is closed.' },
  FULCRUM_E_URI_TOO_LONG: { status: 414, summary: 'The request line is longer than the listener\'s limit (default 8 KiB).' },
  FULCRUM_E_HEADERS_TOO_LARGE: { status: 431, summary: 'The header section exceeds the listener\'s limit (default 32 KiB or 100 fields).' },
  FULCRUM_E_HEADER_TIMEOUT: { status: 408, summary: 'The request head was not received within the header read deadline (default 10 s).' },
  FULCRUM_E_NOT_IMPLEMENTED: { status: 501, summary: 'The request uses a transfer coding Fulcrum does not implement.' },
  FULCRUM_E_RATE_LIMITED: { status: 429, summary: 'The route\'s rate limit refused the request (its key has no token left); `Retry-After` says when to retry.' },
  FULCRUM_E_RAPID_RESET: { status: 0, summary: 'An HTTP/2 client reset more streams than `http2.maxResets` within `http2.resetWindow` (rapid reset); the connection got GOAWAY ENHANCE_YOUR_CALM and was closed.' },
  FULCRUM_E_TLS_HANDSHAKE: { status: 0, summary: 'A TLS handshake on an `https` listener failed (no shared version, cipher or ALPN protocol, a missing or invalid client certificate, a timeout); counted in fulcrum_http_protocol_errors_total.' },
  FULCRUM_E_TLS_CERTIFICATE: { status: 0, summary: 'A certificate, key or CA file changed on disk could not be loaded (unreadable, not PEM, key not matching); the one in service stays and the error is logged.' },
  FULCRUM_E_SHUTTING_DOWN: { status: 503, summary: 'Fulcrum is shutting down and accepts no new requests on this connection.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The one error class. `code` is stable; `status` is the HTTP status the code maps to (0 = none). */
export class FulcrumError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: readonly string[];
  constructor(code: ErrorCode, message: string, details: readonly string[] = []) {
    super(message);
    this.name = 'FulcrumError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = details;
  }
}

export function statusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}
