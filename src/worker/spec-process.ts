import type { WorkerSpec } from '../contract/worker-spec.js';
import type { ExitInfo, ProcessState } from '../core/health.js';
import { runState } from '../core/run-state.js';
import { checkRun, readCmdline } from '../process/identity.js';
import type { RecordedProcess } from '../process/terminate.js';
import { readExitRecord } from '../store/exits.js';
import type { HomePaths } from '../store/home.js';

/** The process a spec records for its current run, if any. */
export function recordedProcess(spec: WorkerSpec): RecordedProcess | undefined {
  const execution = spec.execution;
  if (execution?.pid === null || execution?.pid === undefined) return undefined;
  return { pid: execution.pid, startTicks: execution.process_start_ticks, bootId: execution.boot_id, runId: execution.run_id };
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
  const check = checkRun(recorded);
  return check === 'alive' ? 'alive' : check === 'gone' ? 'gone' : 'not_ours';
}

/**
 * How a spec's current run stands (core/run-state.ts over the spec, /proc and the shim's exit record):
 * the one reading the daemon's observer, its actions and cleanup-zombie-workers all use. A live process
 * that is not the run's (no token) reads as 'reused'. `tokenSeen`: the caller saw this very process
 * (same pid and start ticks) carry the token before.
 */
export function runStateOfSpec(paths: HomePaths, spec: WorkerSpec, tokenSeen = false): { process: ProcessState; exit: ExitInfo | null } {
  const e = spec.execution;
  return runState(
    {
      status: spec.status,
      pid: e?.pid ?? null,
      runId: e?.run_id ?? null,
      exitCode: e?.exit_code ?? null,
      signal: e?.signal ?? null,
      stopReason: e?.stop_reason ?? null,
    },
    (pid) => checkRun({ pid, startTicks: e?.process_start_ticks ?? null, bootId: e?.boot_id ?? null, runId: e?.run_id ?? null }, tokenSeen),
    () => {
      const record = readExitRecord(paths, spec.worker_id);
      return record === undefined ? undefined : { runId: record.run_id, exitCode: record.exit_code, signal: record.signal };
    },
  );
}
