import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decidePass } from '../../dist/core/decide.js';
import { HealthMemo } from '../../dist/core/health.js';
import { actionOf, allEvents, bare, dataOf, eventNames, exitOf, fleet, kinds, L, MIN, NOW, passInput, pendingView, runningView, SEC, task } from './fixtures.js';

/** One worker, one pass; the actions and events about it. */
function decideOne(view, overrides = {}) {
  const previous = overrides.previous;
  const plan = decidePass(passInput({ workers: [view], previousHealth: new Map(previous ? [[view.workerId, previous]] : []), ...overrides.input }));
  return plan;
}

const MIB = 1024 * 1024;
/** A sampled run of three processes, `mib` MiB in all. @param {number} mib */
const hogMemory = (mib) => ({ rssBytes: mib * MIB, processes: 3, biggest: { pid: 42, command: 'node hog.js', rssBytes: (mib - 2) * MIB } });

describe('decidePass: remediation of one worker', () => {
  const ran = (ms) => ({ startedAt: NOW - ms, lastCheckinAt: NOW - SEC, lastProgressChangeAt: NOW - SEC });
  const restart = (fields) => ({ kind: 'schedule_restart', workerId: 'w1', zombie: false, countWasReset: false, ...fields });
  const fail = (fields) => ({ kind: 'fail', workerId: 'w1', zombie: false, ...fields });
  // Each: the worker, the actions expected (in order).
  const cases = [
    { name: 'exit 0: complete', view: runningView({ exit: exitOf(0) }), actions: [{ kind: 'complete', workerId: 'w1' }] },
    { name: 'exit 3, first time: schedule_restart 1 after base', view: runningView({ exit: exitOf(3) }), actions: [restart({ cause: 'exited with code 3', restartCount: 1, delayMs: 30 * SEC })] },
    { name: 'exit 3, second time: schedule_restart 2 after 45 s', view: runningView({ exit: exitOf(3), restartCount: 1 }), actions: [restart({ cause: 'exited with code 3', restartCount: 2, delayMs: 45 * SEC })] },
    { name: 'exit 3 after max_restarts: fail naming the cause and the count', view: runningView({ exit: exitOf(3), restartCount: 2 }), actions: [fail({ cause: 'exited with code 3', error: 'exited with code 3; gave up after 2 restarts (max_restarts 2)' })] },
    { name: 'max_restarts 1 reached: "1 restart", singular', view: runningView({ exit: exitOf(1), restartCount: 1 }), limits: { ...L, maxRestarts: 1 }, actions: [fail({ cause: 'exited with code 1', error: 'exited with code 1; gave up after 1 restart (max_restarts 1)' })] },
    { name: 'max_restarts 0: fail on the first crash', view: runningView({ exit: exitOf(1) }), limits: { ...L, maxRestarts: 0 }, actions: [fail({ cause: 'exited with code 1', error: 'exited with code 1; gave up after 0 restarts (max_restarts 0)' })] },
    { name: 'killed by SIGKILL: restart, cause names the signal', view: runningView({ exit: exitOf(null, 'SIGKILL') }), actions: [restart({ cause: 'killed by SIGKILL', restartCount: 1, delayMs: 30 * SEC })] },
    { name: 'stopped as stalled: restart, cause names the stop', view: runningView({ exit: exitOf(null, 'SIGTERM', 'stalled'), restartCount: 1 }), actions: [restart({ cause: 'stopped: stalled', restartCount: 2, delayMs: 45 * SEC })] },
    { name: 'stopped as stalled but exited 0 by itself (no signal): its exit code decides, complete', view: runningView({ exit: exitOf(0, null, 'stalled') }), actions: [{ kind: 'complete', workerId: 'w1' }] },
    { name: 'stopped as stalled, ended by SIGTERM: a restart', view: runningView({ exit: exitOf(null, 'SIGTERM', 'stalled') }), actions: [restart({ cause: 'stopped: stalled', restartCount: 1, delayMs: 30 * SEC })] },
    { name: 'stopped for the time limit after max_restarts: fail', view: runningView({ exit: exitOf(null, 'SIGKILL', 'time_limit'), restartCount: 2 }), actions: [fail({ cause: 'stopped: time_limit', error: 'stopped: time_limit; gave up after 2 restarts (max_restarts 2)' })] },
    { name: 'crash at max after a run of healthy_reset: count reset, restart 1', view: runningView({ exit: exitOf(1), restartCount: 2, ...ran(L.healthyResetMs) }), actions: [restart({ cause: 'exited with code 1', restartCount: 1, delayMs: 30 * SEC, countWasReset: true })] },
    { name: 'crash at max after a run 1 ms short of healthy_reset: fail', view: runningView({ exit: exitOf(1), restartCount: 2, ...ran(L.healthyResetMs - 1) }), actions: [fail({ cause: 'exited with code 1', error: 'exited with code 1; gave up after 2 restarts (max_restarts 2)' })] },
    { name: 'zero backoff: restart with delay 0', view: runningView({ exit: exitOf(1), restartCount: 1 }), limits: { ...L, backoffBaseMs: 0, backoffMaxMs: 0 }, actions: [restart({ cause: 'exited with code 1', restartCount: 2, delayMs: 0 })] },
    { name: 'zombie (gone): schedule_restart with zombie true', view: runningView({ process: 'gone' }), actions: [restart({ cause: 'zombie: no process found, no recorded exit', restartCount: 1, delayMs: 30 * SEC, zombie: true })] },
    { name: 'zombie (pid reused): schedule_restart with zombie true', view: runningView({ process: 'reused', restartCount: 1 }), actions: [restart({ cause: 'zombie: its pid now belongs to another process, no recorded exit', restartCount: 2, delayMs: 45 * SEC, zombie: true })] },
    { name: 'zombie at max_restarts: fail with zombie true', view: runningView({ process: 'none', restartCount: 2 }), actions: [fail({ zombie: true, cause: 'zombie: no pid recorded, no recorded exit', error: 'zombie: no pid recorded, no recorded exit; gave up after 2 restarts (max_restarts 2)' })] },
    { name: 'stalled (silent): stop as stalled', view: runningView({ lastCheckinAt: NOW - L.stallTimeoutMs }), actions: [{ kind: 'stop', workerId: 'w1', reason: 'stalled', detail: 'no check-in for 1200s' }] },
    { name: 'stalled (progress stuck): stop as stalled', view: runningView({ lastProgressChangeAt: NOW - L.stallTimeoutMs }), actions: [{ kind: 'stop', workerId: 'w1', reason: 'stalled', detail: 'progress stuck at 40% for 1200s' }] },
    { name: 'blocked and silent for 10 x stall_timeout: no action', view: runningView({ blockedSince: NOW - 10 * L.stallTimeoutMs, lastCheckinAt: NOW - 10 * L.stallTimeoutMs }), actions: [] },
    { name: 'blocked past blocked_timeout: stop as stalled, the detail says blocked too long', view: runningView({ blockedSince: NOW - 60 * SEC, blockedMessage: 'allow Bash?' }), limits: { ...L, blockedTimeoutMs: 60 * SEC }, actions: [{ kind: 'stop', workerId: 'w1', reason: 'stalled', detail: 'blocked too long: waiting for a person for 60s (blocked_timeout_seconds 60): allow Bash?' }] },
    { name: 'progress stuck but tool calls going on (activity): no action', view: runningView({ lastProgressChangeAt: NOW - 10 * L.stallTimeoutMs, lastActivityAt: NOW - SEC }), actions: [] },
    { name: 'at the time limit: stop with reason time_limit, no warnings recorded', view: runningView({ startedAt: NOW - L.timeLimitMs }), actions: [{ kind: 'stop', workerId: 'w1', reason: 'time_limit', detail: 'over its time limit (2700s of 2700s)' }] },
    { name: 'stalled with a stop in flight: no second stop', view: runningView({ lastCheckinAt: NOW - L.stallTimeoutMs, stopping: true }), actions: [] },
    { name: 'over time with a stop in flight: no second stop', view: runningView({ startedAt: NOW - 2 * L.timeLimitMs, stopping: true }), actions: [] },
    { name: 'exit recorded while the stop is still in flight: wait for the stop', view: runningView({ exit: exitOf(null, 'SIGTERM', 'stalled'), stopping: true }), actions: [] },
    { name: 'zombie while a stop is in flight: wait for the stop', view: runningView({ process: 'gone', stopping: true }), actions: [] },
    // memory_limit_mb: the run's last sampled resident memory (every process with its token).
    { name: 'over the memory limit: stop as memory_limit', view: runningView(), input: { memoryOf: () => hogMemory(60) }, limits: { ...L, memoryLimitBytes: 50 * MIB }, actions: [{ kind: 'stop', workerId: 'w1', reason: 'memory_limit', detail: 'resident memory 60 MiB over 3 processes is over its memory limit of 50 MiB' }] },
    { name: 'under the memory limit, or no limit: nothing', view: runningView(), input: { memoryOf: () => hogMemory(40) }, limits: { ...L, memoryLimitBytes: 50 * MIB }, actions: [] },
    { name: 'over the memory limit with a stop in flight: no second stop', view: runningView({ stopping: true }), input: { memoryOf: () => hogMemory(60) }, limits: { ...L, memoryLimitBytes: 50 * MIB }, actions: [] },
    { name: 'stopped for memory, out of restarts: fail, the error names the limit', view: runningView({ exit: exitOf(null, 'SIGTERM', 'memory_limit'), restartCount: 2 }), limits: { ...L, memoryLimitBytes: 50 * MIB }, actions: [fail({ cause: 'stopped: over its memory limit (memory_limit_mb 50)', error: 'stopped: over its memory limit (memory_limit_mb 50); gave up after 2 restarts (max_restarts 2)' })] },
    { name: 'healthy: nothing', view: runningView(), actions: [] },
    { name: 'late: nothing (only an event)', view: runningView({ lastCheckinAt: NOW - L.checkinTimeoutMs }), actions: [] },
    { name: 'starting: nothing', view: runningView({ lastCheckinAt: null, lastProgressChangeAt: null, startedAt: NOW - SEC }), actions: [] },
    { name: 'spec completed but still in active/ (a move cut short): finalize it', view: runningView({ status: 'completed', exit: exitOf(0) }), actions: [{ kind: 'finalize', workerId: 'w1', status: 'completed' }] },
    { name: 'spec failed but still in active/: finalize it', view: runningView({ status: 'failed', exit: exitOf(1) }), actions: [{ kind: 'finalize', workerId: 'w1', status: 'failed' }] },
    // A type no longer in worker-types.json: still supervised (never skipped), never restarted.
    { name: 'type removed, zombie: fail, not restarted', view: runningView({ workerType: 'gone', process: 'gone' }), actions: [fail({ zombie: true, cause: 'zombie: no process found, no recorded exit', error: 'zombie: no process found, no recorded exit; not restarted: worker type "gone" is no longer in worker-types.json' })] },
    { name: 'type removed, crash with restarts left: fail, not restarted', view: runningView({ workerType: 'gone', exit: exitOf(1) }), actions: [fail({ cause: 'exited with code 1', error: 'exited with code 1; not restarted: worker type "gone" is no longer in worker-types.json' })] },
    { name: 'type removed, exit 0: complete', view: runningView({ workerType: 'gone', exit: exitOf(0) }), actions: [{ kind: 'complete', workerId: 'w1' }] },
    { name: 'type removed, stalled under the limits its run started with', view: runningView({ workerType: 'gone', startedLimits: { ...L, stallTimeoutMs: 10 * SEC }, lastCheckinAt: NOW - 10 * SEC }), actions: [{ kind: 'stop', workerId: 'w1', reason: 'stalled', detail: 'no check-in for 10s' }] },
    { name: 'type removed, no limits recorded: its last known definition', view: runningView({ workerType: 'gone', lastCheckinAt: NOW - 20 * SEC }), input: { retiredLimits: { gone: { ...L, stallTimeoutMs: 20 * SEC } } }, actions: [{ kind: 'stop', workerId: 'w1', reason: 'stalled', detail: 'no check-in for 20s' }] },
    { name: 'type removed, the limits its run started with win over the last known definition', view: runningView({ workerType: 'gone', startedLimits: L, lastCheckinAt: NOW - 20 * SEC }), input: { retiredLimits: { gone: { ...L, stallTimeoutMs: 20 * SEC } } }, actions: [] },
    { name: 'type removed, nothing known of it: the default limits (silent 1200 s: stalled)', view: runningView({ workerType: 'gone', lastCheckinAt: NOW - L.stallTimeoutMs }), actions: [{ kind: 'stop', workerId: 'w1', reason: 'stalled', detail: 'no check-in for 1200s' }] },
    { name: 'type still there: its current limits, not those the run started with', view: runningView({ startedLimits: { ...L, stallTimeoutMs: 10 * SEC }, lastCheckinAt: NOW - 10 * SEC }), actions: [] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const plan = decidePass(passInput({ workers: [c.view], maxConcurrent: 0, ...(c.limits ? { limits: { implementation: c.limits } } : {}), ...c.input }));
      assert.deepEqual(bare(plan.actions), c.actions);
      assert.equal(plan.held, false);
      assert.equal(plan.health.has('w1'), true, 'every worker gets a verdict');
    });
  }

  test('over the memory limit: memory_limit_exceeded with the sample and its biggest process', () => {
    const plan = decidePass(passInput({ workers: [runningView()], memoryOf: () => hogMemory(60), maxConcurrent: 0, limits: { implementation: { ...L, memoryLimitBytes: 50 * MIB } } }));
    assert.deepEqual(eventNames(plan.events), ['memory_limit_exceeded']);
    assert.deepEqual(dataOf(plan.events[0]), { rss_bytes: 60 * MIB, limit_bytes: 50 * MIB, processes: 3, biggest_pid: 42, biggest_command: 'node hog.js', biggest_rss_bytes: 58 * MIB });
  });

  test('memory given beside the views (memoryOf): the same stop, and the views and their memoized health stay as they were', () => {
    const limits = { implementation: { ...L, memoryLimitBytes: 50 * MIB } };
    const view = runningView();
    const memo = new HealthMemo();
    const under = decidePass(passInput({ workers: [view], maxConcurrent: 0, limits, healthMemo: memo, memoryOf: () => hogMemory(40) }));
    assert.deepEqual(under.actions, []);
    const over = decidePass(passInput({ workers: [view], maxConcurrent: 0, limits, healthMemo: memo, memoryOf: (id) => (id === 'w1' ? hogMemory(60) : undefined) }));
    assert.deepEqual(eventNames(over.events), ['memory_limit_exceeded']);
    assert.equal(over.health.get('w1'), under.health.get('w1'), 'the assessment is the memoized one: a sample did not make the view new');
    assert.deepEqual(over.actions.map((a) => [a.kind, a.kind === 'stop' ? a.reason : null]), [['stop', 'memory_limit']]);
  });

  test('a pending spec of a removed type is not started, even with slots free', () => {
    const plan = decidePass(passInput({ workers: [pendingView({ workerType: 'gone' })], retiredLimits: { gone: L } }));
    assert.deepEqual(plan.actions, []);
  });

  test('rand is drawn once per restart decision and shapes the delay', () => {
    let calls = 0;
    const rand = () => {
      calls += 1;
      return 0;
    };
    const plan = decidePass(passInput({ workers: [runningView({ exit: exitOf(1), restartCount: 3 })], limits: { implementation: { ...L, maxRestarts: 9 } }, rand, maxConcurrent: 0 }));
    assert.equal(calls, 1);
    assert.equal(actionOf(plan.actions[0], 'schedule_restart').delayMs, 120 * SEC);
  });
});

