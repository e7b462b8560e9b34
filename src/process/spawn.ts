import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants as fsConstants, fstatSync, lstatSync, mkdirSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { nowIso } from '../contract/time.js';
import { WORKER_TYPE_DEFAULTS, type WorkerType } from '../contract/worker-types.js';
import { RelayError, describeError, errnoCode } from '../errors.js';
import { settleExitRecord } from '../store/exits.js';
import { projectRoot, type HomePaths } from '../store/home.js';
import { currentBootId, readProcStat } from './identity.js';
import type { Launcher } from './launcher.js';
import { closeLogPipe, openLogPipe, type LogPipe } from './log-pipe.js';
import type { WorkspaceRecord } from '../workspace/worktree.js';

/**
 * The only module that starts worker processes. Each worker runs inside scripts/lib/worker-shim.sh,
 * detached in its own session and process group (pid = pgid), cwd = home (or its workspace, see
 * src/workspace/worktree.ts), stdout and stderr into the log
 * pipe (log-pipe.ts), whose `split` in the shim appends them to agents/logs/<worker_id>/output.log within the cap. The shim writes the run's exit record when it ends.
 */

export interface WorkerLaunch {
  readonly workerId: string;
  readonly taskId: string | null;
  readonly description: string;
  readonly workerType: WorkerType;
  readonly restartCount: number;
  /** The environment the worker inherits before its own variables (default: this process's). */
  readonly baseEnv?: NodeJS.ProcessEnv;
  /** Start time, ms since the epoch (default: now). */
  readonly now?: number;
  /** The run token, when the caller recorded it before spawning (default: a new one). */
  readonly runId?: string;
  /** The argv to run instead of the type's `command` (its `resume_command`, for a resume). */
  readonly command?: readonly string[];
  /** The agent session, for `{session_id}`. */
  readonly sessionId?: string | null;
  /** The worker's worktree, made or checked by the caller (src/workspace/worktree.ts), required with a type's `workspace`. */
  readonly workspace?: WorkspaceRecord | null;
  /**
   * This process will be there to reap the shim (the daemon): the shim leaves its exit record for it to rename
   * (reapExitRecord). Without it (a command, which exits after its start) the shim renames its record itself. A launch
   * through the launcher or a standby is always the daemon's.
   */
  readonly reapsExitRecord?: boolean;
}

export interface SpawnResult {
  readonly pid: number;
  /** /proc/PID/stat start time; null only when it could not be read. */
  readonly startTicks: number | null;
  readonly bootId: string;
  readonly runId: string;
  readonly startedAt: string;
  /** The worker's argv after placeholders (the program as resolved). */
  readonly argv: readonly string[];
  readonly logFile: string;
  /** The worker's own git worktree (its cwd), when its type has a `workspace`. */
  readonly workspace: WorkspaceRecord | null;
  /** The shim's ChildProcess (or the launcher's report of it): keep it to hear its exit, or unref() it to let this process exit first. */
  readonly child: WorkerChild;
  /** Why this run's log has no pipe and so no bound (no FIFO could be had: the worker writes to output.log itself), else absent. */
  readonly logUnbounded?: string;
}

/** What a starter watches of a shim it started: its end. */
export interface WorkerChild {
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  /** True when its end will not be reported after all (a launched shim whose launcher died): no `exit` comes. */
  readonly orphaned?: boolean;
  once(event: 'exit', listener: () => void): unknown;
  unref(): void;
  ref(): void;
}

export const shimPath = (): string => join(projectRoot(), 'scripts', 'lib', 'worker-shim.sh');

export const workerLogFile = (paths: HomePaths, workerId: string): string => paths.workerLogFile(workerId);

