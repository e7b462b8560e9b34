import { nowIso } from '../contract/time.js';
import { holdOf, normalizeExecution, type WorkerSpec } from '../contract/worker-spec.js';
import { typeLimitsOf } from '../core/limits.js';
import { chooseLaunch, launchEventData, type LaunchChoice } from '../core/resume.js';
import { readCheckin } from '../store/checkins.js';
import { toFailed, toRunning, withLaunchRecorded } from '../core/transitions.js';
import { RelayError } from '../errors.js';
import { checkRun, currentHost } from '../process/identity.js';
import { dropStandby, goStandby, launchWorker, newRunId, readyStandby, spawnWorker, type SpawnResult, type WorkerLaunch } from '../process/spawn.js';
import { standbyFits } from './standbys.js';
import { ensureWorkspace } from '../workspace/worktree.js';
import { groupsOfRun } from '../process/group.js';
import { stopProcess, stopRunRemnants } from '../process/terminate.js';
import { removeExitRecord, removeExitRecordOf } from '../store/exits.js';
import { withSpecLock, writeSpec } from '../store/specs.js';
import { requireActiveSpec } from './active-spec.js';
import { clock, stopGraceMs, type LifecycleContext } from './context.js';
import { emitEvents, workerEvent } from './events.js';
import { stampEvents, withOutbox, type LoggedEvent } from './outbox.js';
import type { EventInput } from '../store/activity-log.js';
import { applyExitRecordIfAny } from './exit.js';
import { finalizeLocked, settleAfterLock } from './settle.js';
import { recordedProcess, recordedState } from './spec-process.js';
import { stopEndedRun } from './stop.js';
import { describeHold, holderAlive } from './hold.js';

export type StartReason = 'start' | 'restart';

export interface StartOptions {
  readonly reason?: StartReason;
  /** Keep the shim's ChildProcess referenced (a long-lived caller that wants its 'exit'); default false: unref()ed. */
  readonly keepChild?: boolean;
  /**
   * A pending spec whose recorded process is still alive and ours (the runbook's "kill, reset, start"
   * racing the old process's exit): wait up to this long for it to go before refusing. Default 0.
   */
  readonly waitForExitMs?: number;
  /** Events already in the spec's outbox (the change that led to this start): logged once the launch is recorded. */
  readonly logged?: readonly LoggedEvent[];
  /** Events to log with worker_started (and in its write's outbox), e.g. worker_restarted; `launch`: whether it resumed a session. */
  readonly startedEvents?: (result: SpawnResult, launch: LaunchChoice) => readonly EventInput[];
  /** The daemon's starts: a spec held by an operator (stop-worker, fail-worker) is never started (WRONG_STATE). */
  readonly respectHold?: boolean;
  /**
   * The daemon makes a standby for this worker's next run after this start (a restart: worker/standbys.ts): its token
   * is chosen now and recorded with this run (`launching_run_id`, one of the daemon's fresh launches), so that the
   * standby's run can be told to go before its spec is written.
   */
  readonly nextStandby?: boolean;
}

