import type { Checkin } from '../contract/checkin.js';
import type { WorkerSpec } from '../contract/worker-spec.js';
import type { WorkerType } from '../contract/worker-types.js';

/**
 * Session resume: which argv a start runs, `command` or the type's `resume_command` with the worker's
 * session. One pure function that the daemon's restarts and start-worker / restart-worker share.
 */

/** How a start runs: what it launches, whether it resumes a session, why not, and what the spec records of it. */
export interface LaunchChoice {
  readonly command: readonly string[];
  /** The type has a `resume_command` (else nothing is said of resuming). */
  readonly resumable: boolean;
  readonly resumed: boolean;
  /** The session it resumes, or the latest one known (null: none). */
  readonly sessionId: string | null;
  /** Why it does not resume, in words (null when it does, or when the type cannot resume at all). */
  readonly why: string | null;
  /** The spec's execution fields for the new run. */
  readonly execution: { readonly session_id: string | null; readonly resumed_session: string | null; readonly resume_failed_session: string | null };
}

/**
 * A session id that may be put into an argv: it comes from a check-in, which the worker writes, so one that
 * could read as an option (`--...`) or carries spaces or control characters is never resumed.
 */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,199}$/;

export const isSafeSessionId = (id: string): boolean => SESSION_ID_PATTERN.test(id);

/** Signals that mean a run was stopped (by an operator or a stop), not that it failed by itself. */
const STOP_SIGNALS = new Set(['SIGTERM', 'SIGKILL', 'SIGINT', 'SIGHUP']);

/**
 * The session a check-in names, when it belongs to the spec's last run (its run token, or, without one, a
 * time not before that run's start): the check-in file keeps only the latest, which may be newer than what
 * the daemon recorded in the spec. Else null.
 */
export function sessionOfCheckin(spec: WorkerSpec, checkin: Checkin | null | undefined): string | null {
  const session = checkin?.session_id ?? null;
  if (checkin === null || checkin === undefined || session === null || session === '') return null;
  const execution = spec.execution;
  const runId = execution?.run_id ?? null;
  if (checkin.run_id !== undefined && checkin.run_id !== null) return runId !== null && checkin.run_id === runId ? session : null;
  const startedAt = execution?.started_at ?? null;
  return startedAt !== null && Date.parse(checkin.timestamp) >= Date.parse(startedAt) - 1000 ? session : null;
}

/**
 * Whether the last run resumed a session and failed at once: it ended, not by a stop signal nor on a rate
 * limit, within the type's startup grace of its start (before it could have done anything). Its session, or null.
 */
export function failedResume(spec: WorkerSpec, startupGraceSeconds: number): string | null {
  const execution = spec.execution;
  const resumed = execution?.resumed_session ?? null;
  const startedAt = execution?.started_at ?? null;
  const endedAt = execution?.last_exit_at ?? null;
  if (resumed === null || startedAt === null || endedAt === null) return null;
  const ranMs = Date.parse(endedAt) - Date.parse(startedAt);
  if (!Number.isFinite(ranMs) || ranMs < 0) return null;
  if (execution?.exit_code === 0 || STOP_SIGNALS.has(execution?.signal ?? '')) return null;
  // A resumed run that ends on a rate limit (still limited, or a provider's 529) did not fail to resume:
  // its session is kept for the restart after the wait.
  const limitedAt = Date.parse(execution?.rate_limited_at ?? '');
  if (Number.isFinite(limitedAt) && limitedAt >= Date.parse(startedAt)) return null;
  return ranMs < startupGraceSeconds * 1000 ? resumed : null;
}

const seconds = (ms: number): string => `${Math.round(ms / 100) / 10}s`;

/**
 * The launch of a worker's next run. A type with `resume_command` resumes the worker's latest session
 * (the check-in's, else the spec's `execution.session_id`), unless there is none, or that session's resume
 * already failed at once: then the fresh `command` runs, and `why` says so.
 */
export function chooseLaunch(spec: WorkerSpec, type: Pick<WorkerType, 'command' | 'resume_command' | 'startup_grace_seconds'>, checkin?: Checkin | null): LaunchChoice {
  const execution = spec.execution;
  const session = sessionOfCheckin(spec, checkin) ?? execution?.session_id ?? null;
  const justFailed = failedResume(spec, type.startup_grace_seconds);
  const failed = justFailed ?? execution?.resume_failed_session ?? null;
  const fresh = (why: string | null): LaunchChoice => ({
    command: type.command,
    resumable: type.resume_command !== undefined,
    resumed: false,
    sessionId: session,
    why,
    execution: { session_id: session, resumed_session: null, resume_failed_session: failed },
  });
  if (type.resume_command === undefined) return fresh(null);
  if (session === null) return fresh(execution?.started_at == null ? 'first start: no session yet' : 'no session id recorded');
  if (!isSafeSessionId(session)) return fresh(`session id ${JSON.stringify(session.slice(0, 60))} is not a safe id (letters, digits, . _ : @ + = -, not starting with -): not resumed`);
  if (session === failed) {
    const ranMs = Date.parse(execution?.last_exit_at ?? '') - Date.parse(execution?.started_at ?? '');
    const how = justFailed !== null && Number.isFinite(ranMs) ? ` (it ended ${seconds(ranMs)} after its start, within the startup grace of ${type.startup_grace_seconds}s)` : '';
    return fresh(`resuming session ${session} failed at once${how}: started fresh with command`);
  }
  return {
    command: type.resume_command,
    resumable: true,
    resumed: true,
    sessionId: session,
    why: null,
    execution: { session_id: session, resumed_session: session, resume_failed_session: failed },
  };
}

/** What worker_started and worker_restarted say of the launch: nothing for a type that cannot resume. */
export function launchEventData(choice: LaunchChoice): Record<string, unknown> {
  if (!choice.resumable) return {};
  return choice.resumed ? { resumed: true, session_id: choice.sessionId } : { resumed: false, session_id: choice.sessionId, why: choice.why };
}
