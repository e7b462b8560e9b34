// The worker lifecycle, for the commands and the daemon: plain async functions over a LifecycleContext.
export type { LifecycleContext } from './context.js';
export { requireActiveSpec } from './active-spec.js';
export { startWorker, startLocked, type StartOptions, type StartReason } from './start.js';
export { applyExitRecordIfAny, completeWorker, recordExit, handleExit, type ApplyResult, type ExitInfo, type ExitOutcome } from './exit.js';
export { stopWorker, failWorker, stopRun, type StopResult, type FailResult, type FailOptions } from './stop.js';
export { restartWorker } from './restart.js';
export { recoverTask } from './recover.js';
export { recordedProcess, recordedState, type RecordedState } from './spec-process.js';
