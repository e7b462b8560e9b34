import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { oneLine } from '../contract/parse.js';
import { fleetKeys } from './redis.js';

/** One worker as its host reports it. */
export interface HostWorker {
  worker_id: string;
  task_id: string | null;
  worker_type: string;
  status: string;
  health: string | null;
  pid: number | null;
  restart_count: number;
  job_id: string | null;
}

/** What a daemon publishes about itself each pass (the hosts hash and its expiring alive key). */
export interface HostSummary {
  host_id: string;
  pid: number;
  home: string;
  started_at: string;
  /** ISO time of the publish: the daemon's clock. */
  last_seen: string;
  max_concurrent_workers: number;
  slots_used: number;
  leases: number;
  dispatch_paused: boolean;
  workers: HostWorker[];
}

/** alive: its expiring key exists; stopped: it said goodbye (removeHost); lost: neither (it died, or cannot reach Redis). */
export type HostState = 'alive' | 'lost' | 'stopped';

export interface FleetHost {
  host_id: string;
  state: HostState;
  pid: number;
  home: string;
  started_at: string;
  last_seen: string;
  seconds_since_seen: number;
  stopped_at: string | null;
  slots_used: number;
  max_concurrent_workers: number;
  leases: number;
  dispatch_paused: boolean;
  workers: number;
}

export interface FleetWorker extends HostWorker {
  host_id: string;
  host_state: HostState;
}

/** BullMQ's job counts folded into the five a person reads; waiting is every job not yet started nor delayed. */
export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
}

export interface FleetView {
  generated_at: string;
  queue: QueueCounts & { name: string; paused: boolean };
  hosts: FleetHost[];
  workers: FleetWorker[];
  /** Hash entries that could not be read (another version's format, a hand edit), one line each. */
  problems: string[];
}

const hostWorkerSchema = z.object({
  worker_id: z.string(),
  task_id: z.string().nullable(),
  worker_type: z.string(),
  status: z.string(),
  health: z.string().nullable(),
  pid: z.number().int().nullable(),
  restart_count: z.number().int().nonnegative(),
  job_id: z.string().nullable(),
});
const isoTime = z.string().refine((text) => Number.isFinite(Date.parse(text)), 'expected an ISO time');
const storedHostSchema = z.object({
  host_id: z.string(),
  pid: z.number().int(),
  home: z.string(),
  started_at: z.string(),
  last_seen: isoTime,
  max_concurrent_workers: z.number().int().nonnegative(),
  slots_used: z.number().int().nonnegative(),
  leases: z.number().int().nonnegative(),
  dispatch_paused: z.boolean(),
  workers: z.array(hostWorkerSchema),
  stopped_at: isoTime.optional(),
});
type StoredHost = z.infer<typeof storedHostSchema>;

/** Hash entries not seen for this long are dropped: a host renamed or retired long ago. */
export const FORGET_HOST_MS = 24 * 3600_000;
/** How often one connection looks for such entries (an HGETALL of a small hash). */
const PRUNE_EVERY_MS = 10 * 60_000;
const lastPruned = new WeakMap<Redis, Map<string, number>>();

// Deletes a hash field only if it still holds the value read: a host that published meanwhile is kept.
const DELETE_IF_UNCHANGED = "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0";

/**
 * A daemon's heartbeat: its alive key (expiring after ttlSeconds) and its entry in the hosts hash, in one
 * MULTI. Now and then (at most every 10 minutes per connection) it also drops entries unseen for 24 h.
 */
export async function publishHost(redis: Redis, name: string, summary: HostSummary, ttlSeconds: number): Promise<void> {
  const keys = fleetKeys(name);
  const json = JSON.stringify(summary);
  await redis
    .multi()
    .set(keys.host(summary.host_id), json, 'EX', Math.max(1, Math.ceil(ttlSeconds)))
    .hset(keys.hosts, summary.host_id, json)
    .exec();
  const nowMs = Date.parse(summary.last_seen);
  if (!Number.isFinite(nowMs)) return;
  const byName = lastPruned.get(redis) ?? new Map<string, number>();
  lastPruned.set(redis, byName);
  const last = byName.get(name);
  if (last !== undefined && nowMs - last < PRUNE_EVERY_MS && nowMs >= last) return;
  byName.set(name, nowMs);
  await pruneHosts(redis, name, nowMs);
}

/** Drops the hash entries whose last_seen is over 24 h before nowMs; returns the ids dropped. */
export async function pruneHosts(redis: Redis, name: string, nowMs: number): Promise<string[]> {
  const keys = fleetKeys(name);
  const entries = await redis.hgetall(keys.hosts);
  const dropped: string[] = [];
  for (const [id, json] of Object.entries(entries)) {
    const seen = lastSeenOf(json);
    if (seen === undefined || nowMs - seen <= FORGET_HOST_MS) continue;
    if (Number(await redis.eval(DELETE_IF_UNCHANGED, 1, keys.hosts, id, json)) === 1) dropped.push(id);
  }
  return dropped;
}

