import { nowIso } from '../contract/time.js';
import type { WorkerSpec } from '../contract/worker-spec.js';
import { toCompleted, withRunEnded } from '../core/transitions.js';
import { RelayError } from '../errors.js';
import { hasExitRecord, readExitRecordResult, removeExitRecord, setAsideExitRecord, type ExitRecord } from '../store/exits.js';
import { findSpec, readSpec, withSpecLock, writeSpec } from '../store/specs.js';
import { clock, type LifecycleContext } from './context.js';
import { emitEvents, workerEvent } from './events.js';
import { stampEvents, withOutbox, type LoggedEvent } from './outbox.js';
import { finalizeLocked, settleAfterLock } from './settle.js';

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

/** What applying an exit under the lock did: the outcome, and for a completed run the final spec to settle after the lock. */
interface Applied {
  readonly outcome: ExitOutcome;
  readonly final?: WorkerSpec;
  /** The change's events, in its spec's outbox (worker/outbox.ts): logged by the caller after the lock. */
  readonly events?: readonly LoggedEvent[];
}

/** exit 0, under the spec lock: to completed/, its event written with it. The caller settles the task and emits the event after the lock. */
async function completeLocked(ctx: LifecycleContext, spec: WorkerSpec, exit: ExitInfo): Promise<Applied> {
  const at = exit.ended_at ?? nowIso(clock(ctx));
  const events = stampEvents([workerEvent('worker_completed', spec, { run_id: spec.execution?.run_id ?? null, exit_code: 0, restart_count: spec.execution?.restart_count ?? 0 })], nowIso(clock(ctx)));
  const final = withOutbox(toCompleted(spec, at), events, nowIso(clock(ctx)));
  await finalizeLocked(ctx, final);
  return { outcome: 'completed', final, events };
}

/** A non-zero exit or a signal, under the spec lock: recorded in the running spec (status stays running), its event written with it. */
async function recordExitLocked(ctx: LifecycleContext, spec: WorkerSpec, exit: ExitInfo): Promise<Applied> {
  const now = nowIso(clock(ctx));
  const ended = withRunEnded(spec, { exitCode: exit.exit_code, signal: exit.signal, at: exit.ended_at ?? now });
  const events = stampEvents(
    [
      workerEvent('worker_exited', spec, {
        run_id: spec.execution?.run_id ?? null,
        pid: spec.execution?.pid ?? null,
        exit_code: exit.exit_code,
        signal: exit.signal,
        restart_count: ended.execution?.restart_count ?? 0,
      }),
    ],
    now,
  );
  await writeSpec(ctx.paths, 'active', withOutbox(ended, events, now), { existing: true });
  removeExitRecord(ctx.paths, spec.worker_id);
  return { outcome: 'exited', events };
}

function alreadyRecorded(spec: WorkerSpec): boolean {
  return (spec.execution?.pid ?? null) === null && (spec.execution?.last_exit_at ?? null) !== null;
}

/** Applies one exit to the active spec under its lock; the caller settles a completed run after it. */
async function applyExit(ctx: LifecycleContext, workerId: string, exit: ExitInfo): Promise<Applied> {
  return withSpecLock(ctx.paths, workerId, async () => {
    const read = readSpec(ctx.paths, 'active', workerId);
    if (read === undefined) throw new RelayError('SPEC_NOT_FOUND', `no spec for worker "${workerId}" in worker-specs/active/`);
    if (!read.ok) throw read.error;
    const spec = read.spec;
    if (!isCurrentRun(spec, exit)) {
      removeExitRecord(ctx.paths, workerId);
      return { outcome: 'stale' };
    }
    if (spec.status !== 'running') return { outcome: 'not_running' };
    if (alreadyRecorded(spec)) {
      removeExitRecord(ctx.paths, workerId);
      return { outcome: 'already_recorded' };
    }
    if (exit.exit_code === 0 && exit.signal === null) return completeLocked(ctx, spec, exit);
    return recordExitLocked(ctx, spec, exit);
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
  const { outcome, final, events = [] } = await applyExit(ctx, workerId, exit);
  if (final !== undefined) await settleAfterLock(ctx, final, events);
  else emitEvents(ctx, events);
  return outcome;
}

/**
 * Reads the worker's exit record (written by the shim when its process ended) and applies it to the
 * current run. Cheap when there is none (no lock). start-worker calls it before starting a worker whose
 * spec still says running, so a run that ended while no daemon watched is recorded, never run again.
 */
export async function applyExitRecordIfAny(ctx: LifecycleContext, workerId: string): Promise<ApplyResult> {
  if (!hasExitRecord(ctx.paths, workerId)) return { outcome: 'none' };
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
