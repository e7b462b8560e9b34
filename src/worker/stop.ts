import { nowIso } from '../contract/time.js';
import type { WorkerSpec } from '../contract/worker-spec.js';
import { toFailed, withRunEnded } from '../core/transitions.js';
import { stopRun as stopRecordedRun, type StopOutcome } from '../process/terminate.js';
import { readExitRecord, removeExitRecord } from '../store/exits.js';
import { readSpec, withSpecLock, writeSpec } from '../store/specs.js';
import { clock, stopGraceMs, type LifecycleContext } from './context.js';
import { emitWorkerEvent, workerEvent } from './events.js';
import { finalizeLocked, settleAfterLock } from './settle.js';
import { requireActiveSpec } from './active-spec.js';
import { recordedProcess, recordedState } from './spec-process.js';

export interface StopResult {
  /** 'gone' also when the spec records no process. */
  readonly outcome: StopOutcome;
  readonly pid: number | null;
  readonly run_id: string | null;
  readonly exit_code: number | null;
  readonly signal: string | null;
}

export interface FailResult extends StopResult {
  /** Where the failed spec now is. */
  readonly file: string;
}

/** The stop ended the run (rather than finding it gone, or not ours). */
export const stopped = (outcome: StopOutcome): boolean => outcome === 'terminated' || outcome === 'killed';

/**
 * Stops the run a spec records (TERM, the type's grace, KILL): its process group when that is positively
 * the run's, else whatever carries the run's token. A recorded process that is not the run's (a reused
 * pid, or a stranger written into the spec) is never signalled, and is reported: event process_not_ours.
 */
export async function stopRun(ctx: LifecycleContext, spec: WorkerSpec, options: { everywhere?: boolean } = {}): Promise<StopOutcome> {
  const recorded = recordedProcess(spec);
  if (recorded === undefined) return 'gone';
  // By default also what escaped the run's group (setsid) but carries its token.
  const { outcome, notOurs } = await stopRecordedRun(recorded, stopGraceMs(ctx, spec), { everywhere: options.everywhere ?? true });
  if (notOurs !== null) {
    emitWorkerEvent(ctx, 'process_not_ours', spec, {
      pid: notOurs,
      run_id: recorded.runId ?? null,
      outcome,
      message: `pid ${notOurs} is not this run's process (it does not carry the run's token): left alone`,
    });
  }
  return outcome;
}

/**
 * What is left of a run whose recorded process is no longer the run's (it ended, or its pid now names
 * another process): whatever still carries the run's token is stopped (in the old group; wherever it
 * runs when the pid names a stranger), so a worker never runs twice. The recorded process itself is
 * never signalled; a run whose process is still the run's is left to stopRun. `everywhere` (default
 * true): also what escaped its group; the daemon, settling a run, does that sweep in the background.
 */
export async function stopEndedRun(ctx: LifecycleContext, spec: WorkerSpec, options: { everywhere?: boolean } = {}): Promise<StopOutcome> {
  const state = recordedState(spec);
  if (state !== 'gone' && state !== 'not_ours') return 'gone';
  return stopRun(ctx, spec, options);
}

/** How the stopped run ended: its exit record when the shim wrote one, else the signal that ended it, else what the spec says. */
function endOfRun(ctx: LifecycleContext, spec: WorkerSpec, outcome: StopOutcome): { exit_code: number | null; signal: string | null } {
  const record = readExitRecord(ctx.paths, spec.worker_id);
  if (record !== undefined && record.run_id === spec.execution?.run_id) return { exit_code: record.exit_code, signal: record.signal };
  if (outcome === 'killed') return { exit_code: null, signal: 'SIGKILL' };
  if (outcome === 'terminated') return { exit_code: null, signal: 'SIGTERM' };
  return { exit_code: spec.execution?.exit_code ?? null, signal: spec.execution?.signal ?? null };
}

const sameRun = (a: WorkerSpec, b: WorkerSpec): boolean => (a.execution?.run_id ?? null) === (b.execution?.run_id ?? null);

