// The decision core's rate limits and dispatch pauses: pure tables, no processes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decidePass } from '../../dist/core/decide.js';
import { assessHealth } from '../../dist/core/health.js';
import { matchRateLimit, parseResetTime, rateLimitOfEnd } from '../../dist/core/rate-limits.js';
import { pauseCovers, pauseInForce } from '../../dist/contract/dispatch-pauses.js';
import { workerTypesFileSchema } from '../../dist/contract/worker-types.js';
import { actionOf, exitOf, kinds, L, MIN, NOW, passInput, pendingView, runningView, SEC, task, TYPE } from './fixtures.js';

const POLICY = { provider: 'acme', exitCodes: [75], pauseThreshold: 2, maxWaits: 3 };
const RATE = { [TYPE]: POLICY };

describe('parseResetTime and matchRateLimit', () => {
  /** @type {Array<[string, number | null]>} */
  const cases = [
    ['1764547200', 1764547200_000],
    ['1764547200123', 1764547200123],
    ['2026-11-30T10:00:00Z', Date.parse('2026-11-30T10:00:00Z')],
    ['soon', null],
    ['42', null],
  ];
  for (const [text, want] of cases) test(`reset "${text}"`, () => assert.equal(parseResetTime(text), want));

  test('the last matching line wins, its reset group read', () => {
    const tail = 'start\nClaude AI usage limit reached|1764547200\nretrying\nClaude AI usage limit reached|1764550800\n';
    assert.deepEqual(matchRateLimit(tail, [/usage limit reached\|(?<reset>\d+)/]), { resetWallMs: 1764550800_000 });
  });
  test('a match without a reset group: matched, reset unknown', () => assert.deepEqual(matchRateLimit('HTTP 429 Too Many Requests', [/\b429\b/]), { resetWallMs: null }));
  test('no match: null', () => assert.equal(matchRateLimit('all good', [/\b429\b/]), null));
  test('a bad pattern is refused when worker-types.json loads', () => {
    const result = workerTypesFileSchema.safeParse({ worker_types: { a: { command: ['x'], rate_limit_patterns: ['(unclosed'] } } });
    assert.equal(result.success, false);
    assert.match(JSON.stringify(result.error?.issues), /not a valid regular expression/);
  });
});

describe('rateLimitOfEnd', () => {
  const cases = [
    { name: 'exit code listed', view: runningView({ exit: exitOf(75) }), want: { source: 'exit_code', resetAt: null } },
    { name: 'exit code not listed', view: runningView({ exit: exitOf(1) }), want: null },
    { name: 'exit 0 is never a rate limit', view: runningView({ exit: exitOf(0), checkinStatus: 'rate_limited' }), want: null },
    { name: 'stopped by the daemon: not a rate limit', view: runningView({ exit: exitOf(75, null, 'stalled') }), want: null },
    { name: 'output matched, with reset', view: runningView({ exit: exitOf(1), outputRateLimit: { resetAt: NOW + MIN } }), want: { source: 'output', resetAt: NOW + MIN } },
    { name: 'last check-in rate_limited with retry_at', view: runningView({ exit: exitOf(1), checkinStatus: 'rate_limited', retryAt: NOW + 2 * MIN }), want: { source: 'checkin', resetAt: NOW + 2 * MIN } },
    { name: 'exit code, reset from the check-in', view: runningView({ exit: exitOf(75), checkinStatus: 'rate_limited', retryAt: NOW + MIN }), want: { source: 'exit_code', resetAt: NOW + MIN } },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(rateLimitOfEnd(c.view, POLICY), c.want));
});

describe('decidePass: rate-limited ends', () => {
  test('a rate-limited end waits for the reset, restart_count unchanged, waits + 1', () => {
    const plan = decidePass(passInput({ workers: [runningView({ exit: exitOf(75), restartCount: 2, rateLimitWaits: 1, checkinStatus: 'rate_limited', retryAt: NOW + 90 * SEC })], rateLimits: RATE }));
    const restart = actionOf(plan.actions[0], 'schedule_restart');
    assert.deepEqual([restart.restartCount, restart.delayMs, restart.rateLimit], [2, 90 * SEC, { source: 'exit_code', waits: 2, resetKnown: true }]);
    assert.equal(restart.events[0]?.data?.decision, 'rate_limit_wait');
  });
  test('no reset known: the backoff of its waits', () => {
    const plan = decidePass(passInput({ workers: [runningView({ exit: exitOf(75) })], rateLimits: RATE }));
    assert.equal(actionOf(plan.actions[0], 'schedule_restart').delayMs, 30 * SEC);
  });
  test('more than max_rate_limit_waits: fail with that reason', () => {
    const plan = decidePass(passInput({ workers: [runningView({ exit: exitOf(75), rateLimitWaits: 3 })], rateLimits: RATE }));
    assert.match(actionOf(plan.actions[0], 'fail').error, /rate limited 4 times, more than max_rate_limit_waits 3/);
  });
  test('without a policy the same exit is a crash', () => {
    const plan = decidePass(passInput({ workers: [runningView({ exit: exitOf(75) })] }));
    assert.equal(actionOf(plan.actions[0], 'schedule_restart').restartCount, 1);
  });
});

