// The pass scheduler driven by node's mock timers: no sleeping, every timer owned and cleared.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { PassScheduler } from '../../dist/daemon/scheduler.js';
import { defined } from '../helpers/home.js';

const START = 1_000_000;

/** A clock on mock time: now and wall from the mocked Date, timers the mocked globals. */
const mockClock = () => ({
  now: () => Date.now(),
  wallNow: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer),
});

/** A scheduler whose passes are recorded (with the mock time they ran at) and take `passMs` of mock time each. */
function makeScheduler(overrides = {}) {
  const passes = [];
  const errors = [];
  let release;
  const scheduler = new PassScheduler({
    clock: mockClock(),
    debounceMs: 50,
    checkinBatchMs: 2000,
    intervalMs: 5000,
    runPass: async (request) => {
      passes.push({ at: Date.now() - START, full: request.full, checkins: [...request.checkins].sort(), exits: [...request.exits].sort() });
      if (overrides.hold) await new Promise((resolve) => (release = resolve));
      if (overrides.fail?.(passes.length)) throw new Error('boom');
      return overrides.cpuMs?.(request);
    },
    onError: (/** @type {any} */ error) => errors.push(error.message),
    ...overrides.options,
  });
  return { scheduler, passes, errors, release: () => release?.() };
}

/** Lets the pass promises settle after a tick. */
const settle = async () => {
  for (let i = 0; i < 5; i += 1) await Promise.resolve();
};

/** Moves mock time on 1 ms at a time, so a timer that a timer sets is run on time too (one tick runs only the timers it found). */
const advance = (ms) => {
  for (let i = 0; i < ms; i += 1) mock.timers.tick(1);
};

