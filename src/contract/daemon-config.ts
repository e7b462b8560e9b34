import { z } from 'zod';

export const ALERT_DEFAULTS = {
  zombie_threshold: 10,
  stalled_threshold: 5,
  restart_storm_threshold: 20,
  failure_rate_threshold: 0.5,
  failure_rate_min_samples: 5,
  queue_depth_threshold: 100,
} as const;

export const alertThresholdsSchema = z.strictObject({
  zombie_threshold: z.number().int().positive().default(ALERT_DEFAULTS.zombie_threshold),
  stalled_threshold: z.number().int().positive().default(ALERT_DEFAULTS.stalled_threshold),
  /** Restarts within the last hour. */
  restart_storm_threshold: z.number().int().positive().default(ALERT_DEFAULTS.restart_storm_threshold),
  /** Failed / (failed + completed) over the last hour, once there are enough samples. */
  failure_rate_threshold: z.number().min(0).max(1).default(ALERT_DEFAULTS.failure_rate_threshold),
  failure_rate_min_samples: z.number().int().positive().default(ALERT_DEFAULTS.failure_rate_min_samples),
  queue_depth_threshold: z.number().int().nonnegative().default(ALERT_DEFAULTS.queue_depth_threshold),
});

/** An http:// or https:// URL with a host (a webhook's; never echoed in an error: it may hold a secret). */
export function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/** Which events a notification is for: event types (`worker_failed`), alert types (`workers_blocked`), or "*" for all. */
const notificationEventsSchema = z.array(z.string().regex(/^(\*|[a-z][a-z0-9_.-]{0,63})$/, 'expected event or alert types (lower-case words) or "*"')).min(1);

export const notificationsSchema = z.strictObject({
  /** The events the hook (and the webhook, unless it names its own) is run for. */
  events: notificationEventsSchema.optional(),
  /** argv run (no shell) with each chosen event as JSON on stdin. */
  hook: z.array(z.string().min(1)).min(1).optional(),
  timeout_seconds: z.number().positive().max(3600).optional(),
  /** Hook runs (and webhook posts) at once; more wait in a bounded backlog. */
  max_concurrent: z.number().int().min(1).max(16).optional(),
  /** A POST of a Slack-compatible JSON body (`{"text": ...}`) for each chosen event. */
  webhook: z
    .strictObject({
      url: z.string().refine(isHttpUrl, 'expected an http:// or https:// URL'),
      events: notificationEventsSchema.optional(),
      timeout_seconds: z.number().positive().max(300).optional(),
    })
    .optional(),
});

/** coordination/config/pm-daemon.json: every key optional; environment and flags override it. */
export const daemonConfigFileSchema = z.strictObject({
  $comment: z.string().optional(),
  loop_interval_seconds: z.number().positive().optional(),
  max_concurrent_workers: z.number().int().nonnegative().optional(),
  /** Wait this long after the last event before a pass, to batch a burst of events. */
  debounce_ms: z.number().int().nonnegative().optional(),
  /** Check-ins alone (no other change) ask for at most one pass per this many ms (default 2000; longer in a big fleet). */
  checkin_batch_ms: z.number().int().nonnegative().optional(),
  /** The guard holds kills/death verdicts when one pass would act on at least this many workers and more than half the fleet. */
  mass_action_min: z.number().int().positive().optional(),
  /** How often the daemon samples each running worker's CPU and memory (whole run); 0 turns sampling (and memory limits) off. */
  resource_sample_seconds: z.number().nonnegative().optional(),
  /** The daemon's starts forked by its launcher (scripts/lib/launcher.pl) rather than by itself. */
  launcher: z.boolean().optional(),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  alerts: alertThresholdsSchema.partial().optional(),
  /** argv run with each raised or resolved alert as JSON on stdin. */
  alert_hook: z.array(z.string()).min(1).optional(),
  alert_hook_timeout_seconds: z.number().positive().optional(),
  /** Event notifications: an argv hook and/or a webhook (docs/operations.md, "Notifications"). */
  notifications: notificationsSchema.optional(),
  metrics: z
    .strictObject({
      enabled: z.boolean().optional(),
      port: z.number().int().min(0).max(65535).optional(),
      host: z.enum(['127.0.0.1', '::1', 'localhost']).optional(),
    })
    .optional(),
  /** Where tasks are queued: the file task-queue.json (default), or a BullMQ queue on Redis shared by a fleet of hosts. */
  queue: z
    .strictObject({
      backend: z.enum(['file', 'redis']).optional(),
      redis_url: z.string().min(1).optional(),
      /** The BullMQ queue's name (default "commit-relay"); hosts that share it share the tasks. */
      name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'letters, digits, ".", "_" and "-", at most 100').optional(),
      /** A job's lock: held and renewed while its local worker lives; a host silent this long loses it. */
      lock_seconds: z.number().min(1).max(3600).optional(),
      stalled_interval_seconds: z.number().min(0.5).max(3600).optional(),
      /** Host losses a task survives; one more and it fails. */
      max_stalled: z.number().int().min(0).max(1000).optional(),
    })
    .optional(),
  /** This host's name in the fleet (default the hostname). */
  host_id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'letters, digits, ".", "_" and "-", at most 128').optional(),
  /** Queue a few demo tasks when the queue is empty on a first run (`npm start`). */
  demo: z.boolean().optional(),
});

export type DaemonConfigFile = z.infer<typeof daemonConfigFileSchema>;
export type AlertThresholds = z.infer<typeof alertThresholdsSchema>;
export type NotificationsConfig = z.infer<typeof notificationsSchema>;
