import type { KnownEvent } from '../contract/activity.js';
import { isValidId } from '../contract/ids.js';
import type { EventInput } from '../store/activity-log.js';
import type { HealthState } from '../contract/pm-state.js';
import type { Action } from './actions.js';
import { decideRestart } from './backoff.js';
import { orderPending, orderTasks, workerIdForTask, type QueuedTask } from './dispatch.js';
import { assessHealth, type HealthAssessment, type WorkerView } from './health.js';
import { DEFAULT_TYPE_LIMITS, limitsOf, type Limits } from './limits.js';

const DEFAULT_LIMITS = limitsOf(DEFAULT_TYPE_LIMITS);

export interface PassInput {
  readonly now: number;
  readonly workers: readonly (WorkerView & { readonly createdAt: string })[];
  readonly limits: Readonly<Record<string, Limits>>;
  /**
   * Types removed from worker-types.json while workers of theirs are active: their last known limits. A
   * worker of a type not in `limits` is still supervised, under the limits its run started with, else
   * these, else the defaults; it is never started or restarted again.
   */
  readonly retiredLimits?: Readonly<Record<string, Limits>>;
  readonly previousHealth: ReadonlyMap<string, HealthState>;
  /** The guard held actions on the previous pass. */
  readonly heldLastPass: boolean;
  readonly queuedTasks: readonly QueuedTask[];
  readonly maxConcurrent: number;
  readonly massActionMin: number;
  readonly rand: () => number;
}

export interface PassPlan {
  readonly health: ReadonlyMap<string, HealthAssessment>;
  readonly actions: readonly Action[];
  /** Changes of health, each logged once, when it happens. */
  readonly events: readonly EventInput[];
  /** Workers whose destructive actions the guard held this pass (their health change is not yet recorded). */
  readonly heldWorkerIds: ReadonlySet<string>;
  readonly held: boolean;
  /** The earliest deadline at which time alone changes some worker's health: the shell wakes then. */
  readonly nextDeadline: number | null;
}

const TRANSITION_EVENTS: Partial<Record<HealthState, KnownEvent>> = {
  late: 'missed_checkin',
  stalled: 'worker_stalled',
  blocked: 'worker_blocked',
  zombie: 'zombie_detected',
};