describe('PassScheduler on mock timers', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: START }));
  afterEach(() => mock.timers.reset());

  test('the first pass is full; a plain request is debounced into one full pass', async () => {
    const { scheduler, passes } = makeScheduler();
    scheduler.start();
    await scheduler.runNow();
    assert.deepEqual(passes, [{ at: 0, full: true, checkins: [], exits: [] }]);
    scheduler.request();
    scheduler.request();
    advance(49);
    await settle();
    assert.equal(passes.length, 1, 'not before the debounce');
    advance(1);
    await settle();
    assert.deepEqual(passes[1], { at: 50, full: true, checkins: [], exits: [] });
    assert.equal(passes.length, 2, 'two requests, one pass');
    await scheduler.stop();
  });

  test('check-ins are batched: at most one incremental pass per checkin_batch_ms, reading only those check-ins', async () => {
    const { scheduler, passes } = makeScheduler();
    scheduler.start();
    await scheduler.runNow();
    scheduler.request({ lazy: true, checkins: ['w2'] });
    advance(500);
    scheduler.request({ lazy: true, checkins: ['w1'] });
    advance(1499);
    await settle();
    assert.equal(passes.length, 1, 'still inside the batch window');
    advance(1 + 50);
    await settle();
    assert.deepEqual(passes[1], { at: 2050, full: false, checkins: ['w1', 'w2'], exits: [] });
    await scheduler.stop();
  });

  test('check-in passes keep to a share of a core: a costly one makes the batch longer, up to the periodic pass', async () => {
    // 12.5 ms of CPU for a pass of check-ins alone: at 0.5 % of a core, one per 2.5 s (more than the 2 s floor).
    let cost = 12.5;
    // Full passes cost 1 ms: their own pacing (next test) stays at every tick.
    const { scheduler, passes } = makeScheduler({ cpuMs: (request) => (request.full ? 1 : cost) });
    scheduler.start();
    scheduler.startTicking();
    await scheduler.runNow();
    assert.equal(scheduler.checkinBatch(), 2000, 'a full pass does not count');
    scheduler.request({ lazy: true, checkins: ['w1'] });
    advance(2050);
    await settle();
    assert.equal(passes.length, 2, 'the first check-in pass after the 2 s floor');
    assert.equal(scheduler.checkinBatch(), 2500);
    scheduler.request({ lazy: true, checkins: ['w2'] });
    advance(2499);
    await settle();
    assert.equal(passes.length, 2, 'not before 2.5 s after the last pass');
    advance(51);
    await settle();
    assert.deepEqual(passes[2], { at: 4600, full: false, checkins: ['w2'], exits: [] });
    // The periodic pass at 5 s; then check-in passes of 100 ms would want 20 s: as long as the interval, so the tick reads them.
    cost = 100;
    advance(450);
    await settle();
    assert.equal(passes[3].full, true, 'the tick');
    scheduler.request({ lazy: true, checkins: ['w3'] });
    advance(2550);
    await settle();
    assert.equal(passes[4].at, 7600);
    assert.equal(scheduler.checkinBatch(), 5000, 'capped at the interval');
    scheduler.request({ lazy: true, checkins: ['w4'] });
    advance(2449);
    await settle();
    assert.equal(passes.length, 5, 'no pass of its own');
    advance(1);
    await settle();
    assert.deepEqual(passes[5], { at: 10050, full: true, checkins: ['w4'], exits: [] }, 'the periodic pass took the check-in');
    await scheduler.stop();
  });

  test('the full reading at the periodic pass keeps to a share of a core: a costly one is made every few ticks, at least every twelfth', async () => {
    let cost = { cpuMs: 30, fullReadingMs: 10 };
    // The incremental passes cost little: the periodic pass's own pacing (tested below) stays at every tick.
    const { scheduler, passes } = makeScheduler({ cpuMs: (request) => (request.full ? cost : { cpuMs: 5 }) });
    scheduler.start();
    scheduler.startTicking();
    await scheduler.runNow();
    assert.equal(scheduler.fullReadingEvery(), 5000, '10 ms a full reading: 0.2 % of a core at every tick');
    advance(5050);
    await settle();
    assert.deepEqual(passes[1], { at: 5050, full: true, checkins: [], exits: [] }, 'the tick reads everything');
    // 160 ms a full reading: at 0.2 % of a core one per 80 s (averaged: the estimate climbs over a few passes); the
    // rest of the pass (a spawn, say) does not count.
    cost = { cpuMs: 500, fullReadingMs: 160 };
    scheduler.request();
    advance(50);
    await settle();
    assert.equal(passes[2].full, true, 'a change the watch did not name is read in full, whatever the cost');
    const every = scheduler.fullReadingEvery();
    assert.ok(every > 20_000 && every < 30_000, `between 20 and 30 s: ${every}`);
    advance(5000);
    await settle();
    assert.deepEqual(passes[3], { at: 10050, full: false, checkins: [], exits: [] }, 'the tick reads only what the watch named');
    // A tick after a folder's watch was restarted reads everything.
    scheduler.wantFull();
    advance(5000);
    await settle();
    assert.equal(passes[4].full, true);
    for (let i = 0; i < 10; i += 1) {
      scheduler.request();
      advance(50);
      await settle();
    }
    assert.equal(scheduler.fullReadingEvery(), 60_000, 'capped at twelve intervals');
    const lastFull = passes.at(-1).at;
    const before = passes.length;
    // Mock time on, a second at a time, the passes settled in between.
    const run = async (ms) => {
      for (let t = 0; t < ms; t += 1000) {
        advance(Math.min(1000, ms - t));
        await settle();
      }
    };
    await run(50_000);
    // Ticks until then: incremental; a deadline's pass too.
    scheduler.wakeAt(Date.now() + 1000);
    await run(1100);
    assert.ok(passes.length - before >= 10 && passes.slice(before).every((p) => !p.full), JSON.stringify(passes.slice(before)));
    await run(14_000);
    const next = passes.slice(before).find((p) => p.full);
    assert.ok(next !== undefined && next.at - lastFull >= 57_500 && next.at - lastFull <= 65_050, JSON.stringify(passes.slice(before)));
    await scheduler.stop();
  });

  test('the periodic pass keeps to a share of a core: a costly one comes every other tick, never rarer; a tick that must read in full, or a deadline, still passes', async () => {
    let incremental = 10;
    // A full reading of 1 s: due only every twelfth tick, so the ticks here read incrementally.
    const { scheduler, passes } = makeScheduler({ cpuMs: (request) => (request.full ? { cpuMs: 1000, fullReadingMs: 1000 } : { cpuMs: incremental }) });
    scheduler.start();
    scheduler.startTicking();
    await scheduler.runNow();
    const run = async (ms) => {
      for (let t = 0; t < ms; t += 1000) {
        advance(Math.min(1000, ms - t));
        await settle();
      }
    };
    await run(15_100);
    assert.deepEqual(passes.slice(1).map((p) => [p.at, p.full]), [[5050, false], [10050, false], [15050, false]], '10 ms a pass: 0.2 % of a core at every tick');
    assert.equal(scheduler.periodicEvery(), 5000);
    incremental = 200;
    await run(25_000);
    assert.deepEqual(passes.slice(4).map((p) => p.at), [20050, 30050, 40050], '200 ms a pass: every other tick, never rarer');
    assert.equal(scheduler.periodicEvery(), 10_000);
    // A folder's watch restarted at a tick that would have been skipped: that tick passes, in full.
    scheduler.wantFull();
    await run(5000);
    assert.deepEqual(passes.slice(7).map((p) => [p.at, p.full]), [[45050, true]]);
    // A deadline between periodic passes gets its pass on time.
    const deadlineAt = Date.now() - START + 2000;
    scheduler.wakeAt(Date.now() + 2000);
    await run(4000);
    // 5 ms after the deadline, then the debounce.
    assert.deepEqual(passes.slice(8).map((p) => [p.at, p.full]), [[deadlineAt + 55, false]]);
    // A deadline more than one interval but less than two away gets its own timer: the tick before it may be skipped.
    const passesBefore = passes.length;
    const lateDeadline = Date.now() - START + 7000;
    scheduler.wakeAt(Date.now() + 7000);
    await run(8000);
    assert.ok(passes.slice(passesBefore).some((p) => p.at === lateDeadline + 55), `a pass at ${lateDeadline + 55}: ${JSON.stringify(passes.slice(passesBefore))}`);
    // Cheap again: at every tick once the average comes down.
    incremental = 1;
    await run(90_000);
    const last = passes.slice(-3).map((p) => p.at);
    assert.deepEqual([last[1] - last[0], last[2] - last[1]], [5000, 5000], JSON.stringify(passes.slice(8)));
    await scheduler.stop();
  });

  test('a process end asks for an incremental pass at once, naming the exit', async () => {
    const { scheduler, passes } = makeScheduler();
    scheduler.start();
    await scheduler.runNow();
    scheduler.request({ processEnded: true, exits: ['w9'] });
    mock.timers.tick(0);
    await settle();
    assert.deepEqual(passes[1], { at: 0, full: false, checkins: [], exits: ['w9'] });
    await scheduler.stop();
  });

  test('with a clock that runs things soon (setImmediate), a process end runs its pass then, taking a pending debounced pass into it', async () => {
    /** @type {(() => void)[]} */
    const soon = [];
    let cleared = 0;
    const { scheduler, passes } = makeScheduler({ options: { clock: { ...mockClock(), soon: (/** @type {() => void} */ fn) => soon.push(fn), clearSoon: () => void (cleared += 1) } } });
    scheduler.start();
    await scheduler.runNow();
    scheduler.request();
    scheduler.request({ processEnded: true, exits: ['w3'] });
    scheduler.request({ processEnded: true, exits: ['w4'] });
    assert.equal(soon.length, 1, 'one pass asked for');
    advance(100);
    await settle();
    assert.equal(passes.length, 1, 'the debounce timer was cleared: nothing on the timers');
    defined(soon.shift(), 'soon')();
    await settle();
    assert.deepEqual(passes[1], { at: 100, full: true, checkins: [], exits: ['w3', 'w4'] });
    // One asked for and then stopped: cleared, and no pass even if the clock ran it anyway.
    scheduler.request({ processEnded: true, exits: ['w5'] });
    await scheduler.stop();
    defined(soon.shift(), 'soon')();
    await settle();
    assert.equal(passes.length, 2);
    assert.equal(cleared, 1);
  });

  test('a deadline sooner than the periodic pass gets a pass of its own; a later one is left to the tick', async () => {
    const { scheduler, passes } = makeScheduler();
    scheduler.start();
    scheduler.startTicking();
    await scheduler.runNow();
    scheduler.wakeAt(START + 1000);
    advance(1004);
    await settle();
    assert.equal(passes.length, 1);
    advance(1 + 50);
    await settle();
    assert.equal(passes.length, 2, 'woken at the deadline (+5 ms), after the debounce');
    assert.equal(passes[1].at, 1055);
    scheduler.wakeAt(START + 60_000);
    advance(5000 - 1055 + 50);
    await settle();
    assert.equal(passes.length, 3, 'the periodic pass');
    assert.equal(passes[2].full, true);
    await scheduler.stop();
  });

  test('passes never overlap: a request during a pass runs one more right after it, once the event loop has turned', async () => {
    const { scheduler, passes, release } = makeScheduler({ hold: true });
    scheduler.start();
    const first = scheduler.runNow();
    await settle();
    scheduler.request({ processEnded: true, exits: ['w1'] });
    mock.timers.tick(0);
    await settle();
    assert.equal(passes.length, 1, 'no second pass while the first runs');
    release();
    await settle();
    assert.equal(passes.length, 1, 'not in the same chain of promises: what came in meanwhile (I/O) is read first');
    await nextTurn();
    await settle();
    assert.equal(passes.length, 2);
    assert.deepEqual(passes[1].exits, ['w1']);
    release();
    await first;
    await scheduler.stop();
  });

  test('runAlone runs its work in the passes\' place: refused while a pass runs; no pass beside it; one asked for meanwhile follows it; a throw is reported and the next pass is full', async () => {
    const { scheduler, passes, errors, release } = makeScheduler({ hold: true });
    scheduler.start();
    const first = scheduler.runNow();
    await settle();
    assert.equal(scheduler.runAlone(async () => assert.fail('ran beside a pass')), false, 'refused while a pass runs');
    release();
    await first;

    /** @type {(() => void) | undefined} */
    let finish;
    const order = [];
    assert.equal(
      scheduler.runAlone(async () => {
        order.push('work');
        await new Promise((resolve) => (finish = () => resolve(undefined)));
        scheduler.request({ processEnded: true, exits: ['w1'] });
      }),
      true,
    );
    assert.deepEqual(order, ['work'], 'started at once, in the caller\'s turn');
    scheduler.request({ processEnded: true, exits: ['w2'] });
    const awaited = scheduler.runNow();
    mock.timers.tick(0);
    await settle();
    assert.equal(passes.length, 1, 'no pass while the work runs');
    defined(finish, 'the work waits')();
    await settle();
    await nextTurn();
    await settle();
    assert.equal(passes.length, 2, 'the passes asked for meanwhile: one, right after');
    assert.deepEqual(passes[1].exits, ['w1', 'w2']);
    release();
    await awaited;

    assert.equal(
      scheduler.runAlone(async () => {
        throw new Error('alone');
      }),
      true,
    );
    await settle();
    assert.deepEqual(errors, ['alone']);
    scheduler.request({ processEnded: true });
    mock.timers.tick(0);
    await settle();
    assert.equal(passes.length, 3);
    assert.equal(passes[2].full, true, 'after a throw, the next pass reads in full');
    release();
    await settle();
    await scheduler.stop();
    assert.equal(scheduler.runAlone(async () => assert.fail('ran after stop')), false, 'refused once stopped');
  });

  test('a failed pass is reported, and the next pass is full', async () => {
    const { scheduler, passes, errors } = makeScheduler({ fail: (n) => n === 2 });
    scheduler.start();
    await scheduler.runNow();
    scheduler.request({ lazy: true, checkins: ['w1'] });
    advance(2050);
    await settle();
    assert.deepEqual(errors, ['boom']);
    assert.equal(passes[1].full, false);
    scheduler.request({ processEnded: true });
    mock.timers.tick(0);
    await settle();
    assert.equal(passes[2].full, true, 'what the failed pass should have read is read in full');
    await scheduler.stop();
  });

  test('stop clears every timer: nothing runs after it, and requests are ignored', async () => {
    const { scheduler, passes } = makeScheduler();
    scheduler.start();
    scheduler.startTicking();
    await scheduler.runNow();
    scheduler.request();
    scheduler.request({ lazy: true, checkins: ['w1'] });
    scheduler.wakeAt(START + 100);
    scheduler.recheckExits(['w1'], 20);
    await scheduler.stop();
    await scheduler.stop();
    scheduler.request();
    advance(60_000);
    await settle();
    assert.equal(passes.length, 1);
  });
});
