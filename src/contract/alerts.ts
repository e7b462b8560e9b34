import { z } from 'zod';
import { isoTimestamp } from './time.js';

export const ALERT_TYPES = ['zombie_threshold', 'stalled_workers', 'restart_storm', 'failure_rate', 'queue_depth', 'workers_blocked', 'provider_rate_limited'] as const;
export type AlertType = (typeof ALERT_TYPES)[number];

export const alertSchema = z.looseObject({
  id: z.string(),
  type: z.string(),
  severity: z.enum(['info', 'warning', 'critical']),
  status: z.enum(['active', 'resolved']),
  message: z.string(),
  metric_value: z.number(),
  threshold: z.number(),
  created_at: isoTimestamp,
  resolved_at: isoTimestamp.nullable(),
  worker_ids: z.array(z.string()),
});

export const alertsFileSchema = z.looseObject({ alerts: z.array(alertSchema) });

export type Alert = z.infer<typeof alertSchema>;
export type AlertsFile = z.infer<typeof alertsFileSchema>;
