/**
 * An incremental WebSocket frame-header scanner (RFC 6455 §5.2) and the Close frames Fulcrum writes
 * itself (§5.5.1, masking §5.3). Pure: no sockets, no timers.
 *
 * The tunnel (tunnel.ts) relays bytes untouched; it only needs to know where frames begin and end so
 * it can put a Close frame of its own *between* two frames when a drain or shutdown ends a tunnel
 * (control frames may sit between the fragments of a message, §5.4, but never inside a frame).
 * The scanner reads each frame header (FIN, opcode, MASK, payload length in 7, 7+16 or 7+64 bits,
 * masking key) byte by byte — a header may be split over reads — and skips payloads by counting,
 * without copying or unmasking them. Per chunk the cost is one step per frame header in it.
 *
 * A 64-bit length with its most significant bit set is invalid (§5.2); a length above 2^53 cannot be
 * counted exactly in a JavaScript number. Either makes the stream `broken`: no boundary is ever
 * reported again (a drain then closes the TCP connection instead of writing a Close frame).
 */
import { randomFillSync } from 'node:crypto';

/** Opcodes (RFC 6455 §5.2 and §11.8). */
export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** Close status codes Fulcrum sends (RFC 6455 §7.4.1). */
export const CLOSE_GOING_AWAY = 1001;

// Header phases.
const H_B0 = 0; // first byte: FIN, RSV1-3, opcode
const H_B1 = 1; // second byte: MASK, 7-bit length
const H_LEN = 2; // extended length bytes (2 or 8)
const H_MASK = 3; // masking key bytes (4)
const H_PAYLOAD = 4; // payload bytes (counted, skipped)

/** Largest payload length counted exactly (2^53 − 1). */
const MAX_LENGTH = Number.MAX_SAFE_INTEGER;

export class FrameScanner {
  /** Opcode of the frame being read or last read. */
  opcode = 0;
  /** FIN bit of the frame being read or last read. */
  fin = false;
  /** Frames whose header has been read completely. */
  frames = 0;
  /** A Close frame's header has passed (the peer started the closing handshake). */
  closeSeen = false;
  /** The stream cannot be framed (invalid or uncountable length): no boundary is reported any more. */
  broken = false;
  private phase = H_B0;
  private masked = false;
  /** Extended-length or masking-key bytes still to read in the current phase. */
  private need = 0;
  /** Payload bytes still to skip (or the length being assembled in H_LEN). */
  private remaining = 0;

  /** True between two frames (no header or payload byte pending). */
  get atBoundary(): boolean {
    return this.phase === H_B0 && !this.broken;
  }

  /**
   * Reads `buf[start, end)`. With `stopAtBoundary` false every byte is consumed and `end` is
   * returned. With it true the scan stops at the first frame boundary at or after `start` and
   * returns its index (`start` itself when already between frames); -1 when the bytes end
   * inside a frame (all consumed) or the stream is broken.
   */
  scan(buf: Uint8Array, start: number, end: number, stopAtBoundary = false): number {
    if (this.broken) return stopAtBoundary ? -1 : end;
    let i = start;
    for (let guard = 0; guard <= end - start + 1; guard++) {
      if (this.phase === H_B0) {
        if (stopAtBoundary) return i;
        if (i >= end) return end;
        const b = buf[i++];
        this.fin = (b & 0x80) !== 0;
        this.opcode = b & 0x0f;
        this.phase = H_B1;
        continue;
      }
      if (this.phase === H_PAYLOAD) {
        const n = Math.min(this.remaining, end - i);
        this.remaining -= n;
        i += n;
        if (this.remaining === 0) this.phase = H_B0;
        else return stopAtBoundary ? -1 : end;
        continue;
      }
      if (i >= end) return stopAtBoundary ? -1 : end;
      const b = buf[i++];
      if (this.phase === H_B1) {
        this.masked = (b & 0x80) !== 0;
        const len = b & 0x7f;
        if (len === 126 || len === 127) {
          this.phase = H_LEN;
          this.need = len === 126 ? 2 : 8;
          this.remaining = 0;
        } else {
          this.remaining = len;
          this.headerLengthDone();
        }
      } else if (this.phase === H_LEN) {
        if (this.need === 8 && (b & 0x80) !== 0) return this.breakStream(stopAtBoundary, end);
        this.remaining = this.remaining * 256 + b;
        if (this.remaining > MAX_LENGTH) return this.breakStream(stopAtBoundary, end);
        if (--this.need === 0) this.headerLengthDone();
      } else if (--this.need === 0) {
        this.headerDone(); // H_MASK: last key byte
      }
    }
    return stopAtBoundary ? -1 : end; // not reached: every step consumes a byte or changes phase
  }

  /** Resets to the start of a stream. */
  reset(): void {
    this.opcode = 0;
    this.fin = false;
    this.frames = 0;
    this.closeSeen = false;
    this.broken = false;
    this.phase = H_B0;
    this.masked = false;
    this.need = 0;
    this.remaining = 0;
  }

  private headerLengthDone(): void {
    if (this.masked) {
      this.phase = H_MASK;
      this.need = 4;
    } else this.headerDone();
  }

  private headerDone(): void {
    this.frames++;
    if (this.opcode === OP_CLOSE) this.closeSeen = true;
    this.phase = this.remaining === 0 ? H_B0 : H_PAYLOAD;
  }

  private breakStream(stopAtBoundary: boolean, end: number): number {
    this.broken = true;
    return stopAtBoundary ? -1 : end;
  }
}

/**
 * A Close frame (FIN, opcode 8) with `code` and a UTF-8 `reason` (at most 123 bytes, §5.5).
 * `masked`: client-to-server frames are masked with a fresh random key (§5.3); server-to-client
 * frames are not.
 */
export function closeFrame(code: number, reason: string, masked: boolean): Buffer {
  let r = Buffer.from(reason, 'utf8');
  if (r.length > 123) r = r.subarray(0, 123);
  const len = 2 + r.length;
  const head = masked ? 6 : 2;
  const out = Buffer.allocUnsafe(head + len);
  out[0] = 0x80 | OP_CLOSE;
  out[1] = (masked ? 0x80 : 0) | len;
  out.writeUInt16BE(code, head);
  r.copy(out, head + 2);
  if (masked) {
    randomFillSync(out, 2, 4);
    for (let i = 0; i < len; i++) out[head + i] ^= out[2 + (i & 3)];
  }
  return out;
}
