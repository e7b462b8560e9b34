import { nowIso } from '../contract/time.js';
import { holdOf, type WorkerSpec } from '../contract/worker-spec.js';
import type { Action } from '../core/actions.js';
import type { Clock } from '../core/clock.js';
import { describeError, isRelayError } from '../errors.js';
import type { Logger } from '../log.js';
import { groupsOfRun } from '../process/group.js';
import { stopRunEverywhere, type StopOutcome } from '../process/terminate.js';
import type { EventInput } from '../store/activity-log.js';
import { removeExitRecord } from '../store/exits.js';
import type { HomePaths } from '../store/home.js';
import { moveSpecFile, readSpec, withSpecLock, writeSpec } from '../store/specs.js';
import type { Checkin } from '../contract/checkin.js';
import { launchEventData, sessionOfCheckin, type LaunchChoice } from '../core/resume.js';
import { toCompleted, toFailed, toPending, withSessionRecorded, withStopRequested, withWarningsGiven } from '../core/transitions.js';
import { workerEvent } from '../worker/events.js';
import { stampEvents, withOutbox } from '../worker/outbox.js';
import { finalizeLocked, settleAfterLock } from '../worker/settle.js';
import { recordedState, runStateOfSpec } from '../worker/spec-process.js';
import type { LifecycleContext } from '../worker/context.js';
import { startLocked, startWorker, withStartLock } from '../worker/start.js';
import { recordStop, stopEndedRun, stopRun, stopped } from '../worker/stop.js';
import { stopGraceMs } from '../worker/context.js';
import { unownedLaunch } from '../worker/fresh-launches.js';
import type { SpawnResult, WorkerChild } from '../process/spawn.js';
import type { CounterName } from './event-log.js';
import type { Departed, Observation, Observer } from './observer.js';

/** What applying actions needs from the daemon: the home, the clock, where events go, and how to ask for a pass. */
export interface ApplyContext {
  readonly paths: HomePaths;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly observer: Observer;
  emit(events: readonly EventInput[]): void;
  requestPass(): void;
  /** The context the worker lifecycle runs in: this daemon's worker types, and its emit for events. */
  lifecycle(): LifecycleContext;
  /** A run the daemon started (its shim's child handle, and the run's identity for an orphan check). */
  adoptChild(workerId: string, child: WorkerChild, run?: Departed): void;
  /** The run this daemon last started for a worker, while its shim lives. */
  startedRun(workerId: string): Departed | undefined;
  /** Counters for pm-state and metrics. */
  count(name: CounterName): void;
  /** A provider outage: pause its types (daemon/dispatch-pauses.ts), logging dispatch_paused once. */
  pauseProvider(action: Extract<Action, { kind: 'pause_provider' }>): Promise<void>;
  /** Stops in flight, so shutdown can wait for them. */
  readonly inflight: Set<Promise<unknown>>;
  /** Background work to start once the pass's actions are done (runDeferred): off the path of a restart. */
  readonly deferred: (() => Promise<unknown>)[];
  /** A standby for this worker's next run (worker/standbys.ts), made off the path of the pass. */
  prepareStandby(workerId: string): void;
  /** The run the daemon last started for this worker (startedRun) is stopped: it is forgotten, if it is still that run. */
  forgetStartedRun(workerId: string, runId: string): void;
}

/** Reads the active spec under its lock and hands it to fn; a missing or broken spec skips the action. */
async function underLock<T>(ctx: ApplyContext, workerId: string, fn: (spec: WorkerSpec) => Promise<T>): Promise<T | undefined> {
  try {
    return await withSpecLock(ctx.paths, workerId, async () => {
      const read = readSpec(ctx.paths, 'active', workerId);
      if (read === undefined || !read.ok) return undefined;
      return fn(read.spec);
    });
  } finally {
    ctx.observer.invalidate(workerId);
  }
}

const ids = (spec: WorkerSpec): { worker_id: string; task_id: string | null } => ({ worker_id: spec.worker_id, task_id: spec.task_id });

