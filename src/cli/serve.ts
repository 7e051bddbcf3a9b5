/**
 * Runs a validated config until SIGTERM/SIGINT, then shuts down gracefully (stop accepting, finish
 * requests in progress within `shutdown.gracePeriod`, close idle keep-alive connections) and exits 0.
 * Prints one line per bound listener on stdout: `listener NAME SCHEME://HOST:PORT` (http, https, tcp,
 * tls for passthrough, udp), `gslb dns://HOST:PORT` for the GSLB DNS server (UDP and TCP), and
 * `admin http://…` (and again for every listener, or DNS server, a reload binds). A GSLB-only
 * config prints no `listener` line.
 *
 * Hot reload, when the config came from a file: SIGHUP reloads it; so does a change to the file
 * (watched through its directory, so editors and tools that replace the file by a rename are seen;
 * debounced 250 ms; a change that leaves the text as it was is ignored). A reload validates first:
 * an invalid file is refused with every problem logged by path and the running config stays.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Config } from '../config/schema.ts';
import { parseConfigText, type Problem } from '../config/index.ts';
import { Runtime } from '../runtime/runtime.ts';
import { createLogger, type Logger } from '../core/log.ts';

/** Quiet time after the last change event before the file is read (ms). */
export const WATCH_DEBOUNCE_MS = 250;

export interface ServeOptions {
  /** The file `config` was read from: SIGHUP (and, with `watch`, a change to it) reloads it. */
  file?: string;
  /** Reload when the file changes (default true when `file` is given). */
  watch?: boolean;
  /** Called once everything is bound. */
  onStarted?: (rt: Runtime) => void;
}

