import { hostname } from 'node:os';
import { z } from 'zod';
import { alertThresholdsSchema, daemonConfigFileSchema, type AlertThresholds, type DaemonConfigFile, type NotificationsConfig } from '../contract/daemon-config.js';
import { parseJsonWith } from '../contract/parse.js';
import { workerTypesFileSchema, type WorkerType, type WorkerTypesFile } from '../contract/worker-types.js';
import { RelayError } from '../errors.js';
import { readTextIfExists } from '../store/atomic.js';
import type { HomePaths } from '../store/home.js';

export interface WorkerTypes {
  readonly types: Readonly<Record<string, WorkerType>>;
  readonly defaultType: string | undefined;
  get(name: string): WorkerType;
}

/** Reads worker-types.json; unknown keys and bad values are errors naming the file and the path. */
export function loadWorkerTypes(paths: HomePaths): WorkerTypes {
  return parseWorkerTypes(paths, readTextIfExists(paths.workerTypes, { followSymlinks: true }));
}

/** worker-types.json's text (undefined: the file is missing) as worker types; errors as loadWorkerTypes's. */
export function parseWorkerTypes(paths: HomePaths, text: string | undefined): WorkerTypes {
  if (text === undefined) throw new RelayError('CONFIG_INVALID', `${paths.workerTypes}: missing (it defines what each worker type runs)`);
  const file: WorkerTypesFile = parseJsonWith(workerTypesFileSchema, text, paths.workerTypes, 'CONFIG_INVALID');
  const types = Object.freeze(Object.fromEntries(Object.entries(file.worker_types).map(([k, v]) => [k, Object.freeze(v)])));
  const names = Object.keys(types);
  const defaultType = names.includes('implementation') ? 'implementation' : names[0];
  return Object.freeze({
    types,
    defaultType,
    get(name: string): WorkerType {
      const type = types[name];
      if (type === undefined) {
        throw new RelayError('CONFIG_INVALID', `unknown worker type "${name}": ${paths.workerTypes} defines ${names.length > 0 ? names.map((n) => `"${n}"`).join(', ') : 'none'}`);
      }
      return type;
    },
  });
}

export interface DaemonSettings {
  readonly loopIntervalSeconds: number;
  readonly maxConcurrentWorkers: number;
  readonly debounceMs: number;
  /** Check-ins alone ask for at most one pass per this many ms. */
  readonly checkinBatchMs: number;
  readonly massActionMin: number;
  /** Each running worker's CPU and memory are sampled this often (seconds); 0: never (no memory limits either). */
  readonly resourceSampleSeconds: number;
  /** The daemon's starts are forked by its launcher (process/launcher.ts), not by the daemon itself. */
  readonly launcher: boolean;
  readonly logLevel: NonNullable<DaemonConfigFile['log_level']>;
  readonly alerts: AlertThresholds;
  readonly alertHook: readonly string[] | undefined;
  readonly alertHookTimeoutSeconds: number;
  readonly metrics: { readonly enabled: boolean; readonly port: number; readonly host: string };
  readonly demo: boolean;
  readonly queue: QueueSettings;
  /** Undefined when pm-daemon.json configures no notifications. */
  readonly notifications: NotificationSettings | undefined;
}

/** A value that must not reach a log, an event or pm-state.json (a webhook URL holds its secret): it prints as "[redacted]". */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toJSON(): string {
    return '[redacted]';
  }
  toString(): string {
    return '[redacted]';
  }
}

/** pm-daemon.json `notifications`: which events go to the hook and to the webhook, and the bounds on both. */
export interface NotificationSettings {
  readonly hook: { readonly argv: readonly string[]; readonly events: readonly string[]; readonly timeoutMs: number } | undefined;
  readonly webhook: { readonly url: Secret; readonly events: readonly string[]; readonly timeoutMs: number } | undefined;
  /** Hook runs and posts at once, per sink. */
  readonly maxConcurrent: number;
  /** Notifications waiting per sink; one more is dropped (and counted). */
  readonly backlog: number;
}

/** Where tasks are queued (pm-daemon.json `queue`, `host_id`; COMMIT_RELAY_REDIS_URL, COMMIT_RELAY_HOST_ID). */
export interface QueueSettings {
  readonly backend: 'file' | 'redis';
  /** Set when the backend is redis: checked to be a redis:// or rediss:// URL. */
  readonly redisUrl: string | undefined;
  readonly name: string;
  readonly lockMs: number;
  readonly stalledIntervalMs: number;
  readonly maxStalled: number;
  readonly hostId: string;
}

/** Flags the CLI may pass; they win over environment and file. */
export type DaemonFlags = Partial<Pick<DaemonSettings, 'loopIntervalSeconds' | 'maxConcurrentWorkers' | 'demo' | 'logLevel'>> & {
  readonly metricsPort?: number;
};