describe('decidePass: each change of health is one event, logged when it happens', () => {
  const late = runningView({ lastCheckinAt: NOW - L.checkinTimeoutMs });
  const stalled = runningView({ lastCheckinAt: NOW - L.stallTimeoutMs, stopping: true });
  const zombie = runningView({ process: 'gone' });
  const overTime = runningView({ startedAt: NOW - L.timeLimitMs, timeoutWarnings: [50, 75, 90] });
  // Each: the previous health (undefined: never seen), the worker now, the events expected.
  const cases = [
    { name: 'first seen late: missed_checkin, previous null', previous: undefined, view: late, events: [['missed_checkin', 'late', null]] },
    { name: 'healthy → late: missed_checkin', previous: 'healthy', view: late, events: [['missed_checkin', 'late', 'healthy']] },
    { name: 'starting → late (no first check-in): missed_checkin', previous: 'starting', view: runningView({ lastCheckinAt: null, lastProgressChangeAt: null, startedAt: NOW - L.startupGraceMs - L.checkinTimeoutMs }), events: [['missed_checkin', 'late', 'starting']] },
    { name: 'late → late: nothing again', previous: 'late', view: late, events: [] },
    { name: 'late → stalled: worker_stalled', previous: 'late', view: stalled, events: [['worker_stalled', 'stalled', 'late']] },
    { name: 'stalled → stalled: nothing again', previous: 'stalled', view: stalled, events: [] },
    { name: 'healthy → blocked: worker_blocked', previous: 'healthy', view: runningView({ blockedSince: NOW }), events: [['worker_blocked', 'blocked', 'healthy']] },
    { name: 'blocked → blocked: nothing again', previous: 'blocked', view: runningView({ blockedSince: NOW - MIN }), events: [] },
    { name: 'healthy → zombie: zombie_detected', previous: 'healthy', view: zombie, events: [['zombie_detected', 'zombie', 'healthy']] },
    { name: 'zombie → zombie, its change not made yet (skipped under the lock): zombie_detected again, with the change', previous: 'zombie', view: zombie, events: [['zombie_detected', 'zombie', 'zombie']] },
    { name: 'healthy → over the time limit: timeout_exceeded (not worker_stalled)', previous: 'healthy', view: overTime, events: [['timeout_exceeded', 'stalled', 'healthy']] },
    { name: 'stalled → over the time limit: nothing again', previous: 'stalled', view: overTime, events: [] },
    { name: 'late → healthy: no event for a recovery', previous: 'late', view: runningView(), events: [] },
    { name: 'healthy → healthy: nothing', previous: 'healthy', view: runningView(), events: [] },
    { name: 'exited while its stop is in flight: nothing yet', previous: 'stalled', view: runningView({ exit: exitOf(null, 'SIGTERM', 'stalled'), stopping: true }), events: [] },
    { name: 'backoff → starting: nothing', previous: 'backoff', view: runningView({ status: 'pending', nextRestartAt: NOW, restartCount: 1 }), events: [] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const plan = decideOne(c.view, { previous: c.previous, input: { maxConcurrent: 0 } });
      assert.deepEqual(
        allEvents(plan).map((e) => [e.event, dataOf(e).health_state, dataOf(e).previous_state]),
        c.events,
      );
      for (const e of allEvents(plan)) {
        assert.equal(e.worker_id, 'w1');
        assert.equal(e.task_id, 'task-1');
        assert.equal(typeof dataOf(e).reason, 'string');
      }
    });
  }

  test('a second pass fed the first pass\'s health logs nothing again', () => {
    const workers = [late, stalled, zombie, overTime, runningView({ workerId: 'ok' })].map((w, i) => ({ ...w, workerId: `w${i}` }));
    const first = decidePass(passInput({ workers, maxConcurrent: 0 }));
    assert.deepEqual(eventNames(allEvents(first)).sort(), ['missed_checkin', 'timeout_exceeded', 'worker_stalled', 'zombie_detected']);
    const previousHealth = new Map([...first.health].map(([id, h]) => [id, h.state]));
    const second = decidePass(passInput({ workers, previousHealth, maxConcurrent: 0 }));
    // The zombie's event goes with its change (a restart), which this pure test never makes: only that is left.
    assert.deepEqual(second.events, []);
    assert.deepEqual(eventNames(allEvents(second)), ['zombie_detected']);
  });
});

