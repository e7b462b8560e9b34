import * as fs from 'node:fs';
import { mkdirSync, rmdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { RelayError, describeError, errnoCode, quote } from '../errors.js';
import type { HomePaths } from './home.js';

/**
 * Cross-process locks (proper-lockfile: an atomic mkdir whose mtime the holder refreshes).
 * A holder killed with SIGKILL stops refreshing, and its lock is taken over once stale.
 */
export const LOCK_STALE_MS = 6000;
const LOCK_UPDATE_MS = 1000;

export interface LockOptions {
  /** How long to keep trying before giving up with LOCK_HELD. */
  readonly waitMs?: number;
}

const LOCK_NAME = /^[a-z0-9][a-z0-9._-]*$/i;

function lockTarget(paths: HomePaths, name: string): string {
  if (!LOCK_NAME.test(name)) throw new RelayError('INVALID_INPUT', `invalid lock name ${quote(name)}`);
  return join(paths.locks, name);
}

/**
 * The file calls proper-lockfile makes (mkdir, stat, utimes, rmdir, realpath), each done synchronously and its callback
 * called at once: a lock that is free is then taken without a trip through libuv's thread pool. One object for the
 * process, so that the library's probe of the file system's mtime precision, which it keeps on this object, is made
 * once (its own lockSync wraps a new copy of the whole fs module at each call, and probes again).
 */
const syncCallbackFs: Record<string, unknown> = (() => {
  const callSync =
    (name: 'mkdir' | 'realpath' | 'stat' | 'rmdir' | 'utimes') =>
    (...args: unknown[]): void => {
      const callback = args.pop() as (error: unknown, result?: unknown) => void;
      let result: unknown;
      try {
        result = (fs[`${name}Sync`] as (...a: unknown[]) => unknown)(...args);
      } catch (error) {
        callback(error);
        return;
      }
      callback(null, result);
    };
  return { ...fs, mkdir: callSync('mkdir'), realpath: callSync('realpath'), stat: callSync('stat'), rmdir: callSync('rmdir'), utimes: callSync('utimes') };
})();

let lockfile: typeof import('proper-lockfile') | undefined;

/**
 * Runs fn while holding the named lock of this home. Locks are not re-entrant.
 *
 * Each try is proper-lockfile's lock over synchronous file calls (one mkdir and one stat when the lock is free; a stale
 * holder's lock taken over), and the waits between tries are timers: its asynchronous lock over graceful-fs queued
 * each call to a worker thread and back, 0.8-2.2 ms on a daemon's restart path where these take tens of microseconds.
 */
export async function withLock<T>(paths: HomePaths, name: string, fn: () => Promise<T> | T, options: LockOptions = {}): Promise<T> {
  const target = lockTarget(paths, name);
  mkdirSync(paths.locks, { recursive: true });
  const waitMs = options.waitMs ?? LOCK_STALE_MS * 3;
  const deadline = Date.now() + waitMs;
  // Loaded when first used (withQuickLock's callers, create-task.sh, never pay for it), then kept: an import() of a
  // module already loaded still goes through the module loader's promises, 0.1-0.2 ms on a daemon's restart path.
  lockfile ??= (await import('proper-lockfile')).default;
  let release: (() => Promise<void>) | undefined;
  for (let delay = 5; release === undefined; delay = Math.min(60, delay * 1.3)) {
    try {
      // A compromised lock (its folder removed or taken over under us) must not crash the process from a timer.
      release = await lockfile.lock(target, { realpath: false, stale: LOCK_STALE_MS, update: LOCK_UPDATE_MS, lockfilePath: `${target}.lock`, retries: 0, fs: syncCallbackFs, onCompromised: () => undefined });
    } catch (error) {
      if (errnoCode(error) !== 'ELOCKED') throw new RelayError('IO_FAILED', `cannot take lock ${name}: ${describeError(error)}`, { cause: error });
      if (Date.now() > deadline) throw new RelayError('LOCK_HELD', `lock ${name} is held by another process (waited ${waitMs} ms)`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random())));
    }
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}

/**
 * The same lock as withLock, taken the way proper-lockfile takes it (its folder `<name>.lock` made by one
 * mkdir; one older than LOCK_STALE_MS is a dead holder's and removed; the holder refreshes its mtime), so
 * that each excludes the other, but without loading proper-lockfile, graceful-fs, retry and signal-exit:
 * about 30 ms of the 40 ms create-task.sh spends beyond node's own start (measured on 2 cores, node 20).
 * For short sections (one read-modify-write); the lock is removed if the process exits or is signalled
 * while it holds it.
 */
export async function withQuickLock<T>(paths: HomePaths, name: string, fn: () => Promise<T> | T, options: LockOptions = {}): Promise<T> {
  const dir = `${lockTarget(paths, name)}.lock`;
  mkdirSync(paths.locks, { recursive: true });
  const waitMs = options.waitMs ?? LOCK_STALE_MS * 3;
  const deadline = Date.now() + waitMs;
  for (let delay = 5; !tryMkdirLock(dir, name); delay = Math.min(60, delay * 1.3)) {
    if (Date.now() > deadline) throw new RelayError('LOCK_HELD', `lock ${name} is held by another process (waited ${waitMs} ms)`);
    await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random())));
  }
  const release = (): void => {
    clearInterval(refresh);
    process.off('exit', release);
    for (const signal of RELEASE_SIGNALS) process.off(signal, onSignal);
    try {
      rmdirSync(dir);
    } catch {
      /* already gone (taken over as stale); nothing of ours to remove */
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    release();
    process.kill(process.pid, signal);
  };
  const refresh = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(dir, now, now);
    } catch {
      /* removed under us: proper-lockfile's holders call that compromised and carry on too */
    }
  }, LOCK_UPDATE_MS);
  refresh.unref();
  process.on('exit', release);
  for (const signal of RELEASE_SIGNALS) process.once(signal, onSignal);
  try {
    return await fn();
  } finally {
    release();
  }
}

const RELEASE_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** One attempt: true when the lock folder was made; a stale one (its holder died) is removed and tried again once. */
function tryMkdirLock(dir: string, name: string): boolean {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      mkdirSync(dir);
      return true;
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw new RelayError('IO_FAILED', `cannot take lock ${name}: ${describeError(error)}`, { cause: error });
    }
    try {
      if (statSync(dir).mtimeMs >= Date.now() - LOCK_STALE_MS) return false;
      rmdirSync(dir);
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') return false;
    }
  }
  return false;
}

export const specLockName = (workerId: string): string => `spec-${workerId}`;
export const TASK_QUEUE_LOCK = 'task-queue';
export const ALERTS_LOCK = 'health-alerts';
export const DAEMON_LOCK = 'pm-daemon';
export const DISPATCH_PAUSES_LOCK = 'dispatch-pauses';
