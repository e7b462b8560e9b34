import type { ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { QueueSettings } from '../config/load.js';
import { RelayError } from '../errors.js';

/** The keys commit-relay keeps beside BullMQ's own (which live under `bull:<name>:`). */
export function fleetKeys(name: string): { hosts: string; host: (hostId: string) => string; pauseUntil: string } {
  return {
    /** Hash: host id → its last published summary (JSON), kept after the host is gone, so a lost host is listed. */
    hosts: `relay:${name}:hosts`,
    /** String with an expiry: present while the host is alive. */
    host: (hostId: string) => `relay:${name}:host:${hostId}`,
    /** The end (ISO) of a timed fleet-wide pause (the BullMQ queue is paused until then). */
    pauseUntil: `relay:${name}:pause-until`,
  };
}

/** ioredis options for a URL already checked by config/load.ts (checkRedisUrl). */
export function redisOptionsFor(url: string, extra: RedisOptions = {}): RedisOptions {
  const parsed = new URL(url);
  const db = parsed.pathname.replace(/^\//, '');
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    ...(parsed.username !== '' ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password !== '' ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db !== '' ? { db: Number(db) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    // BullMQ's workers need this; every command waits for a reconnect instead of failing after N tries.
    maxRetriesPerRequest: null,
    // Reconnect forever, at most every 2 s: Redis coming back is the normal end of an outage.
    retryStrategy: (times: number) => Math.min(100 * times, 2000),
    connectTimeout: 5000,
    ...extra,
  };
}

/** A URL with its password hidden, for messages and logs. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/**
 * A short-lived connection for a command (create-task, daemon-monitor --fleet, ...): it fails fast instead of
 * waiting for Redis, so a command never hangs on a server that is down.
 */
export async function connectForCommand(settings: QueueSettings, timeoutMs = 5000): Promise<Redis> {
  const url = requireRedisUrl(settings);
  // disconnectTimeout: ioredis arms a timer of that length on disconnect() and clears it only on a later
  // 'close', which a connection refused has already had: its 2 s default held the process after the error.
  const redis = new Redis(redisOptionsFor(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, enableOfflineQueue: false, connectTimeout: timeoutMs, disconnectTimeout: 100 }));
  // The socket's own error (ECONNREFUSED, ETIMEDOUT) says more than connect()'s "Connection is closed".
  let socketError: unknown;
  redis.on('error', (error: unknown) => {
    socketError ??= error;
  });
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    const cause = socketError ?? error;
    throw new RelayError('REDIS_UNAVAILABLE', `redis at ${displayUrl(url)} is unreachable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  return redis;
}

export function requireRedisUrl(settings: QueueSettings): string {
  if (settings.backend !== 'redis' || settings.redisUrl === undefined) {
    throw new RelayError('USAGE', 'this needs the redis queue backend (queue.backend "redis" and queue.redis_url in pm-daemon.json, or COMMIT_RELAY_REDIS_URL)');
  }
  return settings.redisUrl;
}

/**
 * BullMQ needs a Redis that never evicts keys: a job evicted under memory pressure is a task lost without a
 * trace. Throws a one-line error naming the policy in force otherwise.
 */
export async function assertNoEviction(redis: Redis, url: string): Promise<void> {
  const reply = (await redis.config('GET', 'maxmemory-policy')) as unknown;
  const policy = Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : undefined;
  if (policy !== undefined && policy !== 'noeviction') {
    throw new RelayError('CONFIG_INVALID', `redis at ${displayUrl(url)} has maxmemory-policy "${policy}": it may evict queued tasks; set maxmemory-policy noeviction (redis-cli CONFIG SET maxmemory-policy noeviction, and in redis.conf)`);
  }
}

/** The same options as BullMQ takes them (its own type for ioredis's options). */
export function bullConnection(url: string): ConnectionOptions {
  return redisOptionsFor(url) as ConnectionOptions;
}
