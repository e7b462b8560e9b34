import { z } from 'zod';
import { isoTimestamp } from './time.js';

export const HEALTH_STATES = ['starting', 'healthy', 'late', 'stalled', 'zombie', 'exited', 'backoff'] as const;
export type HealthState = (typeof HEALTH_STATES)[number];

export const monitoredWorkerSchema = z.looseObject({
  worker_id: z.string(),
  task_id: z.string().nullable(),
  worker_type: z.string(),
  health_state: z.enum(HEALTH_STATES),
  last_checkin: isoTimestamp.nullable(),
  checkin_count: z.number().int().nonnegative(),
  progress_pct: z.number().nullable(),
  restart_count: z.number().int().nonnegative(),
  pid: z.number().int().nullable(),
});

export const pmStateSchema = z.looseObject({
  pm_daemon: z.looseObject({
    pid: z.number().int(),
    started_at: isoTimestamp,
    last_loop: isoTimestamp.nullable(),
    loops_completed: z.number().int().nonnegative(),
  }),
  monitored_workers: z.record(z.string(), monitoredWorkerSchema),
  metrics: z.record(z.string(), z.unknown()),
  configuration: z.record(z.string(), z.unknown()),
});

export type MonitoredWorker = z.infer<typeof monitoredWorkerSchema>;
export type PmState = z.infer<typeof pmStateSchema>;