/** A per-run token: in the worker's environment, its exit record and its spec. */
export const newRunId = (): string => `run-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;

export interface Placeholders {
  readonly worker_id: string;
  readonly task_id: string | null;
  readonly description: string;
  readonly home: string;
  /** The agent session a resume continues (`resume_command`); absent: replaced by nothing. */
  readonly session_id?: string | null;
  /** The worker's workspace; without one, {workspace} is the home (its working directory). */
  readonly workspace?: string;
}

/** Replaces {worker_id} {task_id} {description} {home} {session_id} {workspace} inside each element, in one pass (a value is never expanded again). */
export function expandCommand(command: readonly string[], values: Placeholders): string[] {
  return command.map((part) =>
    part.replace(/\{(worker_id|task_id|description|home|session_id|workspace)\}/g, (_, key: keyof Placeholders) => (key === 'workspace' ? (values.workspace ?? values.home) : (values[key] ?? ''))),
  );
}

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The program to run: one containing `/` is resolved from the home and must be an executable file;
 * a bare name must be found on the PATH the worker will have. Throws SPAWN_FAILED in one line.
 */
export function resolveProgram(program: string, home: string, env: NodeJS.ProcessEnv): string {
  if (program === '') throw new RelayError('SPAWN_FAILED', 'cannot start: the command names an empty program');
  if (program.includes('/')) {
    const file = isAbsolute(program) ? program : resolve(home, program);
    let exists = true;
    try {
      statSync(file);
    } catch (error) {
      exists = errnoCode(error) !== 'ENOENT' && errnoCode(error) !== 'ENOTDIR';
    }
    if (!exists) throw new RelayError('SPAWN_FAILED', `cannot start: program ${program} not found${isAbsolute(program) ? '' : ` (in ${home})`}`);
    if (!isExecutableFile(file)) throw new RelayError('SPAWN_FAILED', `cannot start: program ${program} is not an executable file`);
    return file;
  }
  const dirs = (env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  for (const dir of dirs) {
    if (isExecutableFile(resolve(home, dir, program))) return program;
  }
  throw new RelayError('SPAWN_FAILED', `cannot start: program ${program} not found on PATH`);
}

/** The check-in interval a worker is asked for: the type's, else a third of its check-in timeout. */
export const checkinIntervalSeconds = (type: WorkerType): number => type.checkin_interval_seconds ?? Math.max(1, Math.round(type.checkin_timeout_seconds / 3));

/**
 * The shim's own variables (worker-shim.sh): set by the spawner or by the shim itself for the process it execs, never
 * taken from the environment a worker inherits or its type's `env` (a shim would take them for its own).
 */
const SHIM_VARIABLES = ['COMMIT_RELAY_STANDBY', 'COMMIT_RELAY_EXIT_FILE', 'COMMIT_RELAY_EXIT_REAPER', 'COMMIT_RELAY_LOG_FILE', 'COMMIT_RELAY_LOG_MAX', 'COMMIT_RELAY_SPLIT_PID', 'COMMIT_RELAY_RELAY_PID'];

export function workerEnv(launch: WorkerLaunch, paths: HomePaths, runId: string, workspace: WorkspaceRecord | null = null): NodeJS.ProcessEnv {
  const inherited: NodeJS.ProcessEnv = { ...(launch.baseEnv ?? process.env), ...launch.workerType.env };
  for (const name of SHIM_VARIABLES) delete inherited[name];
  return {
    ...inherited,
    WORKER_ID: launch.workerId,
    TASK_ID: launch.taskId ?? '',
    COMMIT_RELAY_HOME: paths.home,
    COMMIT_RELAY_RUN_ID: runId,
    COMMIT_RELAY_CHECKIN_INTERVAL: String(checkinIntervalSeconds(launch.workerType)),
    COMMIT_RELAY_RESTART_COUNT: String(launch.restartCount),
    ...(workspace === null ? {} : { COMMIT_RELAY_WORKSPACE: workspace.path }),
  };
}

/**
 * Opens the worker's log for appending (O_APPEND: the rotation's truncate never leaves a hole) and writes the run
 * header. A worker can write under agents/logs/: a link planted there (as the folder or as output.log) or a FIFO is
 * refused, never written through or blocked on.
 */
function openLog(paths: HomePaths, workerId: string, header: string, maxBytes: number): { fd: number; file: string } {
  const file = workerLogFile(paths, workerId);
  let fd: number | undefined;
  try {
    mkdirSync(paths.workerLogDir(workerId), { recursive: true });
    if (!lstatSync(paths.workerLogDir(workerId)).isDirectory()) throw new Error(`${paths.workerLogDir(workerId)} is not a folder (a symbolic link?)`);
    fd = openSync(file, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK, 0o644);
    if (!fstatSync(fd).isFile()) throw new Error('not a regular file');
    if (fstatSync(fd).size >= maxBytes) {
      // What the previous runs left is at or over the cap: it becomes output.log.1 (a rename: a link planted there is
      // replaced, never followed), and this run's header starts a new output.log, as the shim's log pipe expects.
      closeSync(fd);
      fd = undefined;
      renameSync(file, `${file}.1`);
      fd = openSync(file, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK, 0o644);
    }
    writeSync(fd, header);
    return { fd, file };
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    const why = errnoCode(error) === 'ELOOP' ? 'it is a symbolic link' : describeError(error);
    throw new RelayError('SPAWN_FAILED', `cannot start: cannot open ${file}: ${why}`, { cause: error });
  }
}

/** What a start runs, worked out before anything is spawned. */
interface PreparedLaunch {
  readonly runId: string;
  readonly startedAt: string;
  readonly workspace: WorkspaceRecord | null;
  readonly env: NodeJS.ProcessEnv;
  /** The program as resolved, then its arguments. */
  readonly command: readonly string[];
  readonly cwd: string;
  readonly header: string;
  readonly maxBytes: number;
}

function prepareLaunch(paths: HomePaths, launch: WorkerLaunch, runId: string): PreparedLaunch {
  const startedAt = nowIso(launch.now ?? Date.now());
  const workspace = launch.workspace ?? null;
  // Never the agent in the wrong folder: a type with a workspace does not start without it.
  if (launch.workerType.workspace !== undefined && workspace === null) throw new RelayError('SPAWN_FAILED', 'cannot start: workspace: the worktree was not prepared');
  const env = workerEnv(launch, paths, runId, workspace);
  const argv = expandCommand(launch.command ?? launch.workerType.command, {
    worker_id: launch.workerId,
    task_id: launch.taskId,
    description: launch.description,
    home: paths.home,
    session_id: launch.sessionId ?? null,
    ...(workspace === null ? {} : { workspace: workspace.path }),
  });
  const [program, ...args] = argv;
  const resolved = resolveProgram(program ?? '', paths.home, env);
  const command = [resolved, ...args];
  const maxBytes = launch.workerType.log_max_bytes ?? WORKER_TYPE_DEFAULTS.log_max_bytes;
  return { runId, startedAt, workspace, env, command, cwd: workspace?.path ?? paths.home, header: runHeader(startedAt, runId, launch, command), maxBytes };
}

const runHeader = (startedAt: string, runId: string, launch: WorkerLaunch, command: readonly string[]): string => `=== ${startedAt} run ${runId} of ${launch.workerId} (restart ${launch.restartCount}): ${JSON.stringify(command)}\n`;

/**
 * Whether two launches of a worker are made of the same parts, all but the time and the restart count: then what
 * prepareLaunch makes of them differs only in those (the environment's restart count, the start time, the header).
 */
function sameParts(a: WorkerLaunch, b: WorkerLaunch): boolean {
  const argv = (l: WorkerLaunch): readonly string[] => l.command ?? l.workerType.command;
  const [x, y] = [argv(a), argv(b)];
  return (
    a.workerId === b.workerId &&
    a.taskId === b.taskId &&
    a.description === b.description &&
    a.workerType === b.workerType &&
    a.baseEnv === b.baseEnv &&
    (a.sessionId ?? null) === (b.sessionId ?? null) &&
    (a.workspace ?? null) === null &&
    (b.workspace ?? null) === null &&
    x.length === y.length &&
    x.every((part, i) => part === y[i])
  );
}

/**
 * The shim's argv and environment for a run (a standby's, or the run's own), with the log pipe or without. `reaper`
 * is the pid of the shim's parent to be, when that parent renames the shim's exit record into place as it reaps it
 * (see reapExitRecord and worker-shim.sh), else null.
 */
function shimCommand(paths: HomePaths, workerId: string, prepared: PreparedLaunch, logFile: string, piped: boolean, standby: boolean, reaper: number | null): { argv: string[]; env: NodeJS.ProcessEnv } {
  // A standby's argv does not name the worker (runbook A's `ps aux | grep ID` must find the run alone): the id and the
  // exit record's path reach it through its environment, and it execs the shim with them once told to go.
  const extra: NodeJS.ProcessEnv = { ...(reaper === null ? {} : { COMMIT_RELAY_EXIT_REAPER: String(reaper) }), ...(standby ? { COMMIT_RELAY_STANDBY: '1', COMMIT_RELAY_EXIT_FILE: paths.exitFile(workerId) } : {}) };
  const head = standby ? ['--standby'] : [workerId, prepared.runId, paths.exitFile(workerId)];
  const env = piped ? { ...prepared.env, ...extra, COMMIT_RELAY_LOG_FILE: logFile, COMMIT_RELAY_LOG_MAX: String(prepared.maxBytes) } : { ...prepared.env, ...extra };
  return { argv: ['/bin/sh', shimPath(), ...head, '--', ...prepared.command], env };
}

/**
 * Spawns the shim. With the log pipe, stdout and stderr are its write end and fd 3 its read end (for the shim's
 * split); the log's path and cap reach the shim through its environment, never argv (see worker-shim.sh), and it
 * removes them from the worker's. A standby (`relay`: a pipe of its own, for its relay, on fds 4 and 5) has as its
 * stdin a pipe from this process, on which its relay's child waits for "go".
 */
function spawnShim(paths: HomePaths, workerId: string, prepared: PreparedLaunch, logFile: string, pipe: LogPipe | { readonly error: string }, logFd: number | null, relay: LogPipe | null, reaps: boolean): ChildProcess {
  const standby = relay !== null;
  const stdin = standby ? 'pipe' : 'ignore';
  const piped = !('error' in pipe);
  const { argv, env } = shimCommand(paths, workerId, prepared, logFile, piped, standby, reaps ? process.pid : null);
  const child = spawn(argv[0] ?? '/bin/sh', argv.slice(1), {
    cwd: prepared.cwd,
    detached: true,
    env,
    stdio: piped ? [stdin, pipe.write, pipe.write, pipe.read, ...(relay === null ? [] : [relay.read, relay.write])] : [stdin, logFd ?? 'ignore', logFd ?? 'ignore'],
  });
  reapExitRecord(paths, workerId, child);
  return child;
}

/**
 * As the shim's parent (its reaper: COMMIT_RELAY_EXIT_REAPER), moves the exit record it left at its temp name into
 * place when it ends: the first of its `exit` listeners, so whoever hears the end after finds the record there.
 */
function reapExitRecord(paths: HomePaths, workerId: string, child: { readonly pid?: number | undefined; once(event: 'exit', listener: () => void): unknown }): void {
  const pid = child.pid;
  if (pid !== undefined) child.once('exit', () => settleExitRecord(paths.exitFile(workerId), pid));
}

/** The spawned shim's identity; throws SPAWN_FAILED when the system made no process. */
function spawned(child: ChildProcess): { pid: number; startTicks: number | null; bootId: string } {
  // An 'error' event without a listener would crash the caller; the pid check below reports it.
  child.on('error', () => undefined);
  const pid = child.pid;
  if (pid === undefined) throw new RelayError('SPAWN_FAILED', 'cannot start: the system refused to create the process');
  // Read at once: the process cannot have been reaped yet (we are its parent), even if it already exited.
  const stat = readProcStat(pid);
  return { pid, startTicks: stat?.startTicks ?? null, bootId: currentBootId() };
}

/** The run's output: the log pipe (or why there is none) and the log file, its run header written. */
function openRunOutput(paths: HomePaths, workerId: string, prepared: PreparedLaunch): { pipe: LogPipe | { readonly error: string }; log: { fd: number; file: string } } {
  const pipe = openLogPipe(paths);
  const piped = !('error' in pipe);
  try {
    return { pipe, log: openLog(paths, workerId, piped ? prepared.header : `${prepared.header}(no log pipe: ${pipe.error}; this run's log is not bounded)\n`, prepared.maxBytes) };
  } catch (error) {
    if (piped) closeLogPipe(pipe);
    throw error;
  }
}

