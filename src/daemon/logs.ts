import { lstatSync, watch, type FSWatcher } from 'node:fs';
import type { WorkerTypes } from '../config/load.js';
import type { Clock, Timer } from '../core/clock.js';
import { WORKER_TYPE_DEFAULTS } from '../contract/worker-types.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { rotateLogIfNeeded, workerLogFile } from '../process/spawn.js';
import type { HomePaths } from '../store/home.js';
import type { ObservedWorker } from './observer.js';

/** The first look after a write woke an idle log, and the bounds of the adaptive look interval while it grows. */
export const LOG_FIRST_LOOK_MS = 1;
export const LOG_MIN_LOOK_MS = 1;
export const LOG_MAX_LOOK_MS = 1000;
/** Looks this close together are a busy writer's: the watch is closed and the timer keeps up (no event per write). */
const LOG_BUSY_MS = 50;
/** With a watch and a look due, a write brings the look forward, at most once per this long. */
const LOG_EARLY_LOOK_MS = 5;
/** A log's rotations are logged (pm-daemon.log) at most once per this long, with their count. */
const ROTATION_LOG_EVERY_MS = 60_000;

interface GuardedLog {
  readonly workerId: string;
  readonly file: string;
  maxBytes: number;
  /** The inotify watch while the log is idle; closed while the log is being looked at on a timer. */
  watcher: FSWatcher | undefined;
  /** The next look while the log grows. */
  timer: Timer | undefined;
  /** The current look interval while the log grows. */
  interval: number;
  /** The log's size after the last look (0 after a rotation), and when (the daemon's clock). */
  sizeAfter: number;
  lookedAt: number;
  rotationsUnlogged: number;
  rotationLoggedAt: number;
  warned: boolean;
}

export const maxBytesOf = (types: WorkerTypes, spec: { readonly worker_type: string }): number => types.types[spec.worker_type]?.log_max_bytes ?? WORKER_TYPE_DEFAULTS.log_max_bytes;

/**
 * Keeps each running worker's output.log under its type's log_max_bytes, however fast the worker writes
 * (rotateLogIfNeeded: the last log_max_bytes to output.log.1, then truncate).
 *
 * An idle log costs one inotify watch (fs.watch on the file) and nothing else. The first write wakes the
 * guard: it looks at the size at once (an lstat; a rotation past the cap) and then looks again on the
 * daemon's clock, as long as the log keeps growing, at an interval fitted to the rate it grew at, so that
 * about log_max_bytes / 2 is written between two looks (between LOG_MIN_LOOK_MS and LOG_MAX_LOOK_MS).
 * While it looks on a timer the watch is closed, so a flooding worker costs a timer and an lstat per
 * interval, not an event per write; a look that finds no growth arms the watch again. So output.log stays
 * under log_max_bytes plus what the worker writes in one interval (half the cap, unless it writes faster
 * than log_max_bytes / 2 per millisecond), and output.log.1 under log_max_bytes.
 *
 * Only regular files are watched and rotated (a link a worker planted as output.log is neither followed
 * nor truncated); a log that cannot be watched (missing yet, a link, the inotify limit) is looked at by
 * checkAll, at the daemon's slow housekeeping, and watched again when it can be.
 */
export class WorkerLogGuard {
  private readonly logs = new Map<string, GuardedLog>();
  private enabled = false;

