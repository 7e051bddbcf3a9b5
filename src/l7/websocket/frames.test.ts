/**
 * Unit tests of the WebSocket frame-header scanner (RFC 6455 §5.2) and of the Close frames Fulcrum
 * writes: frames built by the `ws` library's own Sender (7-, 16- and 64-bit lengths, masked and
 * not), split at every byte and at random points (fast-check); Close frames decoded by `ws`'s Receiver.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as wsLib from 'ws';
import { CLOSE_GOING_AWAY, FrameScanner, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_TEXT, closeFrame } from './frames.ts';

/** ws's frame writer and reader (exported by the package, not declared by @types/ws). */
const { Receiver, Sender } = wsLib as unknown as {
  Sender: { frame(data: Buffer, options: object): Buffer[] };
  Receiver: new (o: { isServer: boolean }) => import('node:stream').Writable;
};

interface Spec { opcode: number; fin: boolean; mask: boolean; length: number }

/** One frame as `ws` writes it (header and payload joined). */
function frame(s: Spec): Buffer {
  const data = Buffer.alloc(s.length, 0x61);
  const parts = Sender.frame(data, {
    fin: s.fin, opcode: s.opcode, mask: s.mask, readOnly: false, rsv1: false,
  });
  return Buffer.concat(parts);
}

/** Indices where each frame ends (frame boundaries after the first byte of the stream). */
function boundariesOf(frames: Buffer[]): number[] {
  const out: number[] = [];
  let at = 0;
  for (const f of frames) out.push((at += f.length));
  return out;
}

/** Feeds `stream` in pieces cut at `cuts`, collecting every boundary reported with stopAtBoundary. */
function collect(stream: Buffer, cuts: number[]): { found: number[]; sc: FrameScanner } {
  const sc = new FrameScanner();
  const found: number[] = [];
  const points = [...new Set([0, ...cuts.filter((c) => c > 0 && c < stream.length), stream.length])].sort((a, b) => a - b);
  for (let k = 0; k + 1 < points.length; k++) {
    let i = points[k];
    const end = points[k + 1];
    for (let guard = 0; guard <= end - points[k] + 1 && i < end; guard++) {
      if (sc.atBoundary) {
        sc.scan(stream, i, i + 1); // the next frame's first byte: past this boundary
        i++;
        continue;
      }
      const at = sc.scan(stream, i, end, true);
      if (at < 0) break; // the piece ends inside a frame
      found.push(at);
      i = at;
    }
  }
  return { found, sc };
}

test('lengths at the 7/16/64-bit thresholds, masked and not, fed in one piece', () => {
  for (const length of [0, 1, 125, 126, 127, 65535, 65536, 70000]) {
    for (const mask of [false, true]) {
      const f = frame({ opcode: OP_BINARY, fin: true, mask, length });
      const sc = new FrameScanner();
      assert.equal(sc.scan(f, 0, f.length), f.length);
      assert.equal(sc.atBoundary, true, `length ${length} mask ${mask}`);
      assert.equal(sc.frames, 1);
      assert.equal(sc.opcode, OP_BINARY);
      // one byte short: inside the frame
      const sc2 = new FrameScanner();
      sc2.scan(f, 0, f.length - 1);
      assert.equal(sc2.atBoundary, false);
      assert.equal(sc2.scan(f, f.length - 1, f.length, true), f.length);
    }
  }
});

test('every split point of a fragmented message with a ping in between finds exactly the frame ends', () => {
  const frames = [
    frame({ opcode: OP_TEXT, fin: false, mask: true, length: 3 }),
    frame({ opcode: OP_PING, fin: true, mask: true, length: 4 }),
    frame({ opcode: OP_CONTINUATION, fin: false, mask: true, length: 130 }),
    frame({ opcode: OP_CONTINUATION, fin: true, mask: true, length: 0 }),
    frame({ opcode: OP_CLOSE, fin: true, mask: true, length: 2 }),
  ];
  const stream = Buffer.concat(frames);
  const want = boundariesOf(frames);
  for (let cut = 0; cut <= stream.length; cut++) {
    const { found, sc } = collect(stream, [cut]);
    assert.deepEqual(found, want, `cut at ${cut}`);
    assert.equal(sc.frames, 5);
    assert.equal(sc.closeSeen, true);
  }
});

