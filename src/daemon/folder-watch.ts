import { statSync, watch, type FSWatcher } from 'node:fs';

/**
 * Watches the daemon's folders (active specs, check-ins, exit records, and the folders of task-queue.json
 * and worker-types.json) with one inotify watch each (node's fs.watch) and reports which accepted name
 * changed. A change only asks for a pass; the pass re-reads the truth, so a lost or merged event costs
 * latency, never correctness. A file replaced by rename (every writer here writes a temp file, then
 * renames it) is seen because the folder is watched, not the file.
 *
 * Why not chokidar: on every rename in a watched folder chokidar 5 re-reads the folder and lstats each
 * entry (readdirp), also for a single watched file (it watches the file's folder). Each check-in then
 * cost O(workers) of work, and each pass's own pm-state.json rename cost a rescan of coordination/: with
 * 100 idle workers that was most of the daemon's CPU. The daemon only needs to know that something changed.
 *
 * A folder that cannot be watched (missing, removed and re-created, inotify limit reached) is retried by
 * ensure(), which the daemon calls at every periodic tick; until then every tick's pass reads everything (see
 * PassScheduler: the reading of every file is otherwise paced).
 */
export interface WatchTarget {
  readonly folder: string;
  /** Which names in the folder matter (a null name, when inotify gives none, always does). */
  readonly accept: (name: string) => boolean;
}

export class FolderWatcher {
  private readonly watched = new Map<string, { watcher: FSWatcher; ino: number }>();
  private readonly failing = new Set<string>();
  private closed = false;

  constructor(
    private readonly targets: readonly WatchTarget[],
    private readonly onChange: (folder: string, name: string | null) => void,
    private readonly onError: (folder: string, error: unknown) => void,
  ) {}

  /**
   * Starts a watch on each folder that has none, or whose folder was replaced since. Never throws. Answers whether
   * every folder was watched already (steady): false when one was (re)started or cannot be watched, so that changes
   * made meanwhile may have gone unseen (the next pass must read everything).
   */
  ensure(): boolean {
    if (this.closed) return false;
    let steady = true;
    for (const { folder, accept } of this.targets) {
      let ino: number;
      try {
        ino = statSync(folder).ino;
      } catch (error) {
        this.unwatch(folder);
        this.fail(folder, error);
        steady = false;
        continue;
      }
      const current = this.watched.get(folder);
      if (current !== undefined && current.ino === ino) continue;
      steady = false;
      this.unwatch(folder);
      try {
        const watcher = watch(folder, { persistent: true }, (_event, name) => {
          const file = name === null ? null : String(name);
          if (file === null || accept(file)) this.onChange(folder, file);
        });
        watcher.on('error', (error) => {
          this.unwatch(folder);
          this.fail(folder, error);
        });
        this.watched.set(folder, { watcher, ino });
        this.failing.delete(folder);
        // A folder replaced between the stat and the watch: the next ensure() sees a new inode and re-watches;
        // a change made in that gap is seen by the pass that follows, which reads the folder itself.
      } catch (error) {
        this.fail(folder, error);
      }
    }
    return steady;
  }

  /** The folders being watched now. */
  folderNames(): string[] {
    return [...this.watched.keys()];
  }

  close(): void {
    this.closed = true;
    for (const folder of [...this.watched.keys()]) this.unwatch(folder);
  }

  private unwatch(folder: string): void {
    const current = this.watched.get(folder);
    if (current === undefined) return;
    this.watched.delete(folder);
    current.watcher.close();
  }

  /** Reported once until the folder is watched again, not on every retry. */
  private fail(folder: string, error: unknown): void {
    if (this.failing.has(folder)) return;
    this.failing.add(folder);
    this.onError(folder, error);
  }
}
