import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
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

/** Runs fn while holding the named lock of this home. Locks are not re-entrant. */
export async function withLock<T>(paths: HomePaths, name: string, fn: () => Promise<T> | T, options: LockOptions = {}): Promise<T> {
  const target = lockTarget(paths, name);
  mkdirSync(paths.locks, { recursive: true });
  const waitMs = options.waitMs ?? LOCK_STALE_MS * 3;
  const minTimeout = 5;
  const maxTimeout = 60;
  let release: (() => Promise<void>) | undefined;
  try {
    release = await lockfile.lock(target, {
      realpath: false,
      stale: LOCK_STALE_MS,
      update: LOCK_UPDATE_MS,
      lockfilePath: `${target}.lock`,
      retries: { retries: Math.ceil(waitMs / maxTimeout) + 20, minTimeout, maxTimeout, factor: 1.3, randomize: true },
      // A compromised lock (its folder removed or taken over under us) must not crash the process from a timer.
      onCompromised: () => undefined,
    });
  } catch (error) {
    if (errnoCode(error) === 'ELOCKED') {
      throw new RelayError('LOCK_HELD', `lock ${name} is held by another process (waited ${waitMs} ms)`, { cause: error });
    }
    throw new RelayError('IO_FAILED', `cannot take lock ${name}: ${describeError(error)}`, { cause: error });
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}

export const specLockName = (workerId: string): string => `spec-${workerId}`;
export const TASK_QUEUE_LOCK = 'task-queue';
export const ALERTS_LOCK = 'health-alerts';
export const DAEMON_LOCK = 'pm-daemon';
export const DISPATCH_PAUSES_LOCK = 'dispatch-pauses';
