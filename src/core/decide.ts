import type { KnownEvent } from '../contract/activity.js';
import { isValidId } from '../contract/ids.js';
import type { EventInput } from '../store/activity-log.js';
import type { HealthState } from '../contract/pm-state.js';
import type { Action } from './actions.js';
import { backoffDelayMs, decideRestart } from './backoff.js';
import { RATE_LIMIT_WINDOW_MS, rateLimitOfEnd, type RateLimitPolicy } from './rate-limits.js';
import { orderPending, orderTasks, workerIdForTask, type QueuedTask } from './dispatch.js';
import { assessHealth, type HealthAssessment, type HealthMemo, type RunMemory, type WorkerView } from './health.js';
import { DEFAULT_TYPE_LIMITS, limitsOf, MIB, type Limits } from './limits.js';

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
  /** Each type's rate-limit policy (types without one have none). */
  readonly rateLimits?: Readonly<Record<string, RateLimitPolicy>>;
  /** Types whose dispatch is paused now (dispatch-pauses.json): nothing of theirs starts or restarts. */
  readonly pausedTypes?: { readonly all: boolean; readonly types: ReadonlySet<string> };
  /** Providers a rate-limit pause already covers: not paused again. */
  readonly rateLimitPausedProviders?: ReadonlySet<string>;
  /** The health assessments of earlier passes, reused where the view and the limits are the same objects (HealthMemo). */
  readonly healthMemo?: HealthMemo;
  /**
   * Each running worker's memory at the last resource sample (every process carrying its run's token), by worker id;
   * absent or null: not sampled. Beside the views, not in them: a sample leaves the views as they were, and with them
   * every memoized health assessment.
   */
  readonly memoryOf?: (workerId: string) => RunMemory | null | undefined;
}

