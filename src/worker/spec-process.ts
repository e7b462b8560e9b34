import type { WorkerSpec } from '../contract/worker-spec.js';
import { checkIdentity, readCmdline } from '../process/identity.js';
import type { RecordedProcess } from '../process/terminate.js';

/** The process a spec records for its current run, if any. */
export function recordedProcess(spec: WorkerSpec): RecordedProcess | undefined {
  const execution = spec.execution;
  if (execution?.pid === null || execution?.pid === undefined) return undefined;
  return { pid: execution.pid, startTicks: execution.process_start_ticks, bootId: execution.boot_id };
}

/**
 * 'alive': the recorded process runs and is provably ours. 'unverified': a live pid whose identity was
 * never recorded (a hand-written spec) but whose argv names the worker: never signalled, never doubled.
 */
export type RecordedState = 'none' | 'alive' | 'gone' | 'not_ours' | 'unverified';

export function recordedState(spec: WorkerSpec): RecordedState {
  const recorded = recordedProcess(spec);
  if (recorded === undefined) return 'none';
  if (recorded.startTicks === null || recorded.startTicks === undefined) {
    const argv = readCmdline(recorded.pid);
    if (argv === undefined || argv.length === 0) return 'gone';
    return argv.some((part) => part.includes(spec.worker_id)) ? 'unverified' : 'not_ours';
  }
  const check = checkIdentity(recorded);
  return check === 'alive' ? 'alive' : check === 'gone' ? 'gone' : 'not_ours';
}
