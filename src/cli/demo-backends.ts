/**
 * The demo's backends: small node:http servers with different behaviour so the balancing is visible —
 * `fast` answers at once, `slow` after a delay, `flaky` fails a configurable share of requests with 500.
 * Each answers with a short text naming itself, the request line and the headers Fulcrum added.
 */
import { createServer, type Server } from 'node:http';
import { splitHostPort } from '../runtime/pool.ts';

export interface DemoBackendOptions {
  /** Delay of the slow backend in ms (default 150). */
  slowMs: number;
  /** Share of requests the flaky backend fails with 500, 0..1 (default 0.2). */
  failRate: number;
}

export const DEMO_KINDS = ['fast', 'slow', 'flaky'] as const;

export function startDemoBackend(kind: string, address: string, opts: DemoBackendOptions): Promise<Server> {
  const { host, port } = splitHostPort(address);
  let count = 0;
  const server = createServer((req, res) => {
    count++;
    req.resume();
    req.on('end', () => {
      const reply = (status: number) => {
        const body = `${status === 200 ? 'hello' : 'failure'} from ${kind} backend ${address} (request ${count}): ` +
          `${req.method} ${req.url} x-forwarded-for=${req.headers['x-forwarded-for'] ?? '-'}\n`;
        res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-demo-backend': kind });
        res.end(body);
      };
      if (kind === 'slow') setTimeout(reply, opts.slowMs, 200);
      else if (kind === 'flaky' && Math.random() < opts.failRate) reply(500);
      else reply(200);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve(server));
  });
}
