import assert from 'node:assert/strict';
import { describe, mock, test } from 'node:test';
import { HEALTH_STATES } from '../../dist/contract/pm-state.js';
import { placeOnDaemonClock, systemClock } from '../../dist/core/clock.js';
import { decidePass } from '../../dist/core/decide.js';
import { assessHealth, TIMEOUT_WARNING_PCTS } from '../../dist/core/health.js';
import { runState } from '../../dist/core/run-state.js';
import { eventNames, exitOf, fleet, HOUR, L, NOW, passInput, pendingView, runningView, SEC } from './fixtures.js';

// Health: the state of one worker (assessHealth), the ages it is measured with (clock.ts: a wall-clock jump
// must not stall the fleet), and whether its run ended (runState).

const noCheckin = { lastCheckinAt: null, lastProgressChangeAt: null, progress: null };
/** A worker that never checked in, `ms` after it started. */
const silentSinceStart = (ms) => runningView({ ...noCheckin, startedAt: NOW - ms });
/** A worker whose last check-in (and progress change) was `ms` ago. */
const checkedIn = (ms) => runningView({ lastCheckinAt: NOW - ms, lastProgressChangeAt: NOW - ms });
/** A worker checking in every second, `pct` % into its time limit, with these warnings already given. */
const intoLimit = (pct, given = []) => runningView({ startedAt: NOW - (L.timeLimitMs * pct) / 100, timeoutWarnings: given });

/** @type {import('../../dist/core/limits.js').Limits} */
const BY_OUTPUT = { ...L, heartbeat: 'output' };
/** @type {import('../../dist/core/limits.js').Limits} */
const BY_ANY = { ...L, heartbeat: 'any' };