/** A worker seen rate limited lately, for the provider's count. */
interface RecentLimit {
  readonly provider: string;
  readonly workerId: string;
  readonly resetAt: number | null;
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

/** States that are no change to log (none in TRANSITION_EVENTS) and ask for no action of their own. */
const QUIET_STATES: ReadonlySet<HealthState> = new Set<HealthState>(['healthy', 'starting', 'backoff']);

/** One pass of decisions: health, remediation, dispatch and the guard. Pure: same input, same plan. */
export function decidePass(input: PassInput): PassPlan {
  const health = new Map<string, HealthAssessment>();
  const actions: Action[] = [];
  const events: EventInput[] = [];
  const destructive = new Map<string, { actions: Action[]; events: EventInput[] }>();
  let running = 0;
  const paused = new Set<string>(input.pausedTypes?.types ?? []);
  const allPaused = input.pausedTypes?.all === true;
  const isPaused = (type: string): boolean => allPaused || paused.has(type);
  const recentLimits: RecentLimit[] = [];
  const memo = input.healthMemo;
  memo?.begin();

  for (const view of input.workers) {
    // Every running spec holds a slot until it is pending or gone, whatever its health: a held verdict
    // or an unknown type never lets the fleet grow past the cap.
    // A pending spec whose old run is being stopped holds its slot until that run is gone.
    // A worker held by an operator whose process is gone holds no slot.
    const heldAndGone = view.held === true && view.process !== 'alive';
    if ((view.status === 'running' && !heldAndGone) || (view.status === 'pending' && view.stopping)) running += 1;
    const decided = decideWorker(view, input, isPaused);
    health.set(view.workerId, decided.assessment);
    if (decided.rateLimited !== undefined) recentLimits.push(decided.rateLimited);
    if (decided.destructive) destructive.set(view.workerId, { actions: decided.actions, events: decided.events });
    else {
      actions.push(...decided.actions);
      events.push(...decided.events);
    }
  }

  memo?.end(input.workers.length);

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

  const pauses = planProviderPauses(input, recentLimits, paused);
  if (pauses.length > 0) {
    // A provider paused by this very pass: its restarts scheduled above wait for the pause's end too.
    const typeOf = new Map(input.workers.map((w) => [w.workerId, w.workerType]));
    for (const [i, a] of actions.entries()) {
      if (a.kind === 'schedule_restart' && a.paused !== true && isPaused(typeOf.get(a.workerId) ?? '')) actions[i] = { ...a, paused: true };
    }
  }
  actions.push(...pauses);
  actions.push(...planStarts(input, running, heldWorkerIds, isPaused));
  let nextDeadline: number | null = null;
  for (const assessment of health.values()) {
    if (assessment.nextChangeAt !== null && (nextDeadline === null || assessment.nextChangeAt < nextDeadline)) nextDeadline = assessment.nextChangeAt;
  }
  return { health, actions, events, heldWorkerIds, held, nextDeadline };
}

/** What one pass decides for one worker: its health, its actions and events (destructive ones are the guard's to hold). */
export interface WorkerDecision {
  readonly assessment: HealthAssessment;
  readonly actions: Action[];
  readonly events: EventInput[];
  /** Stops and declarations of death, which the mass-action guard may hold (decidePass). */
  readonly destructive: boolean;
  /** A rate-limited end decided now, for its provider's count (planProviderPauses). */
  readonly rateLimited?: RecentLimit;
}

/**
 * One worker's part of a pass (decidePass): its health, and what to do about it. Pure. The fleet's part (the slots, the
 * mass-action guard, provider pauses, starts) is decidePass's; a worker decided alone is decided as the pass would.
 */
export function decideWorker(
  view: PassInput['workers'][number],
  input: Pick<PassInput, 'now' | 'limits' | 'retiredLimits' | 'previousHealth' | 'rand' | 'rateLimits' | 'healthMemo' | 'memoryOf'>,
  isPaused: (type: string) => boolean,
): WorkerDecision {
  const { now } = input;
  const current = input.limits[view.workerType];
  const typeRemoved = current === undefined;
  const limits = current ?? view.startedLimits ?? input.retiredLimits?.[view.workerType] ?? DEFAULT_LIMITS;
  const memo = input.healthMemo;
  const assessment = memo === undefined ? assessHealth(view, limits, now) : memo.assess(view, limits, now);
  // Healthy, starting or waiting, with no warning due and no memory over its limit: nothing to decide for it
  // (what starts is planStarts'), and no event (none of these states is logged as a change).
  if (QUIET_STATES.has(assessment.state) && assessment.warningsDue.length === 0 && (view.status === 'pending' || (view.status === 'running' && view.exit === null && (view.stopping || overMemoryLimit(view, limits, input.memoryOf) === undefined)))) return { assessment, actions: [], events: [], destructive: false };
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
    const warnings: EventInput[] = assessment.warningsDue.map((pct) => ({ event: 'timeout_warning', ...ids, data: { percent: pct, elapsed_seconds: Math.round((now - (view.startedAt ?? now)) / 1000), limit_seconds: Math.round(limits.timeLimitMs / 1000), reason: assessment.reason } }));
    workerActions.push({ kind: 'record_warnings', workerId: view.workerId, pcts: assessment.warningsDue, events: warnings });
  }

