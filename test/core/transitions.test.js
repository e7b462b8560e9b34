import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { workerSpecSchema } from '../../dist/contract/worker-spec.js';
import { defined } from '../helpers/home.js';
import { canTransition, SPEC_TRANSITIONS, toCompleted, toFailed, toPending, toRunning, withLaunchRecorded, withRunEnded, withStopHold, withWarningsGiven } from '../../dist/core/transitions.js';

const AT = '2026-01-02T03:04:05.000Z';
const LATER = '2026-01-02T03:09:05.000Z';

/**
 * @typedef {import('../../dist/contract/worker-spec.js').WorkerSpec} WorkerSpec
 * @typedef {import('../../dist/contract/worker-spec.js').SpecStatus} SpecStatus
 */

/**
 * A spec in the given status whose last run (run-1, pid 4242) is recorded as live.
 * @param {SpecStatus} [status] @param {Record<string, unknown>} [execution]
 * @returns {WorkerSpec}
 */
function spec(status = 'running', execution = {}) {
  return {
    worker_id: 'w1',
    worker_type: 'demo',
    task_id: 'task-1',
    status,
    created_at: AT,
    task: { description: 'x', priority: 'high' },
    execution: {
      started_at: AT,
      completed_at: null,
      pid: 4242,
      process_start_ticks: 99,
      boot_id: 'boot',
      run_id: 'run-1',
      restart_count: 1,
      exit_code: null,
      signal: null,
      timeout_warnings: [50],
      stop_reason: null,
      operator_note: 'kept',
      ...execution,
    },
    error: null,
    extra_field: { kept: true },
  };
}

/** @type {NonNullable<WorkerSpec['execution']>['stopped']} */
const HOLD = { at: LATER, action: 'stop', reason: 'manual stop', by: 'stop-worker', pid: 4343, process_start_ticks: 5 };

const RUN = { pid: 777, startTicks: 12, bootId: 'boot', host: 'h', runId: 'run-2', startedAt: LATER };

describe('SPEC_TRANSITIONS: the allowed changes of status', () => {
  /** @type {[SpecStatus, SpecStatus, boolean][]} */
  const cases = [
    ['pending', 'running', true],
    ['pending', 'failed', true],
    ['pending', 'completed', false],
    ['pending', 'pending', false],
    ['running', 'running', true],
    ['running', 'pending', true],
    ['running', 'completed', true],
    ['running', 'failed', true],
    ['completed', 'failed', false],
    ['completed', 'running', false],
    ['failed', 'pending', false],
    ['failed', 'running', false],
  ];
  for (const [from, to, allowed] of cases) {
    test(`${from} → ${to}: ${allowed ? 'allowed' : 'refused'}`, () => assert.equal(canTransition(from, to), allowed));
  }
  test('completed and failed are final', () => {
    assert.deepEqual(SPEC_TRANSITIONS.completed, []);
    assert.deepEqual(SPEC_TRANSITIONS.failed, []);
  });
});

