import { lstatSync, readdirSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isValidId } from '../contract/ids.js';
import { SPEC_FOLDERS } from '../contract/worker-spec.js';
import { errnoCode } from '../errors.js';
import { settleLeftExitRecord } from './exits.js';
import type { HomePaths } from './home.js';

/**
 * Temp files our writers leave when they are killed between creating the temp file and renaming it over the
 * real one. Each writer's temp name is the real file's name plus a suffix:
 *
 * | writer | temp name |
 * | --- | --- |
 * | write-file-atomic (`writeJsonAtomic`: specs, the queue, alerts, the pid file, MANIFEST.json) | `<file>.<digits>` |
 * | `writeTextSync` (pm-state.json, create-task.sh's cache `.create-task-cache`; create-task.sh's task-queue.json) | `<file>.<pid>.<n>.tmp` |
 * | `writeCheckin` (check-ins) | `<file>.tmp-<pid>-<ms>` |
 * | `scripts/lib/worker-shim.sh` (exit records; a whole one may be left for its reaper, see src/store/exits.ts) | `<file>.tmp.<pid>` |
 * | other tools (an editor, a hand-written script) | `<file>.tmp` |
 *
 * Only a name that is such a suffix on a file name that belongs in its folder counts (the files set aside on
 * purpose, `*.corrupt-<time>` and `*.invalid-<time>`, never do), and only a regular file: a link is never
 * followed, reported as a temp file or removed.
 */
const TEMP_NAME = /^(.+\.json|\.create-task-cache)(?:\.\d+|\.\d+\.\d+\.tmp|\.tmp-\d+-\d+|\.tmp\.\d+|\.tmp)$/;

/** A temp file older than this is a killed writer's: no live write takes anywhere near as long. */
export const STALE_TEMP_MS = 10 * 60 * 1000;

export interface TempFile {
  /** The temp file's path. */
  readonly file: string;
  /** The path of the file it was to replace. */
  readonly of: string;
  /** Its age from its last change, ms (0 when its clock is ahead). */
  readonly ageMs: number;
}

const idJson = (name: string): boolean => name.endsWith('.json') && isValidId(name.slice(0, -'.json'.length));
const oneOf =
  (...names: string[]) =>
  (name: string): boolean =>
    names.includes(name);

/** The folders of a home that writers write into, each with the names of the files that belong in it. */
function tempFolders(paths: HomePaths): { folder: string; belongs: (name: string) => boolean }[] {
  const folders = [
    { folder: paths.coordination, belongs: oneOf(...[paths.taskQueue, paths.pmState, paths.alerts, paths.daemonPidFile, paths.dispatchPauses, paths.shellCache].map((f) => basename(f))) },
    { folder: paths.config, belongs: oneOf(basename(paths.workerTypes), basename(paths.daemonConfig)) },
    ...SPEC_FOLDERS.map((f) => ({ folder: paths.specDir(f), belongs: idJson })),
    { folder: paths.checkins, belongs: idJson },
    { folder: paths.exits, belongs: idJson },
  ];
  for (const batch of subfolders(paths.archivedDir())) {
    folders.push({ folder: join(paths.archivedDir(), batch), belongs: (name) => name === 'MANIFEST.json' || idJson(name) });
  }
  return folders;
}

/** The names of the real folders (not links) in a folder; none when it is missing. */
function subfolders(folder: string): string[] {
  return names(folder).filter((name) => {
    try {
      return lstatSync(join(folder, name)).isDirectory();
    } catch {
      return false;
    }
  });
}

function names(folder: string): string[] {
  try {
    return readdirSync(folder);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return [];
    throw error;
  }
}

/**
 * Every temp file our writers left in the home (see TEMP_NAME), with its age at `nowMs` (wall clock). Lists each
 * folder once (names only) and lstats only the names that match, so a large completed/ costs little.
 */
export function findTempFiles(paths: HomePaths, nowMs: number): TempFile[] {
  const found: TempFile[] = [];
  for (const { folder, belongs } of tempFolders(paths)) {
    for (const name of names(folder)) {
      const match = name.match(TEMP_NAME);
      if (match === null || !belongs(match[1] ?? '')) continue;
      const file = join(folder, name);
      let stat;
      try {
        stat = lstatSync(file);
      } catch {
        continue;
      }
      if (!stat.isFile()) continue;
      found.push({ file, of: join(folder, match[1] ?? ''), ageMs: Math.max(0, nowMs - stat.mtimeMs) });
    }
  }
  return found;
}

/** Whether a temp file is an exit record at the shim's temp name (`worker-exits/<id>.json.tmp.<pid>`). */
export const isExitRecordTemp = (paths: HomePaths, temp: TempFile): boolean => dirname(temp.of) === paths.exits && /\.tmp\.\d+$/.test(temp.file);

/**
 * Removes the temp files older than `olderThanMs` (a live writer's is seconds old at most) and returns them.
 * unlink removes a name, never what a link points to; a file that went away meanwhile is skipped.
 */
export function removeStaleTempFiles(paths: HomePaths, nowMs: number, olderThanMs = STALE_TEMP_MS): { removed: TempFile[]; failed: { temp: TempFile; error: unknown }[] } {
  const removed: TempFile[] = [];
  const failed: { temp: TempFile; error: unknown }[] = [];
  const stale = findTempFiles(paths, nowMs).filter((temp) => temp.ageMs >= olderThanMs);
  // An exit record its shim left for a reaper that died is a run's end, not a killed writer's part: moved into place
  // first when there is none there (src/store/exits.ts). One that a record in place supersedes (a later run's end), or a
  // second one of older runs, is removed with the other stale temp files.
  const exitsOf = new Set(stale.filter((temp) => isExitRecordTemp(paths, temp)).map((temp) => basename(temp.of, '.json')));
  for (const workerId of exitsOf) settleLeftExitRecord(paths, workerId);
  for (const temp of stale) {
    try {
      unlinkSync(temp.file);
      removed.push(temp);
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') failed.push({ temp, error });
    }
  }
  return { removed, failed };
}