// Each case: the view, then what assessHealth must say. `reason` is a pattern; omitted fields must be their quiet default.
const healthCases = [
  // pending
  { name: 'pending, never run: starting', view: pendingView(), state: 'starting', reason: /waiting to start/ },
  { name: 'pending, restart due in 30 s: backoff', view: pendingView({ restartCount: 1, nextRestartAt: NOW + 30 * SEC }), state: 'backoff', reason: /^waiting to restart \(backoff\)/ },
  { name: 'pending, restart due in 1 ms: still backoff', view: pendingView({ restartCount: 1, nextRestartAt: NOW + 1 }), state: 'backoff' },
  { name: 'pending, restart due exactly now: starting', view: pendingView({ restartCount: 1, nextRestartAt: NOW }), state: 'starting' },
  { name: 'pending, restart overdue: starting', view: pendingView({ restartCount: 1, nextRestartAt: NOW - HOUR }), state: 'starting' },

  // statuses that are no longer running
  { name: 'status completed: exited', view: runningView({ status: 'completed' }), state: 'exited', reason: /status completed/ },
  { name: 'status failed: exited', view: runningView({ status: 'failed' }), state: 'exited', reason: /status failed/ },

  // running, no check-in yet: the startup grace comes first, then the check-in and stall timeouts count from its end
  { name: 'no check-in, just started: starting', view: silentSinceStart(0), state: 'starting', reason: /no check-in yet/ },
  { name: 'no check-in, no start time recorded: starting', view: runningView({ ...noCheckin, startedAt: null }), state: 'starting' },
  { name: 'no check-in, 1 ms inside the grace: starting', view: silentSinceStart(L.startupGraceMs - 1), state: 'starting' },
  { name: 'no check-in, grace just ended: starting', view: silentSinceStart(L.startupGraceMs), state: 'starting' },
  { name: 'no check-in, 1 ms before grace + checkin_timeout: starting', view: silentSinceStart(L.startupGraceMs + L.checkinTimeoutMs - 1), state: 'starting' },
  { name: 'no check-in, exactly grace + checkin_timeout: late', view: silentSinceStart(L.startupGraceMs + L.checkinTimeoutMs), state: 'late', reason: /^no first check-in 1020s after start$/ },
  { name: 'no check-in, 1 ms before grace + stall_timeout: late', view: silentSinceStart(L.startupGraceMs + L.stallTimeoutMs - 1), state: 'late' },
  { name: 'no check-in, exactly grace + stall_timeout: stalled', view: silentSinceStart(L.startupGraceMs + L.stallTimeoutMs), state: 'stalled', reason: /^no check-in since it started 1320s ago$/ },

  // running, checking in
  { name: 'check-in now: healthy', view: checkedIn(0), state: 'healthy', reason: /checking in/ },
  { name: 'check-in 1 ms before checkin_timeout: healthy', view: checkedIn(L.checkinTimeoutMs - 1), state: 'healthy' },
  { name: 'check-in exactly checkin_timeout ago: late', view: checkedIn(L.checkinTimeoutMs), state: 'late', reason: /^last check-in 900s ago$/ },
  { name: 'check-in 1 ms before stall_timeout: late', view: checkedIn(L.stallTimeoutMs - 1), state: 'late' },
  { name: 'check-in exactly stall_timeout ago: stalled', view: checkedIn(L.stallTimeoutMs), state: 'stalled', reason: /^no check-in for 1200s$/ },
  { name: 'check-in long ago: stalled', view: checkedIn(10 * L.stallTimeoutMs), state: 'stalled' },
  { name: 'a check-in inside the grace counts: late after checkin_timeout from it', view: runningView({ startedAt: NOW - L.checkinTimeoutMs - 10 * SEC, lastCheckinAt: NOW - L.checkinTimeoutMs, lastProgressChangeAt: NOW - L.checkinTimeoutMs }), state: 'late' },

  // progress that stops moving while check-ins continue
  { name: 'progress unchanged 1 ms less than stall_timeout, check-ins fresh: healthy', view: runningView({ lastProgressChangeAt: NOW - L.stallTimeoutMs + 1 }), state: 'healthy' },
  { name: 'progress unchanged exactly stall_timeout, check-ins fresh: stalled', view: runningView({ lastProgressChangeAt: NOW - L.stallTimeoutMs }), state: 'stalled', reason: /^progress stuck at 40% for 1200s$/ },
  { name: 'progress stuck with no percentage reported: stalled at 0%', view: runningView({ progress: null, lastProgressChangeAt: NOW - L.stallTimeoutMs }), state: 'stalled', reason: /stuck at 0%/ },
  { name: 'progress stuck and check-ins late: stalled (stuck outranks late)', view: runningView({ lastCheckinAt: NOW - L.checkinTimeoutMs, lastProgressChangeAt: NOW - L.stallTimeoutMs }), state: 'stalled', reason: /progress stuck/ },
  { name: 'no progress change recorded: never stuck', view: runningView({ lastProgressChangeAt: null }), state: 'healthy' },

  // activity: a hook's tool call is progress, whatever the progress number says
  { name: 'progress unchanged for stall_timeout, activity now: healthy', view: runningView({ lastProgressChangeAt: NOW - L.stallTimeoutMs, lastActivityAt: NOW }), state: 'healthy' },
  { name: 'progress and activity both stall_timeout ago, check-ins fresh: stalled', view: runningView({ lastProgressChangeAt: NOW - 2 * L.stallTimeoutMs, lastActivityAt: NOW - L.stallTimeoutMs }), state: 'stalled', reason: /^progress stuck at 40% for 1200s$/ },
  { name: 'activity 1 ms less than stall_timeout ago, progress long unchanged: healthy', view: runningView({ lastProgressChangeAt: NOW - 10 * L.stallTimeoutMs, lastActivityAt: NOW - L.stallTimeoutMs + 1 }), state: 'healthy' },
  { name: 'activity does not excuse silence: no check-in for stall_timeout is stalled', view: runningView({ lastCheckinAt: NOW - L.stallTimeoutMs, lastProgressChangeAt: NOW - L.stallTimeoutMs, lastActivityAt: NOW - L.stallTimeoutMs }), state: 'stalled', reason: /^no check-in for 1200s$/ },

  // blocked: waiting for a person is never late or stalled; past blocked_timeout it is handled as a stall
  { name: 'blocked now: blocked, with the message', view: runningView({ blockedSince: NOW, blockedMessage: 'Claude needs your permission to use Bash' }), state: 'blocked', reason: /^waiting for a person for 0s: Claude needs your permission to use Bash$/ },
  { name: 'blocked and silent for 10 x stall_timeout, no blocked timeout: blocked', view: runningView({ blockedSince: NOW - 10 * L.stallTimeoutMs, lastCheckinAt: NOW - 10 * L.stallTimeoutMs, lastProgressChangeAt: NOW - 10 * L.stallTimeoutMs }), state: 'blocked', reason: /^waiting for a person for 12000s$/ },
  { name: 'blocked 1 ms less than blocked_timeout: blocked', view: runningView({ blockedSince: NOW - 60 * SEC + 1 }), limits: { ...L, blockedTimeoutMs: 60 * SEC }, state: 'blocked' },
  { name: 'blocked exactly blocked_timeout: stalled, blocked too long', view: runningView({ blockedSince: NOW - 60 * SEC, blockedMessage: 'pick one' }), limits: { ...L, blockedTimeoutMs: 60 * SEC }, state: 'stalled', reason: /^blocked too long: waiting for a person for 60s \(blocked_timeout_seconds 60\): pick one$/ },
  { name: 'blocked past the time limit: the time limit wins', view: runningView({ blockedSince: NOW - SEC, startedAt: NOW - L.timeLimitMs, timeoutWarnings: [50, 75, 90] }), state: 'stalled', timeLimitExceeded: true, reason: /over its time limit/ },
  { name: 'blocked but its process is gone: zombie', view: runningView({ blockedSince: NOW - SEC, process: 'gone' }), state: 'zombie', zombie: true },
  { name: 'blocked but exited: exited', view: runningView({ blockedSince: NOW - SEC, exit: exitOf(1) }), state: 'exited' },

  // exited: a recorded exit wins over everything else
  { name: 'exit code 0: exited', view: runningView({ exit: exitOf(0) }), state: 'exited', reason: /^exit code 0$/ },
  { name: 'exit code 3: exited', view: runningView({ exit: exitOf(3) }), state: 'exited', reason: /^exit code 3$/ },
  { name: 'killed by a signal: exited', view: runningView({ exit: exitOf(null, 'SIGKILL') }), state: 'exited', reason: /^signal SIGKILL$/ },
  { name: 'stopped by the daemon: exited with the stop reason', view: runningView({ exit: exitOf(null, 'SIGTERM', 'stalled') }), state: 'exited', reason: /^stopped \(stalled\), signal SIGTERM$/ },
  { name: 'stopped for the time limit, exited 143: exited', view: runningView({ exit: exitOf(143, null, 'time_limit') }), state: 'exited', reason: /^stopped \(time_limit\), exit code 143$/ },
  { name: 'exit recorded and process gone: exited, not a zombie', view: runningView({ process: 'gone', exit: exitOf(1) }), state: 'exited' },
  { name: 'exit recorded, over time and silent: exited', view: runningView({ exit: exitOf(1), startedAt: NOW - 2 * L.timeLimitMs, lastCheckinAt: NOW - 2 * L.stallTimeoutMs }), state: 'exited' },

  // zombie: running, no recorded exit, and the process is not the one we started
  { name: 'process gone, no exit: zombie', view: runningView({ process: 'gone' }), state: 'zombie', zombie: true, reason: /^zombie: no process found, no recorded exit$/ },
  { name: 'pid reused by another process, no exit: zombie', view: runningView({ process: 'reused' }), state: 'zombie', zombie: true, reason: /^zombie: its pid now belongs to another process, no recorded exit$/ },
  { name: 'no pid recorded, no exit: zombie', view: runningView({ process: 'none' }), state: 'zombie', zombie: true, reason: /^zombie: no pid recorded, no recorded exit$/ },
  { name: 'zombie outranks the time limit: no warnings, not exceeded', view: runningView({ process: 'gone', startedAt: NOW - 2 * L.timeLimitMs }), state: 'zombie', zombie: true },

  // time limit: warnings at 50, 75, 90 %, each once; stalled (exceeded) at the limit
  { name: 'time: 1 ms before 50%: no warning', view: runningView({ startedAt: NOW - L.timeLimitMs / 2 + 1 }), state: 'healthy' },
  { name: 'time: exactly 50%: warn 50', view: intoLimit(50), state: 'healthy', warningsDue: [50] },
  { name: 'time: 50% already warned: nothing', view: intoLimit(60, [50]), state: 'healthy' },
  { name: 'time: exactly 75%, none given: warn 50 and 75', view: intoLimit(75), state: 'healthy', warningsDue: [50, 75] },
  { name: 'time: 75%, 50 given: warn 75 only', view: intoLimit(75, [50]), state: 'healthy', warningsDue: [75] },
  { name: 'time: exactly 90%, 50 and 75 given: warn 90 only', view: intoLimit(90, [50, 75]), state: 'healthy', warningsDue: [90] },
  { name: 'time: 95%, all given: nothing', view: intoLimit(95, [50, 75, 90]), state: 'healthy' },
  { name: 'time: 95%, 75 missing (given out of order): warn 75 only', view: intoLimit(95, [50, 90]), state: 'healthy', warningsDue: [75] },
  { name: 'time: 1 ms before the limit: not exceeded', view: runningView({ startedAt: NOW - L.timeLimitMs + 1, timeoutWarnings: [50, 75, 90] }), state: 'healthy' },
  { name: 'time: exactly the limit: stalled, exceeded', view: intoLimit(100, [50, 75, 90]), state: 'stalled', timeLimitExceeded: true, reason: /^over its time limit \(2700s of 2700s\)$/ },
  { name: 'time: at the limit with no warnings given: all due, exceeded', view: intoLimit(100), state: 'stalled', timeLimitExceeded: true, warningsDue: [50, 75, 90] },
  { name: 'time: over the limit and silent: the limit is the reason', view: runningView({ startedAt: NOW - 2 * L.timeLimitMs, lastCheckinAt: NOW - L.stallTimeoutMs, timeoutWarnings: [50, 75, 90] }), state: 'stalled', timeLimitExceeded: true, reason: /over its time limit/ },
  { name: 'time: late and at 90% at once: late with the warning', view: runningView({ startedAt: NOW - (L.timeLimitMs * 9) / 10, lastCheckinAt: NOW - L.checkinTimeoutMs, timeoutWarnings: [50, 75] }), state: 'late', warningsDue: [90] },
  { name: 'time limit 0: no limit, no warnings', view: runningView({ startedAt: NOW - 100 * HOUR }), limits: { ...L, timeLimitMs: 0 }, state: 'healthy' },

  // times in the future (a wall clock that went back): age 0, never negative
  { name: 'check-in in the future: healthy', view: runningView({ lastCheckinAt: NOW + HOUR, lastProgressChangeAt: NOW + HOUR }), state: 'healthy' },
  { name: 'progress change in the future: healthy', view: runningView({ lastProgressChangeAt: NOW + HOUR }), state: 'healthy' },
  { name: 'start in the future, no check-in: starting, no warnings', view: runningView({ ...noCheckin, startedAt: NOW + HOUR }), state: 'starting' },

  // heartbeat: output (or any) counts the output log's last growth as a sign of life
  { name: 'heartbeat output: output 1 s ago, no check-in for an hour: healthy', view: runningView({ lastCheckinAt: NOW - HOUR, lastProgressChangeAt: NOW - HOUR, lastOutputAt: NOW - SEC }), limits: BY_OUTPUT, state: 'healthy', reason: /output grows/ },
  { name: 'heartbeat output: a check-in 1 s ago does not count, output stall_timeout ago: stalled', view: runningView({ lastCheckinAt: NOW - SEC, lastOutputAt: NOW - L.stallTimeoutMs }), limits: BY_OUTPUT, state: 'stalled', reason: /^no output for 1200s$/ },
  { name: 'heartbeat output: output checkin_timeout ago: late', view: runningView({ lastOutputAt: NOW - L.checkinTimeoutMs }), limits: BY_OUTPUT, state: 'late', reason: /^last output 900s ago$/ },
  { name: 'heartbeat output: no output yet, past grace + stall: stalled', view: runningView({ ...noCheckin, lastOutputAt: null, startedAt: NOW - L.startupGraceMs - L.stallTimeoutMs }), limits: BY_OUTPUT, state: 'stalled', reason: /^no output since it started/ },
  { name: 'heartbeat output: no output yet, in the grace: starting', view: runningView({ ...noCheckin, startedAt: NOW - SEC }), limits: BY_OUTPUT, state: 'starting', reason: /no output yet/ },
  { name: 'heartbeat checkin: output 1 s ago does not count', view: runningView({ lastCheckinAt: NOW - L.stallTimeoutMs, lastProgressChangeAt: NOW - L.stallTimeoutMs, lastOutputAt: NOW - SEC }), state: 'stalled', reason: /^no check-in for 1200s$/ },
  { name: 'heartbeat any: output late but a check-in 1 s ago: healthy', view: runningView({ lastCheckinAt: NOW - SEC, lastOutputAt: NOW - HOUR }), limits: BY_ANY, state: 'healthy' },
  { name: 'heartbeat any: check-in an hour ago, output 1 s ago: healthy', view: runningView({ lastCheckinAt: NOW - HOUR, lastProgressChangeAt: NOW - HOUR, lastOutputAt: NOW - SEC }), limits: BY_ANY, state: 'healthy' },
  { name: 'heartbeat any: both stall_timeout ago: stalled', view: runningView({ lastCheckinAt: NOW - L.stallTimeoutMs, lastOutputAt: NOW - L.stallTimeoutMs - SEC }), limits: BY_ANY, state: 'stalled', reason: /^no check-in or output for 1200s$/ },
];

