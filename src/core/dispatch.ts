import { PRIORITY_RANK, type Priority } from '../contract/task-queue.js';

export interface QueuedTask {
  readonly taskId: string;
  readonly priority: Priority;
  readonly createdAt: string;
  readonly workerType: string;
}

export interface PendingSpec {
  readonly workerId: string;
  readonly restartCount: number;
  readonly nextRestartAt: number | null;
  readonly createdAt: string;
}

/** Highest priority first, then oldest, then id for a stable order. */
/** Timestamps compare as instants (offsets and fractions vary), never as text. */
const byTime = (a: string, b: string): number => (Date.parse(a) || 0) - (Date.parse(b) || 0);

export function orderTasks(tasks: readonly QueuedTask[]): QueuedTask[] {
  return [...tasks].sort((a, b) => PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || byTime(a.createdAt, b.createdAt) || a.taskId.localeCompare(b.taskId));
}

/** Due pending specs: restarts first (they were running), then the oldest. */
export function orderPending(specs: readonly PendingSpec[], now: number): PendingSpec[] {
  return specs
    .filter((s) => s.nextRestartAt === null || s.nextRestartAt <= now)
    .sort((a, b) => Number(b.restartCount > 0) - Number(a.restartCount > 0) || byTime(a.createdAt, b.createdAt) || a.workerId.localeCompare(b.workerId));
}

/** The worker id a task's worker gets: worker-<type>-<the task id's unique part>. */
export function workerIdForTask(taskId: string, workerType: string): string {
  const suffix = taskId.startsWith('task-') ? taskId.slice(5) : taskId;
  return `worker-${workerType}-${suffix}`.slice(0, 128);
}
