import { z } from 'zod';
import { ID_PATTERN } from './ids.js';
import { PRIORITIES, TASK_STATUSES } from './task-fields.js';
import { isoTimestamp } from './time.js';

export { PRIORITIES, PRIORITY_RANK, TASK_STATUSES, type Priority, type TaskStatus } from './task-fields.js';

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
