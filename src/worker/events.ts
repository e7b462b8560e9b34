import type { KnownEvent } from '../contract/activity.js';
import { nowIso } from '../contract/time.js';
import type { WorkerSpec } from '../contract/worker-spec.js';
import { appendEvents, type EventInput } from '../store/activity-log.js';
import { clock, type SettleContext } from './context.js';

/** Appends lifecycle events (stamped with the context's clock), or hands them to the context's own emitter (the daemon's). */
export function emitEvents(ctx: SettleContext, events: readonly EventInput[]): void {
  if (events.length === 0) return;
  if (ctx.emit !== undefined) {
    ctx.emit(events);
    return;
  }
  const timestamp = nowIso(clock(ctx));
  appendEvents(
    ctx.paths,
    events.map((e) => ({ timestamp, ...e })),
  );
}

/** One lifecycle event about a worker. */
export function workerEvent(event: KnownEvent, spec: Pick<WorkerSpec, 'worker_id' | 'task_id'>, data: Record<string, unknown>): EventInput {
  return { event, worker_id: spec.worker_id, task_id: spec.task_id, data };
}

export function emitWorkerEvent(ctx: SettleContext, event: KnownEvent, spec: Pick<WorkerSpec, 'worker_id' | 'task_id'>, data: Record<string, unknown>): void {
  emitEvents(ctx, [workerEvent(event, spec, data)]);
}
