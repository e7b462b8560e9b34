import { z } from 'zod';
import { ID_PATTERN } from './ids.js';
import { isoTimestamp } from './time.js';

export const SPEC_STATUSES = ['pending', 'running', 'completed', 'failed'] as const;
export type SpecStatus = (typeof SPEC_STATUSES)[number];

export const SPEC_FOLDERS = ['active', 'completed', 'failed'] as const;
export type SpecFolder = (typeof SPEC_FOLDERS)[number];

const workerId = z.string().regex(ID_PATTERN, 'must be a safe id (letters, digits, . _ -, at most 128)').refine((s) => !s.includes('..'), 'must not contain ".."');
const nullableIso = isoTimestamp.nullable().optional();

/** What the system knows about the process of the worker's current run. Unknown fields survive rewrites. */
export const executionSchema = z.looseObject({
  started_at: nullableIso,
  completed_at: nullableIso,
  pid: z.number().int().positive().nullable().optional(),
  restart_count: z.number().int().nonnegative().optional(),
  exit_code: z.number().int().nullable().optional(),
  signal: z.string().nullable().optional(),
  /** Per-run token, also in the worker's environment and its exit record. */
  run_id: z.string().nullable().optional(),
  /** Process start time in clock ticks since boot (/proc/PID/stat field 22): with boot_id, tells this process from a later one reusing its pid. */
  process_start_ticks: z.number().int().nonnegative().nullable().optional(),
  boot_id: z.string().nullable().optional(),
  host: z.string().nullable().optional(),
  /** When the daemon may restart it next (ISO), while it waits in backoff. */
  next_restart_at: nullableIso,
  /** Time-limit warnings already given for this run (50, 75, 90). */
  timeout_warnings: z.array(z.number().int()).optional(),
  last_exit_at: nullableIso,
  /** The agent's latest session (from its check-ins), kept across restarts so that a restart can resume it (the type's `resume_command`). */
  session_id: z.string().nullable().optional(),
  /** The session the current (or last) run resumed, or null when it ran the fresh `command`. */
  resumed_session: z.string().nullable().optional(),
  /** A session whose resume failed at once (ended within the startup grace): never resumed again; the next restarts run `command`. */
  resume_failed_session: z.string().nullable().optional(),
  /** Rate limits waited out so far (never counted in restart_count); more than the type's max_rate_limit_waits fails the worker. */
  rate_limit_waits: z.number().int().nonnegative().optional(),
  /** When its last rate limit was seen (ISO): the provider's outage count looks back 5 minutes. */
  rate_limited_at: nullableIso,
  /** Why the daemon (or an operator command) stopped the last run: stalled, time_limit, manual, ... */
  stop_reason: z.string().nullable().optional(),
  /**
   * An operator's hold, recorded under the spec lock before any signal: stop-worker (`action` "stop") or
   * fail-worker (`action` "fail", its claim while it fails the worker). The daemon never starts, restarts,
   * fails or counts as a crash a held worker; a start (start-worker, restart-worker) clears it.
   */
  stopped: z
    .looseObject({
      at: isoTimestamp,
      action: z.enum(['stop', 'fail']),
      reason: z.string().nullable().optional(),
      /** The command that set it (stop-worker, fail-worker). */
      by: z.string().nullable().optional(),
      /** That command's process (pid and start ticks), to tell a command still at work from one that died. */
      pid: z.number().int().positive().nullable().optional(),
      process_start_ticks: z.number().int().nonnegative().nullable().optional(),
    })
    .nullable()
    .optional(),
});

export const workerSpecSchema = z.looseObject({
  worker_id: workerId,
  worker_type: z.string().min(1),
  task_id: workerId.nullable(),
  status: z.enum(SPEC_STATUSES),
  created_at: isoTimestamp,
  task: z.looseObject({ description: z.string() }),
  execution: executionSchema.optional(),
  error: z.string().nullable().optional(),
  /** Set when the spec came from the shared (redis) queue: the BullMQ job this host holds a lock on. */
  lease: z
    .looseObject({
      backend: z.literal('redis'),
      queue: z.string(),
      job_id: z.string(),
      token: z.string(),
      host_id: z.string(),
      taken_at: isoTimestamp,
    })
    .optional(),
});

export type Lease = NonNullable<z.infer<typeof workerSpecSchema>['lease']>;
export type WorkerSpec = z.infer<typeof workerSpecSchema>;
export type Execution = z.infer<typeof executionSchema>;
export type StopHold = NonNullable<Execution['stopped']>;

/** The operator's hold on a spec that is still pending or running, or null. */
export function holdOf(spec: { status: string; execution?: Execution | undefined }): StopHold | null {
  if (spec.status !== 'pending' && spec.status !== 'running') return null;
  return spec.execution?.stopped ?? null;
}

/** The execution block with every contract field present (null where unknown). */
export function normalizeExecution(execution: Execution | undefined): Execution & { restart_count: number } {
  return {
    started_at: null,
    completed_at: null,
    pid: null,
    exit_code: null,
    signal: null,
    ...execution,
    restart_count: execution?.restart_count ?? 0,
  };
}
