import { constants } from 'node:os';
import { existsSync, linkSync, lstatSync, readdirSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { nowIso } from '../contract/time.js';
import { describeError, errnoCode } from '../errors.js';
import { readCmdline } from '../process/identity.js';
import { readTextIfExists } from './atomic.js';
import type { HomePaths } from './home.js';

/**
 * Exit records: coordination/worker-exits/<worker_id>.json, one JSON line written by
 * scripts/lib/worker-shim.sh when a worker's process ends ({"worker_id","run_id","status"}).
 * This module reads, removes and moves them; only the shim writes them.
 *
 * The shim writes its record under a temp name, `<file>.tmp.<shim pid>`, then renames it into place, except when the
 * process that started it is still its parent and said it would (COMMIT_RELAY_EXIT_REAPER, see src/process/spawn.ts):
 * then that parent renames it when it reaps the shim (settleExitRecord), which spares the shim a `mv` (a fork and an
 * exec) on every worker's end. Should the parent die in between, the record stays at its temp name: every read here
 * settles such a record first (settleLeftExitRecord), so a run's end is never lost.
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

/** The temp name a shim writes its exit record under: `<file>.tmp.<its pid>`. */
export const exitTempFile = (exitFile: string, pid: number): string => `${exitFile}.tmp.${pid}`;

/**
 * The reaper's part (see above): moves the record the shim with this pid left at its temp name into place, once the
 * shim is reaped, unless a newer record is there (the end of a later run, put in place before this older shim's end
 * was heard: the newer one stands, and the older one is left to the temp-file sweep). False when it left none (it
 * renamed its record itself, or was killed before writing one) or it was not moved. Never throws.
 */
export function settleExitRecord(exitFile: string, pid: number): boolean {
  const temp = exitTempFile(exitFile, pid);
  try {
    const there = statSync(exitFile, { throwIfNoEntry: false });
    if (there !== undefined && there.mtimeMs > statSync(temp).mtimeMs) return false;
    renameSync(temp, exitFile);
    return true;
  } catch {
    return false;
  }
}

/** Whether a file holds a whole record (the shim's one line, finished), read without following a link. */
export function isWholeRecord(file: string): boolean {
  try {
    return readTextIfExists(file)?.endsWith('}\n') === true;
  } catch {
    return false;
  }
}

/** Whether the shim with this pid runs yet (it may still be writing its record): its argv names the record's file. */
function shimRuns(pid: number, exitFile: string): boolean {
  return readCmdline(pid)?.includes(exitFile) === true;
}

/**
 * A record left at its temp name by a shim that has ended while no reaper settled it (its parent died between the
 * shim's look and its end): moved into place when there is no record there, the newest whole one when there are
 * several. Only a regular file holding one whole line counts (a shim killed while writing leaves a part, which the
 * temp-file sweep removes in time); never over a record that is there (a link, not a rename, so one that appears
 * meanwhile is not replaced). True when a record was moved into place.
 */
export function settleLeftExitRecord(paths: HomePaths, workerId: string): boolean {
  const file = paths.exitFile(workerId);
  const prefix = `${basename(file)}.tmp.`;
  let names: string[];
  try {
    names = readdirSync(paths.exits).filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)));
  } catch {
    return false;
  }
  let newest: { temp: string; mtimeMs: number } | undefined;
  for (const name of names) {
    const temp = join(paths.exits, name);
    try {
      const stat = lstatSync(temp);
      if (!stat.isFile() || (newest !== undefined && stat.mtimeMs < newest.mtimeMs)) continue;
      if (shimRuns(Number(name.slice(prefix.length)), file) || !isWholeRecord(temp)) continue;
      newest = { temp, mtimeMs: stat.mtimeMs };
    } catch {
      // gone meanwhile (its reaper settled it), or unreadable: not this one
    }
  }
  if (newest === undefined || existsSync(file)) return false;
  try {
    linkSync(newest.temp, file);
  } catch {
    return false;
  }
  try {
    unlinkSync(newest.temp);
  } catch {
    // settled by another reader meanwhile
  }
  return true;
}

/** Whether the worker has an exit record (one left at a temp name is settled first). */
export function hasExitRecord(paths: HomePaths, workerId: string): boolean {
  return existsSync(paths.exitFile(workerId)) || settleLeftExitRecord(paths, workerId);
}

export type ExitRecordRead = { readonly ok: true; readonly record: ExitRecord } | { readonly ok: false; readonly reason: string; readonly file: string };

/** The exit record of a worker, `ok: false` with the reason when the file is not a valid record, undefined when there is none. */
export function readExitRecordResult(paths: HomePaths, workerId: string): ExitRecordRead | undefined {
  const file = paths.exitFile(workerId);
  let text: string | undefined;
  let mtimeMs: number;
  try {
    text = readTextIfExists(file);
    if (text === undefined && settleLeftExitRecord(paths, workerId)) text = readTextIfExists(file);
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

/** Removes the worker's exit record only when it is this run's (a later run's, or one that cannot be read, stays). */
export function removeExitRecordOf(paths: HomePaths, workerId: string, runId: string): void {
  const read = readExitRecordResult(paths, workerId);
  if (read?.ok === true && read.record.run_id === runId) removeExitRecord(paths, workerId);
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
