import { existsSync, watch, type FSWatcher } from 'node:fs';
import { assertValidId } from '../contract/ids.js';
import { RelayError } from '../errors.js';
import type { HomePaths } from '../store/home.js';
import { findArchivedSpec, findSpec, listSpecIds } from '../store/specs.js';
import { LogFollower } from './log-read.js';

export interface LogsOptions {
  readonly lines: number;
  readonly follow: boolean;
  /** Every active worker, each line prefixed with its id; else the one worker. */
  readonly workerId?: string;
  /** How often a follower reads again when no change notice came (ms). */
  readonly pollMs?: number;
  readonly write?: (text: string) => void;
}

/** A worker is known when it has a spec (any folder, archived too) or a log folder. */
export function assertKnownWorker(paths: HomePaths, workerId: string): void {
  assertValidId(workerId);
  if (findSpec(paths, workerId) !== undefined || findArchivedSpec(paths, workerId) !== undefined || existsSync(paths.workerLogDir(workerId))) return;
  throw new RelayError('SPEC_NOT_FOUND', `no worker "${workerId}": no spec in worker-specs/ and no log folder`);
}

/**
 * Prints a worker's output (or every active worker's, prefixed), the last `lines` lines, then with `follow`
 * what is appended until SIGINT or SIGTERM. Following reads again on a change notice of the log folder
 * (fs.watch) and every `pollMs` anyway; with --all the active workers are listed again each time, so new
 * ones are picked up.
 */
export async function showLogs(paths: HomePaths, options: LogsOptions): Promise<void> {
  const write = options.write ?? ((text: string) => void process.stdout.write(text));
  const followers = new Map<string, LogFollower>();
  let width = 0;
  const add = (workerId: string): void => {
    width = Math.max(width, workerId.length);
    const emit = options.workerId !== undefined ? (line: string) => write(`${line}\n`) : (line: string) => write(`${workerId.padEnd(width)} | ${line}\n`);
    const follower = new LogFollower(paths.workerLogFile(workerId), paths.workerRotatedLogFile(workerId), emit);
    followers.set(workerId, follower);
    follower.start(options.lines);
  };
  const activeIds = (): string[] => listSpecIds(paths, 'active').sort();
  const single = options.workerId;
  if (single !== undefined) add(single);
  else {
    const ids = activeIds();
    width = Math.max(0, ...ids.map((id) => id.length));
    for (const id of ids) add(id);
  }
  if (!options.follow) {
    for (const follower of followers.values()) follower.close(true);
    return;
  }
  await new Promise<void>((resolve) => {
    const watchers = new Map<string, FSWatcher>();
    let scheduled = false;
    const tick = (): void => {
      scheduled = false;
      if (single === undefined) {
        for (const id of activeIds()) if (!followers.has(id)) add(id);
      }
      for (const follower of followers.values()) follower.poll();
      watchFolders();
    };
    const soon = (): void => {
      if (scheduled) return;
      scheduled = true;
      setImmediate(tick);
    };
    const watchOne = (dir: string): void => {
      if (watchers.has(dir)) return;
      try {
        const watcher = watch(dir, { persistent: false }, soon);
        watcher.on('error', () => {
          watcher.close();
          watchers.delete(dir);
        });
        watchers.set(dir, watcher);
      } catch {
        // Not there yet (the poll covers it).
      }
    };
    const watchFolders = (): void => {
      if (single === undefined) watchOne(paths.specDir('active'));
      for (const id of followers.keys()) watchOne(paths.workerLogDir(id));
    };
    watchFolders();
    const timer = setInterval(tick, options.pollMs ?? 250);
    const stop = (): void => {
      clearInterval(timer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      for (const watcher of watchers.values()) watcher.close();
      for (const follower of followers.values()) follower.close(true);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
