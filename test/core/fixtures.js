// Shared builders for the decision-core tables: the contract's default limits, worker views and pass inputs.
import { WORKER_TYPE_DEFAULTS } from '../../dist/contract/worker-types.js';
import { limitsOf } from '../../dist/core/limits.js';

export const SEC = 1000;
export const MIN = 60 * SEC;
export const HOUR = 60 * MIN;

/** The contract's defaults: late 900 s, stalled 1200 s, time limit 2700 s, grace 120 s, 2 restarts, backoff 30..300 s. */
export const L = limitsOf({ command: ['node', 'x.js'], ...WORKER_TYPE_DEFAULTS });
export const TYPE = 'implementation';
export const LIMITS = Object.freeze({ [TYPE]: L });

/** "Now" on the daemon clock; any fixed value works, a realistic one shows no epoch assumptions. */
export const NOW = 1_750_000_000_000;
export const CREATED = '2025-06-15T12:00:00.000Z';
export const fixedRand = () => 0.5;

/** A running worker that checked in a second ago, one minute into its run. */
export function runningView(overrides = {}) {
  return {
    workerId: 'w1',
    taskId: 'task-1',
    workerType: TYPE,
    status: 'running',
    restartCount: 0,
    nextRestartAt: null,
    startedAt: NOW - MIN,
    lastCheckinAt: NOW - SEC,
    lastProgressChangeAt: NOW - SEC,
    progress: 40,
    process: 'alive',
    exit: null,
    timeoutWarnings: [],
    stopping: false,
    createdAt: CREATED,
    ...overrides,
  };
}

/** A pending spec that has never run. */
export function pendingView(overrides = {}) {
  return runningView({
    status: 'pending',
    startedAt: null,
    lastCheckinAt: null,
    lastProgressChangeAt: null,
    progress: null,
    process: 'none',
    ...overrides,
  });
}

export const exitOf = (exitCode, signal = null, stopReason = null) => ({ exitCode, signal, stopReason });

/** A decidePass input with no queue, a cap of 4, the contract's guard minimum of 10 and a fixed rand. */
export function passInput(overrides = {}) {
  return {
    now: NOW,
    workers: [],
    limits: LIMITS,
    previousHealth: new Map(),
    heldLastPass: false,
    queuedTasks: [],
    maxConcurrent: 4,
    massActionMin: 10,
    rand: fixedRand,
    ...overrides,
  };
}

export function task(taskId, priority, createdAt = CREATED, workerType = TYPE) {
  return { taskId, priority, createdAt, workerType };
}

/** n workers built by make(i), ids prefixed. */
export function fleet(n, prefix, make) {
  return Array.from({ length: n }, (_, i) => make(`${prefix}${String(i).padStart(2, '0')}`, i));
}

export const kinds = (actions) => actions.map((a) => a.kind);
export const eventNames = (events) => events.map((e) => e.event);
