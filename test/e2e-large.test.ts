/**
 * End-to-end: 1 GiB bodies streamed through a real Fulcrum process — uploads with Content-Length and
 * chunked framing (RFC 9112 §6.2, §7.1) and a Content-Length download — verified by byte count and
 * SHA-256 on both ends, while Fulcrum's resident memory (VmRSS from /proc/<pid>/status, sampled every
 * 100 ms) must stay below 256 MiB: bodies are streamed with back-pressure, never buffered.
 * Data is generated deterministically block by block (never 1 GiB in memory).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { rssOf, simpleConfig, startFulcrum, type FulcrumProcess } from './helpers/fulcrum.ts';
import { RawConn, startHttpBackend, type HttpBackend } from './helpers/backends.ts';

const GiB = 1024 * 1024 * 1024;
const BLOCK = 1024 * 1024;
const RSS_LIMIT = 256 * 1024 * 1024;
const TRANSFER_TIMEOUT = 180_000;

/** A fixed pseudo-random 1 MiB block; block i is this block with i written in its first 4 bytes. */
const BASE = (() => {
  const b = Buffer.alloc(BLOCK);
  let x = 0x9e3779b9;
  for (let i = 0; i < BLOCK; i += 4) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  return b;
})();

function block(i: number): Buffer {
  const b = Buffer.from(BASE);
  b.writeUInt32BE(i, 0);
  return b;
}

/** Writes with back-pressure: resolves when the socket can take more. */
async function write(s: Socket | NodeJS.WritableStream, b: Buffer | string): Promise<void> {
  if (!s.write(b)) await once(s as Socket, 'drain');
}

/** Samples Fulcrum's VmRSS every 100 ms until stop(); returns the peak in bytes. */
function sampleRss(pid: number): { stop(): { peak: number; samples: number } } {
  let peak = rssOf(pid);
  let samples = 1;
  const t = setInterval(() => {
    const r = rssOf(pid);
    samples++;
    if (r > peak) peak = r;
  }, 100);
  return { stop: () => { clearInterval(t); return { peak, samples }; } };
}

const MiB = (n: number) => (n / 1024 / 1024).toFixed(1);

