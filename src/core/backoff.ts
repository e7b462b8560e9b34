import type { Limits } from './limits.js';

/**
 * Exponential backoff with jitter: the n-th restart (n from 0) waits base·2ⁿ capped at max, then a
 * random point in its upper half ("equal jitter"), never below base. rand is in [0, 1).
 */
export function backoffDelayMs(restartIndex: number, baseMs: number, maxMs: number, rand: number): number {
  if (baseMs <= 0) return 0;
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(restartIndex, 30));
  const jittered = exp / 2 + (exp / 2) * Math.min(Math.max(rand, 0), 1);
  return Math.round(Math.min(maxMs, Math.max(baseMs, jittered)));
}

export type RestartVerdict =
  | { readonly kind: 'restart'; readonly restartCount: number; readonly delayMs: number; readonly countWasReset: boolean }
  | { readonly kind: 'give_up'; readonly restartCount: number };

/**
 * After a run ends badly: restart (with the new count and delay) or give up. A run that stayed up at
 * least healthyResetMs earns a fresh count first, so a worker that fails once a day is never failed for good.
 */
export function decideRestart(restartCount: number, runDurationMs: number | null, limits: Limits, rand: number): RestartVerdict {
  const countWasReset = runDurationMs !== null && limits.healthyResetMs > 0 && runDurationMs >= limits.healthyResetMs && restartCount > 0;
  const count = countWasReset ? 0 : restartCount;
  if (count >= limits.maxRestarts) return { kind: 'give_up', restartCount: count };
  return { kind: 'restart', restartCount: count + 1, delayMs: backoffDelayMs(count, limits.backoffBaseMs, limits.backoffMaxMs, rand), countWasReset };
}
