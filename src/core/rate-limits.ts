import { RATE_LIMIT_DEFAULTS, type WorkerType } from '../contract/worker-types.js';
import type { WorkerView } from './health.js';

/** What the decision core knows of a type's rate limits. */
export interface RateLimitPolicy {
  /** Rate limits are per provider (the type's `provider`, else its name). */
  readonly provider: string;
  readonly exitCodes: readonly number[];
  readonly pauseThreshold: number;
  readonly maxWaits: number;
}

export type RateLimitSource = 'checkin' | 'exit_code' | 'output';

/** How one run showed it was rate limited, and when the limit resets (daemon clock ms), when said. */
export interface RateLimitSign {
  readonly source: RateLimitSource;
  readonly resetAt: number | null;
}

/** Workers of one provider rate limited within this window make a provider outage. */
export const RATE_LIMIT_WINDOW_MS = 5 * 60_000;

/** How much of the end of a run's output is searched for a rate-limit message. */
export const RATE_LIMIT_TAIL_BYTES = 8 * 1024;

export function rateLimitPolicyOf(name: string, type: WorkerType): RateLimitPolicy {
  return {
    provider: type.provider ?? name,
    exitCodes: type.rate_limit_exit_codes ?? [],
    pauseThreshold: type.rate_limit_pause_threshold ?? RATE_LIMIT_DEFAULTS.rate_limit_pause_threshold,
    maxWaits: type.max_rate_limit_waits ?? RATE_LIMIT_DEFAULTS.max_rate_limit_waits,
  };
}

/**
 * A reset time as a message gives it, in wall-clock ms: epoch seconds (or milliseconds, 13 digits and
 * more), or an ISO-8601 time; null when it is neither.
 */
export function parseResetTime(text: string): number | null {
  const trimmed = text.trim();
  if (/^\d{9,16}$/.test(trimmed)) {
    const n = Number(trimmed);
    return trimmed.length >= 13 ? n : n * 1000;
  }
  if (!/^\d{4}-\d{2}-\d{2}T/.test(trimmed)) return null;
  const ms = Date.parse(trimmed);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * The last line of `tail` that one of the patterns matches: whether any does, and the reset its named
 * group `reset` gives (wall-clock ms), when it does.
 */
export function matchRateLimit(tail: string, patterns: readonly RegExp[]): { readonly resetWallMs: number | null } | null {
  let best: { index: number; resetWallMs: number | null } | null = null;
  for (const pattern of patterns) {
    const global = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
    for (const m of tail.matchAll(global)) {
      if (best !== null && m.index < best.index) continue;
      const reset = m.groups?.reset;
      best = { index: m.index, resetWallMs: reset === undefined ? null : parseResetTime(reset) };
    }
  }
  return best === null ? null : { resetWallMs: best.resetWallMs };
}

/**
 * Whether a run that ended (not stopped by the daemon or an operator) was rate limited: its exit code
 * is one of the type's, or its last output matched a pattern (`view.outputRateLimit`), or it last
 * checked in `rate_limited`. The reset is the first one known of the output's and the check-in's.
 */
export function rateLimitOfEnd(view: WorkerView, policy: RateLimitPolicy): RateLimitSign | null {
  const exit = view.exit;
  if (exit === null || exit.stopReason !== null || (exit.exitCode === 0 && exit.signal === null)) return null;
  const checkinReset = view.checkinStatus === 'rate_limited' ? (view.retryAt ?? null) : null;
  const outputReset = view.outputRateLimit?.resetAt ?? null;
  const reset = outputReset ?? checkinReset;
  if (exit.exitCode !== null && policy.exitCodes.includes(exit.exitCode)) return { source: 'exit_code', resetAt: reset };
  if (view.outputRateLimit != null) return { source: 'output', resetAt: reset };
  if (view.checkinStatus === 'rate_limited') return { source: 'checkin', resetAt: reset };
  return null;
}
