import { nowIso } from '../contract/time.js';
import { holdOf, type StopHold, type WorkerSpec } from '../contract/worker-spec.js';
import { toFailed, withRunEnded, withStopHold } from '../core/transitions.js';
import { RelayError } from '../errors.js';
import { stopRunEverywhere, stopRun as stopRecordedRun, type StopOutcome } from '../process/terminate.js';
import { readExitRecord, removeExitRecord } from '../store/exits.js';
import { findSpec, readSpec, withSpecLock, writeSpec } from '../store/specs.js';
import { clock, stopGraceMs, type LifecycleContext } from './context.js';
import { emitEvents, emitWorkerEvent, workerEvent } from './events.js';
import { unownedLaunch } from './fresh-launches.js';
import { stampEvents, withOutbox, type LoggedEvent } from './outbox.js';
import type { EventInput } from '../store/activity-log.js';
import { finalizeLocked, settleAfterLock } from './settle.js';
import { requireActiveSpec } from './active-spec.js';
import { recordedProcess, recordedState } from './spec-process.js';
import { describeHold, holderAlive, newHold, releaseHold, sameHold } from './hold.js';

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
  const everywhere = options.everywhere ?? true;
  const recorded = recordedProcess(spec);
  let outcome: StopOutcome = 'gone';
  if (recorded !== undefined) {
    // By default also what escaped the run's group (setsid) but carries its token.
    const stop = await stopRecordedRun(recorded, stopGraceMs(ctx, spec), { everywhere });
    outcome = stop.outcome;
    if (stop.notOurs !== null) {
      emitWorkerEvent(ctx, 'process_not_ours', spec, {
        pid: stop.notOurs,
        run_id: recorded.runId ?? null,
        outcome,
        message: `pid ${stop.notOurs} is not this run's process (it does not carry the run's token): left alone`,
      });
    }
  }
  // A launch the spec records that this process did not issue unused may have run (a daemon killed after telling a
  // standby to go, before recording its run): whatever carries its token is stopped too, never left running, and said
  // (a run found only so is the run stopped). The daemon's own stops (everywhere: false) leave this to the background
  // sweep after the pass (daemon/apply.ts stopRemnants), off a restart's path.
  const launching = unownedLaunch(spec, ctx.freshLaunches);
  if (everywhere && launching !== null && launching !== recorded?.runId) {
    const swept = await stopRunEverywhere(launching, stopGraceMs(ctx, spec));
    if (outcome === 'gone' && (swept === 'terminated' || swept === 'killed')) outcome = swept;
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

/** How a stopped run ended, as recorded. */
export interface RunEndRecord {
  readonly exit_code: number | null;
  readonly signal: string | null;
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
export async function recordStop(
  ctx: LifecycleContext,
  stoppedSpec: WorkerSpec,
  outcome: StopOutcome,
  reason: string,
  events: (end: RunEndRecord) => readonly EventInput[] = () => [],
): Promise<RunEndRecord> {
  const at = nowIso(clock(ctx));
  let logged: LoggedEvent[] = [];
  const ended = await withSpecLock(ctx.paths, stoppedSpec.worker_id, async () => {
    const read = readSpec(ctx.paths, 'active', stoppedSpec.worker_id);
    const current = read?.ok === true ? read.spec : undefined;
    const end = endOfRun(ctx, current ?? stoppedSpec, outcome);
    logged = stampEvents(events(end), at);
    if (current === undefined || current.status !== 'running' || !sameRun(current, stoppedSpec)) return end;
    // The events of the stop go with its record (worker/outbox.ts): logged once, even if this process is killed now.
    await writeSpec(ctx.paths, 'active', withOutbox(withRunEnded(current, { exitCode: end.exit_code, signal: end.signal, at, stopReason: reason }), logged, at), { existing: true });
    removeExitRecord(ctx.paths, current.worker_id);
    return end;
  });
  emitEvents(ctx, logged);
  return ended;
}

/** What became of the operator's request, besides the signal. */
export type StopHoldOutcome =
  /** This command set the hold (and stopped the run, if one was running). */
  | 'held'
  /** Already stopped by an earlier stop-worker and no process of it runs: nothing was done. */
  | 'already_stopped'
  /** Another command was failing it: this one waited for it (`settled` says where the spec is now). */
  | 'being_failed';

export interface StopWorkerResult extends StopResult {
  readonly hold: StopHoldOutcome;
  /** The hold in force, in words (who, when, why). */
  readonly held_by: string | null;
  /** When the spec left active/ during the stop (failed by another command, or completed): its folder. */
  readonly settled: 'completed' | 'failed' | null;
  /** The spec's status when the hold was set. */
  readonly status: string;
}

/** How long a command waits for another command that is failing the same worker (its grace, and some). */
const waitForHolderMs = (ctx: LifecycleContext, spec: WorkerSpec | undefined): number => stopGraceMs(ctx, spec) + 15_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (polling, with a ceiling) until the command that holds `hold` is done or gone, or the spec left active/. */
async function waitForHolder(ctx: LifecycleContext, workerId: string, hold: StopHold, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const read = readSpec(ctx.paths, 'active', workerId);
    if (read === undefined || !read.ok) return;
    const current = holdOf(read.spec);
    if (current === null || !sameHold(current, hold) || !holderAlive(current)) return;
    await sleep(50);
  }
}

const settledFolder = (ctx: LifecycleContext, workerId: string): 'completed' | 'failed' | null => {
  const found = findSpec(ctx.paths, workerId);
  return found !== undefined && (found.folder === 'completed' || found.folder === 'failed') ? found.folder : null;
};

/**
 * stop-worker: the worker is held (execution.stopped, written under the spec lock before any signal, so a
 * daemon pass racing the stop never restarts it nor counts a crash), then its run is stopped outside the
 * lock (the grace may be long) and how it ended recorded under it (recordStop). It stays stopped until
 * start-worker or restart-worker. A worker already stopped is left as it is ('already_stopped'); one
 * another command is failing is left to it ('being_failed', once that command is done); one another command
 * claimed for failing during this stop is waited for, and `settled` says where it ended.
 */
export async function stopWorker(ctx: LifecycleContext, workerId: string, reason: string): Promise<StopWorkerResult> {
  const claim = newHold('stop', reason, 'stop-worker', clock(ctx));
  try {
    const pre = await withSpecLock(ctx.paths, workerId, async () => {
      const spec = requireActiveSpec(ctx, workerId);
      if (spec.status !== 'pending' && spec.status !== 'running') {
        throw new RelayError('WRONG_STATE', `worker "${workerId}" has status ${spec.status}: it is finished, not stoppable`);
      }
      const hold = holdOf(spec);
      if (hold !== null && hold.action === 'fail' && holderAlive(hold)) return { kind: 'being_failed' as const, spec, hold };
      const live = recordedState(spec);
      if (hold !== null && hold.action === 'stop' && live !== 'alive') return { kind: 'already_stopped' as const, spec, hold };
      // A stop of a still-running held run (a stop-worker killed before its signal, or one at work now)
      // keeps the hold it found; anything else is held by this command.
      const held = hold !== null && hold.action === 'stop' ? spec : withStopHold(spec, claim);
      if (held !== spec) await writeSpec(ctx.paths, 'active', held, { existing: true });
      return { kind: 'held' as const, spec: held, hold: holdOf(held) };
    });
    const base = { pid: pre.spec.execution?.pid ?? null, run_id: pre.spec.execution?.run_id ?? null, status: pre.spec.status };
    const heldBy = pre.hold === null ? null : describeHold(pre.hold);
    if (pre.kind === 'already_stopped') {
      return { ...base, outcome: 'gone', exit_code: pre.spec.execution?.exit_code ?? null, signal: pre.spec.execution?.signal ?? null, hold: 'already_stopped', held_by: heldBy, settled: null };
    }
    if (pre.kind === 'being_failed') {
      await waitForHolder(ctx, workerId, pre.hold, waitForHolderMs(ctx, pre.spec));
      return { ...base, outcome: 'gone', exit_code: null, signal: null, hold: 'being_failed', held_by: heldBy, settled: settledFolder(ctx, workerId) };
    }
    const spec = pre.spec;
    const outcome = await stopRun(ctx, spec);
    const announce = sameHold(pre.hold, claim) || (pre.hold !== null && !holderAlive(pre.hold));
    const stoppedEvent = (end: RunEndRecord): EventInput => workerEvent('worker_stopped', spec, { reason, by: 'stop-worker', status: spec.status, outcome, pid: base.pid, run_id: base.run_id, ...end });
    let end: RunEndRecord = { exit_code: null, signal: null };
    if (stopped(outcome)) {
      // Both events go with the stop's record (worker/outbox.ts): logged once, even if this command is killed.
      end = await recordStop(ctx, spec, outcome, reason, (e) => [
        workerEvent('worker_killed', spec, { reason, outcome, pid: base.pid, run_id: base.run_id, ...e }),
        ...(announce ? [stoppedEvent(e)] : []),
      ]);
    } else if (announce) emitEvents(ctx, [stoppedEvent(end)]);
    // A fail-worker that claimed the worker during this stop (over this command's hold) ends it failed: wait for it,
    // so that this command says so rather than "stays stopped".
    const current = readSpec(ctx.paths, 'active', workerId);
    const taken = current?.ok === true ? holdOf(current.spec) : null;
    // (waitForHolder returns at once when its holder is gone.)
    if (taken?.action === 'fail') await waitForHolder(ctx, workerId, taken, waitForHolderMs(ctx, spec));
    const settled = settledFolder(ctx, workerId);
    return { ...base, outcome, ...end, hold: 'held', held_by: heldBy, settled };
  } finally {
    releaseHold(claim);
  }
}

export interface FailOptions {
  /** data.reason of the worker_failed event (default 'manual'). */
  readonly reason?: string;
}

/**
 * fail-worker: claims the worker under the spec lock (a hold, action "fail", written before any signal, so
 * the daemon never restarts it nor counts the kill as a crash), stops it if it runs, then under the lock:
 * status failed, error, execution.completed_at, spec moved to failed/; after it, event worker_failed (once)
 * and its task failed. What the runbook's "force fail" does by hand, safely.
 *
 * Two at once: the second finds the first's claim, waits for it, and is refused with WRONG_STATE saying
 * the worker was failed by another command (nothing done, no second event). A claim left by a command
 * that died is taken over.
 */
export async function failWorker(ctx: LifecycleContext, workerId: string, error = 'Manual termination', options: FailOptions = {}): Promise<FailResult> {
  const reason = options.reason ?? 'manual';
  const claim = newHold('fail', `fail: ${error}`, 'fail-worker', clock(ctx));
  try {
    const spec = await claimForFail(ctx, workerId, claim);
    const firstOutcome = await stopRun(ctx, spec);
    // Logged with the failed spec (below), so each is logged once even if this command is killed.
    const killed = stopped(firstOutcome) ? [workerEvent('worker_killed', spec, { reason: `fail: ${error}`, outcome: firstOutcome, pid: spec.execution?.pid ?? null, run_id: spec.execution?.run_id ?? null })] : [];
    const result = await withSpecLock(ctx.paths, workerId, async () => {
      const current = requireActiveSpec(ctx, workerId);
      let outcome = firstOutcome;
      if (!sameRun(current, spec) && recordedState(current) === 'alive') {
        // Restarted between the stop and the lock (rare): stop that run too, holding the lock.
        outcome = await stopRun(ctx, current);
      }
      const ended = endOfRun(ctx, current, outcome);
      const at = nowIso(clock(ctx));
      const events = stampEvents([...killed, workerEvent('worker_failed', current, { reason, error, outcome, exit_code: ended.exit_code, signal: ended.signal })], at);
      const final = withOutbox(toFailed(current, error, at, { exitCode: ended.exit_code, signal: ended.signal, ...(stopped(outcome) ? { at, stopReason: `fail: ${error}` } : {}) }), events, at);
      const file = await finalizeLocked(ctx, final);
      return { result: { outcome, pid: current.execution?.pid ?? null, run_id: current.execution?.run_id ?? null, ...ended, file }, final, events };
    });
    await settleAfterLock(ctx, result.final, result.events);
    return result.result;
  } finally {
    releaseHold(claim);
  }
}

/**
 * Under the spec lock: the fail claim is written (over a stop's hold, or a dead command's claim). When
 * another command's claim is live, waits for it outside the lock and looks again; once that command
 * failed the worker, WRONG_STATE says so.
 */
async function claimForFail(ctx: LifecycleContext, workerId: string, claim: StopHold): Promise<WorkerSpec> {
  let waitedFor: StopHold | null = null;
  for (;;) {
    const step = await withSpecLock(ctx.paths, workerId, async (): Promise<{ spec: WorkerSpec; wait?: undefined } | { wait: StopHold; spec?: undefined }> => {
      let spec: WorkerSpec;
      try {
        spec = requireActiveSpec(ctx, workerId);
      } catch (error) {
        if (waitedFor !== null && error instanceof RelayError && error.code === 'WRONG_STATE') {
          const folder = settledFolder(ctx, workerId) ?? 'another folder';
          throw new RelayError('WRONG_STATE', `worker "${workerId}" was ${folder === 'failed' ? 'failed' : 'settled'} by another command (${describeHold(waitedFor)}) while this one waited: its spec is in worker-specs/${folder}/, nothing done`, { details: { folder, by: waitedFor } });
        }
        throw error;
      }
      if (spec.status !== 'pending' && spec.status !== 'running') {
        throw new RelayError('WRONG_STATE', `worker "${workerId}" has status ${spec.status}: it is finished, it cannot be failed`);
      }
      const hold = holdOf(spec);
      if (hold !== null && hold.action === 'fail' && !sameHold(hold, claim) && holderAlive(hold)) return { wait: hold };
      const claimed = withStopHold(spec, claim);
      await writeSpec(ctx.paths, 'active', claimed, { existing: true });
      return { spec: claimed };
    });
    if (step.spec !== undefined) return step.spec;
    if (waitedFor !== null && sameHold(waitedFor, step.wait)) {
      throw new RelayError('LOCK_HELD', `worker "${workerId}" is being failed by another command (${describeHold(step.wait)}) that has not finished: try again later`, { details: { by: step.wait } });
    }
    waitedFor = step.wait;
    const type = readSpec(ctx.paths, 'active', workerId);
    await waitForHolder(ctx, workerId, step.wait, waitForHolderMs(ctx, type?.ok === true ? type.spec : undefined));
  }
}