export async function applyAction(ctx: ApplyContext, action: Action): Promise<void> {
  switch (action.kind) {
    case 'record_warnings': {
      const logged = await underLock(ctx, action.workerId, async (spec) => {
        if (spec.status !== 'running') return undefined;
        const at = nowIso(ctx.clock.wallNow());
        const events = stampEvents(action.events, at);
        await writeSpec(ctx.paths, 'active', withOutbox(withWarningsGiven(spec, action.pcts), events, at), { existing: true });
        return events;
      });
      if (logged !== undefined) ctx.emit(logged);
      return;
    }
    case 'stop':
      return startStop(ctx, action);
    case 'complete': {
      const settled = await underLock(ctx, action.workerId, async (spec) => {
        const run = runStateOfSpec(ctx.paths, spec);
        if (run.exit === null || run.exit.exitCode !== 0) return undefined;
        await stopRemnants(ctx, spec);
        const at = nowIso(ctx.clock.wallNow());
        const events = stampEvents([...action.events, workerEvent('worker_completed', spec, { exit_code: 0, restart_count: spec.execution?.restart_count ?? 0 })], at);
        const done = withOutbox(toCompleted(spec, at), events, at);
        await finalizeLocked(ctx.lifecycle(), done);
        return { done, events };
      });
      if (settled === undefined) return;
      ctx.count('completed');
      return settleAfterLock(ctx.lifecycle(), settled.done, settled.events);
    }
    case 'schedule_restart': {
      let started: SpawnResult | undefined;
      try {
        await withStartLock(ctx.lifecycle(), action.workerId, async () => {
          const read = readSpec(ctx.paths, 'active', action.workerId);
          if (read === undefined || !read.ok) return;
          const spec = read.spec;
          const run = await endedRun(ctx, spec, action.zombie);
          if (run === undefined) return;
          const wallNow = ctx.clock.wallNow();
          const at = nowIso(wallNow);
          const events = stampEvents(action.events, at);
          const pending = toPending(spec, {
            cause: action.cause,
            end: { exitCode: run.exit?.exitCode ?? null, signal: run.exit?.signal ?? null, at },
            restartCount: action.restartCount,
            nextRestartAt: nowIso(wallNow + action.delayMs),
            ...(action.rateLimit === undefined ? {} : { rateLimit: { waits: action.rateLimit.waits, at } }),
          });
          if (action.rateLimit !== undefined) {
            const limit = action.rateLimit;
            events.push(...stampEvents([workerEvent('worker_rate_limited', spec, { source: limit.source, reset_at: nowIso(wallNow + action.delayMs), reset_known: limit.resetKnown, rate_limit_waits: limit.waits })], at));
          }
          ctx.logger.info({ worker_id: spec.worker_id, cause: action.cause, restart_count: action.restartCount, delay_ms: action.delayMs, paused: action.paused === true }, 'restart scheduled');
          // Its dispatch is paused: it waits in pending, and starts when the pause ends (a pass's start).
          if (action.delayMs > 0 || action.paused === true) {
            removeExitRecord(ctx.paths, spec.worker_id);
            await writeSpec(ctx.paths, 'active', withOutbox(pending, events, at), { existing: true });
            ctx.emit(events);
            return;
          }
          // No backoff: start it again now, under the same lock and in the slot it holds. The pending state
          // (and the events saying why) is written together with the launch record (startLocked's first
          // write; with a standby, together with the run), so a daemon killed before the spawn leaves a pending
          // spec that the next pass starts, and one killed after it leaves the launch token, whose run is
          // stopped before the next start. The ended run's exit record is removed only after that write: a
          // write that fails leaves the run's end to be read again.
          started = await startLocked(ctx.lifecycle(), withOutbox(pending, events, at), {
            reason: 'restart',
            keepChild: true,
            nextStandby: true,
            logged: events,
            startedEvents: (result, launch) => [restartedEvent(pending, result, launch)],
          });
        });
      } catch (error) {
        startFailed(ctx, action.workerId, error);
        return;
      } finally {
        ctx.observer.invalidate(action.workerId);
      }
      if (started !== undefined) noteStarted(ctx, action.workerId, started, true);
      return;
    }
    case 'fail': {
      const settled = await underLock(ctx, action.workerId, async (spec) => {
        const run = await endedRun(ctx, spec, action.zombie);
        if (run === undefined) return undefined;
        const at = nowIso(ctx.clock.wallNow());
        const events = stampEvents([...action.events, workerEvent('worker_failed', spec, { error: action.error, cause: action.cause, restart_count: spec.execution?.restart_count ?? 0 })], at);
        const failed = withOutbox(toFailed(spec, action.error, at, { exitCode: run.exit?.exitCode ?? null, signal: run.exit?.signal ?? null, at }), events, at);
        await finalizeLocked(ctx.lifecycle(), failed);
        return { failed, events };
      });
      if (settled === undefined) return;
      ctx.count('failed');
      return settleAfterLock(ctx.lifecycle(), settled.failed, settled.events);
    }
    case 'finalize': {
      // Its content is final already (a move interrupted by a crash): only the move and the task are left.
      const final = await underLock(ctx, action.workerId, async (spec) => {
        if (spec.status !== action.status) return undefined;
        moveSpecFile(ctx.paths, spec.worker_id, 'active', action.status);
        removeExitRecord(ctx.paths, spec.worker_id);
        ctx.logger.info({ worker_id: spec.worker_id, status: action.status }, 'moved a finished spec out of active/');
        return spec;
      });
      if (final !== undefined) await settleAfterLock(ctx.lifecycle(), final, []);
      return;
    }
    case 'start': {
      const read = readSpec(ctx.paths, 'active', action.workerId);
      // Set to pending by hand while its process still runs (runbook A's kill failed): that run is stopped
      // first, in the background, and the next pass starts the new one. Never two runs of one worker.
      const before = read?.ok === true ? read.spec : undefined;
      if (before?.status === 'pending' && recordedState(before) === 'alive') return stopLivePending(ctx, before, 'its spec was set to pending while its process still ran: stopped before a new run starts');
      // A hand edit (runbook A's jq > tmp && mv) can write back a spec read before this daemon recorded a
      // run it started: that run, recorded nowhere now, is stopped first. Never two runs of one worker.
      const mine = ctx.startedRun(action.workerId);
      if (before?.status === 'pending' && mine?.identity != null && mine.runId !== null && mine.runId !== (before.execution?.run_id ?? null)) {
        const { pid, startTicks, bootId } = mine.identity;
        const unrecorded = { ...before, execution: { ...before.execution, pid, process_start_ticks: startTicks, boot_id: bootId, run_id: mine.runId } };
        return stopLivePending(ctx, unrecorded, 'its spec was rewritten by hand without the run this daemon had started, which still ran: stopped before a new run starts', mine.runId);
      }
      return startPending(ctx, action.workerId, action.restart, before);
    }
    case 'pause_provider':
      return ctx.pauseProvider(action);
    case 'dispatch':
      throw new Error('dispatch actions are applied in batches by createSpecsForTasks');
  }
}