describe('decidePass: an ended run is logged once with what was decided and why', () => {
  // Each: the worker, the one event expected about it (name and data).
  const cases = [
    { name: 'exit 0: worker_exited, decision complete', view: runningView({ exit: exitOf(0) }), event: 'worker_exited', data: { exit_code: 0, signal: null, decision: 'complete' } },
    {
      name: 'exit 3: worker_exited, decision restart with count and delay',
      view: runningView({ exit: exitOf(3) }),
      event: 'worker_exited',
      data: { exit_code: 3, signal: null, stop_reason: null, cause: 'exited with code 3', decision: 'restart', restart_count: 1, delay_ms: 30 * SEC, count_was_reset: false },
    },
    {
      name: 'stopped as stalled: worker_exited with the stop reason',
      view: runningView({ exit: exitOf(null, 'SIGTERM', 'stalled'), restartCount: 1 }),
      event: 'worker_exited',
      data: { exit_code: null, signal: 'SIGTERM', stop_reason: 'stalled', cause: 'stopped: stalled', decision: 'restart', restart_count: 2, delay_ms: 45 * SEC, count_was_reset: false },
    },
    {
      name: 'crash at max_restarts: worker_exited, decision fail with the error',
      view: runningView({ exit: exitOf(null, 'SIGKILL'), restartCount: 2 }),
      event: 'worker_exited',
      data: { exit_code: null, signal: 'SIGKILL', stop_reason: null, cause: 'killed by SIGKILL', decision: 'fail', error: 'killed by SIGKILL; gave up after 2 restarts (max_restarts 2)' },
    },
    {
      name: 'zombie: one zombie_detected carrying the decision, no worker_exited',
      view: runningView({ process: 'gone', restartCount: 1 }),
      event: 'zombie_detected',
      data: { health_state: 'zombie', previous_state: 'healthy', reason: 'zombie: no process found, no recorded exit', decision: 'restart', restart_count: 2, delay_ms: 45 * SEC, count_was_reset: false },
    },
    {
      name: 'zombie at max_restarts: zombie_detected, decision fail',
      view: runningView({ process: 'reused', restartCount: 2 }),
      event: 'zombie_detected',
      data: { health_state: 'zombie', previous_state: 'healthy', reason: 'zombie: its pid now belongs to another process, no recorded exit', decision: 'fail', error: 'zombie: its pid now belongs to another process, no recorded exit; gave up after 2 restarts (max_restarts 2)' },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const plan = decideOne(c.view, { previous: 'healthy', input: { maxConcurrent: 0 } });
      assert.deepEqual(allEvents(plan), [{ event: c.event, worker_id: 'w1', task_id: 'task-1', data: c.data }]);
    });
  }
});

