// HTTP/2 abuse limits (docs/http2.md#limits), with frames written by hand: too many concurrent
// streams (REFUSED_STREAM), rapid reset (CVE-2023-44487: GOAWAY ENHANCE_YOUR_CALM and close),
// CONTINUATION flood (CVE-2024-27316 family), a header list over maxHeaderListSize, and an HPACK
// bomb (a small block that decodes to megabytes through the dynamic table). After each, Fulcrum
// still serves the next client.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { connect as h2connect } from 'node:http2';
import { adminGet, simpleConfig, startFulcrum, type FulcrumProcess } from './helpers/fulcrum.ts';
import { startHttpBackend, type HttpBackend } from './helpers/backends.ts';

/** The machine may be busy with other suites: allow Fulcrum 30 s to start. */
const SLOW_START = { startTimeoutMs: 30_000 };

// ------------------------------------------------------------------------------ frame helpers (RFC 9113 §4, §6)

const DATA = 0, HEADERS = 1, RST_STREAM = 3, SETTINGS = 4, GOAWAY = 7, CONTINUATION = 9;
const END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4;
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const PROTOCOL_ERROR = 0x1, CANCEL = 0x8, ENHANCE_YOUR_CALM = 0xb;

function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

function settings(entries: [number, number][] = []): Buffer {
  const p = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, v], i) => { p.writeUInt16BE(id, i * 6); p.writeUInt32BE(v, i * 6 + 2); });
  return frame(SETTINGS, 0, 0, p);
}

function rst(stream: number, code: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(RST_STREAM, 0, stream, p);
}

/** HPACK integer (RFC 7541 §5.1) with an N-bit prefix, the first byte's high bits from `mask`. */
function hpackInt(v: number, n: number, mask: number): Buffer {
  const max = (1 << n) - 1;
  if (v < max) return Buffer.from([mask | v]);
  const out = [mask | max];
  v -= max;
  while (v >= 128) { out.push((v & 0x7f) | 0x80); v >>= 7; }
  out.push(v);
  return Buffer.from(out);
}

function hpackString(s: string): Buffer {
  const b = Buffer.from(s, 'latin1');
  return Buffer.concat([hpackInt(b.length, 7, 0), b]);
}

/** Literal field without indexing, new name (RFC 7541 §6.2.2). */
function literal(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x00]), hpackString(name), hpackString(value)]);
}

/** :method GET, :scheme http (static 2, 6), :path and :authority as literals with indexed names (4, 1). */
function requestBlock(path: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x82, 0x86]),
    hpackInt(4, 4, 0x00), hpackString(path),
    hpackInt(1, 4, 0x00), hpackString('fulcrum.test'),
  ]);
}

interface Frame { type: number; flags: number; stream: number; payload: Buffer }

/** A raw HTTP/2 client connection: sends the preface, ACKs the server's SETTINGS, records frames. */
class RawH2 {
  readonly socket: Socket;
  readonly frames: Frame[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  private gotSettings = false;

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.on('error', () => {});
    this.socket.on('close', () => { this.closed = true; });
    this.socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 9) {
        const len = this.buf.readUIntBE(0, 3);
        if (this.buf.length < 9 + len) break;
        const f = { type: this.buf[3], flags: this.buf[4], stream: this.buf.readUInt32BE(5) & 0x7fffffff, payload: this.buf.subarray(9, 9 + len) };
        this.buf = this.buf.subarray(9 + len);
        this.frames.push(f);
        if (f.type === SETTINGS && (f.flags & ACK) === 0) {
          this.gotSettings = true;
          this.write(frame(SETTINGS, ACK, 0));
        }
      }
    });
    this.write(Buffer.concat([PREFACE, settings()]));
  }

  write(b: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(b);
  }

  async ready(): Promise<void> {
    await this.until(() => this.gotSettings, 5000, 'server SETTINGS');
  }

  async until(cond: () => boolean, ms: number, what: string): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; frames: ${this.frames.map((f) => `${f.type}/${f.stream}${f.type === GOAWAY ? ':' + f.payload.toString('hex') : ''}`).join(' ')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  goaway(): { lastStream: number; code: number } | null {
    const f = this.frames.find((x) => x.type === GOAWAY);
    return f === undefined ? null : { lastStream: f.payload.readUInt32BE(0) & 0x7fffffff, code: f.payload.readUInt32BE(4) };
  }

  resets(): Map<number, number> {
    return new Map(this.frames.filter((f) => f.type === RST_STREAM).map((f) => [f.stream, f.payload.readUInt32BE(0)]));
  }

  /** Streams that got a response HEADERS frame. */
  answered(): Set<number> {
    return new Set(this.frames.filter((f) => f.type === HEADERS).map((f) => f.stream));
  }

  close(): void {
    this.socket.destroy();
  }
}

