import { randomUUID } from 'node:crypto';
import type { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { QueueSettings, WorkerTypes } from '../config/load.js';
import { isValidId } from '../contract/ids.js';
import { taskSchema } from '../contract/task-queue.js';
import { nowIso } from '../contract/time.js';
import type { Lease, WorkerSpec } from '../contract/worker-spec.js';
import { workerIdForTask } from '../core/dispatch.js';
import { describeError } from '../errors.js';
import type { EventInput } from '../store/activity-log.js';
import type { HomePaths } from '../store/home.js';
import { findArchivedSpec, findSpec, listSpecIds, readSpec, withSpecLock, writeSpec } from '../store/specs.js';
import { specForTask } from '../daemon/task-specs.js';
import { failWorker, type LifecycleContext } from '../worker/index.js';
import { publishHost, queueCounts, removeHost, type HostSummary, type HostWorker } from './hosts.js';
import { assertNoEviction, bullConnection, displayUrl, fleetKeys, redisOptionsFor } from './redis.js';

/** What the lease keeper needs from the daemon. */
export interface LeaseDeps {
  readonly paths: HomePaths;
  readonly settings: QueueSettings;
  readonly logger: Logger;
  emit(events: readonly EventInput[]): void;
  /** A pass soon: a new pending spec to start, or a lease's end to act on. */
  requestPass(): void;
  lifecycle(): LifecycleContext;
  workerTypes(): WorkerTypes;
}

/** A job this host holds: its lock token, its local worker, when its lock was last renewed (Date.now ms). */
interface Held {
  readonly jobId: string;
  readonly token: string;
  readonly workerId: string;
  lastRenewedAt: number;
  job: Job | undefined;
  /** Its spec is being written: not yet in active/, and not ended either. */
  registering?: boolean;
}

/** The host's load for taking jobs, set after each pass. */
export interface HostLoad {
  /** Active specs that hold a slot and did not come from the shared queue (start-worker, the file queue). */
  readonly localActive: number;
  readonly maxConcurrent: number;
  /** A dispatch pause covers every type: take nothing. */
  readonly pausedAll: boolean;
}

const LEASE_LOST = 'lease_lost' as const;
/** How often a host publishes its heartbeat; it is listed as lost after three missed. */
const HEARTBEAT_MS = 2000;
/** A job of a worker type this host does not define goes back to the queue for this long. */
const UNKNOWN_TYPE_DELAY_MS = 3000;

/**
 * The redis backend's daemon side: takes BullMQ jobs while this host has free slots and turns each into a
 * local pending spec (with `lease`), which the daemon then supervises exactly as any other; keeps each
 * job's lock renewed while its spec is active; completes or fails the job when the spec does; and fences:
 * a lease whose renewal failed, or that was not renewed for longer than the lock (a frozen daemon, Redis
 * out of reach), is lost, and its local worker is stopped and failed at once (event lease_lost), since
 * another host may be running the task by now. Jobs are taken by hand (BullMQ's manual processing:
 * Worker.getNextJob with our own tokens), so a slot is taken only when the daemon has one, and a lease
 * outlives a restart of the daemon: its token is in the spec, and the next daemon renews it if the lock is
 * still ours, or records lease_lost.
 */
export class FleetLeases {
  private readonly held = new Map<string, Held>();
  private redis: Redis | undefined;
  private queue: Queue | undefined;
  private worker: Worker | undefined;
  private load: HostLoad = { localActive: 0, maxConcurrent: 0, pausedAll: false };
  private running = false;
  private wakeUp: (() => void) | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private takeLoop: Promise<void> | undefined;
  private renewing = false;
  /** Redis answered the last time we asked; false from the first failure until the next success. */
  private redisOk = true;
  private redisDownSince: number | null = null;
  private counts: Record<string, number> | undefined;
  private readonly url: string;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private workersView: HostWorker[] = [];
  private readonly startedAt = nowIso(Date.now());
  private publishing = false;
  private lastPublishAt = 0;
  /** Jobs of a type this host lacks, already reported (once each). */
  private readonly unknownTypeNoted = new Set<string>();

  constructor(private readonly deps: LeaseDeps) {
    if (deps.settings.redisUrl === undefined) throw new Error('FleetLeases needs a redis URL');
    this.url = deps.settings.redisUrl;
  }

  get hostId(): string {
    return this.deps.settings.hostId;
  }

  /** Jobs this host holds now. */
  get leaseCount(): number {
    return this.held.size;
  }

  get redisAvailable(): boolean {
    return this.redisOk;
  }

  /** The queue's job counts at the last heartbeat (undefined before the first, or while Redis is down). */
  get queueCounts(): Readonly<Record<string, number>> | undefined {
    return this.counts;
  }

  /**
   * Connects (an evicting Redis is refused: throws), then takes back the leases recorded in active specs:
   * each one whose lock is still ours is renewed and kept; each other one is lost (its worker stopped and
   * failed). Redis out of reach at start is not fatal: supervision goes on, nothing new is taken, and the
   * leases are fenced once the lock time has passed without a renewal.
   */
  async start(): Promise<void> {
    const { Queue, Worker } = await import('bullmq');
    const { Redis } = await import('ioredis');
    const { settings } = this.deps;
    this.redis = new Redis(redisOptionsFor(this.url, { lazyConnect: true }));
    this.redis.on('error', (error: Error) => this.redisFailed(error));
    let reachable = true;
    try {
      await withTimeout(this.redis.connect(), 3000, 'connect');
    } catch (error) {
      reachable = false;
      this.redisFailed(error);
    }
    if (reachable) {
      try {
        await assertNoEviction(this.redis, this.url);
      } catch (error) {
        this.redis.disconnect();
        throw error;
      }
    }
    const connection = bullConnection(this.url);
    this.queue = new Queue(settings.name, { connection });
    this.queue.on('error', (error: Error) => this.redisFailed(error));
    this.worker = new Worker(settings.name, null, {
      connection,
      autorun: false,
      lockDuration: settings.lockMs,
      stalledInterval: settings.stalledIntervalMs,
      maxStalledCount: settings.maxStalled,
      drainDelay: 1,
      name: settings.hostId,
    });
    this.worker.on('error', (error: Error) => this.redisFailed(error));
    this.running = true;
    this.adoptRecorded();
    if (reachable) await this.renewNow();
    // Every host checks for stalled jobs (BullMQ's own check): a dead host's jobs go back to the queue.
    void this.worker.startStalledCheckTimer().catch((error: unknown) => this.redisFailed(error));
    const every = Math.max(100, Math.floor(settings.lockMs / 4));
    this.renewTimer = setInterval(() => void this.renewNow(), every);
    this.takeLoop = this.takeJobs();
    // The fleet view: this host's heartbeat and workers, expiring unless renewed (daemon-monitor --fleet);
    // the first is published after the first pass, which knows the host's load.
    this.heartbeatTimer = setInterval(() => void this.publish(), HEARTBEAT_MS);
  }

  /** After each pass: the host's load (jobs are taken only into free slots), and the leases whose specs ended. */
  async afterPass(load: HostLoad, activeIds: ReadonlySet<string>, workers: readonly HostWorker[] = []): Promise<void> {
    this.load = load;
    this.workersView = [...workers];
    // The fleet view follows the passes (at most a few times a second), not only the heartbeat.
    if (Date.now() - this.lastPublishAt > 500) void this.publish();
    for (const held of [...this.held.values()]) {
      if (activeIds.has(held.workerId) || held.registering === true) continue;
      await this.settleEnded(held);
    }
    if (this.freeSlots() > 0) this.wakeUp?.();
  }

  /** Stops taking jobs and renewing; the leases stay in the specs for the next daemon (which renews them if in time). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.renewTimer !== undefined) clearInterval(this.renewTimer);
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.wakeUp?.();
    if (this.redis !== undefined && this.redisOk) await withTimeout(removeHost(this.redis, this.deps.settings.name, this.hostId), 1000, 'remove host').catch(() => undefined);
    await Promise.allSettled([this.worker?.close(true), this.takeLoop]);
    await this.queue?.close().catch(() => undefined);
    this.redis?.disconnect();
  }

  /** The queue's counts, for the fleet view and /metrics; undefined when Redis does not answer. */
  private async refreshCounts(): Promise<void> {
    if (this.queue === undefined) return;
    try {
      this.counts = { ...(await withTimeout(queueCounts(this.queue), 2000, 'count jobs')) };
      this.redisBack();
    } catch (error) {
      this.redisFailed(error);
      this.counts = undefined;
    }
  }

  /** Publishes this host's summary (expiring after three missed beats) and refreshes the queue's counts. */
  private async publish(): Promise<void> {
    if (this.publishing || !this.running || this.redis === undefined) return;
    this.publishing = true;
    this.lastPublishAt = Date.now();
    try {
      const summary: HostSummary = {
        host_id: this.hostId,
        pid: process.pid,
        home: this.deps.paths.home,
        started_at: this.startedAt,
        last_seen: nowIso(Date.now()),
        max_concurrent_workers: this.load.maxConcurrent,
        slots_used: this.load.localActive + this.held.size,
        leases: this.held.size,
        dispatch_paused: this.load.pausedAll,
        workers: this.workersView,
      };
      await withTimeout(publishHost(this.redis, this.deps.settings.name, summary, Math.ceil((3 * HEARTBEAT_MS) / 1000)), 2000, 'publish the heartbeat');
      this.redisBack();
      await this.endFleetPauseIfDue();
      await this.refreshCounts();
    } catch (error) {
      this.redisFailed(error);
    } finally {
      this.publishing = false;
    }
  }

  /** A timed fleet-wide pause (pause-dispatch --until) whose end passed: the first daemon to see it resumes the queue. */
  private async endFleetPauseIfDue(): Promise<void> {
    if (this.redis === undefined || this.queue === undefined) return;
    const key = fleetKeys(this.deps.settings.name).pauseUntil;
    const until = await withTimeout(this.redis.get(key), 1000, 'read the fleet pause');
    if (until === null || !(Date.parse(until) <= Date.now())) return;
    // DEL answers 1 to one daemon only: that one resumes and logs it.
    if ((await this.redis.del(key)) !== 1) return;
    await this.queue.resume();
    this.deps.emit([{ event: 'dispatch_resumed', data: { scope: 'fleet', queue: this.deps.settings.name, until, by: 'expiry', host_id: this.hostId } }]);
    this.wakeUp?.();
  }

  private freeSlots(): number {
    return this.load.maxConcurrent - this.load.localActive - this.held.size;
  }

  /** Leases recorded in active specs (a previous daemon's): held again until the first renewal says otherwise. */
  private adoptRecorded(): void {
    const now = Date.now();
    for (const id of listSpecIds(this.deps.paths, 'active')) {
      const read = readSpec(this.deps.paths, 'active', id);
      if (read === undefined || !read.ok) continue;
      const lease = read.spec.lease;
      if (lease === undefined || lease.queue !== this.deps.settings.name) continue;
      if (read.spec.status !== 'pending' && read.spec.status !== 'running') continue;
      // Its lock was renewed at best when the last daemon stopped: counted from now, fenced within one lock time if not renewed.
      this.held.set(lease.job_id, { jobId: lease.job_id, token: lease.token, workerId: id, lastRenewedAt: now, job: undefined });
    }
  }

  /** Renews every held lock; a lock that is no longer ours, or not renewed within the lock time, is lost. */
  private async renewNow(): Promise<void> {
    if (this.renewing || !this.running || this.worker === undefined) return;
    this.renewing = true;
    try {
      const now = Date.now();
      // The watchdog first: a daemon that froze (SIGSTOP, swap) past its lock must not act as the holder.
      for (const held of [...this.held.values()]) {
        if (now - held.lastRenewedAt > this.deps.settings.lockMs) await this.fence(held, `its lock was not renewed for ${Math.round((now - held.lastRenewedAt) / 100) / 10} s (over the ${this.deps.settings.lockMs / 1000} s lock)`);
      }
      const ids = [...this.held.keys()];
      if (!this.redisOk) {
        // Nothing else asks Redis while it is down and no lease is held: look whether it is back.
        try {
          await withTimeout(this.redis?.ping() ?? Promise.reject(new Error('no connection')), 1000, 'ping');
          this.redisBack();
        } catch {
          return;
        }
      }
      if (ids.length === 0) return;
      const tokens = ids.map((id) => this.held.get(id)?.token ?? '');
      let failed: string[];
      try {
        failed = await withTimeout(this.worker.extendJobLocks(ids, tokens, this.deps.settings.lockMs), Math.max(500, this.deps.settings.lockMs / 2), 'renew locks');
        this.redisBack();
      } catch (error) {
        this.redisFailed(error);
        return;
      }
      const renewedAt = Date.now();
      for (const id of ids) {
        const held = this.held.get(id);
        if (held === undefined) continue;
        if (failed.includes(id)) await this.fence(held, 'its lock is held by another host, or expired (lock renewal refused)');
        else held.lastRenewedAt = renewedAt;
      }
    } finally {
      this.renewing = false;
    }
  }

  /** The lease is lost: its local worker is stopped and failed now, and nothing it does later reaches the job. */
  private async fence(held: Held, reason: string): Promise<void> {
    if (this.held.get(held.jobId) !== held) return;
    this.held.delete(held.jobId);
    this.deps.logger.warn({ job_id: held.jobId, worker_id: held.workerId, reason }, 'lease lost');
    this.deps.emit([{ event: LEASE_LOST, worker_id: held.workerId, task_id: held.jobId, data: { host_id: this.hostId, job_id: held.jobId, reason } }]);
    const found = findSpec(this.deps.paths, held.workerId);
    if (found === undefined || !found.ok || found.folder !== 'active') return;
    try {
      await failWorker(this.deps.lifecycle(), held.workerId, `lease lost: ${reason}; the task may run on another host`, { reason: LEASE_LOST });
    } catch (error) {
      this.deps.emit([{ event: 'daemon_error', worker_id: held.workerId, data: { where: 'fence a lost lease', error: describeError(error) } }]);
    }
    this.deps.requestPass();
  }

  /** The spec of a held lease left active/: the job completes or fails with it (only while the lock is ours). */
  private async settleEnded(held: Held): Promise<void> {
    const found = findSpec(this.deps.paths, held.workerId);
    if (found !== undefined && found.folder === 'active') return;
    this.held.delete(held.jobId);
    let outcome: 'completed' | 'failed';
    let error: string | null = null;
    if (found !== undefined && found.ok && found.folder === 'completed') outcome = 'completed';
    else {
      outcome = 'failed';
      const archived = found === undefined ? findArchivedSpec(this.deps.paths, held.workerId) : undefined;
      error = found !== undefined && found.ok ? (found.spec.error ?? 'failed') : archived !== undefined ? (archived.error ?? 'its spec was archived') : 'its spec was removed';
    }
    try {
      const job = held.job ?? (await this.queue?.getJob(held.jobId));
      if (job === undefined) throw new Error(`job ${held.jobId} is no longer in the queue`);
      if (outcome === 'completed') await job.moveToCompleted({ worker_id: held.workerId, host_id: this.hostId, completed_at: nowIso(Date.now()) }, held.token, false);
      else {
        const { UnrecoverableError } = await import('bullmq');
        await job.moveToFailed(new UnrecoverableError(error ?? 'failed'), held.token, false);
      }
      this.deps.emit([{ event: outcome === 'completed' ? 'job_completed' : 'job_failed', worker_id: held.workerId, task_id: held.jobId, data: { host_id: this.hostId, job_id: held.jobId, error } }]);
    } catch (failure) {
      // Most often: the lock is not ours any more (Lock mismatch / Missing lock). The result is ignored.
      this.deps.emit([{ event: LEASE_LOST, worker_id: held.workerId, task_id: held.jobId, data: { host_id: this.hostId, job_id: held.jobId, reason: `its ${outcome} result was not accepted: ${describeError(failure)}`, result_ignored: true } }]);
    }
  }

  /** Takes jobs while there are free slots; blocks on the queue (BullMQ's marker) when it is empty. */
  private async takeJobs(): Promise<void> {
    let idleMs = 100;
    while (this.running) {
      if (this.freeSlots() <= 0 || this.load.pausedAll || !this.redisOk || this.worker === undefined) {
        await this.sleep(this.redisOk ? 1000 : 500);
        continue;
      }
      const token = `${this.hostId}:${randomUUID()}`;
      let job: Job | undefined;
      try {
        job = await this.worker.getNextJob(token, { block: true });
        this.redisBack();
      } catch (error) {
        this.redisFailed(error);
        await this.sleep(500);
        continue;
      }
      if (job === undefined || job.id === undefined) {
        // Empty (after a block), paused or rate limited: look again soon.
        await this.sleep(idleMs);
        idleMs = Math.min(idleMs * 2, 1000);
        continue;
      }
      idleMs = 100;
      await this.take(job, token);
    }
  }

  /** A job taken: it becomes a local pending spec carrying its lease; a job that cannot is failed at once. */
  private async take(job: Job, token: string): Promise<void> {
    const jobId = job.id as string;
    const parsed = taskSchema.safeParse({ ...(job.data as object), status: 'queued' });
    const refuse = async (reason: string): Promise<void> => {
      try {
        const { UnrecoverableError } = await import('bullmq');
        await job.moveToFailed(new UnrecoverableError(reason), token, false);
      } catch (error) {
        this.redisFailed(error);
      }
      this.deps.emit([{ event: 'job_failed', task_id: jobId, data: { host_id: this.hostId, job_id: jobId, error: reason } }]);
    };
    // BullMQ's stalled check marks a job that lost more hosts than max_stalled (deferred failure): whoever takes
    // it next fails it, with BullMQ's reason ("job stalled more than allowable limit").
    if (job.deferredFailure !== undefined && job.deferredFailure !== '') {
      await refuse(job.deferredFailure);
      return;
    }
    if (!parsed.success || parsed.data.task_id !== jobId) {
      await refuse(`job ${jobId} does not hold a valid task`);
      return;
    }
    const task = parsed.data;
    if (this.deps.workerTypes().types[task.worker_type] === undefined) {
      // Hosts may differ in what they run: leave it for a host that has the type, and look again later.
      try {
        await job.moveToDelayed(Date.now() + UNKNOWN_TYPE_DELAY_MS, token);
      } catch (error) {
        this.redisFailed(error);
      }
      if (!this.unknownTypeNoted.has(jobId)) {
        this.unknownTypeNoted.add(jobId);
        this.deps.emit([{ event: 'daemon_warning', task_id: jobId, data: { warning: 'unknown_worker_type', worker_type: task.worker_type, host_id: this.hostId, message: `task ${jobId} needs worker type "${task.worker_type}", which host ${this.hostId} does not define: left for another host (delayed ${UNKNOWN_TYPE_DELAY_MS / 1000} s at a time)` } }]);
      }
      return;
    }
    const now = Date.now();
    const lease: Lease = { backend: 'redis', queue: this.deps.settings.name, job_id: jobId, token, host_id: this.hostId, taken_at: nowIso(now) };
    try {
      const workerId = await this.newWorkerId(task.task_id, task.worker_type);
      const spec: WorkerSpec = { ...specForTask(task, workerId, now), lease };
      const held: Held = { jobId, token, workerId, lastRenewedAt: Date.now(), job, registering: true };
      this.held.set(jobId, held);
      await withSpecLock(this.deps.paths, workerId, async () => {
        await writeSpec(this.deps.paths, 'active', spec);
        // Logged under the spec's lock, after the write: before any start of it, which takes the lock.
        this.deps.emit([
          { event: 'task_leased', worker_id: workerId, task_id: jobId, data: { host_id: this.hostId, job_id: jobId, attempt: job.attemptsStarted ?? null, stalled: job.stalledCounter ?? 0 } },
          { event: 'worker_registered', worker_id: workerId, task_id: jobId, data: { worker_type: task.worker_type, priority: task.priority, host_id: this.hostId } },
        ]);
      });
      held.registering = false;
      this.deps.requestPass();
    } catch (error) {
      this.held.delete(jobId);
      await refuse(`host ${this.hostId} could not write its spec: ${describeError(error)}`);
    }
  }

  /** worker-<type>-<task>, or with -2, -3, ... when this host already ran the task (it came back after a host loss). */
  private async newWorkerId(taskId: string, workerType: string): Promise<string> {
    const base = workerIdForTask(taskId, workerType);
    for (let n = 1; n < 1000; n += 1) {
      const id = n === 1 ? base : `${base.slice(0, 120)}-${n}`;
      if (!isValidId(id)) continue;
      if (findSpec(this.deps.paths, id) === undefined && findArchivedSpec(this.deps.paths, id) === undefined) return id;
    }
    throw new Error(`no free worker id for task ${taskId}`);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private redisFailed(error: unknown): void {
    if (!this.redisOk) return;
    this.redisOk = false;
    this.redisDownSince = Date.now();
    this.deps.logger.warn({ err: error, redis: displayUrl(this.url) }, 'redis unavailable');
    this.deps.emit([{ event: 'redis_unavailable', data: { redis_url: displayUrl(this.url), host_id: this.hostId, error: describeError(error), leases: this.held.size, message: 'supervising what runs; taking no new task until redis is back' } }]);
  }

  private redisBack(): void {
    if (this.redisOk) return;
    this.redisOk = true;
    const downMs = this.redisDownSince === null ? 0 : Date.now() - this.redisDownSince;
    this.redisDownSince = null;
    this.deps.emit([{ event: 'redis_available', data: { redis_url: displayUrl(this.url), host_id: this.hostId, down_seconds: Math.round(downMs / 100) / 10 } }]);
    this.wakeUp?.();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer from redis within ${ms} ms`)), ms);
    }),
  ]);
}