describe('assessHealth', () => {
  for (const c of healthCases) {
    test(c.name, () => {
      const got = assessHealth(c.view, c.limits ?? L, NOW);
      assert.equal(got.state, c.state);
      if (c.reason) assert.match(got.reason, c.reason);
      assert.equal(typeof got.reason, 'string');
      assert.deepEqual([...got.warningsDue], c.warningsDue ?? []);
      assert.equal(got.timeLimitExceeded, c.timeLimitExceeded ?? false);
      assert.equal(got.zombie, c.zombie ?? false);
    });
  }

  test('the table covers every health state of the contract', () => {
    const covered = new Set(healthCases.map((c) => c.state));
    assert.deepEqual([...covered].sort(), [...HEALTH_STATES].sort());
  });

  test('blocked: the next deadline is the blocked timeout (none without one)', () => {
    const view = runningView({ blockedSince: NOW - 10 * SEC, startedAt: NOW, timeoutWarnings: [] });
    assert.equal(assessHealth(view, { ...L, blockedTimeoutMs: 60 * SEC, timeLimitMs: 0 }, NOW).nextChangeAt, NOW + 50 * SEC);
    assert.equal(assessHealth(view, { ...L, timeLimitMs: 0 }, NOW).nextChangeAt, null);
  });

  test('activity moves the progress deadline', () => {
    const view = runningView({ lastCheckinAt: NOW, lastProgressChangeAt: NOW - 10 * L.stallTimeoutMs, lastActivityAt: NOW - SEC, startedAt: NOW, timeoutWarnings: [] });
    const got = assessHealth(view, { ...L, timeLimitMs: 0 }, NOW);
    assert.equal(got.nextChangeAt, NOW + L.checkinTimeoutMs);
    assert.equal(assessHealth(view, { ...L, timeLimitMs: 0, checkinTimeoutMs: 1e12, stallTimeoutMs: 1e12 - 1 }, NOW).nextChangeAt, NOW - SEC + 1e12 - 1);
  });

  test('the warning thresholds are 50, 75 and 90 %', () => {
    assert.deepEqual([...TIMEOUT_WARNING_PCTS], [50, 75, 90]);
  });

  // Boundaries must hold for limits that do not divide evenly (no float slip below a threshold).
  const oddLimits = [7, 333, 1001, 2_700_001, 86_399_999];
  for (const limitMs of oddLimits) {
    test(`time limit ${limitMs} ms: each warning due from the first ms at or past its threshold`, () => {
      const limits = { ...L, timeLimitMs: limitMs, checkinTimeoutMs: 1e12, stallTimeoutMs: 1e12 };
      for (const pct of TIMEOUT_WARNING_PCTS) {
        const first = Math.ceil((limitMs * pct) / 100);
        const at = (elapsed, given) => assessHealth(runningView({ startedAt: NOW - elapsed, lastCheckinAt: NOW, timeoutWarnings: given }), limits, NOW);
        const given = TIMEOUT_WARNING_PCTS.filter((p) => p < pct);
        assert.deepEqual([...at(first, given).warningsDue], [pct], `at ${first} ms`);
        if (first - 1 >= 0 && (first - 1) * 100 < limitMs * pct) assert.deepEqual([...at(first - 1, given).warningsDue], [], `at ${first - 1} ms`);
      }
      const atLimit = assessHealth(runningView({ startedAt: NOW - limitMs, lastCheckinAt: NOW, timeoutWarnings: [50, 75, 90] }), limits, NOW);
      assert.equal(atLimit.timeLimitExceeded, true);
    });
  }
});

