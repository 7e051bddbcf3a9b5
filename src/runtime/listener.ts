/**
 * The listener plug-in interface (DESIGN.md rule 2): one kind per `protocol` (`http`, `tcp`,
 * `tls-passthrough`, `udp`), registered by name; the runtime builds, binds, updates on reload and
 * drains listeners only through this interface.
 *
 * Reload protocol (runtime.ts): a listener bound by a reload is created, hold() (accepts wait),
 * listen(), then at the swap update(config, snapshot) + activate(); on rollback abandon(). A kept
 * listener gets update() only. Leaving service: shutdown(graceMs) — stop accepting, let what is in
 * progress finish within the grace period, then close the rest.
 */
import type { ListenerConfig } from '../config/schema.ts';
import type { Router } from '../l7/router/types.ts';
import type { PoolRuntime } from './pool.ts';
import type { Metrics } from '../admin/metrics.ts';
import type { Deadlined } from './sweeper.ts';
import type { Server } from 'node:net';
import { splitHostPort } from './pool.ts';

/** What a listener reads from the config in service: the pools, and its router (`http` only). */
export interface ServiceSnapshot {
  readonly router: Router | null;
  readonly pools: ReadonlyMap<string, PoolRuntime>;
}

export interface ServiceListener {
  readonly config: ListenerConfig;
  /** Live connections (or UDP sessions) whose deadlines the runtime's sweeper checks. */
  readonly conns: Iterable<Deadlined> & { readonly size: number };
  readonly draining: boolean;
  /** Binds the listen address; resolves with the bound port. */
  listen(): Promise<number>;
  hold(): void;
  activate(): void;
  abandon(): void;
  update(config: ListenerConfig, snapshot: ServiceSnapshot): void;
  shutdown(graceMs: number): Promise<void>;
}

export type ListenerFactory = (config: ListenerConfig, snapshot: ServiceSnapshot, metrics: Metrics) => ServiceListener;

const kinds = new Map<string, ListenerFactory>();

export function registerListenerKind(protocol: string, factory: ListenerFactory): void {
  if (kinds.has(protocol)) throw new Error(`listener kind "${protocol}" registered twice`);
  kinds.set(protocol, factory);
}

/** Builds the listener for `config.protocol`; throws for a protocol no module registered. */
export function createListener(config: ListenerConfig, snapshot: ServiceSnapshot, metrics: Metrics): ServiceListener {
  const make = kinds.get(config.protocol);
  if (make === undefined) throw new Error(`no listener kind for protocol "${config.protocol}"`);
  return make(config, snapshot, metrics);
}

export function listenerKinds(): string[] {
  return [...kinds.keys()];
}

/** Binds a listener's net.Server to `listen` (host:port, backlog 4096); resolves with the bound port. */
export function listenOn(server: Server, listen: string): Promise<number> {
  const { host, port } = splitHostPort(listen);
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen({ host, port, backlog: 4096 }, () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
    });
  });
}

/**
 * The grace period of a draining listener: `done` resolves when `idle()` is called (its last
 * connection closed) or, once `graceMs` has passed, after `destroyAll()` closed what was left.
 */
export function graceWait(graceMs: number, destroyAll: () => void): { done: Promise<void>; idle: () => void } {
  let idle: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      destroyAll();
      resolve();
    }, graceMs);
    timer.unref();
    idle = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  return { done, idle };
}
