import type { WorkerTypes } from '../config/load.js';
import { WORKER_TYPE_DEFAULTS } from '../contract/worker-types.js';
import type { Logger } from '../log.js';
import { rotateLogIfNeeded } from '../process/spawn.js';
import type { HomePaths } from '../store/home.js';
import type { ObservedWorker } from './observer.js';

/** Keeps each running worker's output log under its type's log_max_bytes (copy-truncate to output.log.1). */
export function rotateWorkerLogs(paths: HomePaths, workers: readonly ObservedWorker[], types: WorkerTypes, logger: Logger): void {
  for (const { spec } of workers) {
    if (spec.status !== 'running') continue;
    const max = types.types[spec.worker_type]?.log_max_bytes ?? WORKER_TYPE_DEFAULTS.log_max_bytes;
    try {
      if (rotateLogIfNeeded(paths, spec.worker_id, max)) logger.info({ worker_id: spec.worker_id, max_bytes: max }, 'worker log rotated');
    } catch (error) {
      logger.warn({ worker_id: spec.worker_id, err: error }, 'cannot rotate worker log');
    }
  }
}
