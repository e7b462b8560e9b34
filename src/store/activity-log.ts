import { closeSync, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import type { ActivityEvent, KnownEvent } from '../contract/activity.js';
import { EVENT_TYPE_PATTERN } from '../contract/ids.js';
import { nowIso } from '../contract/now.js';
import { RelayError, describeError, quote } from '../errors.js';
import type { HomePaths } from './home.js';

/** Lines are kept well under what one write(2) to a local file appends whole, so appenders never interleave. */
const MAX_LINE_BYTES = 32 * 1024;

/** An event of any type, as pm-activity.jsonl holds them (emit-event appends whatever type an operator names). */
export interface AnyEventInput {
  readonly event: string;
  readonly worker_id?: string | null | undefined;
  readonly task_id?: string | null | undefined;
  readonly data?: Record<string, unknown>;
  readonly timestamp?: string;
  /** Set on the events of a change written with an outbox (worker/outbox.ts): how a lost append is found and made once. */
  readonly event_id?: string;
  /** Appended by the daemon's recovery, after its writer was killed before appending it. */
  readonly recovered?: boolean;
}

/** An event the program itself emits: its type is one of KNOWN_EVENTS, so a misspelt name is a type error. */
export interface EventInput extends AnyEventInput {
  readonly event: KnownEvent;
}

export function formatEventLine(input: AnyEventInput): string {
  if (!EVENT_TYPE_PATTERN.test(input.event)) {
    throw new RelayError('INVALID_INPUT', `invalid event type ${quote(input.event)}: use lower-case letters, digits, _ . - (at most 64)`);
  }
  const event: ActivityEvent = {
    timestamp: input.timestamp ?? nowIso(),
    event: input.event,
    ...(input.worker_id ? { worker_id: input.worker_id } : {}),
    ...(input.task_id ? { task_id: input.task_id } : {}),
    data: input.data ?? {},
    ...(input.event_id === undefined ? {} : { event_id: input.event_id }),
    ...(input.recovered === true ? { recovered: true } : {}),
  };
  let line = `${JSON.stringify(event)}\n`;
  if (Buffer.byteLength(line) > MAX_LINE_BYTES) {
    line = `${JSON.stringify({ ...event, data: { truncated: true, original_bytes: Buffer.byteLength(line) } })}\n`;
  }
  return line;
}

/**
 * Appends events to pm-activity.jsonl with one O_APPEND write: concurrent appenders from any number
 * of processes each land whole lines, in some order, never mixed.
 */
export function appendEvents(paths: HomePaths, inputs: readonly EventInput[]): void {
  appendAnyEvents(paths, inputs);
}

/** An operator's event, of a type the program may not know (emit-event). */
export const appendOperatorEvent = (paths: HomePaths, input: AnyEventInput): void => appendAnyEvents(paths, [input]);

function appendAnyEvents(paths: HomePaths, inputs: readonly AnyEventInput[]): void {
  if (inputs.length === 0) return;
  const lines = inputs.map(formatEventLine);
  // Several lines go in one write when they fit, else one write each.
  // (The bytes counted line by line: measuring the joined text again at each line flattened it each time, quadratic.)
  const chunks: string[] = [];
  let current = '';
  let currentBytes = 0;
  for (const line of lines) {
    const lineBytes = Buffer.byteLength(line);
    if (current.length > 0 && currentBytes + lineBytes > MAX_LINE_BYTES) {
      chunks.push(current);
      current = '';
      currentBytes = 0;
    }
    current += line;
    currentBytes += lineBytes;
  }
  if (current.length > 0) chunks.push(current);
  let fd: number;
  try {
    fd = openSync(paths.activity, 'a', 0o644);
  } catch (error) {
    throw new RelayError('IO_FAILED', `cannot append to ${paths.activity}: ${describeError(error)}`, { cause: error });
  }
  try {
    for (const chunk of chunks) appendWhole(fd, Buffer.from(chunk), paths.activity);
  } finally {
    closeSync(fd);
  }
}

export const appendEvent = (paths: HomePaths, input: EventInput): void => appendEvents(paths, [input]);

/**
 * One write(2) of whole lines. A short or failed write (a full disk) would leave part of a line for the
 * next append to glue onto: it is cut back off, as long as nobody appended after it.
 */
function appendWhole(fd: number, bytes: Buffer, file: string): void {
  const before = fstatSync(fd).size;
  let written = 0;
  try {
    written = writeSync(fd, bytes);
    if (written === bytes.length) return;
    throw new RelayError('IO_FAILED', `cannot append to ${file}: short write (${written} of ${bytes.length} bytes; disk full?)`);
  } catch (error) {
    try {
      const size = fstatSync(fd).size;
      if (size > before && size <= before + bytes.length) ftruncateSync(fd, before);
    } catch {
      /* nothing more can be done; readers skip a line that does not parse */
    }
    if (error instanceof RelayError) throw error;
    throw new RelayError('IO_FAILED', `cannot append to ${file}: ${describeError(error)}`, { cause: error });
  }
}
