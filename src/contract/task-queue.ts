import { z } from 'zod';
import { ID_PATTERN } from './ids.js';
import { isoTimestamp } from './time.js';

export const PRIORITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];
export const PRIORITY_RANK: Record<Priority, number> = { critical: 0, high: 1, medium: 2, low: 3 };

export const TASK_STATUSES = ['queued', 'assigned', 'completed', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const taskSchema = z.looseObject({
  task_id: z.string().regex(ID_PATTERN).refine((s) => !s.includes('..'), 'must not contain ".."'),
  description: z.string().min(1),
  priority: z.enum(PRIORITIES),
  worker_type: z.string().min(1),
  status: z.enum(TASK_STATUSES),
  created_at: isoTimestamp,
  metadata: z.record(z.string(), z.unknown()).default({}),
  worker_id: z.string().nullable().optional(),
  assigned_at: isoTimestamp.nullable().optional(),
  completed_at: isoTimestamp.nullable().optional(),
  error: z.string().nullable().optional(),
});

export const taskQueueSchema = z.looseObject({ tasks: z.array(taskSchema) });

export type Task = z.infer<typeof taskSchema>;
export type TaskQueue = z.infer<typeof taskQueueSchema>;
