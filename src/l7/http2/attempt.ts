/**
 * The contract between one HTTP/2 client stream's exchange (stream.ts) and one attempt on an
 * endpoint, whichever protocol carries it upstream: HTTP/1.1 (upstream-h1.ts) or HTTP/2
 * (upstream-h2.ts). An attempt reports each event once, and nothing after `cancel()`.
 */
import type { OutgoingHttpHeaders } from 'node:http2';

/** What the exchange implements. */
export interface AttemptOwner {
  /** The connection to the endpoint is up (the request may still be queued on it). */
  onUpConnected(): void;
  /** The response head (headers already filtered for the client). `endStream`: no body follows. */
  onUpHead(status: number, headers: OutgoingHttpHeaders, endStream: boolean): void;
  onUpData(chunk: Buffer): void;
  /** The response is complete; `trailers` filtered for the client, or null when none came. */
  onUpEnd(trailers: OutgoingHttpHeaders | null): void;
  /**
   * The attempt failed. `connected`: the connection to the endpoint had been established
   * (false = connect failure); `timedOut`: the connect timeout fired; `rstCode`: the HTTP/2
   * error code of an upstream RST_STREAM or GOAWAY (0 otherwise); `reused`: an HTTP/1.1
   * keep-alive connection that the endpoint had closed.
   */
  onUpError(connected: boolean, timedOut: boolean, detail: string, rstCode: number, reused: boolean): void;
  /** The upstream took the body bytes it had buffered: the client stream may be read again. */
  onUpDrain(): void;
}

/** One request in progress on an endpoint. */
export interface Attempt {
  /** Sends request body bytes; false = back off until onUpDrain. */
  write(b: Buffer): boolean;
  /** The request body is complete. */
  end(): void;
  /** Flow control of the response body. */
  pause(): void;
  resume(): void;
  /** Abandons the attempt (RST_STREAM CANCEL upstream, or the HTTP/1.1 connection closed). */
  cancel(): void;
}

/** `connect refused`, `connect unreachable`, … from a socket error (as the HTTP/1.1 path words it). */
export function connectDetail(err: Error & { code?: string }): string {
  switch (err.code) {
    case 'ECONNREFUSED': return 'connect refused';
    case 'EHOSTUNREACH': case 'ENETUNREACH': return 'connect unreachable';
    case 'ECONNRESET': return 'connection reset while connecting';
    default: return `connect failed (${err.code ?? err.message})`;
  }
}
