import type { HomePaths } from '../store/home.js';
import { updateTaskQueue } from '../store/tasks.js';
import type { TaskQueueBackend } from './backend.js';

/** task-queue.json: a task with an id already in the file is not queued again. */
export function fileTaskQueue(paths: HomePaths): TaskQueueBackend {
  return {
    kind: 'file',
    async enqueue(task) {
      const existing = await updateTaskQueue(paths, (queue) => {
        const found = queue.tasks.find((t) => t.task_id === task.task_id);
        if (found === undefined) queue.tasks.push(task);
        return found;
      });
      return { task: existing ?? task, created: existing === undefined, where: { backend: 'file', queue: paths.taskQueue } };
    },
    async close() {},
  };
}