// Clock jumps. A model of the two clocks: real time r (ms since the daemon started), the daemon clock NOW + r (monotonic),
// and the wall clock, which is real time plus an offset that a jump changes.
const WALL_AT_START = 1_760_000_000_000;
const wallAt = (r, jumpMs, jumpAt) => WALL_AT_START + r + (r >= jumpAt ? jumpMs : 0);
const daemonAt = (r) => NOW + r;
/** @type {Array<[string, number]>} */
const JUMPS = [['forward 24 h', 24 * HOUR], ['forward 2 h', 2 * HOUR], ['forward 1 s', SEC], ['back 1 s', -SEC], ['back 2 h', -2 * HOUR], ['back 24 h', -24 * HOUR]];

describe('placeOnDaemonClock: a wall timestamp placed as "this long ago"', () => {
  // Each: wall timestamp relative to wall now, the age on the daemon clock expected.
  /** @type {Array<[string, number, number]>} */
  const cases = [
    ['written now: age 0', 0, 0],
    ['written 3 s ago: age 3 s', -3 * SEC, 3 * SEC],
    ['written an hour ago: age 1 h', -HOUR, HOUR],
    ['1 ms in the future: age 0', 1, 0],
    ['an hour in the future: age 0', HOUR, 0],
    ['a day in the future: age 0', 24 * HOUR, 0],
  ];
  for (const [name, offset, age] of cases) {
    test(name, () => {
      const wallNow = WALL_AT_START + 5 * HOUR;
      assert.equal(NOW - placeOnDaemonClock(wallNow + offset, wallNow, NOW), age);
    });
  }

  for (const [name, jump] of JUMPS) {
    test(`wall jumps ${name}: a check-in written after the jump is as old as it really is`, () => {
      const jumpAt = 10 * SEC;
      for (const writtenAgo of [0, SEC, L.checkinTimeoutMs - 1]) {
        const r = jumpAt + L.checkinTimeoutMs; // the daemon reads it well after the jump
        const placed = placeOnDaemonClock(wallAt(r - writtenAgo, jump, jumpAt), wallAt(r, jump, jumpAt), daemonAt(r));
        assert.equal(daemonAt(r) - placed, writtenAgo);
        assert.equal(assessHealth(runningView({ startedAt: daemonAt(0), lastCheckinAt: placed, lastProgressChangeAt: placed }), L, daemonAt(r)).state, 'healthy');
      }
    });

    test(`wall jumps ${name}: a check-in placed before the jump does not move`, () => {
      const jumpAt = 60 * SEC;
      const placed = placeOnDaemonClock(wallAt(jumpAt - 2 * SEC, jump, jumpAt), wallAt(jumpAt - SEC, jump, jumpAt), daemonAt(jumpAt - SEC));
      // Ten real seconds after the jump, whatever the wall says, the check-in (written 2 s before it) is 12 s old.
      const r = jumpAt + 10 * SEC;
      assert.equal(daemonAt(r) - placed, 12 * SEC);
      assert.equal(assessHealth(runningView({ startedAt: daemonAt(0), lastCheckinAt: placed, lastProgressChangeAt: placed }), L, daemonAt(r)).state, 'healthy');
    });
  }

  test('a check-in written just before a backward jump and read after it: in the future, so age 0', () => {
    const jumpAt = 60 * SEC;
    const placed = placeOnDaemonClock(wallAt(jumpAt - SEC, -2 * HOUR, jumpAt), wallAt(jumpAt + SEC, -2 * HOUR, jumpAt), daemonAt(jumpAt + SEC));
    assert.equal(placed, daemonAt(jumpAt + SEC));
  });

  for (const [name, jump] of JUMPS) {
    test(`a fleet of 20 placed before the wall jumps ${name}: one pass after it stops nothing and logs nothing`, () => {
      const jumpAt = 5 * 60 * SEC;
      const placed = placeOnDaemonClock(wallAt(jumpAt - 30 * SEC, jump, jumpAt), wallAt(jumpAt - 29 * SEC, jump, jumpAt), daemonAt(jumpAt - 29 * SEC));
      const workers = fleet(20, 'w', (workerId) => runningView({ workerId, startedAt: daemonAt(0), lastCheckinAt: placed, lastProgressChangeAt: placed }));
      /** @type {Map<string, import('../../dist/contract/pm-state.js').HealthState>} */
      const previousHealth = new Map(workers.map((w) => [w.workerId, 'healthy']));
      const plan = decidePass(passInput({ now: daemonAt(jumpAt + 5 * SEC), workers, previousHealth, maxConcurrent: 20 }));
      assert.deepEqual(plan.actions, []);
      assert.deepEqual(eventNames(plan.events), []);
      assert.ok([...plan.health.values()].every((h) => h.state === 'healthy'));
    });
  }
});

