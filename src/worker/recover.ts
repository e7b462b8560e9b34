import { nowIso } from '../contract/time.js';
import type { Priority } from '../contract/task-queue.js';
import { RelayError } from '../errors.js';
import { appendEvent } from '../store/activity-log.js';
import { requireSpec } from '../store/specs.js';
import { buildTask } from '../store/tasks.js';
import type { QueueSettings } from '../config/load.js';
import { openTaskQueue } from '../queue/backend.js';
import { clock, type LifecycleContext } from './context.js';

/**
 * Queues a new task from a failed worker's spec (in failed/): same description and worker type,
 * metadata {retry_of, recovered_from}. The runbook's "recover task" in one step. Returns the new task id.
 */
/** `queueSettings`: where the new task goes (default task-queue.json). */
export async function recoverTask(ctx: LifecycleContext, workerId: string, priority: Priority = 'high', queueSettings?: QueueSettings | { backend: 'file' }): Promise<string> {
  const spec = requireSpec(ctx.paths, 'failed', workerId);
  const description = spec.task.description.trim();
  if (description === '') throw new RelayError('WRONG_STATE', `worker "${workerId}" has an empty task.description: nothing to recover`);
  ctx.workerTypes.get(spec.worker_type);
  const now = clock(ctx);
  const metadata = { retry_of: spec.task_id, recovered_from: workerId };
  const backend = await openTaskQueue(ctx.paths, queueSettings ?? { backend: 'file' });
  let task;
  try {
    ({ task } = await backend.enqueue(buildTask({ description, priority, workerType: spec.worker_type, metadata }, now)));
  } finally {
    await backend.close();
  }
  const timestamp = nowIso(now);
  appendEvent(ctx.paths, { event: 'task_created', task_id: task.task_id, timestamp, data: { priority, worker_type: task.worker_type, description, metadata } });
  appendEvent(ctx.paths, { event: 'worker_recovered', worker_id: workerId, task_id: task.task_id, timestamp, data: { retry_of: spec.task_id, new_task_id: task.task_id } });
  return task.task_id;
}