describe('decidePass: time-limit warnings, each once', () => {
  const at = (pct, given) => runningView({ startedAt: NOW - (L.timeLimitMs * pct) / 100, timeoutWarnings: given });
  // Each: percent of the limit, warnings already given, the timeout_warning percents expected.
  /** @type {Array<[string, number, number[], number[]]>} */
  const cases = [
    ['49%: none', 49, [], []],
    ['50%: 50', 50, [], [50]],
    ['60%, 50 given: none', 60, [50], []],
    ['75%, 50 given: 75', 75, [50], [75]],
    ['90%, 50 and 75 given: 90', 90, [50, 75], [90]],
    ['90%, none given (daemon was down): 50, 75 and 90 at once', 90, [], [50, 75, 90]],
    ['99%, all given: none', 99, [50, 75, 90], []],
    ['100%, none given: none (timeout_exceeded instead)', 100, [], []],
  ];
  for (const [name, pct, given, expected] of cases) {
    test(name, () => {
      const plan = decideOne(at(pct, given), { previous: 'healthy', input: { maxConcurrent: 0 } });
      const warnings = allEvents(plan).filter((e) => e.event === 'timeout_warning');
      assert.deepEqual(warnings.map((e) => dataOf(e).percent), expected);
      const record = plan.actions.filter((a) => a.kind === 'record_warnings');
      assert.deepEqual(bare(record), expected.length === 0 ? [] : [{ kind: 'record_warnings', workerId: 'w1', pcts: expected }]);
    });
  }

  test('a run to its limit, one pass a minute, gives 50, 75, 90 once, then timeout_exceeded and one stop', () => {
    let view = runningView({ startedAt: NOW, lastCheckinAt: NOW, lastProgressChangeAt: NOW });
    let previous = new Map();
    const log = [];
    for (let now = NOW; now <= NOW + L.timeLimitMs + 5 * MIN; now += MIN) {
      // The worker keeps checking in and moving; only the time limit can stop it.
      view = { ...view, lastCheckinAt: now, lastProgressChangeAt: now };
      const plan = decidePass(passInput({ now, workers: [view], previousHealth: previous, maxConcurrent: 0 }));
      for (const e of allEvents(plan)) log.push(e.event === 'timeout_warning' ? `warning ${dataOf(e).percent}` : e.event);
      for (const a of plan.actions) {
        if (a.kind === 'record_warnings') view = { ...view, timeoutWarnings: [...view.timeoutWarnings, ...a.pcts] };
        if (a.kind === 'stop') {
          log.push(`stop ${a.reason}`);
          view = { ...view, stopping: true };
        }
      }
      previous = new Map([...plan.health].map(([id, h]) => [id, h.state]));
    }
    assert.deepEqual(log, ['warning 50', 'warning 75', 'warning 90', 'timeout_exceeded', 'stop time_limit']);
  });
});

