import type { QueueSettings } from '../config/load.js';
import type { Priority, Task } from '../contract/task-queue.js';
import type { HomePaths } from '../store/home.js';
import type { EnqueueOptions } from '../store/task-batch.js';

/** Where a queued task went, for `create-task --json`. */
export interface QueuedWhere {
  readonly backend: 'file' | 'redis';
  /** task-queue.json's path, or the BullMQ queue's name. */
  readonly queue: string;
  /** The BullMQ job id (the task id), with redis. */
  readonly job_id?: string;
  readonly redis_url?: string;
}

export interface EnqueueResult {
  /** The task as queued: for a repeated create, the one queued first. */
  readonly task: Task;
  /** False when a task with this id was already queued (the repeat is not a second task). */
  readonly created: boolean;
  readonly where: QueuedWhere;
}

/**
 * Where create-task and recover-task put a task: task-queue.json (the default; the daemon dispatches from
 * it) or a BullMQ queue on Redis that a fleet of daemons takes jobs from (src/fleet/leases.ts).
 */
export interface TaskQueueBackend {
  readonly kind: 'file' | 'redis';
  enqueue(task: Task): Promise<EnqueueResult>;
  /** Several tasks, in order: the file backend in one locked write; redis one job after another. */
  enqueueMany(tasks: readonly Task[], options?: EnqueueOptions): Promise<EnqueueResult[]>;
  close(): Promise<void>;
}

/** BullMQ priorities: 1 is the highest; every task has one, so all jobs sit in one ordered set. */
export const BULLMQ_PRIORITY: Record<Priority, number> = { critical: 1, high: 2, medium: 3, low: 4 };

/** The backend the home's settings choose. The redis one is loaded only when used (bullmq is large). */
export async function openTaskQueue(paths: HomePaths, settings: QueueSettings | { backend: 'file' }): Promise<TaskQueueBackend> {
  if (settings.backend === 'redis') {
    const { openRedisTaskQueue } = await import('./redis.js');
    return openRedisTaskQueue(settings);
  }
  const { fileTaskQueue } = await import('./file.js');
  return fileTaskQueue(paths);
}
