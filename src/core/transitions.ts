import type { SpecStatus, StopHold, WorkerSpec } from '../contract/worker-spec.js';
import { normalizeExecution } from '../contract/worker-spec.js';
import { RelayError } from '../errors.js';

/**
 * Every change of a spec's state, built in one place: pure functions of (spec, facts) that return the
 * next spec. The daemon, the commands and zombie cleanup all call these; none builds a spec state by hand.
 *
 * A spec's status, and what may follow it:
 *
 * - `pending`: waiting to start (new, or in backoff until `next_restart_at`). Holds no process.
 *   → `running` (started), `failed` (cannot be started, or failed by an operator).
 * - `running`: a run was started; `execution` records its process (pid, start ticks, boot id, run_id).
 *   When that run ends, its end is recorded in place (`pid` null, exit code or signal, `last_exit_at`,
 *   `stop_reason`) and the status stays `running` until the restart policy decides:
 *   → `running` (end recorded; or started again by hand once its process is gone),
 *     `pending` (restart scheduled), `completed` (exit 0), `failed` (gave up, zombie, operator).
 * - `completed`, `failed`: final. The spec moves out of `active/` into the folder of that name
 *   (written in place first, then one rename); nothing changes it again.
 *
 * The operator's hold (`execution.stopped`, `withStopHold`) is not a status: a `pending` or `running`
 * spec keeps its status and gains the hold, written under the spec lock before any signal is sent.
 * While it is set the daemon never starts, restarts or fails the worker, never calls its end a crash
 * (restart_count is never raised for it) and does not count it against the concurrency cap once its
 * process is gone. It is cleared only by `toRunning` (start-worker, restart-worker) or ends with the
 * spec (`toFailed` by fail-worker, `toCompleted` when the run had already finished with exit 0).
 */
export const SPEC_TRANSITIONS: Readonly<Record<SpecStatus, readonly SpecStatus[]>> = {
  pending: ['running', 'failed'],
  running: ['running', 'pending', 'completed', 'failed'],
  completed: [],
  failed: [],
};

export function canTransition(from: SpecStatus, to: SpecStatus): boolean {
  return SPEC_TRANSITIONS[from].includes(to);
}

/** A transition the table does not allow is refused, never written. */
function assertTransition(spec: WorkerSpec, to: SpecStatus): void {
  if (!canTransition(spec.status, to)) throw wrongState(spec, to);
}

const wrongState = (spec: WorkerSpec, to: string): RelayError =>
  new RelayError('WRONG_STATE', `worker "${spec.worker_id}" has status ${spec.status}: it cannot become ${to}`, { details: { from: spec.status, to } });

/** How a run ended. `at` (ISO) is when, when it ended just now; without it `last_exit_at` is left as it is. */
export interface RunEnd {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly at?: string;
  /** Why it was stopped (stalled, time_limit, manual, ...); without it `stop_reason` is left as it is. */
  readonly stopReason?: string | null;
}

function endFields(end: RunEnd): Record<string, unknown> {
  return {
    pid: null,
    exit_code: end.exitCode,
    signal: end.signal,
    ...(end.at === undefined ? {} : { last_exit_at: end.at }),
    ...(end.stopReason === undefined ? {} : { stop_reason: end.stopReason }),
  };
}

/** The process a new run started with. */
export interface RunStart {
  readonly pid: number;
  /** null only when /proc could not be read at the start. */
  readonly startTicks: number | null;
  readonly bootId: string;
  readonly host: string;
  readonly runId: string;
  /** ISO */
  readonly startedAt: string;
  /**
   * The limits of the worker's type this run starts under (recorded as `execution.type_limits`): a run whose
   * type is later removed from worker-types.json is supervised under them, across daemon restarts too.
   */
  readonly typeLimits?: Readonly<Record<string, number | string>>;
  /** The agent session this run carries on (core/resume.ts chooseLaunch): `session_id`, `resumed_session`, `resume_failed_session`. */
  readonly session?: { readonly session_id: string | null; readonly resumed_session: string | null; readonly resume_failed_session: string | null };
}

/** Before the spawn: the new run's token, so a starter killed in between leaves a trace of the run. */
export function withLaunchRecorded(spec: WorkerSpec, runId: string): WorkerSpec {
  return { ...spec, execution: { ...spec.execution, launching_run_id: runId } };
}

/**
 * pending or running → the same status, held by an operator (stop-worker, or fail-worker's claim): see
 * above. A pending spec's backoff is dropped (it waits for a start, not a time).
 */
export function withStopHold(spec: WorkerSpec, hold: StopHold): WorkerSpec {
  if (spec.status !== 'pending' && spec.status !== 'running') throw wrongState(spec, `${spec.status} and stopped`);
  return { ...spec, execution: { ...normalizeExecution(spec.execution), stopped: hold, ...(spec.status === 'pending' ? { next_restart_at: null } : {}) } };
}