describe('decidePass: a worker that crashes every time', () => {
  test('restarts max_restarts times with growing delays, then fails naming cause and count', () => {
    let view = runningView({ exit: exitOf(2) });
    const seen = [];
    for (let i = 0; i < 5; i += 1) {
      const plan = decidePass(passInput({ workers: [view], maxConcurrent: 0 }));
      const [action] = plan.actions;
      seen.push(action.kind === 'schedule_restart' ? `restart ${action.restartCount} in ${action.delayMs / SEC}s` : `${action.kind}: ${'error' in action ? action.error : undefined}`);
      if (action.kind === 'fail') break;
      view = { ...view, restartCount: actionOf(action, 'schedule_restart').restartCount };
    }
    assert.deepEqual(seen, ['restart 1 in 30s', 'restart 2 in 45s', 'fail: exited with code 2; gave up after 2 restarts (max_restarts 2)']);
  });
});

// The mass-action guard: fleets where many workers look dead or stalled at once.
const zombieFleet = (n) => fleet(n, 'zombie', (workerId) => runningView({ workerId, process: 'gone' }));
const stalledFleet = (n) => fleet(n, 'stalled', (workerId) => runningView({ workerId, lastCheckinAt: NOW - L.stallTimeoutMs }));
const stoppingFleet = (n) => fleet(n, 'stopping', (workerId) => runningView({ workerId, lastCheckinAt: NOW - L.stallTimeoutMs, stopping: true }));
const healthyFleet = (n) => fleet(n, 'ok', (workerId) => runningView({ workerId }));
const crashedFleet = (n) => fleet(n, 'crashed', (workerId) => runningView({ workerId, exit: exitOf(1) }));
const DESTRUCTIVE = new Set(['stop', 'schedule_restart', 'fail']);