  const overMemory = view.status === 'running' && !view.stopping ? overMemoryLimit(view, limits, input.memoryOf) : undefined;
  if (view.status === 'completed' || view.status === 'failed') {
    workerActions.push({ kind: 'finalize', workerId: view.workerId, status: view.status });
  } else if (view.held === true) {
    // The operator's hold: nothing is started, stopped, restarted or failed. Only a run that finished
    // on its own with exit 0 (before the signal reached it) is completed: the worker's own word.
    const exit = view.exit;
    if (view.status === 'running' && exit !== null && exit.exitCode === 0 && exit.signal === null && !view.stopping) {
      workerActions.push({ kind: 'complete', workerId: view.workerId, events: [{ event: 'worker_exited', ...ids, data: { exit_code: 0, signal: null, decision: 'complete' } }] });
    }
  } else if (overMemory !== undefined) {
    // Like PM2's max_memory_restart, for the whole run: stopped, then its end is a crash (restart with backoff, max_restarts).
    const { memory, limit } = overMemory;
    const biggest = memory.biggest;
    workerEvents.push({
      event: 'memory_limit_exceeded',
      ...ids,
      data: { rss_bytes: memory.rssBytes, limit_bytes: limit, processes: memory.processes, biggest_pid: biggest?.pid ?? null, biggest_command: biggest?.command ?? null, biggest_rss_bytes: biggest?.rssBytes ?? null },
    });
    const detail = `resident memory ${mib(memory.rssBytes)} MiB over ${processesWord(memory.processes)} is over its memory limit of ${mib(limit)} MiB`;
    workerActions.push({ kind: 'stop', workerId: view.workerId, reason: 'memory_limit', detail });
    isDestructive = true;
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
      const cause = assessment.zombie ? assessment.reason : describeExit(exit, limits);
      const policy = typeRemoved ? undefined : input.rateLimits?.[view.workerType];
      const limited = policy === undefined || assessment.zombie ? null : rateLimitOfEnd(view, policy);
      if (policy !== undefined && limited !== null) {
        let rateLimited: RecentLimit | undefined;
        // A rate limit is not a crash: the restart waits for the reset (else its own backoff) and max_restarts is left alone.
        const waits = (view.rateLimitWaits ?? 0) + 1;
        const rateLimitData = { rate_limited: true, source: limited.source, rate_limit_waits: waits, max_rate_limit_waits: policy.maxWaits };
        if (waits > policy.maxWaits) {
          const error = `${cause}; rate limited ${waits} times, more than max_rate_limit_waits ${policy.maxWaits}`;
          const changeEvents: EventInput[] = [{ event: 'worker_exited', ...ids, data: { exit_code: exit?.exitCode ?? null, signal: exit?.signal ?? null, stop_reason: null, cause, ...rateLimitData, decision: 'fail', error } }];
          workerActions.push({ kind: 'fail', workerId: view.workerId, cause, zombie: false, error, events: changeEvents });
        } else {
          const delayMs = limited.resetAt !== null ? Math.max(0, Math.round(limited.resetAt - now)) : backoffDelayMs(waits - 1, limits.backoffBaseMs, limits.backoffMaxMs, input.rand());
          const changeEvents: EventInput[] = [{ event: 'worker_exited', ...ids, data: { exit_code: exit?.exitCode ?? null, signal: exit?.signal ?? null, stop_reason: null, cause, ...rateLimitData, decision: 'rate_limit_wait', restart_count: view.restartCount, delay_ms: delayMs } }];
          workerActions.push({
            kind: 'schedule_restart',
            workerId: view.workerId,
            cause: `rate limited (${limited.source}): ${cause}`,
            zombie: false,
            restartCount: view.restartCount,
            delayMs,
            countWasReset: false,
            events: changeEvents,
            ...(isPaused(view.workerType) ? { paused: true } : {}),
            rateLimit: { source: limited.source, waits, resetKnown: limited.resetAt !== null },
          });
          rateLimited = { provider: policy.provider, workerId: view.workerId, resetAt: now + delayMs };
        }
        return { assessment, actions: workerActions, events: workerEvents, destructive: false, ...(rateLimited === undefined ? {} : { rateLimited }) };
      }
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
        workerActions.push({ kind: 'schedule_restart', workerId: view.workerId, cause, zombie: assessment.zombie, restartCount: verdict.restartCount, delayMs: verdict.delayMs, countWasReset: verdict.countWasReset, events: changeEvents, ...(isPaused(view.workerType) ? { paused: true } : {}) });
      }
      isDestructive = assessment.zombie;
    }
  }

  return { assessment, actions: workerActions, events: workerEvents, destructive: isDestructive };
}

/**
 * A provider outage: when `rate_limit_pause_threshold` workers of one provider were rate limited within
 * RATE_LIMIT_WINDOW_MS and still waiting (a running worker that checked in rate_limited with a retry_at
 * ahead, a rate-limited end waiting for its restart, or one decided this pass), dispatch and restarts of every type of that provider pause until
 * the latest reset known (else the longest backoff). The paused types are added to `paused` for this pass.
 */
