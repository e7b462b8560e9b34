import { randomBytes } from 'node:crypto';
import type { WorkerSpec } from '../contract/worker-spec.js';
import { checkIdentity, currentBootId, readIdentity } from '../process/identity.js';
import type { EventInput } from '../store/activity-log.js';

/**
 * Each change of a worker's state is logged exactly once, even when its writer is killed between
 * writing the change and appending its events. The events of a change are written into the spec
 * (`outbox`) in the same atomic write as the change, each with an `event_id`, then appended to
 * pm-activity.jsonl carrying that id:
 *
 * - killed before the write: nothing changed, nothing is logged; whoever decides again logs it then;
 * - killed after the write, before the append: the daemon finds the group of a writer that is no longer
 *   alive, looks for its ids in the log, and appends those missing (daemon/outbox-recovery.ts);
 * - the append done: the ids are in the log, and nothing is appended again.
 *
 * A group stays in the spec until a later write replaces it. A later writer keeps a dead writer's
 * recent groups (it cannot know whether they were logged), so none is dropped before the daemon's
 * recovery has looked at it.
 */

/** Who wrote a group: a process identity, so a pid reused later is never taken for the writer. */
export interface OutboxWriter {
  readonly pid: number;
  readonly start_ticks: number | null;
  readonly boot_id: string;
}

/** An event with its id and time fixed when its change is written. */
export interface LoggedEvent extends EventInput {
  readonly event_id: string;
  readonly timestamp: string;
}

export interface OutboxGroup {
  readonly writer: OutboxWriter;
  /** ISO: when the change was written. */
  readonly at: string;
  readonly events: readonly LoggedEvent[];
}

/** How long a dead writer's group is carried by later writes: far longer than the daemon takes to recover it. */
export const OUTBOX_KEEP_MS = 60 * 60 * 1000;

let self: OutboxWriter | undefined;

export function selfWriter(): OutboxWriter {
  if (self === undefined) self = { pid: process.pid, start_ticks: readIdentity(process.pid)?.startTicks ?? null, boot_id: currentBootId() };
  return self;
}

export const isSelf = (writer: OutboxWriter): boolean => {
  const me = selfWriter();
  return writer.pid === me.pid && writer.start_ticks === me.start_ticks && writer.boot_id === me.boot_id;
};

/** Is the process that wrote a group still running (so it will append the events itself)? */
export function writerAlive(writer: OutboxWriter): boolean {
  if (isSelf(writer)) return true;
  if (writer.start_ticks === null) return false;
  return checkIdentity({ pid: writer.pid, startTicks: writer.start_ticks, bootId: writer.boot_id }) === 'alive';
}

/** Unique across processes (a random part drawn once per process) and within one (a counter): no random draw per event. */
const EVENT_ID_PREFIX = randomBytes(5).toString('hex');
let eventCounter = 0;
const newEventId = (): string => `ev-${Date.now().toString(36)}-${EVENT_ID_PREFIX}${(eventCounter += 1).toString(36)}`;

/** Gives each event its id and time (ISO `at`). */
export function stampEvents(events: readonly EventInput[], at: string): LoggedEvent[] {
  return events.map((e) => ({ ...e, timestamp: e.timestamp ?? at, event_id: newEventId() }));
}

/** The groups a spec carries; anything malformed (a hand edit) is ignored. */
export function outboxOf(spec: WorkerSpec): OutboxGroup[] {
  const raw = (spec as { outbox?: unknown }).outbox;
  if (!Array.isArray(raw)) return [];
  return raw.filter(isGroup);
}

function isGroup(value: unknown): value is OutboxGroup {
  if (typeof value !== 'object' || value === null) return false;
  const g = value as Partial<OutboxGroup>;
  const w = g.writer as Partial<OutboxWriter> | undefined;
  return (
    typeof g.at === 'string' &&
    Array.isArray(g.events) &&
    typeof w?.pid === 'number' &&
    typeof w.boot_id === 'string' &&
    (typeof w.start_ticks === 'number' || w.start_ticks === null) &&
    g.events.every((e: unknown) => typeof e === 'object' && e !== null && typeof (e as LoggedEvent).event_id === 'string' && typeof (e as LoggedEvent).event === 'string')
  );
}

/**
 * The spec with this change's events in its outbox (written with the change). Another writer's earlier
 * groups are kept for OUTBOX_KEEP_MS (that writer may be killed before its append); this process's own
 * earlier group was appended right after it was written.
 */
export function withOutbox(spec: WorkerSpec, events: readonly LoggedEvent[], at: string): WorkerSpec {
  if (events.length === 0) return spec;
  const now = Date.parse(at);
  const kept = outboxOf(spec).filter((g) => !isSelf(g.writer) && now - Date.parse(g.at) < OUTBOX_KEEP_MS);
  return { ...spec, outbox: [...kept, { writer: selfWriter(), at, events }] } as WorkerSpec;
}
