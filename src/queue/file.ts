import type { HomePaths } from '../store/home.js';
import { enqueueTasks } from '../store/task-batch.js';
import type { QueuedWhere, TaskQueueBackend } from './backend.js';

/** task-queue.json: a task with an id already in the file is not queued again. */
export function fileTaskQueue(paths: HomePaths): TaskQueueBackend {
  const where: QueuedWhere = { backend: 'file', queue: paths.taskQueue };
  const enqueueMany: TaskQueueBackend['enqueueMany'] = async (tasks, options) => (await enqueueTasks(paths, tasks, options)).map((r) => ({ ...r, where }));
  return {
    kind: 'file',
    enqueueMany,
    async enqueue(task) {
      const [result] = await enqueueMany([task]);
      if (result === undefined) throw new Error('enqueueTasks returned no result');
      return result;
    },
    async close() {},
  };
}