/** One pass of decisions: health, remediation, dispatch and the guard. Pure: same input, same plan. */
export function decidePass(input: PassInput): PassPlan {
  const { now } = input;
  const health = new Map<string, HealthAssessment>();
  const actions: Action[] = [];
  const events: EventInput[] = [];
  const destructive = new Map<string, { actions: Action[]; events: EventInput[] }>();
  let running = 0;

  for (const view of input.workers) {
    // Every running spec holds a slot until it is pending or gone, whatever its health: a held verdict
    // or an unknown type never lets the fleet grow past the cap.
    // A pending spec whose old run is being stopped holds its slot until that run is gone.
    // A worker held by an operator whose process is gone holds no slot.
    const heldAndGone = view.held === true && view.process !== 'alive';
    if ((view.status === 'running' && !heldAndGone) || (view.status === 'pending' && view.stopping)) running += 1;
    const current = input.limits[view.workerType];
    const typeRemoved = current === undefined;
    const limits = current ?? view.startedLimits ?? input.retiredLimits?.[view.workerType] ?? DEFAULT_LIMITS;
    const assessment = assessHealth(view, limits, now);
    health.set(view.workerId, assessment);
    const ids = { worker_id: view.workerId, task_id: view.taskId };
    const workerActions: Action[] = [];
    const workerEvents: EventInput[] = [];
    let isDestructive = false;

    const previous = input.previousHealth.get(view.workerId);
    const transition = TRANSITION_EVENTS[assessment.state];
    if (transition !== undefined && previous !== assessment.state) {
      const event = assessment.timeLimitExceeded ? 'timeout_exceeded' : transition;
      workerEvents.push({ event, ...ids, data: { health_state: assessment.state, previous_state: previous ?? null, reason: assessment.reason } });
    }
    if (assessment.warningsDue.length > 0 && !assessment.timeLimitExceeded) {
      // Logged with the write that records them given (once, across daemon restarts).
      const warnings: EventInput[] = assessment.warningsDue.map((pct) => ({ event: 'timeout_warning', ...ids, data: { percent: pct, reason: assessment.reason } }));
      workerActions.push({ kind: 'record_warnings', workerId: view.workerId, pcts: assessment.warningsDue, events: warnings });
    }

    if (view.status === 'completed' || view.status === 'failed') {
      workerActions.push({ kind: 'finalize', workerId: view.workerId, status: view.status });
    } else if (view.held === true) {
      // The operator's hold: nothing is started, stopped, restarted or failed. Only a run that finished
      // on its own with exit 0 (before the signal reached it) is completed: the worker's own word.
      const exit = view.exit;
      if (view.status === 'running' && exit !== null && exit.exitCode === 0 && exit.signal === null && !view.stopping) {
        workerActions.push({ kind: 'complete', workerId: view.workerId, events: [{ event: 'worker_exited', ...ids, data: { exit_code: 0, signal: null, decision: 'complete' } }] });
      }
    } else if (view.status === 'running' && assessment.state === 'stalled' && !view.stopping) {
      workerActions.push({ kind: 'stop', workerId: view.workerId, reason: assessment.timeLimitExceeded ? 'time_limit' : 'stalled', detail: assessment.reason });
      isDestructive = true;
    } else if (view.status === 'running' && (assessment.state === 'exited' || assessment.zombie) && !view.stopping) {
      const exit = view.exit;
      // The exit code is the worker's own word: 0 with no signal is success, even if a stop was on its way
      // (it finished before the signal reached it). A worker interrupted by TERM exits non-zero or by the signal.
      if (exit !== null && exit.exitCode === 0 && exit.signal === null) {
        workerActions.push({ kind: 'complete', workerId: view.workerId, events: [{ event: 'worker_exited', ...ids, data: { exit_code: 0, signal: null, decision: 'complete' } }] });
      } else {
        const cause = assessment.zombie ? assessment.reason : describeExit(exit);
        const runMs = view.startedAt === null ? null : now - view.startedAt;
        const verdict = decideRestart(view.restartCount, runMs, limits, input.rand());
        const error = typeRemoved
          ? `${cause}; not restarted: worker type "${view.workerType}" is no longer in worker-types.json`
          : `${cause}; gave up after ${verdict.restartCount} restart${verdict.restartCount === 1 ? '' : 's'} (max_restarts ${limits.maxRestarts})`;
        // Once its type is gone there is nothing to restart it with: the run is over, and so is the worker.
        const giveUp = typeRemoved || verdict.kind === 'give_up';
        const decision =
          giveUp
            ? { decision: 'fail', error }
            : { decision: 'restart', restart_count: verdict.restartCount, delay_ms: verdict.delayMs, count_was_reset: verdict.countWasReset };
        // The event that says what was decided is logged with the change that carries the decision out: a
        // zombie's zombie_detected (taken from this pass's health events), else worker_exited.
        const changeEvents: EventInput[] = [];
        if (assessment.zombie) {
          const at = workerEvents.findIndex((e) => e.event === 'zombie_detected');
          if (at >= 0) workerEvents.splice(at, 1);
          changeEvents.push({ event: 'zombie_detected', ...ids, data: { health_state: assessment.state, previous_state: previous ?? null, reason: assessment.reason, ...decision } });
        } else {
          changeEvents.push({ event: 'worker_exited', ...ids, data: { exit_code: exit?.exitCode ?? null, signal: exit?.signal ?? null, stop_reason: exit?.stopReason ?? null, cause, ...decision } });
        }
        if (giveUp) {
          workerActions.push({ kind: 'fail', workerId: view.workerId, cause, zombie: assessment.zombie, error, events: changeEvents });
        } else {
          workerActions.push({ kind: 'schedule_restart', workerId: view.workerId, cause, zombie: assessment.zombie, restartCount: verdict.restartCount, delayMs: verdict.delayMs, countWasReset: verdict.countWasReset, events: changeEvents });
        }
        isDestructive = assessment.zombie;
      }
    }

    if (isDestructive) destructive.set(view.workerId, { actions: workerActions, events: workerEvents });
    else {
      actions.push(...workerActions);
      events.push(...workerEvents);
    }
  }

  // The guard: one pass that would kill or declare dead at least massActionMin workers and more than half
  // the fleet is more likely a clock jump or a /proc hiccup than a real mass death. Hold once; act if it persists.
  const fleet = input.workers.filter((w) => w.status === 'running').length;
  const held = destructive.size >= input.massActionMin && destructive.size * 2 > fleet && !input.heldLastPass;
  const heldWorkerIds = new Set<string>();
  if (held) {
    for (const id of destructive.keys()) heldWorkerIds.add(id);
    events.push({ event: 'actions_held', data: { workers: destructive.size, fleet, reason: `one pass would stop or declare dead ${destructive.size} of ${fleet} running workers; holding for one pass and re-checking`, worker_ids: [...destructive.keys()].slice(0, 50) } });
  } else {
    for (const { actions: a, events: e } of destructive.values()) {
      actions.push(...a);
      events.push(...e);
    }
  }

  actions.push(...planStarts(input, running, heldWorkerIds));
  let nextDeadline: number | null = null;
  for (const assessment of health.values()) {
    if (assessment.nextChangeAt !== null && (nextDeadline === null || assessment.nextChangeAt < nextDeadline)) nextDeadline = assessment.nextChangeAt;
  }
  return { health, actions, events, heldWorkerIds, held, nextDeadline };
}

function describeExit(exit: WorkerView['exit']): string {
  if (exit === null) return 'ended';
  if (exit.stopReason !== null) return `stopped: ${exit.stopReason}`;
  if (exit.signal !== null) return `killed by ${exit.signal}`;
  return `exited with code ${exit.exitCode}`;
}

/** Starts up to the concurrency cap: due pending specs first (restarts before new), then queued tasks. */
function planStarts(input: PassInput, running: number, held: ReadonlySet<string>): Action[] {
  let slots = input.maxConcurrent - running;
  const starts: Action[] = [];
  if (slots <= 0) return starts;
  const pending = input.workers
    .filter((w) => w.status === 'pending' && w.held !== true && input.limits[w.workerType] !== undefined && !held.has(w.workerId) && !w.stopping)
    .map((w) => ({ workerId: w.workerId, restartCount: w.restartCount, nextRestartAt: w.nextRestartAt, createdAt: w.createdAt }));
  for (const spec of orderPending(pending, input.now)) {
    if (slots <= 0) return starts;
    starts.push({ kind: 'start', workerId: spec.workerId, restart: spec.restartCount > 0 });
    slots -= 1;
  }
  const taken = new Set<string>();
  for (const task of orderTasks(input.queuedTasks)) {
    if (slots <= 0) break;
    if (input.limits[task.workerType] === undefined) continue;
    const workerId = workerIdForTask(task.taskId, task.workerType);
    if (taken.has(workerId) || !isValidId(workerId)) continue;
    taken.add(workerId);
    starts.push({ kind: 'dispatch', taskId: task.taskId, workerId, workerType: task.workerType });
    slots -= 1;
  }
  return starts;
}