describe('decidePass: dispatch pauses and provider outages', () => {
  test('a paused type starts nothing: no pending start, no dispatch; a restart is scheduled paused', () => {
    const plan = decidePass(passInput({
      workers: [pendingView({ workerId: 'p1' }), runningView({ workerId: 'c1', exit: exitOf(1) }), runningView({ workerId: 'r1' })],
      queuedTasks: [task('task-q', 'high')],
      pausedTypes: { all: false, types: new Set([TYPE]) },
    }));
    assert.deepEqual(kinds(plan.actions), ['schedule_restart']);
    assert.equal(actionOf(plan.actions[0], 'schedule_restart').paused, true);
  });
  test('a pause of all types covers every type; another type\'s pause does not', () => {
    assert.deepEqual(kinds(decidePass(passInput({ workers: [pendingView()], pausedTypes: { all: true, types: new Set() } })).actions), []);
    assert.deepEqual(kinds(decidePass(passInput({ workers: [pendingView()], pausedTypes: { all: false, types: new Set(['other']) } })).actions), ['start']);
  });
  test('two workers of one provider rate limited: pause its types until the latest reset, and start nothing of them', () => {
    const plan = decidePass(passInput({
      workers: [
        runningView({ workerId: 'a', exit: exitOf(75), checkinStatus: 'rate_limited', retryAt: NOW + 2 * MIN }),
        runningView({ workerId: 'b', checkinStatus: 'rate_limited', lastCheckinAt: NOW - SEC, retryAt: NOW + 5 * MIN }),
        pendingView({ workerId: 'p' }),
      ],
      rateLimits: RATE,
    }));
    const pause = actionOf(plan.actions.find((a) => a.kind === 'pause_provider'), 'pause_provider');
    assert.deepEqual([pause.provider, pause.types, pause.untilAt, pause.workerIds], ['acme', [TYPE], NOW + 5 * MIN, ['a', 'b']]);
    assert.equal(plan.actions.some((a) => a.kind === 'start'), false);
    assert.equal(actionOf(plan.actions.find((a) => a.kind === 'schedule_restart'), 'schedule_restart').paused, true, 'the restart decided in the same pass waits for the pause too');
  });
  test('one worker, or a provider already paused: no new pause', () => {
    assert.equal(decidePass(passInput({ workers: [runningView({ exit: exitOf(75) })], rateLimits: RATE })).actions.some((a) => a.kind === 'pause_provider'), false);
    const two = [runningView({ workerId: 'a', exit: exitOf(75) }), runningView({ workerId: 'b', exit: exitOf(75) })];
    assert.equal(decidePass(passInput({ workers: two, rateLimits: RATE, rateLimitPausedProviders: new Set(['acme']) })).actions.some((a) => a.kind === 'pause_provider'), false);
  });
  test('workers whose resets have passed do not pause the provider again', () => {
    const waited = [pendingView({ workerId: 'a', rateLimitedAt: NOW - MIN, nextRestartAt: NOW - SEC }), pendingView({ workerId: 'b', rateLimitedAt: NOW - MIN, nextRestartAt: NOW - SEC })];
    assert.equal(decidePass(passInput({ workers: waited, rateLimits: RATE })).actions.some((a) => a.kind === 'pause_provider'), false);
  });
});

describe('health of a worker that checked in rate_limited', () => {
  const limits = { ...L, checkinTimeoutMs: 10 * SEC, stallTimeoutMs: 20 * SEC };
  test('before its retry_at: backoff, not stalled, wakes at retry_at', () => {
    const h = assessHealth(runningView({ checkinStatus: 'rate_limited', lastCheckinAt: NOW - MIN, lastProgressChangeAt: NOW - MIN, retryAt: NOW + MIN }), limits, NOW);
    assert.deepEqual([h.state, h.nextChangeAt], ['backoff', NOW + MIN]);
  });
  test('after its retry_at, silence counts from then', () => {
    const view = runningView({ checkinStatus: 'rate_limited', lastCheckinAt: NOW - 5 * MIN, lastProgressChangeAt: NOW - 5 * MIN, retryAt: NOW - 15 * SEC });
    assert.equal(assessHealth(view, limits, NOW).state, 'late');
    assert.equal(assessHealth(view, limits, NOW + 6 * SEC).state, 'stalled');
  });
});

describe('dispatch-pauses.json scope and expiry', () => {
  const at = '2026-11-30T08:00:00.000Z';
  test('scope', () => {
    assert.equal(pauseCovers({ type: null, reason: null, until: null, by: 'operator', at }, 'x'), true);
    assert.equal(pauseCovers({ type: 'y', reason: null, until: null, by: 'operator', at }, 'x'), false);
    assert.equal(pauseCovers({ type: null, types: ['x'], provider: 'p', reason: null, until: null, by: 'rate_limit', at }, 'x'), true);
    assert.equal(pauseCovers({ type: null, types: ['y'], provider: 'p', reason: null, until: null, by: 'rate_limit', at }, 'x'), false);
  });
  test('in force until its until', () => {
    const pause = { type: null, reason: null, until: '2026-11-30T09:00:00.000Z', by: /** @type {const} */ ('operator'), at };
    assert.equal(pauseInForce(pause, Date.parse('2026-11-30T08:59:59.999Z')), true);
    assert.equal(pauseInForce(pause, Date.parse('2026-11-30T09:00:00.000Z')), false);
  });
});
