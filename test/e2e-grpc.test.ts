// gRPC through Fulcrum (docs/http2.md#grpc): a real @grpc/grpc-js client talks h2c to Fulcrum, which
// balances each call (stream) over two real @grpc/grpc-js servers with `upstreamProtocol: http2`.
// The service is defined with raw Buffers (no protobuf). Checked: unary calls spread per call,
// status and message trailers (grpc-status/grpc-message) and trailing metadata pass through,
// server, client and bidi streaming, deadlines (grpc-timeout reaches the server; DEADLINE_EXCEEDED),
// and cancellation in both directions.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { simpleConfig, startFulcrum, waitUntil, type FulcrumProcess } from './helpers/fulcrum.ts';

/** The machine may be busy with other suites: allow Fulcrum 30 s to start. */
const SLOW_START = { startTimeoutMs: 30_000 };

const ident = (b: Buffer): Buffer => b;
function method(name: string, requestStream: boolean, responseStream: boolean) {
  return {
    path: `/fulcrum.test.Echo/${name}`, requestStream, responseStream,
    requestSerialize: ident, requestDeserialize: ident, responseSerialize: ident, responseDeserialize: ident,
  };
}
const SERVICE = {
  unary: method('Unary', false, false),
  collect: method('Collect', true, false),
  count: method('Count', false, true),
  echo: method('Echo', true, true),
  slow: method('Slow', false, false),
  forever: method('Forever', false, true),
};
const EchoClient = grpc.makeGenericClientConstructor(SERVICE, 'Echo');
type Client = InstanceType<typeof EchoClient> & Record<string, (...a: unknown[]) => any>;

interface Backend {
  id: string;
  server: grpc.Server;
  port: number;
  calls: number;
  cancelled: number;
  deadlines: number[];
}

function startBackend(id: string): Promise<Backend> {
  const b: Backend = { id, server: new grpc.Server(), port: 0, calls: 0, cancelled: 0, deadlines: [] };
  const impl: grpc.UntypedServiceImplementation = {
    unary(call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) {
      b.calls++;
      const req = call.request.toString();
      if (req === 'fail') {
        const md = new grpc.Metadata();
        md.set('x-why', 'asked-to-fail');
        cb({ code: grpc.status.NOT_FOUND, details: 'nothing here: ünïcode', metadata: md });
        return;
      }
      const md = new grpc.Metadata();
      md.set('x-backend', id);
      cb(null, Buffer.from(`${id}:${req}`), md);
    },
    collect(call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) {
      b.calls++;
      let n = 0;
      let bytes = 0;
      call.on('data', (m: Buffer) => { n++; bytes += m.length; });
      call.on('end', () => cb(null, Buffer.from(`${n}/${bytes}`)));
    },
    count(call: grpc.ServerWritableStream<Buffer, Buffer>) {
      b.calls++;
      const n = Number(call.request.toString());
      for (let i = 0; i < n; i++) call.write(Buffer.from(String(i)));
      call.end();
    },
    echo(call: grpc.ServerDuplexStream<Buffer, Buffer>) {
      b.calls++;
      call.on('data', (m: Buffer) => call.write(Buffer.from(`${id}<${m.toString()}>`)));
      call.on('end', () => call.end());
    },
    slow(call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) {
      b.calls++;
      const d = call.getDeadline();
      b.deadlines.push(d instanceof Date ? d.getTime() : Number(d));
      const t = setTimeout(() => cb(null, Buffer.from('late')), 5000);
      call.on('cancelled', () => { b.cancelled++; clearTimeout(t); });
    },
    forever(call: grpc.ServerWritableStream<Buffer, Buffer>) {
      b.calls++;
      let i = 0;
      const t = setInterval(() => call.write(Buffer.from(String(i++))), 20);
      call.on('cancelled', () => { b.cancelled++; clearInterval(t); });
    },
  };
  b.server.addService(SERVICE as unknown as grpc.ServiceDefinition, impl);
  return new Promise((resolve, reject) => {
    b.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err) reject(err);
      else {
        b.port = port;
        resolve(b);
      }
    });
  });
}

function unary(c: Client, m: string, req: string, opts: grpc.CallOptions = {}): Promise<{ err: grpc.ServiceError | null; res?: Buffer; trailers?: grpc.Metadata; headers?: grpc.Metadata }> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | undefined;
    let headers: grpc.Metadata | undefined;
    const call = c[m](Buffer.from(req), new grpc.Metadata(), opts, (err: grpc.ServiceError | null, res?: Buffer) => {
      // the status event comes after the callback in some versions: settle on the next turn
      setImmediate(() => resolve({ err, res, trailers, headers }));
    });
    call.on('metadata', (md: grpc.Metadata) => { headers = md; });
    call.on('status', (s: grpc.StatusObject) => { trailers = s.metadata; });
  });
}

