// Shared builders for the decision-core tables: the contract's default limits, worker views and pass inputs.
import assert from 'node:assert/strict';
import { WORKER_TYPE_DEFAULTS } from '../../dist/contract/worker-types.js';
import { limitsOf } from '../../dist/core/limits.js';

/**
 * @typedef {import('../../dist/core/health.js').WorkerView} WorkerView
 * @typedef {import('../../dist/core/health.js').ExitInfo} ExitInfo
 * @typedef {import('../../dist/core/decide.js').PassInput} PassInput
 * @typedef {PassInput['workers'][number]} PassWorker a worker as decidePass takes it: a view and its spec's creation time
 * @typedef {import('../../dist/core/dispatch.js').QueuedTask} QueuedTask
 * @typedef {import('../../dist/core/actions.js').Action} Action
 * @typedef {import('../../dist/core/limits.js').Limits} Limits
 * @typedef {import('../../dist/store/activity-log.js').EventInput} EventInput
 */

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

/**
 * A running worker that checked in a second ago, one minute into its run.
 * @param {Partial<PassWorker>} [overrides]
 * @returns {PassWorker}
 */
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

/**
 * A pending spec that has never run.
 * @param {Partial<PassWorker>} [overrides]
 * @returns {PassWorker}
 */
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

/** @param {number | null} exitCode @param {string | null} [signal] @param {string | null} [stopReason] @returns {ExitInfo} */
export const exitOf = (exitCode, signal = null, stopReason = null) => ({ exitCode, signal, stopReason });

/**
 * A decidePass input with no queue, a cap of 4, the contract's guard minimum of 10 and a fixed rand.
 * @param {Partial<PassInput>} [overrides]
 * @returns {PassInput}
 */
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

/** @param {string} taskId @param {QueuedTask['priority']} priority @param {string} [createdAt] @param {string} [workerType] @returns {QueuedTask} */
export function task(taskId, priority, createdAt = CREATED, workerType = TYPE) {
  return { taskId, priority, createdAt, workerType };
}

/**
 * n workers built by make(i), ids prefixed.
 * @template T
 * @param {number} n @param {string} prefix @param {(id: string, i: number) => T} make
 * @returns {T[]}
 */
export function fleet(n, prefix, make) {
  return Array.from({ length: n }, (_, i) => make(`${prefix}${String(i).padStart(2, '0')}`, i));
}

/** @param {readonly Action[]} actions */
export const kinds = (actions) => actions.map((a) => a.kind);
/** @param {readonly EventInput[]} events */
export const eventNames = (events) => events.map((e) => e.event);

/**
 * The data of an event the test expects to carry some (asserted), to read its fields.
 * @param {EventInput | undefined} event
 * @returns {Record<string, any>}
 */
export function dataOf(event) {
  assert.ok(event?.data, `${event?.event} carries data`);
  return event.data;
}

/**
 * The action, asserted to be of this kind, as that kind.
 * @template {Action['kind']} K
 * @param {Action | undefined} action
 * @param {K} kind
 * @returns {Extract<Action, { kind: K }>}
 */
export function actionOf(action, kind) {
  assert.equal(action?.kind, kind);
  return /** @type {Extract<Action, { kind: K }>} */ (action);
}

/**
 * Every event a plan logs: the pass's own, then those written with each action's change (worker/outbox.ts).
 * @param {import('../../dist/core/decide.js').PassPlan} plan
 */
export const allEvents = (plan) => [...plan.events, ...plan.actions.flatMap((a) => ('events' in a ? a.events : []))];

/**
 * The actions without the events they log.
 * @param {readonly import('../../dist/core/actions.js').Action[]} actions
 */
export const bare = (actions) => actions.map((a) => Object.fromEntries(Object.entries(a).filter(([key]) => key !== 'events')));
