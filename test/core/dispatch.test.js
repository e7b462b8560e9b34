import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decidePass } from '../../dist/core/decide.js';
import { orderPending, orderTasks, workerIdForTask } from '../../dist/core/dispatch.js';
import { exitOf, fleet, L, NOW, passInput, pendingView, runningView, SEC, task, TYPE } from './fixtures.js';

const at = (minute) => `2025-06-15T12:${String(minute).padStart(2, '0')}:00.000Z`;
const ids = (xs) => xs.map((x) => x.taskId ?? x.workerId);

describe('orderTasks: critical > high > medium > low, then oldest, then id', () => {
  /** @type {Array<[string, import('./fixtures.js').QueuedTask[], string[]]>} */
  const cases = [
    ['priority beats age', [task('old-low', 'low', at(0)), task('new-crit', 'critical', at(9))], ['new-crit', 'old-low']],
    ['all four priorities', [task('l', 'low', at(1)), task('m', 'medium', at(2)), task('c', 'critical', at(3)), task('h', 'high', at(4))], ['c', 'h', 'm', 'l']],
    ['same priority: oldest first', [task('b', 'high', at(5)), task('a', 'high', at(7)), task('c', 'high', at(1))], ['c', 'b', 'a']],
    ['same priority and age: by id', [task('t2', 'medium', at(1)), task('t1', 'medium', at(1))], ['t1', 't2']],
    ['mixed', [task('m-new', 'medium', at(9)), task('h-new', 'high', at(8)), task('m-old', 'medium', at(1)), task('h-old', 'high', at(2))], ['h-old', 'h-new', 'm-old', 'm-new']],
    ['empty', [], []],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => {
      const copy = [...input];
      assert.deepEqual(ids(orderTasks(input)), expected);
      assert.deepEqual(input, copy, 'the input is not reordered in place');
    });
  }

  // The contract's timestamps are ISO-8601 with an offset (zod datetime({ offset: true })); "oldest" is by instant.
  /** @type {Array<[string, import('./fixtures.js').QueuedTask[], string[]]>} */
  const instantCases = [
    ['an offset timestamp is placed by its instant', [task('b', 'low', '2025-06-15T09:00:00Z'), task('a', 'low', '2025-06-15T10:00:00+02:00')], ['a', 'b']],
    ['a timestamp without milliseconds is placed by its instant', [task('a', 'low', '2025-06-15T12:00:00.500Z'), task('b', 'low', '2025-06-15T12:00:00Z')], ['b', 'a']],
  ];
  for (const [name, input, expected] of instantCases) {
    test(name, () => {
      assert.deepEqual(ids(orderTasks(input)), expected);
    });
  }
});

describe('orderPending: due specs only, restarts before new, then oldest', () => {
  const spec = (workerId, restartCount, nextRestartAt, createdAt) => ({ workerId, restartCount, nextRestartAt, createdAt });
  /** @type {Array<[string, import('../../dist/core/dispatch.js').PendingSpec[], string[]]>} */
  const cases = [
    ['a restart goes before an older new spec', [spec('new', 0, null, at(0)), spec('again', 1, NOW - SEC, at(5))], ['again', 'new']],
    ['restart due exactly now is due', [spec('r', 2, NOW, at(0))], ['r']],
    ['restart not yet due is left out', [spec('later', 1, NOW + 1, at(0)), spec('new', 0, null, at(1))], ['new']],
    ['new specs: oldest first, then id', [spec('b', 0, null, at(3)), spec('c', 0, null, at(1)), spec('a', 0, null, at(3))], ['c', 'a', 'b']],
    ['restarts among themselves: oldest first', [spec('r2', 2, null, at(4)), spec('r1', 1, null, at(2))], ['r1', 'r2']],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => assert.deepEqual(ids(orderPending(input, NOW)), expected));
  }
});

describe('workerIdForTask', () => {
  /** @type {Array<[string, string, string, string]>} */
  const cases = [
    ['task- prefix dropped', 'task-20250615-ab12', 'implementation', 'worker-implementation-20250615-ab12'],
    ['no prefix kept whole', 'ab12', 'review', 'worker-review-ab12'],
    ['cut to 128 characters', `task-${'x'.repeat(300)}`, 'implementation', `worker-implementation-${'x'.repeat(128 - 22)}`],
  ];
  for (const [name, taskId, type, expected] of cases) {
    test(name, () => {
      const id = workerIdForTask(taskId, type);
      assert.equal(id, expected);
      assert.match(id, /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);
    });
  }
});