function closeRunOutput(output: { pipe: LogPipe | { readonly error: string }; log: { fd: number } }): void {
  closeSync(output.log.fd);
  if (!('error' in output.pipe)) closeLogPipe(output.pipe);
}

/** Starts a worker's command inside the shim. Checks the program first: a missing one throws SPAWN_FAILED and starts nothing. */
export function spawnWorker(paths: HomePaths, launch: WorkerLaunch): SpawnResult {
  const prepared = prepareLaunch(paths, launch, launch.runId ?? newRunId());
  const output = openRunOutput(paths, launch.workerId, prepared);
  let child: ChildProcess;
  try {
    child = spawnShim(paths, launch.workerId, prepared, output.log.file, output.pipe, output.log.fd, null, launch.reapsExitRecord === true);
  } catch (error) {
    throw new RelayError('SPAWN_FAILED', `cannot start: ${describeError(error)}`, { cause: error });
  } finally {
    closeRunOutput(output);
  }
  const { pid, startTicks, bootId } = spawned(child);
  const unbounded = 'error' in output.pipe ? { logUnbounded: output.pipe.error } : {};
  return { pid, startTicks, bootId, runId: prepared.runId, startedAt: prepared.startedAt, argv: prepared.command, logFile: output.log.file, workspace: prepared.workspace, child, ...unbounded };
}

