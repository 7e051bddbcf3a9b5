/** What a client connection needs from its listener (implemented by HttpListener in server.ts). */
import type { BlockList, Socket } from 'node:net';
import type { ListenerConfig } from '../../config/schema.ts';
import type { HeadLimits } from './parser.ts';
import type { Router, CompiledRoute } from '../router/types.ts';
import type { Endpoint, PoolRuntime } from '../../runtime/pool.ts';
import type { Deadlined } from '../../runtime/sweeper.ts';
import type { ErrorCode } from '../../core/errors.ts';
import type { Metrics } from '../../admin/metrics.ts';

/** The part of the runtime snapshot a listener reads once per request. */
export interface ListenerSnapshot {
  readonly router: Router;
  readonly pools: ReadonlyMap<string, PoolRuntime>;
}

/** A client connection the listener tracks: an HTTP/1.1 ClientConn, or an HTTP/2 session (l7/http2). */
export interface ClientConnection extends Deadlined {
  readonly socket: Socket;
  /** Graceful shutdown: close now if idle, else once what is in progress is done. */
  shutdown(): void;
  /** After a reload swapped the snapshot (HTTP/1.1: upgraded tunnels whose server was drained get their deadline). */
  onReload?(): void;
}

export interface ListenerRuntime {
  readonly config: ListenerConfig;
  /** `http` (later `https`), for X-Forwarded-Proto and Forwarded. */
  readonly proto: string;
  readonly limits: HeadLimits;
  readonly trust: BlockList | null;
  readonly conns: Set<ClientConnection>;
  readonly draining: boolean;
  readonly snapshot: ListenerSnapshot;
  /** Lowercased name of the mTLS subject header (`https` with clientAuth.forwardSubject), else null/absent. */
  readonly clientCertHeader?: string | null;
  /** `https`: the subject header line for this connection ('' when no verified certificate), null when off. */
  certSubjectLine?(socket: Socket): string | null;
  record(route: CompiledRoute | null, pool: PoolRuntime | null, ep: Endpoint | null, status: number, ms: number): void;
  onProtocolError(code: ErrorCode): void;
  onConnClosed(): void;
  /** The process's metrics (upgraded-connection series); absent in stand-alone uses. */
  readonly metrics?: Metrics;
}