describe('decidePass: starts up to the concurrency cap', () => {
  const healthy = (n, prefix = 'run') => fleet(n, prefix, (workerId) => runningView({ workerId }));
  const queue = [task('task-low', 'low', at(0)), task('task-crit', 'critical', at(5)), task('task-high-new', 'high', at(4)), task('task-high-old', 'high', at(2)), task('task-med', 'medium', at(1))];
  const dispatched = (taskId) => ({ kind: 'dispatch', taskId, workerId: workerIdForTask(taskId, TYPE), workerType: TYPE });
  const start = (workerId, restart) => ({ kind: 'start', workerId, restart });
  // Each: the workers, the queue, the cap (and other inputs), the start/dispatch actions expected in order.
  const cases = [
    { name: 'empty fleet, cap 4: the four best tasks in order', workers: [], tasks: queue, starts: ['task-crit', 'task-high-old', 'task-high-new', 'task-med'].map(dispatched) },
    { name: 'cap larger than the queue: all of it', workers: [], tasks: queue, input: { maxConcurrent: 10 }, starts: ['task-crit', 'task-high-old', 'task-high-new', 'task-med', 'task-low'].map(dispatched) },
    { name: '3 running of 4: one, the critical', workers: healthy(3), tasks: queue, starts: [dispatched('task-crit')] },
    { name: '4 running of 4: none', workers: healthy(4), tasks: queue, starts: [] },
    { name: '6 running of 4 (cap lowered): none', workers: healthy(6), tasks: queue, starts: [] },
    { name: 'cap 0: none', workers: [], tasks: queue, input: { maxConcurrent: 0 }, starts: [] },
    {
      name: 'late, stalled and starting workers still hold their slots',
      workers: [
        runningView({ workerId: 'late', lastCheckinAt: NOW - L.checkinTimeoutMs }),
        runningView({ workerId: 'stalled', lastCheckinAt: NOW - L.stallTimeoutMs, stopping: true }),
        runningView({ workerId: 'starting', lastCheckinAt: null, lastProgressChangeAt: null }),
      ],
      tasks: queue,
      starts: [dispatched('task-crit')],
    },
    {
      name: 'exited and zombie workers hold their slots in the pass that handles them (their restart goes first next pass)',
      workers: [...healthy(1), runningView({ workerId: 'done', exit: exitOf(0) }), runningView({ workerId: 'zombie', process: 'gone' })],
      tasks: queue,
      starts: [dispatched('task-crit')],
    },
    {
      name: 'due pending specs go before new tasks: restarts first, then new specs',
      workers: [...healthy(1), pendingView({ workerId: 'p-new', createdAt: at(0) }), pendingView({ workerId: 'p-restart', restartCount: 1, nextRestartAt: NOW - SEC, createdAt: at(3) })],
      tasks: queue,
      starts: [start('p-restart', true), start('p-new', false), dispatched('task-crit')],
    },
    {
      name: 'pending specs alone can fill the cap: no task dispatched',
      workers: [...healthy(2), pendingView({ workerId: 'p1', createdAt: at(1) }), pendingView({ workerId: 'p2', createdAt: at(2) }), pendingView({ workerId: 'p3', createdAt: at(3) })],
      tasks: queue,
      starts: [start('p1', false), start('p2', false)],
    },
    {
      name: 'a spec in backoff (not yet due) is not started; a task takes the slot',
      workers: [...healthy(3), pendingView({ workerId: 'waiting', restartCount: 1, nextRestartAt: NOW + 10 * SEC })],
      tasks: queue,
      starts: [dispatched('task-crit')],
    },
    {
      name: 'a spec whose restart is due exactly now is started',
      workers: [...healthy(3), pendingView({ workerId: 'due', restartCount: 2, nextRestartAt: NOW })],
      tasks: queue,
      starts: [start('due', true)],
    },
    {
      name: 'two tasks that map to one worker id: the second is skipped',
      workers: [],
      tasks: [task('task-dup', 'high', at(1)), task('dup', 'high', at(2)), task('task-other', 'low', at(0))],
      starts: [dispatched('task-dup'), dispatched('task-other')],
    },
    {
      name: 'a task of an unknown worker type is skipped without using a slot',
      workers: healthy(3),
      tasks: [task('task-alien', 'critical', at(0), 'no-such-type'), task('task-ok', 'low', at(5))],
      starts: [dispatched('task-ok')],
    },
    {
      name: 'a pending spec of an unknown worker type is not started',
      workers: [...healthy(3), pendingView({ workerId: 'alien', workerType: 'no-such-type' })],
      tasks: [task('task-ok', 'low', at(5))],
      starts: [dispatched('task-ok')],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const plan = decidePass(passInput({ workers: c.workers, queuedTasks: c.tasks, ...c.input }));
      assert.deepEqual(plan.actions.filter((a) => a.kind === 'start' || a.kind === 'dispatch'), c.starts);
    });
  }

  test('a running worker of a type no longer configured still holds its slot', () => {
    const plan = decidePass(passInput({ workers: [runningView({ workerId: 'orphan-type', workerType: 'removed-type' })], queuedTasks: [task('task-a', 'high')], maxConcurrent: 1 }));
    assert.deepEqual(plan.actions, []);
  });
});