/** pending (or running with its process gone) → running: the new run's identity; what the last run left is cleared. */
export function toRunning(spec: WorkerSpec, run: RunStart): WorkerSpec {
  assertTransition(spec, 'running');
  return {
    ...spec,
    status: 'running',
    error: null,
    execution: {
      ...normalizeExecution(spec.execution),
      pid: run.pid,
      process_start_ticks: run.startTicks,
      boot_id: run.bootId,
      host: run.host,
      run_id: run.runId,
      started_at: run.startedAt,
      completed_at: null,
      exit_code: null,
      signal: null,
      next_restart_at: null,
      timeout_warnings: [],
      stop_reason: null,
      launching_run_id: null,
      stopped: null,
      ...(run.typeLimits === undefined ? {} : { type_limits: { ...run.typeLimits } }),
      ...(run.session === undefined ? {} : { ...run.session }),
    },
  };
}

/** running → running: the run ended (exit, signal or stop) and is recorded; the restart policy decides next. */
export function withRunEnded(spec: WorkerSpec, end: RunEnd): WorkerSpec {
  // Only a running spec has a run to end: running → running, never pending → running.
  if (spec.status !== 'running') throw wrongState(spec, 'running with its run ended');
  return { ...spec, execution: { ...normalizeExecution(spec.execution), ...endFields(end) } };
}

/**
 * running → running: the daemon is about to stop this run, for `reason` (stalled, time_limit). Written
 * before the first signal, so that a run found gone with no exit record after a daemon was killed
 * mid-stop is read as ended by this stop (core/run-state.ts), not as a zombie.
 */
export function withStopRequested(spec: WorkerSpec, reason: string): WorkerSpec {
  if (spec.status !== 'running') throw wrongState(spec, 'running with a stop requested');
  return { ...spec, execution: { ...spec.execution, stop_reason: reason } };
}

/** running → running: the agent's latest session, from a check-in of the current run, kept for a resume after a restart. */
export function withSessionRecorded(spec: WorkerSpec, sessionId: string): WorkerSpec {
  if (spec.status !== 'running') throw wrongState(spec, 'running with a session recorded');
  return { ...spec, execution: { ...spec.execution, session_id: sessionId } };
}

/** The time-limit warnings given for this run, so each is given once across daemon restarts. */
export function withWarningsGiven(spec: WorkerSpec, pcts: readonly number[]): WorkerSpec {
  const given = new Set([...(spec.execution?.timeout_warnings ?? []), ...pcts]);
  return { ...spec, execution: { ...spec.execution, timeout_warnings: [...given].sort((a, b) => a - b) } };
}

export interface RestartFacts {
  /** What ended the last run; kept as `error` until the next run starts. */
  readonly cause: string | null;
  /** How the last run ended, when it just did. */
  readonly end?: RunEnd;
  /** The restart count after this restart (the daemon's policy); unchanged when omitted (a manual restart). */
  readonly restartCount?: number;
  /** When it may start (ISO); null: at once. */
  readonly nextRestartAt: string | null;
  /** The run ended rate limited: the new count of rate-limit waits, and when (ISO). */
  readonly rateLimit?: { readonly waits: number; readonly at: string };
}

/** running → pending: waits for its restart (at once, or in backoff). */
export function toPending(spec: WorkerSpec, facts: RestartFacts): WorkerSpec {
  assertTransition(spec, 'pending');
  return {
    ...spec,
    status: 'pending',
    error: facts.cause,
    execution: {
      ...normalizeExecution(spec.execution),
      ...(facts.end === undefined ? {} : endFields(facts.end)),
      pid: null,
      stop_reason: null,
      ...(facts.restartCount === undefined ? {} : { restart_count: facts.restartCount }),
      next_restart_at: facts.nextRestartAt,
      ...(facts.rateLimit === undefined ? {} : { rate_limit_waits: facts.rateLimit.waits, rate_limited_at: facts.rateLimit.at }),
    },
  };
}

/** running → completed: exit 0 at `at` (ISO). */
export function toCompleted(spec: WorkerSpec, at: string): WorkerSpec {
  assertTransition(spec, 'completed');
  return {
    ...spec,
    status: 'completed',
    error: null,
    execution: { ...normalizeExecution(spec.execution), pid: null, exit_code: 0, signal: null, completed_at: at, last_exit_at: at, next_restart_at: null },
  };
}

/**
 * pending or running → failed at `at` (ISO) with `error` saying why. `end`: how its last run ended, when
 * known (the exit code or signal; `at` and `stopReason` when it ended just now).
 */
export function toFailed(spec: WorkerSpec, error: string, at: string, end?: RunEnd): WorkerSpec {
  assertTransition(spec, 'failed');
  return {
    ...spec,
    status: 'failed',
    error,
    execution: { ...normalizeExecution(spec.execution), ...(end === undefined ? {} : endFields(end)), pid: null, completed_at: at, next_restart_at: null },
  };
}
