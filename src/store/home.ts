import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertValidId } from '../contract/ids.js';
import type { SpecFolder } from '../contract/worker-spec.js';
import { errnoCode, RelayError, describeError } from '../errors.js';

/** The folder with package.json that holds this code: the home when COMMIT_RELAY_HOME is unset. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new RelayError('HOME_UNUSABLE', 'cannot find the project root (no package.json above the code)');
    dir = parent;
  }
}

/** Every path of a home, in one place. Nothing else joins paths under coordination/ or agents/. */
export interface HomePaths {
  readonly home: string;
  readonly coordination: string;
  readonly config: string;
  readonly workerTypes: string;
  readonly daemonConfig: string;
  readonly specsRoot: string;
  readonly checkins: string;
  readonly exits: string;
  readonly locks: string;
  readonly taskQueue: string;
  readonly pmState: string;
  readonly dispatchPauses: string;
  readonly activity: string;
  readonly alerts: string;
  readonly daemonPidFile: string;
  /** The Node entry's word on the worker types for create-task.sh (src/queue/shell-cache.ts). */
  readonly shellCache: string;
  readonly logsRoot: string;
  readonly systemLogs: string;
  readonly daemonLog: string;
  /** workspaces/: one git worktree per worker of a type with a `workspace`. */
  readonly workspacesRoot: string;
  specDir(folder: SpecFolder): string;
  specFile(folder: SpecFolder, workerId: string): string;
  archivedDir(batch?: string): string;
  checkinFile(workerId: string): string;
  exitFile(workerId: string): string;
  workerLogDir(workerId: string): string;
  /** agents/logs/<id>/output.log, the run's output (the log pipe appends to it). */
  workerLogFile(workerId: string): string;
  /** agents/logs/<id>/output.log.1, what the last rotation moved aside. */
  workerRotatedLogFile(workerId: string): string;
  workspaceDir(workerId: string): string;
}

export function resolveHome(explicit: string | undefined): string {
  return resolve(explicit !== undefined && explicit !== '' ? explicit : projectRoot());
}

export function homePaths(home: string): HomePaths {
  const coordination = join(home, 'coordination');
  const specsRoot = join(coordination, 'worker-specs');
  const checkins = join(coordination, 'worker-checkins');
  const exits = join(coordination, 'worker-exits');
  const logsRoot = join(home, 'agents', 'logs');
  // A valid id is one plain file name (no separator, no "..", never "." alone): appended to an already normal folder
  // it gives what join() would, without join's normalizing (the daemon builds these paths at every check-in and pass).
  const specDirs = new Map<string, string>();
  const specDir = (folder: SpecFolder): string => {
    let dir = specDirs.get(folder);
    if (dir === undefined) specDirs.set(folder, (dir = join(specsRoot, folder)));
    return dir;
  };
  return {
    home,
    coordination,
    config: join(coordination, 'config'),
    workerTypes: join(coordination, 'config', 'worker-types.json'),
    daemonConfig: join(coordination, 'config', 'pm-daemon.json'),
    specsRoot,
    checkins,
    exits,
    locks: join(coordination, '.locks'),
    taskQueue: join(coordination, 'task-queue.json'),
    pmState: join(coordination, 'pm-state.json'),
    dispatchPauses: join(coordination, 'dispatch-pauses.json'),
    activity: join(coordination, 'pm-activity.jsonl'),
    alerts: join(coordination, 'health-alerts.json'),
    daemonPidFile: join(coordination, 'pm-daemon.pid.json'),
    shellCache: join(coordination, '.create-task-cache'),
    logsRoot,
    systemLogs: join(logsRoot, 'system'),
    daemonLog: join(logsRoot, 'system', 'pm-daemon.log'),
    workspacesRoot: join(home, 'workspaces'),
    specDir,
    specFile: (folder, workerId) => `${specDir(folder)}/${assertValidId(workerId)}.json`,
    archivedDir: (batch) => (batch === undefined ? join(specsRoot, 'archived') : join(specsRoot, 'archived', assertValidId(batch, 'batch'))),
    checkinFile: (workerId) => `${checkins}/${assertValidId(workerId)}.json`,
    exitFile: (workerId) => `${exits}/${assertValidId(workerId)}.json`,
    workerLogDir: (workerId) => `${logsRoot}/${assertValidId(workerId)}`,
    workerLogFile: (workerId) => `${logsRoot}/${assertValidId(workerId)}/output.log`,
    workerRotatedLogFile: (workerId) => `${logsRoot}/${assertValidId(workerId)}/output.log.1`,
    workspaceDir: (workerId) => join(home, 'workspaces', assertValidId(workerId)),
  };
}

/** Throws HOME_UNUSABLE unless the home exists and is a folder. */
export function assertHomeUsable(paths: HomePaths): void {
  let isDir = false;
  try {
    isDir = statSync(paths.home).isDirectory();
  } catch (error) {
    throw new RelayError('HOME_UNUSABLE', `home ${paths.home} is not usable: ${describeError(error)}`, { cause: error });
  }
  if (!isDir) throw new RelayError('HOME_UNUSABLE', `home ${paths.home} is not a folder`);
}

/** The folders under coordination/ that its writers need, parents first (not config/: that is the operator's). */
const workingFolders = (paths: HomePaths): string[] => [
  paths.specsRoot,
  paths.specDir('active'),
  paths.specDir('completed'),
  paths.specDir('failed'),
  paths.archivedDir(),
  paths.checkins,
  paths.exits,
  paths.locks,
];

/** Creates the folders a home needs (idempotent). The home itself must exist and be a folder. */
export function ensureLayout(paths: HomePaths): void {
  assertHomeUsable(paths);
  try {
    for (const dir of [paths.config, ...workingFolders(paths), paths.systemLogs]) mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new RelayError('HOME_UNUSABLE', `cannot create the layout under ${paths.home}: ${describeError(error)}`, { cause: error });
  }
}

/**
 * Makes the working folders again under a coordination/ that exists (after it was removed and made again while the
 * daemon ran), never coordination/ itself nor config/: an operator restoring a copy of coordination/ puts it there.
 * False, with nothing made, when coordination/ is not there.
 */
export function ensureWorkingFolders(paths: HomePaths): boolean {
  if (!existsSync(paths.coordination)) return false;
  try {
    for (const dir of workingFolders(paths)) {
      try {
        mkdirSync(dir);
      } catch (error) {
        if (errnoCode(error) !== 'EEXIST') throw error;
      }
    }
  } catch (error) {
    throw new RelayError('IO_FAILED', `cannot make the folders under ${paths.coordination}: ${describeError(error)}`, { cause: error });
  }
  return true;
}

/** Resolves the home, checks it, creates its layout: what every command does first. */
export function openHome(explicit: string | undefined): HomePaths {
  const paths = homePaths(resolveHome(explicit));
  ensureLayout(paths);
  return paths;
}