describe('systemClock: now() is monotonic, wallNow() follows the wall', () => {
  for (const [name, jump] of /** @type {Array<[string, number]>} */ ([['forward 2 h', 2 * HOUR], ['back 2 h', -2 * HOUR]])) {
    test(`wall jumps ${name}: now() moves by real time only`, () => {
      mock.timers.enable({ apis: ['Date'], now: WALL_AT_START });
      try {
        const clock = systemClock();
        const before = clock.now();
        assert.ok(Math.abs(before - WALL_AT_START) < 1000, 'starts at the wall time');
        assert.equal(clock.wallNow(), WALL_AT_START);
        mock.timers.setTime(WALL_AT_START + jump);
        assert.equal(clock.wallNow(), WALL_AT_START + jump);
        const after = clock.now();
        assert.ok(after >= before && after - before < 1000, `now() moved ${after - before} ms`);
      } finally {
        mock.timers.reset();
      }
    });
  }

  test('now() never goes backwards across calls', () => {
    const clock = systemClock();
    let previous = clock.now();
    for (let i = 0; i < 1000; i += 1) {
      const t = clock.now();
      assert.ok(t >= previous);
      previous = t;
    }
  });
});

/** @param {Partial<import('../../dist/core/run-state.js').RecordedRun>} [overrides] @returns {import('../../dist/core/run-state.js').RecordedRun} */
const recordedRun = (overrides = {}) => ({ status: 'running', pid: 4242, runId: 'run-1', exitCode: null, signal: null, stopReason: null, ...overrides });
/** @param {string | null} runId @param {number | null} exitCode @param {string | null} [signal] @returns {import('../../dist/core/run-state.js').ExitRecordView} */
const record = (runId, exitCode, signal = null) => ({ runId, exitCode, signal });

