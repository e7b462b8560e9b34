import type { WorkerType } from '../contract/worker-types.js';

/** A worker type's limits in milliseconds, as the decision core uses them. */
export interface Limits {
  readonly checkinTimeoutMs: number;
  readonly stallTimeoutMs: number;
  readonly timeLimitMs: number;
  readonly startupGraceMs: number;
  readonly maxRestarts: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly stopGraceMs: number;
  readonly healthyResetMs: number;
}

export function limitsOf(type: WorkerType): Limits {
  return {
    checkinTimeoutMs: type.checkin_timeout_seconds * 1000,
    stallTimeoutMs: type.stall_timeout_seconds * 1000,
    timeLimitMs: type.time_limit_seconds * 1000,
    startupGraceMs: type.startup_grace_seconds * 1000,
    maxRestarts: type.max_restarts,
    backoffBaseMs: type.restart_backoff_seconds * 1000,
    backoffMaxMs: Math.max(type.restart_backoff_max_seconds, type.restart_backoff_seconds) * 1000,
    stopGraceMs: type.stop_grace_seconds * 1000,
    healthyResetMs: type.healthy_reset_seconds * 1000,
  };
}