describe('e2e 1 GiB transfers', { timeout: 4 * TRANSFER_TIMEOUT }, () => {
  let be: HttpBackend;
  let f: FulcrumProcess;
  /** What the backend saw on the last upload / produced on the last download. */
  let lastUpload = null as { bytes: number; sha: string; te: string | undefined; cl: string | undefined } | null;
  let lastDownload = null as { bytes: number; sha: string } | null;
  const peaks: string[] = [];

  before(async () => {
    be = await startHttpBackend((req, res) => {
      if (req.url === '/upload') {
        const h = createHash('sha256');
        let n = 0;
        req.on('data', (d: Buffer) => { n += d.length; h.update(d); });
        req.on('end', () => {
          lastUpload = { bytes: n, sha: h.digest('hex'), te: req.headers['transfer-encoding'], cl: req.headers['content-length'] };
          const body = JSON.stringify(lastUpload);
          res.writeHead(200, { 'content-length': Buffer.byteLength(body) });
          res.end(body);
        });
        return;
      }
      if (req.url === '/download') {
        req.resume();
        res.writeHead(200, { 'content-length': GiB, 'content-type': 'application/octet-stream' });
        const h = createHash('sha256');
        void (async () => {
          for (let i = 0; i < GiB / BLOCK; i++) {
            if (res.destroyed) return;
            const b = block(i);
            h.update(b);
            if (!res.write(b)) await once(res, 'drain');
          }
          lastDownload = { bytes: GiB, sha: h.digest('hex') };
          res.end();
        })();
        return;
      }
      res.writeHead(404).end();
    });
    f = await startFulcrum(simpleConfig([be.port]));
    peaks.push(`idle ${MiB(rssOf(f.pid))} MiB`);
  });
  after(async () => {
    const code = await f?.stop();
    await be?.close();
    assert.equal(code, 0);
    if (peaks.length) console.log(`# Fulcrum peak RSS: ${peaks.join('; ')}`);
  });

  for (const framing of ['content-length', 'chunked'] as const) {
    it(`uploads 1 GiB with ${framing} framing: same bytes and SHA-256 upstream, RSS < 256 MiB`, { timeout: TRANSFER_TIMEOUT }, async () => {
      lastUpload = null;
      const rss = sampleRss(f.pid);
      const t0 = performance.now();
      const c = await RawConn.open(f.port('web'));
      const h = createHash('sha256');
      try {
        await write(c.socket, framing === 'chunked'
          ? 'POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n'
          : `POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: ${GiB}\r\n\r\n`);
        for (let i = 0; i < GiB / BLOCK; i++) {
          const b = block(i);
          h.update(b);
          if (framing === 'chunked') await write(c.socket, Buffer.concat([Buffer.from(`${BLOCK.toString(16)};i=${i}\r\n`), b, Buffer.from('\r\n')]));
          else await write(c.socket, b);
        }
        if (framing === 'chunked') await write(c.socket, '0\r\nX-Done: 1\r\n\r\n');
        const res = await c.read('POST', TRANSFER_TIMEOUT);
        const ms = performance.now() - t0;
        const { peak, samples } = rss.stop();
        peaks.push(`upload ${framing} ${MiB(peak)} MiB (${samples} samples, ${(ms / 1000).toFixed(1)} s)`);
        assert.equal(res.status, 200);
        const seen = JSON.parse(res.body.toString()) as { bytes: number; sha: string };
        assert.equal(seen.bytes, GiB);
        assert.equal(seen.sha, h.digest('hex'));
        assert.equal(lastUpload!.te, framing === 'chunked' ? 'chunked' : undefined);
        assert.equal(lastUpload!.cl, framing === 'chunked' ? undefined : String(GiB));
        assert.ok(peak > 0 && peak < RSS_LIMIT, `peak RSS ${MiB(peak)} MiB`);
      } finally {
        rss.stop();
        c.close();
      }
    });
  }

  it('downloads 1 GiB with Content-Length: same bytes and SHA-256 at the client, RSS < 256 MiB', { timeout: TRANSFER_TIMEOUT }, async () => {
    lastDownload = null;
    const rss = sampleRss(f.pid);
    const t0 = performance.now();
    const s = connect({ host: '127.0.0.1', port: f.port('web') });
    const h = createHash('sha256');
    try {
      await once(s, 'connect');
      s.write('GET /download HTTP/1.1\r\nHost: h\r\n\r\n');
      let head: Buffer | null = Buffer.alloc(0);
      let contentLength = -1;
      let got = 0;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`download incomplete after ${TRANSFER_TIMEOUT} ms: ${got} bytes`)), TRANSFER_TIMEOUT - 5000);
        const done = (err?: Error) => { clearTimeout(timer); if (err) reject(err); else resolve(); };
        s.on('data', (d: Buffer) => {
          let body = d;
          if (head !== null) {
            head = Buffer.concat([head, d]);
            const e = head.indexOf('\r\n\r\n');
            if (e < 0) return;
            const text = head.toString('latin1', 0, e);
            if (!text.startsWith('HTTP/1.1 200 ')) return done(new Error(`unexpected head: ${text}`));
            contentLength = Number(/\r\ncontent-length: *(\d+)/i.exec(text)?.[1] ?? -1);
            body = head.subarray(e + 4);
            head = null;
          }
          got += body.length;
          h.update(body);
          if (got >= contentLength && contentLength >= 0) done();
        });
        s.on('close', () => done(new Error(`connection closed after ${got} body bytes`)));
        s.on('error', () => {});
      });
      const ms = performance.now() - t0;
      const { peak, samples } = rss.stop();
      peaks.push(`download ${MiB(peak)} MiB (${samples} samples, ${(ms / 1000).toFixed(1)} s)`);
      assert.equal(contentLength, GiB);
      assert.equal(got, GiB);
      const produced = lastDownload as { bytes: number; sha: string } | null;
      assert.ok(produced !== null, 'backend finished writing');
      assert.equal(h.digest('hex'), produced.sha);
      assert.ok(peak > 0 && peak < RSS_LIMIT, `peak RSS ${MiB(peak)} MiB`);
    } finally {
      rss.stop();
      s.destroy();
    }
  });
});
