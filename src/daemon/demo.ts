import type { WorkerTypes } from '../config/load.js';
import { appendEvents } from '../store/activity-log.js';
import type { HomePaths } from '../store/home.js';
import { buildTask, readTaskQueue, updateTaskQueue } from '../store/tasks.js';

/**
 * The newcomer's first run: one task that finishes, one that crashes once and recovers, one that hangs, and
 * (with a `demo-agent` type) an agent that hits its usage limit once and resumes its session after the reset.
 */
export const DEMO_TASKS = [
  { description: 'Demo: summarise the README', priority: 'high', workerType: 'demo' },
  { description: 'Demo: flaky build that crashes on its first run [crash-once]', priority: 'medium', workerType: 'demo' },
  { description: 'Demo: a worker that hangs in silence [hang]', priority: 'medium', workerType: 'demo' },
  { description: 'Demo: an agent that hits its usage limit once, then resumes its session [rate-limit-once]', priority: 'medium', workerType: 'demo-agent' },
] as const;

/** Queues the demo tasks when the home has a `demo` worker type and its queue has never held a task. Returns how many. */
export async function seedDemoTasks(paths: HomePaths, types: WorkerTypes): Promise<number> {
  if (types.types.demo === undefined) return 0;
  if (readTaskQueue(paths).tasks.length > 0) return 0;
  const tasks = await updateTaskQueue(paths, (queue) => {
    if (queue.tasks.length > 0) return [];
    const now = Date.now();
    const created = DEMO_TASKS.filter((t) => types.types[t.workerType] !== undefined).map((t, i) => buildTask({ description: t.description, priority: t.priority, workerType: t.workerType, metadata: { demo: true } }, now + i));
    queue.tasks.push(...created);
    return created;
  });
  appendEvents(
    paths,
    tasks.map((t) => ({ event: 'task_created', task_id: t.task_id, data: { priority: t.priority, worker_type: t.worker_type, description: t.description, source: 'demo' } })),
  );
  return tasks.length;
}