/** A spawn failure: the spec went to failed/; the task is settled and the event emitted once the spec lock is released. */
class SpawnFailure {
  constructor(
    readonly error: RelayError,
    readonly final: WorkerSpec,
    readonly events: readonly LoggedEvent[],
  ) {}
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForRecordedExit(spec: WorkerSpec, ms: number): Promise<void> {
  const recorded = recordedProcess(spec);
  if (recorded === undefined || ms <= 0) return;
  const deadline = Date.now() + ms;
  while (checkRun(recorded) === 'alive' && Date.now() < deadline) await sleep(25);
}

/** Refuses to start (or restart) a worker another command is failing right now. */
export function assertNotBeingFailed(spec: WorkerSpec): void {
  const hold = holdOf(spec);
  if (hold !== null && hold.action === 'fail' && holderAlive(hold)) {
    throw new RelayError('WRONG_STATE', `worker "${spec.worker_id}" is being failed by another command (${describeHold(hold)}): not started`, { details: { hold } });
  }
}

/** Refuses to start a worker whose recorded process still runs: never a second copy. */
export function assertStartable(spec: WorkerSpec): void {
  if (spec.status === 'completed' || spec.status === 'failed') {
    throw new RelayError('WRONG_STATE', `worker "${spec.worker_id}" has status ${spec.status}: only a pending worker (or a running one whose process is gone) can be started`);
  }
  assertNotBeingFailed(spec);
  const state = recordedState(spec);
  if (state === 'alive' || state === 'unverified') {
    const pid = spec.execution?.pid ?? null;
    throw new RelayError(
      'ALREADY_RUNNING',
      `worker "${spec.worker_id}" is already running (pid ${String(pid)}${state === 'unverified' ? ', identity not recorded' : ''}): stop it first, or use restart-worker`,
      { details: { pid } },
    );
  }
}

/** Spawns the worker and records the run in its active spec; the caller holds the spec lock and has checked assertStartable. */
export async function startLocked(ctx: LifecycleContext, spec: WorkerSpec, options: StartOptions = {}): Promise<SpawnResult> {
  const reason = options.reason ?? 'start';
  const type = ctx.workerTypes.get(spec.worker_type);
  const execution = normalizeExecution(spec.execution);
  // Resume the agent's session (resume_command) or start it fresh: the same rule for every starter.
  // The run's last check-in may name a session the spec does not record yet (read only when the type can resume).
  const checkin = type.resume_command === undefined ? undefined : readCheckin(ctx.paths, spec.worker_id);
  const launch = chooseLaunch(spec, type, checkin?.ok === true ? checkin.checkin : null);
  // An earlier run whose shim is gone may still have its worker running in the old group (only the shim was
  // killed), or, when its pid was edited by hand, anywhere: stop what carries that run's token first, so
  // the worker never runs twice.
  await stopEndedRun(ctx, spec);
  // A launch that was recorded but never confirmed (the starter died between spawn and record) may have
  // left a live run no spec names: stop it, so the worker never runs twice. Unless it is the token this daemon wrote
  // into the spec when it made it, never used since (worker/fresh-launches.ts): nothing ran with it, and the spec
  // already records it, so it is this run's token and launch record.
  const launching = typeof execution.launching_run_id === 'string' ? execution.launching_run_id : null;
  // A token this daemon issued and nothing went with: a new spec's, or the one recorded for the next run's standby.
  const unused = launching !== null && ctx.freshLaunches?.take(spec.worker_id, launching) === true;
  // (Only for a spec as it is on disk: a change carried in memory, such as a restart's, is written by the launch record.)
  const freshToken = unused && spec.status === 'pending' && options.logged === undefined ? launching : null;
  if (launching !== null && !unused) {
    for (const pgid of groupsOfRun(launching)) await stopRunRemnants(pgid, launching, stopGraceMs(ctx, spec));
  }
  // The token of the standby the daemon will make for the next run, recorded with this one.
  const nextToken = options.nextStandby === true && standbyFits(type) ? (ctx.freshLaunches?.issue(spec.worker_id) ?? null) : null;
  const now = clock(ctx);
  const launchOf = async (runId: string): Promise<WorkerLaunch> => ({
    // The worker's worktree, made before its first start and reused after (a failure is a spawn failure).
    workspace: type.workspace === undefined ? null : await ensureWorkspace(ctx.paths, spec.worker_id, type.workspace),
    workerId: spec.worker_id,
    taskId: spec.task_id,
    description: spec.task.description,
    workerType: type,
    restartCount: execution.restart_count,
    now,
    runId,
    command: launch.command,
    sessionId: launch.sessionId,
    reapsExitRecord: ctx.reapsExitRecords === true,
    ...(ctx.baseEnv === undefined ? {} : { baseEnv: ctx.baseEnv }),
  });
  // The daemon's standby for this worker, when it was made for this very launch: no spawn on the start's path. Made
  // with the token the spec records already (the last start's nextToken), it goes before its spec is written: were this
  // daemon to die in between, the next start would find that token and stop its run first (above).
  let standby = ctx.standbys?.take(spec.worker_id);
  // One made with the token the spec records, which this daemon no longer holds unused (forgotten), was just stopped
  // with whatever else carries it (above): let go.
  if (standby !== undefined && !unused && standby.runId === launching) {
    dropStandby(standby);
    standby = undefined;
  }
  const tokenOnDisk = standby !== undefined && unused && standby.runId === launching;
  let result: SpawnResult | undefined;
  let logged = false;
  try {
    if (standby !== undefined) {
      result = readyStandby(ctx.paths, standby, await launchOf(standby.runId));
      if (result === undefined) {
        dropStandby(standby);
        standby = undefined;
      }
    }
    if (result === undefined) {
      // Record the run before it exists: a crash after the spawn leaves its token in the spec. Not fsynced:
      // the token guards against the starter being killed, and a killed process's writes are in the page
      // cache; a power cut that loses the write also ends every process the token could name. (A standby
      // needs no such record: it runs nothing until the run is recorded whole, below.)
      const runId = freshToken ?? newRunId();
      if (freshToken === null) await writeSpec(ctx.paths, 'active', withLaunchRecorded(spec, runId), { fsync: false, existing: true });
      // Whatever exit record is left belongs to an earlier run (removed once the spec no longer needs it).
      removeExitRecord(ctx.paths, spec.worker_id);
      if (options.logged !== undefined) emitEvents(ctx, options.logged);
      logged = true;
      const launcher = ctx.launcher?.unavailable === undefined ? ctx.launcher : undefined;
      result = launcher !== undefined ? await launchWorker(ctx.paths, await launchOf(runId), launcher) : spawnWorker(ctx.paths, await launchOf(runId));
    }
  } catch (error) {
    if (standby !== undefined) dropStandby(standby);
    if (error instanceof RelayError && error.code === 'SPAWN_FAILED') {
      const at = nowIso(clock(ctx));
      // The change that led here is logged with the failure when nothing was written before it (a standby's start).
      const events = [...(logged ? [] : (options.logged ?? [])), ...stampEvents([workerEvent('worker_failed', spec, { reason: 'spawn_failed', error: error.message })], at)];
      const final = withOutbox(toFailed(spec, error.message, at), events, at);
      await finalizeLocked(ctx, final);
      throw new SpawnFailure(error, final, events);
    }
    throw error;
  }
  const at = nowIso(clock(ctx));
  const events = stampEvents(
    [
      workerEvent('worker_started', spec, {
        pid: result.pid,
        run_id: result.runId,
        program: result.argv[0] ?? null,
        restart_count: execution.restart_count,
        reason,
        log_file: result.logFile,
        ...launchEventData(launch),
        ...(result.workspace === null ? {} : { workspace: result.workspace.path }),
        ...(holdOf(spec) === null ? {} : { was_stopped: true, stop_cleared: holdOf(spec) }),
      }),
      ...(options.startedEvents?.(result, launch) ?? []),
      ...(result.logUnbounded === undefined
        ? []
        : [
            workerEvent('daemon_warning', spec, {
              warning: 'log_unbounded',
              log_file: result.logFile,
              message: `no log pipe for this run (${result.logUnbounded}): the worker writes to its log directly, and log_max_bytes does not bound it until its next start`,
            }),
          ]),
    ],
    at,
  );
  const running = toRunning(spec, { pid: result.pid, startTicks: result.startTicks, bootId: result.bootId, host: currentHost(), runId: result.runId, startedAt: result.startedAt, typeLimits: typeLimitsOf(type), session: launch.execution });
  // The workspace is recorded at the top level: it outlives runs (kept across restarts) and the spec's stay in active/.
  // From a standby, nothing was written yet: the events of the change that led here go into this write's outbox
  // too, and are logged once it is on disk (as the launch record's write does otherwise).
  const fromStandby = standby !== undefined && options.logged !== undefined ? options.logged : [];
  const recorded = withOutbox(result.workspace === null ? running : { ...running, workspace: { ...result.workspace } }, [...fromStandby, ...events], at);
  const next = nextToken === null ? recorded : withLaunchRecorded(recorded, nextToken);
  // A standby whose token the spec records already goes now, before the write (a restart waits on it no longer). Any
  // other is told once its run is recorded whole. One that cannot be told (it ended meanwhile) is a run that ended at
  // once, which the next pass finds as such (its process gone, no exit record).
  let told = false;
  if (standby !== undefined && tokenOnDisk) {
    told = goStandby(standby, execution.restart_count);
    if (!told) dropStandby(standby);
  }
  try {
    // Not fsynced either, for the launch record's reason: a power cut that loses this write also ended the
    // process it records, and the launch token already on disk makes the next start stop whatever is left.
    await writeSpec(ctx.paths, 'active', next, { existing: true, fsync: false });
  } catch (error) {
    if (nextToken !== null) ctx.freshLaunches?.forget(spec.worker_id);
    // A process the spec does not record would be an orphan: take it down again (a standby not told yet is let go).
    if (standby !== undefined && !told) dropStandby(standby);
    else await stopProcess({ pid: result.pid, startTicks: result.startTicks, bootId: result.bootId, runId: result.runId }, 0).catch(() => undefined);
    throw error;
  }
  // The ended run's record, once the run that follows it is recorded (a write that fails leaves it to be read again);
  // only that run's: once told, the new run may end, and its record be put in place, at any time.
  const endedRunId = spec.execution?.run_id ?? null;
  if (standby !== undefined && tokenOnDisk && endedRunId !== null) removeExitRecordOf(ctx.paths, spec.worker_id, endedRunId);
  if (standby !== undefined && !tokenOnDisk) {
    removeExitRecord(ctx.paths, spec.worker_id);
    if (!goStandby(standby, execution.restart_count)) dropStandby(standby);
  }
  emitEvents(ctx, fromStandby);
  if (options.keepChild !== true) result.child.unref();
  emitEvents(ctx, events);
  return result;
}

/** Runs fn under the spec lock; a spawn failure settles the task as failed after the lock and rethrows SPAWN_FAILED. */
export async function withStartLock<T>(ctx: LifecycleContext, workerId: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await withSpecLock(ctx.paths, workerId, fn);
  } catch (error) {
    if (!(error instanceof SpawnFailure)) throw error;
    await settleAfterLock(ctx, error.final, error.events);
    throw error.error;
  }
}

/**
 * Starts the worker a pending spec in active/ describes (or a running one whose process is gone: a manual
 * restart). Refuses with ALREADY_RUNNING while its recorded process is alive. A program that cannot be
 * started moves the spec to failed/ with the reason and throws SPAWN_FAILED.
 */
export async function startWorker(ctx: LifecycleContext, workerId: string, options: StartOptions = {}): Promise<SpawnResult> {
  const before = requireActiveSpec(ctx, workerId);
  if (before.status === 'pending') await waitForRecordedExit(before, options.waitForExitMs ?? 0);
  // A run that ended while nobody watched is recorded first: a finished worker is completed, never re-run.
  if (before.status === 'running') await applyExitRecordIfAny(ctx, workerId);
  return withStartLock(ctx, workerId, async () => {
    const spec = requireActiveSpec(ctx, workerId);
    const hold = holdOf(spec);
    if (options.respectHold === true && hold !== null) {
      throw new RelayError('WRONG_STATE', `worker "${workerId}" is stopped (${describeHold(hold)}): only start-worker or restart-worker starts it`);
    }
    assertStartable(spec);
    return startLocked(ctx, spec, options);
  });
}
