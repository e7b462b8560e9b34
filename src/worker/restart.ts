import { normalizeExecution } from '../contract/worker-spec.js';
import { toPending } from '../core/transitions.js';
import { RelayError } from '../errors.js';
import type { SpawnResult } from '../process/spawn.js';
import { requireActiveSpec } from './active-spec.js';
import { nowIso } from '../contract/time.js';
import { clock, type LifecycleContext } from './context.js';
import { workerEvent } from './events.js';
import { stampEvents, withOutbox } from './outbox.js';
import { assertNotBeingFailed, assertStartable, startLocked, withStartLock } from './start.js';
import { stopRun } from './stop.js';

export interface RestartOptions {
  readonly keepChild?: boolean;
}

/**
 * Stops the worker if it runs, then starts a new run at once under the spec lock (so nothing else can
 * start it in between): the runbook's "kill, reset to pending, start-worker" in one safe step.
 * restart_count is left as it is: it counts the daemon's automatic restarts, which max_restarts limits.
 * A worker held by stop-worker is started again, its hold cleared (toRunning).
 */
export async function restartWorker(ctx: LifecycleContext, workerId: string, options: RestartOptions = {}): Promise<SpawnResult> {
  const spec = requireActiveSpec(ctx, workerId);
  if (spec.status !== 'running' && spec.status !== 'pending') {
    throw new RelayError('WRONG_STATE', `worker "${workerId}" has status ${spec.status} in active/: only a pending or running worker can be restarted`);
  }
  // Never signal a run that fail-worker is taking down.
  assertNotBeingFailed(spec);
  const outcome = await stopRun(ctx, spec);
  const previous = { previous_pid: spec.execution?.pid ?? null, previous_run_id: spec.execution?.run_id ?? null, stop_outcome: outcome };
  const killed = outcome === 'terminated' || outcome === 'killed' ? [workerEvent('worker_killed', spec, { reason: 'restart', outcome, pid: previous.previous_pid, run_id: previous.previous_run_id })] : [];
  return withStartLock(ctx, workerId, async () => {
    const current = requireActiveSpec(ctx, workerId);
    assertStartable(current);
    // The stop and the restart are logged with the launch record (worker/outbox.ts): once, even if this command is killed.
    const at = nowIso(clock(ctx));
    const events = stampEvents([...killed, workerEvent('worker_restarted', current, { ...previous, manual: true, restart_count: normalizeExecution(current.execution).restart_count })], at);
    // Pending while it launches: a starter killed before the spawn leaves a spec the daemon simply starts.
    const ready = current.status === 'running' ? toPending(current, { cause: current.error ?? null, nextRestartAt: null }) : current;
    return startLocked(ctx, withOutbox(ready, events, at), { reason: 'restart', keepChild: options.keepChild ?? false, logged: events });
  });
}