/**
 * spawnWorker through the daemon's launcher (process/launcher.ts): the same shim, argv, environment, folder and
 * output, forked by the launcher rather than by this process. Its ends reach `child` as the launcher reports them.
 */
export async function launchWorker(paths: HomePaths, launch: WorkerLaunch, launcher: Launcher): Promise<SpawnResult> {
  const prepared = prepareLaunch(paths, launch, launch.runId ?? newRunId());
  // The launcher makes the log pipe itself (a plain pipe: no FIFO from the pool, no mkfifo).
  const log = openLog(paths, launch.workerId, prepared.header, prepared.maxBytes);
  closeSync(log.fd);
  // The launcher forks the shim and reaps it; this process renames its exit record on hearing its end.
  const { argv, env } = shimCommand(paths, launch.workerId, prepared, log.file, true, false, launcher.parentPid());
  const child = await launcher.launch({ argv, env, cwd: prepared.cwd, output: 'pipe' });
  reapExitRecord(paths, launch.workerId, child);
  // The launcher answers once the shim has exec'd; it reaps it, so one that ended at once may be gone (no start ticks).
  const stat = readProcStat(child.pid);
  return { pid: child.pid, startTicks: stat?.startTicks ?? null, bootId: currentBootId(), runId: prepared.runId, startedAt: prepared.startedAt, argv: prepared.command, logFile: log.file, workspace: prepared.workspace, child };
}

