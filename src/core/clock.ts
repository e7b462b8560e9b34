/**
 * The daemon measures ages on its own monotonic clock (wall time at start + elapsed monotonic time), so
 * a wall-clock jump never makes the fleet look stalled. A wall timestamp read from a file is placed on
 * that clock once, when first seen, as "this long ago"; later jumps no longer move it.
 */
export function placeOnDaemonClock(wallTimestampMs: number, wallNowMs: number, daemonNowMs: number): number {
  const ago = Math.max(0, wallNowMs - wallTimestampMs);
  return daemonNowMs - ago;
}

export interface Clock {
  /** Milliseconds on the daemon's monotonic clock. */
  now(): number;
  /** Wall-clock milliseconds (only to read and write timestamps). */
  wallNow(): number;
}

export function systemClock(): Clock {
  const wallAtStart = Date.now();
  const monoAtStart = performance.now();
  return {
    now: () => wallAtStart + (performance.now() - monoAtStart),
    wallNow: () => Date.now(),
  };
}
