// PROXY protocol interop with real peers (issue 5): nginx behind Fulcrum (`listen … proxy_protocol`,
// `$proxy_protocol_addr`) reports the client address Fulcrum saw, for v1 and v2; HAProxy in front of
// a Fulcrum tcp listener (`send-proxy` and `send-proxy-v2`) passes its client's address through
// Fulcrum to the backend. Clients bind 127.0.0.2/127.0.0.3 so the address is not the default one.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, createServer, type Server } from 'node:net';
import { startFulcrum, type FulcrumProcess } from './helpers/fulcrum.ts';
import { findHaproxy, startChild as startPeer } from './helpers/peers.ts';
import { findNginx, freePorts } from '../tools/record-ketama-vectors.ts';

const strict = process.env.FULCRUM_TEST_STRICT === '1';
const cleanup: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

function startChild(bin: string, args: string[], dir: string, port: number) {
  return startPeer(bin, args, dir, port, cleanup);
}

/** One HTTP/1.0 GET over a fresh connection from `localAddress`; the response text and our port. */
function getFrom(port: number, localAddress: string): Promise<{ text: string; localPort: number }> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress });
    let text = '';
    let localPort = 0;
    s.setEncoding('latin1');
    s.once('connect', () => {
      localPort = s.localPort ?? 0;
      s.write('GET / HTTP/1.0\r\nHost: x\r\n\r\n');
    });
    s.on('data', (d: string) => { text += d; });
    s.on('end', () => resolve({ text, localPort }));
    s.on('error', reject);
    setTimeout(() => { s.destroy(); reject(new Error(`no answer: ${text}`)); }, 5000).unref();
  });
}

async function fulcrum(config: object): Promise<FulcrumProcess> {
  const f = await startFulcrum(config);
  cleanup.push(() => f.stop().then(() => undefined));
  return f;
}

describe('PROXY protocol interop', { concurrency: false }, () => {
  it('nginx behind Fulcrum (proxy_protocol on its listen) sees the client address Fulcrum saw, v1 and v2', async (t) => {
    const bin = findNginx();
    if (bin === null) {
      if (strict) assert.fail('nginx missing (Debian package nginx-light)');
      t.skip('nginx missing (Debian package nginx-light)');
      return;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-pp-nginx-'));
    const [ngx] = await freePorts(1);
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${dir}/${k};`).join('\n');
    fs.writeFileSync(path.join(dir, 'nginx.conf'), `daemon off;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log warn;\nevents { worker_connections 64; }\nhttp {\n  access_log off;\n${temp}\n  server {\n    listen 127.0.0.1:${ngx} proxy_protocol;\n    location / { return 200 "addr=$proxy_protocol_addr port=$proxy_protocol_port\\n"; }\n  }\n}\n`);
    await startChild(bin, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], dir, ngx);
    for (const version of ['v1', 'v2']) {
      const f = await fulcrum({
        admin: { enabled: false },
        listeners: [{ name: 'tcp', protocol: 'tcp', listen: '127.0.0.1:0', pool: 'ngx' }],
        pools: [{ name: 'ngx', proxyProtocol: version, servers: [{ address: `127.0.0.1:${ngx}` }] }],
      });
      const r = await getFrom(f.port('tcp'), '127.0.0.2');
      assert.match(r.text, /^HTTP\/1\.1 200 /);
      assert.match(r.text, new RegExp(`addr=127\\.0\\.0\\.2 port=${r.localPort}\\n$`), `${version}: ${r.text}`);
      await f.stop();
    }
  });

  it('HAProxy send-proxy / send-proxy-v2 in front of a Fulcrum listener: the client address passes through', async (t) => {
    const bin = findHaproxy();
    if (bin === null) {
      if (strict) assert.fail('haproxy missing (Debian package haproxy)');
      t.skip('haproxy missing (Debian package haproxy)');
      return;
    }
    // The backend reads the PROXY v1 line Fulcrum sends and answers with it.
    const seen: string[] = [];
    const backend: Server = createServer((s) => {
      let buf = '';
      s.setEncoding('latin1');
      s.on('data', (d: string) => {
        buf += d;
        const nl = buf.indexOf('\r\n');
        if (nl >= 0 && buf.includes('\r\n\r\n')) {
          seen.push(buf.slice(0, nl));
          s.end(`HTTP/1.0 200 OK\r\n\r\n${buf.slice(0, nl)}\n`);
        }
      });
      s.on('error', () => {});
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => backend.close(() => r())));
    const bport = (backend.address() as { port: number }).port;
    const f = await fulcrum({
      admin: { enabled: false },
      listeners: [{ name: 'tcp', protocol: 'tcp', listen: '127.0.0.1:0', pool: 'b', proxyProtocol: { from: ['127.0.0.1/32'] } }],
      pools: [{ name: 'b', proxyProtocol: 'v1', servers: [{ address: `127.0.0.1:${bport}` }] }],
    });
    for (const send of ['send-proxy', 'send-proxy-v2']) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-pp-haproxy-'));
      const [hp] = await freePorts(1);
      fs.writeFileSync(path.join(dir, 'haproxy.cfg'), `global\n  nbthread 1\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 10s\n  timeout server 10s\nfrontend f\n  bind 127.0.0.1:${hp}\n  default_backend b\nbackend b\n  server fulcrum 127.0.0.1:${f.port('tcp')} ${send}\n`);
      const peer = await startChild(bin, ['-db', '-f', path.join(dir, 'haproxy.cfg')], dir, hp);
      const r = await getFrom(hp, '127.0.0.3');
      // Fulcrum's v1 line to the backend carries the address HAProxy saw: 127.0.0.3 and its port.
      assert.match(r.text, new RegExp(`PROXY TCP4 127\\.0\\.0\\.3 127\\.0\\.0\\.1 ${r.localPort} ${hp}\\n$`), `${send}: ${r.text}`);
      await peer.stop();
    }
    // Directly from an untrusted address (not 127.0.0.1): refused.
    const direct = await getFrom(f.port('tcp'), '127.0.0.4').catch((e: Error) => ({ text: `error ${e.message}`, localPort: 0 }));
    assert.doesNotMatch(direct.text, /PROXY/);
    assert.equal(seen.length, 2);
  });
});
