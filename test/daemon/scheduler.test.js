// The pass scheduler driven by node's mock timers: no sleeping, every timer owned and cleared.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { PassScheduler } from '../../dist/daemon/scheduler.js';

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

  test('passes never overlap: a request during a pass runs one more right after it', async () => {
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
    assert.equal(passes.length, 2);
    assert.deepEqual(passes[1].exits, ['w1']);
    release();
    await first;
    await scheduler.stop();
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