/**
 * The verdict re-checked under the lock: the run still recorded as running has ended (for a zombie
 * verdict: with no exit recorded since). Then what is left of its group is stopped and the run's state
 * returned; undefined when the verdict no longer holds.
 */
async function endedRun(ctx: ApplyContext, spec: WorkerSpec, zombie: boolean): Promise<ReturnType<typeof runStateOfSpec> | undefined> {
  const run = runStateOfSpec(ctx.paths, spec);
  if (spec.status !== 'running' || run.process === 'alive') return undefined;
  // Held by an operator since the pass looked (the hold is written before the signal): their stop, not a crash.
  if (holdOf(spec) !== null) {
    ctx.logger.info({ worker_id: spec.worker_id }, 'stopped by an operator: not restarted or failed');
    return undefined;
  }
  if (zombie) {
    if (run.exit !== null) return undefined;
    ctx.count('zombies');
  }
  await stopRemnants(ctx, spec);
  return run;
}

/**
 * Whatever is left of a finished or vanished run (a grandchild, or the worker itself when only its shim
 * was killed) is stopped before the run is settled, so a worker never runs twice. Only processes carrying
 * the run's token are signalled (worker/stop.ts stopEndedRun), never a stranger.
 */
async function stopRemnants(ctx: ApplyContext, spec: WorkerSpec): Promise<void> {
  const outcome = await stopEndedRun(ctx.lifecycle(), spec, { everywhere: false });
  if (outcome === 'terminated' || outcome === 'killed') ctx.logger.warn({ worker_id: spec.worker_id, pid: spec.execution?.pid, outcome }, 'stopped what was left of a finished run');
  // What escaped the group (setsid) but carries the run's token is looked for in the background: a scan
  // of /proc, kept off the path of a restart. A new run has a new token, so it is never touched.
  const graceMs = stopGraceMs(ctx.lifecycle(), spec);
  // Started once the pass's actions are done (applyPlan's runDeferred): the scan is synchronous, and a
  // restart under way must not wait for it.
  const sweep = (runId: string, reason: string, message: string): void => {
    ctx.deferred.push(() =>
      stopRunEverywhere(runId, graceMs).then(
        (swept) => {
          if (swept === 'terminated' || swept === 'killed') ctx.emit([workerEvent('worker_killed', spec, { reason, outcome: swept, run_id: runId, message })]);
        },
        (error: unknown) => ctx.logger.error({ worker_id: spec.worker_id, err: error }, `cannot stop ${reason}: ${describeError(error)}`),
      ),
    );
  };
  // A launch the spec records that this daemon did not issue unused (a daemon killed after telling a standby to go,
  // before recording its run: worker/start.ts) may run: whatever carries its token is stopped too.
  const launching = unownedLaunch(spec, ctx.lifecycle().freshLaunches);
  if (launching !== null) sweep(launching, 'unrecorded_launch', 'a launch the spec recorded, whose run it never recorded, was stopped');
  const runId = spec.execution?.run_id ?? null;
  if (runId !== null) sweep(runId, 'escaped_run', 'processes of the ended run outside its process group were stopped');
}