describe('decidePass: the mass-action guard', () => {
  // Each: the fleet, the guard minimum, whether the last pass held, and whether this pass holds (and how many).
  const cases = [
    { name: '10 zombies of 10, min 10: held', workers: zombieFleet(10), held: 10 },
    { name: '10 stalled of 19 (more than half), min 10: held', workers: [...stalledFleet(10), ...healthyFleet(9)], held: 10 },
    { name: '5 zombies + 5 stalled of 12: held together', workers: [...zombieFleet(5), ...stalledFleet(5), ...healthyFleet(2)], held: 10 },
    { name: '10 of 20 (exactly half): not held', workers: [...stalledFleet(10), ...healthyFleet(10)], held: 0, acted: 10 },
    { name: '10 of 30: not held', workers: [...zombieFleet(10), ...healthyFleet(20)], held: 0, acted: 10 },
    { name: '9 of 9, below the minimum: not held', workers: zombieFleet(9), held: 0, acted: 9 },
    { name: 'min 3: 3 of 5 held', workers: [...zombieFleet(3), ...healthyFleet(2)], min: 3, held: 3 },
    { name: 'min 3: 2 of 2 not held', workers: zombieFleet(2), min: 3, held: 0, acted: 2 },
    { name: '10 of 10 held last pass: acted on now', workers: zombieFleet(10), heldLastPass: true, held: 0, acted: 10 },
    { name: 'stalled workers already stopping are not counted again', workers: stoppingFleet(12), held: 0, acted: 0 },
    { name: 'crashes with a recorded exit are real, never held', workers: crashedFleet(12), held: 0, acted: 12 },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const plan = decidePass(passInput({ workers: c.workers, massActionMin: c.min ?? 10, heldLastPass: c.heldLastPass ?? false, maxConcurrent: 0 }));
      const fleetSize = c.workers.length;
      assert.equal(plan.held, c.held > 0);
      assert.equal(plan.heldWorkerIds.size, c.held);
      const destructive = plan.actions.filter((a) => DESTRUCTIVE.has(a.kind));
      if (c.held > 0) {
        assert.deepEqual(destructive, [], 'no stop, restart or fail while held');
        const heldEvents = allEvents(plan).filter((e) => e.event === 'actions_held');
        assert.equal(heldEvents.length, 1);
        assert.equal(dataOf(heldEvents[0]).workers, c.held);
        assert.equal(dataOf(heldEvents[0]).fleet, fleetSize);
        assert.match(dataOf(heldEvents[0]).reason, new RegExp(`${c.held} of ${fleetSize} running workers`));
        assert.deepEqual([...dataOf(heldEvents[0]).worker_ids].sort(), [...plan.heldWorkerIds].sort());
        assert.deepEqual(eventNames(allEvents(plan)), ['actions_held'], 'the held workers\' changes are not logged yet');
        for (const id of plan.heldWorkerIds) assert.ok(plan.health.has(id), `health of ${id} is still assessed`);
      } else {
        assert.equal(destructive.length, c.acted);
        assert.ok(!eventNames(allEvents(plan)).includes('actions_held'));
      }
    });
  }

  test('a very large held set: all ids held, the event names the first 50', () => {
    const plan = decidePass(passInput({ workers: zombieFleet(60), maxConcurrent: 0 }));
    assert.equal(plan.heldWorkerIds.size, 60);
    const [event] = allEvents(plan);
    assert.equal(event.event, 'actions_held');
    assert.equal(dataOf(event).worker_ids.length, 50);
    assert.ok(dataOf(event).worker_ids.every((id) => plan.heldWorkerIds.has(id)));
  });

  test('held, then the next pass (heldLastPass) acts on the same fleet', () => {
    const workers = [...zombieFleet(6), ...stalledFleet(6), ...healthyFleet(2)];
    const first = decidePass(passInput({ workers, maxConcurrent: 0 }));
    assert.equal(first.held, true);
    assert.deepEqual(kinds(first.actions), []);
    assert.deepEqual(eventNames(allEvents(first)), ['actions_held']);

    // The shell records health except for held workers, so their change is logged on the pass that acts.
    const previousHealth = new Map([...first.health].filter(([id]) => !first.heldWorkerIds.has(id)).map(([id, h]) => [id, h.state]));
    const second = decidePass(passInput({ workers, previousHealth, heldLastPass: first.held, maxConcurrent: 0 }));
    assert.equal(second.held, false);
    assert.equal(second.heldWorkerIds.size, 0);
    assert.deepEqual(kinds(second.actions).sort(), [...Array(6).fill('schedule_restart'), ...Array(6).fill('stop')]);
    assert.ok(second.actions.filter((a) => a.kind === 'schedule_restart').every((a) => a.zombie === true && a.restartCount === 1));
    assert.deepEqual(eventNames(allEvents(second)).sort(), [...Array(6).fill('worker_stalled'), ...Array(6).fill('zombie_detected')]);
  });

  test('a held pass still passes through the other workers\' actions and events', () => {
    const late = runningView({ workerId: 'late', lastCheckinAt: NOW - L.checkinTimeoutMs });
    const done = runningView({ workerId: 'done', exit: exitOf(0) });
    const warned = runningView({ workerId: 'warned', startedAt: NOW - L.timeLimitMs / 2 });
    const plan = decidePass(passInput({ workers: [...zombieFleet(10), late, done, warned], maxConcurrent: 0 }));
    assert.equal(plan.held, true);
    assert.deepEqual(kinds(plan.actions).sort(), ['complete', 'record_warnings']);
    assert.deepEqual(eventNames(allEvents(plan)).sort(), ['actions_held', 'missed_checkin', 'timeout_warning', 'worker_exited']);
  });

  test('a held pass does not hand the held zombies\' slots to new tasks', () => {
    const plan = decidePass(passInput({ workers: zombieFleet(10), queuedTasks: [task('task-a', 'high')], maxConcurrent: 10 }));
    assert.equal(plan.held, true);
    assert.deepEqual(plan.actions, []);
  });
});

