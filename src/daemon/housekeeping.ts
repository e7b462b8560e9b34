import type { WorkerTypes } from '../config/load.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../log.js';
import type { EventInput } from '../store/activity-log.js';
import type { HomePaths } from '../store/home.js';
import { removeStaleTempFiles } from '../store/temp-files.js';
import type { Observation } from './observer.js';
import { OutboxRecovery } from './outbox-recovery.js';
import { reconcileTasks } from './task-specs.js';

export interface HousekeepingDeps {
  readonly paths: HomePaths;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly workerTypes: () => WorkerTypes;
  emit(events: readonly EventInput[]): void;
  reportError(where: string, error: unknown): void;
}

/**
 * The daemon's slow housekeeping, at its start and now and then after a periodic or full pass: tasks a crash left
 * unsettled (every 12th: a minute at the default interval), the events a killed writer left
 * unlogged (the first and every 12th after), leftover temp files (every 60th). None
 * of it is ever fatal: a failure is reported and the daemon goes on.
 */
export class Housekeeping {
  private slowPasses = 0;
  private readonly outbox: OutboxRecovery;

  constructor(private readonly deps: HousekeepingDeps) {
    this.outbox = new OutboxRecovery(deps.paths, deps.logger, (events) => deps.emit(events));
  }

  async atStart(): Promise<void> {
    await this.reconcile();
    this.removeStaleTempFiles();
  }

  async afterSlowPass(observation: Observation): Promise<void> {
    this.slowPasses += 1;
    if (this.slowPasses % 12 === 0) await this.reconcile(new Set(observation.workers.map((w) => w.spec.worker_id)));
    if (this.slowPasses % 12 === 1) {
      try {
        this.outbox.recover(
          observation.workers.map((w) => w.spec),
          this.deps.clock.wallNow(),
        );
      } catch (error) {
        this.deps.reportError('log the events a killed writer left', error);
      }
    }
    if (this.slowPasses % 60 === 0) this.removeStaleTempFiles();
  }

  /** Temp files a killed writer left (older than STALE_TEMP_MS: never a live write's) are removed, one event each. */
  private removeStaleTempFiles(): void {
    try {
      const { removed, failed } = removeStaleTempFiles(this.deps.paths, this.deps.clock.wallNow());
      this.deps.emit(removed.map((t) => ({ event: 'temp_file_removed', data: { file: t.file, of: t.of, age_seconds: Math.round(t.ageMs / 1000) } })));
      for (const { temp, error } of failed) this.deps.reportError(`remove the leftover temp file ${temp.file}`, error);
    } catch (error) {
      this.deps.reportError('look for leftover temp files', error);
    }
  }

  /** Settles tasks a crash left behind (see reconcileTasks). */
  private async reconcile(active?: ReadonlySet<string>): Promise<void> {
    try {
      const fixed = await reconcileTasks(this.deps.paths, this.deps.clock.wallNow(), active);
      if (fixed > 0) this.deps.logger.info({ fixed }, 'tasks reconciled with their specs');
    } catch (error) {
      this.deps.reportError('reconcile tasks', error);
    }
  }
}
