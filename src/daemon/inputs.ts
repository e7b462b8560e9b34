import { loadWorkerTypes, type WorkerTypes } from '../config/load.js';
import type { Task } from '../contract/task-queue.js';
import type { QueuedTask } from '../core/dispatch.js';
import { limitsOf, type Limits } from '../core/limits.js';
import type { Logger } from '../log.js';
import type { HomePaths } from '../store/home.js';
import { readTaskQueue } from '../store/tasks.js';
import { WatchedFile } from './file-signature.js';

export interface QueueReading {
  readonly queued: QueuedTask[];
  readonly byId: Map<string, Task>;
}

/**
 * The two files a pass reads besides the workers': worker-types.json and task-queue.json, each re-read
 * only when it changed. A broken edit is reported; the last good worker types stay in force, and a
 * broken queue dispatches nothing until it is fixed.
 */
export class PassInputs {
  private types: WorkerTypes;
  private typeLimits: Record<string, Limits> = {};
  private readonly typesFile: WatchedFile;
  private readonly queueFile: WatchedFile;
  private queue: QueueReading = { queued: [], byId: new Map() };

  constructor(
    private readonly paths: HomePaths,
    private readonly logger: Logger,
    private readonly reportError: (where: string, error: unknown) => void,
  ) {
    this.typesFile = new WatchedFile(paths.workerTypes);
    this.queueFile = new WatchedFile(paths.taskQueue);
    this.typesFile.changed();
    this.types = loadWorkerTypes(paths);
    this.noteTypes();
  }

  get workerTypes(): WorkerTypes {
    return this.types;
  }

  get limits(): Readonly<Record<string, Limits>> {
    return this.typeLimits;
  }

  /** worker-types.json is re-read when it changes; a broken edit is reported and the last good one stays in force. */
  reloadWorkerTypesIfChanged(): void {
    if (!this.typesFile.changed()) return;
    try {
      this.types = loadWorkerTypes(this.paths);
      this.noteTypes();
      this.logger.info({ worker_types: Object.keys(this.types.types) }, 'worker-types.json reloaded');
    } catch (error) {
      this.reportError('reload worker-types.json (keeping the last good one)', error);
    }
  }

  /** Queued tasks, re-read only when task-queue.json changed. A broken queue is reported and skipped. */
  readQueue(): QueueReading {
    if (!this.queueFile.changed()) return this.queue;
    try {
      const queuedTasks = readTaskQueue(this.paths).tasks.filter((t) => t.status === 'queued');
      this.queue = {
        queued: queuedTasks.map((t) => ({ taskId: t.task_id, priority: t.priority, createdAt: t.created_at, workerType: t.worker_type })),
        byId: new Map(queuedTasks.map((t) => [t.task_id, t])),
      };
    } catch (error) {
      this.reportError('read task-queue.json', error);
      this.queue = { queued: [], byId: new Map() };
    }
    return this.queue;
  }

  /** The daemon changed the queue itself (dispatch): read it again next time. */
  forgetQueue(): void {
    this.queueFile.forget();
  }

  private noteTypes(): void {
    this.typeLimits = Object.fromEntries(Object.entries(this.types.types).map(([name, type]) => [name, limitsOf(type)]));
  }
}