  constructor(
    private readonly paths: HomePaths,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** From now on sync() watches running workers' logs (a daemon that watches; `--once` does not). */
  start(): void {
    this.enabled = true;
  }

  /** Guards the logs of the running workers, and stops guarding those of workers whose specs left active/. Cheap: O(workers) map lookups. */
  sync(workers: readonly ObservedWorker[], types: WorkerTypes): void {
    if (!this.enabled) return;
    const present = new Set<string>();
    for (const { spec } of workers) {
      present.add(spec.worker_id);
      if (spec.status !== 'running') continue;
      const known = this.logs.get(spec.worker_id);
      if (known !== undefined) {
        known.maxBytes = maxBytesOf(types, spec);
        continue;
      }
      this.add(spec.worker_id, maxBytesOf(types, spec));
    }
    // A worker between runs (pending) keeps its watch: an idle watch costs nothing, and guard() may have just added it.
    for (const [id, log] of this.logs) if (!present.has(id)) this.drop(log);
  }

  /** Guards a worker's log from its start on (the daemon started it), before a pass sees it running. */
  guard(workerId: string, maxBytes: number): void {
    if (!this.enabled) return;
    const known = this.logs.get(workerId);
    if (known === undefined) this.add(workerId, maxBytes);
    else if (known.watcher === undefined && known.timer === undefined) this.arm(known);
  }

  private add(workerId: string, maxBytes: number): void {
    const log: GuardedLog = {
      workerId,
      file: workerLogFile(this.paths, workerId),
      maxBytes,
      watcher: undefined,
      timer: undefined,
      interval: LOG_FIRST_LOOK_MS,
      sizeAfter: 0,
      lookedAt: this.clock.now(),
      rotationsUnlogged: 0,
      rotationLoggedAt: Number.NEGATIVE_INFINITY,
      warned: false,
    };
    this.logs.set(workerId, log);
    this.arm(log);
  }

  /**
   * The safety net (the daemon's slow housekeeping, and `--once`): looks at every running worker's log now,
   * and watches again a guarded log whose watch could not be set or was lost.
   */
  checkAll(workers: readonly ObservedWorker[], types: WorkerTypes): void {
    for (const { spec } of workers) {
      if (spec.status !== 'running') continue;
      const log = this.logs.get(spec.worker_id);
      if (log === undefined) {
        this.rotateOnce(spec.worker_id, maxBytesOf(types, spec));
        continue;
      }
      if (log.timer !== undefined) continue;
      if (log.watcher === undefined) this.arm(log);
      else this.look(log, false);
    }
  }

  /** How many logs are guarded, watched, and looked at on a timer (for tests and benchmarks). */
  counts(): { guarded: number; watched: number; timed: number } {
    let watched = 0;
    let timed = 0;
    for (const log of this.logs.values()) {
      if (log.watcher !== undefined) watched += 1;
      if (log.timer !== undefined) timed += 1;
    }
    return { guarded: this.logs.size, watched, timed };
  }

  /** Every watch closed and every timer cleared (at the daemon's stop). */
  close(): void {
    this.enabled = false;
    for (const log of [...this.logs.values()]) this.drop(log);
  }

  private drop(log: GuardedLog): void {
    this.unwatch(log);
    if (log.timer !== undefined) this.clock.clearTimeout(log.timer);
    log.timer = undefined;
    this.logs.delete(log.workerId);
    this.flushRotationLog(log, true);
  }

  /** Watches the log, then looks at it once: a write made before the watch is seen. */
  private arm(log: GuardedLog): void {
    this.watchFile(log);
    this.look(log, false);
  }

  /** An inotify watch on the log file: only a regular file, never through a link. */
  private watchFile(log: GuardedLog): void {
    if (log.watcher !== undefined) return;
    try {
      if (lstatSync(log.file, { throwIfNoEntry: false })?.isFile() !== true) return;
      const watcher = watch(log.file, { persistent: false }, (event) => this.onEvent(log, event));
      watcher.on('error', () => this.unwatch(log));
      log.watcher = watcher;
    } catch (error) {
      // The inotify limit, or the file went away: checkAll tries again.
      this.logger.debug({ worker_id: log.workerId, err: error }, 'cannot watch worker log');
    }
  }

  private unwatch(log: GuardedLog): void {
    log.watcher?.close();
    log.watcher = undefined;
  }

  private onEvent(log: GuardedLog, event: string): void {
    if (this.logs.get(log.workerId) !== log) return;
    // Replaced or removed: this watch follows the old file. Watched again when the log is quiet.
    if (event === 'rename') this.unwatch(log);
    if (log.timer === undefined) return this.look(log, true);
    // A look is due later (a slow writer): a write brings it forward, so a sudden flood is caught at once.
    if (this.clock.now() - log.lookedAt >= LOG_EARLY_LOOK_MS) this.look(log, false);
  }

  /**
   * Looks at the log's size, rotates it past the cap, and decides when to look again: soon while it grows
   * (woken: a write just woke it; else the look was due, or brought forward by a write), never while it is
   * quiet (the watch wakes it). The interval shrinks at once when the writer speeds up and at most doubles
   * per look when it slows down (a writer starved of CPU for a moment is not taken for a quiet one).
   */
  private look(log: GuardedLog, woken: boolean): void {
    if (log.timer !== undefined) this.clock.clearTimeout(log.timer);
    log.timer = undefined;
    const now = this.clock.now();
    const before = this.sizeOf(log);
    const grown = before === undefined ? 0 : before >= log.sizeAfter ? before - log.sizeAfter : before;
    const elapsed = Math.max(now - log.lookedAt, LOG_MIN_LOOK_MS);
    let after = before ?? 0;
    if (before !== undefined && before > log.maxBytes && this.rotate(log)) after = 0;
    log.sizeAfter = after;
    log.lookedAt = now;
    if (!this.enabled || this.logs.get(log.workerId) !== log) return;
    if (woken) {
      log.interval = LOG_FIRST_LOOK_MS;
      log.timer = this.clock.setTimeout(() => this.look(log, false), LOG_FIRST_LOOK_MS);
      return;
    }
    if (grown === 0) {
      // Quiet: back to the watch (set again if a burst closed it, then one more look, for a write in between).
      log.interval = LOG_FIRST_LOOK_MS;
      if (log.watcher === undefined && before !== undefined) {
        this.watchFile(log);
        if (log.watcher !== undefined) this.look(log, false);
      }
      return;
    }
    const fitted = Math.min(LOG_MAX_LOOK_MS, Math.max(LOG_MIN_LOOK_MS, Math.floor(log.maxBytes / 2 / (grown / elapsed))));
    log.interval = Math.min(fitted, log.interval * 2);
    if (log.interval < LOG_BUSY_MS) this.unwatch(log);
    else this.watchFile(log);
    log.timer = this.clock.setTimeout(() => this.look(log, false), log.interval);
  }

  private sizeOf(log: GuardedLog): number | undefined {
    try {
      const stat = lstatSync(log.file, { throwIfNoEntry: false });
      return stat?.isFile() === true ? stat.size : undefined;
    } catch {
      return undefined;
    }
  }

  private rotate(log: GuardedLog): boolean {
    try {
      if (!rotateLogIfNeeded(this.paths, log.workerId, log.maxBytes)) return false;
    } catch (error) {
      if (!log.warned) this.logger.warn({ worker_id: log.workerId, err: error }, `cannot rotate worker log: ${describeError(error)}`);
      log.warned = true;
      return false;
    }
    log.warned = false;
    log.rotationsUnlogged += 1;
    this.flushRotationLog(log, false);
    return true;
  }

  /** One log line per rotation, or, for a log rotated often, one per minute with the count. */
  private flushRotationLog(log: GuardedLog, final: boolean): void {
    if (log.rotationsUnlogged === 0) return;
    const now = this.clock.now();
    if (!final && now - log.rotationLoggedAt < ROTATION_LOG_EVERY_MS) return;
    this.logger.info({ worker_id: log.workerId, max_bytes: log.maxBytes, rotations: log.rotationsUnlogged }, 'worker log rotated');
    log.rotationsUnlogged = 0;
    log.rotationLoggedAt = now;
  }

  private rotateOnce(workerId: string, maxBytes: number): void {
    try {
      if (rotateLogIfNeeded(this.paths, workerId, maxBytes)) this.logger.info({ worker_id: workerId, max_bytes: maxBytes, rotations: 1 }, 'worker log rotated');
    } catch (error) {
      this.logger.warn({ worker_id: workerId, err: error }, `cannot rotate worker log: ${describeError(error)}`);
    }
  }
}
