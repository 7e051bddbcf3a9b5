/**
 * Hash keys for the balancing benches, laid out as the HTTP/1.1 path sees them: the keys joined by
 * CRLF in one buffer (like header lines), each key's offsets in it (PickContext.keyBytes), the keys
 * sliced out of the buffer decoded once (the strings the HTTP/1.1 path used to hand over), and as
 * flat strings (the form of HTTP/2 header values and L4 addresses).
 */
export interface KeyLayout {
  readonly buf: Buffer;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  readonly sliced: string[];
  readonly flat: string[];
}

export function layOutKeys(parts: readonly string[]): KeyLayout {
  const buf = Buffer.from(parts.join('\r\n'), 'latin1');
  const head = buf.toString('latin1');
  const starts = new Int32Array(parts.length);
  const ends = new Int32Array(parts.length);
  const sliced: string[] = [];
  const flat: string[] = [];
  for (let i = 0, at = 0; i < parts.length; at += parts[i].length + 2, i++) {
    starts[i] = at;
    ends[i] = at + parts[i].length;
    sliced.push(head.slice(at, at + parts[i].length));
    flat.push(Buffer.from(parts[i], 'latin1').toString('latin1'));
  }
  return { buf, starts, ends, sliced, flat };
}