describe('runState: the recorded exit wins over the process table; otherwise the process table decides', () => {
  // Each: the spec's run, what the process table says of its pid, the shim's exit record, the verdict expected,
  // and which look-ups may happen (in order).
  /** @type {Array<{ name: string, run: import("../../dist/core/run-state.js").RecordedRun, proc: import("../../dist/core/health.js").ProcessState, exitRecord: import("../../dist/core/run-state.js").ExitRecordView | undefined, expected: unknown, calls: string[] }>} */
  const cases = [
    { name: 'not running: nothing looked up', run: recordedRun({ status: 'pending' }), proc: 'alive', exitRecord: undefined, expected: { process: 'none', exit: null }, calls: [] },
    { name: 'completed spec: nothing looked up', run: recordedRun({ status: 'completed', exitCode: 0 }), proc: 'gone', exitRecord: record('run-1', 0), expected: { process: 'none', exit: null }, calls: [] },
    { name: 'exit code in the spec, no pid: gone with that exit', run: recordedRun({ pid: null, exitCode: 3 }), proc: 'alive', exitRecord: undefined, expected: { process: 'gone', exit: { exitCode: 3, signal: null, stopReason: null } }, calls: [] },
    { name: 'signal in the spec, no pid: gone, stop reason kept', run: recordedRun({ pid: null, signal: 'SIGTERM', stopReason: 'stalled' }), proc: 'alive', exitRecord: undefined, expected: { process: 'gone', exit: { exitCode: null, signal: 'SIGTERM', stopReason: 'stalled' } }, calls: [] },
    { name: 'alive: alive, the exit record is not read', run: recordedRun(), proc: 'alive', exitRecord: record('run-1', 0), expected: { process: 'alive', exit: null }, calls: ['process'] },
    { name: 'gone, exit record of this run: gone with its exit', run: recordedRun(), proc: 'gone', exitRecord: record('run-1', 1), expected: { process: 'gone', exit: { exitCode: 1, signal: null, stopReason: null } }, calls: ['process', 'exit'] },
    { name: 'gone, exit record of this run, stopped by the daemon: the spec\'s stop reason', run: recordedRun({ stopReason: 'time_limit' }), proc: 'gone', exitRecord: record('run-1', null, 'SIGKILL'), expected: { process: 'gone', exit: { exitCode: null, signal: 'SIGKILL', stopReason: 'time_limit' } }, calls: ['process', 'exit'] },
    { name: 'pid reused, exit record of this run: the exit wins, not a zombie', run: recordedRun(), proc: 'reused', exitRecord: record('run-1', 0), expected: { process: 'gone', exit: { exitCode: 0, signal: null, stopReason: null } }, calls: ['process', 'exit'] },
    { name: 'gone, no exit record: gone, no exit (a zombie)', run: recordedRun(), proc: 'gone', exitRecord: undefined, expected: { process: 'gone', exit: null }, calls: ['process', 'exit'] },
    { name: 'gone, exit record of an earlier run: a zombie', run: recordedRun(), proc: 'gone', exitRecord: record('run-0', 0), expected: { process: 'gone', exit: null }, calls: ['process', 'exit'] },
    { name: 'pid reused, no exit record: reused (a zombie)', run: recordedRun(), proc: 'reused', exitRecord: undefined, expected: { process: 'reused', exit: null }, calls: ['process', 'exit'] },
    { name: 'exit record without a run id never matches', run: recordedRun({ runId: null }), proc: 'gone', exitRecord: record(null, 0), expected: { process: 'gone', exit: null }, calls: ['process', 'exit'] },
    { name: 'no pid, no exit in the spec, no record: none (a zombie)', run: recordedRun({ pid: null }), proc: 'alive', exitRecord: undefined, expected: { process: 'none', exit: null }, calls: ['exit'] },
    { name: 'no pid yet, but the shim recorded this run\'s exit: gone with it', run: recordedRun({ pid: null }), proc: 'alive', exitRecord: record('run-1', 2), expected: { process: 'gone', exit: { exitCode: 2, signal: null, stopReason: null } }, calls: ['exit'] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const calls = [];
      const got = runState(
        c.run,
        (pid) => {
          calls.push('process');
          assert.equal(pid, c.run.pid);
          return c.proc;
        },
        () => {
          calls.push('exit');
          return c.exitRecord;
        },
      );
      assert.deepEqual(got, c.expected);
      assert.deepEqual(calls, c.calls);
    });
  }
});