describe('gRPC through Fulcrum (h2c in, HTTP/2 upstream)', () => {
  let a: Backend;
  let b: Backend;
  let f: FulcrumProcess;
  let client: Client;

  before(async () => {
    a = await startBackend('a');
    b = await startBackend('b');
    f = await startFulcrum(simpleConfig([a.port, b.port], { pool: { upstreamProtocol: 'http2', retries: { attempts: 1 } } }), SLOW_START);
    client = new EchoClient(`127.0.0.1:${f.port('web')}`, grpc.credentials.createInsecure()) as Client;
  });

  after(async () => {
    client?.close();
    await f?.stop();
    a?.server.forceShutdown();
    b?.server.forceShutdown();
  });

  it('unary calls on one client connection are balanced per call (round robin: 10 and 10)', async () => {
    const seen: Record<string, number> = { a: 0, b: 0 };
    for (let i = 0; i < 20; i++) {
      const r = await unary(client, 'unary', `m${i}`);
      assert.equal(r.err, null);
      const [id, msg] = r.res!.toString().split(':');
      assert.equal(msg, `m${i}`);
      assert.equal(r.trailers?.get('x-backend')[0], id, 'trailing metadata passes through');
      seen[id]++;
    }
    assert.deepEqual(seen, { a: 10, b: 10 });
  });

  it('an error status and message come back as trailers, with trailing metadata', async () => {
    const r = await unary(client, 'unary', 'fail');
    assert.ok(r.err);
    assert.equal(r.err.code, grpc.status.NOT_FOUND);
    assert.equal(r.err.details, 'nothing here: ünïcode');
    assert.deepEqual(r.err.metadata.get('x-why'), ['asked-to-fail']);
  });

  it('server streaming: 500 messages in order', async () => {
    const got: string[] = [];
    const call = client.count(Buffer.from('500'), new grpc.Metadata(), {});
    const status = await new Promise<grpc.StatusObject>((resolve, reject) => {
      call.on('data', (m: Buffer) => got.push(m.toString()));
      call.on('status', resolve);
      call.on('error', reject);
    });
    assert.equal(status.code, grpc.status.OK);
    assert.equal(got.length, 500);
    assert.deepEqual(got, Array.from({ length: 500 }, (_, i) => String(i)));
  });

  it('client streaming: 200 messages of 1 KiB arrive whole', async () => {
    const res = await new Promise<Buffer>((resolve, reject) => {
      const call = client.collect(new grpc.Metadata(), {}, (err: Error | null, r: Buffer) => (err ? reject(err) : resolve(r)));
      for (let i = 0; i < 200; i++) call.write(Buffer.alloc(1024, i));
      call.end();
    });
    assert.equal(res.toString(), `200/${200 * 1024}`);
  });

  it('bidi streaming: every message answered on the same call, then a clean end', async () => {
    const call = client.echo(new grpc.Metadata(), {});
    const got: string[] = [];
    const done = new Promise<grpc.StatusObject>((resolve, reject) => {
      call.on('data', (m: Buffer) => {
        got.push(m.toString());
        if (got.length < 50) call.write(Buffer.from(String(got.length)));
        else call.end();
      });
      call.on('status', resolve);
      call.on('error', reject);
    });
    call.write(Buffer.from('0'));
    const st = await done;
    assert.equal(st.code, grpc.status.OK);
    assert.equal(got.length, 50);
    const id = got[0][0];
    assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => `${id}<${i}>`));
  });

  it('deadline: grpc-timeout reaches the server, the client gets DEADLINE_EXCEEDED and the server sees the cancel', async () => {
    const before = a.cancelled + b.cancelled;
    const t0 = Date.now();
    const r = await unary(client, 'slow', 'x', { deadline: Date.now() + 800 });
    assert.ok(r.err);
    assert.equal(r.err.code, grpc.status.DEADLINE_EXCEEDED);
    const deadlines = [...a.deadlines, ...b.deadlines];
    assert.equal(deadlines.length, 1);
    assert.ok(Number.isFinite(deadlines[0]) && deadlines[0] <= t0 + 1500, `server deadline ${deadlines[0] - t0} ms after start`);
    await waitUntil(() => a.cancelled + b.cancelled === before + 1, 5000, () => 'the server call was not cancelled');
  });

  it('a client cancel of a server stream resets the upstream stream (the server sees cancelled)', async () => {
    const before = a.cancelled + b.cancelled;
    const call = client.forever(Buffer.from(''), new grpc.Metadata(), {});
    let n = 0;
    const status = new Promise<grpc.StatusObject>((resolve) => {
      call.on('status', resolve);
      call.on('error', () => {});
    });
    await new Promise<void>((resolve) => call.on('data', () => { if (++n === 5) resolve(); }));
    call.cancel();
    assert.equal((await status).code, grpc.status.CANCELLED);
    await waitUntil(() => a.cancelled + b.cancelled === before + 1, 5000, () => 'the upstream call was not cancelled');
  });
});
