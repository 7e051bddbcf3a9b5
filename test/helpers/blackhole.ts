/**
 * An endpoint whose connects hang: a listening socket that never accepts (backlog 0), run in python3
 * (Node always accepts), with its accept queue filled so further SYNs are dropped. stop() ends it by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';

export async function blackhole(): Promise<{ port: number; proc: ChildProcess; fillers: Socket[]; stop(): Promise<void> }> {
  const proc = spawn('python3', ['-c', [
    'import socket, sys, time',
    's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
    'print(s.getsockname()[1], flush=True)',
    'time.sleep(60)',
  ].join('\n')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    proc.once('error', reject);
  });
  const fillers: Socket[] = [];
  for (let i = 0; i < 3; i++) {
    fillers.push(await new Promise<Socket>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      s.once('connect', () => resolve(s));
      setTimeout(() => resolve(s), 300);
    }));
  }
  return {
    port, proc, fillers,
    async stop() {
      for (const s of fillers) s.destroy();
      proc.kill('SIGKILL');
    },
  };
}