const DEFAULTS = {
  loopIntervalSeconds: 5,
  maxConcurrentWorkers: 4,
  debounceMs: 10,
  checkinBatchMs: 2000,
  massActionMin: 10,
  resourceSampleSeconds: 10,
  logLevel: 'info',
  alertHookTimeoutSeconds: 10,
  metricsPort: 9464,
  notificationTimeoutSeconds: 10,
  notificationConcurrency: 2,
  notificationBacklog: 100,
} as const;

function envNumber(env: NodeJS.ProcessEnv, name: string, schema: z.ZodNumber): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  const checked = schema.safeParse(value);
  if (raw.trim() === '' || !checked.success) {
    throw new RelayError('CONFIG_INVALID', `environment ${name}: expected ${schema.description ?? 'a number'}, got \`${raw}\``);
  }
  return checked.data;
}

function envBoolean(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new RelayError('CONFIG_INVALID', `environment ${name}: expected true or false, got \`${raw}\``);
}

const positive = z.number().positive().describe('a positive number');
const count = z.number().int().nonnegative().describe('a whole number >= 0');
const port = z.number().int().min(0).max(65535).describe('a port number 0..65535');

/** Defaults, then pm-daemon.json, then the environment, then flags: one frozen object. */
export function loadDaemonSettings(paths: HomePaths, env: NodeJS.ProcessEnv, flags: DaemonFlags = {}): DaemonSettings {
  const text = readTextIfExists(paths.daemonConfig, { followSymlinks: true });
  const file: DaemonConfigFile = text === undefined ? {} : parseJsonWith(daemonConfigFileSchema, text, paths.daemonConfig, 'CONFIG_INVALID');
  const level = env.PM_LOG_LEVEL;
  const logLevels = daemonConfigFileSchema.shape.log_level.unwrap();
  if (level !== undefined && level !== '' && !logLevels.safeParse(level).success) {
    throw new RelayError('CONFIG_INVALID', `environment PM_LOG_LEVEL: expected one of ${logLevels.options.join(', ')}, got \`${level}\``);
  }
  const metricsPort = flags.metricsPort ?? envNumber(env, 'PM_METRICS_PORT', port);
  const settings: DaemonSettings = {
    loopIntervalSeconds: flags.loopIntervalSeconds ?? envNumber(env, 'PM_LOOP_INTERVAL', positive) ?? file.loop_interval_seconds ?? DEFAULTS.loopIntervalSeconds,
    maxConcurrentWorkers: flags.maxConcurrentWorkers ?? envNumber(env, 'WORKER_CONCURRENCY', count) ?? file.max_concurrent_workers ?? DEFAULTS.maxConcurrentWorkers,
    debounceMs: envNumber(env, 'PM_DEBOUNCE_MS', count) ?? file.debounce_ms ?? DEFAULTS.debounceMs,
    checkinBatchMs: envNumber(env, 'PM_CHECKIN_BATCH_MS', count) ?? file.checkin_batch_ms ?? DEFAULTS.checkinBatchMs,
    massActionMin: file.mass_action_min ?? DEFAULTS.massActionMin,
    resourceSampleSeconds: file.resource_sample_seconds ?? DEFAULTS.resourceSampleSeconds,
    launcher: envBoolean(env, 'PM_LAUNCHER') ?? file.launcher ?? true,
    logLevel: flags.logLevel ?? ((level !== undefined && level !== '' ? level : undefined) as DaemonSettings['logLevel'] | undefined) ?? file.log_level ?? DEFAULTS.logLevel,
    alerts: Object.freeze(alertThresholdsSchema.parse({ ...file.alerts, ...zombieThresholdFromEnv(env) })),
    alertHook: file.alert_hook ? Object.freeze([...file.alert_hook]) : undefined,
    alertHookTimeoutSeconds: file.alert_hook_timeout_seconds ?? DEFAULTS.alertHookTimeoutSeconds,
    metrics: Object.freeze({
      enabled: metricsPort !== undefined || (envBoolean(env, 'PM_METRICS') ?? file.metrics?.enabled ?? false),
      port: metricsPort ?? file.metrics?.port ?? DEFAULTS.metricsPort,
      host: file.metrics?.host ?? '127.0.0.1',
    }),
    demo: flags.demo ?? file.demo ?? false,
    queue: queueSettingsOf(paths, file, env),
    notifications: notificationSettingsOf(paths, file.notifications),
  };
  return Object.freeze(settings);
}

/** Only the queue settings (for create-task, recover-task, pause-dispatch, daemon-monitor --fleet). */
export function loadQueueSettings(paths: HomePaths, env: NodeJS.ProcessEnv): QueueSettings {
  const text = readTextIfExists(paths.daemonConfig, { followSymlinks: true });
  const file: DaemonConfigFile = text === undefined ? {} : parseJsonWith(daemonConfigFileSchema, text, paths.daemonConfig, 'CONFIG_INVALID');
  return queueSettingsOf(paths, file, env);
}

