import { HEARTBEATS, WORKER_TYPE_DEFAULTS, type Heartbeat, type WorkerType } from '../contract/worker-types.js';

export const MIB = 1024 * 1024;

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
  /** What counts as a sign of life (the type's `heartbeat`); absent: check-ins. */
  readonly heartbeat?: Heartbeat;
  /** Blocked (waiting for a person) this long is handled like a stall; null or absent: never. */
  readonly blockedTimeoutMs?: number | null;
  /** A run whose sampled resident memory (whole run) is over this is stopped; null or absent: no limit. */
  readonly memoryLimitBytes?: number | null;
}

/** The limits of a type, in the type's own words (seconds): what a spec records of its type when a run starts (`execution.type_limits`). */
export const LIMIT_FIELDS = [
  'time_limit_seconds',
  'checkin_timeout_seconds',
  'stall_timeout_seconds',
  'startup_grace_seconds',
  'max_restarts',
  'restart_backoff_seconds',
  'restart_backoff_max_seconds',
  'stop_grace_seconds',
  'healthy_reset_seconds',
] as const;
export type LimitField = (typeof LIMIT_FIELDS)[number];
/** Besides the numbers every type has: the agent keys a supervised run keeps once its type is gone, when its type set them. */
export type TypeLimits = Readonly<Record<LimitField, number>> & { readonly blocked_timeout_seconds?: number; readonly heartbeat?: Heartbeat; readonly memory_limit_mb?: number };

export function typeLimitsOf(
  type: Pick<WorkerType, LimitField> & { readonly blocked_timeout_seconds?: number | undefined; readonly heartbeat?: Heartbeat | undefined; readonly memory_limit_mb?: number | undefined },
): TypeLimits {
  return {
    ...(Object.fromEntries(LIMIT_FIELDS.map((f) => [f, type[f]])) as Record<LimitField, number>),
    ...(type.blocked_timeout_seconds !== undefined ? { blocked_timeout_seconds: type.blocked_timeout_seconds } : {}),
    ...(type.memory_limit_mb !== undefined ? { memory_limit_mb: type.memory_limit_mb } : {}),
    ...(type.heartbeat !== undefined && type.heartbeat !== 'checkin' ? { heartbeat: type.heartbeat } : {}),
  };
}

export function limitsOf(type: WorkerType | TypeLimits): Limits {
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
    heartbeat: ('heartbeat' in type ? type.heartbeat : undefined) ?? 'checkin',
    blockedTimeoutMs: 'blocked_timeout_seconds' in type && type.blocked_timeout_seconds !== undefined ? type.blocked_timeout_seconds * 1000 : null,
    memoryLimitBytes: type.memory_limit_mb !== undefined ? Math.round(type.memory_limit_mb * MIB) : null,
  };
}

/** The limits every field of which is the contract's default. */
export const DEFAULT_TYPE_LIMITS: TypeLimits = typeLimitsOf(WORKER_TYPE_DEFAULTS);

/**
 * A spec's recorded `execution.type_limits`, read leniently: a field missing or not a non-negative number
 * takes the default; not an object at all is undefined (a spec started before limits were recorded).
 */
export function recordedTypeLimits(recorded: unknown): TypeLimits | undefined {
  if (typeof recorded !== 'object' || recorded === null || Array.isArray(recorded)) return undefined;
  const source = recorded as Record<string, unknown>;
  const blocked = source.blocked_timeout_seconds;
  const heartbeat = source.heartbeat;
  const memory = source.memory_limit_mb;
  return {
    ...(Object.fromEntries(
      LIMIT_FIELDS.map((f) => {
        const v = source[f];
        return [f, typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : DEFAULT_TYPE_LIMITS[f]];
      }),
    ) as Record<LimitField, number>),
    ...(typeof blocked === 'number' && Number.isFinite(blocked) && blocked >= 0 ? { blocked_timeout_seconds: blocked } : {}),
    ...(typeof heartbeat === 'string' && (HEARTBEATS as readonly string[]).includes(heartbeat) ? { heartbeat: heartbeat as Heartbeat } : {}),
    ...(typeof memory === 'number' && Number.isFinite(memory) && memory > 0 ? { memory_limit_mb: memory } : {}),
  };
}
