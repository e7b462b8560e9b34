import { z } from 'zod';

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

const seconds = z.number().nonnegative();

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
  /** The worker's output log is rotated past this size. */
  log_max_bytes: z.number().int().positive().default(WORKER_TYPE_DEFAULTS.log_max_bytes),
  /** Each worker gets its own git worktree, its working directory and `{workspace}` in its command. */
  workspace: workspaceSchema.optional(),
});

export const workerTypesFileSchema = z.strictObject({
  $comment: z.string().optional(),
  worker_types: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'worker type names are letters, digits, . _ -'), workerTypeSchema),
});

export type WorkerType = z.infer<typeof workerTypeSchema>;
export type WorkerTypesFile = z.infer<typeof workerTypesFileSchema>;
