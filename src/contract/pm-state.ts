import { z } from 'zod';
import { isoTimestamp } from './time.js';

export const HEALTH_STATES = ['starting', 'healthy', 'late', 'stalled', 'zombie', 'exited', 'backoff', 'blocked'] as const;
export type HealthState = (typeof HEALTH_STATES)[number];

// Fields the daemon writes but older files may lack are optional, so `validate` accepts both.
export const monitoredWorkerSchema = z.looseObject({
  worker_id: z.string(),
  task_id: z.string().nullable(),
  worker_type: z.string(),
  health_state: z.enum(HEALTH_STATES),
  health_reason: z.string().nullable().optional(),
  status: z.string().optional(),
  last_checkin: isoTimestamp.nullable(),
  checkin_count: z.number().int().nonnegative(),
  checkin_status: z.string().nullable().optional(),
  checkin_message: z.string().nullable().optional(),
  /** When its output log last grew in this run (a type whose `heartbeat` counts output), else null. */
  last_output: z.string().nullable().optional(),
  /** The agent session a restart would resume (`execution.session_id`). */
  session_id: z.string().nullable().optional(),
  /** The worker's own git worktree (a type's `workspace`), or null. */
  workspace: z.string().nullable().optional(),
  progress_pct: z.number().nullable(),
  restart_count: z.number().int().nonnegative(),
  pid: z.number().int().nullable(),
  started_at: z.string().nullable().optional(),
  next_restart_at: z.string().nullable().optional(),
  /** Held by an operator's stop-worker (or fail-worker at work): never started or restarted by the daemon. */
  stopped: z.boolean().optional(),
  stopped_at: z.string().nullable().optional(),
  stopped_by: z.string().nullable().optional(),
  stopped_reason: z.string().nullable().optional(),
  stop_action: z.string().nullable().optional(),
  last_exit: z.looseObject({ exit_code: z.number().int().nullable(), signal: z.string().nullable() }).nullable().optional(),
  /** The run's CPU and resident memory (all its processes) at the daemon's last resource sample; absent until sampled. */
  resources: z
    .looseObject({
      cpu_percent: z.number().nullable(),
      rss_bytes: z.number().nonnegative(),
      processes: z.number().int().nonnegative(),
      sampled_at: isoTimestamp,
    })
    .optional(),
});

export const pmDaemonSchema = z.looseObject({
  pid: z.number().int(),
  started_at: isoTimestamp,
  last_loop: isoTimestamp.nullable(),
  loops_completed: z.number().int().nonnegative(),
  loop_interval_seconds: z.number().positive().optional(),
  last_pass_ms: z.number().nonnegative().optional(),
  host: z.string().optional(),
  metrics: z.looseObject({ host: z.string(), port: z.number().int() }).nullable().optional(),
});

/** The dispatch pauses in force (dispatch-pauses.json, as the daemon last read it). */
export const dispatchStateSchema = z.looseObject({
  paused: z.boolean(),
  pauses: z.array(
    z.looseObject({
      scope: z.string(),
      type: z.string().nullable(),
      reason: z.string().nullable(),
      until: z.string().nullable(),
      by: z.string(),
      at: z.string(),
    }),
  ),
});

export const pmStateSchema = z.looseObject({
  pm_daemon: pmDaemonSchema,
  monitored_workers: z.record(z.string(), monitoredWorkerSchema),
  dispatch: dispatchStateSchema.optional(),
  /** Where tasks are queued; with redis, this host's place in the fleet. */
  queue: z.looseObject({ backend: z.enum(['file', 'redis']) }).optional(),
  metrics: z.record(z.string(), z.unknown()),
  configuration: z.record(z.string(), z.unknown()),
});

export type MonitoredWorker = z.infer<typeof monitoredWorkerSchema>;
export type PmState = z.infer<typeof pmStateSchema>;

// The lenient reading the operator tools use (dashboard, health check): the daemon may not have written
// a field yet, or an older daemon another shape, so a field that is missing, empty or of another type
// reads as undefined instead of failing the whole file. Its fields are the schema's own (checked below).
const viewText = z.string().min(1).optional().catch(undefined);
const viewNumber = z.number().optional().catch(undefined);
const viewObject = z.record(z.string(), z.unknown()).catch({});

export const pmDaemonViewSchema = z.object({
  pid: viewNumber,
  started_at: viewText,
  last_loop: viewText,
  loops_completed: viewNumber,
  loop_interval_seconds: viewNumber,
  last_pass_ms: viewNumber,
});

export const monitoredWorkerViewSchema = z.object({
  task_id: viewText,
  worker_type: viewText,
  health_state: viewText,
  health_reason: viewText,
  status: viewText,
  last_checkin: viewText,
  checkin_count: viewNumber,
  checkin_status: viewText,
  checkin_message: viewText,
  progress_pct: viewNumber,
  restart_count: viewNumber,
  pid: viewNumber,
  started_at: viewText,
  next_restart_at: viewText,
  stopped: z.boolean().optional().catch(undefined),
  stopped_at: viewText,
});

/** pm-state.json read leniently: anything that is not an object reads as empty; a worker that is not one is skipped. */
export const pmStateViewSchema = z.object({
  pm_daemon: pmDaemonViewSchema.catch({}),
  monitored_workers: z.record(z.string(), monitoredWorkerViewSchema.optional().catch(undefined)).catch({}),
  dispatch: z
    .object({
      paused: z.boolean().optional().catch(undefined),
      pauses: z
        .array(z.object({ scope: viewText, reason: viewText, until: viewText, by: viewText }).catch({}))
        .optional()
        .catch(undefined),
    })
    .optional()
    .catch(undefined),
  queue: z
    .object({ backend: viewText, name: viewText, host_id: viewText, redis: viewText, leases: viewNumber })
    .optional()
    .catch(undefined),
  metrics: viewObject,
  configuration: viewObject,
});

// The view names no field the schema does not: a rename in one is a compile error in the other.
type FieldsOf<T extends z.ZodObject> = keyof T['shape'];
type FieldsWithin<View extends z.ZodObject, Contract extends z.ZodObject> = [FieldsOf<View>] extends [FieldsOf<Contract>] ? true : false;
const viewFieldsAreContractFields: [
  FieldsWithin<typeof pmDaemonViewSchema, typeof pmDaemonSchema>,
  FieldsWithin<typeof monitoredWorkerViewSchema, typeof monitoredWorkerSchema>,
  FieldsWithin<typeof pmStateViewSchema, typeof pmStateSchema>,
] = [true, true, true];
void viewFieldsAreContractFields;

export type PmDaemonView = z.infer<typeof pmDaemonViewSchema>;
export type MonitoredWorkerView = z.infer<typeof monitoredWorkerViewSchema> & { readonly worker_id: string };
