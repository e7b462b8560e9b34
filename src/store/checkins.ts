import { readdirSync } from 'node:fs';
import { checkinSchema, type Checkin } from '../contract/checkin.js';
import { parseJsonWith } from '../contract/parse.js';
import { errnoCode } from '../errors.js';
import { readTextIfChanged, readTextIfExists } from './atomic.js';
import type { HomePaths } from './home.js';

export type CheckinRead = { readonly ok: true; readonly checkin: Checkin } | { readonly ok: false; readonly reason: string };

/** The latest check-in of a worker; undefined when it never checked in. */
export function readCheckin(paths: HomePaths, workerId: string): CheckinRead | undefined {
  const file = paths.checkinFile(workerId);
  try {
    const text = readTextIfExists(file);
    return text === undefined ? undefined : checkinOf(text, file, workerId);
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
}

/**
 * The worker's check-in file's version (signatureOf), and what it says unless that version is `known` (then `read` is
 * absent: nothing was read). Undefined when it never checked in; throws only when not even the version can be told.
 */
export function readCheckinIfChanged(paths: HomePaths, workerId: string, known: string | undefined): { readonly signature: string; readonly read?: CheckinRead } | undefined {
  const file = paths.checkinFile(workerId);
  const reading = readTextIfChanged(file, known);
  if (reading === undefined) return undefined;
  if ('unchanged' in reading) return { signature: reading.signature };
  if ('error' in reading) return { signature: reading.signature, read: { ok: false, reason: reading.error.message } };
  return { signature: reading.signature, read: checkinOf(reading.text, file, workerId) };
}

function checkinOf(text: string, file: string, workerId: string): CheckinRead {
  try {
    const checkin = parseJsonWith(checkinSchema, text, file);
    if (checkin.worker_id !== workerId) return { ok: false, reason: `${file}: worker_id "${checkin.worker_id}" does not match the file name` };
    return { ok: true, checkin };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
}

export function listCheckinIds(paths: HomePaths): string[] {
  try {
    return readdirSync(paths.checkins)
      .filter((n) => n.endsWith('.json'))
      .map((n) => n.slice(0, -5));
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return [];
    throw error;
  }
}
