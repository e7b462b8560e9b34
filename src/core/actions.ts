import type { EventInput } from '../store/activity-log.js';

/**
 * What the decision core asks the daemon's shell to do. Each is applied under the worker's spec lock.
 * `events`: what the change logs, written into the spec with it (worker/outbox.ts) and appended after,
 * so it is logged exactly once, and only if the change is made.
 */
export type Action =
  /** Record the time-limit warnings given (so each is given once, across daemon restarts). */
  | { readonly kind: 'record_warnings'; readonly workerId: string; readonly pcts: readonly number[]; readonly events: readonly EventInput[] }
  /** Stop the process group (TERM, grace, KILL); its end is then recorded with the reason. */
  | { readonly kind: 'stop'; readonly workerId: string; readonly reason: 'stalled' | 'time_limit' | 'memory_limit'; readonly detail: string }
  /** Exit 0: to completed/. */
  | { readonly kind: 'complete'; readonly workerId: string; readonly events: readonly EventInput[] }
  /** Back to pending with a restart time; cause is what ended the run. */
  | {
      readonly kind: 'schedule_restart';
      readonly workerId: string;
      readonly cause: string;
      readonly restartCount: number;
      readonly delayMs: number;
      readonly countWasReset: boolean;
      readonly zombie: boolean;
      readonly events: readonly EventInput[];
      /** Its type's dispatch is paused: the restart waits for the pause's end even with no backoff. */
      readonly paused?: boolean;
      /** The run ended rate limited: the wait does not count against max_restarts; `waits` is the new `execution.rate_limit_waits`. */
      readonly rateLimit?: { readonly source: string; readonly waits: number; readonly resetKnown: boolean };
    }
  /** Give up: to failed/ with the error. */
  | { readonly kind: 'fail'; readonly workerId: string; readonly error: string; readonly cause: string; readonly zombie: boolean; readonly events: readonly EventInput[] }
  /** A spec already completed or failed but still in active/ (its move was interrupted): move it, settle its task. */
  | { readonly kind: 'finalize'; readonly workerId: string; readonly status: 'completed' | 'failed' }
  /** Start a pending spec now. */
  | { readonly kind: 'start'; readonly workerId: string; readonly restart: boolean }
  /** Pause dispatch and restarts of every type of a rate-limited provider until `untilAt` (daemon clock ms). */
  | { readonly kind: 'pause_provider'; readonly provider: string; readonly types: readonly string[]; readonly untilAt: number; readonly workerIds: readonly string[] }
  /** Turn a queued task into a spec and start it. */
  | { readonly kind: 'dispatch'; readonly taskId: string; readonly workerId: string; readonly workerType: string };

export type ActionKind = Action['kind'];
