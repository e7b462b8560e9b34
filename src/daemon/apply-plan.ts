import type { Task } from '../contract/task-queue.js';
import type { PassPlan } from '../core/decide.js';
import { applyAction, runDeferred, type ApplyContext } from './apply.js';
import { createSpecsForTasks, type DispatchAction } from './task-specs.js';

/** How many of a pass's new workers are being started at once. */
const START_CONCURRENCY = 4;

/**
 * Applies a pass's plan: each action in order (a failure is reported and the rest go on), then the
 * dispatches as one batch (new specs, one queue update), each new worker started. Returns whether the
 * queue was changed (the caller reads it again next pass). The background work the actions deferred starts last.
 */
export async function applyPlan(
  ctx: ApplyContext,
  plan: PassPlan,
  tasks: ReadonlyMap<string, Task>,
  reportError: (where: string, error: unknown, workerId?: string) => void,
): Promise<boolean> {
  try {
    return await applyActions(ctx, plan, tasks, reportError);
  } finally {
    runDeferred(ctx);
  }
}

async function applyActions(ctx: ApplyContext, plan: PassPlan, tasks: ReadonlyMap<string, Task>, reportError: (where: string, error: unknown, workerId?: string) => void): Promise<boolean> {
  const dispatches: DispatchAction[] = [];
  for (const action of plan.actions) {
    if (action.kind === 'dispatch') dispatches.push(action);
    else if (action.kind === 'pause_provider') await applyAction(ctx, action).catch((error: unknown) => reportError(`pause provider ${action.provider}`, error));
    else await applyAction(ctx, action).catch((error: unknown) => reportError(`${action.kind} ${action.workerId}`, error, action.workerId));
  }
  if (dispatches.length === 0) return false;
  try {
    const ready = await createSpecsForTasks(ctx.paths, dispatches, tasks, ctx.clock.wallNow(), (events) => ctx.emit(events));
    // A few at once, in dispatch order: each start waits on its lock and writes between its synchronous spawn,
    // and those waits overlap the next starts' work. Each start holds its own worker's spec lock.
    let next = 0;
    const startNext = async (): Promise<void> => {
      while (next < ready.length) {
        const workerId = ready[next] as string;
        next += 1;
        await applyAction(ctx, { kind: 'start', workerId, restart: false }).catch((error: unknown) => reportError(`start ${workerId}`, error, workerId));
      }
    };
    await Promise.all(Array.from({ length: Math.min(START_CONCURRENCY, ready.length) }, startNext));
  } catch (error) {
    reportError('dispatch', error);
  }
  return true;
}
