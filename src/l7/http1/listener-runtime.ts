/** What a client connection needs from its listener (implemented by HttpListener in server.ts). */
import type { BlockList, Socket } from 'node:net';
import type { ListenerConfig } from '../../config/schema.ts';
import type { HeadLimits } from './parser.ts';
import type { Router, CompiledRoute } from '../router/types.ts';
import type { Endpoint, PoolRuntime } from '../../runtime/pool.ts';
import type { ClientConn } from './client.ts';
import type { ErrorCode } from '../../core/errors.ts';

/** The part of the runtime snapshot a listener reads once per request. */
export interface ListenerSnapshot {
  readonly router: Router;
  readonly pools: ReadonlyMap<string, PoolRuntime>;
}

export interface ListenerRuntime {
  readonly config: ListenerConfig;
  /** `http` (later `https`), for X-Forwarded-Proto and Forwarded. */
  readonly proto: string;
  readonly limits: HeadLimits;
  readonly trust: BlockList | null;
  readonly conns: Set<ClientConn>;
  readonly draining: boolean;
  readonly snapshot: ListenerSnapshot;
  /** Lowercased name of the mTLS subject header (`https` with clientAuth.forwardSubject), else null/absent. */
  readonly clientCertHeader?: string | null;
  /** `https`: the subject header line for this connection ('' when no verified certificate), null when off. */
  certSubjectLine?(socket: Socket): string | null;
  record(route: CompiledRoute | null, pool: PoolRuntime | null, ep: Endpoint | null, status: number, ms: number): void;
  onProtocolError(code: ErrorCode): void;
  onConnClosed(): void;
}
