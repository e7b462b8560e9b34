import type { Task } from '../contract/task-queue.js';
import type { PassPlan } from '../core/decide.js';
import { applyAction, runDeferred, type ApplyContext } from './apply.js';
import { InTurn } from './in-turn.js';
import { createSpecsForTasks, type DispatchAction } from './task-specs.js';

/** How many of a pass's new workers are being started at once. */
const START_CONCURRENCY = 4;

/**
 * Applies a pass's plan: each action in order (a failure is reported and the rest go on), then the
 * dispatches in a few batches (new specs, one queue update each), each new worker started once its batch is written. Returns whether the
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
  // A few at once, in dispatch order: each start waits on its lock and writes between its synchronous spawn, and those
  // waits overlap the next starts' work. Each start holds its own worker's spec lock. They begin as soon as the first
  // specs are written (createSpecsForTasks's chunks): the later specs' fsyncs overlap the first starts.
  const starts = new InTurn<string>(START_CONCURRENCY, (workerId) => applyAction(ctx, { kind: 'start', workerId, restart: false }).catch((error: unknown) => reportError(`start ${workerId}`, error, workerId)));
  try {
    await createSpecsForTasks(ctx.paths, dispatches, tasks, ctx.clock.wallNow(), (events) => ctx.emit(events), (ready) => starts.push(ready), ctx.lifecycle().freshLaunches);
  } catch (error) {
    reportError('dispatch', error);
  }
  await starts.done();
  return true;
}
