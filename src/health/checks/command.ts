/**
 * The `command` health check (HAProxy's `external-check command`): runs `command.path` with
 * `command.args` (no shell; a bare name is looked up in PATH), stdio ignored, with the environment
 * of Fulcrum plus FULCRUM_POOL, FULCRUM_SERVER (the address as written), FULCRUM_HOST and
 * FULCRUM_PORT (the check port). Exit status 0 passes. At the timeout, or when the check is
 * aborted, the child is killed with SIGKILL (by its PID; processes it started itself are not
 * followed) and the check resolves once the child has been reaped. Details: `exit 0`, `exit 2`,
 * `killed by SIGTERM`, `cannot run /x: ENOENT`, `timeout after 1 s`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { registerCheck } from './registry.ts';
import { abortDetail, checkPort, timeoutDetail, type CheckResult } from './types.ts';

/** How long a SIGKILLed child may take to be reaped before the check gives up waiting (ms). */
const REAP_GRACE_MS = 2000;

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
}

registerCheck({
  name: 'command',
  run(target, config, signal) {
    const t0 = performance.now();
    const cmd = config.command;
    if (cmd === undefined) return Promise.resolve({ passed: false, detail: 'no command configured', durationMs: 0 });
    return new Promise<CheckResult>((resolve) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      let reapTimer: NodeJS.Timeout | undefined;
      /** Detail to report once the killed child is gone; null while it was not killed. */
      let killedFor: string | null = null;
      let child: ChildProcess | null = null;
      const finish = (passed: boolean, detail: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(reapTimer);
        signal.removeEventListener('abort', onAbort);
        resolve({ passed, detail, durationMs: performance.now() - t0 });
      };
      const kill = (detail: string): void => {
        if (killedFor !== null || settled) return;
        killedFor = detail;
        if (child === null || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return finish(false, detail);
        child.kill('SIGKILL');
        reapTimer = setTimeout(() => finish(false, `${detail} (process ${child?.pid} not reaped yet)`), REAP_GRACE_MS);
      };
      const onAbort = (): void => kill(abortDetail(signal, config.timeout));
      if (signal.aborted) return finish(false, abortDetail(signal, config.timeout));
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        child = spawn(cmd.path, cmd.args, {
          stdio: 'ignore',
          windowsHide: true,
          env: {
            ...process.env,
            FULCRUM_POOL: target.pool,
            FULCRUM_SERVER: target.address,
            FULCRUM_HOST: target.host,
            FULCRUM_PORT: String(checkPort(target, config)),
          },
        });
      } catch (err) {
        return finish(false, `cannot run ${cmd.path}: ${codeOf(err)}`);
      }
      const c = child;
      timer = setTimeout(() => kill(timeoutDetail(config.timeout)), Math.max(1, config.timeout));
      c.on('error', (err) => {
        // Spawning failed (no PID: ENOENT, EACCES …); errors of a running child (a failed kill) are
        // followed by its 'exit'.
        if (c.pid === undefined) finish(false, `cannot run ${cmd.path}: ${codeOf(err)}`);
      });
      c.on('exit', (code, sig) => {
        // 'exit' comes after the child was reaped (waitpid): its PID is free again.
        if (killedFor !== null) finish(false, killedFor);
        else if (code === 0) finish(true, 'exit 0');
        else if (code !== null) finish(false, `exit ${code}`);
        else finish(false, `killed by ${sig}`);
      });
    });
  },
});
