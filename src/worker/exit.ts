import { existsSync } from 'node:fs';
import { nowIso } from '../contract/time.js';
import { normalizeExecution, type WorkerSpec } from '../contract/worker-spec.js';
import { RelayError, describeError } from '../errors.js';
import { readExitRecordResult, removeExitRecord, setAsideExitRecord, type ExitRecord } from '../store/exits.js';
import { findSpec, finalizeSpec, readSpec, withSpecLock, writeSpec } from '../store/specs.js';
import { settleTask } from '../store/tasks.js';
import { clock, type LifecycleContext } from './context.js';
import { emitWorkerEvent } from './events.js';

/** How a run ended, from its exit record or from the ChildProcess 'exit' event. */
export interface ExitInfo {
  /** The run it belongs to; when given and not the spec's current run, the exit is stale and ignored. */
  readonly run_id?: string | null;
  readonly exit_code: number | null;
  readonly signal: string | null;
  /** When it ended (ISO); default now. */
  readonly ended_at?: string;
}

export type ExitOutcome =
  /** exit 0: the spec is now in completed/. */
  | 'completed'
  /** non-zero or a signal: recorded in the running spec; the restart policy decides. */
  | 'exited'
  /** the exit belongs to an earlier run: ignored (its record removed). */
  | 'stale'
  /** the spec is not running (pending after a manual reset): nothing applied. */
  | 'not_running'
  /** the exit of this run was already recorded. */
  | 'already_recorded';

export interface ApplyResult {
  readonly outcome: ExitOutcome | 'none' | 'not_active' | 'invalid_record' | 'spec_invalid';
  readonly record?: ExitRecord;
  /** For invalid_record / spec_invalid: why, in words (report it once: the record is set aside). */
  readonly reason?: string;
}

const isCurrentRun = (spec: WorkerSpec, exit: ExitInfo): boolean =>
  exit.run_id === undefined || exit.run_id === null || exit.run_id === (spec.execution?.run_id ?? null);

/** exit 0, under the spec lock: completed/, status completed, completed_at, exit_code 0, pid null. Returns the task to settle. */
export async function completeLocked(ctx: LifecycleContext, spec: WorkerSpec, exit: ExitInfo): Promise<string | null> {
  const endedAt = exit.ended_at ?? nowIso(clock(ctx));
  const next: WorkerSpec = {
    ...spec,
    status: 'completed',
    error: null,
    execution: { ...normalizeExecution(spec.execution), pid: null, completed_at: endedAt, last_exit_at: endedAt, exit_code: 0, signal: null, next_restart_at: null },
  };
  await finalizeSpec(ctx.paths, next, 'active', 'completed');
  removeExitRecord(ctx.paths, spec.worker_id);
  emitWorkerEvent(ctx, 'worker_completed', spec, { run_id: spec.execution?.run_id ?? null, exit_code: 0, restart_count: next.execution?.restart_count ?? 0 });
  return spec.task_id;
}

/** A non-zero exit or a signal, under the spec lock: recorded in the running spec (status stays running). */
export async function recordExitLocked(ctx: LifecycleContext, spec: WorkerSpec, exit: ExitInfo): Promise<void> {
  const endedAt = exit.ended_at ?? nowIso(clock(ctx));
  const next: WorkerSpec = {
    ...spec,
    execution: { ...normalizeExecution(spec.execution), pid: null, exit_code: exit.exit_code, signal: exit.signal, last_exit_at: endedAt },
  };
  await writeSpec(ctx.paths, 'active', next);
  removeExitRecord(ctx.paths, spec.worker_id);
  emitWorkerEvent(ctx, 'worker_exited', spec, {
    run_id: spec.execution?.run_id ?? null,
    pid: spec.execution?.pid ?? null,
    exit_code: exit.exit_code,
    signal: exit.signal,
    restart_count: next.execution?.restart_count ?? 0,
  });
}

/** Settles a worker's task after its spec lock is released (never both locks at once). */
export async function settleTaskOf(ctx: LifecycleContext, workerId: string, taskId: string | null, status: 'completed' | 'failed', error: string | null = null): Promise<void> {
  if (taskId === null) return;
  const completedAt = nowIso(clock(ctx));
  const ref = { worker_id: workerId, task_id: taskId };
  let settled: boolean;
  try {
    settled = await settleTask(ctx.paths, taskId, status, { completed_at: completedAt, error, worker_id: workerId });
  } catch (settleError) {
    // The worker's own change is done and stays done; a broken or locked queue is reported, not thrown.
    emitWorkerEvent(ctx, 'task_settle_failed', ref, { status, reason: describeError(settleError) });
    return;
  }
  if (settled) emitWorkerEvent(ctx, status === 'completed' ? 'task_completed' : 'task_failed', ref, error === null ? {} : { error });
}

