// The worker type names create-task needs, without loading zod (about 150 ms) when worker-types.json is
// plainly valid. The quick check below only ever vouches for a file the zod schema accepts too: anything it
// is unsure of (a bad value, an unknown key, a key it does not check itself) goes to config/load.ts, whose
// schema decides and words the error, so a broken file is refused exactly as before.
import { WORKER_TYPE_NAME_PATTERN } from '../contract/ids.js';
import { RelayError } from '../errors.js';
import { readTextIfExists } from '../store/atomic.js';
import type { HomePaths } from '../store/home.js';
import { argv, atLeastZero, isPlainObject, isString, nonEmptyString, oneOf, parseObject, passesChecks, positive, wholeAtLeast, type Check } from '../contract/quick-checks.js';

export interface WorkerTypeNames {
  /** The type a task without one gets: implementation, else the first; undefined when none is defined. */
  readonly defaultType: string | undefined;
  /** Returns name when worker-types.json defines it; else throws CONFIG_INVALID naming the types it defines. */
  check(name: string): Promise<string>;
}

const seconds = atLeastZero;

/**
 * Each key of a worker type the quick check vouches for, with a check no looser than workerTypeSchema's
 * (a test holds these keys plus DEFERRED_KEYS equal to the schema's).
 */
export const QUICK_CHECKS: Readonly<Record<string, Check>> = {
  description: isString,
  command: argv,
  env: (v) => isPlainObject(v) && Object.values(v).every(isString),
  time_limit_seconds: seconds,
  checkin_timeout_seconds: seconds,
  stall_timeout_seconds: seconds,
  startup_grace_seconds: seconds,
  checkin_interval_seconds: seconds,
  max_restarts: wholeAtLeast(0),
  restart_backoff_seconds: seconds,
  restart_backoff_max_seconds: seconds,
  stop_grace_seconds: seconds,
  healthy_reset_seconds: seconds,
  blocked_timeout_seconds: seconds,
  log_max_bytes: wholeAtLeast(1),
  heartbeat: oneOf('checkin', 'output', 'any'),
  resume_command: argv,
  provider: nonEmptyString,
  rate_limit_exit_codes: (v) => Array.isArray(v) && v.every((c) => Number.isSafeInteger(c) && c >= 0 && c <= 255),
  rate_limit_pause_threshold: wholeAtLeast(1),
  max_rate_limit_waits: wholeAtLeast(0),
  memory_limit_mb: positive,
  // Each a non-empty string that compiles as a JavaScript regular expression, as rateLimitPattern checks.
  rate_limit_patterns: (v) => Array.isArray(v) && v.every((p) => nonEmptyString(p) && compiles(p as string)),
};

function compiles(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

/** Keys left to the schema (a nested object with a git revision's rules): a type using one loads zod. */
export const DEFERRED_KEYS: readonly string[] = ['workspace'];

/** The names of worker-types.json's types when the quick check vouches for the whole file, else undefined. */
export function quickWorkerTypeNames(text: string): string[] | undefined {
  const raw = parseObject(text);
  if (raw === undefined || !isPlainObject(raw.worker_types) || !passesChecks(raw, { worker_types: () => true, $comment: isString })) return undefined;
  const entries = Object.entries(raw.worker_types);
  const plain = entries.every(([name, type]) => WORKER_TYPE_NAME_PATTERN.test(name) && isPlainObject(type) && type.command !== undefined && passesChecks(type, QUICK_CHECKS));
  return plain ? entries.map(([name]) => name) : undefined;
}

/** worker-types.json's type names, checked as strictly as loadWorkerTypes checks the file (which decides when in doubt). */
export async function loadWorkerTypeNames(paths: HomePaths): Promise<WorkerTypeNames> {
  const text = readTextIfExists(paths.workerTypes, { followSymlinks: true });
  const quick = text === undefined ? undefined : quickWorkerTypeNames(text);
  const full = async () => (await import('../config/load.js')).parseWorkerTypes(paths, text);
  if (quick === undefined) {
    const types = await full();
    return { defaultType: types.defaultType, check: async (name) => (types.get(name), name) };
  }
  return {
    defaultType: quick.includes('implementation') ? 'implementation' : quick[0],
    // An unknown name is an error: the loader words it (zod is loaded only on this way out).
    check: async (name) => (quick.includes(name) ? name : ((await full()).get(name), name)),
  };
}

/** The type a task gets when it names none; CONFIG_INVALID when worker-types.json defines none. */
export function defaultWorkerType(paths: HomePaths, names: WorkerTypeNames): string {
  if (names.defaultType === undefined) throw new RelayError('CONFIG_INVALID', `${paths.workerTypes} defines no worker type`);
  return names.defaultType;
}
