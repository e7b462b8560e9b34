/**
 * The daemon measures ages on its own monotonic clock (wall time at start + elapsed monotonic time), so
 * a wall-clock jump never makes the fleet look stalled. A wall timestamp read from a file is placed on
 * that clock once, when first seen, as "this long ago"; later jumps no longer move it.
 */
export function placeOnDaemonClock(wallTimestampMs: number, wallNowMs: number, daemonNowMs: number): number {
  const ago = Math.max(0, wallNowMs - wallTimestampMs);
  return daemonNowMs - ago;
}

/**
 * A wall time (a deadline or a reset read from a file, past or future) on the daemon's monotonic clock, as of now:
 * converted once, a later wall-clock jump does not move it. Unlike placeOnDaemonClock, a future time stays ahead.
 */
export function wallToDaemonClock(clock: Pick<Clock, 'now' | 'wallNow'>, wallMs: number): number {
  return clock.now() + (wallMs - clock.wallNow());
}

export type Timer = ReturnType<typeof setTimeout>;

export interface Clock {
  /** Milliseconds on the daemon's monotonic clock. */
  now(): number;
  /** Wall-clock milliseconds (only to read and write timestamps). */
  wallNow(): number;
  /** The daemon's timers go through its clock, so a test drives them (node's mock timers) without sleeping. */
  setTimeout(fn: () => void, ms: number): Timer;
  clearTimeout(timer: Timer): void;
  /**
   * Runs fn once the loop has done the I/O at hand (setImmediate), where setTimeout(fn, 0) waits for the timers' next
   * turn, a millisecond or more; clearSoon cancels it. Without them, a clock's setTimeout(fn, 0) stands in.
   */
  soon?(fn: () => void): Soon;
  clearSoon?(handle: Soon): void;
}

export type Soon = ReturnType<typeof setImmediate>;

export function systemClock(): Clock {
  const wallAtStart = Date.now();
  const monoAtStart = performance.now();
  return {
    now: () => wallAtStart + (performance.now() - monoAtStart),
    wallNow: () => Date.now(),
    // Looked up at each call: node's mock timers replace the globals after this clock is made.
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (timer) => clearTimeout(timer),
    soon: (fn) => setImmediate(fn),
    clearSoon: (handle) => clearImmediate(handle),
  };
}
