import { z } from 'zod';
import { ID_PATTERN } from './ids.js';
import { isoTimestamp } from './time.js';

export const CHECKIN_STATUSES = ['starting', 'in_progress', 'blocked', 'completed', 'failed'] as const;
export type CheckinStatus = (typeof CHECKIN_STATUSES)[number];

export const checkinSchema = z.looseObject({
  worker_id: z.string().regex(ID_PATTERN),
  timestamp: isoTimestamp,
  status: z.enum(CHECKIN_STATUSES),
  progress_pct: z.number().min(0).max(100),
  message: z.string().nullable().optional(),
  /** The run token from the worker's environment, when it checked in through checkin.sh. */
  run_id: z.string().nullable().optional(),
});

export type Checkin = z.infer<typeof checkinSchema>;
