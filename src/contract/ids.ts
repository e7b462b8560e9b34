import { quote, RelayError } from '../errors.js';

/** An event's type in pm-activity.jsonl (here, zod-free, so that the lean entries can append events). */
export const EVENT_TYPE_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;

/** A key of worker_types in worker-types.json. */
export const WORKER_TYPE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Worker and task ids: a safe file name, never a path. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value) && !value.includes('..');
}

function describeBadId(value: unknown): string {
  if (typeof value !== 'string') return `expected a string, got ${typeof value}`;
  if (value.length === 0) return 'it is empty';
  if (value.length > 128) return `it is ${value.length} characters long (at most 128)`;
  if (value.includes('/') || value.includes('\\')) return 'it contains a path separator';
  if (value.includes('..')) return 'it contains ".."';
  if (value.includes('\0')) return 'it contains a NUL byte';
  return `it must match ${ID_PATTERN.source}`;
}

/** Throws INVALID_ID naming the kind of id and why, e.g. `invalid worker id "../x": it contains a path separator`. */
export function assertValidId(value: unknown, kind: 'worker' | 'task' | 'batch' = 'worker'): string {
  if (isValidId(value)) return value;
  const shown = typeof value === 'string' ? quote(value.length > 60 ? `${value.slice(0, 60)}…` : value) : String(value);
  throw new RelayError('INVALID_ID', `invalid ${kind} id ${shown}: ${describeBadId(value)}`, { details: { kind, value } });
}