describe('transitions build valid specs, keep unknown fields, and refuse what the table forbids', () => {
  const cases = [
    {
      name: 'toRunning: the new run, what the last one left cleared',
      build: () => toRunning(spec('pending', { pid: null, exit_code: 1, signal: 'SIGTERM', stop_reason: 'stalled', next_restart_at: AT, launching_run_id: 'run-2' }), RUN),
      status: 'running',
      execution: { pid: 777, process_start_ticks: 12, run_id: 'run-2', started_at: LATER, exit_code: null, signal: null, stop_reason: null, next_restart_at: null, launching_run_id: null, timeout_warnings: [], restart_count: 1 },
      error: null,
    },
    {
      name: 'withStopHold on a running spec: the hold, status and run unchanged',
      build: () => withStopHold(spec(), HOLD),
      status: 'running',
      execution: { stopped: HOLD, pid: 4242, run_id: 'run-1', restart_count: 1 },
    },
    {
      name: 'withStopHold on a pending spec in backoff: the hold, the backoff dropped',
      build: () => withStopHold(spec('pending', { pid: null, next_restart_at: LATER }), HOLD),
      status: 'pending',
      execution: { stopped: HOLD, next_restart_at: null, restart_count: 1 },
    },
    {
      name: 'toRunning clears the hold (start-worker, restart-worker), restart_count unchanged',
      build: () => toRunning(spec('running', { pid: null, exit_code: null, signal: 'SIGTERM', stopped: HOLD }), RUN),
      status: 'running',
      execution: { stopped: null, pid: 777, restart_count: 1 },
    },
    {
      name: 'withRunEnded keeps the hold',
      build: () => withRunEnded(spec('running', { stopped: HOLD }), { exitCode: null, signal: 'SIGTERM', at: LATER, stopReason: 'manual stop' }),
      status: 'running',
      execution: { stopped: HOLD, pid: null, signal: 'SIGTERM' },
    },
    {
      name: 'withRunEnded: the end recorded, status still running',
      build: () => withRunEnded(spec(), { exitCode: null, signal: 'SIGKILL', at: LATER, stopReason: 'stalled' }),
      status: 'running',
      execution: { pid: null, exit_code: null, signal: 'SIGKILL', last_exit_at: LATER, stop_reason: 'stalled', run_id: 'run-1' },
    },
    {
      name: 'withRunEnded without a stop reason leaves stop_reason',
      build: () => withRunEnded(spec('running', { stop_reason: 'manual' }), { exitCode: 3, signal: null, at: LATER }),
      status: 'running',
      execution: { pid: null, exit_code: 3, stop_reason: 'manual' },
    },
    {
      name: 'toPending: backoff with the new count and the cause as error',
      build: () => toPending(spec(), { cause: 'exited with code 3', end: { exitCode: 3, signal: null, at: LATER }, restartCount: 2, nextRestartAt: LATER }),
      status: 'pending',
      execution: { pid: null, exit_code: 3, last_exit_at: LATER, restart_count: 2, next_restart_at: LATER, stop_reason: null },
      error: 'exited with code 3',
    },
    {
      name: 'toPending without a count (a manual restart) keeps restart_count',
      build: () => toPending(spec(), { cause: null, nextRestartAt: null }),
      status: 'pending',
      execution: { pid: null, restart_count: 1, next_restart_at: null },
      error: null,
    },
    {
      name: 'toCompleted: exit 0 at the given time',
      build: () => toCompleted(spec(), LATER),
      status: 'completed',
      execution: { pid: null, exit_code: 0, signal: null, completed_at: LATER, last_exit_at: LATER, next_restart_at: null },
      error: null,
    },
    {
      name: 'toFailed from running with how it ended',
      build: () => toFailed(spec(), 'gave up', LATER, { exitCode: null, signal: 'SIGTERM', at: LATER, stopReason: 'fail: gave up' }),
      status: 'failed',
      execution: { pid: null, signal: 'SIGTERM', completed_at: LATER, last_exit_at: LATER, stop_reason: 'fail: gave up', next_restart_at: null },
      error: 'gave up',
    },
    {
      name: 'toFailed from pending, no run end known: the exit fields are left alone',
      build: () => toFailed(spec('pending', { pid: null, exit_code: 2, last_exit_at: AT }), 'cannot spawn', LATER),
      status: 'failed',
      execution: { pid: null, exit_code: 2, last_exit_at: AT, completed_at: LATER },
      error: 'cannot spawn',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const next = c.build();
      const execution = defined(next.execution, 'execution');
      assert.equal(next.status, c.status);
      for (const [key, value] of Object.entries(c.execution)) assert.deepEqual(execution[key], value, `execution.${key}`);
      if ('error' in c) assert.equal(next.error, c.error);
      assert.equal(execution.operator_note, 'kept');
      assert.deepEqual(next.extra_field, { kept: true });
      assert.ok(workerSpecSchema.safeParse(next).success, 'the result is a valid spec');
    });
  }

  /** @type {[string, () => unknown][]} */
  const refused = [
    ['toCompleted of a pending spec', () => toCompleted(spec('pending'), LATER)],
    ['toRunning of a completed spec', () => toRunning(spec('completed'), RUN)],
    ['toFailed of a completed spec', () => toFailed(spec('completed'), 'x', LATER)],
    ['toPending of a failed spec', () => toPending(spec('failed'), { cause: null, nextRestartAt: null })],
    ['withRunEnded of a pending spec', () => withRunEnded(spec('pending'), { exitCode: 1, signal: null })],
    ['withStopHold of a failed spec', () => withStopHold(spec('failed'), HOLD)],
    ['withStopHold of a completed spec', () => withStopHold(spec('completed'), HOLD)],
  ];
  for (const [name, build] of refused) {
    test(`${name}: WRONG_STATE`, () => assert.throws(build, { code: 'WRONG_STATE', message: /cannot become/ }));
  }

  test('withLaunchRecorded and withWarningsGiven change only their field', () => {
    const launched = withLaunchRecorded(spec('pending'), 'run-9');
    assert.equal(launched.status, 'pending');
    assert.equal(defined(launched.execution, 'execution').launching_run_id, 'run-9');
    assert.deepEqual(withWarningsGiven(spec(), [90, 75, 50]).execution?.timeout_warnings, [50, 75, 90]);
  });

  test('the input spec is never changed', () => {
    const before = spec();
    const copy = JSON.parse(JSON.stringify(before));
    toFailed(before, 'x', LATER, { exitCode: 1, signal: null, at: LATER });
    toPending(before, { cause: 'c', restartCount: 3, nextRestartAt: LATER });
    assert.deepEqual(before, copy);
  });
});