function lastSeenOf(json: string): number | undefined {
  try {
    const value = JSON.parse(json) as unknown;
    if (typeof value !== 'object' || value === null) return undefined;
    const seen = (value as { last_seen?: unknown }).last_seen;
    const ms = typeof seen === 'string' ? Date.parse(seen) : NaN;
    return Number.isFinite(ms) ? ms : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A daemon's graceful stop: its alive key goes at once; its hash entry stays, marked stopped (stopped_at),
 * so the fleet view tells a host that stopped from one that was lost.
 */
export async function removeHost(redis: Redis, name: string, hostId: string, nowMs: number = Date.now()): Promise<void> {
  const keys = fleetKeys(name);
  const json = await redis.hget(keys.hosts, hostId);
  const multi = redis.multi().del(keys.host(hostId));
  if (json !== null) {
    let entry: unknown;
    try {
      entry = JSON.parse(json);
    } catch {
      entry = undefined;
    }
    if (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) multi.hset(keys.hosts, hostId, JSON.stringify({ ...entry, stopped_at: new Date(nowMs).toISOString() }));
  }
  await multi.exec();
}

/** BullMQ's counts as QueueCounts, for the fleet view and the daemon's /metrics. */
export async function queueCounts(queue: Queue): Promise<QueueCounts> {
  const counts = await queue.getJobCounts('waiting', 'prioritized', 'waiting-children', 'active', 'delayed', 'failed', 'completed');
  const n = (type: string): number => counts[type] ?? 0;
  return {
    waiting: n('waiting') + n('prioritized') + n('waiting-children'),
    active: n('active'),
    delayed: n('delayed'),
    failed: n('failed'),
    completed: n('completed'),
  };
}

/** Every host the fleet has heard from (alive, lost or stopped), the queue's counts, and every host's workers. */
export async function readFleet(redis: Redis, queue: Queue, name: string, nowMs: number): Promise<FleetView> {
  const keys = fleetKeys(name);
  const [entries, counts, paused] = await Promise.all([redis.hgetall(keys.hosts), queueCounts(queue), queue.isPaused()]);
  const problems: string[] = [];
  const stored: StoredHost[] = [];
  for (const [id, json] of Object.entries(entries)) {
    const host = parseStoredHost(id, json);
    if (typeof host === 'string') problems.push(host);
    else stored.push(host);
  }
  stored.sort((a, b) => compareIds(a.host_id, b.host_id));
  const alive = await aliveFlags(redis, stored.map((h) => keys.host(h.host_id)));
  const hosts: FleetHost[] = [];
  const workers: FleetWorker[] = [];
  stored.forEach((h, i) => {
    const state: HostState = alive[i] === true ? 'alive' : h.stopped_at !== undefined ? 'stopped' : 'lost';
    hosts.push({
      host_id: h.host_id,
      state,
      pid: h.pid,
      home: h.home,
      started_at: h.started_at,
      last_seen: h.last_seen,
      seconds_since_seen: Math.max(0, Math.round((nowMs - Date.parse(h.last_seen)) / 1000)),
      stopped_at: state === 'stopped' ? (h.stopped_at ?? null) : null,
      slots_used: h.slots_used,
      max_concurrent_workers: h.max_concurrent_workers,
      leases: h.leases,
      dispatch_paused: h.dispatch_paused,
      workers: h.workers.length,
    });
    const own = [...h.workers].sort((a, b) => compareIds(a.worker_id, b.worker_id));
    for (const w of own) workers.push({ ...w, host_id: h.host_id, host_state: state });
  });
  return { generated_at: new Date(nowMs).toISOString(), queue: { name, paused, ...counts }, hosts, workers, problems };
}

function parseStoredHost(id: string, json: string): StoredHost | string {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return `host ${oneLine(id)}: its entry is not JSON`;
  }
  const parsed = storedHostSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `host ${oneLine(id)}: its entry is not a host summary (${oneLine(issue === undefined ? 'invalid' : `${issue.path.join('.') || '(root)'}: ${issue.message}`)})`;
  }
  // The hash field is the truth about which host this is; a summary naming another is read under its field.
  return { ...parsed.data, host_id: id };
}

async function aliveFlags(redis: Redis, aliveKeys: readonly string[]): Promise<boolean[]> {
  if (aliveKeys.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const key of aliveKeys) pipeline.exists(key);
  const replies = (await pipeline.exec()) ?? [];
  return aliveKeys.map((_key, i) => {
    const [error, value] = replies[i] ?? [null, 0];
    if (error) throw error;
    return Number(value) === 1;
  });
}

/** Plain code-unit order: the same on every machine, whatever its locale. */
const compareIds = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
