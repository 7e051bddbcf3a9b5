/**
 * Watches certificate files for changes (inotify through fs.watch) and calls back once the burst of
 * events of one rotation has settled. The parent directories are watched, not the files, so a file
 * replaced by rename (`mv new.crt site.crt`, certbot, a Kubernetes secret's `..data` symlink swap)
 * is seen as well as one rewritten in place. The callback compares contents itself: an event is a
 * hint, not a proof of change.
 */
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';

/** Quiet time after the last event before the callback runs (a cert and its key are often written one after the other). */
export const SETTLE_MS = 200;

export class FileWatch {
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  /** `onError` hears of a directory that cannot be watched (the files are then read on config reload only). */
  constructor(files: readonly string[], onChange: () => void, onError: (dir: string, err: Error) => void) {
    const fire = (): void => {
      if (this.closed) return;
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = null;
        if (!this.closed) onChange();
      }, SETTLE_MS);
      this.timer.unref();
    };
    for (const dir of new Set(files.map((f) => dirname(f)))) {
      try {
        const w = watch(dir, { persistent: false }, fire);
        w.on('error', (err) => onError(dir, err));
        this.watchers.push(w);
      } catch (err) {
        onError(dir, err as Error);
      }
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    for (const w of this.watchers) w.close();
    this.watchers.length = 0;
  }
}
