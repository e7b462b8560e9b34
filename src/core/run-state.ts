import type { ExitInfo, ProcessState } from './health.js';

export interface RecordedRun {
  readonly status: string;
  readonly pid: number | null;
  readonly runId: string | null;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stopReason: string | null;
}

export interface ExitRecordView {
  readonly runId: string | null;
  readonly exitCode: number | null;
  readonly signal: string | null;
}

/**
 * How a run stands, from what the spec recorded, the shim's exit record and the process table: the one
 * rule behind the daemon's zombie verdict and cleanup-zombie-workers. An exit recorded in the spec or by
 * the shim for this very run wins over the process table, so a finished worker is never called a zombie.
 * The exit record is read only after the process is seen gone: the shim writes it before it exits, so
 * this order never misses it.
 */
export function runState(
  run: RecordedRun,
  checkProcess: (pid: number) => ProcessState,
  readExit: () => ExitRecordView | undefined,
): { process: ProcessState; exit: ExitInfo | null } {
  if (run.status !== 'running') return { process: 'none', exit: null };
  if (run.pid === null && (run.exitCode !== null || run.signal !== null)) {
    return { process: 'gone', exit: { exitCode: run.exitCode, signal: run.signal, stopReason: run.stopReason } };
  }
  const process = run.pid === null ? 'none' : checkProcess(run.pid);
  if (process === 'alive') return { process, exit: null };
  const record = readExit();
  if (record !== undefined && record.runId !== null && record.runId === run.runId) {
    return { process: 'gone', exit: { exitCode: record.exitCode, signal: record.signal, stopReason: run.stopReason } };
  }
  // A stop was under way (its reason is recorded before the first signal; a new run clears it): the run
  // ended by that stop, whoever finished it, even though nothing recorded how.
  if (run.pid !== null && run.stopReason !== null) return { process, exit: { exitCode: null, signal: null, stopReason: run.stopReason } };
  return { process, exit: null };
}