test('stopAtBoundary returns start when already between frames, -1 inside a frame', () => {
  const f = frame({ opcode: OP_TEXT, fin: true, mask: false, length: 10 });
  const sc = new FrameScanner();
  assert.equal(sc.scan(f, 0, f.length, true), 0);
  assert.equal(sc.scan(f, 0, 5), 5);
  assert.equal(sc.scan(f, 5, 8, true), -1);
  assert.equal(sc.scan(f, 8, f.length, true), f.length);
  assert.equal(sc.closeSeen, false);
});

test('property: random frames split at random points — boundaries, frame count, close seen', () => {
  const spec = fc.record({
    opcode: fc.constantFrom(OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_PING, OP_CLOSE),
    fin: fc.boolean(),
    mask: fc.boolean(),
    length: fc.oneof(fc.integer({ min: 0, max: 130 }), fc.integer({ min: 65530, max: 65540 }), fc.integer({ min: 126, max: 3000 })),
  });
  fc.assert(fc.property(fc.array(spec, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (specs, cuts) => {
    const frames = specs.map(frame);
    const stream = Buffer.concat(frames);
    const { found, sc } = collect(stream, cuts.map((c) => c % (stream.length + 1)));
    assert.deepEqual(found, boundariesOf(frames));
    assert.equal(sc.frames, specs.length);
    assert.equal(sc.closeSeen, specs.some((s) => s.opcode === OP_CLOSE));
    assert.equal(sc.atBoundary, true);
  }), { numRuns: 300 });
});

test('a 64-bit length with the top bit set breaks the stream: no boundary any more', () => {
  const bad = Buffer.from([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1, 0x82, 0x00]);
  const sc = new FrameScanner();
  assert.equal(sc.scan(bad, 0, bad.length), bad.length);
  assert.equal(sc.broken, true);
  assert.equal(sc.atBoundary, false);
  assert.equal(sc.scan(bad, 0, bad.length, true), -1);
  const huge = Buffer.from([0x82, 0x7f, 0x00, 0x40, 0, 0, 0, 0, 0, 0]); // 2^54
  const sc2 = new FrameScanner();
  sc2.scan(huge, 0, huge.length);
  assert.equal(sc2.broken, true);
  sc2.reset();
  assert.equal(sc2.atBoundary, true);
});

/** Decodes one frame with ws's Receiver (server side for masked frames, client side for unmasked). */
function decodeClose(buf: Buffer, isServer: boolean): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const r = new Receiver({ isServer });
    r.on('conclude', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }));
    r.on('error', reject);
    r.write(buf);
  });
}

test('Close frames: unmasked towards the client, masked towards the server, read back by ws', async () => {
  const down = closeFrame(CLOSE_GOING_AWAY, 'shutting down', false);
  assert.deepEqual([...down.subarray(0, 4)], [0x88, 15, 0x03, 0xe9]);
  assert.deepEqual(await decodeClose(down, false), { code: 1001, reason: 'shutting down' });
  const up = closeFrame(CLOSE_GOING_AWAY, 'server drained', true);
  assert.equal(up[1], 0x80 | 16);
  assert.equal(up.length, 6 + 16);
  assert.deepEqual(await decodeClose(up, true), { code: 1001, reason: 'server drained' });
  const sc = new FrameScanner();
  sc.scan(up, 0, up.length);
  assert.deepEqual([sc.atBoundary, sc.closeSeen, sc.frames], [true, true, 1]);
  assert.equal(closeFrame(1001, 'x'.repeat(200), false).length, 2 + 125, 'reason cut to fit a control frame');
});
