import { nowIso } from '../contract/time.js';
import type { WorkerSpec } from '../contract/worker-spec.js';
import { describeError } from '../errors.js';
import type { EventInput } from '../store/activity-log.js';
import { removeExitRecord } from '../store/exits.js';
import { finalizeSpec } from '../store/specs.js';
import { settleTask } from '../store/tasks.js';
import { clock, type SettleContext } from './context.js';
import { emitEvents, workerEvent } from './events.js';

/**
 * The lock rule, stated once and followed by every writer (daemon, commands, zombie cleanup):
 *
 * 1. A spec is read, re-checked and written under its `spec-<id>` lock; a final spec (completed or
 *    failed) is written in place and moved out of `active/` there, and its exit record removed.
 * 2. Its task is settled in `task-queue.json` after that lock is released: never both locks at once, so a
 *    busy queue never holds a worker's lock and a broken queue never undoes a worker's change. A crash
 *    in between leaves a finished spec with an unsettled task, which `reconcileTasks` repairs.
 * 3. The events are appended last, once both changes are made.
 */

/** Step 1, under the caller's spec lock: the final spec to its folder, the run's exit record removed. Returns where it is now. */
export async function finalizeLocked(ctx: SettleContext, final: WorkerSpec): Promise<string> {
  const folder = final.status === 'completed' ? 'completed' : 'failed';
  const file = await finalizeSpec(ctx.paths, final, 'active', folder);
  removeExitRecord(ctx.paths, final.worker_id);
  return file;
}

/**
 * Steps 2 and 3, after the lock: the task of a final spec is settled as it ended, then the worker's
 * events are emitted, followed by the task's (task_completed / task_failed, or task_settle_failed).
 */
export async function settleAfterLock(ctx: SettleContext, final: WorkerSpec, workerEvents: readonly EventInput[]): Promise<void> {
  // A finished worker starts no more: a launch token the daemon issued for it is forgotten.
  if (final.status === 'completed' || final.status === 'failed') ctx.freshLaunches?.forget(final.worker_id);
  emitEvents(ctx, [...workerEvents, ...(await settleTaskOf(ctx, final))]);
}

/** Settles the task of a final spec; returns the events saying so. A broken or locked queue is reported, not thrown. */
async function settleTaskOf(ctx: SettleContext, final: WorkerSpec): Promise<EventInput[]> {
  const taskId = final.task_id;
  if (taskId === null || (final.status !== 'completed' && final.status !== 'failed')) return [];
  // A task of the shared (redis) queue: its job is settled by the daemon that holds it (src/fleet/leases.ts).
  if (final.lease !== undefined) return [];
  const status = final.status;
  const error = status === 'failed' ? (final.error ?? null) : null;
  let settled: boolean;
  try {
    settled = await settleTask(ctx.paths, taskId, status, { completed_at: final.execution?.completed_at ?? nowIso(clock(ctx)), error, worker_id: final.worker_id });
  } catch (settleError) {
    return [workerEvent('task_settle_failed', final, { status, reason: describeError(settleError) })];
  }
  if (!settled) return [];
  return [workerEvent(status === 'completed' ? 'task_completed' : 'task_failed', final, error === null ? {} : { error })];
}
