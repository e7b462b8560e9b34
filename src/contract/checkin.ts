import { z } from 'zod';
import { ID_PATTERN } from './ids.js';
import { isoTimestamp } from './time.js';

export const CHECKIN_STATUSES = ['starting', 'in_progress', 'blocked', 'rate_limited', 'completed', 'failed'] as const;
export type CheckinStatus = (typeof CHECKIN_STATUSES)[number];

export const checkinSchema = z.looseObject({
  worker_id: z.string().regex(ID_PATTERN),
  timestamp: isoTimestamp,
  status: z.enum(CHECKIN_STATUSES),
  progress_pct: z.number().min(0).max(100),
  message: z.string().nullable().optional(),
  /** The run token from the worker's environment, when it checked in through checkin.sh. */
  run_id: z.string().nullable().optional(),
  /** The agent's session (a hook's `session_id`, or `checkin.sh --session-id`), kept for a resume. */
  session_id: z.string().nullable().optional(),
  /** A hook's event that shows the agent at work (a tool call, a prompt): counts as progress, whatever progress_pct says. */
  activity: z.string().nullable().optional(),
  /** With status `rate_limited`: when the limit resets (ISO-8601). */
  retry_at: isoTimestamp.nullable().optional(),
});

export type Checkin = z.infer<typeof checkinSchema>;
