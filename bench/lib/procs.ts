/**
 * Child processes of the bench. Every child is recorded here with its PID so that the run's
 * `finally` and the SIGINT/SIGTERM handlers stop exactly what the bench started (SIGTERM, a
 * bounded wait, then SIGKILL) — never anything found by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** A started child and how it ended (`exit` stays null while it runs). */
export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly logFile: string | null;
  exit: { code: number | null; signal: string | null; error?: string } | null;
  readonly exited: Promise<void>;
}

/** The set of children the bench started; `stopAll` is idempotent. */
export class Children {
  readonly #all: Child[] = [];

  /** Start `cmd args`, stdout+stderr appended to `logFile` (or piped when null), stdin closed. */
  start(name: string, cmd: string, args: readonly string[], logFile: string | null, cwd?: string): Child {
    const fd = logFile === null ? null : fs.openSync(logFile, 'a');
    const proc = spawn(cmd, args, { cwd, stdio: ['ignore', fd ?? 'pipe', fd ?? 'pipe'] });
    if (fd !== null) fs.closeSync(fd);
    let settle!: () => void;
    const child: Child = { name, proc, logFile, exit: null, exited: new Promise<void>((r) => { settle = r; }) };
    proc.once('exit', (code, signal) => { child.exit ??= { code, signal }; settle(); });
    proc.once('error', (err) => { child.exit ??= { code: null, signal: null, error: err.message }; settle(); });
    this.#all.push(child);
    return child;
  }

  /** SIGTERM `child` by PID, wait up to `graceMs`, then SIGKILL and wait again (bounded). */
  async stop(child: Child, graceMs = 5000): Promise<void> {
    const pid = child.proc.pid;
    if (child.exit !== null || pid === undefined) return;
    try { process.kill(pid, 'SIGTERM'); } catch { /* already gone */ }
    if (await Promise.race([child.exited.then(() => true), sleep(graceMs, false)])) return;
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    await Promise.race([child.exited, sleep(2000)]);
  }

  /** Stop every child still running, newest first. */
  async stopAll(): Promise<void> {
    for (const c of [...this.#all].reverse()) await this.stop(c);
  }
}

/**
 * The gist of a log file for a skip reason: all of it when short, else its first lines (where
 * Node puts the error message) and its last (where nginx/HAProxy put the fatal line).
 */
export function gist(file: string | null, head = 5, last = 3): string {
  if (file === null) return '';
  let lines: string[];
  try {
    lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
  } catch {
    return '';
  }
  if (lines.length === 1 && lines[0] === '') return '';
  return lines.length <= head + last ? lines.join('\n') : [...lines.slice(0, head), '…', ...lines.slice(-last)].join('\n');
}
