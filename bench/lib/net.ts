/**
 * Loopback helpers for the bench: free ports chosen at run time (bind port 0, read, close) and a
 * bounded wait for a listener to accept, plus a one-shot HTTP GET used as a sanity check.
 */
import net from 'node:net';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/** Reserve `n` distinct free TCP ports on 127.0.0.1 (all bound at once so none repeats, then closed). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

function tryConnect(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => { sock.destroy(); resolve(ok); };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/**
 * Poll-connect to 127.0.0.1:port until it accepts; at most `tries` attempts `intervalMs` apart
 * (defaults 100 × 100 ms). `alive` is consulted between tries so a dead child ends the wait early.
 */
export async function waitListening(
  port: number,
  alive: () => boolean = () => true,
  tries = 100,
  intervalMs = 100,
): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (!alive()) return false;
    if (await tryConnect(port, 1000)) return true;
    await sleep(intervalMs);
  }
  return false;
}

/** GET http://127.0.0.1:port/ on a fresh connection; resolves status and body (5 s bound). */
export function httpGet(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out after 5 s')));
    req.on('error', reject);
  });
}