// ------------------------------------------------------------------------------ tests

const open: { stop?: () => Promise<unknown>; close?: () => Promise<unknown> }[] = [];
after(async () => {
  for (const o of open.reverse()) await (o.stop?.() ?? o.close?.());
});

/** A node:http2 client GET; resolves with the status (bounded by 10 s). */
function h2get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = h2connect(`http://127.0.0.1:${port}`);
    const timer = setTimeout(() => { s.destroy(); reject(new Error('h2get timed out')); }, 10_000);
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    const st = s.request({ ':path': path });
    st.on('response', (h) => {
      clearTimeout(timer);
      st.resume();
      st.on('end', () => s.close());
      resolve(Number(h[':status']));
    });
  });
}

describe('HTTP/2 abuse limits (raw frames)', () => {
  let f: FulcrumProcess;
  let backend: HttpBackend;
  let served = 0;
  before(async () => {
    backend = await startHttpBackend((req, res) => {
      served++;
      const delay = req.url === '/slow' ? 1000 : 0;
      setTimeout(() => res.end('ok'), delay);
    });
    open.push(backend);
    f = await startFulcrum(simpleConfig([backend.port], {
      listener: { http2: { maxConcurrentStreams: 5, maxResets: 50, resetWindow: '10s', maxHeaderListSize: 16384 } },
    }), SLOW_START);
    open.push(f);
  });

  it('a stream beyond maxConcurrentStreams (5, acknowledged) is a connection error: GOAWAY PROTOCOL_ERROR naming stream 9 as the last one', async () => {
    const c = new RawH2(f.port('web'));
    open.push({ close: async () => c.close() });
    await c.ready();
    await c.until(() => c.frames.some((x) => x.type === SETTINGS && (x.flags & ACK) !== 0), 5000, 'SETTINGS ACK');
    const ids = Array.from({ length: 8 }, (_, i) => 2 * i + 1);
    c.write(Buffer.concat(ids.map((id) => frame(HEADERS, END_STREAM | END_HEADERS, id, requestBlock('/slow')))));
    await c.until(() => c.goaway() !== null, 10_000, 'GOAWAY');
    assert.deepEqual(c.goaway(), { lastStream: 9, code: PROTOCOL_ERROR });
    assert.equal(c.answered().has(11), false);
    c.close();
    assert.equal(await h2get(f.port('web'), '/after-streams'), 200);
  });

  it('rapid reset: 100 streams opened and reset at once → GOAWAY ENHANCE_YOUR_CALM, connection closed, counted', async () => {
    // Its own Fulcrum with the default maxConcurrentStreams (100): with a small limit node:http2
    // stops taking new streams from a burst once the limit is reached, before any reset counts.
    const g = await startFulcrum(simpleConfig([backend.port], { listener: { http2: { maxResets: 50, resetWindow: '10s' } } }), SLOW_START);
    open.push(g);
    const c = new RawH2(g.port('web'));
    open.push({ close: async () => c.close() });
    await c.ready();
    const burst: Buffer[] = [];
    for (let i = 0; i < 100; i++) {
      const id = 2 * i + 1;
      burst.push(frame(HEADERS, END_STREAM | END_HEADERS, id, requestBlock('/slow')), rst(id, CANCEL));
    }
    c.write(Buffer.concat(burst));
    await c.until(() => c.goaway() !== null && c.closed, 10_000, 'GOAWAY and close');
    assert.equal(c.goaway()!.code, ENHANCE_YOUR_CALM);
    const m = await adminGet(g.adminPort, '/metrics');
    assert.match(m.body, /fulcrum_http_protocol_errors_total\{[^}]*code="FULCRUM_E_RAPID_RESET"[^}]*\} 1\b/);
    assert.equal(await h2get(g.port('web'), '/after-reset'), 200);
  });

  it('CONTINUATION flood: endless CONTINUATION frames end in GOAWAY and close; the next client is served', async () => {
    const c = new RawH2(f.port('web'));
    open.push({ close: async () => c.close() });
    await c.ready();
    const before = served;
    c.write(frame(HEADERS, 0, 1, requestBlock('/flood')));
    const piece = frame(CONTINUATION, 0, 1, literal('x-flood', 'a'.repeat(20)));
    for (let i = 0; i < 50 && !c.closed; i++) {
      c.write(Buffer.concat(Array.from({ length: 200 }, () => piece)));
      await new Promise((r) => setTimeout(r, 5));
    }
    await c.until(() => c.closed, 10_000, 'connection closed');
    assert.ok(c.goaway() !== null, 'GOAWAY sent before closing');
    assert.notEqual(c.goaway()!.code, 0, 'GOAWAY with an error code');
    assert.equal(served, before, 'nothing reached the backend');
    assert.equal(await h2get(f.port('web'), '/after-flood'), 200);
  });

  it('a header list over maxHeaderListSize (16 KiB) is refused without reaching the backend', async () => {
    const c = new RawH2(f.port('web'));
    open.push({ close: async () => c.close() });
    await c.ready();
    const before = served;
    const block = Buffer.concat([requestBlock('/big'), literal('x-big-1', 'b'.repeat(12000)), literal('x-big-2', 'c'.repeat(12000))]);
    c.write(Buffer.concat([frame(HEADERS, 0, 1, block.subarray(0, 16000)), frame(CONTINUATION, END_HEADERS, 1, block.subarray(16000))]));
    await c.until(() => c.resets().has(1) || c.goaway() !== null || c.answered().has(1), 10_000, 'a reaction to the large header list');
    const code = c.resets().get(1) ?? c.goaway()?.code;
    assert.equal(c.answered().has(1), false, 'not answered as a request');
    assert.equal(code, ENHANCE_YOUR_CALM);
    assert.equal(served, before);
    c.close();
    assert.equal(await h2get(f.port('web'), '/after-big'), 200);
  });

  it('HPACK bomb: 4 KB in the dynamic table referenced 400 times (1.6 MB decoded from 4.5 KB) is refused', async () => {
    const c = new RawH2(f.port('web'));
    open.push({ close: async () => c.close() });
    await c.ready();
    const before = served;
    const block = Buffer.concat([
      requestBlock('/bomb'),
      Buffer.from([0x40]), hpackString('x-bomb'), hpackString('z'.repeat(4000)), // literal with incremental indexing → index 62
      Buffer.alloc(400, 0x80 | 62), // indexed field 62, 400 times
    ]);
    assert.ok(block.length < 5000);
    c.write(frame(HEADERS, END_STREAM | END_HEADERS, 1, block));
    await c.until(() => c.resets().has(1) || c.goaway() !== null || c.answered().has(1), 10_000, 'a reaction to the HPACK bomb');
    assert.equal(c.answered().has(1), false, 'not answered as a request');
    assert.equal(c.resets().get(1) ?? c.goaway()?.code, ENHANCE_YOUR_CALM);
    assert.equal(served, before);
    c.close();
    assert.equal(await h2get(f.port('web'), '/after-bomb'), 200);
  });
});

void DATA;
