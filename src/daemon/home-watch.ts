import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { isValidId } from '../contract/ids.js';
import type { HomePaths } from '../store/home.js';
import { FolderWatcher } from './folder-watch.js';
import type { Observation } from './observation.js';
import type { Observer } from './observer.js';
import type { PassScheduler } from './scheduler.js';

/** How long a shim seen alive after writing its exit record is given before the next look, and how many looks. */
const EXIT_RECHECK_MS = 20;
const EXIT_RECHECKS = 50;

const json = (name: string): boolean => name.endsWith('.json');
const idOf = (name: string): string => name.slice(0, -'.json'.length);
const only = (file: string) => {
  const name = basename(file);
  return (n: string): boolean => n === name;
};

/**
 * What the daemon reacts to between passes: active/, worker-checkins/, worker-exits/, and the folders of
 * task-queue.json and worker-types.json (filtered by name; writers put a temp file, then rename it to
 * *.json). Each change is turned into the right request for a pass (see PassScheduler.request): an event
 * is a hint, the pass re-reads the truth.
 */
export class HomeWatch {
  private watcher: FolderWatcher | undefined;
  /** How often each worker whose exit record appeared was still alive when looked at (its shim writes the record, then exits). */
  private readonly exitRechecks = new Map<string, number>();

  constructor(
    private readonly paths: HomePaths,
    private readonly observer: Observer,
    private readonly scheduler: PassScheduler,
    private readonly reportError: (where: string, error: unknown) => void,
    /**
     * Whether the worker's shim is the daemon's own child, still running, whose exit will be reported: that exit (which
     * the daemon turns into a pass) comes right after its record, and a pass asked for by the record would find the
     * shim alive.
     */
    private readonly endReported: (workerId: string) => boolean = () => false,
  ) {}

  start(): void {
    const paths = this.paths;
    this.watcher = new FolderWatcher(
      [
        { folder: paths.specDir('active'), accept: json },
        { folder: paths.checkins, accept: json },
        { folder: paths.exits, accept: json },
        // task-queue.json and dispatch-pauses.json share coordination/ (one watch per folder).
        { folder: dirname(paths.taskQueue), accept: (n) => only(paths.taskQueue)(n) || only(paths.dispatchPauses)(n) },
        { folder: dirname(paths.workerTypes), accept: only(paths.workerTypes) },
      ],
      (folder, name) => {
        if (folder === paths.checkins) this.checkinChanged(name === null ? null : idOf(name));
        else if (folder === paths.exits && name !== null) this.exitRecordChanged(idOf(name));
        else this.scheduler.request();
      },
      (folder, error) => this.reportError(`watch ${folder} (the timed passes still see its changes)`, error),
    );
    this.watcher.ensure();
  }

  /** Re-establishes the watch on a folder that was replaced (at each periodic tick); false unless every folder was watched already. */
  ensure(): boolean {
    return this.watcher?.ensure() ?? false;
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  /**
   * An exit record names a worker whose shim is about to exit: if the pass saw it still alive, look
   * again shortly (every 20 ms, up to 1 s), rather than leave the end to the next timed pass. This
   * matters for adopted workers, whose exit no child event announces.
   */
  recheckExits(exits: ReadonlySet<string>, observation: Observation): void {
    if (exits.size === 0) return;
    const alive = new Set(observation.workers.filter((w) => exits.has(w.view.workerId) && w.view.process === 'alive').map((w) => w.view.workerId));
    const again: string[] = [];
    for (const id of exits) {
      const tries = (this.exitRechecks.get(id) ?? 0) + 1;
      if (!alive.has(id) || tries > EXIT_RECHECKS || !existsSync(this.paths.exitFile(id))) {
        this.exitRechecks.delete(id);
        continue;
      }
      this.exitRechecks.set(id, tries);
      again.push(id);
    }
    this.scheduler.recheckExits(again, EXIT_RECHECK_MS);
  }

  /** An exit record was written (a shim is ending) or removed (by the daemon or a command: nothing to see). */
  private exitRecordChanged(workerId: string): void {
    if (!isValidId(workerId) || this.endReported(workerId) || !existsSync(this.paths.exitFile(workerId))) return;
    this.scheduler.request({ processEnded: true, exits: [workerId] });
  }

  /** A check-in file changed (null: some, unnamed): read it now, so none is missed between batched passes, then ask lazily. */
  private checkinChanged(workerId: string | null): void {
    if (workerId === null) return this.scheduler.request({ lazy: true });
    if (!this.observer.readCheckinNow(workerId)) this.scheduler.wantFull();
    this.scheduler.request({ lazy: true, checkins: [workerId] });
  }
}