/**
 * After a stop, under the spec lock: how the stopped run (`stoppedSpec`'s) ended is recorded in the
 * active spec with the reason (pid null, exit code or signal, last_exit_at, stop_reason), unless the spec
 * no longer runs that run (started again, or settled, meanwhile). The status is left for the caller (the
 * daemon's policy, fail, restart). The daemon and stop-worker both record a stop here.
 */
export async function recordStop(ctx: LifecycleContext, stoppedSpec: WorkerSpec, outcome: StopOutcome, reason: string): Promise<{ exit_code: number | null; signal: string | null }> {
  return withSpecLock(ctx.paths, stoppedSpec.worker_id, async () => {
    const read = readSpec(ctx.paths, 'active', stoppedSpec.worker_id);
    const current = read?.ok === true ? read.spec : undefined;
    if (current === undefined) return endOfRun(ctx, stoppedSpec, outcome);
    const ended = endOfRun(ctx, current, outcome);
    if (current.status !== 'running' || !sameRun(current, stoppedSpec)) return ended;
    await writeSpec(ctx.paths, 'active', withRunEnded(current, { exitCode: ended.exit_code, signal: ended.signal, at: nowIso(clock(ctx)), stopReason: reason }));
    removeExitRecord(ctx.paths, current.worker_id);
    return ended;
  });
}

/**
 * Stops a worker's process group and records how it ended (recordStop). The stop happens outside the
 * spec lock (it may take the whole grace); the record is made under it.
 */
export async function stopWorker(ctx: LifecycleContext, workerId: string, reason: string): Promise<StopResult> {
  const spec = requireActiveSpec(ctx, workerId);
  const outcome = await stopRun(ctx, spec);
  const base = { outcome, pid: spec.execution?.pid ?? null, run_id: spec.execution?.run_id ?? null };
  if (!stopped(outcome)) return { ...base, exit_code: null, signal: null };
  const end = await recordStop(ctx, spec, outcome, reason);
  emitWorkerEvent(ctx, 'worker_killed', spec, { reason, ...base, ...end });
  return { ...base, ...end };
}

export interface FailOptions {
  /** data.reason of the worker_failed event (default 'manual'). */
  readonly reason?: string;
}

/**
 * Stops the worker if it runs, then: status failed, error, execution.completed_at, spec moved to failed/,
 * event worker_failed, its task failed. What the runbook's "force fail" does by hand, safely.
 */
export async function failWorker(ctx: LifecycleContext, workerId: string, error = 'Manual termination', options: FailOptions = {}): Promise<FailResult> {
  const reason = options.reason ?? 'manual';
  const spec = requireActiveSpec(ctx, workerId);
  const firstOutcome = await stopRun(ctx, spec);
  if (stopped(firstOutcome)) {
    emitWorkerEvent(ctx, 'worker_killed', spec, { reason: `fail: ${error}`, outcome: firstOutcome, pid: spec.execution?.pid ?? null, run_id: spec.execution?.run_id ?? null });
  }
  const result = await withSpecLock(ctx.paths, workerId, async () => {
    const current = requireActiveSpec(ctx, workerId);
    let outcome = firstOutcome;
    if (!sameRun(current, spec) && recordedState(current) === 'alive') {
      // Restarted between the stop and the lock (rare): stop that run too, holding the lock.
      outcome = await stopRun(ctx, current);
    }
    const ended = endOfRun(ctx, current, outcome);
    const at = nowIso(clock(ctx));
    const final = toFailed(current, error, at, { exitCode: ended.exit_code, signal: ended.signal, ...(stopped(outcome) ? { at, stopReason: `fail: ${error}` } : {}) });
    const file = await finalizeLocked(ctx, final);
    const event = workerEvent('worker_failed', current, { reason, error, outcome, exit_code: ended.exit_code, signal: ended.signal });
    return { result: { outcome, pid: current.execution?.pid ?? null, run_id: current.execution?.run_id ?? null, ...ended, file }, final, event };
  });
  await settleAfterLock(ctx, result.final, [result.event]);
  return result.result;
}
