import type { WorkerType } from '../contract/worker-types.js';
import { dropStandby, type Standby } from '../process/spawn.js';

/** Whether a type's next start is known in advance, so a standby can be made for it: no resume_command, no workspace. */
export const standbyFits = (type: WorkerType): boolean => type.resume_command === undefined && type.workspace === undefined;

/**
 * The daemon's standbys (src/process/spawn.ts spawnStandby): at most one per worker, for its next run. A worker
 * gets one once it has restarted (a worker that restarts is the one whose next restart is likely, and near), so a
 * fleet that runs steadily costs no second process per worker. One taken is the caller's: it runs it or drops it.
 */
export class Standbys {
  private readonly byWorker = new Map<string, Standby>();

  has(workerId: string): boolean {
    return this.byWorker.has(workerId);
  }

  get size(): number {
    return this.byWorker.size;
  }

  add(standby: Standby): void {
    const previous = this.byWorker.get(standby.workerId);
    if (previous !== undefined) dropStandby(previous);
    this.byWorker.set(standby.workerId, standby);
    // One that ends by itself (a signal from outside) is forgotten.
    standby.child.once('exit', () => {
      if (this.byWorker.get(standby.workerId) === standby) this.byWorker.delete(standby.workerId);
    });
  }

  /** The worker's standby, now the caller's (no longer in the pool). */
  take(workerId: string): Standby | undefined {
    const standby = this.byWorker.get(workerId);
    if (standby !== undefined) this.byWorker.delete(workerId);
    return standby;
  }

  /** Drops the standbys of every worker `keep` says no to. */
  retain(keep: (workerId: string) => boolean): void {
    for (const [id, standby] of this.byWorker) {
      if (!keep(id)) {
        this.byWorker.delete(id);
        dropStandby(standby);
      }
    }
  }

  dropAll(): void {
    this.retain(() => false);
  }
}