function queueSettingsOf(paths: HomePaths, file: DaemonConfigFile, env: NodeJS.ProcessEnv): QueueSettings {
  const envUrl = env.COMMIT_RELAY_REDIS_URL === '' ? undefined : env.COMMIT_RELAY_REDIS_URL;
  const backend = envUrl !== undefined ? 'redis' : (file.queue?.backend ?? 'file');
  const url = envUrl ?? file.queue?.redis_url;
  if (backend === 'redis') {
    if (url === undefined) throw new RelayError('CONFIG_INVALID', `${paths.daemonConfig}: queue.backend is "redis" but no queue.redis_url (or COMMIT_RELAY_REDIS_URL) is set`);
    checkRedisUrl(url, envUrl !== undefined ? 'environment COMMIT_RELAY_REDIS_URL' : `${paths.daemonConfig}: queue.redis_url`);
  }
  const hostEnv = env.COMMIT_RELAY_HOST_ID;
  if (hostEnv !== undefined && hostEnv !== '' && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(hostEnv)) {
    throw new RelayError('CONFIG_INVALID', `environment COMMIT_RELAY_HOST_ID: expected letters, digits, ".", "_" and "-" (at most 128), got \`${hostEnv}\``);
  }
  const lockSeconds = file.queue?.lock_seconds ?? 30;
  return Object.freeze({
    backend,
    redisUrl: backend === 'redis' ? url : undefined,
    name: file.queue?.name ?? 'commit-relay',
    lockMs: Math.round(lockSeconds * 1000),
    stalledIntervalMs: Math.round((file.queue?.stalled_interval_seconds ?? 15) * 1000),
    maxStalled: file.queue?.max_stalled ?? 3,
    hostId: (hostEnv !== undefined && hostEnv !== '' ? hostEnv : undefined) ?? file.host_id ?? safeHostname(),
  });
}

function notificationSettingsOf(paths: HomePaths, config: NotificationsConfig | undefined): NotificationSettings | undefined {
  if (config === undefined) return undefined;
  const where = `${paths.daemonConfig}: notifications`;
  if (config.hook === undefined && config.webhook === undefined) throw new RelayError('CONFIG_INVALID', `${where}: set notifications.hook, notifications.webhook or both`);
  if (config.hook !== undefined && config.events === undefined) throw new RelayError('CONFIG_INVALID', `${where}.events: name the events the hook runs for (event or alert types, or "*")`);
  const webhookEvents = config.webhook?.events ?? config.events;
  if (config.webhook !== undefined && webhookEvents === undefined) throw new RelayError('CONFIG_INVALID', `${where}.webhook.events: name the events to post (or set notifications.events)`);
  const timeoutMs = Math.round((config.timeout_seconds ?? DEFAULTS.notificationTimeoutSeconds) * 1000);
  return Object.freeze({
    hook: config.hook === undefined || config.events === undefined ? undefined : Object.freeze({ argv: Object.freeze([...config.hook]), events: Object.freeze([...config.events]), timeoutMs }),
    webhook:
      config.webhook === undefined || webhookEvents === undefined
        ? undefined
        : Object.freeze({ url: new Secret(config.webhook.url), events: Object.freeze([...webhookEvents]), timeoutMs: Math.round((config.webhook.timeout_seconds ?? DEFAULTS.notificationTimeoutSeconds) * 1000) }),
    maxConcurrent: config.max_concurrent ?? DEFAULTS.notificationConcurrency,
    backlog: DEFAULTS.notificationBacklog,
  });
}

/** A redis URL: redis:// or rediss://, a host, a port in range, an optional database number. One line naming it otherwise. */
export function checkRedisUrl(url: string, where: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RelayError('CONFIG_INVALID', `${where}: \`${url}\` is not a URL (expected redis://HOST:PORT[/DB])`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new RelayError('CONFIG_INVALID', `${where}: \`${url}\` is not a redis:// or rediss:// URL`);
  if (parsed.hostname === '') throw new RelayError('CONFIG_INVALID', `${where}: \`${url}\` names no host`);
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,2}$/.test(db)) throw new RelayError('CONFIG_INVALID', `${where}: \`${url}\`: the database must be a number, got "${db}"`);
}

function safeHostname(): string {
  const name = hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return name === '' ? 'host' : name.slice(0, 128);
}

function zombieThresholdFromEnv(env: NodeJS.ProcessEnv): Partial<AlertThresholds> {
  const value = envNumber(env, 'ZOMBIE_THRESHOLD', z.number().int().positive().describe('a whole number > 0'));
  return value === undefined ? {} : { zombie_threshold: value };
}
