import { parseJsonWith } from '../contract/parse.js';
import { dispatchPausesFileSchema, type DispatchPausesFile } from '../contract/dispatch-pauses.js';
import { readTextIfExists, writeJsonAtomic } from './atomic.js';
import type { HomePaths } from './home.js';
import { DISPATCH_PAUSES_LOCK, withLock } from './lock.js';

/** dispatch-pauses.json, or no pauses when it is missing or empty; a file that does not parse throws. */
export function readDispatchPauses(paths: HomePaths): DispatchPausesFile {
  const text = readTextIfExists(paths.dispatchPauses);
  if (text === undefined || text.trim() === '') return { pauses: [] };
  return parseJsonWith(dispatchPausesFileSchema, text, paths.dispatchPauses);
}

/**
 * Read-modify-write of dispatch-pauses.json under its lock. fn changes the file's content in place and
 * returns a value; `write: false` in its answer leaves the file as it was.
 */
export async function updateDispatchPauses<T>(paths: HomePaths, fn: (file: DispatchPausesFile) => { value: T; write: boolean }): Promise<T> {
  return withLock(paths, DISPATCH_PAUSES_LOCK, async () => {
    const file = readDispatchPauses(paths);
    const { value, write } = fn(file);
    if (write) await writeJsonAtomic(paths.dispatchPauses, file);
    return value;
  });
}