describe('decidePass: a worker held by an operator (stop-worker, fail-worker at work)', () => {
  test('its run ended by the stop: no restart, no fail, no event; health exited', () => {
    for (const exit of [exitOf(null, 'SIGTERM', 'manual stop'), exitOf(143), null]) {
      const plan = decideOne(runningView({ held: true, process: 'gone', exit }));
      assert.deepEqual(kinds(plan.actions), [], `exit ${JSON.stringify(exit)}`);
      assert.deepEqual(eventNames(plan.events), []);
      assert.equal(plan.health.get('w1')?.state, 'exited');
      assert.equal(plan.health.get('w1')?.zombie, false);
    }
  });

  test('held after max_restarts were used: still no fail', () => {
    const plan = decideOne(runningView({ held: true, process: 'gone', exit: exitOf(1), restartCount: L.maxRestarts }));
    assert.deepEqual(kinds(plan.actions), []);
  });

  test('a held run that finished with exit 0 before the signal is completed', () => {
    const plan = decideOne(runningView({ held: true, process: 'gone', exit: exitOf(0) }));
    assert.deepEqual(kinds(plan.actions), ['complete']);
  });

  test('a held live run that stalls is not stopped again by the daemon (the operator is stopping it)', () => {
    const plan = decideOne(runningView({ held: true, startedAt: NOW - 3 * 3600 * SEC, lastCheckinAt: NOW - 3 * 3600 * SEC }));
    assert.deepEqual(kinds(plan.actions).filter((k) => k === 'stop'), []);
  });

  test('a held pending spec is never started, and a held stopped worker holds no slot', () => {
    const plan = decidePass(passInput({
      maxConcurrent: 1,
      workers: [
        runningView({ workerId: 'held-run', held: true, process: 'gone', exit: exitOf(null, 'SIGTERM', 'manual stop') }),
        runningView({ workerId: 'held-pending', status: 'pending', held: true, process: 'none', startedAt: null }),
        runningView({ workerId: 'new', status: 'pending', process: 'none', startedAt: null, lastCheckinAt: null }),
      ],
    }));
    assert.deepEqual(plan.actions.map((a) => [a.kind, 'workerId' in a ? a.workerId : null]), [['start', 'new']]);
    assert.equal(plan.health.get('held-pending')?.state, 'exited');
  });

  test('a held run still alive holds its slot', () => {
    const plan = decidePass(passInput({
      maxConcurrent: 1,
      workers: [runningView({ workerId: 'held-live', held: true }), runningView({ workerId: 'new', status: 'pending', process: 'none', startedAt: null, lastCheckinAt: null })],
    }));
    assert.deepEqual(kinds(plan.actions), []);
  });
});