function alreadyRecorded(spec: WorkerSpec): boolean {
  return (spec.execution?.pid ?? null) === null && (spec.execution?.last_exit_at ?? null) !== null;
}

/** Applies one exit to the active spec under its lock; the caller settles the returned task. */
async function applyExit(ctx: LifecycleContext, workerId: string, exit: ExitInfo): Promise<{ outcome: ExitOutcome; taskId: string | null }> {
  return withSpecLock(ctx.paths, workerId, async () => {
    const read = readSpec(ctx.paths, 'active', workerId);
    if (read === undefined) throw new RelayError('SPEC_NOT_FOUND', `no spec for worker "${workerId}" in worker-specs/active/`);
    if (!read.ok) throw read.error;
    const spec = read.spec;
    if (!isCurrentRun(spec, exit)) {
      removeExitRecord(ctx.paths, workerId);
      return { outcome: 'stale', taskId: null };
    }
    if (spec.status !== 'running') return { outcome: 'not_running', taskId: null };
    if (alreadyRecorded(spec)) {
      removeExitRecord(ctx.paths, workerId);
      return { outcome: 'already_recorded', taskId: null };
    }
    if (exit.exit_code === 0 && exit.signal === null) return { outcome: 'completed', taskId: await completeLocked(ctx, spec, exit) };
    await recordExitLocked(ctx, spec, exit);
    return { outcome: 'exited', taskId: null };
  });
}

/** A run that exited 0: spec to completed/, event worker_completed, its task completed, exit record removed. */
export async function completeWorker(ctx: LifecycleContext, workerId: string, exit: ExitInfo): Promise<ExitOutcome> {
  if (exit.exit_code !== 0 || exit.signal !== null) throw new RelayError('INVALID_INPUT', `completeWorker is for exit code 0, got ${exit.signal ?? `exit code ${String(exit.exit_code)}`} (use recordExit)`);
  return handleExit(ctx, workerId, exit);
}

/** A run that ended with a non-zero code or a signal: recorded in the running spec, event worker_exited. */
export async function recordExit(ctx: LifecycleContext, workerId: string, exit: ExitInfo): Promise<ExitOutcome> {
  if (exit.exit_code === 0 && exit.signal === null) throw new RelayError('INVALID_INPUT', 'recordExit is for a non-zero exit or a signal (use completeWorker)');
  return handleExit(ctx, workerId, exit);
}

/** Either of the two above, as the exit says. */
export async function handleExit(ctx: LifecycleContext, workerId: string, exit: ExitInfo): Promise<ExitOutcome> {
  const { outcome, taskId } = await applyExit(ctx, workerId, exit);
  if (outcome === 'completed') await settleTaskOf(ctx, workerId, taskId, 'completed');
  return outcome;
}

/**
 * Reads the worker's exit record (written by the shim when its process ended) and applies it to the
 * current run. Cheap when there is none (no lock). The daemon calls it for each worker on each pass;
 * start-worker does not wait for its worker, so this is how a run started there gets recorded.
 */
export async function applyExitRecordIfAny(ctx: LifecycleContext, workerId: string): Promise<ApplyResult> {
  if (!existsSync(ctx.paths.exitFile(workerId))) return { outcome: 'none' };
  const read = readExitRecordResult(ctx.paths, workerId);
  if (read === undefined) return { outcome: 'none' };
  if (!read.ok) {
    setAsideExitRecord(ctx.paths, workerId, clock(ctx));
    return { outcome: 'invalid_record', reason: read.reason };
  }
  const record = read.record;
  const found = findSpec(ctx.paths, workerId);
  if (found === undefined || found.folder !== 'active') {
    // The worker was settled (by hand, e.g. the runbook's force-fail): its record has nothing left to say.
    if (found !== undefined) removeExitRecord(ctx.paths, workerId);
    return { outcome: 'not_active', record };
  }
  if (!found.ok) return { outcome: 'spec_invalid', record, reason: found.error.message };
  try {
    const outcome = await handleExit(ctx, workerId, { run_id: record.run_id, exit_code: record.exit_code, signal: record.signal, ended_at: record.ended_at });
    return { outcome, record };
  } catch (error) {
    // The spec moved or broke between the look and the lock: the next pass sees it as it is.
    if (error instanceof RelayError && (error.code === 'SPEC_NOT_FOUND' || error.code === 'SPEC_INVALID')) {
      return { outcome: error.code === 'SPEC_NOT_FOUND' ? 'not_active' : 'spec_invalid', record, reason: error.message };
    }
    throw error;
  }
}
