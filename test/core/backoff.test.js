import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backoffDelayMs, decideRestart } from '../../dist/core/backoff.js';
import { WORKER_TYPE_DEFAULTS } from '../../dist/contract/worker-types.js';
import { limitsOf } from '../../dist/core/limits.js';
import { HOUR, L, SEC } from './fixtures.js';

const BASE = 30 * SEC;
const MAX = 300 * SEC;

describe('backoffDelayMs: base·2ⁿ capped at max, equal jitter in [exp/2, exp], clamped to [base, max]', () => {
  // [name, restartIndex, base, max, rand, expected]
  /** @type {Array<[string, number, number, number, number, number]>} */
  const cases = [
    ['n=0, rand 0.5: 0.75·base is below base, so base', 0, BASE, MAX, 0.5, BASE],
    ['n=1, rand 0.5: 0.75·2·base', 1, BASE, MAX, 0.5, 45 * SEC],
    ['n=2, rand 0.5: 0.75·4·base', 2, BASE, MAX, 0.5, 90 * SEC],
    ['n=3, rand 0.5: 0.75·8·base', 3, BASE, MAX, 0.5, 180 * SEC],
    ['n=4, rand 0.5: 16·base is past the cap, so 0.75·max', 4, BASE, MAX, 0.5, 225 * SEC],
    ['n=10, rand 0.5: capped', 10, BASE, MAX, 0.5, 225 * SEC],
    ['n=1000, rand 0.5: capped, no Infinity', 1000, BASE, MAX, 0.5, 225 * SEC],
    ['n=0, rand 0: exp/2 clamped up to base', 0, BASE, MAX, 0, BASE],
    ['n=1, rand 0: exp/2 is base', 1, BASE, MAX, 0, BASE],
    ['n=3, rand 0: exp/2', 3, BASE, MAX, 0, 120 * SEC],
    ['n=5, rand 0: max/2 once capped', 5, BASE, MAX, 0, 150 * SEC],
    ['n=0, rand just under 1: base', 0, BASE, MAX, 0.999999, BASE],
    ['n=3, rand just under 1: exp, rounded to the ms', 3, BASE, MAX, 0.999999, 240 * SEC],
    ['n=6, rand just under 1: the cap', 6, BASE, MAX, 0.999999, MAX],
    ['rand above 1 is clamped: exp', 3, BASE, MAX, 7, 240 * SEC],
    ['rand below 0 is clamped: exp/2', 3, BASE, MAX, -3, 120 * SEC],
    ['zero base: 0', 0, 0, MAX, 0.5, 0],
    ['zero base, n=20: 0', 20, 0, MAX, 0.999, 0],
    ['zero base and zero max: 0', 3, 0, 0, 0.5, 0],
    ['base equals max: always base', 4, BASE, BASE, 0.1, BASE],
    ['odd base, result rounded to an integer ms', 1, 333, 10_000, 0.5, 500],
  ];
  for (const [name, n, base, max, rand, expected] of cases) {
    test(name, () => assert.equal(backoffDelayMs(n, base, max, rand), expected));
  }

  for (let n = 0; n <= 8; n += 1) {
    test(`n=${n}: every rand in [0, 1) lands in [max(base, exp/2), min(max, exp)] as an integer, rising with rand`, () => {
      const exp = Math.min(MAX, BASE * 2 ** n);
      let previous = -Infinity;
      for (let i = 0; i < 100; i += 1) {
        const d = backoffDelayMs(n, BASE, MAX, i / 100);
        assert.ok(Number.isInteger(d), `${d} is an integer`);
        assert.ok(d >= Math.max(BASE, exp / 2) && d <= Math.min(MAX, exp), `${d} in range for rand ${i / 100}`);
        assert.ok(d >= previous, 'non-decreasing in rand');
        previous = d;
      }
    });
  }

  test('with a fixed rand the delay never falls as restarts accumulate', () => {
    for (const rand of [0, 0.5, 0.99]) {
      const delays = Array.from({ length: 12 }, (_, n) => backoffDelayMs(n, BASE, MAX, rand));
      assert.deepEqual(delays, [...delays].sort((a, b) => a - b), `rand ${rand}: ${delays}`);
    }
  });
});