export async function serve(config: Config, options: ServeOptions | ((rt: Runtime) => void) = {}): Promise<number> {
  const opts: ServeOptions = typeof options === 'function' ? { onStarted: options } : options;
  const log = createLogger();
  let rt: Runtime;
  try {
    rt = new Runtime(config, log);
  } catch (err) {
    // Validated, but something it names changed since (an .mmdb file replaced, …): say so, exit 1.
    process.stderr.write(startFailure(err));
    return 1;
  }
  // SIGHUP's default action ends the process: take it over before binding, reload once started.
  let reloader: FileReloader | null = null;
  let hupBeforeStart = false;
  const onHup = () => {
    if (opts.file === undefined) log.warn('SIGHUP: no config file to reload (the config did not come from a file)');
    else if (reloader === null) hupBeforeStart = true;
    else reloader.trigger(true);
  };
  process.on('SIGHUP', onHup);
  let started;
  try {
    started = await rt.start();
  } catch (err) {
    process.off('SIGHUP', onHup);
    process.stderr.write(startFailure(err));
    return 1;
  }
  for (const l of started.listeners) process.stdout.write(`listener ${l.name} ${l.scheme ?? 'http'}://${fmtHost(l.host)}:${l.port}\n`);
  if (started.dns) process.stdout.write(`gslb dns://${fmtHost(started.dns.host)}:${started.dns.port}\n`);
  if (started.admin) process.stdout.write(`admin http://${fmtHost(started.admin.host)}:${started.admin.port}\n`);
  if (opts.file !== undefined) {
    reloader = new FileReloader(rt, opts.file, log);
    if (opts.watch !== false) reloader.watch();
    if (hupBeforeStart) reloader.trigger(true);
  }
  opts.onStarted?.(rt);
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
      reloader?.close();
      rt.shutdown().then(() => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        process.off('SIGHUP', onHup);
        resolve(0);
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/**
 * Reloads the runtime from its config file, one reload at a time: a trigger during a reload runs
 * one more afterwards. A forced trigger (SIGHUP) reloads even when the text did not change.
 */
class FileReloader {
  private readonly rt: Runtime;
  private readonly file: string;
  private readonly log: Logger;
  /**
   * Text last read (applied or refused): a watch event that leaves it unchanged does nothing.
   * null at first, so the first change event always reloads (a reload of identical text changes nothing).
   */
  private lastText: string | null = null;
  private running = false;
  private pending: { force: boolean } | null = null;
  private watcher: FSWatcher | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(rt: Runtime, file: string, log: Logger) {
    this.rt = rt;
    this.file = file;
    this.log = log;
  }

  /** Watches the file's directory for changes to the file (by name; `..*` entries for Kubernetes ConfigMap swaps). */
  watch(): void {
    const path = resolve(this.file);
    const dir = dirname(path);
    const name = basename(path);
    try {
      this.watcher = watch(dir, { persistent: false }, (_event, filename) => {
        if (filename !== null && filename !== name && !filename.startsWith('..')) return;
        if (this.debounce !== null) clearTimeout(this.debounce);
        this.debounce = setTimeout(() => {
          this.debounce = null;
          this.trigger(false);
        }, WATCH_DEBOUNCE_MS);
      });
      this.watcher.on('error', (err) => {
        this.log.warn({ dir, err: err.message }, 'config watch failed: reload with SIGHUP');
        this.watcher?.close();
        this.watcher = null;
      });
      this.log.info({ file: path }, 'watching the config file; SIGHUP also reloads it');
    } catch (err) {
      this.log.warn({ dir, err: (err as Error).message }, 'cannot watch the config file: reload with SIGHUP');
    }
  }

  trigger(force: boolean): void {
    if (this.closed) return;
    if (this.running) {
      this.pending = { force: force || this.pending?.force === true };
      return;
    }
    this.running = true;
    this.run(force).catch((err: unknown) => {
      this.log.error({ file: this.file, err: err instanceof Error ? err.stack ?? err.message : String(err) }, 'reload failed');
    }).finally(() => {
      this.running = false;
      const next = this.pending;
      this.pending = null;
      if (next !== null) this.trigger(next.force);
    });
  }

  close(): void {
    this.closed = true;
    if (this.debounce !== null) clearTimeout(this.debounce);
    this.watcher?.close();
    this.watcher = null;
  }

  private async run(force: boolean): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      this.refused('FULCRUM_E_CONFIG_READ', [{ path: this.file, message: `cannot read the file: ${e.code ?? e.message} (FULCRUM_E_CONFIG_READ)` }]);
      this.lastText = null;
      return;
    }
    let parsed = parseConfigText(text, this.file);
    // A file caught mid-write (an editor or a tool truncating and rewriting it in place) does not
    // parse: read it again until two reads agree before calling it refused (bounded: 5 × 100 ms).
    for (let i = 0; i < 5 && !parsed.ok && (parsed.code === 'FULCRUM_E_CONFIG_READ' || text.trim() === ''); i++) {
      await new Promise((r) => setTimeout(r, 100));
      let again: string;
      try {
        again = await readFile(this.file, 'utf8');
      } catch {
        break;
      }
      if (again === text) break;
      text = again;
      parsed = parseConfigText(text, this.file);
    }
    if (!force && text === this.lastText) return;
    this.lastText = text;
    if (this.closed) return;
    if (!parsed.ok) {
      this.refused(parsed.code ?? 'FULCRUM_E_CONFIG_INVALID', parsed.problems);
      return;
    }
    const r = await this.rt.reload(parsed.config);
    if (!r.ok) {
      this.refused(r.code, r.problems);
      return;
    }
    for (const b of r.bound) process.stdout.write(`listener ${b.name} ${b.scheme ?? 'http'}://${fmtHost(b.host)}:${b.port}\n`);
    if (r.dns) process.stdout.write(`gslb dns://${fmtHost(r.dns.host)}:${r.dns.port}\n`);
    this.log.info({ file: this.file, generation: r.generation, summary: r.summary }, r.message);
  }

  /** `config refused: N problems (CODE)…`, then one entry per problem, `path: message` as `fulcrum validate` prints it. */
  private refused(code: string, problems: readonly Problem[]): void {
    const n = problems.length;
    this.log.error(
      { file: this.file, code, generation: this.rt.generation },
      `config refused: ${n} problem${n === 1 ? '' : 's'} (${code}); generation ${this.rt.generation} stays in service`,
    );
    for (const p of problems) this.log.error({ file: this.file, code, path: p.path }, `${p.path}: ${p.message}`);
  }
}

function fmtHost(h: string): string {
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
}

/**
 * The one line a failed start prints: a socket error (errno code) is a listen failure; anything else
 * is a problem with what the config names (an admin token variable that is not set, a file that
 * changed since validation), printed with its path and no stack trace.
 */
function startFailure(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof e?.code === 'string' && /^E[A-Z0-9]+$/.test(e.code)) return `fulcrum: cannot listen: ${message} (FULCRUM_E_LISTEN)\n`;
  return `fulcrum: cannot start: ${message} (FULCRUM_E_CONFIG_INVALID)\n`;
}
