import { loadWorkerTypes, type WorkerTypes } from '../../config/load.js';
import { RelayError } from '../../errors.js';
import type { HomePaths } from '../../store/home.js';
import type { LifecycleContext } from '../../worker/context.js';
import type { StopResult, StopWorkerResult } from '../../worker/stop.js';

/**
 * The lifecycle context of a command. Stopping must work even when worker-types.json is broken
 * (an emergency is no time to fix config first), so with `lenient` a bad file gives no types:
 * stop graces fall back to the default.
 */
export function lifecycleContext(paths: HomePaths, lenient = true): LifecycleContext {
  let workerTypes: WorkerTypes;
  try {
    workerTypes = loadWorkerTypes(paths);
  } catch (error) {
    if (!lenient || !(error instanceof RelayError) || error.code !== 'CONFIG_INVALID') throw error;
    workerTypes = Object.freeze({
      types: {},
      defaultType: undefined,
      get: () => {
        throw error;
      },
    });
  }
  return { paths, workerTypes };
}

export function describeStop(result: Pick<StopResult, 'outcome' | 'pid' | 'exit_code' | 'signal'>): string {
  const pid = result.pid === null ? '' : ` (pid ${result.pid})`;
  switch (result.outcome) {
    case 'terminated':
      // Another signal may have ended it within the grace (a second command's SIGKILL, the kernel's OOM killer): its exit record says which.
      if (result.signal !== null && result.signal !== 'SIGTERM') return `stopped${pid}: after SIGTERM it ended by ${result.signal}`;
      return `stopped${pid} by SIGTERM${result.exit_code !== null ? `, exit code ${result.exit_code}` : ''}`;
    case 'killed':
      return `killed${pid} with SIGKILL after the grace period`;
    case 'gone':
      return `no process was running${pid}`;
    case 'not_ours':
      return `pid ${String(result.pid)} is not provably this worker's process (reused, or its identity was never recorded): left alone`;
  }
}

/** What stop-worker did, in one line (after "ID: "). */
export function describeStopWorker(result: StopWorkerResult): string {
  const by = result.held_by === null ? '' : ` ${result.held_by}`;
  switch (result.hold) {
    case 'already_stopped':
      return `already stopped (${by.trim()}); no process of it is running: nothing to do`;
    case 'being_failed':
      return result.settled === 'failed'
        ? `it was being failed by another command (${by.trim()}): it is now failed, in worker-specs/failed/; nothing left to stop`
        : `it is being failed by another command (${by.trim()}); this command left the stop to it`;
    case 'held': {
      const what = result.status === 'pending' && result.outcome === 'gone' ? 'stopped: it was pending, no process was running' : describeStop(result);
      if (result.settled === 'failed') return `${what}; meanwhile it was failed by another command (worker-specs/failed/)`;
      if (result.settled === 'completed') return `${what}; it had finished with exit code 0: completed (worker-specs/completed/)`;
      return `${what}; it stays stopped until start-worker or restart-worker`;
    }
  }
}
