/**
 * Read buffers for L4 relaying (net's `onread`): what a proxied connection's sockets read into.
 *
 * Why not 'data' events: each read then allocates a fresh 64 KiB ArrayBuffer, and at a few Gbit/s
 * that external memory makes V8 run a full mark-compact every 50-100 ms (`--trace-gc`: "GC in old
 * space requested", 6-20 ms each over Fulcrum's ~15 MB heap). Measured with iperf3 through a bare
 * relay: 'data' events 7-8 Gbit/s, and 1.6 Gbit/s once the process held a large heap, against
 * 9-10 Gbit/s with reads into reused buffers.
 *
 * Why not one shared buffer: a write the kernel does not take whole keeps a reference to the bytes
 * (Node does not copy the rest of a Buffer write), so another socket reading into the same memory
 * would change bytes still queued. Hence two kinds of buffer (HAProxy likewise takes buffers from a
 * pool only while a connection moves data):
 * - SHARED: one buffer for every "cold" socket (idle, or moving small reads). The read callback
 *   copies the chunk before writing it (a small copy comes from Node's Buffer pool).
 * - private buffers, one per "hot" socket (its last read was ≥ HOT_BYTES), taken from a free list
 *   of at most MAX_PRIVATE buffers: reads are written without a copy. A write the kernel does not
 *   take whole pauses the reading socket until it completes, so the buffer is never read into while
 *   a write refers to it. A hot socket turns cold again after a read under COLD_BYTES whose write
 *   completed at once, and gives its buffer back. When the free list is exhausted, sockets stay cold.
 * An idle connection therefore holds no read buffer at all.
 */
import { Socket } from 'node:net';

/** Size of every read buffer (libuv's read size for streams). */
export const BUF_SIZE = 64 * 1024;
/** A read at least this large makes a cold socket hot (it gets a private buffer). */
export const HOT_BYTES = 16 * 1024;
/** A read smaller than this, written at once, makes a hot socket cold (its buffer goes back). */
export const COLD_BYTES = 4 * 1024;
/** Private buffers handed out at most (32 MiB). */
export const MAX_PRIVATE = 512;

/** The buffer cold sockets read into: valid only during the read callback. */
export const SHARED: Buffer = Buffer.allocUnsafeSlow(BUF_SIZE);

const free: Buffer[] = [];
let outstanding = 0;

/** Private buffers handed out now (for tests and metrics). */
export function privateInUse(): number {
  return outstanding;
}

/**
 * The buffer a socket reads into next, after a read of `n` bytes into `cur` whose write is
 * `pending` (not taken whole by the kernel) or not. Returns `cur`, SHARED or a private buffer.
 */
export function nextReadBuffer(cur: Buffer, n: number, pending: boolean): Buffer {
  if (cur === SHARED) {
    if (n < HOT_BYTES) return SHARED;
    if (free.length > 0) {
      outstanding++;
      return free.pop() as Buffer;
    }
    if (outstanding >= MAX_PRIVATE) return SHARED;
    outstanding++;
    return Buffer.allocUnsafeSlow(BUF_SIZE);
  }
  if (n < COLD_BYTES && !pending) {
    release(cur);
    return SHARED;
  }
  return cur;
}

/** Gives a private buffer back (no write may still refer to it). SHARED is ignored. */
export function release(b: Buffer): void {
  if (b === SHARED) return;
  outstanding--;
  free.push(b);
}

/** Forgets a private buffer a write may still refer to (closed abruptly): it is left to the GC. */
export function drop(b: Buffer): void {
  if (b !== SHARED) outstanding--;
}

/** A copy of `buf[0, n)` (the bytes of a read into SHARED). */
export function copyOf(buf: Buffer, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  buf.copy(out, 0, 0, n);
  return out;
}

/**
 * Re-creates a socket accepted by net.Server as a socket that reads through `onread` (net.Server
 * has no `onread` option). The libuv handle moves to the new Socket, not yet reading
 * (`pauseOnCreate`); the old Socket is destroyed without a handle, which only settles the server's
 * connection count. This uses `_handle` and the `handle` constructor option, which Node's own
 * net.Server and child_process use; the e2e tests fail loudly if a Node release changes them.
 * Returns null when the socket has already lost its handle (closed before it was served).
 */
export function withOnread(
  accepted: Socket,
  buffer: () => Buffer,
  callback: (this: Socket, nread: number, buf: Uint8Array) => boolean,
): Socket | null {
  const internal = accepted as unknown as { _handle: unknown };
  const handle = internal._handle;
  if (handle === null || handle === undefined) {
    accepted.destroy();
    return null;
  }
  internal._handle = null;
  accepted.destroy();
  return new Socket({
    handle, allowHalfOpen: true, readable: true, writable: true, noDelay: true, pauseOnCreate: true,
    onread: { buffer, callback },
  } as unknown as ConstructorParameters<typeof Socket>[0]);
}
