/**
 * Runs a validated config until SIGTERM/SIGINT, then shuts down gracefully (stop accepting, finish
 * requests in progress within `shutdown.gracePeriod`, close idle keep-alive connections) and exits 0.
 * Prints one line per bound listener on stdout: `listener NAME http://HOST:PORT` and `admin http://…`.
 */
import type { Config } from '../config/schema.ts';
import { Runtime } from '../runtime/runtime.ts';
import { createLogger } from '../core/log.ts';

export async function serve(config: Config, onStarted?: (rt: Runtime) => void): Promise<number> {
  const log = createLogger();
  const rt = new Runtime(config, log);
  let started;
  try {
    started = await rt.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(`fulcrum: cannot listen: ${e.message} (FULCRUM_E_LISTEN)\n`);
    return 1;
  }
  for (const l of started.listeners) process.stdout.write(`listener ${l.name} http://${fmtHost(l.host)}:${l.port}\n`);
  if (started.admin) process.stdout.write(`admin http://${fmtHost(started.admin.host)}:${started.admin.port}\n`);
  onStarted?.(rt);
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        log.warn({ signal: sig }, 'second signal: exiting without waiting');
        resolve(1);
        return;
      }
      log.info({ signal: sig }, 'signal received');
      rt.shutdown().then(() => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        resolve(0);
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

function fmtHost(h: string): string {
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
}
