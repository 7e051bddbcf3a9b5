/**
 * HTTP/2 for `http` listeners (RFC 9113): registers the connection handler of h2-hook.ts, which
 * the HTTP/1.1 listener calls for prior-knowledge h2c (the connection preface, §3.3) and a TLS
 * listener calls when ALPN selected `h2` (§3.2). Each socket is handed to a node:http2 server
 * (`emit('connection')`), with the bytes already read put back first (`unshift`), so node:http2
 * parses the preface and every frame; one such server per listener config (a reload that changes
 * the `http2` limits makes a new one for new connections).
 */
import { createServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { ListenerConfig } from '../../config/schema.ts';
import type { HttpListener } from '../http1/server.ts';
import { registerH2Handler } from '../h2-hook.ts';
import { H2Conn, serverOptions } from './conn.ts';

const servers = new WeakMap<ListenerConfig, Http2Server>();

/** The connection a server is creating its session for (emit('connection') runs synchronously). */
let accepting: H2Conn | null = null;

function serverFor(listener: HttpListener): Http2Server {
  let srv = servers.get(listener.config);
  if (srv === undefined) {
    srv = createServer(serverOptions(listener));
    srv.on('session', onSession);
    srv.on('sessionError', ignore);
    srv.on('unknownProtocol', (s: Socket) => s.destroy());
    servers.set(listener.config, srv);
  }
  return srv;
}

function onSession(session: ServerHttp2Session): void {
  const c = accepting;
  accepting = null;
  if (c !== null) c.attach(session);
  else session.destroy();
}

/**
 * Serves `socket` over HTTP/2; `head`: bytes already read from it (the preface and after);
 * `clientIp`: the client address when it is not the socket's peer (PROXY protocol).
 */
export function serveH2(socket: Socket, listener: HttpListener, head: Buffer | null, clientIp?: string): void {
  if (listener.draining) {
    socket.destroy();
    return;
  }
  socket.on('error', ignore);
  if (head !== null && head.length > 0) socket.unshift(head);
  const conn = new H2Conn(socket, listener, clientIp);
  const srv = serverFor(listener);
  accepting = conn;
  try {
    srv.emit('connection', socket);
  } finally {
    accepting = null;
  }
  if (conn.session === null) socket.destroy();
}

registerH2Handler(serveH2);

function ignore(): void {}
