import { z } from 'zod';
import { WORKER_TYPE_NAME_PATTERN } from './ids.js';

/** Defaults follow the contract and the runbooks: check in every 15 min, stalled after 20. */
export const WORKER_TYPE_DEFAULTS = {
  time_limit_seconds: 2700,
  checkin_timeout_seconds: 900,
  stall_timeout_seconds: 1200,
  startup_grace_seconds: 120,
  max_restarts: 2,
  restart_backoff_seconds: 30,
  restart_backoff_max_seconds: 300,
  stop_grace_seconds: 10,
  healthy_reset_seconds: 3600,
  log_max_bytes: 10 * 1024 * 1024,
} as const;

/** The rate-limit keys' defaults (the keys stay optional in the schema; the daemon applies these). */
export const RATE_LIMIT_DEFAULTS = {
  rate_limit_pause_threshold: 2,
  max_rate_limit_waits: 10,
} as const;

/** A JavaScript regular expression, checked when worker-types.json loads (a named group `reset` gives the reset time). */
const rateLimitPattern = z.string().min(1).superRefine((source, ctx) => {
  try {
    new RegExp(source);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(error as Error).message}` });
  }
});

const seconds = z.number().nonnegative();

export const HEARTBEATS = ['checkin', 'output', 'any'] as const;
export type Heartbeat = (typeof HEARTBEATS)[number];

/** A git branch or revision name as given to git: never empty, never an option, no whitespace or control characters. */
const gitRevision = z
  .string()
  .min(1, 'must name a branch')
  .regex(/^[^-\s\p{Cc}][^\s\p{Cc}]*$/u, 'must be a branch name (no leading "-", no spaces)');

/**
 * One workspace per worker: its own `git worktree` of `repo` (relative to the home, or absolute) under
 * workspaces/<worker_id>, on a new branch relay/<worker_id> from `base` (see src/workspace/worktree.ts).
 */
export const workspaceSchema = z.strictObject({
  git_worktree: z.strictObject({
    repo: z.string().min(1, 'must name the repository'),
    base: gitRevision,
  }),
});
export type WorkspaceConfig = z.infer<typeof workspaceSchema>;

export const workerTypeSchema = z.strictObject({
  description: z.string().optional(),
  command: z.array(z.string()).min(1, 'must name a program'),
  env: z.record(z.string(), z.string()).optional(),
  time_limit_seconds: seconds.default(WORKER_TYPE_DEFAULTS.time_limit_seconds),
  checkin_timeout_seconds: seconds.default(WORKER_TYPE_DEFAULTS.checkin_timeout_seconds),
  stall_timeout_seconds: seconds.default(WORKER_TYPE_DEFAULTS.stall_timeout_seconds),
  /** Extra time a new run gets before its first check-in: until then its silence is counted from started_at + this grace. */
  startup_grace_seconds: seconds.default(WORKER_TYPE_DEFAULTS.startup_grace_seconds),
  /** The interval the worker is asked to check in at (env COMMIT_RELAY_CHECKIN_INTERVAL); defaults to a third of the timeout. */
  checkin_interval_seconds: seconds.optional(),
  max_restarts: z.number().int().nonnegative().default(WORKER_TYPE_DEFAULTS.max_restarts),
  restart_backoff_seconds: seconds.default(WORKER_TYPE_DEFAULTS.restart_backoff_seconds),
  restart_backoff_max_seconds: seconds.default(WORKER_TYPE_DEFAULTS.restart_backoff_max_seconds),
  /** Between SIGTERM to the group and SIGKILL. */
  stop_grace_seconds: seconds.default(WORKER_TYPE_DEFAULTS.stop_grace_seconds),
  /** A run healthy this long resets the restart count. */
  healthy_reset_seconds: seconds.default(WORKER_TYPE_DEFAULTS.healthy_reset_seconds),
  /**
   * A worker whose latest check-in is `blocked` (waiting for a person: a permission or input prompt) is
   * never late or stalled; past this long blocked it is handled like a stall. Absent: it waits for ever.
   */
  blocked_timeout_seconds: seconds.optional(),
  /** The worker's output log is rotated past this size. */
  log_max_bytes: z.number().int().positive().default(WORKER_TYPE_DEFAULTS.log_max_bytes),
  /**
   * What counts as a sign of life for late/stalled detection: check-ins (default), growth of the worker's
   * output log, or either (the later of the two). Absent: `checkin`.
   */
  heartbeat: z.enum(HEARTBEATS).optional(),
  /**
   * The argv that resumes an agent's session (same placeholders as `command`, plus `{session_id}`): used
   * instead of `command` to start again a worker whose spec records a session id (`execution.session_id`).
   */
  resume_command: z.array(z.string()).min(1, 'must name a program').optional(),
  /** Who serves this type's agents (a rate limit is per provider); default: the type's own name. */
  provider: z.string().min(1).optional(),
  /** Exit codes that mean "rate limited": the restart waits and does not count against max_restarts. */
  rate_limit_exit_codes: z.array(z.number().int().min(0).max(255)).optional(),
  /** Regular expressions matched against the end of a run's output; a named group `reset` (epoch seconds or ISO) gives the reset. */
  rate_limit_patterns: z.array(rateLimitPattern).optional(),
  /** This many workers (default 2) of one provider rate limited within 5 minutes pause the provider's dispatch until the latest reset. */
  rate_limit_pause_threshold: z.number().int().positive().optional(),
  /** A worker rate limited more often than this (default 10) fails. */
  max_rate_limit_waits: z.number().int().nonnegative().optional(),

  /**
   * The resident memory of a whole run (every process carrying its token, children included), in MiB: a run
   * over it at a resource sample (the daemon's `resource_sample_seconds`) is stopped and restarted like a crash.
   */
  memory_limit_mb: z.number().positive().optional(),

  /** Each worker gets its own git worktree, its working directory and `{workspace}` in its command. */
  workspace: workspaceSchema.optional(),
});

export const workerTypesFileSchema = z.strictObject({
  $comment: z.string().optional(),
  worker_types: z.record(z.string().regex(WORKER_TYPE_NAME_PATTERN, 'worker type names are letters, digits, . _ -'), workerTypeSchema),
});

export type WorkerType = z.infer<typeof workerTypeSchema>;
export type WorkerTypesFile = z.infer<typeof workerTypesFileSchema>;
