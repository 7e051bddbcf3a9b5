/**
 * System tools the bench drives (nginx, haproxy, wrk, taskset): where they are, which Debian
 * package provides each, and the machine facts printed at the top of a run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

/** Tool name → Debian package that provides it. */
export const PACKAGE_OF: Record<string, string> = {
  nginx: 'nginx-light',
  haproxy: 'haproxy',
  wrk: 'wrk',
  taskset: 'util-linux',
};

/** Absolute path of an executable on PATH (plus /usr/sbin and /sbin, where Debian keeps nginx/haproxy), or null. */
export function which(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch { /* not here */ }
  }
  return null;
}

/** First line a tool prints for its version flag (stdout or stderr), or `missing (apt install PKG)`. */
export function versionLine(name: string, bin: string | null, flag: string): string {
  if (bin === null) return `missing (apt install ${PACKAGE_OF[name] ?? name})`;
  const r = spawnSync(bin, [flag], { encoding: 'utf8', timeout: 5000 });
  const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.split('\n').map((l) => l.trim()).find((l) => l !== '');
  return out ?? '(no output)';
}

/** Lines describing the machine: date, node, kernel, CPU, nproc, tool versions. */
export function machineFacts(bins: Record<string, string | null>): string[] {
  const cpus = os.cpus();
  return [
    `date:     ${new Date().toISOString()}`,
    `node:     ${process.version} (${process.execPath})`,
    `kernel:   ${os.type()} ${os.release()} ${os.arch()}`,
    `cpu:      ${cpus[0]?.model ?? 'unknown'}`,
    `nproc:    ${os.availableParallelism()}`,
    `nginx:    ${versionLine('nginx', bins.nginx, '-v')}`,
    `haproxy:  ${versionLine('haproxy', bins.haproxy, '-v')}`,
    `wrk:      ${versionLine('wrk', bins.wrk, '-v')}`,
  ];
}