/** Starts the background work the pass's actions left for after them (tracked in inflight); applyPlan calls it last. */
export function runDeferred(ctx: ApplyContext): void {
  for (const start of ctx.deferred.splice(0)) {
    const task = Promise.resolve().then(start);
    trackInflight(ctx, task);
  }
}

/** Background work the daemon's stop waits for (bounded). */
function trackInflight(ctx: ApplyContext, task: Promise<unknown>): void {
  ctx.inflight.add(task);
  void task.finally(() => ctx.inflight.delete(task));
}

/** `before`: the spec as read just now (its restart cause and count), when it was valid. */
async function startPending(ctx: ApplyContext, workerId: string, restart: boolean, before: WorkerSpec | undefined): Promise<void> {
  try {
    const result = await startWorker(ctx.lifecycle(), workerId, {
      reason: restart ? 'restart' : 'start',
      keepChild: true,
      respectHold: true,
      ...(restart && before !== undefined ? { nextStandby: true, startedEvents: (r: SpawnResult, launch: LaunchChoice) => [restartedEvent(before, r, launch)] } : {}),
    });
    ctx.observer.invalidate(workerId);
    noteStarted(ctx, workerId, result, restart && before !== undefined);
  } catch (error) {
    ctx.observer.invalidate(workerId);
    startFailed(ctx, workerId, error);
  }
}

/** worker_restarted, logged with the start (its worker_started) that carries the restart out. */
function restartedEvent(before: WorkerSpec, result: SpawnResult, launch: LaunchChoice): EventInput {
  const resume = launchEventData(launch);
  return { event: 'worker_restarted', ...ids(before), data: { restart_count: before.execution?.restart_count ?? 0, cause: before.error ?? null, pid: result.pid, ...resume } };
}

/** After a start (its events logged by startLocked): the child is watched, a restart counted. */
function noteStarted(ctx: ApplyContext, workerId: string, result: SpawnResult, restart: boolean): void {
  const identity = result.startTicks === null ? null : { pid: result.pid, startTicks: result.startTicks, bootId: result.bootId };
  ctx.adoptChild(workerId, result.child, { workerId, identity, runId: result.runId });
  if (restart) {
    ctx.count('restarts');
    // A worker that restarted gets a standby for its next restart, once this pass's work is done.
    ctx.deferred.push(() => Promise.resolve(ctx.prepareStandby(workerId)));
  }
}

/** A start that did not happen: another already ran it (skipped), or the program could not be spawned (counted). */
function startFailed(ctx: ApplyContext, workerId: string, error: unknown): void {
  if (isRelayError(error) && (error.code === 'ALREADY_RUNNING' || error.code === 'WRONG_STATE' || error.code === 'SPEC_NOT_FOUND')) {
    ctx.logger.debug({ worker_id: workerId, err: error }, 'start skipped');
    return;
  }
  if (isRelayError(error) && error.code === 'SPAWN_FAILED') {
    ctx.count('spawn_failures');
    ctx.logger.error({ worker_id: workerId, err: error }, 'spawn failed');
    return;
  }
  throw error;
}

/** The live run of a pending spec, stopped in the background (one event), then a pass to start the new run. */
function stopLivePending(ctx: ApplyContext, spec: WorkerSpec, message: string, startedRun?: string): Promise<void> {
  ctx.observer.setStopping(spec.worker_id, true);
  inBackground(ctx, spec.worker_id, async () => {
    const outcome = await stopRun(ctx.lifecycle(), spec);
    // The daemon's own run it stopped, once nothing carries its token any more, is no longer one to stop: the next pass
    // starts the worker (not waiting for the stopped shim's exit to reach the daemon, which would stop it again).
    if (startedRun !== undefined && groupsOfRun(startedRun).length === 0) ctx.forgetStartedRun(spec.worker_id, startedRun);
    ctx.count('stops');
    ctx.emit([workerEvent('worker_killed', spec, { reason: 'pending_with_live_process', outcome, pid: spec.execution?.pid ?? null, run_id: spec.execution?.run_id ?? null, message })]);
  });
  return Promise.resolve();
}