/**
 * A shim started ahead of a worker's next run, waiting on its stdin for "go" (scripts/lib/worker-shim.sh --standby):
 * a restart then costs no spawn. It carries the next run's token from its start, but runs nothing until told (then
 * it execs the shim proper: same pid and start time), and ends (writing no exit record) when its stdin closes, so it
 * never outlives the process that made it. Its argv does not name the worker until it runs.
 */
export interface Standby {
  readonly workerId: string;
  readonly runId: string;
  /** The launch it was made for, and what was made of it. */
  readonly launch: WorkerLaunch;
  readonly prepared: PreparedLaunch;
  readonly pid: number;
  readonly startTicks: number | null;
  readonly bootId: string;
  readonly child: ChildProcess;
  /** What it will run, where, with what environment (all but the restart count, sent with "go"). */
  readonly key: string;
}

/** The parts of a launch a standby is made for: a start that would differ in any of them cannot use it. */
function standbyKey(prepared: PreparedLaunch): string {
  const { COMMIT_RELAY_RESTART_COUNT: _count, ...env } = prepared.env;
  return JSON.stringify([prepared.command, prepared.cwd, prepared.maxBytes, Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
}

/**
 * Spawns a standby for a worker's next run (the launch's runId, else a new run token) with its log pipe (the standby
 * starts its `split` and its relay at once, worker-shim.sh); the run header is written at "go" (readyStandby). The
 * child is unref()ed: a standby never keeps this process alive.
 */
export function spawnStandby(paths: HomePaths, launch: WorkerLaunch): Standby {
  const prepared = prepareLaunch(paths, launch, launch.runId ?? newRunId());
  const pipe = openLogPipe(paths);
  if ('error' in pipe) throw new RelayError('SPAWN_FAILED', `cannot prepare a standby: ${pipe.error}`);
  // The relay's pipe (worker-shim.sh --standby): a FIFO of the same pool.
  const relay = openLogPipe(paths);
  if ('error' in relay) {
    closeLogPipe(pipe);
    throw new RelayError('SPAWN_FAILED', `cannot prepare a standby: ${relay.error}`);
  }
  let child: ChildProcess;
  try {
    child = spawnShim(paths, launch.workerId, prepared, workerLogFile(paths, launch.workerId), pipe, null, relay, true);
  } catch (error) {
    throw new RelayError('SPAWN_FAILED', `cannot prepare a standby: ${describeError(error)}`, { cause: error });
  } finally {
    closeLogPipe(pipe);
    closeLogPipe(relay);
  }
  const { pid, startTicks, bootId } = spawned(child);
  child.stdin?.on('error', () => undefined);
  child.unref();
  (child.stdin as { unref?: () => void } | null)?.unref?.();
  return { workerId: launch.workerId, runId: prepared.runId, launch, prepared, pid, startTicks, bootId, child, key: standbyKey(prepared) };
}

/**
 * Readies a standby for this launch (its run token): undefined when the launch differs from what it was made for
 * or it is gone (then start the usual way). Writes the run header; the caller records the run, then calls goStandby.
 */
export function readyStandby(paths: HomePaths, standby: Standby, launch: WorkerLaunch): SpawnResult | undefined {
  if (standby.child.exitCode !== null || standby.child.signalCode !== null || standby.startTicks === null) return undefined;
  let prepared: PreparedLaunch;
  if (sameParts(standby.launch, launch)) {
    // Made of the same parts: only the time and the header are new (the restart count goes with "go"). The program is
    // still looked for, as a start would (one that is gone fails the start, rather than the run).
    const made = standby.prepared;
    resolveProgram(made.command[0] ?? '', paths.home, made.env);
    const startedAt = nowIso(launch.now ?? Date.now());
    prepared = { ...made, startedAt, header: runHeader(startedAt, standby.runId, launch, made.command) };
  } else {
    prepared = prepareLaunch(paths, launch, standby.runId);
    if (standbyKey(prepared) !== standby.key) return undefined;
  }
  const log = openLog(paths, launch.workerId, prepared.header, prepared.maxBytes);
  closeSync(log.fd);
  return { pid: standby.pid, startTicks: standby.startTicks, bootId: standby.bootId, runId: standby.runId, startedAt: prepared.startedAt, argv: prepared.command, logFile: log.file, workspace: prepared.workspace, child: standby.child };
}

/** Tells a readied standby to run (its worker's restart count with it); false when it could not be told. */
export function goStandby(standby: Standby, restartCount: number): boolean {
  const stdin = standby.child.stdin;
  if (stdin === null || stdin.destroyed || standby.child.exitCode !== null || standby.child.signalCode !== null) return false;
  standby.child.ref();
  stdin.end(`go ${restartCount}\n`);
  return true;
}

/** Lets a standby go unused: its stdin closes, and it ends without running anything. */
export function dropStandby(standby: Standby): void {
  standby.child.stdin?.destroy();
}
