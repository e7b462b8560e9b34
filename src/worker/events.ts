import { nowIso } from '../contract/time.js';
import type { WorkerSpec } from '../contract/worker-spec.js';
import { appendEvent } from '../store/activity-log.js';
import { clock, type LifecycleContext } from './context.js';

/** Appends one lifecycle event about a worker, stamped with the context's clock. */
export function emitWorkerEvent(ctx: LifecycleContext, event: string, spec: Pick<WorkerSpec, 'worker_id' | 'task_id'>, data: Record<string, unknown>): void {
  appendEvent(ctx.paths, { event, worker_id: spec.worker_id, task_id: spec.task_id, data, timestamp: nowIso(clock(ctx)) });
}