describe('decideRestart: restart with the new count, reset after a healthy run, give up at max_restarts', () => {
  // Each: restartCount so far, how long the run that just ended lasted (null: unknown), limits, expected verdict.
  const cases = [
    { name: 'first crash: restart 1 after base', count: 0, runMs: 5 * SEC, expected: { kind: 'restart', restartCount: 1, delayMs: BASE, countWasReset: false } },
    { name: 'second crash: restart 2 after 0.75·2·base', count: 1, runMs: 5 * SEC, expected: { kind: 'restart', restartCount: 2, delayMs: 45 * SEC, countWasReset: false } },
    { name: 'third crash at max_restarts 2: give up', count: 2, runMs: 5 * SEC, expected: { kind: 'give_up', restartCount: 2 } },
    { name: 'run length unknown, at max: give up', count: 2, runMs: null, expected: { kind: 'give_up', restartCount: 2 } },
    { name: 'count above max (config lowered since): give up with that count', count: 5, runMs: null, expected: { kind: 'give_up', restartCount: 5 } },
    { name: 'at max but ran exactly healthy_reset: count reset, restart 1', count: 2, runMs: L.healthyResetMs, expected: { kind: 'restart', restartCount: 1, delayMs: BASE, countWasReset: true } },
    { name: 'at max, ran a day: count reset, restart 1', count: 2, runMs: 24 * HOUR, expected: { kind: 'restart', restartCount: 1, delayMs: BASE, countWasReset: true } },
    { name: 'at max, ran 1 ms short of healthy_reset: give up', count: 2, runMs: L.healthyResetMs - 1, expected: { kind: 'give_up', restartCount: 2 } },
    { name: 'count 1, long run: reset to 0 then restart 1 with the first delay', count: 1, runMs: L.healthyResetMs, expected: { kind: 'restart', restartCount: 1, delayMs: BASE, countWasReset: true } },
    { name: 'count 0, long run: nothing to reset', count: 0, runMs: L.healthyResetMs, expected: { kind: 'restart', restartCount: 1, delayMs: BASE, countWasReset: false } },
    { name: 'healthy_reset 0 disables the reset', count: 2, runMs: 1000 * HOUR, limits: { ...L, healthyResetMs: 0 }, expected: { kind: 'give_up', restartCount: 2 } },
    { name: 'max_restarts 0: give up at once', count: 0, runMs: 5 * SEC, limits: { ...L, maxRestarts: 0 }, expected: { kind: 'give_up', restartCount: 0 } },
    { name: 'zero backoff: restart with no delay', count: 1, runMs: 5 * SEC, limits: { ...L, backoffBaseMs: 0 }, expected: { kind: 'restart', restartCount: 2, delayMs: 0, countWasReset: false } },
    { name: 'max_restarts 5, count 4: restart 5 capped at 0.75·max', count: 4, runMs: 5 * SEC, limits: { ...L, maxRestarts: 5 }, expected: { kind: 'restart', restartCount: 5, delayMs: 225 * SEC, countWasReset: false } },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(decideRestart(c.count, c.runMs, c.limits ?? L, 0.5), c.expected));
  }

  test('a worker that always crashes fast is restarted exactly max_restarts times', () => {
    for (const maxRestarts of [0, 1, 2, 5]) {
      const limits = { ...L, maxRestarts };
      let count = 0;
      let restarts = 0;
      for (;;) {
        const verdict = decideRestart(count, SEC, limits, 0.5);
        if (verdict.kind === 'give_up') break;
        count = verdict.restartCount;
        restarts += 1;
        assert.ok(restarts <= maxRestarts, 'never beyond max_restarts');
      }
      assert.equal(restarts, maxRestarts);
    }
  });
});

describe('limitsOf: a worker type in seconds to limits in ms', () => {
  /** @type {import('../../dist/contract/worker-types.js').WorkerType} */
  const type = {
    command: ['x'],
    time_limit_seconds: 2700,
    checkin_timeout_seconds: 900,
    stall_timeout_seconds: 1200,
    startup_grace_seconds: 120,
    max_restarts: 2,
    restart_backoff_seconds: 30,
    restart_backoff_max_seconds: 300,
    stop_grace_seconds: 10,
    healthy_reset_seconds: 3600,
    log_max_bytes: WORKER_TYPE_DEFAULTS.log_max_bytes,
  };
  /** @type {Array<[string, import('../../dist/contract/worker-types.js').WorkerType, Partial<import('./fixtures.js').Limits>]>} */
  const cases = [
    ['the contract example', type, { checkinTimeoutMs: 900_000, stallTimeoutMs: 1_200_000, timeLimitMs: 2_700_000, startupGraceMs: 120_000, maxRestarts: 2, backoffBaseMs: 30_000, backoffMaxMs: 300_000, stopGraceMs: 10_000, healthyResetMs: 3_600_000 }],
    ['backoff max below base is raised to base', { ...type, restart_backoff_seconds: 60, restart_backoff_max_seconds: 5 }, { backoffBaseMs: 60_000, backoffMaxMs: 60_000 }],
    ['fractional seconds', { ...type, restart_backoff_seconds: 0.05, restart_backoff_max_seconds: 0.2 }, { backoffBaseMs: 50, backoffMaxMs: 200 }],
    ['zeros stay zero', { ...type, time_limit_seconds: 0, restart_backoff_seconds: 0, restart_backoff_max_seconds: 0 }, { timeLimitMs: 0, backoffBaseMs: 0, backoffMaxMs: 0 }],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => {
      const got = limitsOf(input);
      for (const [key, value] of Object.entries(expected)) assert.equal(got[key], value, key);
    });
  }
});
