import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from 'node:fs';
import { wallToDaemonClock, type Clock } from '../core/clock.js';
import { matchRateLimit, RATE_LIMIT_TAIL_BYTES } from '../core/rate-limits.js';
import { workerLogFile } from '../process/spawn.js';
import type { HomePaths } from '../store/home.js';
import type { ObservedWorker } from './observation.js';

/** The last `bytes` of a file (never through a link); '' when it cannot be read. */
function readTail(file: string, bytes: number): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
    const stat = fstatSync(fd);
    if (!stat.isFile()) return '';
    const length = Math.min(bytes, stat.size);
    const buffer = Buffer.alloc(length);
    const read = readSync(fd, buffer, 0, length, stat.size - length);
    return buffer.subarray(0, read).toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * For each run that ended (its end recorded, the restart policy still to decide) and whose type has
 * `rate_limit_patterns`: whether the end of its output (the last 8 KiB of output.log, from the run's
 * own header on) matches one, and the reset its `reset` group gives, placed on the daemon clock.
 */
export function withOutputRateLimits(paths: HomePaths, clock: Clock, workers: readonly ObservedWorker[], patternsOf: (type: string) => readonly RegExp[] | undefined): ObservedWorker[] {
  return workers.map((worker) => {
    const { view, spec } = worker;
    if (view.status !== 'running' || view.exit === null || view.exit.stopReason !== null) return worker;
    const patterns = patternsOf(view.workerType);
    if (patterns === undefined || patterns.length === 0) return worker;
    let tail = readTail(workerLogFile(paths, view.workerId), RATE_LIMIT_TAIL_BYTES);
    const runId = spec.execution?.run_id ?? null;
    if (runId !== null) {
      const header = tail.lastIndexOf(` run ${runId} `);
      if (header >= 0) tail = tail.slice(tail.indexOf('\n', header) + 1);
    }
    const match = matchRateLimit(tail, patterns);
    if (match === null) return worker;
    const resetAt = match.resetWallMs === null ? null : wallToDaemonClock(clock, match.resetWallMs);
    return { ...worker, view: { ...view, outputRateLimit: { resetAt } } };
  });
}
