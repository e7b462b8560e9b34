import { parseJsonWith } from '../contract/parse.js';
import { taskQueueSchema, type Task, type TaskQueue } from '../contract/task-queue.js';
import { readTextIfExists, writeJsonAtomic } from './atomic.js';
import type { HomePaths } from './home.js';
import { TASK_QUEUE_LOCK, withLock } from './lock.js';

export function readTaskQueue(paths: HomePaths): TaskQueue {
  const text = readTextIfExists(paths.taskQueue);
  if (text === undefined || text.trim() === '') return { tasks: [] };
  return parseJsonWith(taskQueueSchema, text, paths.taskQueue);
}

/** Read-modify-write of task-queue.json under its lock; fn returns the value to hand back. */
export async function updateTaskQueue<T>(paths: HomePaths, fn: (queue: TaskQueue) => T): Promise<T> {
  return withLock(paths, TASK_QUEUE_LOCK, async () => {
    const queue = readTaskQueue(paths);
    const result = fn(queue);
    await writeJsonAtomic(paths.taskQueue, queue);
    return result;
  });
}

export { buildTask, newTaskId, type NewTask } from './task-batch.js';

export async function enqueueTask(paths: HomePaths, task: Task): Promise<Task> {
  await updateTaskQueue(paths, (queue) => {
    queue.tasks.push(task);
  });
  return task;
}

export interface SettleFields {
  readonly completed_at: string;
  readonly error?: string | null;
  /** The worker that ran it: filled in when the task does not name one yet (it was settled before it was marked assigned). */
  readonly worker_id?: string | null;
}

/**
 * Marks a task completed or failed under the queue lock. A null or unknown task id, or a task already
 * settled, is left as it is; returns whether the task changed.
 */
export async function settleTask(paths: HomePaths, taskId: string | null | undefined, status: 'completed' | 'failed', fields: SettleFields): Promise<boolean> {
  if (taskId === null || taskId === undefined) return false;
  return withLock(paths, TASK_QUEUE_LOCK, async () => {
    const queue = readTaskQueue(paths);
    const task = queue.tasks.find((t) => t.task_id === taskId);
    if (task === undefined || task.status === 'completed' || task.status === 'failed' || task.status === 'cancelled') return false;
    task.status = status;
    task.completed_at = fields.completed_at;
    if ((task.worker_id ?? null) === null && fields.worker_id) {
      task.worker_id = fields.worker_id;
      task.assigned_at ??= fields.completed_at;
    }
    task.error = status === 'failed' ? (fields.error ?? null) : null;
    await writeJsonAtomic(paths.taskQueue, queue);
    return true;
  });
}