describe('decidePass: a change\'s event goes with the change that carries it out (logged once, only if made)', () => {
  const cases = [
    { name: 'exit 0: worker_exited with complete', view: runningView({ exit: exitOf(0) }), kind: 'complete', events: ['worker_exited'] },
    { name: 'exit 3: worker_exited with schedule_restart', view: runningView({ exit: exitOf(3) }), kind: 'schedule_restart', events: ['worker_exited'] },
    { name: 'crash at max_restarts: worker_exited with fail', view: runningView({ exit: exitOf(1), restartCount: 2 }), kind: 'fail', events: ['worker_exited'] },
    { name: 'zombie: zombie_detected with its restart, none in the pass\'s own events', view: runningView({ process: 'gone' }), kind: 'schedule_restart', events: ['zombie_detected'] },
    { name: 'time-limit warnings: with the write that records them given', view: runningView({ startedAt: NOW - (L.timeLimitMs * 80) / 100 }), kind: 'record_warnings', events: ['timeout_warning', 'timeout_warning'] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const plan = decideOne(c.view, { previous: 'healthy', input: { maxConcurrent: 0 } });
      assert.deepEqual(plan.events, [], 'nothing about the change is logged ahead of it');
      const action = plan.actions.find((a) => a.kind === c.kind);
      assert.ok(action !== undefined && 'events' in action);
      assert.deepEqual(eventNames(action.events), c.events);
    });
  }
});

describe('decidePass with a HealthMemo', () => {
  test('gives the plans a fresh decision gives, pass after pass, as deadlines pass and views change', () => {
    const timed = { ...L, timeLimitMs: 40 * MIN };
    const views = [
      runningView({ workerId: 'healthy' }),
      runningView({ workerId: 'quiet', lastCheckinAt: NOW - 14 * MIN, lastProgressChangeAt: NOW - 14 * MIN }),
      runningView({ workerId: 'fresh', lastCheckinAt: null, lastProgressChangeAt: null, startedAt: NOW - SEC }),
      runningView({ workerId: 'timed', workerType: 'timed', startedAt: NOW - 19 * MIN }),
      runningView({ workerId: 'blocked', blockedSince: NOW - MIN, blockedMessage: 'which branch?' }),
      runningView({ workerId: 'limited', checkinStatus: 'rate_limited', retryAt: NOW + 2 * MIN }),
      // Waits for a retry_at past its time limit: the time limit's warnings still fall due meanwhile.
      runningView({ workerId: 'limited-timed', workerType: 'timed', startedAt: NOW - 10 * MIN, checkinStatus: 'rate_limited', retryAt: NOW + 60 * MIN }),
      pendingView({ workerId: 'waits', restartCount: 1, nextRestartAt: NOW + 3 * MIN }),
      runningView({ workerId: 'gone', process: 'gone' }),
    ];
    const limits = { ...passInput().limits, timed };
    const memo = new HealthMemo();
    const previous = new Map();
    const seen = new Set();
    let current = views;
    for (let step = 0; step <= 40; step += 1) {
      const now = NOW + step * 30 * SEC;
      // Now and then a view changes (a new object, as the observer makes one when its worker changed).
      if (step === 10) current = current.map((v) => (v.workerId === 'quiet' ? { ...v, lastCheckinAt: now, lastProgressChangeAt: now } : v));
      const input = passInput({ now, workers: current, limits, previousHealth: new Map(previous), maxConcurrent: 0 });
      const memoized = decidePass({ ...input, healthMemo: memo });
      const fresh = decidePass(input);
      assert.deepEqual([...memoized.health], [...fresh.health], `health at step ${step}`);
      assert.deepEqual(memoized.actions, fresh.actions, `actions at step ${step}`);
      assert.deepEqual(memoized.events, fresh.events, `events at step ${step}`);
      assert.equal(memoized.nextDeadline, fresh.nextDeadline);
      for (const [id, a] of fresh.health) {
        previous.set(id, a.state);
        seen.add(a.state);
      }
      seen.add(fresh.actions.some((a) => a.kind === 'record_warnings') ? 'warned' : 'not warned');
    }
    // The workers went through their deadlines: late, stalled, a time-limit warning, the end of a wait.
    assert.deepEqual([...seen].sort(), ['backoff', 'blocked', 'healthy', 'late', 'not warned', 'stalled', 'starting', 'warned', 'zombie']);
  });
});
