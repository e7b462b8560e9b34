import { nowIso } from '../contract/time.js';
import type { Task } from '../contract/task-queue.js';
import type { WorkerSpec } from '../contract/worker-spec.js';
import type { Action } from '../core/actions.js';
import { isValidId } from '../contract/ids.js';
import { describeError } from '../errors.js';
import type { EventInput } from '../store/activity-log.js';
import type { HomePaths } from '../store/home.js';
import { findSpec, withSpecLock, writeSpec } from '../store/specs.js';
import { settleTask, updateTaskQueue } from '../store/tasks.js';

export type DispatchAction = Extract<Action, { kind: 'dispatch' }>;

/** The spec a queued task becomes: pending, in active/, carrying the task's description, priority and metadata. */
export function specForTask(task: Task, workerId: string, now: number): WorkerSpec {
  return {
    worker_id: workerId,
    worker_type: task.worker_type,
    task_id: task.task_id,
    status: 'pending',
    created_at: nowIso(now),
    task: { description: task.description, priority: task.priority, metadata: task.metadata },
    execution: { started_at: null, completed_at: null, pid: null, restart_count: 0, exit_code: null, signal: null },
    error: null,
  };
}

/**
 * Turns queued tasks into pending specs, then marks them assigned in one queue update. A crash between
 * the two leaves a spec whose task is still queued; the next pass finds the spec and only assigns it.
 * Returns the worker ids now ready to start.
 */
export async function createSpecsForTasks(paths: HomePaths, actions: readonly DispatchAction[], tasks: ReadonlyMap<string, Task>, now: number, emit: (events: EventInput[]) => void): Promise<string[]> {
  const ready: string[] = [];
  const events: EventInput[] = [];
  for (const action of actions) {
    const task = tasks.get(action.taskId);
    if (task === undefined) continue;
    // One task that cannot become a spec never blocks the others.
    const created = await withSpecLock(paths, action.workerId, async () => {
      if (!isValidId(action.workerId)) return false;
      const existing = findSpec(paths, action.workerId);
      if (existing !== undefined) {
        if (!existing.ok || existing.spec.task_id !== task.task_id) return false;
        // A crash after the spec was written, before the task was marked: repair the task from the spec.
        if (existing.folder !== 'active') {
          await settleTask(paths, task.task_id, existing.folder === 'completed' ? 'completed' : 'failed', { completed_at: nowIso(now), error: existing.spec.error ?? null });
          return false;
        }
        return true;
      }
      await writeSpec(paths, 'active', specForTask(task, action.workerId, now));
      events.push({ event: 'worker_registered', worker_id: action.workerId, task_id: task.task_id, data: { worker_type: task.worker_type, priority: task.priority } });
      return true;
    }).catch((error: unknown) => {
      events.push({ event: 'daemon_error', task_id: task.task_id, data: { where: 'dispatch', error: describeError(error) } });
      return false;
    });
    if (created) ready.push(action.workerId);
  }
  if (ready.length === 0) {
    emit(events);
    return ready;
  }
  const byWorker = new Map(actions.map((a) => [a.workerId, a.taskId]));
  const assigned = new Set<string>();
  await updateTaskQueue(paths, (queue) => {
    for (const workerId of ready) {
      const taskId = byWorker.get(workerId);
      const task = queue.tasks.find((t) => t.task_id === taskId);
      if (task === undefined || task.status !== 'queued') continue;
      task.status = 'assigned';
      task.worker_id = workerId;
      task.assigned_at = nowIso(now);
      assigned.add(workerId);
    }
  });
  for (const workerId of ready) {
    if (assigned.has(workerId)) events.push({ event: 'task_assigned', worker_id: workerId, task_id: byWorker.get(workerId) ?? null, data: {} });
  }
  emit(events);
  return ready.filter((id) => assigned.has(id));
}