function planProviderPauses(input: PassInput, decided: readonly RecentLimit[], paused: Set<string>): Action[] {
  const policies = input.rateLimits ?? {};
  const { now } = input;
  const recent: RecentLimit[] = [...decided];
  const counted = new Set(decided.map((r) => r.workerId));
  for (const view of input.workers) {
    // Only a rate-limited check-in or end counts (checked first: most workers have neither).
    if (view.checkinStatus !== 'rate_limited' && (view.rateLimitedAt ?? null) === null) continue;
    const policy = policies[view.workerType];
    if (policy === undefined || counted.has(view.workerId)) continue;
    // Only workers still waiting count: once their resets have passed (and a pause with them), they do not pause the provider again.
    const retryAt = view.retryAt ?? null;
    if (view.status === 'running' && view.exit === null && view.checkinStatus === 'rate_limited' && view.lastCheckinAt !== null && now - view.lastCheckinAt <= RATE_LIMIT_WINDOW_MS && retryAt !== null && retryAt > now) {
      recent.push({ provider: policy.provider, workerId: view.workerId, resetAt: retryAt });
    } else if (view.status === 'pending' && view.rateLimitedAt != null && now - view.rateLimitedAt <= RATE_LIMIT_WINDOW_MS && view.nextRestartAt !== null && view.nextRestartAt > now) {
      recent.push({ provider: policy.provider, workerId: view.workerId, resetAt: view.nextRestartAt });
    }
  }
  const byProvider = new Map<string, RecentLimit[]>();
  for (const r of recent) byProvider.set(r.provider, [...(byProvider.get(r.provider) ?? []), r]);
  const actions: Action[] = [];
  for (const [provider, limited] of byProvider) {
    if (input.rateLimitPausedProviders?.has(provider) === true) continue;
    const types = Object.keys(policies).filter((t) => policies[t]?.provider === provider).sort();
    const threshold = Math.min(...types.map((t) => policies[t]?.pauseThreshold ?? Infinity));
    if (limited.length < threshold) continue;
    const resets = limited.map((r) => r.resetAt).filter((t): t is number => t !== null && t > now);
    const fallback = Math.max(...types.map((t) => input.limits[t]?.backoffMaxMs ?? 0), 60_000);
    const untilAt = resets.length > 0 ? Math.max(...resets) : now + fallback;
    for (const t of types) paused.add(t);
    actions.push({ kind: 'pause_provider', provider, types, untilAt, workerIds: limited.map((r) => r.workerId).sort() });
  }
  return actions;
}

function describeExit(exit: WorkerView['exit'], limits: Limits): string {
  if (exit === null) return 'ended';
  if (exit.stopReason === 'memory_limit') {
    const limit = limits.memoryLimitBytes ?? null;
    return `stopped: over its memory limit${limit === null ? '' : ` (memory_limit_mb ${mib(limit)})`}`;
  }
  if (exit.stopReason !== null) return `stopped: ${exit.stopReason}`;
  if (exit.signal !== null) return `killed by ${exit.signal}`;
  return `exited with code ${exit.exitCode}`;
}

/** A live run whose last sampled resident memory is over its type's limit: the sample and the limit; else undefined. */
function overMemoryLimit(view: WorkerView, limits: Limits, memoryOf: PassInput['memoryOf']): { memory: RunMemory; limit: number } | undefined {
  const limit = limits.memoryLimitBytes ?? null;
  if (limit === null || view.process !== 'alive' || view.exit !== null) return undefined;
  const memory = memoryOf?.(view.workerId) ?? null;
  return memory !== null && memory.rssBytes > limit ? { memory, limit } : undefined;
}

const mib = (bytes: number): number => Math.round((bytes / MIB) * 10) / 10;
const processesWord = (n: number): string => `${n} process${n === 1 ? '' : 'es'}`;

/** Starts up to the concurrency cap: due pending specs first (restarts before new), then queued tasks. */
function planStarts(input: PassInput, running: number, held: ReadonlySet<string>, isPaused: (type: string) => boolean): Action[] {
  let slots = input.maxConcurrent - running;
  const starts: Action[] = [];
  if (slots <= 0) return starts;
  const pending = input.workers
    .filter((w) => w.status === 'pending' && w.held !== true && input.limits[w.workerType] !== undefined && !held.has(w.workerId) && !w.stopping && !isPaused(w.workerType))
    .map((w) => ({ workerId: w.workerId, restartCount: w.restartCount, nextRestartAt: w.nextRestartAt, createdAt: w.createdAt }));
  for (const spec of orderPending(pending, input.now)) {
    if (slots <= 0) return starts;
    starts.push({ kind: 'start', workerId: spec.workerId, restart: spec.restartCount > 0 });
    slots -= 1;
  }
  const taken = new Set<string>();
  for (const task of orderTasks(input.queuedTasks)) {
    if (slots <= 0) break;
    if (input.limits[task.workerType] === undefined || isPaused(task.workerType)) continue;
    const workerId = workerIdForTask(task.taskId, task.workerType);
    if (taken.has(workerId) || !isValidId(workerId)) continue;
    taken.add(workerId);
    starts.push({ kind: 'dispatch', taskId: task.taskId, workerId, workerType: task.workerType });
    slots -= 1;
  }
  return starts;
}
