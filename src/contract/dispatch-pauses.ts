import { z } from 'zod';
import { isoTimestamp } from './time.js';

/**
 * `coordination/dispatch-pauses.json`: while a pause is in force, no worker of its scope starts (no
 * dispatch of a queued task, no start of a pending spec, no restart); running workers go on (a drain).
 * `type` null: every type. `by`: `operator` (pause-dispatch.sh) or `rate_limit` (the daemon, when a
 * provider's workers are rate limited). `until` null: until resume-dispatch.sh.
 */
export const dispatchPauseSchema = z.looseObject({
  type: z.string().min(1).nullable(),
  reason: z.string().nullable(),
  until: isoTimestamp.nullable(),
  by: z.enum(['operator', 'rate_limit']),
  at: isoTimestamp,
  /** For a rate-limit pause: the provider, and the workers whose limits made it. */
  provider: z.string().nullable().optional(),
  /** A provider's pause covers its types, listed here (then `type` is null but the scope is these types only). */
  types: z.array(z.string()).optional(),
  worker_ids: z.array(z.string()).optional(),
});

export const dispatchPausesFileSchema = z.looseObject({
  pauses: z.array(dispatchPauseSchema),
});

export type DispatchPause = z.infer<typeof dispatchPauseSchema>;
export type DispatchPausesFile = z.infer<typeof dispatchPausesFileSchema>;

/** The pause is in force at `nowMs` (wall clock): it has no end, or its end is still ahead. */
export function pauseInForce(pause: DispatchPause, nowMs: number): boolean {
  return pause.until === null || Date.parse(pause.until) > nowMs;
}

/** The pauses in force that cover `type` (a pause of all types covers every type). */
export function pausesCovering(pauses: readonly DispatchPause[], type: string, nowMs: number): DispatchPause[] {
  return pauses.filter((p) => pauseCovers(p, type) && pauseInForce(p, nowMs));
}

/** Whether a pause's scope holds `type`: its listed types, else its one type, else (type null) every type. */
export function pauseCovers(pause: DispatchPause, type: string): boolean {
  if (pause.types !== undefined) return pause.types.includes(type);
  return pause.type === null || pause.type === type;
}

/** How a pause's scope reads in events and on screens. */
export function pauseScope(pause: Pick<DispatchPause, 'type' | 'types' | 'provider'>): string {
  if (pause.types !== undefined) return `provider ${pause.provider ?? '?'} (${pause.types.length === 1 ? 'type' : 'types'} ${pause.types.join(', ')})`;
  return pause.type === null ? 'all' : `type ${pause.type}`;
}

/** What `dispatch_resumed` says of a pause that ended; `by`: operator (resume-dispatch) or expiry (its `until`). */
export function resumedData(pause: DispatchPause, by: string): Record<string, unknown> {
  return { scope: pauseScope(pause), type: pause.type, ...(pause.types === undefined ? {} : { types: pause.types, provider: pause.provider ?? null }), reason: pause.reason, until: pause.until, paused_by: pause.by, by };
}
