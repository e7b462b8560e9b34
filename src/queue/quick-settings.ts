// Which queue create-task uses, without loading pm-daemon.json's zod schema when nothing could choose redis.
import type { QueueSettings } from '../config/load.js';
import { readTextIfExists } from '../store/atomic.js';
import type { HomePaths } from '../store/home.js';
import { argv, atLeastZero, isPlainObject, isString, oneOf, parseObject, passesChecks, positive, wholeAtLeast, type Check } from '../contract/quick-checks.js';

const isBoolean: Check = (v) => typeof v === 'boolean';

/**
 * pm-daemon.json's keys that never choose the queue, each with a check no looser than daemonConfigFileSchema's
 * (a test holds these keys plus DEFERRED_SETTINGS_KEYS equal to the schema's).
 */
export const QUICK_SETTINGS_CHECKS: Readonly<Record<string, Check>> = {
  $comment: isString,
  loop_interval_seconds: positive,
  max_concurrent_workers: wholeAtLeast(0),
  debounce_ms: wholeAtLeast(0),
  checkin_batch_ms: wholeAtLeast(0),
  mass_action_min: wholeAtLeast(1),
  resource_sample_seconds: atLeastZero,
  launcher: isBoolean,
  log_level: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
  alert_hook: argv,
  alert_hook_timeout_seconds: positive,
  metrics: (v) =>
    isPlainObject(v) && passesChecks(v, { enabled: isBoolean, port: (p) => Number.isSafeInteger(p) && (p as number) >= 0 && (p as number) <= 65535, host: oneOf('127.0.0.1', '::1', 'localhost') }),
  demo: isBoolean,
};

/** Keys that load the full settings: the queue's own, and nested sections left to the schema. */
export const DEFERRED_SETTINGS_KEYS: readonly string[] = ['queue', 'host_id', 'alerts', 'notifications'];

/**
 * The file backend, without loading the settings' schema, when nothing could choose another: no
 * COMMIT_RELAY_REDIS_URL or COMMIT_RELAY_HOST_ID (which loadQueueSettings checks), and no pm-daemon.json or
 * one the quick check vouches for. Otherwise the settings are loaded in full and checked as before.
 */
export async function queueSettings(paths: HomePaths, env: NodeJS.ProcessEnv): Promise<{ backend: 'file' } | QueueSettings> {
  const set = (name: string): boolean => (env[name] ?? '') !== '';
  if (!set('COMMIT_RELAY_REDIS_URL') && !set('COMMIT_RELAY_HOST_ID')) {
    const text = readTextIfExists(paths.daemonConfig, { followSymlinks: true });
    const raw = text === undefined ? {} : parseObject(text);
    if (raw !== undefined && passesChecks(raw, QUICK_SETTINGS_CHECKS)) return { backend: 'file' };
  }
  return (await import('../config/load.js')).loadQueueSettings(paths, env);
}