/** Runs a stop in the background (the grace can be long): the pass goes on; at its end, the worker is looked at again. */
function inBackground(ctx: ApplyContext, workerId: string, fn: () => Promise<void>): void {
  const task = (async () => {
    try {
      await fn();
    } catch (error) {
      ctx.logger.error({ worker_id: workerId, err: error }, `stop failed: ${describeError(error)}`);
    } finally {
      ctx.observer.setStopping(workerId, false);
      ctx.observer.invalidate(workerId);
      ctx.requestPass();
    }
  })();
  trackInflight(ctx, task);
}

/** Stops run in the background (the grace can be long); the pass goes on, and the end is recorded when it comes. */
function startStop(ctx: ApplyContext, action: Extract<Action, { kind: 'stop' }>): Promise<void> {
  const read = readSpec(ctx.paths, 'active', action.workerId);
  if (read === undefined || !read.ok) return Promise.resolve();
  const before = read.spec;
  const e = before.execution;
  // An operator's hold: their stop-worker or fail-worker is taking it down.
  if (before.status !== 'running' || e?.pid === null || e?.pid === undefined || holdOf(before) !== null) return Promise.resolve();
  ctx.observer.setStopping(before.worker_id, true);
  inBackground(ctx, before.worker_id, async () => {
    // The reason is recorded before the signal: a daemon killed during the stop leaves a run whose end the
    // next daemon reads as this stop (core/run-state.ts), not as a zombie.
    const spec = await underLock(ctx, action.workerId, async (current) => {
      if (current.status !== 'running' || current.execution?.run_id !== e.run_id || current.execution?.pid !== e.pid || holdOf(current) !== null) return undefined;
      const requested = withStopRequested(current, action.reason);
      await writeSpec(ctx.paths, 'active', requested, { existing: true });
      return requested;
    });
    if (spec === undefined) return;
    let outcome: StopOutcome | 'error';
    try {
      outcome = await stopRun(ctx.lifecycle(), spec);
    } catch (error) {
      outcome = 'error';
      ctx.logger.error({ worker_id: spec.worker_id, err: error }, 'stop failed');
    }
    ctx.count('stops');
    const killed = workerEvent('worker_killed', spec, { reason: action.reason, detail: action.detail, outcome, pid: e.pid });
    try {
      // 'gone': it ended on its own before any signal; its exit record (or its absence) tells how, next pass.
      // Else the end is recorded with the event, so it is logged once even if this daemon is killed now.
      if (outcome !== 'error' && stopped(outcome)) await recordStop(ctx.lifecycle(), spec, outcome, action.reason, () => [killed]);
      else ctx.emit([killed]);
    } catch (error) {
      ctx.logger.error({ worker_id: spec.worker_id, err: error }, `cannot record the stop: ${describeError(error)}`);
    }
  });
  return Promise.resolve();
}

/** A check-in's session the spec does not record yet: the daemon keeps the latest in `execution.session_id`, for a resume after a restart. */
export interface SessionSeen {
  readonly workerId: string;
  readonly checkin: Checkin;
}

/** The new check-ins that name a session their running spec does not record yet. */
export function sessionsToRecord(observation: Pick<Observation, 'newCheckins' | 'workers'>): SessionSeen[] {
  const seen = new Map<string, SessionSeen>();
  for (const { workerId, checkin } of observation.newCheckins) {
    const spec = observation.workers.find((w) => w.spec.worker_id === workerId)?.spec;
    if (spec === undefined || spec.status !== 'running') continue;
    const session = sessionOfCheckin(spec, checkin);
    if (session !== null && session !== (spec.execution?.session_id ?? null)) seen.set(workerId, { workerId, checkin });
  }
  return [...seen.values()];
}

/** Records each session under its spec's lock, re-checked there (the same run, still running, not recorded yet). */
export async function recordSessions(ctx: ApplyContext, sessions: readonly SessionSeen[]): Promise<void> {
  for (const { workerId, checkin } of sessions) {
    await underLock(ctx, workerId, async (spec) => {
      const session = spec.status === 'running' ? sessionOfCheckin(spec, checkin) : null;
      if (session === null || session === (spec.execution?.session_id ?? null)) return;
      await writeSpec(ctx.paths, 'active', withSessionRecorded(spec, session), { existing: true });
      ctx.logger.info({ worker_id: workerId, session_id: session }, 'session recorded');
    });
  }
}
