import { z } from 'zod';
import { EVENT_TYPE_PATTERN } from './ids.js';
import { isoTimestamp } from './time.js';

export const KNOWN_EVENTS = [
  'pm_started',
  'pm_stopped',
  'worker_registered',
  'worker_started',
  'checkin_received',
  'checkin_ignored',
  'missed_checkin',
  'worker_stalled',
  'worker_blocked',
  'timeout_warning',
  'timeout_exceeded',
  'zombie_detected',
  'worker_exited',
  'worker_killed',
  'worker_stopped',
  'worker_restarted',
  'worker_completed',
  'worker_failed',
  'worker_zombie_cleaned',
  'worker_orphan_stopped',
  'spec_restored',
  'process_not_ours',
  'worker_archived',
  'worker_recovered',
  'task_created',
  'task_assigned',
  'task_completed',
  'task_failed',
  'task_settle_failed',
  'spec_invalid',
  'alert_raised',
  'alert_resolved',
  'actions_held',
  'daemon_error',
  'daemon_warning',
  'temp_file_removed',
  'config_invalid',
  'config_reloaded',
  'worker_type_removed',
  'dispatch_paused',
  'dispatch_resumed',
  'worker_rate_limited',
  'memory_limit_exceeded',
  'notification_failed',
  // The redis queue backend (src/fleet/).
  'task_leased',
  'lease_lost',
  'job_completed',
  'job_failed',
  'redis_unavailable',
  'redis_available',
] as const;
export type KnownEvent = (typeof KNOWN_EVENTS)[number];

/** Event types are free-form for emit-event, but always a short word (defined in ids.ts, which is zod-free). */
export { EVENT_TYPE_PATTERN };

export const activityEventSchema = z.looseObject({
  timestamp: isoTimestamp,
  event: z.string().regex(EVENT_TYPE_PATTERN),
  worker_id: z.string().optional(),
  task_id: z.string().optional(),
  data: z.record(z.string(), z.unknown()),
});

export type ActivityEvent = z.infer<typeof activityEventSchema>;
