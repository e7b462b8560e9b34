import { constants } from 'node:os';
import { renameSync, rmSync, statSync } from 'node:fs';
import { nowIso } from '../contract/time.js';
import { describeError, errnoCode } from '../errors.js';
import { readTextIfExists } from './atomic.js';
import type { HomePaths } from './home.js';

/**
 * Exit records: coordination/worker-exits/<worker_id>.json, one JSON line written by
 * scripts/lib/worker-shim.sh when a worker's process ends ({"worker_id","run_id","status"}).
 * This module reads and removes them; only the shim writes them.
 */
export interface ExitRecord {
  readonly worker_id: string;
  readonly run_id: string;
  /** The shell's status: the exit code, or 128 + the signal number. */
  readonly status: number;
  readonly exit_code: number | null;
  readonly signal: string | null;
  /** When the record was written (the file's mtime), ISO-8601. */
  readonly ended_at: string;
}

export interface DecodedStatus {
  readonly exit_code: number | null;
  readonly signal: string | null;
}

const SIGNAL_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(constants.signals).map(([name, number]) => [number, name]));

/** A shell status as an exit code or a signal name: 137 is SIGKILL, 3 is exit code 3. */
export function decodeStatus(status: number): DecodedStatus {
  if (status > 128) {
    const name = SIGNAL_NAMES.get(status - 128);
    if (name !== undefined) return { exit_code: null, signal: name };
  }
  return { exit_code: status, signal: null };
}

export type ExitRecordRead = { readonly ok: true; readonly record: ExitRecord } | { readonly ok: false; readonly reason: string; readonly file: string };

/** The exit record of a worker, `ok: false` with the reason when the file is not a valid record, undefined when there is none. */
export function readExitRecordResult(paths: HomePaths, workerId: string): ExitRecordRead | undefined {
  const file = paths.exitFile(workerId);
  let text: string | undefined;
  let mtimeMs: number;
  try {
    text = readTextIfExists(file);
    if (text === undefined) return undefined;
    mtimeMs = statSync(file).mtimeMs;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    return { ok: false, reason: `${file}: ${describeError(error)}`, file };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `${file}: not valid JSON (${describeError(error)})`, file };
  }
  if (typeof raw !== 'object' || raw === null) return { ok: false, reason: `${file}: not a JSON object`, file };
  const { worker_id: id, run_id: runId, status } = raw as Record<string, unknown>;
  if (id !== workerId) return { ok: false, reason: `${file}: worker_id ${JSON.stringify(id)} does not match the file name`, file };
  if (typeof runId !== 'string' || runId === '') return { ok: false, reason: `${file}: run_id must be a non-empty string`, file };
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 0 || status > 255) {
    return { ok: false, reason: `${file}: status must be an integer 0..255, got ${JSON.stringify(status)}`, file };
  }
  return { ok: true, record: { worker_id: workerId, run_id: runId, status, ...decodeStatus(status), ended_at: nowIso(mtimeMs) } };
}

/** The exit record of a worker, or undefined when there is none or it is invalid (then onInvalid hears why). */
export function readExitRecord(paths: HomePaths, workerId: string, onInvalid?: (reason: string) => void): ExitRecord | undefined {
  const read = readExitRecordResult(paths, workerId);
  if (read === undefined) return undefined;
  if (!read.ok) {
    onInvalid?.(read.reason);
    return undefined;
  }
  return read.record;
}

export function removeExitRecord(paths: HomePaths, workerId: string): void {
  rmSync(paths.exitFile(workerId), { force: true });
}

/** Sets an invalid record aside (never deletes data) so it is reported once; returns the new path. */
export function setAsideExitRecord(paths: HomePaths, workerId: string, now: number = Date.now()): string | undefined {
  const file = paths.exitFile(workerId);
  const aside = `${file}.invalid-${nowIso(now).replace(/[:.]/g, '-')}`;
  try {
    renameSync(file, aside);
    return aside;
  } catch {
    return undefined;
  }
}
