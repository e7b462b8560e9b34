import { loadWorkerTypes, type WorkerTypes } from '../../config/load.js';
import { RelayError } from '../../errors.js';
import type { HomePaths } from '../../store/home.js';
import type { LifecycleContext } from '../../worker/context.js';
import type { StopResult } from '../../worker/stop.js';

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
      return `stopped${pid} by SIGTERM${result.exit_code !== null ? `, exit code ${result.exit_code}` : ''}`;
    case 'killed':
      return `killed${pid} with SIGKILL after the grace period`;
    case 'gone':
      return `no process was running${pid}`;
    case 'not_ours':
      return `pid ${String(result.pid)} is not provably this worker's process (reused, or its identity was never recorded): left alone`;
  }
}
