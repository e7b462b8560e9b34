// A task's enumerations, zod-free so that the lean create-task entry can check input without loading zod;
// task-queue.ts builds its schema from them and re-exports them.

export const PRIORITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];
export const PRIORITY_RANK: Record<Priority, number> = { critical: 0, high: 1, medium: 2, low: 3 };

export const TASK_STATUSES = ['queued', 'assigned', 'completed', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
