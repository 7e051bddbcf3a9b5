/**
 * Removes chunked framing (RFC 9112 §7.1) from bytes already validated by ChunkedScanner, for the rare
 * HTTP/1.0 client that receives a chunked upstream response: it gets the bare data, delimited by close.
 */
const S_SIZE = 0;
const S_EXT = 1;
const S_DATA = 2;
const S_DATA_END = 3; // CRLF after data
const S_TRAILER = 4; // after the last chunk: discard

export class Dechunker {
  private state = S_SIZE;
  private size = 0;
  private remaining = 0;

  reset(): void {
    this.state = S_SIZE;
    this.size = 0;
    this.remaining = 0;
  }

  /** Returns the data bytes carried by `b` (may be empty). */
  feed(b: Buffer): Buffer {
    const out: Buffer[] = [];
    let i = 0;
    const n = b.length;
    while (i < n) {
      const st = this.state;
      if (st === S_DATA) {
        const take = Math.min(this.remaining, n - i);
        out.push(b.subarray(i, i + take));
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = S_DATA_END;
        continue;
      }
      const c = b[i++];
      if (st === S_SIZE) {
        if (c === 0x0a) this.endSizeLine();
        else if (c === 0x3b) this.state = S_EXT;
        else if (c !== 0x0d) this.size = this.size * 16 + parseInt(String.fromCharCode(c), 16);
      } else if (st === S_EXT) {
        if (c === 0x0a) this.endSizeLine();
      } else if (st === S_DATA_END) {
        if (c === 0x0a) this.state = S_SIZE;
      }
      // S_TRAILER: discard
    }
    return out.length === 1 ? out[0] : Buffer.concat(out);
  }

  private endSizeLine(): void {
    if (this.size === 0) {
      this.state = S_TRAILER;
      return;
    }
    this.remaining = this.size;
    this.size = 0;
    this.state = S_DATA;
  }
}
