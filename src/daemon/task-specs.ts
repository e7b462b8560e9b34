import { nowIso } from '../contract/time.js';
import type { Task } from '../contract/task-queue.js';
import type { WorkerSpec } from '../contract/worker-spec.js';
import type { Action } from '../core/actions.js';
import { isValidId } from '../contract/ids.js';
import { describeError } from '../errors.js';
import type { EventInput } from '../store/activity-log.js';
import type { HomePaths } from '../store/home.js';
import { findArchivedSpec, findSpec, withSpecLock, writeSpec } from '../store/specs.js';
import { readTaskQueue, settleTask, updateTaskQueue } from '../store/tasks.js';
import { workerIdForTask } from '../core/dispatch.js';
import { mapInTurn } from './in-turn.js';
import type { FreshLaunches } from '../worker/fresh-launches.js';

/** How many new specs are written at once. */
const SPEC_WRITES_AT_ONCE = 8;

export type DispatchAction = Extract<Action, { kind: 'dispatch' }>;

/**
 * The spec a queued task becomes: pending, in active/, carrying the task's description, priority and metadata; with
 * `launchingRunId`, the token its first run will carry, recorded before it runs (worker/fresh-launches.ts).
 */
export function specForTask(task: Task, workerId: string, now: number, launchingRunId?: string): WorkerSpec {
  return {
    worker_id: workerId,
    worker_type: task.worker_type,
    task_id: task.task_id,
    status: 'pending',
    created_at: nowIso(now),
    task: { description: task.description, priority: task.priority, metadata: task.metadata },
    execution: { started_at: null, completed_at: null, pid: null, restart_count: 0, exit_code: null, signal: null, ...(launchingRunId === undefined ? {} : { launching_run_id: launchingRunId }) },
    error: null,
  };
}

/**
 * Turns queued tasks into pending specs, then marks them assigned in one queue update, in chunks (the first
 * SPEC_WRITES_AT_ONCE, then twice as many each time, up to four times that), so that the first workers can start while
 * the next specs are written: `onAssigned` hears each chunk's workers once their specs and tasks are written (a start
 * is CPU work in the daemon, a spec write mostly a wait on its fsync). A crash between the two writes leaves a spec
 * whose task is still queued; the next pass finds the spec and only assigns it. Returns the worker ids made ready.
 */
export async function createSpecsForTasks(
  paths: HomePaths,
  actions: readonly DispatchAction[],
  tasks: ReadonlyMap<string, Task>,
  now: number,
  emit: (events: EventInput[]) => void,
  onAssigned: (workerIds: readonly string[]) => void = () => undefined,
  freshLaunches?: FreshLaunches,
): Promise<string[]> {
  const ready: string[] = [];
  for (let from = 0, size = SPEC_WRITES_AT_ONCE; from < actions.length; from += size, size = Math.min(size * 2, SPEC_WRITES_AT_ONCE * 4)) {
    const assigned = await createChunk(paths, actions.slice(from, from + size), tasks, now, emit, freshLaunches);
    ready.push(...assigned);
    if (assigned.length > 0) onAssigned(assigned);
  }
  return ready;
}

async function createChunk(paths: HomePaths, actions: readonly DispatchAction[], tasks: ReadonlyMap<string, Task>, now: number, emit: (events: EventInput[]) => void, freshLaunches: FreshLaunches | undefined): Promise<string[]> {
  // Eight at once (each under its own spec lock): the specs' fsyncs overlap in the thread pool. Results and events
  // are kept in dispatch order.
  const outcomes = await mapInTurn(actions, SPEC_WRITES_AT_ONCE, async (action) => {
    const events: EventInput[] = [];
    const task = tasks.get(action.taskId);
    if (task === undefined) return { workerId: action.workerId, created: false, events };
    // One task that cannot become a spec never blocks the others.
    const created = await withSpecLock(paths, action.workerId, async () => {
      if (!isValidId(action.workerId)) return false;
      const existing = findSpec(paths, action.workerId);
      if (existing !== undefined) {
        if (!existing.ok || existing.spec.task_id !== task.task_id) return false;
        // A crash after the spec was written, before the task was marked: repair the task from the spec.
        if (existing.folder !== 'active') {
          await settleTask(paths, task.task_id, existing.folder === 'completed' ? 'completed' : 'failed', { completed_at: nowIso(now), error: existing.spec.error ?? null, worker_id: action.workerId });
          return false;
        }
        return true;
      }
      const token = freshLaunches?.issue(action.workerId);
      try {
        await writeSpec(paths, 'active', specForTask(task, action.workerId, now, token));
      } catch (error) {
        freshLaunches?.forget(action.workerId);
        throw error;
      }
      events.push({ event: 'worker_registered', worker_id: action.workerId, task_id: task.task_id, data: { worker_type: task.worker_type, priority: task.priority } });
      return true;
    }).catch((error: unknown) => {
      events.push({ event: 'daemon_error', task_id: task.task_id, data: { where: 'dispatch', error: describeError(error) } });
      return false;
    });
    return { workerId: action.workerId, created, events };
  });
  const ready = outcomes.filter((o) => o.created).map((o) => o.workerId);
  const events = outcomes.flatMap((o) => o.events);
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

/**
 * Repairs what a crash between two writes can leave (run at start and now and then): a task still queued
 * or assigned whose worker's spec already sits in completed/ or failed/ is settled (an assigned one whose
 * spec was archived by hand, as failed), and a queued task
 * whose spec is already in active/ is marked assigned. Each fix is idempotent. `active`: the workers whose
 * valid specs the daemon just read in active/; an assigned task of one of them is as it should be, and
 * its spec is not read again.
 */
export async function reconcileTasks(paths: HomePaths, now: number, active?: ReadonlySet<string>): Promise<number> {
  let queue;
  try {
    queue = readTaskQueue(paths);
  } catch {
    return 0;
  }
  let fixed = 0;
  for (const task of queue.tasks) {
    if (task.status !== 'queued' && task.status !== 'assigned') continue;
    const workerId = task.worker_id ?? workerIdForTask(task.task_id, task.worker_type);
    if (!isValidId(workerId)) continue;
    if (task.status === 'assigned' && active?.has(workerId) === true) continue;
    const found = findSpec(paths, workerId);
    if (found === undefined) {
      // Cleaned up by hand and archived (runbook B): the task failed with it.
      const archived = task.status === 'assigned' ? findArchivedSpec(paths, workerId) : undefined;
      if (archived === undefined || archived.task_id !== task.task_id) continue;
      await settleTask(paths, task.task_id, 'failed', { completed_at: archived.execution?.completed_at ?? nowIso(now), error: archived.error ?? 'its spec was archived', worker_id: workerId });
      fixed += 1;
      continue;
    }
    if (!found.ok || found.spec.task_id !== task.task_id) continue;
    if (found.folder === 'active') {
      if (task.status !== 'queued') continue;
      await updateTaskQueue(paths, (q) => {
        const t = q.tasks.find((x) => x.task_id === task.task_id);
        if (t === undefined || t.status !== 'queued') return;
        t.status = 'assigned';
        t.worker_id = workerId;
        t.assigned_at = nowIso(now);
      });
    } else {
      await settleTask(paths, task.task_id, found.folder, { completed_at: found.spec.execution?.completed_at ?? nowIso(now), error: found.spec.error ?? null, worker_id: workerId });
    }
    fixed += 1;
  }
  return fixed;
}
