/**
 * The hand-off point from the HTTP/1.1 listeners to the HTTP/2 server, so the two can be built apart:
 * an `https` listener whose client negotiated ALPN `h2`, or an `http` listener that sees the HTTP/2
 * connection preface (prior-knowledge h2c, RFC 9113 §3.3), passes the socket here. The HTTP/2
 * module registers the handler when it is loaded; until then listeners do not offer `h2`.
 */
import type { Socket } from 'node:net';
import type { HttpListener } from './http1/server.ts';

/**
 * Serves one client connection over HTTP/2. `head`: bytes already read from the socket (the
 * preface and whatever followed it), to be processed before anything read later; null when none.
 * `clientIp`: the client address when it is not the socket's peer (from a PROXY header).
 */
export type H2Handler = (socket: Socket, listener: HttpListener, head: Buffer | null, clientIp?: string) => void;

let handler: H2Handler | null = null;

/** Installs the HTTP/2 connection handler (called once by the HTTP/2 module). */
export function registerH2Handler(h: H2Handler): void {
  handler = h;
}

/** The installed handler, or null when HTTP/2 is not available. */
export function h2Handler(): H2Handler | null {
  return handler;
}
